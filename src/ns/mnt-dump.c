/*
 * mnt-dump.c - the dump half of a mount namespace (mnt.c): the root
 * task's mountinfo into mountpoints-ID.img, tmpfs contents as tar.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "ns/mnt.h"
#include "ns/ns.h"
#include "dump.h"
#include "pstree.h"
#include "sk-fd.h"

#define KDEV(ma, mi)	(((ma) << 20) | (mi))	/* the kernel's dev_t, as CRIU keeps it */

/* mountinfo writes ' ', '\t', '\n' and '\\' as \ooo. */
static void unescape(char *s)
{
	char *d = s;

	for (; *s; s++, d++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*d = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*d = *s;
		}
	}
	*d = '\0';
}

static const struct opt_flag mnt_opts[] = {
	{ "rw", 0 }, { "ro", MS_RDONLY }, { "nosuid", MS_NOSUID }, { "nodev", MS_NODEV },
	{ "noexec", MS_NOEXEC }, { "noatime", MS_NOATIME }, { "nodiratime", MS_NODIRATIME },
	{ "relatime", MS_RELATIME },
};

/* Of the superblock's options, those CRIU keeps as sb_flags; the rest stays a string. */
static const struct opt_flag sb_opts[] = {
	{ "rw", 0 }, { "ro", MS_RDONLY }, { "sync", MS_SYNCHRONOUS }, { "dirsync", MS_DIRSYNC },
	{ "mand", MS_MANDLOCK },
};

/* The flags of the comma-separated @opts; the others, in order, into @rest (if any). */
static unsigned int opt_flags(char *opts, const struct opt_flag *tab, size_t n, char *rest)
{
	unsigned int flags = 0;
	char *o;

	if (rest)
		rest[0] = '\0';
	while ((o = strsep(&opts, ","))) {
		size_t i;

		for (i = 0; i < n && strcmp(tab[i].opt, o); i++)
			;
		if (i < n) {
			flags |= tab[i].flag;
		} else if (rest && *o) {
			if (rest[0])
				strcat(rest, ",");
			strcat(rest, o);
		}
	}
	return flags;
}

static void entry_free(MntEntry *e);

/* Its uid= and gid= options as the tree sees them, as CRIU writes them. */
static bool ids_inside(MntEntry *e)
{
	char *o = userns_mount_opts(e->options, false);

	if (!o)
		return false;
	free(e->options);
	e->options = o;
	return true;
}

static void entry_free(MntEntry *e)
{
	free(e->root);
	free(e->mountpoint);
	free(e->source);
	free(e->options);
	free(e->ext_key);
	free(e->fsname);
	free(e);
}

/* One line of mountinfo into a new entry: 0, or -EINVAL for a line we cannot read. */
static int parse_line(char *line, MntEntry **out, char **type)
{
	char *f[6], *fs, *src, *sb, *tok, *p = line;
	unsigned int maj, min;
	MntEntry *e;
	size_t i;

	for (i = 0; i < 6 && (f[i] = strsep(&p, " ")); i++)
		;
	if (i < 6 || !p)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	mnt_entry__init(e);
	if (sscanf(f[0], "%u", &e->mnt_id) != 1 || sscanf(f[1], "%u", &e->parent_mnt_id) != 1 ||
	    sscanf(f[2], "%u:%u", &maj, &min) != 2)
		goto bad;
	e->root_dev = KDEV(maj, min);
	e->flags = opt_flags(f[5], mnt_opts, sizeof(mnt_opts) / sizeof(mnt_opts[0]), NULL);
	/* As CRIU: without relatime nor noatime the kernel would pick relatime. */
	if (!(e->flags & (MS_RELATIME | MS_NOATIME)))
		e->flags |= MS_STRICTATIME;
	while ((tok = strsep(&p, " ")) && strcmp(tok, "-")) {
		if (!strncmp(tok, "shared:", 7)) {
			e->flags |= MS_SHARED;
			e->shared_id = strtoul(tok + 7, NULL, 10);
		} else if (!strncmp(tok, "master:", 7)) {
			e->flags |= MS_SLAVE;
			e->master_id = strtoul(tok + 7, NULL, 10);
		} else if (!strcmp(tok, "unbindable")) {
			e->flags |= MS_UNBINDABLE;
		}
	}
	fs = strsep(&p, " ");
	src = strsep(&p, " ");
	sb = strsep(&p, " \n");
	if (!tok || !fs || !src || !sb)
		goto bad;
	if (strchr(fs, '.'))
		*strchr(fs, '.') = '\0';	/* fuse.sshfs: the type, not its subtype */
	e->fstype = mnt_fs_by_name(fs) ? mnt_fs_by_name(fs)->code : FSTYPE__UNSUPPORTED;
	*type = strdup(fs);	/* for messages: CRIU keeps no name but for "auto" */
	e->has_shared_id = e->has_master_id = e->has_sb_flags = true;
	unescape(f[3]);
	unescape(f[4]);
	unescape(src);
	e->root = strdup(f[3]);
	e->mountpoint = strdup(f[4]);
	e->source = strdup(src);
	e->options = malloc(strlen(sb) + 1);
	if (!e->root || !e->mountpoint || !e->source || !e->options || !*type) {
		entry_free(e);
		free(*type);
		return -ENOMEM;
	}
	e->sb_flags = opt_flags(sb, sb_opts, sizeof(sb_opts) / sizeof(sb_opts[0]), e->options);
	if (!ids_inside(e)) {
		entry_free(e);
		free(*type);
		return -ENOMEM;
	}
	if (strlen(e->root) > 9 && !strcmp(e->root + strlen(e->root) - 9, "//deleted")) {
		e->root[strlen(e->root) - 9] = '\0';
		e->has_deleted = e->deleted = true;
	}
	*out = e;
	return 0;
bad:
	free(e);
	return -EINVAL;
}

static void tree_free(struct tree *t)
{
	for (size_t i = 0; i < t->n; i++) {
		if (t->m[i].e)
			entry_free(t->m[i].e);
		free(t->m[i].type);
	}
	free(t->m);
	t->m = NULL;
	t->n = 0;
}


/* --skip-mnt PATH: that mount point is left out of the dump, as CRIU does. */
static bool skipped(const struct opts *o, const char *mountpoint)
{
	size_t n;

	for (size_t i = 0; o && i < o->nr_skip_mnts; i++) {
		n = strlen(o->skip_mnts[i]);
		while (n > 1 && o->skip_mnts[i][n - 1] == '/')
			n--;
		if (!strncmp(o->skip_mnts[i], mountpoint, n) && !mountpoint[n])
			return true;
	}
	return false;
}

/* --enable-fs FS[,FS...] or all: a file system stasis does not know, mounted anew. */
static bool enabled(const struct opts *o, const char *fs)
{
	size_t n = strlen(fs);

	for (size_t i = 0; o && i < o->nr_enable_fs; i++) {
		for (const char *p = o->enable_fs[i]; *p; p += strcspn(p, ",") + !!p[strcspn(p, ",")]) {
			size_t len = strcspn(p, ",");

			if ((len == 3 && !strncmp(p, "all", 3)) || (len == n && !strncmp(p, fs, n)))
				return true;
		}
	}
	return false;
}

/*
 * A mount of the tree as the options say: 1 when --skip-mnt leaves it
 * out; an unknown file system --enable-fs names becomes CRIU's "auto".
 */
static int mount_opts(const struct opts *o, MntEntry *e, const char *type)
{
	if (skipped(o, e->mountpoint)) {
		pr_info("--skip-mnt: mount %u (%s on %s) left out", e->mnt_id, type, e->mountpoint);
		return 1;
	}
	if (e->fstype != FSTYPE__UNSUPPORTED || !enabled(o, type))
		return 0;
	e->fstype = FSTYPE__AUTO;
	e->fsname = strdup(type);
	if (!e->fsname)
		return -ENOMEM;
	pr_info("--enable-fs: mount %u (%s on %s) is made anew at restore", e->mnt_id, type,
		e->mountpoint);
	return 0;
}

/* The root task's mounts, as it sees them (@o: the dump's options, or NULL). */
static int read_mountinfo(pid_t pid, struct tree *t, const struct opts *o)
{
	char path[64], *line = NULL;
	size_t len = 0;
	int ret = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/mountinfo", pid);
	f = fopen(path, "re");
	if (!f) {
		pr_perror("cannot read %s", path);
		return -errno;
	}
	while (!ret && getline(&line, &len, f) > 0) {
		MntEntry *e = NULL;
		char *type = NULL;

		ret = parse_line(line, &e, &type);
		ret = ret ?: mount_opts(o, e, type);
		if (ret == 1) {
			entry_free(e);
			free(type);
			ret = 0;
			continue;
		}
		ret = ret ?: mnt_tree_add(t, e);
		if (ret == -EINVAL)
			pr_err("%s: cannot read the line \"%s\"", path, line);
		if (ret && e) {
			entry_free(e);
			free(type);
		} else if (!ret) {
			t->m[t->n - 1].type = type;
		}
	}
	free(line);
	fclose(f);
	return ret;
}

/* --external mnt[MOUNTPOINT]:KEY names the mounts that come from outside. */
static int mark_external(struct tree *t, const struct opts *o)
{
	for (size_t i = 0; o && i < o->nr_externals; i++) {
		const char *x = o->externals[i], *end = strstr(x, "]:");
		struct mnt *m = NULL;

		if (strncmp(x, "mnt[", 4) || !end)
			continue;
		if (end == x + 4) {
			pr_err("unsupported: --external %s (external mounts found by stasis itself)", x);
			return -ENOTSUP;
		}
		/* A mount point of the root task's namespace, as CRIU reads it. */
		for (size_t j = 0; j < t->n; j++)
			if (!t->m[j].ns && strlen(t->m[j].e->mountpoint) == (size_t)(end - x - 4) &&
			    !strncmp(t->m[j].e->mountpoint, x + 4, end - x - 4))
				m = &t->m[j];
		if (!m) {
			pr_warn("--external %s: no such mount in the tree", x);
			continue;
		}
		m->e->ext_key = strdup(end + 2);
		if (!m->e->ext_key)
			return -ENOMEM;
	}
	return 0;
}

/*
 * The mount of stasis's own namespace that tree mount @m is a bind of (same
 * superblock, a root that holds @m's), the one sharing with it first: NULL
 * if none.
 */
static const struct mnt *outside_match(const struct tree *own, const MntEntry *m)
{
	const struct mnt *best = NULL;

	for (size_t i = 0; i < own->n; i++) {
		const MntEntry *o = own->m[i].e;

		if (o->root_dev != m->root_dev || o->fstype != m->fstype ||
		    strcmp(o->source, m->source) || !mnt_under(o->root, m->root))
			continue;
		best = &own->m[i];
		if (((m->flags & MS_SHARED) && o->shared_id == m->shared_id) ||
		    ((m->flags & MS_SLAVE) && o->shared_id == m->master_id))
			break;
	}
	return best;
}

/* Tree mount @m, a bind of @o outside: external, made again from @o's path, as CRIU keeps it. */
static int auto_one(const struct opts *opts, struct mnt *m, const MntEntry *o)
{
	const char *rest = mnt_under(o->root, m->e->root);
	char *src;

	if ((m->e->flags & MS_SHARED) && !opts->ext_sharing)
		return 0;
	if ((m->e->flags & MS_SLAVE) &&
	    (!opts->ext_masters || (m->e->master_id != o->shared_id && m->e->master_id != o->master_id)))
		return 0;
	if (asprintf(&src, "%s%s%s", o->mountpoint, *rest && strcmp(o->mountpoint, "/") ? "/" : "",
		     rest) < 0)
		return -ENOMEM;
	m->e->ext_key = strdup(MNT_AUTO_KEY);
	if (!m->e->ext_key) {
		free(src);
		return -ENOMEM;
	}
	free(m->e->source);
	m->e->source = src;
	pr_info("mount %u (%s): external, a bind of %s outside", m->e->mnt_id, m->e->mountpoint,
		src);
	return 0;
}

static void tree_free(struct tree *t);

/*
 * --external mnt[] (or --ext-mount-map auto): each mount of the tree that
 * is a bind of a mount of stasis's own namespace is external, its path
 * there kept in its source; shared or a slave only with
 * --enable-external-sharing or -masters, as CRIU decides.
 */
static int auto_external(struct tree *t, const struct opts *opts)
{
	struct tree own = { 0 };
	int ret;

	if (!opts || !opts->ext_mnt_auto)
		return 0;
	ret = read_mountinfo(getpid(), &own, NULL);
	for (size_t i = 0; !ret && i < t->n; i++) {
		struct mnt *m = &t->m[i];
		const struct mnt *o;

		if (m->e->ext_key || !strcmp(m->e->mountpoint, "/"))
			continue;
		o = outside_match(&own, m->e);
		if (o)
			ret = auto_one(opts, m, o->e);
	}
	tree_free(&own);
	return ret;
}

struct reach {
	pid_t pid;		/* the root task */
	const MntEntry *e;	/* the tmpfs mount */
};

/* /proc/self/@name, through @self (a /proc of stasis's pid namespace), or NULL. */
static FILE *self_file(int self, const char *name)
{
	int fd = openat(self, name, O_RDONLY | O_CLOEXEC);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "r");

	if (fd >= 0 && !f)
		close(fd);
	return f;
}

/* The root and mount point (unescaped) of the mount @fd is on, from @self's mountinfo; 0, -1. */
static int fd_mount(int self, int fd, char *root, char *mp)
{
	char name[32], line[2 * PATH_MAX + 256];
	int id = -1, mid, ret = -1;
	FILE *f;

	snprintf(name, sizeof(name), "fdinfo/%d", fd);
	f = self_file(self, name);
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "mnt_id: %d", &id) == 1)
			break;
	if (f)
		fclose(f);
	f = self_file(self, "mountinfo");
	while (f && id >= 0 && ret && fgets(line, sizeof(line), f))
		if (sscanf(line, "%d %*d %*s %4095s %4095s", &mid, root, mp) == 3 && mid == id)
			ret = 0;
	if (f)
		fclose(f);
	if (!ret) {
		unescape(root);
		unescape(mp);
	}
	return ret;
}

/*
 * In a private copy of the tree's mounts: take off the mount that @fd
 * (opened at the tmpfs's mount point, but not on it) landed in, which
 * covers the tmpfs there or above.  0, or -1.
 */
static int uncover(int self, int fd, const MntEntry *e)
{
	char root[PATH_MAX], mp[PATH_MAX] = "";

	if (fd_mount(self, fd, root, mp))
		mp[0] = '\0';
	if (!mp[0]) {
		pr_err("mount %u: cannot find what covers %s", e->mnt_id, e->mountpoint);
		return -1;
	}
	if (umount2(mp, MNT_DETACH)) {
		pr_perror("mount %u: cannot uncover %s (take %s off)", e->mnt_id, e->mountpoint, mp);
		return -1;
	}
	return 0;
}

/* The deepest directory above @path that is there, open; -1 (ENOENT) when that is /. */
static int open_deepest(const char *path)
{
	char dir[PATH_MAX], *slash;
	int fd = -1;

	snprintf(dir, sizeof(dir), "%s", path);
	while (fd < 0 && (slash = strrchr(dir, '/')) && slash != dir) {
		*slash = '\0';
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd < 0)
		errno = ENOENT;
	return fd;
}

static int make_private(void)
{
	return unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ? -1 : 0;
}

static bool other_userns(pid_t pid)
{
	struct stat a, b;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/user", pid);
	return !stat(path, &a) && !stat("/proc/self/ns/user", &b) && a.st_ino != b.st_ino;
}

/*
 * In a private copy of the tree's mounts: a detached copy of tmpfs mount
 * @r alone, what covers it (or a directory above it) taken off first.
 * The copy's fd, or -1.
 */
static int clone_mount(int self, const struct reach *r)
{
	const char *mp = r->e->mountpoint;
	char root[PATH_MAX], dir[PATH_MAX];
	struct stat st;
	int fd = -1, copy;

	for (int i = 0; i < 64; i++) {
		fd = open(mp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		/* A mount over a directory above it hides the path: take that one off. */
		if (fd < 0 && errno == ENOENT)
			fd = open_deepest(mp);
		if (fd < 0) {
			pr_perror("mount %u: cannot open %s", r->e->mnt_id, mp);
			return -1;
		}
		/* Its superblock, and its root: a bind of a part of it may be over it. */
		if (!fstat(fd, &st) && KDEV(major(st.st_dev), minor(st.st_dev)) == r->e->root_dev &&
		    !fd_mount(self, fd, root, dir) && !strcmp(root, r->e->root))
			break;
		if (uncover(self, fd, r->e))
			return -1;
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		return -1;
	copy = open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	if (copy < 0)
		pr_perror("mount %u: cannot copy %s", r->e->mnt_id, mp);
	close(fd);
	return copy;
}

/* The mount namespace of @pid, open; -1 with errno. */
static int open_mntns(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", pid);
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* Enter mount namespace @ns and make a private copy of it; 0, or -1. */
static int enter_private(int ns)
{
	int ret = ns < 0 || setns(ns, CLONE_NEWNS) || make_private() ? -1 : 0;

	if (ns >= 0)
		close(ns);
	return ret;
}

/*
 * For a tree in a user namespace of its own: the private copy must belong
 * to that namespace, since one made from outside it locks its mounts
 * together (none taken off or cloned alone).  Nothing brings a process
 * that entered it back to stasis's mount namespace, where tar runs: a
 * child enters it, makes the copy and sends the detached mount back.
 */
static int reach_in_userns(const struct reach *r)
{
	int sk[2], self, ns, copy, status;
	pid_t pid;

	/* Seqpacket: the child's end closing ends our wait for the fd. */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sk)) {
		pr_perror("mount %u: cannot make a socket pair", r->e->mnt_id);
		return -1;
	}
	pid = fork();
	if (!pid) {
		close(sk[0]);
		/* Opened first: from inside the user namespace /proc may refuse them. */
		self = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
		ns = open_mntns(r->pid);
		if (self < 0 || ns < 0 || userns_enter_as_root() || enter_private(ns)) {
			pr_perror("mount %u: cannot enter the tree's mounts", r->e->mnt_id);
			_exit(1);
		}
		copy = clone_mount(self, r);
		_exit(copy < 0 || sk_send_fd(sk[1], copy) ? 1 : 0);
	}
	close(sk[1]);
	copy = pid < 0 ? -1 : sk_recv_fd(sk[0]);
	close(sk[0]);
	if (pid < 0)
		pr_perror("mount %u: cannot fork", r->e->mnt_id);
	while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return copy;
}

/*
 * In tar's process: a copy of tmpfs mount @arg alone, without the mounts
 * below it (they hide files of its own) nor over it.  The process moves
 * into a private copy of the tree's mount namespace, where it may take
 * off what covers the mount and clone an unbindable one without the tree
 * seeing, then goes back to stasis's with the copy.
 */
static int reach_mount(const void *arg)
{
	const struct reach *r = arg;
	int own, self, copy;

	if (other_userns(r->pid))
		return reach_in_userns(r);
	own = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	self = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (own < 0 || self < 0 || enter_private(open_mntns(r->pid))) {
		pr_perror("mount %u: cannot enter the tree's mounts", r->e->mnt_id);
		return -1;
	}
	copy = clone_mount(self, r);
	/* The copy is an fd: tar runs from stasis's own files, not the tree's. */
	if (copy >= 0 && setns(own, CLONE_NEWNS)) {
		pr_perror("mount %u: cannot return to stasis's mount namespace", r->e->mnt_id);
		return -1;
	}
	return copy;
}

/* The contents of tmpfs mount @m, as CRIU's tar would make them. */
static int tar_dump(struct dump_ctx *ctx, pid_t pid, const struct mnt *m)
{
	static char *const argv[] = {
		"tar", "--create", "--gzip", "--no-unquote", "--no-wildcards", "--one-file-system",
		"--check-links", "--preserve-permissions", "--sparse", "--numeric-owner",
		"--directory", ".", ".", NULL,
	};
	const struct reach r = { .pid = pid, .e = m->e };
	int img, null, ret;
	char name[64];

	snprintf(name, sizeof(name), "tmpfs-dev-%u.tar.gz.img", m->e->root_dev);
	img = img_openat(ctx->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC);
	if (img < 0)
		return img;
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ret = null < 0 ? -errno : mnt_run_tar(reach_mount, &r, null, img, argv);
	if (!ret)
		pr_info("mount %u (%s): tmpfs contents in %s", m->e->mnt_id, m->e->mountpoint,
			name);
	if (null >= 0)
		close(null);
	close(img);
	return ret;
}

/* The next mount namespace of the tree after @after (by id, not @root's): its id and a task in it. */
static uint32_t next_ns(struct dump_ctx *ctx, uint32_t root, uint32_t after, pid_t *pid)
{
	uint32_t best = 0;

	for (size_t i = 0; i < ctx->nr_tasks; i++) {
		uint32_t its;

		if (ctx->tasks[i].ct->state == COMPEL_TASK_ZOMBIE)
			continue;	/* a zombie has no namespaces left */
		its = pstree_ns_id(ctx->tasks[i].pid, "mnt");
		if (its != root && its > after && (!best || its <= best)) {
			if (its != best)
				*pid = ctx->tasks[i].pid;
			best = its;
		}
	}
	return best;
}

/*
 * Every mount namespace of the tree, the root's (@id) first, then the
 * others by id, each read from the mountinfo of a task in it.
 */
static int read_namespaces(struct dump_ctx *ctx, uint32_t id, struct tree *t)
{
	pid_t pid = ctx->tasks[0].pid;
	int ret = 0;

	for (uint32_t ns = id; !ret && ns; ns = next_ns(ctx, id, t->nr_ns > 1 ? ns : 0, &pid)) {
		if (ns != id)
			pr_info("pid %d is in another mount namespace (%u) than the root's (%u)",
				pid, ns, id);
		ret = mnt_tree_ns(t, ns);
		if (!ret)
			t->ns[t->nr_ns - 1].pid = pid;
		ret = ret ?: read_mountinfo(pid, t, ctx->opts);
	}
	return ret;
}

int mnt_dump(struct dump_ctx *ctx, uint32_t id)
{
	struct tree t = { 0 };
	int ret;

	ret = read_namespaces(ctx, id, &t) ?: mark_external(&t, ctx->opts) ?:
	      auto_external(&t, ctx->opts) ?:
	      mnt_plan(&t, ctx->opts, true);
	for (size_t i = 1; !ret && i < t.n; i++) {
		const struct fs_kind *fs = mnt_fs_by_code(t.m[i].e->fstype);

		if (!t.m[i].src && !t.m[i].ext_src && !t.m[i].e->ext_key && fs &&
		    fs->how == FS_TAR)
			ret = tar_dump(ctx, t.ns[t.m[i].ns].pid, &t.m[i]);
	}
	for (size_t k = 0; !ret && k < t.nr_ns; k++) {
		struct img *img = NULL;

		ret = img_open(&img, ctx->dirfd, IMG_MNTS, t.ns[k].id, O_WRONLY);
		for (size_t i = 0; !ret && i < t.n; i++) {
			if (t.m[i].ns != k)
				continue;
			pr_info("mount namespace %u: mount %u on %s (%#x:%s, parent %u)", t.ns[k].id,
				t.m[i].e->mnt_id, t.m[i].e->mountpoint, t.m[i].e->root_dev,
				t.m[i].e->root, t.m[i].e->parent_mnt_id);
			ret = img_write_msg(img, &t.m[i].e->base);
		}
		if (img)
			ret = img_close(img) ?: ret;
	}
	tree_free(&t);
	return ret;
}
