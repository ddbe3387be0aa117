/*
 * mem-fill.c - the restorer's fill of a big task on several cores.
 *
 * Most of the time of a big fill goes to the kernel allocating and
 * zeroing frames (MADV_POPULATE_WRITE), the rest to the copy from the
 * pages image; threads doing both for a part of the pages each divide
 * it nearly by their number, up to the cores there are.  The restorer's
 * runs are cut in slices of about FILL_SLICE bytes (a run cut on a huge
 * page's edge where a slice ends), and as many threads as the task may
 * use CPUs (RST_FILL_THREADS at most, FILL_PART_MIN bytes each at least)
 * take the next slice in turn: on a busy machine, a thread left waiting
 * holds up one slice, not half of the fill.
 *
 * The threads need TIDs in the task's pid namespace while the tree's
 * own threads do not exist yet: one the kernel would pick could be one
 * they are to get back.  So the blob asks for TIDs of ours (clone3
 * set_tid), chosen here above every pid and TID of the images, one set
 * per task so that tasks filling at the same time do not ask for the
 * same; a candidate someone else holds fails with EEXIST and the next is
 * tried; a thread that gets none leaves its share to the others.  The
 * threads have exited before the task's threads are made, and an
 * allocation at a given TID leaves the namespace's next pid
 * (ns_last_pid) where it was.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"
#include "mem-restore.h"
#include "mem-rst.h"
#include "restorer.h"
#include "rst-ctx.h"

/*
 * A share smaller than FILL_PART_MIN is left to the other threads: a
 * thread costs more than it saves.  A build may lower it
 * (-DFILL_PART_MIN=4096: every task with two pages gets two threads), to
 * run a whole suite through them.
 */
#ifndef FILL_PART_MIN
#define FILL_PART_MIN	(8ULL << 20)
#endif
#define FILL_SLICE	(4ULL << 20)
/* Where a run is cut: a huge page is then filled by one thread. */
#define FILL_CUT_ALIGN	(2ULL << 20)
#define PID_MAX_DEFAULT	32768

static uint64_t runs_bytes(const struct rst_run *r, uint32_t nr)
{
	uint64_t total = 0;

	for (uint32_t i = 0; i < nr; i++)
		total += r[i].len;
	return total;
}

/*
 * Slices at most: each but the last is at least FILL_SLICE less the
 * alignment, and each cuts one run at most; so many more runs too.
 */
uint32_t mem_fill_slices(const struct mem_rst *m)
{
	return (uint32_t)(runs_bytes(m->runs, m->nr_runs) / (FILL_SLICE - FILL_CUT_ALIGN)) + 1;
}

/* Room for the threads' stacks and the slices; mem_restore_args() leaves room for the runs. */
size_t mem_fill_size(const struct mem_rst *m)
{
	return (RST_FILL_THREADS - 1) * (RST_THREAD_STACK + 64) +
	       (mem_fill_slices(m) + 1) * sizeof(uint32_t) + 8;
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

/* The CPUs this task may run on: as many threads at most. */
static uint32_t nr_cpus(void)
{
	cpu_set_t set;
	int n;

	if (sched_getaffinity(0, sizeof(set), &set))
		return 1;
	n = CPU_COUNT(&set);
	return n > 0 ? (uint32_t)n : 1;
}

/*
 * Cut @a's runs in slices into @sl, in one pass from a copy of them;
 * the number of slices, which mem_fill_slices() bounds, as the runs added.
 */
static uint32_t cut_slices(struct rst_args *a, const struct rst_run *old, uint32_t nr_old,
			   uint32_t *sl)
{
	uint32_t n = 0, nr_sl = 0;
	uint64_t acc = 0;

	sl[0] = 0;
	for (uint32_t i = 0; i < nr_old; i++) {
		struct rst_run r = old[i];

		while (r.len) {
			uint64_t room = FILL_SLICE - acc, cut, piece;

			if (r.len < room) {
				a->runs[n++] = r;
				acc += r.len;
				break;
			}
			cut = (r.addr + room) & ~(FILL_CUT_ALIGN - 1);
			piece = cut > r.addr ? cut - r.addr : room;
			a->runs[n] = r;
			a->runs[n++].len = piece;
			r.addr += piece;
			r.off += piece;
			r.len -= piece;
			sl[++nr_sl] = n;
			acc = 0;
		}
	}
	if (acc)
		sl[++nr_sl] = n;
	a->nr_runs = n;
	return nr_sl;
}

int mem_fill_args(const struct rst_ctx *ctx, struct rst_task *t, struct rst_args *a,
		  struct rst_alloc *al)
{
	uint64_t total = runs_bytes(a->runs, a->nr_runs), nr;
	struct rst_run *old;

	nr = total / FILL_PART_MIN;
	nr = nr < RST_FILL_THREADS ? nr : RST_FILL_THREADS;
	nr = nr < nr_cpus() ? nr : nr_cpus();
	if (nr < 2 || !pick_tids(ctx, t, a->helper_tids))
		return 0;
	old = malloc(a->nr_runs * sizeof(*old));
	if (!old)
		return -ENOMEM;
	memcpy(old, a->runs, a->nr_runs * sizeof(*old));
	/* mem_fill_slices() of the same runs: room for so many. */
	a->slices = rst_alloc(al, (mem_fill_slices(t->mem_priv) + 1) * sizeof(uint32_t), 8);
	a->nr_slices = cut_slices(a, old, a->nr_runs, a->slices);
	free(old);
	for (uint32_t k = 1; k < nr; k++)
		a->fill[k].stack_top = (uintptr_t)rst_alloc(al, RST_THREAD_STACK, 64) +
				       RST_THREAD_STACK;
	a->nr_fill = (uint32_t)nr;
	pr_debug("pid %d: %" PRIu64 " MiB of pages read by %u threads, %u slices of %u runs",
		 t->pid, total >> 20, a->nr_fill, a->nr_slices, a->nr_runs);
	return 0;
}
