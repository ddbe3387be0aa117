/*
 * pidfd.c - pidfds (pidfd_open, CLONE_PIDFD).
 *
 * fdinfo names the process ("Pid:"), or -1 once it is gone.  A pidfd of
 * a task of the tree can be opened again only once that task exists, so
 * its entry is deferred (procpath.c: the controller opens it after the
 * fork and hands it to each task).  A pidfd of a task outside the tree is
 * refused: nothing would bring that task back.
 *
 * A pidfd of a process that is gone comes back as one: a helper child is
 * forked, its pidfds taken (one per entry naming the same process, so
 * they still share it), and it is killed and reaped.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "files/files.h"
#include "files/kind.h"
#include "fdinfo.pb-c.h"
#include "log.h"
#include "pidfd.pb-c.h"

#ifndef PID_FS_MAGIC
#define PID_FS_MAGIC	0x50494446
#endif
#ifndef PIDFD_THREAD
#define PIDFD_THREAD	O_EXCL
#endif

static bool in_tree(struct dump_ctx *ctx, pid_t pid)
{
	for (size_t i = 0; i < ctx->nr_tasks; i++) {
		const struct dump_task *t = &ctx->tasks[i];

		if (t->pid == pid)
			return true;
		for (int k = 0; t->ct && k < t->ct->nr_threads; k++)
			if (t->ct->threads[k] == pid)
				return true;
	}
	return false;
}

static int pidfd_dump(struct dump_ctx *ctx, struct file_parms *p, uint32_t id)
{
	PidfdEntry pe = PIDFD_ENTRY__INIT;
	FileEntry fe = FILE_ENTRY__INIT;
	char fdinfo[1024], *end;
	const char *v;
	long pid;
	int ret;

	ret = files_read_fdinfo(p->pid, p->fd, fdinfo, sizeof(fdinfo));
	if (ret)
		return ret;
	v = files_fdinfo_field(fdinfo, "Pid");
	pid = v ? strtol(v, &end, 10) : 0;
	if (!v || end == v || pid == 0 || pid < -1) {
		pr_err("/proc/%d/fdinfo/%d: no pid in a pidfd's fdinfo", p->pid, p->fd);
		return -EINVAL;
	}
	if (pid > 0 && !in_tree(ctx, pid)) {
		pr_err("unsupported: pid %d fd %d is a pidfd of pid %ld, which is not in the tree",
		       p->pid, p->fd, pid);
		return -ENOTSUP;
	}
	pe.id = id;
	pe.ino = p->st.st_ino;
	/* Without the access mode, which CRIU 4.2 hands to pidfd_open() as is. */
	pe.flags = p->flags & ~O_ACCMODE;
	/* fdinfo's Pid is as stasis sees it; -1: the task is gone. */
	pe.nspid = pid > 0 ? dump_vpid(ctx, pid) : pid;
	pe.fown = &p->fown;
	fe.type = FD_TYPES__PIDFD;
	fe.id = id;
	fe.pidfd = &pe;
	return img_write_msg(ctx->files_img, &fe.base);
}

static unsigned int open_flags(const PidfdEntry *pe)
{
	return pe->flags & (O_NONBLOCK | PIDFD_THREAD);
}

/* A child that waits to be killed; its pid, or -errno. */
static pid_t helper_start(void)
{
	pid_t pid = fork();

	if (pid < 0) {
		pr_perror("cannot fork a helper for a pidfd of a process that is gone");
		return -errno;
	}
	if (!pid) {
		for (;;)
			pause();
	}
	return pid;
}

/*
 * Entry @f names a process that was gone: open it and every entry not
 * open yet that names the same one (same pidfs inode) from one helper.
 */
static int open_dead(struct rst_ctx *ctx, struct rst_file *f)
{
	uint32_t ino = f->fe->pidfd->ino;
	pid_t helper = helper_start();
	int fd = -1, ret = 0;

	if (helper < 0)
		return helper;
	for (size_t i = 0; !ret && i < ctx->nr_files; i++) {
		struct rst_file *o = &ctx->files[i];
		int pfd;

		if (o->fe->type != FD_TYPES__PIDFD || !o->fe->pidfd || o->fe->pidfd->nspid != -1 ||
		    o->fe->pidfd->ino != ino || (o != f && o->fd >= 0))
			continue;
		pfd = pidfd_open(helper, open_flags(o->fe->pidfd) & ~PIDFD_THREAD);
		if (pfd < 0) {
			ret = -errno;
			pr_perror("pidfd id %u: cannot open one of the helper", o->fe->id);
			break;
		}
		pfd = rst_pool_add(ctx, pfd);
		if (pfd < 0)
			ret = pfd;
		else if (o == f)
			fd = pfd;
		else
			o->fd = pfd;
	}
	kill(helper, SIGKILL);
	waitpid(helper, NULL, 0);
	return ret ?: fd;
}

static int pidfd_restore_open(struct rst_ctx *ctx, struct rst_file *f)
{
	const PidfdEntry *pe = f->fe->pidfd;

	if (pe->nspid == -1)
		return open_dead(ctx, f);
	if (pe->nspid <= 0) {
		pr_err("pidfd id %u: pid %d", f->fe->id, pe->nspid);
		return -EINVAL;
	}
	return procpath_defer(ctx, f);
}

/* Once every task exists. */
static int pidfd_open_late(struct rst_ctx *ctx, struct rst_file *f)
{
	const PidfdEntry *pe = f->fe->pidfd;
	const struct rst_task *t = rst_task_by_pid(ctx, pe->nspid);
	/* The controller opens it: by the pid it sees the task by. */
	int fd = pidfd_open(t ? t->real : pe->nspid, open_flags(pe));

	if (fd < 0) {
		pr_perror("pidfd id %u: cannot open one of pid %d", f->fe->id, pe->nspid);
		return -errno;
	}
	return fd;
}

static int pidfd_match(struct dump_ctx *ctx, struct file_parms *p)
{
	(void)ctx;
	return p->fs_type == PID_FS_MAGIC || files_anon_is(p, "anon_inode:[pidfd]");
}

static const void *pidfd_part(const FileEntry *fe)
{
	return fe->pidfd;
}

static const FownEntry *pidfd_fown(struct rst_ctx *ctx, const FileEntry *fe)
{
	(void)ctx;
	return fe->pidfd->fown;
}

const struct fd_kind pidfd_fd_kind = {
	.name = "pidfd",
	.type = FD_TYPES__PIDFD,
	.match = pidfd_match,
	.dump = pidfd_dump,
	.part = pidfd_part,
	.fown = pidfd_fown,
	.open = pidfd_restore_open,
	.open_late = pidfd_open_late,
};
