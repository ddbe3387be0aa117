/*
 * core.h - a task's core image (core-TID.img): registers, signal state,
 * credentials, limits, scheduling, timers.  One image per thread; the
 * group leader's also carries what the whole process shares (tc).
 */
#ifndef STASIS_CORE_H
#define STASIS_CORE_H

#include "dump-ctx.h"

/*
 * Read what ptrace and /proc tell of every thread of @t: call it while the
 * task is seized but before compel_prepare() blocks its signals.
 */
int core_gather_task(struct dump_ctx *ctx, struct dump_task *t);

/* The parasite's first answer (GET_TASK), asked on the tracer. */
int core_dump_infected(struct dump_ctx *ctx, struct dump_task *t);
/*
 * Ask the task the rest (t->ctl has the parasite running in it) and write
 * the core image of each thread.  Frees what core_gather_task() kept.
 */
int core_dump_task(struct dump_ctx *ctx, struct dump_task *t);

/* Free what core_gather_task() kept, when the dump stops half way. */
void core_cleanup_task(struct dump_task *t);

/* A zombie has a core image too: its state and exit code. */
int core_dump_zombie(struct dump_ctx *ctx, struct dump_task *t);

/* --- restore --- */
struct rst_ctx;
struct rst_task;
struct rst_args;
struct rst_alloc;

/* In the controller: every thread's core image; zombies and stopped tasks marked. */
int core_restore_read(struct rst_ctx *ctx, struct rst_task *t);

/* In the restored task: sigactions, personality, subreaper. */
int core_restore_task(struct rst_task *t);

/* Bytes core_restore_args() takes from the region, at most. */
size_t core_restore_size(struct rst_task *t);

/*
 * The restorer's per-thread part: a signal frame with each thread's
 * registers, its TLS, rseq, robust list, creds, pending signals; and the
 * process's timers, rlimits and shared pending signals.
 */
int core_restore_args(struct rst_task *t, struct rst_args *a, struct rst_alloc *al);

/* CRIU's values in core images: a task's state, and the size of a siginfo. */
#define TASK_ALIVE	1
#define TASK_DEAD	2
#define TASK_STOPPED	3
#define SIGINFO_SIZE	128

#endif
