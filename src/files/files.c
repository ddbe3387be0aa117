/*
 * files.c - the open files of a task: its descriptors, cwd and root.
 *
 * Each descriptor is taken into stasis with pidfd_getfd(), which gives us
 * the very same struct file, so everything is read from our copy: stat,
 * statfs, owner, pipe contents.  Position and status flags come from
 * /proc/PID/fdinfo/N, as the task's own fcntl() would see them.
 *
 * files.img holds one entry per open file description, however many fds
 * in however many tasks point at it; fdinfo-<files_id>.img maps each fd
 * of a table to an entry.  Two fds are the same description when kcmp()
 * says so; only fds on the same inode are asked.
 *
 * Restore reads those images back: the controller opens every entry a
 * task uses once, in the pool (restore.h), through its kind; each
 * restored task then dups the pool fds to its own numbers, drops what it
 * inherited and did not have, and takes its cwd, root and umask.
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
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
#include "fdinfo.pb-c.h"
#include "fs.pb-c.h"
#include "log.h"

#ifndef F_GETOWNER_UIDS
#define F_GETOWNER_UIDS	17	/* asm-generic/fcntl.h; glibc lacks it */
#endif

#ifndef PID_FS_MAGIC
#define PID_FS_MAGIC	0x50494446
#endif

#define MEM_MAJOR	1
#define KMSG_MINOR	11
#define MISC_MAJOR	10
#define AUTOFS_MINOR	235

/* An open file description already in files.img, and one fd that reaches it. */
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

int files_grow(void *arr, size_t *cap, size_t nr, size_t size)
{
	void **p = arr;
	size_t ncap;
	void *n;

	if (nr < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	n = realloc(*p, ncap * size);
	if (!n) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	*p = n;
	*cap = ncap;
	return 0;
}

/* CRIU creates an image only when something goes into it; so do we. */
int files_img_lazy(struct dump_ctx *ctx, struct img **img, enum img_type type, unsigned long id)
{
	if (*img)
		return 0;
	return img_open(img, ctx->dirfd, type, id, O_WRONLY);
}

int files_read_fdinfo(pid_t pid, int fd, char *buf, size_t size)
{
	char path[64];
	size_t len = 0;
	ssize_t n;
	int pfd, err;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	pfd = open(path, O_RDONLY | O_CLOEXEC);
	if (pfd < 0) {
		err = errno;
		pr_perror("%s: cannot open", path);
		return -err;
	}
	/* /proc hands it out a page at a time: epoll and inotify need more. */
	while (len < size - 1) {
		n = read(pfd, buf + len, size - 1 - len);
		if (n < 0) {
			err = errno;
			pr_perror("%s: cannot read", path);
			close(pfd);
			return -err;
		}
		if (!n)
			break;
		len += n;
	}
	close(pfd);
	buf[len] = '\0';
	return 0;
}

const char *files_fdinfo_field(const char *fdinfo, const char *key)
{
	size_t klen = strlen(key);
	const char *line = fdinfo;

	while (line && *line) {
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			line += klen + 1;
			while (*line == ' ' || *line == '\t')
				line++;
			return line;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return NULL;
}

static int fdinfo_u64(const char *fdinfo, const char *key, int base, uint64_t *val,
		      pid_t pid, int fd)
{
	const char *v = files_fdinfo_field(fdinfo, key);
	char *end;

	if (!v) {
		pr_err("/proc/%d/fdinfo/%d: no %s", pid, fd, key);
		return -EINVAL;
	}
	errno = 0;
	*val = strtoull(v, &end, base);
	if (errno || end == v) {
		pr_err("/proc/%d/fdinfo/%d: bad %s", pid, fd, key);
		return -EINVAL;
	}
	return 0;
}

/* readlink() of @path into a fresh string. */
static int read_link(const char *path, char **out)
{
	char buf[PATH_MAX + 1];
	ssize_t n;

	n = readlink(path, buf, sizeof(buf));
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
	p->fown.uid = uids[0];
	p->fown.euid = uids[1];
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

/* Take fd @fd of the task into stasis and learn what it is. */
static int fd_parms_fill(struct file_parms *p, int pidfd, pid_t pid, int fd, uint32_t *fd_flags)
{
	char path[64], fdinfo[4096];
	uint64_t pos, flags;
	int ret;

	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->fd = fd;
	p->lfd = pidfd_getfd(pidfd, fd, 0);
	if (p->lfd < 0) {
		pr_perror("pid %d fd %d: pidfd_getfd", pid, fd);
		return -errno;
	}
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	ret = read_link(path, &p->link);
	if (!ret)
		ret = stat_lfd(p);
	if (!ret)
		ret = files_read_fdinfo(pid, fd, fdinfo, sizeof(fdinfo));
	if (!ret)
		ret = fdinfo_u64(fdinfo, "pos", 10, &pos, pid, fd);
	if (!ret)
		ret = fdinfo_u64(fdinfo, "flags", 8, &flags, pid, fd);
	if (ret)
		return ret;
	p->pos = pos;
	/* /proc shows FD_CLOEXEC as O_CLOEXEC; it belongs to the fd, not the file. */
	*fd_flags = (flags & O_CLOEXEC) ? FD_CLOEXEC : 0;
	p->flags = flags & ~O_CLOEXEC;
	return read_fown(p);
}

static int unsupported(const struct file_parms *p)
{
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
			pr_perror("cannot find the shmem device");
			if (fd >= 0)
				close(fd);
			return -errno;
		}
		close(fd);
		priv->shmem_dev = st.st_dev;
		priv->shmem_dev_known = true;
	}
	*dev = priv->shmem_dev;
	return 0;
}

/*
 * memfds, SysV shm and MAP_SHARED|MAP_ANONYMOUS memory look like unlinked
 * files ("/memfd:x (deleted)"); as ghost files they would come back as
 * plain files, so they must never reach reg.c.
 */
static int is_shmem(struct files_priv *priv, const struct file_parms *p)
{
	dev_t dev = 0;
	int ret;

	if (p->fs_type == HUGETLBFS_MAGIC)
		return !strncmp(p->link, "/memfd:", 7);
	ret = shmem_dev(priv, &dev);
	if (ret)
		return ret;
	return p->st.st_dev == dev;
}

static int chrdev_kind(struct file_parms *p)
{
	unsigned int maj = major(p->st.st_rdev), min = minor(p->st.st_rdev);

	if (maj == MEM_MAJOR) {
		/* The kernel refuses to seek /dev/kmsg opened for writing: no position. */
		if (min == KMSG_MINOR && (p->flags & O_ACCMODE) == O_WRONLY && !p->pos)
			p->pos = -1ULL;
		return FD_TYPES__REG;
	}
	if (maj == MISC_MAJOR && min == AUTOFS_MINOR)
		return FD_TYPES__REG;
	/* tty.c decides whether a terminal can be dumped, and says why not. */
	if (tty_is_tty(p))
		return FD_TYPES__TTY;
	return unsupported(p);
}

/* Which kind of file the fd is (FD_TYPES__*), or -ENOTSUP. */
static int fd_kind(struct files_priv *priv, struct file_parms *p)
{
	mode_t m = p->st.st_mode;
	int ret;

	if (S_ISSOCK(m))
		return unsupported(p);
	if (S_ISCHR(m))
		return chrdev_kind(p);
	if (p->fs_type == ANON_INODE_FS_MAGIC) {
		if (!strcmp(p->link, "anon_inode:[eventfd]"))
			return FD_TYPES__EVENTFD;
		if (!strcmp(p->link, "anon_inode:[eventpoll]"))
			return FD_TYPES__EVENTPOLL;
		if (!strcmp(p->link, "anon_inode:inotify"))
			return FD_TYPES__INOTIFY;
		if (!strcmp(p->link, "anon_inode:[signalfd]"))
			return FD_TYPES__SIGNALFD;
		if (!strcmp(p->link, "anon_inode:[timerfd]"))
			return FD_TYPES__TIMERFD;
		return unsupported(p);
	}
	if (p->fs_type == NSFS_MAGIC)
		return FD_TYPES__NS;
	if (p->fs_type == PID_FS_MAGIC)
		return unsupported(p);
	if (S_ISREG(m) || S_ISDIR(m) || S_ISLNK(m)) {
		ret = is_shmem(priv, p);
		if (ret < 0)
			return ret;
		/* Any shmem file is dumped as a memfd, as CRIU does (memfd.c). */
		if (ret && S_ISREG(m))
			return FD_TYPES__MEMFD;
		if (ret || p->link[0] != '/')
			return unsupported(p);
		return FD_TYPES__REG;
	}
	if (S_ISFIFO(m))
		return p->fs_type == PIPEFS_MAGIC ? FD_TYPES__PIPE : FD_TYPES__FIFO;
	return unsupported(p);
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

static int dump_by_kind(struct dump_ctx *ctx, struct file_parms *p, int type, uint32_t id)
{
	switch (type) {
	case FD_TYPES__REG:
		return reg_dump(ctx, p, id);
	case FD_TYPES__PIPE:
		return pipe_dump(ctx, p, id);
	case FD_TYPES__FIFO:
		return fifo_dump(ctx, p, id);
	case FD_TYPES__EVENTFD:
		return eventfd_dump(ctx, p, id);
	case FD_TYPES__EVENTPOLL:
		return epoll_dump(ctx, p, id);
	case FD_TYPES__INOTIFY:
		return inotify_dump(ctx, p, id);
	case FD_TYPES__NS:
		return nsfile_dump(ctx, p, id);
	case FD_TYPES__SIGNALFD:
		return signalfd_dump(ctx, p, id);
	case FD_TYPES__TIMERFD:
		return timerfd_dump(ctx, p, id);
	case FD_TYPES__MEMFD:
		return memfd_dump(ctx, p, id);
	case FD_TYPES__TTY:
		return tty_dump(ctx, p, id);
	}
	return unsupported(p);
}

static int dump_one_fd(struct dump_ctx *ctx, struct files_priv *priv, pid_t pid, int pidfd,
		       int fd, struct img **fdinfo_img, uint32_t files_id)
{
	FdinfoEntry fe = FDINFO_ENTRY__INIT;
	struct file_parms p;
	uint32_t fd_flags = 0, id = 0;
	int type, ret;

	ret = fd_parms_fill(&p, pidfd, pid, fd, &fd_flags);
	if (ret)
		goto out;
	type = ret = fd_kind(priv, &p);
	if (ret < 0)
		goto out;
	ret = seen_lookup(priv, &p, type, &id);
	if (ret < 0)
		goto out;
	if (!ret) {
		id = dump_next_file_id(ctx);
		pr_debug("pid %d fd %d: %s, id %u", pid, fd, p.link, id);
		ret = dump_by_kind(ctx, &p, type, id);
		if (!ret)
			ret = seen_add(priv, &p, type, id);
		if (ret)
			goto out;
	} else {
		pr_debug("pid %d fd %d: %s, shares id %u", pid, fd, p.link, id);
	}

	ret = files_img_lazy(ctx, fdinfo_img, IMG_FDINFO, files_id);
	if (ret)
		goto out;
	fe.id = id;
	fe.flags = fd_flags;
	fe.type = type;
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
	size_t i, nr;
	int pidfd, ret, err, *fds;

	pr_info("dumping the files of pid %d (files_id %u)", t->pid, t->files_id);
	ret = list_fds(t->pid, &fds, &nr);
	if (ret)
		return ret;
	pidfd = pidfd_open(t->pid, 0);
	if (pidfd < 0) {
		ret = -errno;
		pr_perror("pid %d: pidfd_open", t->pid);
		goto out;
	}
	for (i = 0; i < nr && !ret; i++)
		ret = dump_one_fd(ctx, priv, t->pid, pidfd, fds[i], &fdinfo_img, t->files_id);
	close(pidfd);
out:
	err = img_close(fdinfo_img);
	free(fds);
	return ret ? ret : err;
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
	ret = read_link(link, &p.link);
	if (!ret)
		ret = stat_lfd(&p);
	if (!ret)
		ret = is_shmem(priv, &p);
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
	ret = tty_dump_finish(ctx);
	err = pipe_data_close(&priv->pipes);
	ret = ret ? ret : err;
	err = pipe_data_close(&priv->fifos);
	ret = ret ? ret : err;
	err = img_close(priv->remap_img);
	priv->remap_img = NULL;
	ret = ret ? ret : err;
	err = img_close(priv->memfd_img);
	priv->memfd_img = NULL;
	return ret ? ret : err;
}

void files_dump_cleanup(struct dump_ctx *ctx)
{
	struct files_priv *priv = ctx->files_priv;

	if (!priv)
		return;
	pipe_data_close(&priv->pipes);
	pipe_data_close(&priv->fifos);
	img_close(priv->remap_img);
	img_close(priv->memfd_img);
	tty_dump_cleanup(priv);
	free(priv->memfds);
	free(priv->dead_pids);
	linkremap_dump_cleanup(priv);
	free(priv->pipes.ids);
	free(priv->fifos.ids);
	free(priv->seen);
	free(priv->paths);
	free(priv->tables);
	free(priv->ghosts);
	free(priv);
	ctx->files_priv = NULL;
}

/* --- restore --- */

struct files_rst_priv *files_rst_priv(struct rst_ctx *ctx)
{
	struct files_rst_priv *priv = ctx->files_priv;

	if (priv)
		return priv;
	priv = calloc(1, sizeof(*priv));
	if (!priv) {
		pr_err("out of memory");
		return NULL;
	}
	priv->pipes_data.type = IMG_PIPES_DATA;
	priv->fifos_data.type = IMG_FIFO_DATA;
	ctx->files_priv = priv;
	return priv;
}

void files_msgs_free(void **msgs, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		img_free_msg(msgs[i]);
	free(msgs);
}

int files_img_read_all(struct rst_ctx *ctx, enum img_type type, unsigned long id,
		       const ProtobufCMessageDescriptor *md, void ***msgs, size_t *nr)
{
	ProtobufCMessage *msg;
	struct img *img;
	void **arr = NULL;
	size_t n = 0, cap = 0;
	int ret;

	*msgs = NULL;
	*nr = 0;
	ret = img_open(&img, ctx->dirfd, type, id, O_RDONLY);
	if (ret)
		return ret;
	while ((ret = img_read_msg(img, md, &msg)) == 1) {
		ret = files_grow(&arr, &cap, n, sizeof(*arr));
		if (ret) {
			img_free_msg(msg);
			break;
		}
		arr[n++] = msg;
	}
	img_close(img);
	if (ret < 0) {
		files_msgs_free(arr, n);
		return ret;
	}
	*msgs = arr;
	*nr = n;
	return 0;
}

int files_reopen(int fd, int flags, const char *what)
{
	char path[64];
	int nfd;

	/* O_TMPFILE carries O_DIRECTORY, which the file it made is not. */
	if ((flags & O_TMPFILE) == O_TMPFILE)
		flags &= ~O_DIRECTORY;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	nfd = open(path, rst_open_flags(flags));
	if (nfd < 0) {
		pr_perror("%s: cannot open it again with flags %#o", what, flags);
		return -errno;
	}
	return nfd;
}

static int cmp_rst_file(const void *a, const void *b)
{
	uint32_t x = ((const struct rst_file *)a)->fe->id;
	uint32_t y = ((const struct rst_file *)b)->fe->id;

	return (x > y) - (x < y);
}

struct rst_file *rst_file_by_id(struct rst_ctx *ctx, uint32_t id)
{
	size_t lo = 0, hi = ctx->nr_files;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint32_t mid_id = ctx->files[mid].fe->id;

		if (mid_id == id)
			return &ctx->files[mid];
		if (mid_id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int rst_pool_add(struct rst_ctx *ctx, int fd)
{
	int nfd, err;

	if (ctx->pool_next < ctx->pool_base)
		ctx->pool_next = ctx->pool_base;
	nfd = fcntl(fd, F_DUPFD, ctx->pool_next);
	if (nfd < 0) {
		err = errno;
		pr_perror("cannot move fd %d into the pool at %d", fd, ctx->pool_next);
		close(fd);
		return -err;
	}
	close(fd);
	ctx->pool_next = nfd + 1;
	return nfd;
}

static const char *fd_type_name(int type)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&fd_types__descriptor, type);

	return v ? v->name : "file of an unknown type";
}

typedef int (*rst_open_fn)(struct rst_ctx *ctx, struct rst_file *f);

static int open_by_kind(struct rst_ctx *ctx, struct rst_file *f)
{
	const FileEntry *fe = f->fe;
	const void *part;
	rst_open_fn fn;

	switch (fe->type) {
	case FD_TYPES__REG:
		fn = reg_restore_open;
		part = fe->reg;
		break;
	case FD_TYPES__PIPE:
		fn = pipe_restore_open;
		part = fe->pipe;
		break;
	case FD_TYPES__FIFO:
		fn = fifo_restore_open;
		part = fe->fifo;
		break;
	case FD_TYPES__EVENTFD:
		fn = eventfd_restore_open;
		part = fe->efd;
		break;
	case FD_TYPES__EVENTPOLL:
		fn = epoll_restore_open;
		part = fe->epfd;
		break;
	case FD_TYPES__INOTIFY:
		fn = inotify_restore_open;
		part = fe->ify;
		break;
	case FD_TYPES__NS:
		fn = nsfile_restore_open;
		part = fe->nsf;
		break;
	case FD_TYPES__SIGNALFD:
		fn = signalfd_restore_open;
		part = fe->sgfd;
		break;
	case FD_TYPES__TIMERFD:
		fn = timerfd_restore_open;
		part = fe->tfd;
		break;
	case FD_TYPES__MEMFD:
		fn = memfd_restore_open;
		part = fe->memfd;
		break;
	case FD_TYPES__TTY:
		fn = tty_restore_open;
		part = fe->tty;
		break;
	default:
		pr_err("unsupported: file id %u is a %s", fe->id, fd_type_name(fe->type));
		return -ENOTSUP;
	}
	if (!part) {
		pr_err("files.img: file id %u is a %s with no %s entry", fe->id,
		       fd_type_name(fe->type), fd_type_name(fe->type));
		return -EINVAL;
	}
	return fn(ctx, f);
}

/*
 * Who gets the file's signals (F_SETSIG, F_SETOWN).  A shell job's
 * terminal is the controller's own, so it is left as it is.
 */
static const FownEntry *file_fown(struct rst_ctx *ctx, const FileEntry *fe)
{
	struct rst_file *regf;

	switch (fe->type) {
	case FD_TYPES__REG:
		return fe->reg ? fe->reg->fown : NULL;
	case FD_TYPES__PIPE:
		return fe->pipe ? fe->pipe->fown : NULL;
	case FD_TYPES__EVENTFD:
		return fe->efd ? fe->efd->fown : NULL;
	case FD_TYPES__EVENTPOLL:
		return fe->epfd ? fe->epfd->fown : NULL;
	case FD_TYPES__INOTIFY:
		return fe->ify ? fe->ify->fown : NULL;
	case FD_TYPES__SIGNALFD:
		return fe->sgfd ? fe->sgfd->fown : NULL;
	case FD_TYPES__TIMERFD:
		return fe->tfd ? fe->tfd->fown : NULL;
	case FD_TYPES__MEMFD:
		return fe->memfd ? fe->memfd->fown : NULL;
	case FD_TYPES__FIFO:
		if (!fe->fifo || !fe->fifo->has_regf_id)
			return NULL;
		regf = rst_file_by_id(ctx, fe->fifo->regf_id);
		return regf && regf->fe->reg ? regf->fe->reg->fown : NULL;
	default:
		return NULL;
	}
}

int files_restore_open(struct rst_ctx *ctx, uint32_t id)
{
	struct rst_file *f = rst_file_by_id(ctx, id);
	const FownEntry *fown;
	int fd, err;

	if (!f) {
		pr_err("file id %u: not in files.img", id);
		return -ENOENT;
	}
	if (f->fd >= 0)
		return f->fd;
	fd = open_by_kind(ctx, f);
	if (fd < 0)
		return fd;
	/* The signal belongs to the file: set once here, for every task. */
	fown = file_fown(ctx, f->fe);
	if (fown && fown->signum && fcntl(fd, F_SETSIG, fown->signum)) {
		err = errno;
		pr_perror("file id %u: cannot set its signal to %u", id, fown->signum);
		close(fd);
		return -err;
	}
	pr_debug("file id %u (%s): pool fd %d", id, fd_type_name(f->fe->type), fd);
	f->fd = fd;
	return fd;
}

static int read_files_img(struct rst_ctx *ctx)
{
	void **msgs;
	size_t nr, i;
	int ret;

	ret = files_img_read_all(ctx, IMG_FILES, 0, &file_entry__descriptor, &msgs, &nr);
	if (ret == -ENOENT)
		pr_err("files.img: missing");
	if (ret)
		return ret;
	ctx->files = calloc(nr ? nr : 1, sizeof(*ctx->files));
	if (!ctx->files) {
		pr_err("out of memory");
		files_msgs_free(msgs, nr);
		return -ENOMEM;
	}
	for (i = 0; i < nr; i++)
		ctx->files[i] = (struct rst_file){ .fe = msgs[i], .fd = -1 };
	ctx->nr_files = nr;
	free(msgs);
	qsort(ctx->files, nr, sizeof(*ctx->files), cmp_rst_file);
	for (i = 1; i < nr; i++) {
		if (ctx->files[i].fe->id == ctx->files[i - 1].fe->id) {
			pr_err("files.img: file id %u appears twice", ctx->files[i].fe->id);
			return -EINVAL;
		}
	}
	return 0;
}

static int cmp_fdinfo(const void *a, const void *b)
{
	const FdinfoEntry *x = *(FdinfoEntry *const *)a, *y = *(FdinfoEntry *const *)b;

	return (x->fd > y->fd) - (x->fd < y->fd);
}

/* Every fd once, on a file files.img has, of the kind it says. */
static int check_task_fds(struct rst_ctx *ctx, struct rst_task *t)
{
	for (size_t i = 0; i < t->nr_fds; i++) {
		const FdinfoEntry *e = t->fds[i];
		struct rst_file *f = rst_file_by_id(ctx, e->id);

		if (i && e->fd == t->fds[i - 1]->fd) {
			pr_err("fdinfo-%u.img: fd %u appears twice", t->ids->files_id, e->fd);
			return -EINVAL;
		}
		if (!f) {
			pr_err("pid %d fd %u: file id %u is not in files.img", t->pid, e->fd, e->id);
			return -EINVAL;
		}
		if (f->fe->type != e->type) {
			pr_err("pid %d fd %u: a %s in fdinfo-%u.img, but file id %u is a %s",
			       t->pid, e->fd, fd_type_name(e->type), t->ids->files_id, e->id,
			       fd_type_name(f->fe->type));
			return -EINVAL;
		}
	}
	return 0;
}

/* fdinfo-<files_id>.img (absent: no fds) and fs-<pid>.img; zombies have neither. */
static int read_task_files(struct rst_ctx *ctx, struct rst_task *t)
{
	void **msgs;
	size_t nr;
	int ret;

	if (t->zombie)
		return 0;
	if (!t->ids) {
		pr_err("pid %d: no ids entry, so no fd table", t->pid);
		return -EINVAL;
	}
	ret = files_img_read_all(ctx, IMG_FDINFO, t->ids->files_id, &fdinfo_entry__descriptor,
				 &msgs, &nr);
	if (ret && ret != -ENOENT)
		return ret;
	t->fds = (FdinfoEntry **)msgs;
	t->nr_fds = nr;
	qsort(t->fds, t->nr_fds, sizeof(*t->fds), cmp_fdinfo);
	ret = check_task_fds(ctx, t);
	if (!ret)
		ret = fs_restore_read(ctx, t);
	return ret;
}

static int open_task_files(struct rst_ctx *ctx, struct rst_task *t)
{
	int ret;

	for (size_t i = 0; i < t->nr_fds; i++) {
		ret = files_restore_open(ctx, t->fds[i]->id);
		if (ret < 0) {
			pr_err("pid %d fd %u: cannot be restored", t->pid, t->fds[i]->fd);
			return ret;
		}
	}
	if (!t->fs)
		return 0;
	ret = files_restore_open(ctx, t->fs->cwd_id);
	if (ret >= 0)
		ret = files_restore_open(ctx, t->fs->root_id);
	if (ret < 0) {
		pr_err("pid %d: its cwd or root cannot be restored", t->pid);
		return ret;
	}
	return 0;
}

int files_restore_read(struct rst_ctx *ctx)
{
	int ret;

	if (!files_rst_priv(ctx))
		return -ENOMEM;
	ret = read_files_img(ctx);
	if (!ret)
		ret = reg_restore_prepare(ctx);
	for (size_t i = 0; !ret && i < ctx->nr_tasks; i++)
		ret = read_task_files(ctx, &ctx->tasks[i]);
	return ret;
}

int files_restore_prepare(struct rst_ctx *ctx)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < ctx->nr_tasks; i++)
		ret = open_task_files(ctx, &ctx->tasks[i]);
	if (!ret)
		pipe_restore_finish(ctx);
	return ret;
}

/* The pool fd of @id, which prepare must have opened: a task opens nothing itself. */
static int pool_fd(struct rst_ctx *ctx, uint32_t id)
{
	struct rst_file *f = rst_file_by_id(ctx, id);

	if (!f || f->fd < 0) {
		pr_err("file id %u: not opened before the fork", id);
		return -ENOENT;
	}
	return f->deferred ? procpath_receive(ctx, f) : f->fd;
}

static int set_owner(struct rst_ctx *ctx, struct rst_task *t, const FdinfoEntry *e)
{
	const FownEntry *fown = file_fown(ctx, rst_file_by_id(ctx, e->id)->fe);
	struct f_owner_ex owner;

	if (!fown || !fown->pid)
		return 0;
	owner.type = fown->pid_type;
	owner.pid = fown->pid;
	if (fcntl(e->fd, F_SETOWN_EX, &owner)) {
		pr_perror("pid %d fd %u: cannot send its signals to %d (owner type %u)",
			  t->pid, e->fd, fown->pid, fown->pid_type);
		return -errno;
	}
	return 0;
}

static int install_fds(struct rst_ctx *ctx, struct rst_task *t)
{
	for (size_t i = 0; i < t->nr_fds; i++) {
		const FdinfoEntry *e = t->fds[i];
		int pfd = pool_fd(ctx, e->id), ret;

		if (pfd < 0)
			return pfd;
		if (dup3(pfd, e->fd, (e->flags & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0) {
			pr_perror("pid %d: cannot put file id %u at fd %u", t->pid, e->id, e->fd);
			return -errno;
		}
		ret = set_owner(ctx, t, e);
		if (ret)
			return ret;
	}
	return 0;
}

static int close_fds(struct rst_task *t, unsigned int lo, unsigned int hi)
{
	if (lo > hi)
		return 0;
	if (close_range(lo, hi, 0)) {
		pr_perror("pid %d: cannot close fds %u-%u", t->pid, lo, hi);
		return -errno;
	}
	return 0;
}

/* What the task got from the controller below the service fds and did not have. */
static int close_others(struct rst_ctx *ctx, struct rst_task *t)
{
	unsigned int lo = 0;
	int ret;

	for (size_t i = 0; i < t->nr_fds; i++) {
		if (t->fds[i]->fd > lo) {
			ret = close_fds(t, lo, t->fds[i]->fd - 1);
			if (ret)
				return ret;
		}
		lo = t->fds[i]->fd + 1;
	}
	return close_fds(t, lo, ctx->svc_base - 1);
}

int files_restore_task(struct rst_ctx *ctx, struct rst_task *t)
{
	int ret;

	if (!fdt_restore_owns(t))
		return fdt_restore_join(ctx, t);
	fdt_restore_gather(ctx, t);
	ret = install_fds(ctx, t) ?: close_others(ctx, t) ?: epoll_restore_task(ctx, t);
	if (!ret)
		fdt_restore_done(ctx, t);
	return ret;
}

int files_restore_arm(struct rst_ctx *ctx)
{
	for (size_t i = 0; i < ctx->nr_files; i++) {
		struct rst_file *f = &ctx->files[i];
		int ret;

		if (f->fd < 0 || f->fe->type != FD_TYPES__TIMERFD)
			continue;
		ret = timerfd_restore_arm(f->fe, f->fd);
		if (ret)
			return ret;
	}
	return 0;
}

/* Frees the images read and closes every pool fd opened here. */
void files_restore_cleanup(struct rst_ctx *ctx)
{
	struct files_rst_priv *priv = ctx->files_priv;
	size_t i;

	for (i = 0; i < ctx->nr_tasks; i++) {
		struct rst_task *t = &ctx->tasks[i];

		files_msgs_free((void **)t->fds, t->nr_fds);
		t->fds = NULL;
		t->nr_fds = 0;
		if (t->fs)
			img_free_msg(&t->fs->base);
		t->fs = NULL;
	}
	for (i = 0; i < ctx->nr_files; i++) {
		if (ctx->files[i].fd >= 0)
			close(ctx->files[i].fd);
		img_free_msg(&ctx->files[i].fe->base);
	}
	free(ctx->files);
	ctx->files = NULL;
	ctx->nr_files = 0;
	if (!priv)
		return;
	reg_restore_cleanup(priv);
	pipe_restore_cleanup(priv);
	fifo_restore_cleanup(priv);
	memfd_restore_cleanup(priv);
	free(priv);
	ctx->files_priv = NULL;
}
