/*
 * mem-fill.c - the restorer's fill of a big task on two cores.
 *
 * Most of the time of a big fill goes to the kernel allocating and
 * zeroing frames (MADV_POPULATE_WRITE), the rest to the copy from the
 * pages image; a second thread doing both for half of the pages makes
 * it nearly twice as fast on a machine with two idle cores.  The
 * restorer's runs are cut in two halves of the bytes (one run split at
 * the middle if need be) and the blob starts a thread for the second.
 *
 * That thread needs a TID in the task's pid namespace while the tree's
 * own threads do not exist yet: one the kernel would pick could be
 * one they are to get back.  So the blob asks for a TID of ours
 * (clone3 set_tid), chosen here above every pid and TID of the images,
 * one set of candidates per task so that tasks filling at the same time
 * do not ask for the same; a candidate someone else holds fails with
 * EEXIST and the next is tried; none granted, the leader reads
 * everything alone.  The thread has exited before the task's threads
 * are made, and an allocation at a given TID leaves the namespace's
 * next pid (ns_last_pid) where it was.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "mem-restore.h"
#include "mem-rst.h"
#include "restorer.h"
#include "rst-ctx.h"

/*
 * Smaller fills are left to the leader: a thread costs more than it
 * saves.  A build may lower it (-DFILL_SPLIT_MIN=4096: every task with
 * two pages splits), to run a whole suite through the helper.
 */
#ifndef FILL_SPLIT_MIN
#define FILL_SPLIT_MIN	(16ULL << 20)
#endif
/* Where a run is cut: a huge page is then filled by one thread. */
#define FILL_SPLIT_ALIGN	(2ULL << 20)
#define PAGE_SZ		4096ULL
#define PID_MAX_DEFAULT	32768

/* Room for the helper's stack; mem_restore_args() leaves room for one run more. */
size_t mem_fill_size(void)
{
	return RST_THREAD_STACK + 64;
}

static pid_t pid_max(void)
{
	FILE *f = fopen("/proc/sys/kernel/pid_max", "r");
	int v = 0;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v > 0 ? v : PID_MAX_DEFAULT;
}

static bool image_pid(const struct rst_ctx *ctx, pid_t pid)
{
	for (size_t i = 0; i < ctx->nr_tasks; i++) {
		const struct rst_task *t = &ctx->tasks[i];

		if (t->pid == pid || t->pgid == pid || t->sid == pid)
			return true;
		for (size_t k = 0; k < t->nr_threads; k++) {
			if (t->tids[k] == pid)
				return true;
		}
	}
	return false;
}

/* RST_HELPER_TIDS candidates for @t, none a pid of the images; false if none. */
static bool pick_tids(const struct rst_ctx *ctx, const struct rst_task *t, int32_t *tids)
{
	pid_t top = 0, max = pid_max(), p;
	int n = 0;

	for (size_t i = 0; i < ctx->nr_tasks; i++) {
		const struct rst_task *o = &ctx->tasks[i];

		for (size_t k = 0; k < o->nr_threads; k++)
			top = o->tids[k] > top ? o->tids[k] : top;
		top = o->pid > top ? o->pid : top;
	}
	p = top + 1 + t->index * RST_HELPER_TIDS;
	/* Past pid_max: from below, between the images' pids. */
	if (p < top || p + RST_HELPER_TIDS >= max)
		p = 300 + t->index * RST_HELPER_TIDS;
	for (; n < RST_HELPER_TIDS && p < max; p++) {
		if (!image_pid(ctx, p))
			tids[n++] = p;
	}
	return n > 0;
}

int mem_fill_args(const struct rst_ctx *ctx, struct rst_task *t, struct rst_args *a,
		  struct rst_alloc *al)
{
	uint64_t total = 0, half, sum = 0;
	uint32_t i;

	for (i = 0; i < a->nr_runs; i++)
		total += a->runs[i].len;
	if (total < FILL_SPLIT_MIN || !pick_tids(ctx, t, a->helper_tids))
		return 0;
	half = total / 2 & ~(PAGE_SZ - 1);
	for (i = 0; sum + a->runs[i].len <= half; i++)
		sum += a->runs[i].len;
	/* runs[i] holds the middle byte: cut it there, on a huge page's edge if it can. */
	if (sum < half) {
		struct rst_run *r = &a->runs[i];
		uint64_t cut = (r->addr + (half - sum) + FILL_SPLIT_ALIGN / 2) & ~(FILL_SPLIT_ALIGN - 1);

		if (cut <= r->addr || cut >= r->addr + r->len)
			cut = r->addr + (half - sum);
		/* mem_restore_args() left room for one run more. */
		memmove(r + 1, r, (a->nr_runs - i) * sizeof(*r));
		r[0].len = cut - r->addr;
		r[1].addr = cut;
		r[1].off += r[0].len;
		r[1].len -= r[0].len;
		a->nr_runs++;
		i++;
	}
	a->fill_split = i;
	a->helper_stack_top = (uintptr_t)rst_alloc(al, RST_THREAD_STACK, 64) + RST_THREAD_STACK;
	pr_debug("pid %d: %" PRIu64 " MiB of pages read on two cores, from run %u of %u",
		 t->pid, total >> 20, i, a->nr_runs);
	return 0;
}
