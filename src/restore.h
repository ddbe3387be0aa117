/*
 * restore.h - what the pieces of a restore share.
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
#ifndef STASIS_RESTORE_H
#define STASIS_RESTORE_H

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

/* One process of the tree. */
struct rst_task {
	pid_t pid, ppid, pgid, sid;
	struct rst_task *parent;	/* NULL for the root */
	size_t nr_threads;
	pid_t *tids;			/* tids[0] == pid */
	CoreEntry **cores;		/* one per thread, same order as tids */
	TaskKobjIdsEntry *ids;
	bool zombie;			/* also true for a helper: it ends as one */
	bool helper;			/* not dumped: made to rebuild a group (pstree.c) */
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

	int svc_base;			/* first service fd: above every task's fds */
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
 * restore-finish.c, in the controller.  Once every task is ready, and
 * before the stage that lets them run: seize every thread of every live
 * task.  Then, once they run: catch each thread at the exit of its last
 * rt_sigreturn, unmap the task's restorer region, stop it if it was
 * stopped, and detach.  A failure leaves the threads traced and stopped;
 * the caller kills the tree, which frees what is left.
 */
int finish_seize(struct rst_ctx *ctx);
int finish_release(struct rst_ctx *ctx);
void finish_free(struct rst_ctx *ctx);


/*
 * /proc/self/@what opened for reading, through a /proc kept as a service
 * fd: a task whose root the restore has changed (chroot) still reaches it.
 */
FILE *rst_fopen_self(const char *what);

/*
 * files/files.c, in the controller: read files.img, and the fdinfo and
 * fs images of every task into t->fds and t->fs.
 */
int files_restore_read(struct rst_ctx *ctx);

/*
 * Then, once the pool's place is known, open in it every object a task
 * needs at its fds, cwd and root.
 */
int files_restore_prepare(struct rst_ctx *ctx);

/*
 * The pool fd of files.img entry @id, opening it on first use; -errno if
 * the object cannot be had (the error says which file and why).
 */
int files_restore_open(struct rst_ctx *ctx, uint32_t id);

/*
 * files/files.c, in the restored task: put every fd in place (number,
 * close-on-exec flag).  The pool stays open: the memory restore still
 * maps from it.
 */
int files_restore_task(struct rst_ctx *ctx, struct rst_task *t);
/* files/locks.c: room for, and the list of, @t's POSIX locks in the restorer's args. */
size_t locks_restore_size(struct rst_ctx *ctx, const struct rst_task *t);
int locks_restore_args(struct rst_ctx *ctx, const struct rst_task *t, struct rst_args *a,
		       struct rst_alloc *al);
/*
 * In the controller, once every task is ready and just before the tree
 * runs: start what counts time (timerfds), so that the restore itself
 * does not use up what was left of it.
 */
int files_restore_arm(struct rst_ctx *ctx);

/*
 * files/procpath.c, in the controller once every task exists: open the
 * /proc files of the tree's tasks and send them to the tasks that hold them.
 */
int procpath_restore_send(struct rst_ctx *ctx);
/* files/linkremap.c: once the tree runs, the names link remaps were opened by go. */
void linkremap_restore_finish(struct rst_ctx *ctx);
/* Once every task is through its files, or on failure: the helpers of dead pids go. */
void procpath_helpers_stop(struct rst_ctx *ctx);

/*
 * files/fdt.c: fd tables shared by several tasks.  prepare (in the
 * controller) finds each table's owner; a task that shares its parent's
 * table is forked with fdt_clone_flags() and, in files_restore_task(),
 * installs nothing: it joins (fdt_restore_join) and waits for the owner,
 * which gathers its table's tasks first and says when it is done.
 */
int fdt_restore_prepare(struct rst_ctx *ctx);
uint64_t fdt_clone_flags(const struct rst_task *t);
bool fdt_restore_owns(const struct rst_task *t);
int fdt_restore_join(struct rst_ctx *ctx, struct rst_task *t);
void fdt_restore_gather(struct rst_ctx *ctx, struct rst_task *t);
void fdt_restore_done(struct rst_ctx *ctx, struct rst_task *t);
void fdt_restore_cleanup(struct rst_ctx *ctx);

/*
 * files/fs.c, in the restored task, as the last step before the
 * restorer: its root (chroot), cwd and umask.
 */
int fs_restore_task(struct rst_ctx *ctx, struct rst_task *t);

void files_restore_cleanup(struct rst_ctx *ctx);

struct rst_range;

/* pstree.c: pstree.img and ids-PID.img into ctx->tasks. */
int pstree_restore_read(struct rst_ctx *ctx);
/*
 * pstree.c, once every core is read: a helper task for each process
 * group whose leader is not in the tree (pid = the group's id).
 */
int pstree_add_helpers(struct rst_ctx *ctx);

/*
 * mem-restore.c, in the controller: mm-PID.img and the pagemap; a pages image
 * shorter than its pagemap fails here, before anything runs.
 */
int mem_restore_read(struct rst_ctx *ctx, struct rst_task *t);
void mem_restore_free(struct rst_task *t);
/* In the controller, before the fork: the exe and every mapped file or memfd. */
int mem_restore_open_files(struct rst_ctx *ctx, struct rst_task *t);
/* In the task: open what the areas map and plan the vdso's move. */
int mem_restore_plan(struct rst_ctx *ctx, struct rst_task *t);
/* Bytes mem_restore_args() takes from the region, at most. */
size_t mem_restore_size(struct rst_task *t);
/* An address for a region of @size bytes, free here and in the image. */
int mem_restore_hole(struct rst_task *t, size_t size, uint64_t *addr);
/* The restorer's memory part: areas, page runs, moves, mm fields. */
int mem_restore_args(struct rst_task *t, struct rst_args *a, struct rst_alloc *al,
		     const struct rst_range *region);
int mem_restore_exe(struct rst_ctx *ctx, struct rst_task *t, struct rst_args *a);

#endif
