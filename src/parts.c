/*
 * parts.c - the table of task parts (parts.h), and the walks the
 * pipelines make over it.
 */
#include <stddef.h>

#include "log.h"
#include "parts.h"

/*
 * Table order is the order of every walk.  The core comes first: reading
 * it tells which tasks are zombies, and its sigactions and personality
 * are set before anything else in a restored task.  The fs part comes
 * last: a task moves into its root only once nothing more is opened by
 * path.
 */
static const struct task_part_ops *const parts[] = {
	/* Namespaces, cgroups, SysV IPC: here, before every other part. */
	&cgroup_part,
	&core_part,
	&task_misc_part,
	&mem_part,
	&lazy_part,
	&files_part,
	&ids_part,
	&locks_part,
	&seccomp_part,
	&fs_part,
};

#define NR_PARTS	(sizeof(parts) / sizeof(parts[0]))

/* Call @hook of every part that has it, with @args, until one fails. */
#define WALK(hook, ...)							\
	({								\
		int __ret = 0;						\
		for (size_t __i = 0; !__ret && __i < NR_PARTS; __i++)	\
			if (parts[__i]->hook)				\
				__ret = parts[__i]->hook(__VA_ARGS__);	\
		__ret;							\
	})

/* Call @hook of every part that has it; nothing can fail. */
#define WALK_VOID(hook, ...)						\
	do {								\
		for (size_t __i = 0; __i < NR_PARTS; __i++)		\
			if (parts[__i]->hook)				\
				parts[__i]->hook(__VA_ARGS__);		\
	} while (0)

/* As WALK, and on failure *@fail is the failing part's words. */
#define WALK_TASK(fail, hook, ...)					\
	({								\
		int __ret = 0;						\
		for (size_t __i = 0; !__ret && __i < NR_PARTS; __i++) {	\
			if (!parts[__i]->hook)				\
				continue;				\
			__ret = parts[__i]->hook(__VA_ARGS__);		\
			if (__ret)					\
				*(fail) = parts[__i]->fail;		\
		}							\
		__ret;							\
	})

int parts_dump_gather(struct dump_ctx *ctx, struct dump_task *t)
{
	return WALK(dump_gather, ctx, t);
}

int parts_dump_infected(struct dump_ctx *ctx, struct dump_task *t)
{
	return WALK(dump_infected, ctx, t);
}

/* After each part, @step may stop the dump (a signal, an injected fault). */
int parts_dump_task(struct dump_ctx *ctx, struct dump_task *t, int (*step)(const char *))
{
	int ret = 0;

	for (size_t i = 0; !ret && i < NR_PARTS; i++) {
		if (parts[i]->dump_task)
			ret = parts[i]->dump_task(ctx, t) ?: step(parts[i]->name);
	}
	return ret;
}

void parts_dump_done(struct dump_task *t)
{
	WALK_VOID(dump_done, t);
}

int parts_dump_zombie(struct dump_ctx *ctx, struct dump_task *t)
{
	return WALK(dump_zombie, ctx, t);
}

int parts_dump_finish(struct dump_ctx *ctx)
{
	return WALK(dump_finish, ctx);
}

void parts_dump_undo(struct dump_ctx *ctx)
{
	WALK_VOID(dump_undo, ctx);
}

void parts_dump_cleanup(struct dump_ctx *ctx)
{
	WALK_VOID(dump_cleanup, ctx);
}

int parts_read(struct rst_ctx *ctx)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < ctx->nr_tasks; i++)
		ret = WALK(read_task, ctx, &ctx->tasks[i]);
	return ret ?: WALK(read, ctx);
}

int parts_collect(struct rst_ctx *ctx)
{
	return WALK(collect, ctx);
}

int parts_prepare(struct rst_ctx *ctx)
{
	return WALK(prepare, ctx);
}

int parts_arm(struct rst_ctx *ctx)
{
	return WALK(arm, ctx);
}

void parts_finish(struct rst_ctx *ctx)
{
	WALK_VOID(finish, ctx);
}

void parts_cleanup(struct rst_ctx *ctx)
{
	WALK_VOID(cleanup, ctx);
	for (size_t i = 0; ctx->tasks && i < ctx->nr_tasks; i++)
		WALK_VOID(free_task, &ctx->tasks[i]);
}

int parts_before_fork(struct rst_ctx *ctx, struct rst_task *t, const char **fail)
{
	return WALK_TASK(fail, before_fork, ctx, t);
}

int parts_task(struct rst_ctx *ctx, struct rst_task *t, const char **fail)
{
	return WALK_TASK(fail, task, ctx, t) ?: WALK_TASK(fail, fds, ctx, t) ?:
	       WALK_TASK(fail, after_fds, ctx, t);
}

size_t parts_args_size(struct rst_ctx *ctx, struct rst_task *t)
{
	size_t size = 0;

	for (size_t i = 0; i < NR_PARTS; i++) {
		if (parts[i]->args_size)
			size += parts[i]->args_size(ctx, t);
	}
	return size;
}

int parts_args(struct rst_ctx *ctx, struct rst_task *t, struct rst_args *a,
	       struct rst_alloc *al, const struct rst_range *region, const char **fail)
{
	return WALK_TASK(fail, args, ctx, t, a, al, region);
}

int parts_last(struct rst_ctx *ctx, struct rst_task *t, const char **fail)
{
	return WALK_TASK(fail, last, ctx, t);
}
