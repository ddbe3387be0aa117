/*
 * rst-ctx.h - what an object's restore half sees of the restore.
 *
 * Objects (fd kinds, task parts) include this, never restore.h: they use
 * the pipeline's state and these few helpers on it, never its functions.
 *
 * restore.c runs the pipeline (see there).  It reads the images into one
 * struct rst_ctx in the stasis process (the "controller"), which then
 * forks the tree with the dumped PIDs.  Every restored task starts as a
 * copy of the controller, so everything read before the fork is there in
 * each task already: each task only picks its own part.
 *
 * Objects that several tasks may share (an open file description, a pipe,
 * a memfd) are created once, in the controller, before the fork: they sit
 * in the "pool", fds numbered from ctx->pool_base up, which every task
 * inherits.  A task dups what it needs to its own fd numbers and closes
 * the pool at the end.  Below pool_base the controller keeps nothing of
 * its own: its log and the images directory move to service fds at
 * svc_base .. pool_base - 1, above every fd number of every task.
 *
 * Everything returns 0 or -errno and logs the reason with the object's name.
 */
#ifndef STASIS_RST_CTX_H
#define STASIS_RST_CTX_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "core.pb-c.h"
#include "fdinfo.pb-c.h"
#include "fs.pb-c.h"
#include "image.h"
#include "mm.pb-c.h"
#include "fault.h"
#include "opts.h"
#include "pagemap.pb-c.h"
#include "pstree.pb-c.h"

struct rst_shared;

/*
 * Where a task's restorer region is, written by the task before it jumps
 * there: the controller unmaps it once every thread has left it
 * (restore-finish.c), and stops the task then if it is to be stopped.
 */
struct rst_region {
	uint64_t start, len;
	int32_t stop_signo;		/* 0: it runs on */
	int32_t pad;
};

/* The service fds, at ctx->svc_base + these: the controller's own. */
enum svc_fd {
	SVC_LOG,
	SVC_IMAGES,
	SVC_PROC,
	SVC_NS_CWD,		/* stasis's cwd while it is in the tree's namespaces */
	SVC_NS_NET,		/* the tree's new net namespace (src/ns/ns.c) */
	SVC_NS_USER,		/* the tree's new user namespace, for its root (src/ns/user.c) */
	SVC_NS_OWN,		/* its own namespaces, one a kind (src/ns/ns.c) */
	SVC_FDS = 16,
};

/* One process of the tree. */
struct rst_task {
	pid_t pid, ppid, pgid, sid;	/* as the tree sees them: the images' */
	/*
	 * The pid stasis sees it by, in its own pid namespace: what the
	 * controller acts on (/proc, ptrace, kill, wait).  Equal to pid unless
	 * the root has a pid namespace of its own (ns/pid.c); 0 until known.
	 */
	pid_t real;
	struct rst_task *parent;	/* who forks it; NULL for the root */
	pid_t fork_ppid;		/* 0, or the session helper forking it (pstree.c) */
	pid_t born_sid;			/* 0, or the session it forks children in before its setsid */
	size_t nr_threads;
	pid_t *tids;			/* tids[0] == pid */
	CoreEntry **cores;		/* one per thread, same order as tids */
	TaskKobjIdsEntry *ids;
	bool zombie;			/* also true for a helper: it ends as one */
	bool helper;			/* not dumped: made to rebuild a group or session (pstree.c) */
	bool tid_unsure;		/* pstree.img gave another thread id: only a zombie may */
	int exit_code;			/* a zombie's, as wait() reports it */
	int stop_signo;			/* TASK_STOPPED at dump time: the stop signal */

	/* Memory (mem-restore.c). */
	MmEntry *mm;
	void *mem_priv;

	/* Files (files/files.c). */
	FsEntry *fs;
	FdinfoEntry **fds;		/* sorted by fd number */
	size_t nr_fds;
	struct rst_task *fdt_owner;	/* files/fdt.c: who installs its fd table */
	bool fdt_shared;		/* its fd table is several tasks' */

	int index;			/* in ctx->tasks, also its slot in the shared area */
};

/* One files.img entry, and its object in the pool once opened. */
struct rst_file {
	FileEntry *fe;
	int fd;				/* pool fd, -1 while not opened */
	bool deferred;			/* fd: where a task gets the file (files/procpath.c) */
};

struct rst_ctx {
	const struct opts *opts;
	int dirfd;			/* the images directory (a service fd) */
	struct rst_task *tasks;		/* in pstree order, the root first */
	size_t nr_tasks;

	struct rst_file *files;		/* files.img, sorted by id */
	size_t nr_files;

	int svc_base;			/* first service fd (enum svc_fd): above every task's fds */
	int pool_base;			/* first pool fd */
	int pool_next;			/* where the next pool fd goes */

	struct rst_shared *shared;	/* the area all restored tasks see */
	struct rst_region *regions;	/* shared, one per task (t->index) */
	void *finish_priv;		/* restore-finish.c's tracing state */
	pid_t controller;		/* stasis itself: the root's parent */
	pid_t controller_parent;	/* the root's parent: stasis, or ours (sibling) */
	uint64_t forked_us;		/* when every task existed (stats-restore) */
	uint64_t pages_restored;	/* pages the restorers read from the images */
	void *files_priv;		/* files/files.c's bookkeeping */
	int32_t *fdt_ready;		/* files/fdt.c: per owner, two futex words */
	void *seccomp;			/* seccomp.c: seccomp.img, NULL if none */
	char run_id[40];		/* the dump's id (inventory), "" if it had none */
	unsigned int network_lock;	/* the dump's lock method (inventory), else --network-lock */
};

/*
 * The region a task's restorer runs from is filled front to back; what
 * goes in is counted first (the *_restore_size() functions), so running
 * out is a bug in that count, and aborts.
 */
struct rst_args;
struct rst_alloc {
	uint8_t *base;
	size_t size, used;
};

/* @size zeroed bytes aligned to @align (a power of two) from @al. */
void *rst_alloc(struct rst_alloc *al, size_t size, size_t align);

/* The task with pid @pid, or NULL. */
struct rst_task *rst_task_by_pid(struct rst_ctx *ctx, pid_t pid);

/* The files.img entry with @id, or NULL. */
struct rst_file *rst_file_by_id(struct rst_ctx *ctx, uint32_t id);

/*
 * Move @fd into the pool (closing @fd) and return the pool number, or
 * -errno.  Pool fds are not close-on-exec: tasks inherit them by fork.
 */
int rst_pool_add(struct rst_ctx *ctx, int fd);

/*
 * /proc/self/@what opened for reading, through a /proc kept as a service
 * fd: a task whose root the restore has changed (chroot) still reaches it.
 */
FILE *rst_fopen_self(const char *what);
/*
 * As rst_fopen_self(), an fd opened with @flags: also for the controller
 * while it is inside the tree's mount namespace, whose /proc (if any)
 * belongs to the tree's pid namespace.
 */
int rst_open_self(const char *what, int flags);
/* Keep /proc at service fd @at for rst_fopen_self(); 0 or -errno. */
int rst_keep_proc(int at);

#endif
