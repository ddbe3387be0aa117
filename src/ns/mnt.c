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

	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	return x->e->mnt_id < y->e->mnt_id ? -1 : x->e->mnt_id > y->e->mnt_id;
}

/* Each mount's depth below the root; the mounts sorted parents first. */
static int order(struct tree *t)
{
	struct mnt *root = NULL;

	for (size_t i = 0; i < t->n; i++) {
		if (strcmp(t->m[i].e->mountpoint, "/"))
			continue;
		if (root) {
			pr_err("unsupported: mounts %u and %u are both on / (an overmounted root)",
			       root->e->mnt_id, t->m[i].e->mnt_id);
			return -ENOTSUP;
		}
		root = &t->m[i];
	}
	if (!root) {
		pr_err("the mount namespace has no mount on /");
		return -EINVAL;
	}
	for (size_t i = 0; i < t->n; i++) {
		struct mnt *m = &t->m[i];
		unsigned int d = 0;

		for (struct mnt *p = m; p != root; d++) {
			p = by_id(t, p->e->parent_mnt_id);
			if (!p || d > t->n) {
				pr_err("mount %u (%s): not below the root mount %u", m->e->mnt_id,
				       m->e->mountpoint, root->e->mnt_id);
				return -EINVAL;
			}
		}
		m->depth = d;
	}
	qsort(t->m, t->n, sizeof(*t->m), cmp_depth);
	t->root = &t->m[0];
	for (size_t i = 1; i < t->n; i++)
		t->m[i].parent = by_id(t, t->m[i].e->parent_mnt_id);
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
	if (fs && fs->how != FS_BIND && !strcmp(m->e->root, "/"))
		return 0;
	pr_err("unsupported: mount %u (%s) is a %s mount (root %s) that is neither made anew "
	       "nor a bind of a mount in the tree: name it with --external mnt[%s]:KEY",
	       m->e->mnt_id, m->e->mountpoint, m->type ?: fs ? fs->name : "unknown", m->e->root,
	       m->e->mountpoint);
	return -ENOTSUP;
}

/* The mount of peer group @group made first, or NULL. */
static struct mnt *group_leader(struct tree *t, uint32_t group)
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
	for (size_t i = 0; !ret && i < t->n; i++) {
		struct mnt *m = &t->m[i];

		if (!m->e->master_id || group_leader(t, m->e->master_id))
			continue;
		/* A master outside: the root and external mounts come from outside anyway. */
		if (m == t->root || m->e->ext_key) {
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
	m[t->n].fd = m[t->n].srcfd = -1;
	t->n++;
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
	MntEntry *e;
	int ret;

	ret = img_open(&img, ctx->dirfd, IMG_MNTS, id, O_RDONLY);
	if (ret == -ENOENT)
		pr_err("mountpoints-%u.img: missing, named by the root's ids", id);
	while (!ret && (ret = img_read_msg(img, &mnt_entry__descriptor, (ProtobufCMessage **)&e)) == 1) {
		ret = mnt_tree_add(t, e);
		if (ret)
			img_free_msg(&e->base);
	}
	if (!ret && !t->n) {
		pr_err("mountpoints-%u.img: no mount", id);
		ret = -EINVAL;
	}
	if (img)
		img_close(img);
	return ret;
}

static void tree_close(struct tree *t)
{
	for (size_t i = 0; i < t->n; i++) {
		if (t->m[i].fd >= 0)
			close(t->m[i].fd);
		if (t->m[i].srcfd >= 0)
			close(t->m[i].srcfd);
		img_free_msg(&t->m[i].e->base);
	}
	free(t->m);
}

/*
 * Mount @x was just made: open, before anything is mounted below it, the
 * place in it each later bind of it is cloned from.
 */
static int open_sources(struct tree *t, struct mnt *x)
{
	for (size_t i = 0; i < t->n; i++) {
		struct mnt *m = &t->m[i];
		const char *rel;

		if (m->src != x)
			continue;
		rel = mnt_under(x->e->root, m->e->root);
		m->srcfd = openat(x->fd, *rel ? rel : ".", O_PATH | O_NOFOLLOW | O_CLOEXEC);
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
static int make_new(struct rst_ctx *ctx, struct mnt *m)
{
	const struct fs_kind *fs = mnt_fs_by_code(m->e->fstype);
	int fsfd, fd, ret;

	fsfd = fsopen(fs->name, FSOPEN_CLOEXEC);
	if (fsfd < 0) {
		pr_perror("mount %u (%s): cannot make a %s", m->e->mnt_id, m->e->mountpoint,
			  fs->name);
		return -errno;
	}
	ret = configure(fsfd, m);
	if (!ret && fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0)) {
		pr_perror("mount %u (%s): cannot make a %s (%s)", m->e->mnt_id, m->e->mountpoint,
			  fs->name, m->e->options);
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
	const char *mp = mnt_under(m->parent->e->mountpoint, m->e->mountpoint);
	int dfd = m->src->fd, fd = -1, ret = 0;
	char path[PATH_MAX];
	bool dir = true;
	struct stat st;

	if (mp && *mp && !fstatat(m->parent->fd, mp, &st, AT_SYMLINK_NOFOLLOW))
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
static int make_one(struct rst_ctx *ctx, struct mnt *m)
{
	int fd;

	if (m->e->ext_key) {
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
	return make_new(ctx, m);
}

/*
 * Every external mount cloned from its path while the new namespace is
 * still a plain copy of stasis's: a clone of a shared mount there is a
 * peer of the host's, of a slave a slave of the same master, as a bind
 * made outside would be.  attach() then keeps a dumped master outside as
 * its master and makes every other external mount private at once, so
 * that nothing mounted below it in the tree reaches the host.
 */
static int open_externals(struct rst_ctx *ctx, struct tree *t)
{
	for (size_t i = 1; i < t->n; i++) {
		struct mnt *m = &t->m[i];
		const char *path;

		if (!m->e->ext_key)
			continue;
		path = ext_path(ctx->opts, m->e->ext_key, false);
		m->srcfd = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
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

static int set_prop(const struct mnt *m, uint64_t prop);

/* Mount @m below its parent, through the parent's fd. */
static int attach(struct rst_ctx *ctx, struct tree *t, struct mnt *m)
{
	const char *rel = mnt_under(m->parent->e->mountpoint, m->e->mountpoint);
	int fd, ret;

	if (!rel) {
		pr_err("mount %u (%s): not below its parent %u (%s)", m->e->mnt_id,
		       m->e->mountpoint, m->parent->e->mnt_id, m->parent->e->mountpoint);
		return -EINVAL;
	}
	fd = make_one(ctx, m);
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
	if (m->e->ext_key)
		ret = set_prop(m, m->outside_master ? MS_SLAVE : MS_PRIVATE);
	if (ret)
		return ret;
	if (m->src && m->srcfd < 0)
		unmake_deleted(m);
	return open_sources(t, m);
}

/* The root mount: a bind of @dir, on @dir itself, to pivot into. */
static int make_root(struct tree *t, const char *dir)
{
	struct mnt *r = t->root;

	r->fd = open_tree(AT_FDCWD, dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (r->fd < 0 || move_mount(r->fd, "", AT_FDCWD, dir, MOVE_MOUNT_F_EMPTY_PATH)) {
		pr_perror("cannot bind the root %s for mount %u", dir, r->e->mnt_id);
		return -errno;
	}
	return open_sources(t, r);
}

static int pivot(const struct tree *t)
{
	if (fchdir(t->root->fd) || syscall(SYS_pivot_root, ".", ".") ||
	    umount2(".", MNT_DETACH) || chdir("/")) {
		pr_perror("cannot pivot into the restored mount tree");
		return -errno;
	}
	return 0;
}

static int set_prop(const struct mnt *m, uint64_t prop)
{
	struct mount_attr a = { .propagation = prop };

	if (mount_setattr(m->fd, "", AT_EMPTY_PATH, &a, sizeof(a))) {
		pr_perror("mount %u (%s): cannot set its propagation %#lx", m->e->mnt_id,
			  m->e->mountpoint, (unsigned long)prop);
		return -errno;
	}
	return 0;
}

/* @to joins @from's peer group and gets its master. */
static int set_group(const struct mnt *from, const struct mnt *to)
{
	if (move_mount(from->fd, "", to->fd, "",
		       MOVE_MOUNT_SET_GROUP | MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)) {
		pr_perror("mount %u (%s): cannot join the sharing of mount %u (%s)",
			  to->e->mnt_id, to->e->mountpoint, from->e->mnt_id, from->e->mountpoint);
		return -errno;
	}
	return 0;
}

/*
 * Peer group of @lead, the first of its members: a slave of its master's
 * group first (when it is one), then shared, then every other member joins.
 */
static int make_group(struct tree *t, struct mnt *lead, unsigned int depth)
{
	struct mnt *master = group_leader(t, lead->e->master_id);
	int ret = 0;

	if (lead->grouped || depth > t->n)
		return 0;	/* done, or a loop of masters (not something mountinfo shows) */
	if (master && master != lead)
		ret = make_group(t, master, depth + 1) ?: set_group(master, lead) ?:
		      set_prop(lead, MS_SLAVE);
	ret = ret ?: set_prop(lead, MS_SHARED);
	for (size_t i = 0; !ret && i < t->n; i++)
		if (&t->m[i] != lead && t->m[i].e->shared_id == lead->e->shared_id)
			ret = set_group(lead, &t->m[i]);
	lead->grouped = true;
	return ret;
}

static int propagate(struct tree *t)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < t->n; i++) {
		struct mnt *m = &t->m[i];

		if (m->e->shared_id && group_leader(t, m->e->shared_id) == m)
			ret = make_group(t, m, 0);
	}
	for (size_t i = 0; !ret && i < t->n; i++) {
		struct mnt *m = &t->m[i], *master = group_leader(t, m->e->master_id);

		if (!m->e->shared_id && master)
			ret = set_group(master, m) ?: set_prop(m, MS_SLAVE);
	}
	for (size_t i = 0; !ret && i < t->n; i++)
		if (t->m[i].e->flags & MS_UNBINDABLE)
			ret = set_prop(&t->m[i], MS_UNBINDABLE);
	return ret;
}

/* The flags of mount @m itself (read-only, nosuid, nodev, noexec, atime). */
static int set_attrs(const struct mnt *m)
{
	uint32_t f = m->e->flags;
	struct mount_attr a = {
		.attr_clr = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
			    MOUNT_ATTR_NOEXEC | MOUNT_ATTR__ATIME | MOUNT_ATTR_NODIRATIME,
		.attr_set = (f & MS_RDONLY ? MOUNT_ATTR_RDONLY : 0) |
			    (f & MS_NOSUID ? MOUNT_ATTR_NOSUID : 0) |
			    (f & MS_NODEV ? MOUNT_ATTR_NODEV : 0) |
			    (f & MS_NOEXEC ? MOUNT_ATTR_NOEXEC : 0) |
			    (f & MS_NODIRATIME ? MOUNT_ATTR_NODIRATIME : 0) |
			    (f & MS_NOATIME ? MOUNT_ATTR_NOATIME :
			     f & MS_STRICTATIME ? MOUNT_ATTR_STRICTATIME : MOUNT_ATTR_RELATIME),
	};

	if (mount_setattr(m->fd, "", AT_EMPTY_PATH, &a, sizeof(a))) {
		pr_perror("mount %u (%s): cannot set its flags %#x", m->e->mnt_id,
			  m->e->mountpoint, f);
		return -errno;
	}
	return 0;
}

/* Read-only superblocks (made here), then each mount's own flags. */
static int set_flags(struct tree *t)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < t->n; i++) {
		struct mnt *m = &t->m[i];
		int fsfd;

		if (m->fresh && (m->e->sb_flags & MS_RDONLY)) {
			fsfd = fspick(m->fd, "", FSPICK_EMPTY_PATH | FSPICK_CLOEXEC);
			if (fsfd < 0 || fsconfig(fsfd, FSCONFIG_SET_FLAG, "ro", NULL, 0) ||
			    fsconfig(fsfd, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0)) {
				pr_perror("mount %u (%s): cannot make its superblock read-only",
					  m->e->mnt_id, m->e->mountpoint);
				ret = -errno;
			}
			if (fsfd >= 0)
				close(fsfd);
		}
		ret = ret ?: set_attrs(m);
	}
	return ret;
}

/*
 * A proc mount shows the pid namespace of whoever made it: the controller
 * makes it for the pool (its files are opened through /proc), the root
 * makes it again once it is init of the tree's own pid namespace.  These
 * are the ones to make again, copied before the tree is freed.
 */
static struct mnt *procs;
static size_t nr_procs;

/* The mounts below each proc of procs[], parents first: moved onto the new proc. */
struct proc_sub {
	size_t proc;		/* index in procs[] */
	char *path;
	char *root;		/* a bind of that proc itself: its root there, else NULL */
	uint32_t flags, mnt_id;
};
static struct proc_sub *subs;
static size_t nr_subs;

static bool is_below(const struct mnt *m, const struct mnt *proc)
{
	for (const struct mnt *p = m->parent; p; p = p->parent)
		if (p == proc)
			return true;
	return false;
}

static int keep_subs(const struct tree *t, const struct mnt *proc, size_t index)
{
	for (size_t j = 0; j < t->n; j++) {
		struct proc_sub *s;

		if (!is_below(&t->m[j], proc))
			continue;
		s = realloc(subs, (nr_subs + 1) * sizeof(*s));
		if (!s)
			return -ENOMEM;
		subs = s;
		subs[nr_subs] = (struct proc_sub){ index, strdup(t->m[j].e->mountpoint), NULL,
						   t->m[j].e->flags, t->m[j].e->mnt_id };
		if (t->m[j].src == proc)
			subs[nr_subs].root = strdup(t->m[j].e->root);
		if (!subs[nr_subs].path || (t->m[j].src == proc && !subs[nr_subs].root))
			return -ENOMEM;
		nr_subs++;
	}
	return 0;
}

static int keep_procs(const struct tree *t)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct mnt *m = &t->m[i];
		struct mnt *p;
		bool below = false;

		if (!m->fresh || m->e->fstype != FSTYPE__PROC)
			continue;
		/* Mounts below it are moved onto the new proc; binds from it elsewhere are not. */
		for (size_t j = 0; j < t->n; j++)
			below |= t->m[j].src == m && !is_below(&t->m[j], m);
		if (keep_subs(t, m, nr_procs))
			return -ENOMEM;
		p = realloc(procs, (nr_procs + 1) * sizeof(*p));
		if (!p)
			return -ENOMEM;
		procs = p;
		p = &procs[nr_procs++];
		*p = (struct mnt){ .fd = -1, .srcfd = -1, .below = below };
		p->e = malloc(sizeof(*p->e));
		if (!p->e)
			return -ENOMEM;
		*p->e = *m->e;
		p->e->mountpoint = strdup(m->e->mountpoint);
		p->e->options = strdup(m->e->options);
		p->e->source = strdup(m->e->source);
		if (!p->e->mountpoint || !p->e->options || !p->e->source)
			return -ENOMEM;
	}
	return 0;
}

/*
 * The mounts below proc @i (runc masks /proc/kcore and others with binds
 * and tmpfs): @take, each cloned as it is, before the old proc goes;
 * else each clone moved onto the same path of the new proc.
 */
static int sub_fds[256];

/*
 * Mount @fd (a clone of the old one) on @s's path of the new proc at
 * @proc; a bind of the old proc itself is made again from the new one,
 * with the old one's flags.
 */
static int put_sub(const struct proc_sub *s, const char *proc, int fd)
{
	MntEntry e = MNT_ENTRY__INIT;
	struct mnt m = { .e = &e, .fd = fd };
	char from[4096];
	int ret = 0;

	if (s->root) {
		close(fd);
		snprintf(from, sizeof(from), "%s%s", proc, s->root);
		m.fd = open_tree(AT_FDCWD, from, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (m.fd < 0) {
			pr_perror("cannot bind %s of the new proc", from);
			return -errno;
		}
	}
	if (move_mount(m.fd, "", AT_FDCWD, s->path, MOVE_MOUNT_F_EMPTY_PATH)) {
		pr_perror("cannot put the mount on %s back below the new proc", s->path);
		ret = -errno;
	}
	e.flags = s->flags;
	e.mnt_id = s->mnt_id;
	e.mountpoint = s->path;
	if (!ret && s->root)
		ret = set_attrs(&m);
	close(m.fd);
	return ret;
}

static int clone_subs(size_t i, bool take)
{
	size_t k = 0;

	for (size_t j = 0; j < nr_subs; j++) {
		if (subs[j].proc != i)
			continue;
		if (k >= sizeof(sub_fds) / sizeof(sub_fds[0])) {
			pr_err("not supported yet: more than %zu mounts below proc %s", k,
			       procs[i].e->mountpoint);
			return -ENOTSUP;
		}
		if (take) {
			sub_fds[k] = open_tree(AT_FDCWD, subs[j].path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
			if (sub_fds[k] < 0) {
				pr_perror("cannot take the mount on %s below proc", subs[j].path);
				return -errno;
			}
		} else {
			int ret = put_sub(&subs[j], procs[i].e->mountpoint, sub_fds[k]);

			if (ret)
				return ret;
		}
		k++;
	}
	return 0;
}

/* In the root, first of all: its proc mounts made again in its own pid namespace. */
static int mnt_restore_root(struct rst_ctx *ctx, uint32_t id)
{
	int ret = 0;

	if (!(ns_clone_flags(ctx, &ctx->tasks[0]) & CLONE_NEWPID))
		return 0;
	for (size_t i = 0; !ret && i < nr_procs; i++) {
		struct mnt *p = &procs[i];

		if (p->below) {
			pr_err("not supported yet: mount %u (%s), a proc with mounts below it or "
			       "bound from it, in a new pid namespace", p->e->mnt_id, p->e->mountpoint);
			return -ENOTSUP;
		}
		/* First: in a user namespace, a proc is made only where one is fully visible. */
		p->fd = make_new(ctx, p);
		if (p->fd < 0)
			return p->fd;
		ret = clone_subs(i, true);
		if (!ret && umount2(p->e->mountpoint, MNT_DETACH)) {
			pr_perror("mount %u: cannot take the controller's proc off %s", p->e->mnt_id,
				  p->e->mountpoint);
			ret = -errno;
		}
		if (ret) {
			close(p->fd);
			p->fd = -1;
			return ret;
		}
		if (move_mount(p->fd, "", AT_FDCWD, p->e->mountpoint, MOVE_MOUNT_F_EMPTY_PATH)) {
			pr_perror("mount %u: cannot mount proc on %s", p->e->mnt_id, p->e->mountpoint);
			ret = -errno;
		}
		ret = ret ?: set_attrs(p) ?: clone_subs(i, false);
		close(p->fd);
		p->fd = -1;
	}
	if (!ret && nr_procs)
		pr_info("mount namespace %u: %zu proc mounts made again in the tree's pid namespace",
			id, nr_procs);
	return ret;
}

static int mnt_restore(struct rst_ctx *ctx, uint32_t id)
{
	const char *root = ctx->opts->root ?: "/";
	struct tree t = { 0 };
	int ret;

	ret = read_tree(ctx, id, &t) ?: mnt_plan(&t, ctx->opts, false) ?: open_externals(ctx, &t);
	/* Nothing done here may reach the mounts of stasis's namespace. */
	if (!ret && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		pr_perror("cannot make the new mount namespace private");
		ret = -errno;
	}
	ret = ret ?: make_root(&t, root);
	for (size_t i = 1; !ret && i < t.n; i++)
		ret = attach(ctx, &t, &t.m[i]);
	ret = ret ?: pivot(&t) ?: propagate(&t) ?: set_flags(&t) ?: keep_procs(&t);
	if (!ret)
		pr_info("mount namespace %u: %zu mounts, the root from %s", id, t.n, root);
	tree_close(&t);
	return ret;
}

const struct ns_operations mnt_ns_ops = {
	.name = "mnt",
	.cflag = CLONE_NEWNS,
	.dump_outside = true,
	.dump = mnt_dump,
	.restore = mnt_restore,
	.restore_root = mnt_restore_root,
};
