/*
 * parts.h - the parts of a task that are not fds: its core (registers,
 * signals, credentials, timers, limits), its memory, its fd table as a
 * whole, its ids, its seccomp filters, ... (files/kind.h has the fds).
 *
 * Each part is one const struct task_part_ops, named once in parts.c's
 * table.  The pipelines walk that table at fixed points and call every
 * hook a part has, in table order; a NULL hook is skipped.  Hooks return
 * 0 or -errno and log why; the first failure stops the walk.
 *
 * Dump (dump.c), for each task of the tree:
 *   dump_gather   seized, before the parasite blocks its signals
 *   dump_infected the parasite just started: what is asked of it first,
 *                 on the thread tracing the tree
 *   dump_task     with the parasite in it (t->ctl), maybe on a second
 *                 thread of ours (dump-pipe.c): ptrace and parasite
 *                 commands go through dump_on_tracer()
 *   dump_done     after dump_task, or instead of it on failure: free
 *                 what dump_gather kept (always called)
 *   dump_zombie   a zombie, which has no parasite
 * then, once for the dump:
 *   dump_finish   after every task: what is collected across tasks
 *   dump_undo     a failed dump, before the tree resumes
 *   dump_cleanup  always, at the end
 *
 * Restore (restore.c), in the controller:
 *   read_task     each task's images, once the tree is read (pstree.img);
 *                 zombies too
 *   read          the images of the whole tree, after every read_task
 *   collect       once the tree is complete (helpers added) and checked:
 *                 what decides where the fds go
 *   prepare       once the pool's place is known, before the fork: open
 *                 what tasks share
 *   arm           every task ready, just before the tree runs
 *   finish        the tree runs
 *   cleanup       always, at the end; free_task for each task
 * in every restored task (zombies and helpers too), once it exists:
 *   before_fork   before it forks its children, which inherit what it made
 * and in each restored task (not zombies nor helpers), in this order:
 *   task          before its fds
 *   fds           its fds
 *   after_fds     every fd in place (registrations on fds)
 *   args_size, args   its part of the restorer's region and arguments
 *   last          just before the restorer (root and cwd)
 *
 * Namespaces, cgroups and SysV IPC go in the table as parts of their own
 * (a slot is marked there): their hooks run before every other part's,
 * so that what lives inside a namespace is made inside it.
 */
#ifndef STASIS_PARTS_H
#define STASIS_PARTS_H

#include <stddef.h>

#include "dump-ctx.h"
#include "rst-ctx.h"

struct rst_args;
struct rst_alloc;
struct rst_range;

struct task_part_ops {
	const char *name;
	/* What a restored task says it could not do when a hook fails. */
	const char *fail;

	int (*dump_gather)(struct dump_ctx *ctx, struct dump_task *t);
	int (*dump_infected)(struct dump_ctx *ctx, struct dump_task *t);
	int (*dump_task)(struct dump_ctx *ctx, struct dump_task *t);
	void (*dump_done)(struct dump_task *t);
	int (*dump_zombie)(struct dump_ctx *ctx, struct dump_task *t);
	int (*dump_finish)(struct dump_ctx *ctx);
	void (*dump_undo)(struct dump_ctx *ctx);
	void (*dump_cleanup)(struct dump_ctx *ctx);

	int (*read_task)(struct rst_ctx *ctx, struct rst_task *t);
	int (*read)(struct rst_ctx *ctx);
	int (*collect)(struct rst_ctx *ctx);
	int (*prepare)(struct rst_ctx *ctx);
	int (*arm)(struct rst_ctx *ctx);
	void (*finish)(struct rst_ctx *ctx);
	void (*cleanup)(struct rst_ctx *ctx);
	void (*free_task)(struct rst_task *t);

	int (*before_fork)(struct rst_ctx *ctx, struct rst_task *t);
	int (*task)(struct rst_ctx *ctx, struct rst_task *t);
	int (*fds)(struct rst_ctx *ctx, struct rst_task *t);
	int (*after_fds)(struct rst_ctx *ctx, struct rst_task *t);
	size_t (*args_size)(struct rst_ctx *ctx, struct rst_task *t);
	int (*args)(struct rst_ctx *ctx, struct rst_task *t, struct rst_args *a,
		    struct rst_alloc *al, const struct rst_range *region);
	int (*last)(struct rst_ctx *ctx, struct rst_task *t);
};

/* The parts, each defined in its object's file. */
extern const struct task_part_ops core_part, task_misc_part, mem_part, files_part;
extern const struct task_part_ops lazy_part, ids_part, locks_part, seccomp_part, fs_part;
extern const struct task_part_ops cgroup_part;

/* Dump: every part's hook of that name, in table order. */
int parts_dump_gather(struct dump_ctx *ctx, struct dump_task *t);
int parts_dump_infected(struct dump_ctx *ctx, struct dump_task *t);
int parts_dump_task(struct dump_ctx *ctx, struct dump_task *t, int (*step)(const char *));
void parts_dump_done(struct dump_task *t);
int parts_dump_zombie(struct dump_ctx *ctx, struct dump_task *t);
int parts_dump_finish(struct dump_ctx *ctx);
void parts_dump_undo(struct dump_ctx *ctx);
void parts_dump_cleanup(struct dump_ctx *ctx);

/* Restore, in the controller. */
int parts_read(struct rst_ctx *ctx);
int parts_collect(struct rst_ctx *ctx);
int parts_prepare(struct rst_ctx *ctx);
int parts_arm(struct rst_ctx *ctx);
void parts_finish(struct rst_ctx *ctx);
void parts_cleanup(struct rst_ctx *ctx);

/*
 * Restore, in the task.  On failure *@fail says what the task could not
 * do (the failing part's words).
 */
int parts_before_fork(struct rst_ctx *ctx, struct rst_task *t, const char **fail);
int parts_task(struct rst_ctx *ctx, struct rst_task *t, const char **fail);
size_t parts_args_size(struct rst_ctx *ctx, struct rst_task *t);
int parts_args(struct rst_ctx *ctx, struct rst_task *t, struct rst_args *a,
	       struct rst_alloc *al, const struct rst_range *region, const char **fail);
int parts_last(struct rst_ctx *ctx, struct rst_task *t, const char **fail);

#endif
