/*
 * epoll.c - epoll instances and what they watch.
 *
 * fdinfo lists each registration ("tfd:" lines): the fd number it was
 * added under, its events and data.  That number is only a name the
 * kernel keeps: the fd may since have been closed, or now hold another
 * file.  kcmp(KCMP_EPOLL_TFD) tells whether an fd of the task holds the
 * very file of a registration, so each one is recorded under an fd that
 * does (the number it was added under when that still holds it), as CRIU
 * records them, inside the epoll's files.img entry.  A registration on a
 * file no fd of the task holds any more is refused by name.
 *
 * At restore the epoll is made empty in the pool; the registrations are
 * made again by the first task that holds it, once every fd of that task
 * is in place (epoll_restore_task), so that each target is there.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "files/files.h"
#include "files/kind.h"
#include "eventpoll.pb-c.h"
#include "fdinfo.pb-c.h"
#include "log.h"

#ifndef KCMP_EPOLL_TFD
#define KCMP_EPOLL_TFD	7
#endif

struct kcmp_slot {
	uint32_t efd, tfd, toff;
};

static void free_tfds(EventpollFileEntry *e)
{
	for (size_t i = 0; i < e->n_tfd; i++)
		free(e->tfd[i]);
	free(e->tfd);
	e->tfd = NULL;
	e->n_tfd = 0;
}

/* One "tfd:" line into a new entry of @e. */
static int parse_tfd(EventpollFileEntry *e, const char *line)
{
	unsigned long long data, ino;
	unsigned int events, dev;
	long long pos;
	EventpollTfdEntry *t, **arr;
	int tfd;

	if (sscanf(line, "tfd: %d events: %x data: %llx pos:%lli ino:%llx sdev:%x", &tfd,
		   &events, &data, &pos, &ino, &dev) != 6 || tfd < 0)
		return -EINVAL;
	t = malloc(sizeof(*t));
	arr = realloc(e->tfd, (e->n_tfd + 1) * sizeof(*arr));
	if (!t || !arr) {
		free(t);
		if (arr)
			e->tfd = arr;
		return -ENOMEM;
	}
	e->tfd = arr;
	eventpoll_tfd_entry__init(t);
	t->id = e->id;
	t->tfd = tfd;
	t->events = events;
	t->data = data;
	t->has_dev = t->has_inode = t->has_pos = true;
	t->dev = dev;
	t->inode = ino;
	t->pos = pos;
	e->tfd[e->n_tfd++] = t;
	return 0;
}

static int tfd_line(const char *line, void *e)
{
	return parse_tfd(e, line);
}

/*
 * Does fd @fd of @pid hold the file of the @toff-th registration under
 * @tfd of epoll @efd, which is an fd of @epid (ours for one in flight)?
 */
static bool holds_target(pid_t pid, pid_t epid, int efd, int fd, uint32_t tfd, uint32_t toff)
{
	struct kcmp_slot slot = { .efd = efd, .tfd = tfd, .toff = toff };

	return syscall(SYS_kcmp, pid, epid, KCMP_EPOLL_TFD, fd, (unsigned long)&slot) == 0;
}

/* Another fd of @pid holding that file, or -1. */
static int find_target(pid_t pid, pid_t epid, int efd, uint32_t tfd, uint32_t toff)
{
	char path[64];
	struct dirent *de;
	int found = -1;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while (found < 0 && (de = readdir(d))) {
		char *end;
		long fd = strtol(de->d_name, &end, 10);

		if (*end || end == de->d_name || (pid == epid && fd == efd))
			continue;
		if (holds_target(pid, epid, efd, fd, tfd, toff))
			found = fd;
	}
	closedir(d);
	return found;
}

/*
 * The kernel numbers registrations under one fd number by their order in
 * fdinfo (its tree's order): that is the slot's toff.  Entries are
 * renumbered only once every toff is known.  An epoll in flight is held
 * by us; its targets are looked for in the task whose queue holds it,
 * and kept as that task's fd numbers.
 */
static int resolve_targets(const struct file_parms *p, EventpollFileEntry *e)
{
	pid_t tp = p->holder ? p->holder : p->pid;
	int *fds = calloc(e->n_tfd ?: 1, sizeof(*fds));
	int ret = 0;

	if (!fds)
		return -ENOMEM;
	for (size_t i = 0; i < e->n_tfd; i++) {
		uint32_t tfd = e->tfd[i]->tfd, toff = 0;

		for (size_t j = 0; j < i; j++)
			toff += e->tfd[j]->tfd == tfd;
		fds[i] = holds_target(tp, p->pid, p->fd, tfd, tfd, toff) ? (int)tfd :
			find_target(tp, p->pid, p->fd, tfd, toff);
		if (fds[i] < 0) {
			pr_err("unsupported: pid %d fd %d is an epoll watching a file that no fd of the task holds (added as fd %u)",
			       tp, p->pid == tp ? p->fd : -1, tfd);
			ret = -ENOTSUP;
			goto out;
		}
		if ((uint32_t)fds[i] != tfd)
			pr_debug("pid %d epoll fd %d: the file added as fd %u is now fd %d", tp,
				 p->fd, tfd, fds[i]);
	}
	for (size_t i = 0; i < e->n_tfd; i++)
		e->tfd[i]->tfd = fds[i];
out:
	free(fds);
	return ret;
}

static int epoll_dump(struct dump_ctx *ctx, struct file_parms *p, uint32_t id)
{
	EventpollFileEntry efe = EVENTPOLL_FILE_ENTRY__INIT;
	FileEntry fe = FILE_ENTRY__INIT;
	int ret;

	efe.id = id;
	efe.flags = p->flags;
	efe.fown = &p->fown;
	ret = files_fdinfo_lines(p, "tfd:", tfd_line, &efe) ?: resolve_targets(p, &efe);
	if (!ret) {
		fe.type = FD_TYPES__EVENTPOLL;
		fe.id = id;
		fe.epfd = &efe;
		ret = img_write_msg(ctx->files_img, &fe.base);
	}
	free_tfds(&efe);
	return ret;
}

static int epoll_restore_open(struct rst_ctx *ctx, struct rst_file *f)
{
	int fd = epoll_create1(0);

	if (fd < 0) {
		pr_perror("epoll id %u: cannot create it", f->fe->id);
		return -errno;
	}
	return rst_pool_add(ctx, fd);
}

/* The first task, in the tree's order, that holds file @id: it registers. */
static bool registers(struct rst_ctx *ctx, struct rst_task *t, uint32_t id)
{
	for (size_t i = 0; i < ctx->nr_tasks; i++) {
		struct rst_task *o = &ctx->tasks[i];

		for (size_t j = 0; j < o->nr_fds; j++) {
			if (o->fds[j]->id != id)
				continue;
			o = o->fdt_owner ? o->fdt_owner : o;
			return o == t;
		}
	}
	return false;
}

static int add_targets(struct rst_task *t, int efd, const EventpollFileEntry *e)
{
	for (size_t i = 0; i < e->n_tfd; i++) {
		const EventpollTfdEntry *tt = e->tfd[i];
		struct epoll_event ev = { .events = tt->events, .data.u64 = tt->data };

		if (epoll_ctl(efd, EPOLL_CTL_ADD, tt->tfd, &ev)) {
			pr_perror("pid %d epoll fd %d: cannot watch fd %u again", t->pid, efd, tt->tfd);
			return -errno;
		}
	}
	return 0;
}

/* Is file @id at an fd of @t before its @n-th?  Then it is registered already. */
static bool held_before(const struct rst_task *t, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (t->fds[i]->id == id)
			return true;
	return false;
}

static int epoll_restore_task(struct rst_ctx *ctx, struct rst_task *t)
{
	for (size_t i = 0; i < t->nr_fds; i++) {
		const FdinfoEntry *fi = t->fds[i];
		struct rst_file *f = rst_file_by_id(ctx, fi->id);
		int ret;

		if (!f || f->fe->type != FD_TYPES__EVENTPOLL || !f->fe->epfd)
			continue;
		if (!registers(ctx, t, fi->id) || (i && held_before(t, i, fi->id)))
			continue;
		ret = add_targets(t, fi->fd, f->fe->epfd);
		if (ret)
			return ret;
	}
	return 0;
}

/* Is file @id at an fd of some task?  An epoll no task holds is only in flight. */
static bool held_by_task(struct rst_ctx *ctx, uint32_t id)
{
	for (size_t i = 0; i < ctx->nr_tasks; i++)
		for (size_t j = 0; j < ctx->tasks[i].nr_fds; j++)
			if (ctx->tasks[i].fds[j]->id == id)
				return true;
	return false;
}

/*
 * What a registration of an epoll in flight watches: the dump kept the fd
 * number it has in the task whose queue held the epoll.  The first task
 * with a file at that number whose inode agrees (a unix socket's) is it.
 */
static struct rst_file *inflight_target(struct rst_ctx *ctx, const EventpollTfdEntry *tt)
{
	for (size_t i = 0; i < ctx->nr_tasks; i++) {
		const struct rst_task *t = &ctx->tasks[i];

		for (size_t j = 0; j < t->nr_fds; j++) {
			struct rst_file *f;

			if (t->fds[j]->fd != tt->tfd)
				continue;
			f = rst_file_by_id(ctx, t->fds[j]->id);
			if (f && f->fd >= 0 && !f->deferred &&
			    (!f->fe->usk || !tt->has_inode || f->fe->usk->ino == tt->inode))
				return f;
		}
	}
	return NULL;
}

/*
 * An epoll in flight in a socket's queue has no task to register its
 * files in: the controller registers them through the pool's fds, which
 * are the same files the tasks will hold.
 */
static int epoll_restore_inflight(struct rst_ctx *ctx)
{
	for (size_t i = 0; i < ctx->nr_files; i++) {
		const struct rst_file *f = &ctx->files[i];
		const EventpollFileEntry *e = f->fe->epfd;

		if (f->fe->type != FD_TYPES__EVENTPOLL || !e || f->fd < 0 ||
		    held_by_task(ctx, f->fe->id))
			continue;
		for (size_t k = 0; k < e->n_tfd; k++) {
			const EventpollTfdEntry *tt = e->tfd[k];
			struct epoll_event ev = { .events = tt->events, .data.u64 = tt->data };
			struct rst_file *target = inflight_target(ctx, tt);

			if (!target) {
				pr_err("epoll id %u in flight: no task holds fd %u, which it watches",
				       f->fe->id, tt->tfd);
				return -ENOENT;
			}
			if (epoll_ctl(f->fd, EPOLL_CTL_ADD, target->fd, &ev)) {
				pr_perror("epoll id %u in flight: cannot watch file id %u again",
					  f->fe->id, target->fe->id);
				return -errno;
			}
		}
	}
	return 0;
}

static int epoll_match(struct dump_ctx *ctx, struct file_parms *p)
{
	(void)ctx;
	return files_anon_is(p, "anon_inode:[eventpoll]");
}

static const void *epoll_part(const FileEntry *fe)
{
	return fe->epfd;
}

static const FownEntry *epoll_fown(struct rst_ctx *ctx, const FileEntry *fe)
{
	(void)ctx;
	return fe->epfd->fown;
}

const struct fd_kind epoll_fd_kind = {
	.name = "epoll",
	.type = FD_TYPES__EVENTPOLL,
	.match = epoll_match,
	.dump = epoll_dump,
	.part = epoll_part,
	.fown = epoll_fown,
	.open = epoll_restore_open,
	.prepared = epoll_restore_inflight,
	.installed = epoll_restore_task,
};
