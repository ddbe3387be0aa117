/*
 * core-restore.c - the core images at restore: each thread's registers,
 * signal mask, pending signals, sigaltstack, credentials, rseq and name,
 * and the process's sigactions, timers and limits, read by the controller
 * and handed to the restorer (restorer.h), which puts them back in the
 * task itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86/regs.h"
#include "core.h"
#include "core.pb-c.h"
#include "creds.pb-c.h"
#include "log.h"
#include "parts.h"
#include "proc.h"
#include "rst-ctx.h"
#include "restorer.h"
#include "rlimit.pb-c.h"
#include "sa.pb-c.h"
#include "siginfo.pb-c.h"
#include "task-misc.h"
#include "timer.pb-c.h"

/* --- restore --- */

static int read_core(struct rst_ctx *ctx, pid_t tid, CoreEntry **core)
{
	int ret;

	ret = img_read_one(ctx->dirfd, IMG_CORE, tid, &core_entry__descriptor,
			   (ProtobufCMessage **)core);
	if (ret == -ENOENT)
		pr_err("the core image of tid %d (core-%d.img) is missing", tid, tid);
	if (ret)
		return ret;
	if ((*core)->mtype != CORE_ENTRY__MARCH__X86_64) {
		pr_err("unsupported: core-%d.img is not of an x86_64 task", tid);
		return -ENOTSUP;
	}
	return 0;
}

int core_restore_read(struct rst_ctx *ctx, struct rst_task *t)
{
	TaskCoreEntry *tc;
	int ret;

	t->cores = calloc(t->nr_threads, sizeof(*t->cores));
	if (!t->cores)
		return -ENOMEM;
	for (size_t i = 0; i < t->nr_threads; i++) {
		ret = read_core(ctx, t->tids[i], &t->cores[i]);
		if (ret)
			return ret;
	}
	tc = t->cores[0]->tc;
	if (!tc) {
		pr_err("core-%d.img has no task state (tc)", t->pid);
		return -EINVAL;
	}
	switch (tc->task_state) {
	case TASK_ALIVE:
		break;
	case TASK_STOPPED:
		/* Images without it (or with no stop signal there) stopped on SIGSTOP. */
		t->stop_signo = SIGSTOP;
		if (tc->has_stop_signo && (tc->stop_signo == SIGTSTP || tc->stop_signo == SIGTTIN ||
					   tc->stop_signo == SIGTTOU))
			t->stop_signo = tc->stop_signo;
		break;
	case TASK_DEAD:
		t->zombie = true;
		t->exit_code = tc->exit_code;
		return 0;
	default:
		pr_err("unsupported: pid %d has task state %u", t->pid, tc->task_state);
		return -ENOTSUP;
	}
	if (t->tid_unsure) {
		pr_err("pstree.img: a malformed entry for pid %d (a thread id not its own)", t->pid);
		return -EINVAL;
	}
	if (!t->ids) {
		pr_err("ids-%d.img is missing", t->pid);
		return -ENOENT;
	}
	for (size_t i = 0; i < t->nr_threads; i++) {
		CoreEntry *c = t->cores[i];

		if (!c->thread_info || !c->thread_core) {
			pr_err("core-%d.img has no registers or thread state", t->tids[i]);
			return -EINVAL;
		}
	}
	return 0;
}

/* In the restored task, before the restorer: what stays across its work. */
int core_restore_task(struct rst_task *t)
{
	TaskCoreEntry *tc = t->cores[0]->tc;

	/* Raw: libc would put its own restorer and flags in. */
	for (size_t i = 0; i < tc->n_sigactions; i++) {
		SaEntry *e = tc->sigactions[i];
		struct {
			uint64_t handler, flags, restorer, mask;
		} ksa = { e->sigaction, e->flags, e->restorer, e->mask };
		int sig = i + 1 + (i + 1 >= SIGKILL) + (i + 2 >= SIGSTOP);

		if (syscall(SYS_rt_sigaction, sig, &ksa, NULL, 8)) {
			pr_perror("pid %d: restore the action of signal %d", t->pid, sig);
			return -errno;
		}
	}
	if (personality(tc->personality) == -1) {
		pr_perror("pid %d: restore personality %#x", t->pid, tc->personality);
		return -errno;
	}
	if (tc->has_child_subreaper && tc->child_subreaper &&
	    prctl(PR_SET_CHILD_SUBREAPER, 1)) {
		pr_perror("pid %d: become a child subreaper", t->pid);
		return -errno;
	}
	return 0;
}

static size_t nr_siginfo(const SignalQueueEntry *q)
{
	return q ? q->n_signals : 0;
}

size_t core_restore_size(struct rst_task *t)
{
	TaskCoreEntry *tc = t->cores[0]->tc;
	size_t size = 0, sig = nr_siginfo(tc->signals_s);

	for (size_t i = 0; i < t->nr_threads; i++)
		sig += nr_siginfo(t->cores[i]->thread_core->signals_p);
	size += sig * SIGINFO_SIZE + 64;
	size += t->nr_threads * (sizeof(struct rst_thread) + x86_sigframe_size() + 64);
	if (tc->timers)
		size += tc->timers->n_posix * sizeof(struct rst_posix_timer) + 64;
	return size;
}

/*
 * The pending signals of @q for the restorer to queue.  A pending SIGSTOP
 * cannot be queued there: nothing blocks it, so the task would stop in the
 * middle of its restore.  It means "stops as soon as it runs", so the task
 * is stopped at the end instead (*@stop), as the kernel would have done.
 */
static int copy_siginfo(const SignalQueueEntry *q, struct rst_alloc *al, uint64_t *addr,
			uint32_t *nr, int32_t *stop)
{
	size_t n = nr_siginfo(q);
	uint8_t *buf;
	int32_t signo;

	*nr = 0;
	if (!n)
		return 0;
	buf = rst_alloc(al, n * SIGINFO_SIZE, 8);
	for (size_t i = 0; i < n; i++) {
		if (q->signals[i]->siginfo.len != SIGINFO_SIZE) {
			pr_err("a pending signal's siginfo is %zu bytes, not %d",
			       q->signals[i]->siginfo.len, SIGINFO_SIZE);
			return -EINVAL;
		}
		memcpy(&signo, q->signals[i]->siginfo.data, sizeof(signo));
		if (signo == SIGSTOP) {
			*stop = *stop ?: SIGSTOP;
			continue;
		}
		memcpy(buf + *nr * SIGINFO_SIZE, q->signals[i]->siginfo.data, SIGINFO_SIZE);
		(*nr)++;
	}
	*addr = (uintptr_t)buf;
	return 0;
}

static uint64_t join_caps(const uint32_t *v, size_t n)
{
	return (n > 0 ? v[0] : 0) | (n > 1 ? (uint64_t)v[1] << 32 : 0);
}

static int fill_rst_creds(struct rst_creds *r, const CredsEntry *c, pid_t tid)
{
	if (c->n_groups > RST_NGROUPS_MAX) {
		pr_err("unsupported: tid %d is in %zu groups (at most %d)", tid, c->n_groups,
		       RST_NGROUPS_MAX);
		return -ENOTSUP;
	}
	r->uid = c->uid;
	r->euid = c->euid;
	r->suid = c->suid;
	r->fsuid = c->fsuid;
	r->gid = c->gid;
	r->egid = c->egid;
	r->sgid = c->sgid;
	r->fsgid = c->fsgid;
	r->cap_inh = join_caps(c->cap_inh, c->n_cap_inh);
	r->cap_prm = join_caps(c->cap_prm, c->n_cap_prm);
	r->cap_eff = join_caps(c->cap_eff, c->n_cap_eff);
	r->cap_bnd = join_caps(c->cap_bnd, c->n_cap_bnd);
	r->cap_amb = join_caps(c->cap_amb, c->n_cap_amb);
	r->secbits = c->secbits;
	r->nr_groups = c->n_groups;
	memcpy(r->groups, c->groups, c->n_groups * sizeof(uint32_t));
	r->no_new_privs = c->has_no_new_privs && c->no_new_privs;
	return 0;
}

static int fill_thread(struct rst_task *t, size_t i, struct rst_thread *th,
		       struct rst_alloc *al, int32_t *stop)
{
	CoreEntry *c = t->cores[i];
	ThreadCoreEntry *thc = c->thread_core;
	UserX86RegsEntry *g = c->thread_info->gpregs;
	uint64_t mask = thc->has_blk_sigset ? thc->blk_sigset : c->tc ? c->tc->blk_sigset : 0;
	ThreadSasEntry *sas = thc->sas;
	void *frame;
	int ret;

	th->tid = t->tids[i];
	frame = rst_alloc(al, x86_sigframe_size(), 64);
	ret = x86_sigframe_build(frame, c->thread_info, mask, sas ? sas->ss_sp : 0,
				 sas ? sas->ss_size : 0, sas ? (int)sas->ss_flags : SS_DISABLE);
	if (ret)
		return ret;
	th->frame = (uintptr_t)frame;
	th->fs_base = g->fs_base;
	th->gs_base = g->gs_base;
	th->clear_tid = c->thread_info->clear_tid_addr;
	th->robust_list = thc->futex_rla;
	th->robust_len = thc->futex_rla_len;
	if (thc->rseq_entry && thc->rseq_entry->rseq_abi_pointer) {
		th->rseq = thc->rseq_entry->rseq_abi_pointer;
		th->rseq_len = thc->rseq_entry->rseq_abi_size;
		th->rseq_sig = thc->rseq_entry->signature;
	}
	th->pdeath_sig = thc->has_pdeath_sig ? thc->pdeath_sig : 0;
	if (thc->has_sched_policy) {
		th->has_sched = 1;
		th->sched_policy = thc->sched_policy;
		th->sched_prio = thc->has_sched_prio ? thc->sched_prio : 0;
		th->sched_nice = thc->has_sched_nice ? thc->sched_nice : 0;
	}
	snprintf(th->comm, sizeof(th->comm), "%s",
		 thc->comm ? thc->comm : c->tc && c->tc->comm ? c->tc->comm : "");
	if (thc->creds) {
		th->has_creds = 1;
		ret = fill_rst_creds(&th->creds, thc->creds, th->tid);
		if (ret)
			return ret;
	}
	return copy_siginfo(thc->signals_p, al, &th->siginfo, &th->nr_siginfo, stop);
}

static void fill_itimer_args(struct rst_itimer *r, const ItimerEntry *e)
{
	if (!e)
		return;
	r->interval_sec = e->isec;
	r->interval_usec = e->iusec;
	r->value_sec = e->vsec;
	r->value_usec = e->vusec;
	/* setitimer() with a zero value would disarm an armed timer. */
	if (!r->value_sec && !r->value_usec && (r->interval_sec || r->interval_usec))
		r->value_usec = 1;
}

static void fill_timers(TaskTimersEntry *tt, struct rst_args *a, struct rst_alloc *al)
{
	fill_itimer_args(&a->itimers[0], tt->real);
	fill_itimer_args(&a->itimers[1], tt->virt);
	fill_itimer_args(&a->itimers[2], tt->prof);
	if (!tt->n_posix)
		return;
	a->timers = rst_alloc(al, tt->n_posix * sizeof(*a->timers), 8);
	/*
	 * In the image's order: /proc/PID/timers lists the newest first, and
	 * the image lists them the other way, so the listing comes back the same.
	 */
	for (size_t i = 0; i < tt->n_posix; i++) {
		PosixTimerEntry *e = tt->posix[i];
		struct rst_posix_timer *p = &a->timers[i];

		p->id = e->it_id;
		p->clock = e->clock_id;
		p->signo = e->si_signo;
		p->notify = e->it_sigev_notify;
		p->notify_tid = e->has_notify_thread_id ? e->notify_thread_id : 0;
		p->sival = e->sival_ptr;
		p->interval.sec = e->isec;
		p->interval.nsec = e->insec;
		p->value.sec = e->vsec;
		p->value.nsec = e->vnsec;
		/* An armed timer whose value read as zero is about to fire. */
		if (!p->value.sec && !p->value.nsec && (p->interval.sec || p->interval.nsec))
			p->value.nsec = 1;
	}
	a->nr_timers = tt->n_posix;
}

int core_restore_args(struct rst_task *t, struct rst_args *a, struct rst_alloc *al)
{
	TaskCoreEntry *tc = t->cores[0]->tc;
	int ret;

	a->pid = t->pid;
	a->stopped = t->stop_signo;
	a->nr_threads = t->nr_threads;
	a->threads = rst_alloc(al, t->nr_threads * sizeof(*a->threads), 64);
	for (size_t i = 0; i < t->nr_threads; i++) {
		ret = fill_thread(t, i, &a->threads[i], al, &a->stopped);
		if (ret)
			return ret;
	}
	if (tc->timers)
		fill_timers(tc->timers, a, al);
	task_rlimits_args(tc->rlimits, a);
	return copy_siginfo(tc->signals_s, al, &a->siginfo, &a->nr_siginfo, &a->stopped);
}

static int core_part_task(struct rst_ctx *ctx, struct rst_task *t)
{
	(void)ctx;
	return core_restore_task(t);
}

/* Its registers, signal frames and creds; and a stack for each thread. */
static size_t core_part_args_size(struct rst_ctx *ctx, struct rst_task *t)
{
	(void)ctx;
	return core_restore_size(t) + t->nr_threads * (RST_THREAD_STACK + 64);
}

static int core_part_args(struct rst_ctx *ctx, struct rst_task *t, struct rst_args *a,
			  struct rst_alloc *al, const struct rst_range *region)
{
	int ret;

	(void)ctx;
	(void)region;
	ret = core_restore_args(t, a, al);
	for (size_t i = 0; !ret && i < t->nr_threads; i++)
		a->threads[i].stack_top = (uintptr_t)rst_alloc(al, RST_THREAD_STACK, 64) +
					  RST_THREAD_STACK;
	return ret;
}

const struct task_part_ops core_part = {
	.name = "core",
	.fail = "restore its registers and signals",
	.dump_gather = core_gather_task,
	.dump_infected = core_dump_infected,
	.dump_task = core_dump_task,
	.dump_done = core_cleanup_task,
	.dump_zombie = core_dump_zombie,
	.read_task = core_restore_read,
	.task = core_part_task,
	.args_size = core_part_args_size,
	.args = core_part_args,
};
