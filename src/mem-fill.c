/*
 * mem-fill.c - the restorer's fill of a big task on several cores.
 *
 * Most of the time of a big fill goes to the kernel allocating and
 * zeroing frames (MADV_POPULATE_WRITE), the rest to the copy from the
 * pages image; threads doing both for a part of the pages each divide
 * it nearly by their number, up to the cores there are.  The restorer's
 * runs are cut in as many parts of equal bytes as the task may use CPUs
 * (RST_FILL_PARTS at most, FILL_PART_MIN each at least), a run cut where
 * a part ends, and the blob starts a thread for each part but the first.
 *
 * Those threads need TIDs in the task's pid namespace while the tree's
 * own threads do not exist yet: one the kernel would pick could be one
 * they are to get back.  So the blob asks for TIDs of ours (clone3
 * set_tid), chosen here above every pid and TID of the images, one set
 * per task so that tasks filling at the same time do not ask for the
 * same; a candidate someone else holds fails with EEXIST and the next is
 * tried; a part left without a thread is read by the leader.  The
 * threads have exited before the task's threads are made, and an
 * allocation at a given TID leaves the namespace's next pid
 * (ns_last_pid) where it was.
 */
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "mem-restore.h"
#include "mem-rst.h"
#include "restorer.h"
#include "rst-ctx.h"

/*
 * A smaller part is left to another thread: a thread costs more than it
 * saves.  A build may lower it (-DFILL_PART_MIN=4096: every task with
 * two pages is cut), to run a whole suite through the threads.
 */
#ifndef FILL_PART_MIN
#define FILL_PART_MIN	(8ULL << 20)
#endif
/* Where a run is cut: a huge page is then filled by one thread. */
#define FILL_CUT_ALIGN	(2ULL << 20)
#define PAGE_SZ		4096ULL
#define PID_MAX_DEFAULT	32768

/* Room for the threads' stacks; mem_restore_args() leaves room for the runs cut. */
size_t mem_fill_size(void)
{
	return (RST_FILL_PARTS - 1) * (RST_THREAD_STACK + 64);
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

/* The CPUs this task may run on, as many parts at most. */
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
 * The index of the run that starts @at bytes into the runs: one is cut
 * in two there if need be (a slot was left for it), on a huge page's
 * edge where it can.
 */
static uint32_t cut_at(struct rst_args *a, uint64_t at)
{
	uint64_t sum = 0, cut;
	struct rst_run *r;
	uint32_t i;

	for (i = 0; i < a->nr_runs && sum + a->runs[i].len <= at; i++)
		sum += a->runs[i].len;
	if (sum == at || i == a->nr_runs)
		return i;
	r = &a->runs[i];
	cut = (r->addr + (at - sum) + FILL_CUT_ALIGN / 2) & ~(FILL_CUT_ALIGN - 1);
	if (cut <= r->addr || cut >= r->addr + r->len)
		cut = r->addr + (at - sum);
	memmove(r + 1, r, (a->nr_runs - i) * sizeof(*r));
	r[0].len = cut - r->addr;
	r[1].addr = cut;
	r[1].off += r[0].len;
	r[1].len -= r[0].len;
	a->nr_runs++;
	return i + 1;
}

int mem_fill_args(const struct rst_ctx *ctx, struct rst_task *t, struct rst_args *a,
		  struct rst_alloc *al)
{
	uint64_t total = 0, nr;
	uint32_t k, from = 0;

	for (uint32_t i = 0; i < a->nr_runs; i++)
		total += a->runs[i].len;
	nr = total / FILL_PART_MIN;
	nr = nr < RST_FILL_PARTS ? nr : RST_FILL_PARTS;
	nr = nr < nr_cpus() ? nr : nr_cpus();
	if (nr < 2 || !pick_tids(ctx, t, a->helper_tids))
		return 0;
	for (k = 0; k < nr; k++) {
		uint32_t to = k + 1 < nr ? cut_at(a, total * (k + 1) / nr & ~(PAGE_SZ - 1)) :
					   a->nr_runs;

		a->fill[k] = (struct rst_fill_part){ .from = from, .to = to };
		if (k)
			a->fill[k].stack_top = (uintptr_t)rst_alloc(al, RST_THREAD_STACK, 64) +
					       RST_THREAD_STACK;
		from = to;
	}
	a->nr_fill = (uint32_t)nr;
	pr_debug("pid %d: %" PRIu64 " MiB of pages read by %u threads, %u runs", t->pid,
		 total >> 20, a->nr_fill, a->nr_runs);
	return 0;
}
