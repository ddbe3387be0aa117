/*
 * fdt.c - fd tables shared by several tasks (clone with CLONE_FILES).
 *
 * Tasks that share a table have one files_id and one fdinfo image.  At
 * restore the table is shared again: a task whose parent has its
 * files_id is forked with CLONE_FILES, and only the table's owner (its
 * first task down the tree) puts the fds in place.  The fds each task
 * keeps for its restorer (pages image, mapped files) must not be where
 * the owner dup3()s or closes, so:
 *   - the owner installs only once every other task of the table has
 *     moved what it keeps above the pool (fdt_restore_join), and they
 *     open nothing more until it is done;
 *   - the pool is closed after GO, not when one restorer is through:
 *     every task of the table maps its files from those fds.
 */
#include <errno.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "rst-ctx.h"

static bool same_table(const struct rst_task *a, const struct rst_task *b)
{
	return a->ids && b->ids && a->ids->files_id == b->ids->files_id;
}

int fdt_restore_prepare(struct rst_ctx *ctx)
{
	size_t size = 2 * ctx->nr_tasks * sizeof(*ctx->fdt_ready);
	bool shared = false;

	for (size_t i = 0; i < ctx->nr_tasks; i++) {
		struct rst_task *t = &ctx->tasks[i];

		/* pstree order: a parent comes before its children. */
		t->fdt_owner = t->parent && same_table(t, t->parent) ? t->parent->fdt_owner : t;
		if (t->fdt_owner != t)
			t->fdt_owner->fdt_shared = t->fdt_shared = shared = true;
	}
	for (size_t i = 0; i < ctx->nr_tasks; i++) {
		for (size_t j = 0; j < i; j++) {
			struct rst_task *a = &ctx->tasks[j], *b = &ctx->tasks[i];

			if (same_table(a, b) && a->fdt_owner != b->fdt_owner) {
				pr_err("unsupported: pids %d and %d share an fd table that neither's parent has",
				       a->pid, b->pid);
				return -ENOTSUP;
			}
		}
	}
	if (!shared)
		return 0;
	ctx->fdt_ready = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			      -1, 0);
	if (ctx->fdt_ready == MAP_FAILED) {
		ctx->fdt_ready = NULL;
		pr_perror("cannot map the fd tables' flags");
		return -errno;
	}
	return 0;
}

uint64_t fdt_clone_flags(const struct rst_task *t)
{
	return t->fdt_owner && t->fdt_owner != t ? CLONE_FILES : 0;
}

static void wait_for(int32_t *word, int32_t want)
{
	int32_t v;

	while ((v = __atomic_load_n(word, __ATOMIC_ACQUIRE)) < want)
		syscall(SYS_futex, word, FUTEX_WAIT, v, NULL, NULL, 0);
}

static void add_wake(int32_t *word)
{
	__atomic_add_fetch(word, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, word, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

/* fdt_ready[]: per owner, the tasks of its table through their plan, then "installed". */
static int32_t *joined(struct rst_ctx *ctx, const struct rst_task *owner)
{
	return &ctx->fdt_ready[2 * owner->index];
}

static int32_t *installed(struct rst_ctx *ctx, const struct rst_task *owner)
{
	return &ctx->fdt_ready[2 * owner->index + 1];
}

/*
 * In a task that shares its parent's table, with what it keeps moved
 * above the pool: tell the owner, wait until it has put the fds in
 * place.  Should the owner fail, the controller kills the tree, this
 * task with it.
 */
int fdt_restore_join(struct rst_ctx *ctx, struct rst_task *t)
{
	add_wake(joined(ctx, t->fdt_owner));
	wait_for(installed(ctx, t->fdt_owner), 1);
	return 0;
}

/* In the owner of a shared table: wait for the others before installing. */
void fdt_restore_gather(struct rst_ctx *ctx, struct rst_task *t)
{
	int32_t others = 0;

	if (!t->fdt_shared)
		return;
	for (size_t i = t->index + 1; i < ctx->nr_tasks; i++)
		others += ctx->tasks[i].fdt_owner == t && !ctx->tasks[i].zombie;
	wait_for(joined(ctx, t), others);
}

/* In the owner of a shared table: its fds are in place. */
void fdt_restore_done(struct rst_ctx *ctx, struct rst_task *t)
{
	if (t->fdt_shared)
		add_wake(installed(ctx, t));
}

bool fdt_restore_owns(const struct rst_task *t)
{
	return !t->fdt_owner || t->fdt_owner == t;
}

void fdt_restore_cleanup(struct rst_ctx *ctx)
{
	if (ctx->fdt_ready)
		munmap(ctx->fdt_ready, 2 * ctx->nr_tasks * sizeof(*ctx->fdt_ready));
	ctx->fdt_ready = NULL;
}
