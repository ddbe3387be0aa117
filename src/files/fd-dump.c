/*
 * fd-dump.c - the open files of a task at dump: its descriptors, and the
 * regular files its cwd, root, exe and mappings name.
 *
 * Each descriptor is taken into stasis with pidfd_getfd(), which gives us
 * the very same struct file, so everything is read from our copy: stat,
 * statfs, owner, pipe contents.  Position and status flags come from
 * /proc/PID/fdinfo/N, as the task's own fcntl() would see them.  The
 * first kind of the table (kinds.c) that claims the file dumps it.
 *
 * files.img holds one entry per open file description, however many fds
 * in however many tasks point at it; fdinfo-<files_id>.img maps each fd
 * of a table to an entry.  Two fds are the same description when kcmp()
 * says so; only fds on the same inode are asked.
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/kcmp.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "files/files.h"
#include "files/kind.h"
#include "fdinfo.pb-c.h"
#include "fs.pb-c.h"
#include "log.h"
#include "ns/ns.h"

#ifndef F_GETOWNER_UIDS
#define F_GETOWNER_UIDS	17	/* asm-generic/fcntl.h; glibc lacks it */
#endif

struct seen_file {
	pid_t pid;
	int fd;
	dev_t dev;
	ino_t ino;
	int type;		/* FD_TYPES__* */
	uint32_t id;
};

/* A files.img entry made by files_dump_path(). */
struct path_file {
	dev_t dev;
	ino_t ino;
	uint32_t flags;
	uint32_t id;
};

struct files_priv *files_priv(struct dump_ctx *ctx)
{
	struct files_priv *priv = ctx->files_priv;

	if (priv)
		return priv;
	priv = calloc(1, sizeof(*priv));
	if (!priv) {
		pr_err("out of memory");
		return NULL;
	}
	priv->pipes.type = IMG_PIPES_DATA;
	priv->fifos.type = IMG_FIFO_DATA;
	ctx->files_priv = priv;
	return priv;
}

/* readlink() of @path, or of @name in @dirfd when that is open, into a fresh string. */
static int read_link(int dirfd, const char *name, const char *path, char **out)
{
	char buf[PATH_MAX + 1];
	ssize_t n;

	n = dirfd >= 0 ? readlinkat(dirfd, name, buf, sizeof(buf)) :
			 readlink(path, buf, sizeof(buf));
	if (n < 0) {
		pr_perror("%s: cannot read link", path);
		return -errno;
	}
	if ((size_t)n >= sizeof(buf)) {
		pr_err("%s: link target too long", path);
		return -ENAMETOOLONG;
	}
	buf[n] = '\0';
	*out = strdup(buf);
	if (!*out) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	return 0;
}

static int stat_lfd(struct file_parms *p)
{
	struct statfs sfs;

	if (fstat(p->lfd, &p->st) || fstatfs(p->lfd, &sfs)) {
		pr_perror("pid %d: cannot stat %s", p->pid, p->link);
		return -errno;
	}
	p->fs_type = sfs.f_type;
	return 0;
}

/*
 * Who gets SIGIO for the file (F_SETOWN).  The owner belongs to the file,
 * not the fd, so our copy tells.  O_PATH files have none.
 */
static int read_fown(struct file_parms *p)
{
	struct f_owner_ex owner;
	uint32_t uids[2];
	int sig;

	fown_entry__init(&p->fown);
	if (p->flags & O_PATH)
		return 0;
	sig = fcntl(p->lfd, F_GETSIG);
	if (sig < 0 || fcntl(p->lfd, F_GETOWN_EX, &owner)) {
		pr_perror("pid %d fd %d: cannot read the owner", p->pid, p->fd);
		return -errno;
	}
	p->fown.signum = sig;
	if (!owner.pid)
		return 0;
	if (fcntl(p->lfd, F_GETOWNER_UIDS, uids)) {
		pr_perror("pid %d fd %d: cannot read the owner's uids", p->pid, p->fd);
		return -errno;
	}
	/* As stasis sees them; the image has the tree's, which CRIU 4.2 takes on to set the owner. */
	p->fown.uid = userns_dump_uid(uids[0]);
	p->fown.euid = userns_dump_uid(uids[1]);
	p->fown.pid_type = owner.type;
	p->fown.pid = owner.pid;
	return 0;
}

static void parms_release(struct file_parms *p)
{
	if (p->lfd >= 0)
		close(p->lfd);
	p->lfd = -1;
	free(p->link);
	p->link = NULL;
}

/*
 * A task's handles for reading its fds: its pidfd and, for a whole table,
 * its /proc fd and fdinfo directories held open, so that each fd's link
 * and fdinfo are found from there (a directory of -1: by the whole path,
 * as for a single fd, where opening them would cost more than it saves).
 */
struct task_fds {
	pid_t pid;
	int pidfd, fd_dir, info_dir;
};

static int task_fds_open(struct task_fds *tf, pid_t pid, bool table)
{
	char path[64];

	tf->pid = pid;
	tf->fd_dir = tf->info_dir = -1;
	tf->pidfd = pidfd_open(pid, 0);
	if (tf->pidfd < 0) {
		pr_perror("pid %d: pidfd_open", pid);
		return -errno;
	}
	if (!table)
		return 0;
	/* Without them (an odd /proc) the paths still serve. */
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	tf->fd_dir = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/fdinfo", pid);
	tf->info_dir = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return 0;
}

static void task_fds_close(struct task_fds *tf)
{
	if (tf->info_dir >= 0)
		close(tf->info_dir);
	if (tf->fd_dir >= 0)
		close(tf->fd_dir);
	close(tf->pidfd);
}

/* Take fd @fd of the task into stasis and learn what it is. */
static int fd_parms_fill(struct file_parms *p, const struct task_fds *tf, int fd,
			 uint32_t *fd_flags)
{
	char path[64], name[16], fdinfo[4096];
	pid_t pid = tf->pid;
	uint64_t pos, flags;
	int ret;

	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->fd = fd;
	p->lfd = pidfd_getfd(tf->pidfd, fd, 0);
	if (p->lfd < 0) {
		pr_perror("pid %d fd %d: pidfd_getfd", pid, fd);
		return -errno;
	}
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	snprintf(name, sizeof(name), "%d", fd);
	ret = read_link(tf->fd_dir, name, path, &p->link);
	if (!ret)
		ret = stat_lfd(p);
	if (!ret)
		ret = files_read_fdinfo_at(tf->info_dir, pid, fd, fdinfo, sizeof(fdinfo));
	if (!ret)
		ret = files_fdinfo_u64(fdinfo, "pos", 10, &pos, pid, fd);
	if (!ret)
		ret = files_fdinfo_u64(fdinfo, "flags", 8, &flags, pid, fd);
	if (ret)
		return ret;
	p->pos = pos;
	p->has_locks = strstr(fdinfo, "\nlock:") != NULL;
	/* /proc shows FD_CLOEXEC as O_CLOEXEC; it belongs to the fd, not the file. */
	*fd_flags = (flags & O_CLOEXEC) ? FD_CLOEXEC : 0;
	p->flags = flags & ~O_CLOEXEC;
	return read_fown(p);
}

/* What a kind of file no table entry claims is, in words, by its /proc link. */
static const char *unsupported_what(const char *link)
{
	static const struct {
		const char *prefix, *what;
	} names[] = {
		{ "socket:[", "a socket" },
		{ "anon_inode:[io_uring]", "an io_uring" },
		{ "anon_inode:[userfaultfd]", "a userfaultfd" },
		{ "anon_inode:[perf_event]", "a perf event" },
		{ "anon_inode:bpf", "a BPF object" },
		{ "anon_inode:[memfd_secret]", "a secret memory area" },
		{ "anon_inode:kvm", "a KVM object" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strncmp(link, names[i].prefix, strlen(names[i].prefix)))
			return names[i].what;
	return NULL;
}

static int unsupported(const struct file_parms *p)
{
	const char *what = unsupported_what(p->link);

	if (what)
		pr_err("unsupported: pid %d fd %d is %s (%s)", p->pid, p->fd, what, p->link);
	else
		pr_err("unsupported: pid %d fd %d is %s", p->pid, p->fd, p->link);
	return -ENOTSUP;
}

/* The device of memfds and shared anonymous memory: that of a memfd of ours. */
static int shmem_dev(struct files_priv *priv, dev_t *dev)
{
	struct stat st;
	int fd;

	if (!priv->shmem_dev_known) {
		fd = memfd_create("stasis-shmem-probe", MFD_CLOEXEC);
		if (fd < 0 || fstat(fd, &st)) {
			int err = -errno;

			pr_perror("cannot find the shmem device");
			if (fd >= 0)
				close(fd);
			return err;
		}
		close(fd);
		priv->shmem_dev = st.st_dev;
		priv->shmem_dev_known = true;
	}
	*dev = priv->shmem_dev;
	return 0;
}

int files_is_shmem(struct dump_ctx *ctx, const struct file_parms *p)
{
	struct files_priv *priv = files_priv(ctx);
	dev_t dev = 0;
	int ret;

	if (!priv)
		return -ENOMEM;
	if (p->fs_type == HUGETLBFS_MAGIC)
		return !strncmp(p->link, "/memfd:", 7);
	ret = shmem_dev(priv, &dev);
	if (ret)
		return ret;
	return p->st.st_dev == dev;
}

/*
 * The kind that claims @p: the first of the table (kinds.c) that does.
 * NULL when none does, or on an error (*@err).
 */
static const struct fd_kind *kind_of(struct dump_ctx *ctx, struct file_parms *p, int *err)
{
	for (size_t i = 0; i < nr_fd_kinds; i++) {
		int ret = fd_kinds[i]->match(ctx, p);

		if (ret < 0) {
			*err = ret;
			return NULL;
		}
		if (ret)
			return fd_kinds[i];
	}
	*err = unsupported(p);
	return NULL;
}

/*
 * kcmp(KCMP_FILE) orders open file descriptions: 0 the same, 1 the first
 * before the second, 2 after.  That order lets the list of seen files stay
 * sorted, so each fd costs a binary search, not a comparison with every
 * earlier fd of the same file (5000 fds on /dev/null were 6 million kcmp
 * calls that way).
 */
/* *@order: 0 the same description, -1 the first sorts before, 1 after. */
static int kcmp_file(pid_t pid1, int fd1, pid_t pid2, int fd2, int *order)
{
	long ret = syscall(SYS_kcmp, pid1, pid2, KCMP_FILE, fd1, fd2);

	if (ret < 0) {
		pr_perror("kcmp(%d fd %d, %d fd %d)", pid1, fd1, pid2, fd2);
		return -errno;
	}
	if (ret > 2) {
		pr_err("kcmp(%d fd %d, %d fd %d) cannot order them", pid1, fd1, pid2, fd2);
		return -EINVAL;
	}
	*order = ret == 0 ? 0 : ret == 1 ? -1 : 1;
	return 0;
}

/* The order of the seen list: kind, device, inode, then kcmp's order. */
static int seen_cmp_key(const struct seen_file *s, const struct file_parms *p, int type)
{
	if (s->type != type)
		return s->type < type ? -1 : 1;
	if (s->dev != p->st.st_dev)
		return s->dev < p->st.st_dev ? -1 : 1;
	if (s->ino != p->st.st_ino)
		return s->ino < p->st.st_ino ? -1 : 1;
	return 0;
}

/*
 * Binary search for @p's open file description.  Returns 1 and its id when
 * it is in files.img already, 0 when not (priv->seen_pos is then where it
 * goes), or -errno.
 */
static int seen_lookup(struct files_priv *priv, const struct file_parms *p, int type,
		       uint32_t *id)
{
	size_t lo = 0, hi = priv->nr_seen;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		struct seen_file *s = &priv->seen[mid];
		int c = seen_cmp_key(s, p, type);

		if (!c) {
			int ret = kcmp_file(s->pid, s->fd, p->pid, p->fd, &c);

			if (ret)
				return ret;
		}
		if (!c) {
			*id = s->id;
			return 1;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	priv->seen_pos = lo;
	return 0;
}

/* Insert at the place the last seen_lookup() found. */
static int seen_add(struct files_priv *priv, const struct file_parms *p, int type, uint32_t id)
{
	int ret = files_grow(&priv->seen, &priv->cap_seen, priv->nr_seen, sizeof(*priv->seen));
	size_t at = priv->seen_pos;

	if (ret)
		return ret;
	memmove(&priv->seen[at + 1], &priv->seen[at], (priv->nr_seen - at) * sizeof(*priv->seen));
	priv->seen[at] = (struct seen_file){
		.pid = p->pid, .fd = p->fd, .dev = p->st.st_dev, .ino = p->st.st_ino,
		.type = type, .id = id,
	};
	priv->nr_seen++;
	return 0;
}

/* @p's files.img entry, by its kind, once: its id in *@id. */
static int dump_kind(struct dump_ctx *ctx, struct files_priv *priv, struct file_parms *p,
		     const struct fd_kind **kind, uint32_t *id)
{
	int ret = 0;

	*kind = kind_of(ctx, p, &ret);
	if (!*kind)
		return ret;
	ret = seen_lookup(priv, p, (*kind)->type, id);
	if (ret < 0)
		return ret;
	if (ret) {
		pr_debug("pid %d fd %d: %s, shares id %u", p->pid, p->fd, p->link, *id);
		return 0;
	}
	*id = dump_next_file_id(ctx);
	pr_debug("pid %d fd %d: %s, id %u", p->pid, p->fd, p->link, *id);
	/*
	 * Seen before it is dumped: a unix socket may be in flight in its
	 * own queue (or in a queue of one in flight there), and the peek
	 * that meets it again must find its id, not dump it twice.
	 */
	ret = seen_add(priv, p, (*kind)->type, *id);
	return ret ?: (*kind)->dump(ctx, p, *id);
}

/* @p's open file description into files.img, once: its id in *@id. */
static int dump_file(struct dump_ctx *ctx, struct files_priv *priv, struct file_parms *p,
		     const struct fd_kind **kind, uint32_t *id)
{
	int ret = 0;

	/* F_GETOWN_EX answered as stasis sees the owner; the image keeps the tree's view. */
	p->fown.pid = dump_vpid(ctx, p->fown.pid);
	/* A socket is asked about in its own net namespace. */
	if (S_ISSOCK(p->st.st_mode))
		ret = ns_net_sock_enter(p->lfd, &p->net_ns_id);
	if (ret)
		return ret;
	ret = dump_kind(ctx, priv, p, kind, id);
	ns_net_sock_leave();
	return ret;
}

/*
 * A file no task holds but one is sent (a file descriptor in flight in a
 * unix socket's queue, which a peek gave us as @lfd): dumped as a task's
 * fd would be, from our own.  @lfd stays open until the dump ends, for
 * the seen list compares later files with it.
 */
int files_dump_inflight(struct dump_ctx *ctx, int lfd, pid_t holder, uint32_t *id)
{
	struct files_priv *priv = files_priv(ctx);
	const struct fd_kind *kind;
	struct file_parms p;
	uint32_t fd_flags;
	struct task_fds tf;
	int ret;

	if (!priv || files_grow(&priv->inflight, &priv->cap_inflight, priv->nr_inflight,
				sizeof(int))) {
		close(lfd);
		return -ENOMEM;
	}
	priv->inflight[priv->nr_inflight++] = lfd;
	ret = task_fds_open(&tf, getpid(), false);
	if (ret)
		return ret;
	ret = fd_parms_fill(&p, &tf, lfd, &fd_flags);
	task_fds_close(&tf);
	p.holder = holder;
	if (!ret)
		ret = dump_file(ctx, priv, &p, &kind, id);
	parms_release(&p);
	return ret;
}

static int dump_one_fd(struct dump_ctx *ctx, struct files_priv *priv, const struct task_fds *tf,
		       int fd, struct img **fdinfo_img, uint32_t files_id)
{
	FdinfoEntry fe = FDINFO_ENTRY__INIT;
	struct file_parms p;
	const struct fd_kind *kind = NULL;
	uint32_t fd_flags = 0, id = 0;
	int ret;

	ret = fd_parms_fill(&p, tf, fd, &fd_flags);
	if (!ret)
		ret = dump_file(ctx, priv, &p, &kind, &id);
	if (ret || !kind)
		goto out;

	if (p.has_locks) {
		ret = locks_dump_fd(ctx, &p, id, files_id);
		if (ret)
			goto out;
	}
	ret = files_img_lazy(ctx, fdinfo_img, IMG_FDINFO, files_id);
	if (ret)
		goto out;
	fe.id = id;
	fe.flags = fd_flags;
	fe.type = kind->type;
	fe.fd = fd;
	ret = img_write_msg(*fdinfo_img, &fe.base);
out:
	parms_release(&p);
	return ret;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* The task's open fds, in ascending order. */
static int list_fds(pid_t pid, int **fds, size_t *nr)
{
	char path[64];
	struct dirent *de;
	size_t cap = 0;
	DIR *d;
	int ret = 0;

	*fds = NULL;
	*nr = 0;
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d) {
		pr_perror("%s: cannot open", path);
		return -errno;
	}
	while ((errno = 0, de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		ret = files_grow(fds, &cap, *nr, sizeof(**fds));
		if (ret)
			break;
		(*fds)[(*nr)++] = atoi(de->d_name);
	}
	if (!ret && errno) {
		ret = -errno;
		pr_perror("%s: cannot read", path);
	}
	closedir(d);
	if (ret) {
		free(*fds);
		*fds = NULL;
		return ret;
	}
	qsort(*fds, *nr, sizeof(**fds), cmp_int);
	return 0;
}

static int dump_fd_table(struct dump_ctx *ctx, struct files_priv *priv, struct dump_task *t)
{
	struct img *fdinfo_img = NULL;
	struct task_fds tf;
	size_t i, nr;
	int ret, err, *fds;

	pr_info("dumping the files of pid %d (files_id %u)", t->pid, t->files_id);
	ret = list_fds(t->pid, &fds, &nr);
	if (ret)
		return ret;
	ret = task_fds_open(&tf, t->pid, true);
	if (ret)
		goto out;
	for (i = 0; i < nr && !ret; i++)
		ret = dump_one_fd(ctx, priv, &tf, fds[i], &fdinfo_img, t->files_id);
	task_fds_close(&tf);
out:
	err = img_close(fdinfo_img);
	free(fds);
	return ret ? ret : err;
}

/* The lowest fd of @pid whose file is socket @ino, or -ENOENT. */
static int find_socket_fd(pid_t pid, uint64_t ino)
{
	char path[64], want[48], link[48];
	int *fds, found = -ENOENT;
	size_t nr;
	ssize_t n;

	if (list_fds(pid, &fds, &nr))
		return -EIO;
	snprintf(want, sizeof(want), "socket:[%" PRIu64 "]", ino);
	for (size_t i = 0; i < nr && found < 0; i++) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fds[i]);
		n = readlink(path, link, sizeof(link) - 1);
		if (n > 0 && (link[n] = 0, !strcmp(link, want)))
			found = fds[i];
	}
	free(fds);
	return found;
}

/*
 * The memory of a task is dumped before its fds: the socket behind a
 * mapping is dumped here first, through the fd that holds it, and the fd
 * walk later finds it seen (kcmp) and shares its id.
 */
int files_dump_socket_map(struct dump_ctx *ctx, struct dump_task *t, uint64_t ino, uint32_t *id)
{
	struct files_priv *priv = files_priv(ctx);
	const struct fd_kind *kind = NULL;
	struct file_parms p;
	uint32_t fd_flags;
	struct task_fds tf;
	int fd, ret;

	if (!priv)
		return -ENOMEM;
	fd = find_socket_fd(t->pid, ino);
	if (fd < 0) {
		pr_err("unsupported: pid %d maps socket %" PRIu64 ", which none of its fds holds",
		       t->pid, ino);
		return fd == -ENOENT ? -ENOTSUP : fd;
	}
	ret = task_fds_open(&tf, t->pid, false);
	if (ret)
		return ret;
	ret = fd_parms_fill(&p, &tf, fd, &fd_flags);
	task_fds_close(&tf);
	if (!ret)
		ret = dump_file(ctx, priv, &p, &kind, id);
	if (!ret && (!kind || kind->type != FD_TYPES__PACKETSK)) {
		pr_err("unsupported: pid %d maps socket %" PRIu64 " (fd %d), not a packet socket",
		       t->pid, ino, fd);
		ret = -ENOTSUP;
	}
	parms_release(&p);
	return ret;
}

static bool table_done(struct files_priv *priv, uint32_t files_id)
{
	size_t i;

	for (i = 0; i < priv->nr_tables; i++)
		if (priv->tables[i] == files_id)
			return true;
	return false;
}

int files_dump_task(struct dump_ctx *ctx, struct dump_task *t)
{
	struct files_priv *priv = files_priv(ctx);
	int ret;

	if (!priv)
		return -ENOMEM;
	/* Tasks sharing a table (CLONE_FILES) have one fdinfo image. */
	if (!table_done(priv, t->files_id)) {
		ret = dump_fd_table(ctx, priv, t);
		if (ret)
			return ret;
		ret = files_grow(&priv->tables, &priv->cap_tables, priv->nr_tables,
				 sizeof(*priv->tables));
		if (ret)
			return ret;
		priv->tables[priv->nr_tables++] = t->files_id;
	}
	return fs_dump_task(ctx, t);
}

static int path_lookup(struct files_priv *priv, const struct file_parms *p, uint32_t *id)
{
	size_t i;

	for (i = 0; i < priv->nr_paths; i++) {
		struct path_file *f = &priv->paths[i];

		if (f->dev == p->st.st_dev && f->ino == p->st.st_ino && f->flags == p->flags) {
			*id = f->id;
			return 1;
		}
	}
	return 0;
}

static int path_add(struct files_priv *priv, const struct file_parms *p, uint32_t id)
{
	int ret = files_grow(&priv->paths, &priv->cap_paths, priv->nr_paths, sizeof(*priv->paths));

	if (ret)
		return ret;
	priv->paths[priv->nr_paths++] = (struct path_file){
		.dev = p->st.st_dev, .ino = p->st.st_ino, .flags = p->flags, .id = id,
	};
	return 0;
}

/*
 * Only regular files are shared between users: CRIU gives directories and
 * devices a fresh entry each time (every task's cwd and root has its own),
 * and we keep its numbering.
 */
int files_dump_path(struct dump_ctx *ctx, struct dump_task *t, const char *link, int flags,
		    uint32_t *id)
{
	struct files_priv *priv = files_priv(ctx);
	struct file_parms p = { .pid = t->pid, .fd = -1 };
	int ret;

	if (!priv)
		return -ENOMEM;
	p.flags = flags;
	fown_entry__init(&p.fown);
	p.lfd = open(link, O_PATH | O_CLOEXEC);
	if (p.lfd < 0) {
		pr_perror("%s: cannot open", link);
		return -errno;
	}
	ret = read_link(-1, NULL, link, &p.link);
	if (!ret)
		ret = stat_lfd(&p);
	if (!ret)
		ret = files_is_shmem(ctx, &p);
	if (ret > 0) {
		pr_err("unsupported: pid %d %s is %s", t->pid, link, p.link);
		ret = -ENOTSUP;
	}
	if (ret)
		goto out;

	if (S_ISREG(p.st.st_mode) && path_lookup(priv, &p, id))
		goto out;
	*id = dump_next_file_id(ctx);
	pr_debug("pid %d %s: %s, id %u", t->pid, link, p.link, *id);
	ret = reg_dump(ctx, &p, *id);
	if (!ret && S_ISREG(p.st.st_mode))
		ret = path_add(priv, &p, *id);
out:
	parms_release(&p);
	return ret;
}

int files_dump_finish(struct dump_ctx *ctx)
{
	struct files_priv *priv = ctx->files_priv;
	int ret, err;

	if (!priv)
		return 0;
	ret = 0;
	for (size_t i = 0; !ret && i < nr_fd_kinds; i++)
		if (fd_kinds[i]->dump_finish)
			ret = fd_kinds[i]->dump_finish(ctx);
	err = pipe_data_close(&priv->pipes);
	ret = ret ? ret : err;
	err = pipe_data_close(&priv->fifos);
	ret = ret ? ret : err;
	err = img_close(priv->remap_img);
	priv->remap_img = NULL;
	ret = ret ? ret : err;
	err = img_close(priv->memfd_img);
	priv->memfd_img = NULL;
	ret = ret ? ret : err;
	err = img_close(priv->locks_img);
	priv->locks_img = NULL;
	return ret ? ret : err;
}

void files_dump_undo(struct dump_ctx *ctx)
{
	linkremap_dump_undo(ctx);
	for (size_t i = 0; i < nr_fd_kinds; i++)
		if (fd_kinds[i]->dump_undo)
			fd_kinds[i]->dump_undo(ctx);
}

void files_dump_cleanup(struct dump_ctx *ctx)
{
	struct files_priv *priv = ctx->files_priv;

	if (!priv)
		return;
	for (size_t i = 0; i < nr_fd_kinds; i++)
		if (fd_kinds[i]->dump_cleanup)
			fd_kinds[i]->dump_cleanup(ctx);
	pipe_data_close(&priv->pipes);
	pipe_data_close(&priv->fifos);
	img_close(priv->remap_img);
	img_close(priv->memfd_img);
	locks_dump_cleanup(priv);
	free(priv->memfds);
	free(priv->dead_pids);
	linkremap_dump_cleanup(priv);
	files_ns_roots_drop();
	for (size_t i = 0; i < priv->nr_inflight; i++)
		close(priv->inflight[i]);
	free(priv->inflight);
	free(priv->pipes.ids);
	free(priv->fifos.ids);
	free(priv->seen);
	free(priv->paths);
	free(priv->tables);
	free(priv->ghosts);
	free(priv);
	ctx->files_priv = NULL;
}

