/*
 * locks.c - file locks and leases held by the tree (--file-locks).
 *
 * /proc/PID/fdinfo/N lists the locks held through that very open file
 * description ("lock:" lines): flock and OFD locks and leases belong to
 * the description, POSIX locks to the process, shown on each fd of the
 * file it holds.  Each is written once to filelocks.img, as CRIU writes
 * it: its style, type, range, and the pid and fd to take it again with.
 * Without --file-locks a tree holding any is refused, as CRIU refuses it.
 *
 * At restore each task takes its flock and OFD locks and leases once
 * every fd of its table is in place.  POSIX locks are taken by the
 * restorer only after it has closed the pool's fds: closing any fd of a
 * file drops the POSIX locks the process holds on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files/files.h"
#include "file-lock.pb-c.h"
#include "log.h"
#include "parts.h"
#include "restorer.h"

/* CRIU's styles (FileLockEntry.flag). */
#define FL_POSIX	1
#define FL_FLOCK	2
#define FL_OFD		4
#define FL_LEASE	8
#define LEASE_BREAKING	4

/* A lock written already: POSIX ones per process, the others per description. */
struct seen_lock {
	uint32_t file_id, files_id;
	FileLockEntry e;
};

static int style_of(const char *s, uint32_t *flag)
{
	if (!strcmp(s, "POSIX"))
		*flag = FL_POSIX;
	else if (!strcmp(s, "FLOCK"))
		*flag = FL_FLOCK;
	else if (!strcmp(s, "OFDLCK"))
		*flag = FL_OFD;
	else if (!strcmp(s, "LEASE"))
		*flag = FL_LEASE;
	else
		return -ENOTSUP;
	return 0;
}

/* One "lock:" line into @e; -ENOTSUP for what CRIU's images cannot hold. */
static int parse_lock(const char *line, FileLockEntry *e)
{
	char style[16], mode[16], type[16], end[24];
	long long start;
	int n;

	n = sscanf(line, "lock:%*[ \t]%*d: %15s %15s %15s", style, mode, type);
	if (n != 3 || style_of(style, &e->flag))
		return -ENOTSUP;
	if (e->flag == FL_LEASE) {
		if (!strcmp(mode, "BREAKING"))
			e->type |= LEASE_BREAKING;
		else if (strcmp(mode, "ACTIVE"))
			return -ENOTSUP;
	} else if (strcmp(mode, "ADVISORY")) {
		return -ENOTSUP;
	}
	/* A lease being broken shows what it is being broken to. */
	if (!strcmp(type, "WRITE"))
		e->type |= F_WRLCK;
	else if (!strcmp(type, "UNLCK") && (e->type & LEASE_BREAKING))
		e->type |= F_UNLCK;
	else if (strcmp(type, "READ"))
		return -ENOTSUP;
	/* The pid, the device:inode, then the range: first byte, last or EOF. */
	if (sscanf(line, "%*[^:]:%*[ \t]%*d: %*s %*s %*s %*d %*s %lld %23s", &start, end) != 2)
		return -ENOTSUP;
	e->start = start;
	e->len = strcmp(end, "EOF") ? atoll(end) - start + 1 : 0;
	return 0;
}

static bool same_lock(const struct seen_lock *s, uint32_t file_id, uint32_t files_id,
		      const FileLockEntry *e)
{
	if (s->e.flag != e->flag || s->e.type != e->type || s->e.start != e->start ||
	    s->e.len != e->len || s->file_id != file_id)
		return false;
	return e->flag != FL_POSIX || s->files_id == files_id;
}

static int note_lock(struct dump_ctx *ctx, const struct file_parms *p, uint32_t file_id,
		     uint32_t files_id, const FileLockEntry *e)
{
	struct files_priv *priv = files_priv(ctx);
	int ret;

	for (size_t i = 0; i < priv->nr_locks; i++)
		if (same_lock(&priv->locks[i], file_id, files_id, e))
			return 0;
	if (!ctx->opts->file_locks) {
		pr_err("unsupported: pid %d fd %d holds a file lock (dump it with --file-locks)",
		       p->pid, p->fd);
		return -ENOTSUP;
	}
	ret = files_grow(&priv->locks, &priv->cap_locks, priv->nr_locks, sizeof(*priv->locks));
	if (ret)
		return ret;
	priv->locks[priv->nr_locks++] = (struct seen_lock){ file_id, files_id, *e };
	ret = files_img_lazy(ctx, &priv->locks_img, IMG_FILE_LOCKS, 0);
	if (!ret)
		ret = img_write_msg(priv->locks_img, &priv->locks[priv->nr_locks - 1].e.base);
	return ret;
}

struct lock_walk {
	struct dump_ctx *ctx;
	const struct file_parms *p;
	uint32_t file_id, files_id;
};

static int lock_line(const char *line, void *arg)
{
	const struct lock_walk *w = arg;
	FileLockEntry e = FILE_LOCK_ENTRY__INIT;

	e.pid = dump_vpid(w->ctx, w->p->pid);
	e.fd = w->p->fd;
	if (parse_lock(line, &e)) {
		pr_err("unsupported: pid %d fd %d holds a lock CRIU's images cannot keep: %s",
		       w->p->pid, w->p->fd, line);
		return -ENOTSUP;
	}
	return note_lock(w->ctx, w->p, w->file_id, w->files_id, &e);
}

int locks_dump_fd(struct dump_ctx *ctx, const struct file_parms *p, uint32_t file_id,
		  uint32_t files_id)
{
	struct lock_walk w = { ctx, p, file_id, files_id };

	return files_fdinfo_lines(p, "lock:", lock_line, &w);
}

void locks_dump_cleanup(struct files_priv *priv)
{
	img_close(priv->locks_img);
	priv->locks_img = NULL;
	free(priv->locks);
	priv->locks = NULL;
	priv->nr_locks = priv->cap_locks = 0;
}

/* --- restore --- */

int locks_restore_read(struct rst_ctx *ctx)
{
	struct files_rst_priv *priv = files_rst_priv(ctx);
	int ret;

	if (!priv)
		return -ENOMEM;
	ret = files_img_read_all(ctx, IMG_FILE_LOCKS, 0, &file_lock_entry__descriptor,
				 (void ***)&priv->locks, &priv->nr_locks);
	return ret == -ENOENT ? 0 : ret;
}

static bool is_fd_of(const struct rst_task *t, int32_t fd)
{
	for (size_t i = 0; i < t->nr_fds; i++)
		if ((int32_t)t->fds[i]->fd == fd)
			return true;
	return false;
}

/*
 * A lease in the middle of being broken, as CRIU brings it back: taken as
 * the fd's access mode allows, then broken again by an open that conflicts
 * with it as the first did (for writing when it was being broken to
 * nothing, for reading when to a read lease), which fails at once with
 * O_NONBLOCK and leaves the lease breaking.
 *
 * The break signals the file's owner, and F_SETLEASE only makes us the
 * owner when the file has none: the owner restored with the fd (another
 * task of the tree, which set the lease before a fork) would get a second
 * signal it never had.  So we are the owner while the lease breaks, take
 * the signal away, and give the file its owner back.
 */
static int break_lease_again(const FileLockEntry *e, int acc)
{
	int to = e->type & ~LEASE_BREAKING;
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", e->fd);
	if (fcntl(e->fd, F_SETLEASE, (acc & O_ACCMODE) == O_RDONLY ? F_RDLCK : F_WRLCK))
		return -1;
	fd = open(path, (to == F_UNLCK ? O_WRONLY : O_RDONLY) | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		pr_err("pid %d fd %d: its lease did not break again", e->pid, e->fd);
		errno = EINVAL;
		return -1;
	}
	return errno == EWOULDBLOCK ? 0 : -1;
}

static int take_breaking_lease(const FileLockEntry *e)
{
	int acc = fcntl(e->fd, F_GETFL), sig = fcntl(e->fd, F_GETSIG);
	struct f_owner_ex owner, self = { F_OWNER_PID, getpid() };
	struct timespec now = { 0, 0 };
	sigset_t set, old;
	int ret, err;

	if (acc < 0 || sig < 0 || fcntl(e->fd, F_GETOWN_EX, &owner) ||
	    fcntl(e->fd, F_SETOWN_EX, &self))
		return -1;
	sigemptyset(&set);
	sigaddset(&set, sig ?: SIGIO);
	sigprocmask(SIG_BLOCK, &set, &old);
	ret = break_lease_again(e, acc);
	err = errno;
	while (sigtimedwait(&set, NULL, &now) > 0)
		;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (fcntl(e->fd, F_SETOWN_EX, &owner) && !ret) {
		err = errno;
		ret = -1;
	}
	errno = err;
	return ret;
}

/*
 * A lease is the file owner's, or needs CAP_LEASE in the first user
 * namespace: a task in a user namespace of its own takes it as the owner.
 */
static int take_lease(const FileLockEntry *e)
{
	struct stat st;
	uid_t fsuid = -1;
	int ret, err;

	if (!fstat(e->fd, &st))
		fsuid = setfsuid(st.st_uid);
	ret = e->type & LEASE_BREAKING ? take_breaking_lease(e) : fcntl(e->fd, F_SETLEASE, e->type);
	err = errno;
	if (fsuid != (uid_t)-1)
		setfsuid(fsuid);
	errno = err;
	return ret;
}

static int take_lock(const struct rst_task *t, const FileLockEntry *e)
{
	struct flock fl = {
		.l_type = e->type, .l_whence = SEEK_SET, .l_start = e->start, .l_len = e->len,
	};
	int ret;

	switch (e->flag) {
	case FL_FLOCK:
		ret = flock(e->fd, e->type == F_WRLCK ? LOCK_EX : LOCK_SH);
		break;
	case FL_OFD:
		ret = fcntl(e->fd, F_OFD_SETLK, &fl);
		break;
	case FL_LEASE:
		ret = take_lease(e);
		break;
	default:
		pr_err("filelocks.img: pid %d fd %d: a lock of unknown style %u", t->pid, e->fd,
		       e->flag);
		return -EINVAL;
	}
	if (ret) {
		ret = -errno;
		pr_perror("pid %d fd %d: cannot take its lock again (style %u, type %u)", t->pid,
			  e->fd, e->flag, e->type);
	}
	return ret;
}

static bool mine(const struct rst_task *t, const FileLockEntry *e)
{
	return e->pid == t->pid;
}

int locks_restore_task(struct rst_ctx *ctx, struct rst_task *t)
{
	struct files_rst_priv *priv = ctx->files_priv;

	for (size_t i = 0; priv && i < priv->nr_locks; i++) {
		const FileLockEntry *e = priv->locks[i];
		int ret;

		if (!mine(t, e) || e->flag == FL_POSIX)
			continue;
		if (!is_fd_of(t, e->fd)) {
			pr_err("filelocks.img: pid %d has no fd %d to take its lock on", t->pid, e->fd);
			return -EINVAL;
		}
		ret = take_lock(t, e);
		if (ret)
			return ret;
	}
	return 0;
}

static size_t nr_posix(struct rst_ctx *ctx, const struct rst_task *t)
{
	struct files_rst_priv *priv = ctx->files_priv;
	size_t n = 0;

	for (size_t i = 0; priv && i < priv->nr_locks; i++)
		n += mine(t, priv->locks[i]) && priv->locks[i]->flag == FL_POSIX;
	return n;
}

size_t locks_restore_size(struct rst_ctx *ctx, const struct rst_task *t)
{
	return nr_posix(ctx, t) * sizeof(struct rst_posix_lock) + 16;
}

int locks_restore_args(struct rst_ctx *ctx, const struct rst_task *t, struct rst_args *a,
		       struct rst_alloc *al)
{
	struct files_rst_priv *priv = ctx->files_priv;
	size_t n = nr_posix(ctx, t), k = 0;

	a->nr_locks = n;
	a->locks = n ? rst_alloc(al, n * sizeof(*a->locks), 8) : NULL;
	for (size_t i = 0; priv && i < priv->nr_locks; i++) {
		const FileLockEntry *e = priv->locks[i];

		if (!mine(t, e) || e->flag != FL_POSIX)
			continue;
		if (!is_fd_of(t, e->fd)) {
			pr_err("filelocks.img: pid %d has no fd %d to take its lock on", t->pid, e->fd);
			return -EINVAL;
		}
		a->locks[k++] = (struct rst_posix_lock){
			.fd = e->fd, .type = e->type, .start = e->start, .len = e->len,
		};
	}
	return 0;
}

void locks_restore_cleanup(struct files_rst_priv *priv)
{
	files_msgs_free((void **)priv->locks, priv->nr_locks);
	priv->locks = NULL;
	priv->nr_locks = 0;
}

static size_t locks_part_args_size(struct rst_ctx *ctx, struct rst_task *t)
{
	return locks_restore_size(ctx, t);
}

static int locks_part_args(struct rst_ctx *ctx, struct rst_task *t, struct rst_args *a,
			   struct rst_alloc *al, const struct rst_range *region)
{
	(void)region;
	return locks_restore_args(ctx, t, a, al);
}

/* POSIX locks are taken by the restorer, once the memory is the task's own. */
const struct task_part_ops locks_part = {
	.name = "locks",
	.fail = "prepare its POSIX locks",
	.args_size = locks_part_args_size,
	.args = locks_part_args,
};
