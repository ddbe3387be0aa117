/*
 * procpath.c - files under /proc/PID of a task of the tree itself (a
 * parent's open /proc/CHILD/stat, a leaked /proc/self/maps), and any
 * other file that can be opened only once the tree's tasks exist (a
 * pidfd of one of them: pidfd.c).
 *
 * Such a file names nothing until that task exists again, and the pool
 * is filled before the fork.  So the entry's pool fd is one end of a
 * datagram socket pair instead; once every task is forked, the
 * controller opens the file and sends it down the socket once for each
 * task that holds it (each fd table, rather: a shared table takes one),
 * all of them one open file description.  A task takes its copy when it
 * installs its fds, and keeps it above the numbers it installs.
 *
 * /proc/PID/fd/N and /proc/PID/fdinfo/N (a leaked fopen of a task's own
 * fdinfo, as zdtm's fanotify00 has) name something only once task PID
 * has its fd N again, which it gets after the fork.  Those are opened by
 * task PID itself, once its other fds are in place, and sent down the
 * same socket; their holders install them last, waiting for them.
 *
 * A /proc/PID path of a task that was gone at dump time (the cwd of
 * zdtm's unhashed_proc) is a PROCFS remap of that pid, as CRIU writes
 * it: one entry per pid.  Restore forks a helper with the pid, opens
 * the path, and kills and reaps the helper, which leaves the file as
 * it was: a /proc entry of a process that is gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "files/files.h"
#include "files/kind.h"
#include "log.h"
#include "ns/ns.h"
#include "remap-file-path.pb-c.h"

/*
 * A deferred entry: @send_fd is the sending end of its socket pair;
 * @fd_owner the task whose fd it names, which opens it, or 0 for the
 * controller.
 */
struct rst_procpath {
	uint32_t id;
	int send_fd;
	pid_t fd_owner;
};

/* How long a task waits for a file another task opens for it, without --timeout. */
#define LATE_TIMEOUT	60

/* The pid in "/proc/PID/...", or 0. */
static pid_t proc_pid(const char *path)
{
	const char *p;
	char *end;
	long pid;

	if (strncmp(path, "/proc/", 6))
		return 0;
	p = path + 6;
	if (*p < '1' || *p > '9')
		return 0;
	pid = strtol(p, &end, 10);
	if ((*end != '/' && *end != '\0') || pid <= 0 || pid > INT32_MAX)
		return 0;
	return pid;
}

/*
 * The pid of "/proc/PID/fd/N" or "/proc/PID/fdinfo/N" when PID is a task
 * of the tree that installs its own fds, else 0.
 */
static pid_t fd_owner_of(struct rst_ctx *ctx, const char *path)
{
	pid_t pid = proc_pid(path);
	const struct rst_task *t;
	const char *p;
	unsigned int n;
	int end = 0;

	if (!pid)
		return 0;
	p = strchr(path + 6, '/');
	if (!p || (sscanf(p, "/fd/%u%n", &n, &end) != 1 &&
		   sscanf(p, "/fdinfo/%u%n", &n, &end) != 1) || p[end] != '\0')
		return 0;
	t = rst_task_by_pid(ctx, pid);
	return t && !t->zombie && !t->helper && fdt_restore_owns(t) ? pid : 0;
}

static bool has_pid(const pid_t *pids, size_t nr, pid_t pid)
{
	for (size_t i = 0; i < nr; i++)
		if (pids[i] == pid)
			return true;
	return false;
}

/* --- dump --- */

int procpath_dump(struct dump_ctx *ctx, struct file_parms *p, uint32_t id)
{
	RemapFilePathEntry rpe = REMAP_FILE_PATH_ENTRY__INIT;
	struct files_priv *priv = files_priv(ctx);
	bool deleted;
	char dir[64];
	pid_t pid;
	int ret;

	if (!priv)
		return -ENOMEM;
	/*
	 * "/proc/PID (deleted)" when PID itself is gone; below it the path
	 * has no suffix (only its parent is deleted): look for /proc/PID.
	 */
	deleted = reg_strip_deleted(p->link);
	pid = proc_pid(p->link);
	if (!pid)
		return 0;	/* /proc/self, /proc/kmsg, ...: nothing to lose */
	/* The path is the task's: its own /proc, in a mount namespace of the tree's. */
	if (ns_dump_has(CLONE_NEWNS))
		snprintf(dir, sizeof(dir), "/proc/%d/root/proc/%d", p->pid, pid);
	else
		snprintf(dir, sizeof(dir), "/proc/%d", pid);
	if (!deleted && access(dir, F_OK) == 0)
		return 0;
	if (has_pid(priv->dead_pids, priv->nr_dead_pids, pid))
		return 0;
	pr_info("pid %d: %s belongs to pid %d, which is gone: a helper takes its pid at restore",
		p->pid, p->link, pid);
	ret = files_grow(&priv->dead_pids, &priv->cap_dead_pids, priv->nr_dead_pids,
			 sizeof(*priv->dead_pids));
	if (ret)
		return ret;
	priv->dead_pids[priv->nr_dead_pids++] = pid;
	ret = files_img_lazy(ctx, &priv->remap_img, IMG_REMAP_FPATH, 0);
	if (ret)
		return ret;
	rpe.orig_id = id;
	rpe.remap_id = pid;
	rpe.has_remap_type = true;
	rpe.remap_type = REMAP_TYPE__PROCFS;
	return img_write_msg(priv->remap_img, &rpe.base);
}

/* --- restore --- */

bool procpath_in_tree(struct rst_ctx *ctx, const char *path)
{
	pid_t pid = proc_pid(path);

	if (!pid)
		return false;
	for (size_t i = 0; i < ctx->nr_tasks; i++) {
		const struct rst_task *t = &ctx->tasks[i];

		for (size_t j = 0; j < t->nr_threads; j++)
			if (t->tids[j] == pid)
				return true;
		if (t->pid == pid)
			return true;
	}
	return false;
}

int procpath_defer(struct rst_ctx *ctx, struct rst_file *f)
{
	struct files_rst_priv *priv = files_rst_priv(ctx);
	int sv[2], ret;

	if (!priv)
		return -ENOMEM;
	ret = files_grow(&priv->procpaths, &priv->cap_procpaths, priv->nr_procpaths,
			 sizeof(*priv->procpaths));
	if (ret)
		return ret;
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv)) {
		pr_perror("file id %u: cannot make its socket pair", f->fe->id);
		return -errno;
	}
	sv[1] = rst_pool_add(ctx, sv[1]);
	if (sv[1] < 0) {
		close(sv[0]);
		return sv[1];
	}
	sv[0] = rst_pool_add(ctx, sv[0]);
	if (sv[0] < 0) {
		close(sv[1]);
		return sv[0];
	}
	priv->procpaths[priv->nr_procpaths] = (struct rst_procpath){
		.id = f->fe->id, .send_fd = sv[1],
	};
	if (f->fe->type == FD_TYPES__REG && f->fe->reg && f->fe->reg->name)
		priv->procpaths[priv->nr_procpaths].fd_owner = fd_owner_of(ctx, f->fe->reg->name);
	f->deferred = true;
	if (priv->procpaths[priv->nr_procpaths].fd_owner)
		pr_info("file id %u: opened by pid %d once its fds are in place", f->fe->id,
			priv->procpaths[priv->nr_procpaths].fd_owner);
	else
		pr_info("file id %u: opened once every task exists", f->fe->id);
	priv->nr_procpaths++;
	return sv[0];
}

/* How many tasks take file @id (as an fd, cwd or root): one copy goes to each. */
static int holders(struct rst_ctx *ctx, uint32_t id)
{
	int n = 0;

	for (size_t i = 0; i < ctx->nr_tasks; i++) {
		const struct rst_task *t = &ctx->tasks[i];
		bool holds = false;

		if (t->zombie)
			continue;
		/* The fds of a shared table are installed by its owner only. */
		for (size_t j = 0; fdt_restore_owns(t) && j < t->nr_fds && !holds; j++)
			holds = t->fds[j]->id == id;
		if (t->fs)
			holds |= t->fs->cwd_id == id || t->fs->root_id == id;
		n += holds;
	}
	return n;
}

static int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	char byte = 0;
	struct iovec iov = { &byte, 1 };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	/* Nobody reads before we are done: a full queue must not block us. */
	return sendmsg(sock, &mh, MSG_DONTWAIT) == 1 ? 0 : -errno;
}

static int send_one(struct rst_ctx *ctx, const struct rst_procpath *pp)
{
	struct rst_file *f = rst_file_by_id(ctx, pp->id);
	const struct fd_kind *kind = fd_kind_by_type(f->fe->type);
	const FownEntry *fown = kind->fown ? kind->fown(ctx, f->fe) : NULL;
	int fd, n, ret = 0;

	fd = kind->open_late(ctx, f);
	if (fd < 0)
		return fd;
	if (fown && fown->signum && fcntl(fd, F_SETSIG, fown->signum)) {
		ret = -errno;
		pr_perror("file id %u: cannot set its signal to %u", pp->id, fown->signum);
	}
	n = holders(ctx, pp->id);
	for (int i = 0; !ret && i < n; i++) {
		ret = send_fd(pp->send_fd, fd);
		if (ret)
			pr_err("file id %u: cannot send it to its task: %s", pp->id,
			       strerror(-ret));
	}
	close(fd);
	return ret;
}

int procpath_restore_send(struct rst_ctx *ctx)
{
	struct files_rst_priv *priv = files_rst_priv(ctx);
	int ret;

	if (!priv)
		return -ENOMEM;
	/* Paths name the tree's files, its /proc: opened in its mount namespace. */
	ret = priv->nr_procpaths ? ns_tree_enter(ctx) : 0;
	for (size_t i = 0; !ret && i < priv->nr_procpaths; i++) {
		if (!priv->procpaths[i].fd_owner)
			ret = send_one(ctx, &priv->procpaths[i]);
	}
	return ns_tree_leave() ?: ret;
}

static const struct rst_procpath *procpath_of(struct rst_ctx *ctx, uint32_t id)
{
	struct files_rst_priv *priv = ctx->files_priv;

	for (size_t i = 0; priv && i < priv->nr_procpaths; i++)
		if (priv->procpaths[i].id == id)
			return &priv->procpaths[i];
	return NULL;
}

/* Still so once received: a second fd of the file in the table is late too. */
bool procpath_is_late(struct rst_ctx *ctx, const struct rst_file *f)
{
	const struct rst_procpath *pp = f ? procpath_of(ctx, f->fe->id) : NULL;

	return pp && pp->fd_owner;
}

/* In task @t, its fds in place but the late ones: open what names them. */
int procpath_restore_own(struct rst_ctx *ctx, struct rst_task *t)
{
	struct files_rst_priv *priv = ctx->files_priv;
	int ret;

	for (size_t i = 0; priv && i < priv->nr_procpaths; i++) {
		if (priv->procpaths[i].fd_owner != t->pid)
			continue;
		ret = send_one(ctx, &priv->procpaths[i]);
		if (ret)
			return ret;
	}
	return 0;
}

/* A late file comes from a task that may not be there yet: wait for it. */
static int wait_late(struct rst_ctx *ctx, const struct rst_file *f)
{
	int secs = ctx->opts->timeout ? ctx->opts->timeout : LATE_TIMEOUT;
	struct pollfd pfd = { .fd = f->fd, .events = POLLIN };
	int n;

	do
		n = poll(&pfd, 1, secs * 1000);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		return 0;
	if (n == 0)
		pr_err("file id %u: pid %d did not send it in %d s", f->fe->id,
		       procpath_of(ctx, f->fe->id)->fd_owner, secs);
	else
		pr_perror("file id %u: cannot wait for it", f->fe->id);
	return n ? -errno : -ETIMEDOUT;
}

/*
 * In a task: the file of deferred entry @f, from its socket, kept from
 * now on (in this task's copy of @f) above every fd the task installs.
 */
int procpath_receive(struct rst_ctx *ctx, struct rst_file *f)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	char byte;
	struct iovec iov = { &byte, 1 };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;
	int fd, nfd;

	if (procpath_is_late(ctx, f) && wait_late(ctx, f))
		return -EIO;
	if (recvmsg(f->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) != 1) {
		pr_perror("file id %u: nothing came for it", f->fe->id);
		return -EIO;
	}
	c = CMSG_FIRSTHDR(&mh);
	if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int))) {
		pr_err("file id %u: no file came for it", f->fe->id);
		return -EIO;
	}
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, ctx->pool_next);
	close(fd);
	if (nfd < 0) {
		pr_perror("file id %u: cannot move it above the task's fds", f->fe->id);
		return -errno;
	}
	f->fd = nfd;
	f->deferred = false;
	return nfd;
}

int procpath_note_dead(struct files_rst_priv *priv, pid_t pid)
{
	int ret;

	if (pid <= 0) {
		pr_err("remap-fpath.img: a procfs remap of pid %d", pid);
		return -EINVAL;
	}
	if (has_pid(priv->dead_pids, priv->nr_dead_pids, pid))
		return 0;
	ret = files_grow(&priv->dead_pids, &priv->cap_dead_pids, priv->nr_dead_pids,
			 sizeof(*priv->dead_pids));
	if (!ret)
		priv->dead_pids[priv->nr_dead_pids++] = pid;
	return ret;
}

bool procpath_is_dead(struct files_rst_priv *priv, const char *path)
{
	pid_t pid = proc_pid(path);

	return pid && has_pid(priv->dead_pids, priv->nr_dead_pids, pid);
}

/* A child of ours with pid @pid that waits to be killed. */
static pid_t helper_start(pid_t pid)
{
	uint64_t tid = pid;
	struct clone_args ca = {
		.exit_signal = SIGCHLD,
		.set_tid = (uintptr_t)&tid,
		.set_tid_size = 1,
	};
	long ret = syscall(SYS_clone3, &ca, sizeof(ca));

	if (ret == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	if (ret < 0 && errno == EEXIST)
		pr_err("pid %d, of a task gone at dump time, is taken: a file of its /proc cannot be opened",
		       pid);
	else if (ret < 0)
		pr_perror("cannot create a helper with pid %d", pid);
	return ret < 0 ? -errno : ret;
}

static void helper_stop(pid_t pid)
{
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/*
 * The helper must outlive the restore of the files: a task cannot
 * fchdir() into the /proc dir of a process that is gone.  It stays
 * until every task is through its files (procpath_helpers_stop()).
 */
int procpath_open_dead(struct files_rst_priv *priv, const char *path, int flags)
{
	pid_t pid = proc_pid(path);
	size_t i;
	int fd, ret;

	for (i = 0; i < priv->nr_dead_pids && priv->dead_pids[i] != pid; i++)
		;
	if (i == priv->nr_dead_pids)
		return -ENOENT;
	if (!priv->helpers) {
		priv->helpers = calloc(priv->nr_dead_pids, sizeof(*priv->helpers));
		if (!priv->helpers) {
			pr_err("out of memory");
			return -ENOMEM;
		}
	}
	if (!priv->helpers[i]) {
		ret = helper_start(pid);
		if (ret < 0)
			return ret;
		priv->helpers[i] = ret;
	}
	fd = open(path, rst_open_flags(flags));
	if (fd < 0) {
		pr_perror("cannot open %s (flags %#o) with its helper", path, flags);
		return -errno;
	}
	return fd;
}

void procpath_helpers_stop(struct rst_ctx *ctx)
{
	struct files_rst_priv *priv = ctx->files_priv;

	for (size_t i = 0; priv && priv->helpers && i < priv->nr_dead_pids; i++) {
		if (priv->helpers[i])
			helper_stop(priv->helpers[i]);
		priv->helpers[i] = 0;
	}
}

void procpath_restore_cleanup(struct files_rst_priv *priv)
{
	for (size_t i = 0; priv->helpers && i < priv->nr_dead_pids; i++)
		if (priv->helpers[i])
			helper_stop(priv->helpers[i]);
	free(priv->helpers);
	priv->helpers = NULL;
	free(priv->dead_pids);
	priv->dead_pids = NULL;
	priv->nr_dead_pids = priv->cap_dead_pids = 0;
	for (size_t i = 0; i < priv->nr_procpaths; i++)
		close(priv->procpaths[i].send_fd);
	free(priv->procpaths);
	priv->procpaths = NULL;
	priv->nr_procpaths = priv->cap_procpaths = 0;
}
