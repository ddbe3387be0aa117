/*
 * mnt.c - a mount namespace: its mount tree (mountpoints-ID.img, one
 * MntEntry per line of the root task's mountinfo, as CRIU) and the
 * contents of its tmpfs mounts (tmpfs-dev-DEV.tar.gz.img: a gzipped tar
 * of the mount made by tar(1) with CRIU's arguments, so that either tool
 * reads the other's).
 *
 * Dump: stasis stays in its own namespace and reaches the tree through
 * /proc/ROOT/mountinfo and /proc/ROOT/root, so that no setns() changes its
 * root, cwd or /proc.  Every mount must be one restore can make: a file
 * system made anew (proc, sysfs, devpts, mqueue, cgroup, tmpfs refilled,
 * ...), a bind of a mount of the same superblock made before it (the root
 * mount included), or an external mount named by --external mnt[PATH]:KEY.
 * Anything else is refused by name before a byte is written.
 *
 * Restore, in the controller just moved into the tree's new namespace (a
 * private copy of stasis's; ns.c): the root mount is a bind of --root
 * (or of "/"); every
 * other mount, parents first, is made detached (fsopen/fsmount, or
 * open_tree of its source) and attached below its parent through the
 * parent's own fd, so that overmounts and later mounts never get in the
 * way of a path.  Then pivot_root into the tree, drop the old root, and
 * only then propagation (peer groups through MOVE_MOUNT_SET_GROUP),
 * unbindable, read-only superblocks and the mounts' own flags: a mount
 * made read-only or unbindable early would refuse what comes after it.
 * The pool is then made inside the tree.  A proc mount is the controller's
 * until the root, init of the tree's own pid namespace, makes it again.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "files/tty.h"
#include "log.h"
#include "ns/mnt.h"
#include "ns/ns.h"
#include "restore.h"

static const struct fs_kind fs_kinds[] = {
	{ "proc", FSTYPE__PROC, FS_NEW },
	{ "sysfs", FSTYPE__SYSFS, FS_NEW },
	{ "devtmpfs", FSTYPE__DEVTMPFS, FS_NEW },	/* one superblock, the host's */
	{ "binfmt_misc", FSTYPE__BINFMT_MISC, FS_NEW },
	{ "tmpfs", FSTYPE__TMPFS, FS_TAR },
	{ "devpts", FSTYPE__DEVPTS, FS_NEW },
	{ "pstore", FSTYPE__PSTORE, FS_NEW },
	{ "securityfs", FSTYPE__SECURITYFS, FS_NEW },
	{ "fusectl", FSTYPE__FUSECTL, FS_NEW },
	{ "debugfs", FSTYPE__DEBUGFS, FS_NEW },
	{ "cgroup", FSTYPE__CGROUP, FS_NEW },
	{ "mqueue", FSTYPE__MQUEUE, FS_NEW },
	{ "tracefs", FSTYPE__TRACEFS, FS_NEW },
	{ "cgroup2", FSTYPE__CGROUP2, FS_NEW },
	{ "auto", FSTYPE__AUTO, FS_NEW },	/* --enable-fs: made anew, its name in fsname */
};

const struct fs_kind *mnt_fs_by_name(const char *name)
{
	for (size_t i = 0; i < sizeof(fs_kinds) / sizeof(fs_kinds[0]); i++)
		if (!strcmp(fs_kinds[i].name, name))
			return &fs_kinds[i];
	return NULL;
}

const struct fs_kind *mnt_fs_by_code(unsigned int code)
{
	for (size_t i = 0; i < sizeof(fs_kinds) / sizeof(fs_kinds[0]); i++)
		if (fs_kinds[i].code == code)
			return &fs_kinds[i];
	return NULL;
}

static const char *ext_path(const struct opts *o, const char *key, bool dump);

/* --- the plan, shared by both halves --- */

static struct mnt *by_id(struct tree *t, uint32_t id)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->m[i].e->mnt_id == id)
			return &t->m[i];
	return NULL;
}

/* @root (of a mount of the same superblock) holds @sub: the rest of @sub, or NULL. */
const char *mnt_under(const char *root, const char *sub)
{
	size_t l = strlen(root);

	if (!strcmp(root, "/"))
		return sub + 1;
	if (strncmp(root, sub, l) || (sub[l] && sub[l] != '/'))
		return NULL;
	return sub[l] ? sub + l + 1 : sub + l;
}

static int cmp_depth(const void *a, const void *b)
{
	const struct mnt *x = a, *y = b;

	if (x->ns != y->ns)
		return x->ns < y->ns ? -1 : 1;
	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	/* Not by mnt_id: the kernel gives a freed id to a later mount. */
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The mount on / of namespace @k, or NULL (said). */
static struct mnt *ns_root(struct tree *t, unsigned int k)
{
	struct mnt *root = NULL;

	for (size_t i = 0; i < t->n; i++) {
		if (t->m[i].ns != k || strcmp(t->m[i].e->mountpoint, "/"))
			continue;
		if (root) {
			pr_err("unsupported: mounts %u and %u are both on / (an overmounted root)",
			       root->e->mnt_id, t->m[i].e->mnt_id);
			return NULL;
		}
		root = &t->m[i];
	}
	if (!root)
		pr_err("mount namespace %u has no mount on /", t->ns[k].id);
	return root;
}

/*
 * Of two mounts on one parent, the one whose mount point is below the
 * other's (a propagated copy the other now covers) goes first: its path in
 * the parent is reached only while the other is not there yet.
 */
static void covered_first(struct tree *t)
{
	for (size_t i = 0; i < t->n; i++) {
		for (size_t j = i + 1; j < t->n; j++) {
			struct mnt *a = &t->m[i], *b = &t->m[j], tmp;
			const char *rest;

			if (a->ns != b->ns || a->depth != b->depth)
				break;
			if (!a->depth || a->e->parent_mnt_id != b->e->parent_mnt_id)
				continue;
			rest = mnt_under(a->e->mountpoint, b->e->mountpoint);
			if (!rest || !*rest)
				continue;
			tmp = *b;
			memmove(&t->m[i + 1], &t->m[i], (j - i) * sizeof(*t->m));
			t->m[i] = tmp;
			j = i;	/* the new one at i against those after it */
		}
	}
}

/* Does a mount of @t before @i of its superblock hold the root of mount @i? */
static bool source_before(const struct tree *t, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (t->m[j].e->root_dev == t->m[i].e->root_dev &&
		    mnt_under(t->m[j].e->root, t->m[i].e->root))
			return true;
	return false;
}

/*
 * CRIU lists a namespace's mounts the last made first: a bind may precede,
 * on its level, the mount it was made from, which then goes first (unless
 * one covers the other: covered_first() has ordered those).
 */
static void sources_first(struct tree *t)
{
	for (size_t i = 1; i < t->n; i++) {
		struct mnt *m = &t->m[i], tmp;

		if (m->e->ext_key || source_before(t, i))
			continue;
		for (size_t k = i + 1; k < t->n; k++) {
			struct mnt *s = &t->m[k];

			if (s->ns != m->ns || s->depth != m->depth)
				break;
			if (s->e->ext_key || s->e->root_dev != m->e->root_dev ||
			    !mnt_under(s->e->root, m->e->root) ||
			    mnt_under(s->e->mountpoint, m->e->mountpoint) ||
			    mnt_under(m->e->mountpoint, s->e->mountpoint))
				continue;
			tmp = *s;
			memmove(&t->m[i + 1], &t->m[i], (k - i) * sizeof(*t->m));
			t->m[i] = tmp;
			break;
		}
	}
}

/* Each mount's depth below its namespace's root; the mounts sorted parents first. */
static int order(struct tree *t)
{
	for (size_t k = 0; k < t->nr_ns; k++) {
		struct mnt *root = ns_root(t, k);

		if (!root)
			return -ENOTSUP;
		for (size_t i = 0; i < t->n; i++) {
			struct mnt *m = &t->m[i];
			unsigned int d = 0;

			for (struct mnt *p = m; m->ns == k && p != root; d++) {
				p = by_id(t, p->e->parent_mnt_id);
				if (!p || p->ns != k || d > t->n) {
					pr_err("mount %u (%s): not below the root mount %u",
					       m->e->mnt_id, m->e->mountpoint, root->e->mnt_id);
					return -EINVAL;
				}
			}
			if (m->ns == k)
				m->depth = d;
		}
	}
	qsort(t->m, t->n, sizeof(*t->m), cmp_depth);
	covered_first(t);
	sources_first(t);
	for (size_t i = 0; i < t->n; i++) {
		struct mnt *m = &t->m[i];

		if (m->depth)
			m->parent = by_id(t, m->e->parent_mnt_id);
		else
			t->ns[m->ns].root = m;
	}
	t->root = t->ns[0].root;
	return 0;
}

/*
 * How mount @i comes back: external, a bind of an earlier mount of its
 * superblock whose root holds its root, or made anew.  0, or a refusal.
 */
static int plan_one(struct tree *t, size_t i, const struct opts *o, bool dump)
{
	struct mnt *m = &t->m[i];
	const struct fs_kind *fs = mnt_fs_by_code(m->e->fstype);

	if (m->e->ext_key) {
		if (!ext_path(o, m->e->ext_key, dump)) {
			if (!strcmp(m->e->ext_key, MNT_AUTO_KEY))
				pr_err("mount %u (%s) is an external mount stasis or CRIU found: "
				       "--external mnt[] (or --ext-mount-map auto) is needed",
				       m->e->mnt_id, m->e->mountpoint);
			else
				pr_err("mount %u (%s) is external: --external mnt[%s]:PATH is needed",
				       m->e->mnt_id, m->e->mountpoint, m->e->ext_key);
			return -EINVAL;
		}
		return 0;
	}
	for (size_t j = 0; j < i; j++) {
		struct mnt *s = &t->m[j];

		if (s->e->root_dev == m->e->root_dev && !s->src && mnt_under(s->e->root, m->e->root)) {
			m->src = s;
			return 0;
		}
	}
	/* A bind of an external mount listed after it (its source outside holds its root). */
	for (size_t j = i + 1; j < t->n; j++) {
		if (t->m[j].e->ext_key && t->m[j].e->root_dev == m->e->root_dev &&
		    mnt_under(t->m[j].e->root, m->e->root)) {
			m->ext_src = &t->m[j];
			return 0;
		}
	}
	if (fs && fs->how != FS_BIND && !strcmp(m->e->root, "/"))
		return 0;
	pr_err("unsupported: mount %u (%s) is a %s mount (root %s) that is neither made anew "
	       "nor a bind of a mount in the tree: name it with --external mnt[%s]:KEY",
	       m->e->mnt_id, m->e->mountpoint, m->type ?: fs ? fs->name : "unknown", m->e->root,
	       m->e->mountpoint);
	return -ENOTSUP;
}

/* The mount of peer group @group made first, or NULL. */
struct mnt *mnt_group_leader(struct tree *t, uint32_t group)
{
	for (size_t i = 0; group && i < t->n; i++)
		if (t->m[i].e->shared_id == group)
			return &t->m[i];
	return NULL;
}

int mnt_plan(struct tree *t, const struct opts *o, bool dump)
{
	int ret = order(t);

	for (size_t i = 1; !ret && i < t->n; i++)
		ret = plan_one(t, i, o, dump);
	/* (The root mount of another namespace than the root task's is planned as any.) */
	for (size_t i = 0; !ret && i < t->n; i++) {
		struct mnt *m = &t->m[i];

		if (!m->e->master_id || mnt_group_leader(t, m->e->master_id))
			continue;
		/* A master outside: the roots and external mounts come from outside anyway. */
		if (!m->parent || m->e->ext_key || m->ext_src) {
			pr_info("mount %u (%s): its master group %u is outside", m->e->mnt_id,
				m->e->mountpoint, m->e->master_id);
			m->outside_master = true;
			continue;
		}
		pr_err("unsupported: mount %u (%s) is a slave of peer group %u, outside the "
		       "namespace", m->e->mnt_id, m->e->mountpoint, m->e->master_id);
		ret = -ENOTSUP;
	}
	return ret;
}

/* "mnt[KEY]:PATH" in --external for @key ("mnt[PATH]:KEY" at dump); NULL if none. */
static const char *ext_path(const struct opts *o, const char *key, bool dump)
{
	size_t l = strlen(key);

	if (dump)
		return key;	/* the key was found in --external itself */
	if (!strcmp(key, MNT_AUTO_KEY))
		return o && o->ext_mnt_auto ? "" : NULL;	/* the path is the entry's source */
	for (size_t i = 0; o && i < o->nr_externals; i++) {
		const char *e = o->externals[i];

		if (!strncmp(e, "mnt[", 4) && !strncmp(e + 4, key, l) && !strncmp(e + 4 + l, "]:", 2))
			return e + 6 + l;
	}
	return NULL;
}

int mnt_tree_add(struct tree *t, MntEntry *e)
{
	struct mnt *m = realloc(t->m, (t->n + 1) * sizeof(*m));

	if (!m)
		return -ENOMEM;
	t->m = m;
	memset(&m[t->n], 0, sizeof(*m));
	m[t->n].e = e;
	m[t->n].fd = m[t->n].srcfd = m[t->n].pre = -1;
	m[t->n].ns = t->nr_ns ? t->nr_ns - 1 : 0;
	m[t->n].seq = t->n;
	t->n++;
	return 0;
}

int mnt_tree_ns(struct tree *t, uint32_t id)
{
	if (t->nr_ns == MNT_NS_MAX) {
		pr_err("unsupported: more than %d mount namespaces", MNT_NS_MAX);
		return -ENOSPC;
	}
	t->ns[t->nr_ns++] = (struct tree_ns){ .id = id, .nsfd = -1 };
	return 0;
}

/* tar(1) run with @in, @out as its stdin, stdout and @dir its cwd: 0, or -EIO. */
int mnt_run_tar(int (*dir)(const void *arg), const void *arg, int in, int out,
		char *const argv[])
{
	sigset_t none;
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0) {
		pr_perror("cannot fork tar");
		return -errno;
	}
	if (!pid) {
		int fd;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		fd = dir(arg);
		/* The archive holds ids as the tree sees them, as CRIU's (user.c). */
		if (fd < 0 || userns_enter_as_root())
			_exit(125);
		if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || fchdir(fd))
			_exit(126);
		execvp("tar", argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			pr_perror("cannot wait for tar");
			return -errno;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		pr_err("tar %s failed (status %#x%s)", argv[1], status,
		       !WIFEXITED(status) ? "" :
		       WEXITSTATUS(status) == 127 ? ": is tar installed?" :
		       WEXITSTATUS(status) == 125 ? ": the mount could not be reached" : "");
		return -EIO;
	}
	return 0;
}

/* --- restore --- */

static int read_tree(struct rst_ctx *ctx, uint32_t id, struct tree *t)
{
	struct img *img;
	size_t n = t->n;
	MntEntry *e;
	int ret;

	ret = mnt_tree_ns(t, id) ?: img_open(&img, ctx->dirfd, IMG_MNTS, id, O_RDONLY);
	if (ret == -ENOENT)
		pr_err("mountpoints-%u.img: missing, named by the tasks' ids", id);
	if (ret)
		return ret;
	while ((ret = img_read_msg(img, &mnt_entry__descriptor, (ProtobufCMessage **)&e)) == 1) {
		ret = mnt_tree_add(t, e);
		if (ret) {
			img_free_msg(&e->base);
			break;
		}
	}
	if (!ret && t->n == n) {
		pr_err("mountpoints-%u.img: no mount", id);
		ret = -EINVAL;
	}
	img_close(img);
	return ret;
}

uint32_t mnt_task_ns(const struct rst_task *t)
{
	return t->ids && t->ids->has_mnt_ns_id ? t->ids->mnt_ns_id : 0;
}

/* The root task's namespace @id first, then every other a task is in, by id. */
static int read_trees(struct rst_ctx *ctx, uint32_t id, struct tree *t)
{
	uint32_t last = 0;
	int ret = read_tree(ctx, id, t);

	while (!ret) {
		uint32_t next = 0;

		for (size_t i = 0; i < ctx->nr_tasks; i++) {
			uint32_t its = mnt_task_ns(&ctx->tasks[i]);

			if (its && its != id && its > last && (!next || its < next))
				next = its;
		}
		if (!next)
			break;
		ret = read_tree(ctx, next, t);
		last = next;
	}
	return ret;
}

static void tree_close(struct tree *t)
{
	for (size_t i = 0; i < t->n; i++) {
		if (t->m[i].fd >= 0)
			close(t->m[i].fd);
		if (t->m[i].srcfd >= 0)
			close(t->m[i].srcfd);
		if (t->m[i].pre >= 0)
			close(t->m[i].pre);
		img_free_msg(&t->m[i].e->base);
	}
	free(t->m);
}

/*
 * Mount @x was just made: open, before anything is mounted below it, the
 * place in it each later bind of it is cloned from.
 */
static int make_deleted(struct mnt *m);

/*
 * A bind of a pty's slave (/dev/pts/N bound on /dev/console) from devpts
 * mount @x: the slave is there only while its master is, so the pair is
 * made now, its master kept for the terminals' restore.  0, or -ENOENT
 * when @rel is no slave of a devpts.
 */
static int pty_slave(const struct mnt *x, const char *rel)
{
	char *end;
	long index;

	if (x->e->fstype != FSTYPE__DEVPTS || !*rel)
		return -ENOENT;
	index = strtol(rel, &end, 10);
	if (*end || end == rel || index < 0 || index > MAX_PTY_INDEX)
		return -ENOENT;
	pr_info("mount %u: pty %ld made now for a bind of its slave", x->e->mnt_id, index);
	return tty_premake_pty(x->fd, (int)index);
}

/*
 * A bind @m of @x in another namespace: cloned now, while @x is in the
 * namespace being made (a mount is cloned only there), and moved into
 * its own later as it is (m->pre).
 */
static int clone_across(struct mnt *x, struct mnt *m, const char *rel)
{
	int flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
		    (*rel ? AT_SYMLINK_NOFOLLOW : AT_EMPTY_PATH);

	m->pre = open_tree(x->fd, *rel ? rel : "", flags);
	if (m->pre < 0 && errno == ENOENT && !pty_slave(x, rel))
		m->pre = open_tree(x->fd, rel, flags);
	if (m->pre < 0 && errno == ENOENT && m->e->deleted) {
		m->pre = make_deleted(m);
		return m->pre < 0 ? m->pre : 0;
	}
	if (m->pre < 0) {
		pr_perror("mount %u (%s): cannot find its root %s in mount %u of another namespace",
			  m->e->mnt_id, m->e->mountpoint, m->e->root, x->e->mnt_id);
		return -errno;
	}
	return 0;
}

int mnt_open_sources(struct tree *t, struct mnt *x)
{
	for (size_t i = 0; i < t->n; i++) {
		struct mnt *m = &t->m[i];
		const char *rel;
		int ret;

		if (m->src != x)
			continue;
		rel = mnt_under(x->e->root, m->e->root);
		if (m->ns != x->ns) {
			ret = clone_across(x, m, rel);
			if (ret)
				return ret;
			continue;
		}
		m->srcfd = openat(x->fd, *rel ? rel : ".", O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (m->srcfd < 0 && errno == ENOENT && !pty_slave(x, rel))
			m->srcfd = openat(x->fd, rel, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (m->srcfd < 0 && errno == ENOENT && m->e->deleted)
			continue;	/* made for the while of its bind (make_deleted) */
		if (m->srcfd < 0) {
			pr_perror("mount %u (%s): cannot find its root %s in mount %u",
				  m->e->mnt_id, m->e->mountpoint, m->e->root, x->e->mnt_id);
			return -errno;
		}
	}
	return 0;
}

/* The superblock options of @m, one fsconfig() each, on the new context @fsfd. */
static int configure(int fsfd, const struct mnt *m)
{
	static const struct opt_flag keep[] = {
		{ "sync", MS_SYNCHRONOUS }, { "dirsync", MS_DIRSYNC }, { "mand", MS_MANDLOCK },
	};
	/* Made from outside the tree's user namespace: its ids as stasis sees them. */
	char *opts = userns_mount_opts(m->e->options, true), *p = opts, *o;
	int ret = 0;

	if (!opts)
		return -ENOMEM;
	if (*m->e->source && fsconfig(fsfd, FSCONFIG_SET_STRING, "source", m->e->source, 0))
		ret = -errno;
	while (!ret && (o = strsep(&p, ","))) {
		char *v = strchr(o, '=');

		if (!*o)
			continue;
		if (v)
			*v++ = '\0';
		if (fsconfig(fsfd, v ? FSCONFIG_SET_STRING : FSCONFIG_SET_FLAG, o, v, 0)) {
			pr_perror("mount %u (%s): the option %s is refused", m->e->mnt_id,
				  m->e->mountpoint, o);
			ret = -errno;
		}
	}
	for (size_t i = 0; !ret && i < sizeof(keep) / sizeof(keep[0]); i++)
		if ((m->e->sb_flags & keep[i].flag) &&
		    fsconfig(fsfd, FSCONFIG_SET_FLAG, keep[i].opt, NULL, 0))
			ret = -errno;
	free(opts);
	return ret;
}

static int given_fd(const void *arg)
{
	return *(const int *)arg;
}

/* The contents of tmpfs mount @m, from the image, into the mount open as @fd. */
static int tar_restore(struct rst_ctx *ctx, const struct mnt *m, int fd)
{
	static char *const argv[] = {
		"tar", "--extract", "--gzip", "--no-unquote", "--no-wildcards", "--directory", ".",
		NULL,
	};
	char name[64];
	int img, ret;

	snprintf(name, sizeof(name), "tmpfs-dev-%u.tar.gz.img", m->e->root_dev);
	img = img_openat(ctx->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (img == -ENOENT)
		pr_err("%s: missing, the contents of mount %u (%s)", name, m->e->mnt_id,
		       m->e->mountpoint);
	if (img < 0)
		return img;
	ret = mnt_run_tar(given_fd, &fd, img, 2, argv);
	close(img);
	return ret;
}

/* A new instance of @m's file system, detached: its fd, or -errno. */
int mnt_make_new(struct rst_ctx *ctx, struct mnt *m)
{
	const struct fs_kind *fs = mnt_fs_by_code(m->e->fstype);
	const char *name = fs->code == FSTYPE__AUTO && m->e->fsname ? m->e->fsname : fs->name;
	int fsfd, fd, ret;

	fsfd = fsopen(name, FSOPEN_CLOEXEC);
	if (fsfd < 0) {
		pr_perror("mount %u (%s): cannot make a %s", m->e->mnt_id, m->e->mountpoint, name);
		return -errno;
	}
	ret = configure(fsfd, m);
	if (!ret && fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0)) {
		pr_perror("mount %u (%s): cannot make a %s (%s)", m->e->mnt_id, m->e->mountpoint,
			  name, m->e->options);
		ret = -errno;
	}
	fd = ret ? ret : fsmount(fsfd, FSMOUNT_CLOEXEC, 0);
	if (fd < 0 && !ret) {
		pr_perror("mount %u (%s): fsmount", m->e->mnt_id, m->e->mountpoint);
		fd = -errno;
	}
	close(fsfd);
	m->fresh = fd >= 0;
	if (fd >= 0 && fs->how == FS_TAR) {
		ret = tar_restore(ctx, m, fd);
		if (ret) {
			close(fd);
			return ret;
		}
	}
	return fd;
}

/*
 * A bind of a deleted file or directory (its root "//deleted" in
 * mountinfo): made again in its source mount and bound; removed again,
 * with the directories made for it, once the bind is attached
 * (unmake_deleted).  A directory unless its mount point is a file.  The
 * bind's fd, or -errno.
 */
static int make_deleted(struct mnt *m)
{
	const char *rel = mnt_under(m->src->e->root, m->e->root);
	const char *mp = m->parent ? mnt_under(m->parent->e->mountpoint, m->e->mountpoint) : NULL;
	int dfd = m->src->fd, fd = -1, ret = 0;
	char path[PATH_MAX];
	bool dir = true;
	struct stat st;

	if (!m->parent) {
		pr_err("not supported yet: the root mount %u of a mount namespace is a bind of a "
		       "deleted %s", m->e->mnt_id, m->e->root);
		return -ENOTSUP;
	}
	m->remade = true;
	/* (The parent of a bind into another namespace is not made yet: a directory then.) */
	if (mp && *mp && m->parent->fd >= 0 &&
	    !fstatat(m->parent->fd, mp, &st, AT_SYMLINK_NOFOLLOW))
		dir = S_ISDIR(st.st_mode);
	snprintf(path, sizeof(path), "%s", rel);
	m->made_dirs = 0;
	for (char *p = strchr(path, '/'); !ret && p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (!mkdirat(dfd, path, 0700))
			m->made_dirs++;
		else if (errno != EEXIST)
			ret = -errno;
		*p = '/';
	}
	if (!ret && (dir ? mkdirat(dfd, rel, 0700) :
		     (fd = openat(dfd, rel, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600)) < 0))
		ret = -errno;
	if (fd >= 0)
		close(fd);
	fd = ret ? ret : open_tree(dfd, rel, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (fd < 0 && !ret)
		fd = -errno;
	if (fd < 0)
		pr_err("mount %u (%s): cannot make its deleted root %s again: %s", m->e->mnt_id,
		       m->e->mountpoint, m->e->root, strerror(-fd));
	return fd;
}

/* The root made again for deleted bind @m removed, and the directories made for it. */
static void unmake_deleted(struct mnt *m)
{
	const char *rel = mnt_under(m->src->e->root, m->e->root);
	char path[PATH_MAX];
	struct stat st;
	char *p;

	snprintf(path, sizeof(path), "%s", rel);
	if (fstat(m->fd, &st) ||
	    unlinkat(m->src->fd, rel, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0))
		pr_warn("mount %u: cannot remove %s again: %m", m->e->mnt_id, m->e->root);
	for (; m->made_dirs > 0 && (p = strrchr(path, '/')); m->made_dirs--) {
		*p = '\0';
		unlinkat(m->src->fd, path, AT_REMOVEDIR);
	}
}

/* Mount @m, detached: its fd, or -errno. */
int mnt_make_one(struct rst_ctx *ctx, struct mnt *m)
{
	int fd;

	if (m->pre >= 0) {
		fd = m->pre;	/* made before, in another namespace */
		m->pre = -1;
		return fd;
	}
	if (m->e->ext_key || m->ext_src) {
		fd = m->srcfd;	/* opened by open_externals */
		m->srcfd = -1;
		return fd;
	}
	if (m->src && m->srcfd < 0)
		return make_deleted(m);
	if (m->src) {
		fd = open_tree(m->srcfd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
		if (fd < 0)
			pr_perror("mount %u (%s): cannot bind it from mount %u", m->e->mnt_id,
				  m->e->mountpoint, m->src->e->mnt_id);
		return fd < 0 ? -errno : fd;
	}
	return mnt_make_new(ctx, m);
}

/*
 * Every external mount cloned from its path while the new namespace is
 * still a plain copy of stasis's: a clone of a shared mount there is a
 * peer of the host's, of a slave a slave of the same master, as a bind
 * made outside would be.  attach() then keeps a dumped master outside as
 * its master and makes every other external mount private at once, so
 * that nothing mounted below it in the tree reaches the host.
 */
/* The peer group of the mount at @path in the controller's namespace (0: not shared). */
static uint32_t group_at(const char *path)
{
	char line[PATH_MAX + 256], *sh;
	unsigned int id = 0, mid;
	uint32_t group = 0;
	FILE *f;
	int fd = open(path, O_PATH | O_CLOEXEC);

	snprintf(line, sizeof(line), "fdinfo/%d", fd);
	f = fd < 0 ? NULL : rst_fopen_self(line);
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "mnt_id: %u", &id) == 1)
			break;
	if (f)
		fclose(f);
	f = id ? rst_fopen_self("mountinfo") : NULL;
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%u ", &mid) != 1 || mid != id)
			continue;
		sh = strstr(line, " shared:");
		group = sh ? strtoul(sh + 8, NULL, 10) : 0;
		break;
	}
	if (f)
		fclose(f);
	if (fd >= 0)
		close(fd);
	return group;
}

static int open_externals(struct rst_ctx *ctx, struct tree *t)
{
	for (size_t i = 1; i < t->n; i++) {
		struct mnt *m = &t->m[i], *x = m->ext_src ?: m;
		const char *path, *rel;
		char abs[PATH_MAX];

		if (!x->e->ext_key)
			continue;
		path = ext_path(ctx->opts, x->e->ext_key, false);
		if (!strcmp(x->e->ext_key, MNT_AUTO_KEY))
			path = x->e->source;
		rel = m->ext_src ? mnt_under(x->e->root, m->e->root) : "";
		/* A relative path is from stasis's root, as CRIU reads it. */
		if (snprintf(abs, sizeof(abs), "%s%s%s%s", path[0] == '/' ? "" : "/", path,
			     *rel ? "/" : "", rel) >= (int)sizeof(abs))
			return -ENAMETOOLONG;
		path = abs;
		m->srcfd = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		/*
		 * --enable-external-sharing: a shared external mount whose group
		 * outside is still the one it shared at dump stays in it (sharing
		 * made inside the tree is made again there).
		 */
		m->host_peer = m->e->ext_key && (m->e->flags & MS_SHARED) &&
			       ctx->opts->ext_sharing && !m->outside_master &&
			       group_at(path) == m->e->shared_id;
		if (m->srcfd < 0) {
			pr_perror("mount %u (%s): cannot bind the external %s", m->e->mnt_id,
				  m->e->mountpoint, path);
			return -errno;
		}
	}
	return 0;
}

/* Where @m goes in its parent: made if missing (a directory, or a file for a file). */
static int make_target(const struct mnt *m, int fd, const char *rel)
{
	struct stat st;
	int ret = 0, f;

	if (!*rel || !fstatat(m->parent->fd, rel, &st, AT_SYMLINK_NOFOLLOW))
		return 0;
	if (errno != ENOENT || fstat(fd, &st))
		return -errno;
	for (char *p = strchr(rel, '/'); !ret && p; p = strchr(p + 1, '/')) {
		char dir[PATH_MAX];

		snprintf(dir, sizeof(dir), "%.*s", (int)(p - rel), rel);
		if (mkdirat(m->parent->fd, dir, 0755) && errno != EEXIST)
			ret = -errno;
	}
	if (!ret && S_ISDIR(st.st_mode) && mkdirat(m->parent->fd, rel, 0755))
		ret = -errno;
	if (!ret && !S_ISDIR(st.st_mode)) {
		f = openat(m->parent->fd, rel, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
		if (f < 0)
			ret = -errno;
		else
			close(f);
	}
	if (ret)
		pr_err("mount %u: cannot make its mount point %s: %s", m->e->mnt_id,
		       m->e->mountpoint, strerror(-ret));
	else
		pr_info("mount %u: made its mount point %s", m->e->mnt_id, m->e->mountpoint);
	return ret;
}

/* Mount @m below its parent, through the parent's fd. */
int mnt_attach(struct rst_ctx *ctx, struct tree *t, struct mnt *m)
{
	const char *rel = mnt_under(m->parent->e->mountpoint, m->e->mountpoint);
	int fd, ret;

	if (!rel) {
		pr_err("mount %u (%s): not below its parent %u (%s)", m->e->mnt_id,
		       m->e->mountpoint, m->parent->e->mnt_id, m->parent->e->mountpoint);
		return -EINVAL;
	}
	fd = mnt_make_one(ctx, m);
	if (fd < 0)
		return fd;
	ret = make_target(m, fd, rel);
	if (!ret && move_mount(fd, "", m->parent->fd, rel,
			       MOVE_MOUNT_F_EMPTY_PATH | (*rel ? 0 : MOVE_MOUNT_T_EMPTY_PATH))) {
		pr_perror("mount %u: cannot mount it on %s", m->e->mnt_id, m->e->mountpoint);
		ret = -errno;
	}
	if (ret) {
		close(fd);
		return ret;
	}
	m->fd = fd;
	if ((m->e->ext_key || m->ext_src) && !m->host_peer)
		ret = mnt_set_prop(m, m->outside_master ? MS_SLAVE : MS_PRIVATE);
	if (ret)
		return ret;
	if (m->remade)
		unmake_deleted(m);
	return mnt_open_sources(t, m);
}

/*
 * A clone of @dir alone, made in stasis's own mount namespace: in a copy
 * of it that a user namespace of the tree's owns, each mount is locked to
 * those below it, and none is cloned alone (EINVAL).  The clone's fd, or
 * -1 with errno.
 */
static int clone_in_own(const char *dir)
{
	int own = ns_own_open(CLONE_NEWNS), here = rst_open_self("ns/mnt", O_RDONLY);
	int fd = -1, err = EINVAL;

	if (own >= 0 && here >= 0 && !setns(own, CLONE_NEWNS)) {
		fd = open_tree(AT_FDCWD, dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		err = errno;
		if (setns(here, CLONE_NEWNS)) {
			pr_perror("cannot return to the tree's new mount namespace");
			if (fd >= 0)
				close(fd);
			fd = -1;
			err = EIO;
		}
	}
	if (own >= 0)
		close(own);
	if (here >= 0)
		close(here);
	errno = err;
	return fd;
}

/* The root mount: a bind of @dir, on @dir itself, to pivot into. */
static int make_root(struct tree *t, const char *dir)
{
	struct mnt *r = t->root;

	r->fd = open_tree(AT_FDCWD, dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (r->fd < 0 && errno == EINVAL)
		r->fd = clone_in_own(dir);
	if (r->fd < 0 || move_mount(r->fd, "", AT_FDCWD, dir, MOVE_MOUNT_F_EMPTY_PATH)) {
		pr_perror("cannot bind the root %s for mount %u", dir, r->e->mnt_id);
		return -errno;
	}
	return mnt_open_sources(t, r);
}

int mnt_pivot(const struct mnt *root)
{
	if (fchdir(root->fd) || syscall(SYS_pivot_root, ".", ".") ||
	    umount2(".", MNT_DETACH) || chdir("/")) {
		pr_perror("cannot pivot into the restored mount tree");
		return -errno;
	}
	return 0;
}

static int mnt_restore(struct rst_ctx *ctx, uint32_t id)
{
	const char *root = ctx->opts->root ?: "/";
	struct tree t = { 0 };
	int ret;

	mnt_prop_in(&t, 0);
	ret = read_trees(ctx, id, &t) ?: mnt_plan(&t, ctx->opts, false) ?:
	      open_externals(ctx, &t) ?: mnt_premake(ctx, &t);
	if (!ret && t.nr_ns > 1) {
		t.ns[0].nsfd = rst_open_self("ns/mnt", O_RDONLY);
		if (t.ns[0].nsfd < 0)
			ret = -errno;
	}
	/* Nothing done here may reach the mounts of stasis's namespace. */
	if (!ret && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		pr_perror("cannot make the new mount namespace private");
		ret = -errno;
	}
	ret = ret ?: make_root(&t, root);
	for (size_t i = 1; !ret && i < t.n; i++)
		if (!t.m[i].ns)
			ret = mnt_attach(ctx, &t, &t.m[i]);
	ret = ret ?: mnt_pivot(t.root) ?: mnt_build_others(ctx, &t) ?: mnt_propagate(&t) ?:
	      mnt_set_flags(&t) ?: mnt_enter_ns(t.root) ?: mnt_keep_procs(&t) ?: mnt_keep_mnts(&t);
	if (!ret)
		pr_info("mount namespace %u: %zu mounts in %zu namespaces, the root from %s", id,
			t.n, t.nr_ns, root);
	if (t.nr_ns > 1 && t.ns[0].nsfd >= 0)
		close(t.ns[0].nsfd);
	mnt_prop_in(NULL, 0);
	tree_close(&t);
	return ret;
}

const struct ns_operations mnt_ns_ops = {
	.name = "mnt",
	.cflag = CLONE_NEWNS,
	.dump_outside = true,
	.per_task = true,
	.dump = mnt_dump,
	.restore = mnt_restore,
	.restore_root = mnt_restore_root,
	.restore_task = mnt_restore_task,
};
