/*
 * core.c - dump the core images: per thread the registers (arch/x86),
 * blocked and pending signals, alternate signal stack, robust futex list,
 * rseq, scheduling, credentials and name; per process (in the leader's
 * image) the state, personality, sigactions, interval timers, resource
 * limits, loginuid and oom score.
 *
 * What ptrace and /proc can tell from outside is read from outside; what
 * only the task can see (sigactions, itimers, sigaltstack, securebits,
 * the clear_tid address) is asked of it through the parasite or a remote
 * system call in each thread.
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
#include "cgroup.h"
#include "core.h"
#include "core.pb-c.h"
#include "creds.pb-c.h"
#include "log.h"
#include "ns/ns.h"
#include "proc.h"
#include "rst-ctx.h"
#include "restorer.h"
#include "rlimit.pb-c.h"
#include "sa.pb-c.h"
#include "seccomp.h"
#include "siginfo.pb-c.h"
#include "task-misc.h"
#include "timer.pb-c.h"

#define NR_RLIMITS	TASK_NR_RLIMITS

struct sigqueue {
	uint8_t (*info)[SIGINFO_SIZE];
	int nr;
};

/* A POSIX timer as /proc/PID/timers and timer_gettime() describe it. */
struct posix_timer {
	int id, clock, signo, notify, notify_tid;
	uint64_t sival;
	struct itimerspec val;
	int overrun;
};

/* Everything one thread's core image holds, gathered before writing it. */
struct thread_state {
	pid_t tid;
	struct x86_thread_regs regs;
	uint64_t blocked;
	uint64_t clear_tid_addr;
	uint64_t sas_sp, sas_size;
	uint32_t sas_flags;
	uint64_t robust_head;
	size_t robust_len;
	int policy, prio, nice;
	bool has_rseq;
	struct __ptrace_rseq_configuration rseq;
	struct sigqueue pending;
	struct proc_status status;
	struct seccomp_thread seccomp;	/* as the core records it */
	uint32_t secbits;
	char comm[64];
};

/* What the leader's image adds for the whole process. */
struct task_state {
	const struct compel_task_info *info;	/* the parasite's first answer (GET_TASK) */
	struct rlimit rlim[NR_RLIMITS];
	uint32_t personality, loginuid;
	int32_t oom_score_adj;
	struct posix_timer *timers;
	int nr_timers;
};

/* --- gathering --- */

static int read_pending(pid_t tid, bool shared, struct sigqueue *q)
{
	struct __ptrace_peeksiginfo_args a = {
		.off = 0, .flags = shared ? PTRACE_PEEKSIGINFO_SHARED : 0, .nr = 32,
	};

	q->info = NULL;
	q->nr = 0;
	for (;;) {
		void *n = realloc(q->info, (q->nr + a.nr) * SIGINFO_SIZE);
		long r;

		if (!n)
			return -ENOMEM;
		q->info = n;
		a.off = q->nr;
		r = ptrace(PTRACE_PEEKSIGINFO, tid, &a, q->info[q->nr]);
		if (r < 0) {
			pr_perror("tid %d: PTRACE_PEEKSIGINFO", tid);
			return -errno;
		}
		q->nr += r;
		if (r < (long)a.nr)
			return 0;
	}
}

static void read_sched(pid_t tid, struct thread_state *th)
{
	struct sched_param sp = { 0 };

	th->policy = sched_getscheduler(tid);
	if (th->policy < 0)
		th->policy = 0;
	sched_getparam(tid, &sp);
	th->prio = sp.sched_priority;
	errno = 0;
	th->nice = getpriority(PRIO_PROCESS, tid);
}

/* The parts of a thread visible from outside: ptrace and /proc. */
static int gather_thread(pid_t pid, pid_t tid, struct thread_state *th)
{
	long len;
	int ret;

	th->tid = tid;
	ret = x86_regs_read(tid, &th->regs);
	if (ret)
		return ret;
	if (ptrace(PTRACE_GETSIGMASK, tid, sizeof(th->blocked), &th->blocked)) {
		pr_perror("tid %d: PTRACE_GETSIGMASK", tid);
		return -errno;
	}
	if (syscall(SYS_get_robust_list, tid, &th->robust_head, &len)) {
		pr_perror("tid %d: get_robust_list", tid);
		return -errno;
	}
	th->robust_len = len;
	th->has_rseq = ptrace(PTRACE_GET_RSEQ_CONFIGURATION, tid, sizeof(th->rseq),
			      &th->rseq) == sizeof(th->rseq) && th->rseq.rseq_abi_pointer;
	read_sched(tid, th);
	ret = read_pending(tid, false, &th->pending);
	if (!ret)
		ret = proc_read_status(pid, tid, &th->status);
	if (!ret)
		ret = proc_read_comm(pid, tid, th->comm, sizeof(th->comm));
	return ret;
}

/*
 * One system call inside a thread of @t: the parasite makes it for the
 * leader, a remote call through @tctl for another thread.  Its failure
 * is the failure of the step.
 */
static int inside_syscall(struct dump_task *t, struct compel_ctl *tctl, long nr,
			  unsigned long a1, unsigned long a2, long *res)
{
	int ret = tctl ? compel_syscall(tctl, nr, res, a1, a2, 0, 0, 0, 0) :
			 compel_rpc_syscall(t->ctl, nr, res, a1, a2, 0, 0, 0, 0);

	if (!ret && *res < 0 && *res > -4096) {
		pr_err("pid %d: syscall %ld %s failed: %s", t->pid, nr,
		       tctl ? "in a thread" : "in the parasite", strerror(-*res));
		ret = *res;
	}
	return ret;
}

/* A call the parasite made for GET_TASK: its failure is the step's, as inside_syscall()'s. */
static int leader_result(struct dump_task *t, const char *what, long res)
{
	if (res >= 0 || res <= -4096)
		return 0;
	pr_err("pid %d: %s failed in the parasite: %s", t->pid, what, strerror(-res));
	return res;
}

/* The leader's part of what gather_thread_inside() asks, told by GET_TASK already. */
static int gather_leader_inside(struct dump_task *t, struct thread_state *th)
{
	const struct compel_misc *m = &t->misc;
	int ret;

	ret = leader_result(t, "prctl(PR_GET_TID_ADDRESS)", m->tid_address_ret) ?:
	      leader_result(t, "sigaltstack", m->ss_ret) ?:
	      leader_result(t, "prctl(PR_GET_SECUREBITS)", m->securebits);
	if (ret)
		return ret;
	th->clear_tid_addr = m->tid_address;
	th->sas_sp = m->ss_sp;
	th->sas_size = m->ss_size;
	th->sas_flags = m->ss_flags;
	th->secbits = m->securebits;
	return 0;
}

/*
 * What only the thread itself can tell: its clear_tid address, its
 * alternate signal stack and its securebits.  The leader told them with
 * the rest of GET_TASK (gather_task() runs first); other threads make
 * remote calls, whose results land in scratch space of the parasite's
 * shared area, which the whole process maps.
 */
static int gather_thread_inside(struct dump_ctx *ctx, struct dump_task *t,
				struct thread_state *th)
{
	unsigned long raddr;
	uint64_t *scratch = compel_scratch(t->ctl, 64, &raddr);
	struct compel_ctl *tctl = NULL;
	long r;
	int ret, err = 0;

	if (!scratch)
		return -EINVAL;
	if (th->tid == t->pid)
		return gather_leader_inside(t, th);
	ret = compel_prepare_thread(ctx->tree, th->tid, &tctl);
	if (ret)
		return ret;
	ret = inside_syscall(t, tctl, SYS_prctl, PR_GET_TID_ADDRESS, raddr, &r);
	if (!ret) {
		th->clear_tid_addr = scratch[0];
		ret = inside_syscall(t, tctl, SYS_sigaltstack, 0, raddr, &r);
	}
	if (!ret) {
		stack_t *ss = (stack_t *)scratch;

		th->sas_sp = (uint64_t)ss->ss_sp;
		th->sas_size = ss->ss_size;
		th->sas_flags = ss->ss_flags;
		ret = inside_syscall(t, tctl, SYS_prctl, PR_GET_SECUREBITS, 0, &r);
		th->secbits = r;
	}
	if (tctl)
		err = compel_cure(tctl);
	return ret ? ret : err;
}

struct threads_call {
	struct dump_ctx *ctx;
	struct dump_task *t;
	struct thread_state *ths;
	int nr;
};

/* The threads other than the leader: remote calls, so on the tracer. */
static int threads_inside_call(void *arg)
{
	struct threads_call *c = arg;
	int ret = 0;

	for (int i = 0; !ret && i < c->nr; i++)
		if (c->ths[i].tid != c->t->pid)
			ret = gather_thread_inside(c->ctx, c->t, &c->ths[i]);
	return ret;
}

static int gather_threads_inside(struct dump_ctx *ctx, struct dump_task *t,
				 struct thread_state *ths, int nr)
{
	struct threads_call c = { ctx, t, ths, nr };
	int ret = 0;

	for (int i = 0; !ret && i < nr; i++)
		if (ths[i].tid == t->pid)
			ret = gather_leader_inside(t, &ths[i]);
	return ret ?: nr > 1 ? dump_on_tracer(threads_inside_call, &c) : 0;
}

/* The timers the task created with timer_create(), as /proc lists them. */
static int read_posix_timers(pid_t pid, struct task_state *ts)
{
	char path[64], line[256], how[16], whom[8], buf[4096];
	struct posix_timer *pt = NULL;
	FILE *f;
	int who;

	snprintf(path, sizeof(path), "/proc/%d/timers", pid);
	f = fopen(path, "re");
	if (!f) {
		pr_perror("cannot open %s", path);
		return -errno;
	}
	setvbuf(f, buf, _IOFBF, sizeof(buf));	/* no fstat for stdio to size one */
	while (fgets(line, sizeof(line), f)) {
		int id;

		if (sscanf(line, "ID: %d", &id) == 1) {
			void *n = realloc(ts->timers, (ts->nr_timers + 1) * sizeof(*pt));

			if (!n) {
				fclose(f);
				return -ENOMEM;
			}
			ts->timers = n;
			pt = &ts->timers[ts->nr_timers++];
			memset(pt, 0, sizeof(*pt));
			pt->id = id;
		} else if (!pt) {
			continue;
		} else if (!strncmp(line, "signal:", 7)) {
			char ptr[32] = "";

			sscanf(line, "signal: %d/%31s", &pt->signo, ptr);
			pt->sival = strtoull(ptr, NULL, 16);	/* "(null)" reads as 0 */
		} else if (sscanf(line, "notify: %15[a-z]/%7[a-z].%d", how, whom, &who) == 3) {
			/* "/tid" means a signal to one thread; else the kind of notification. */
			if (whom[0] == 't') {
				pt->notify = SIGEV_THREAD_ID;
				pt->notify_tid = who;
			} else if (how[0] == 's') {
				pt->notify = SIGEV_SIGNAL;
			} else if (how[0] == 't') {
				pt->notify = SIGEV_THREAD;
			} else {
				pt->notify = SIGEV_NONE;
			}
		} else {
			sscanf(line, "ClockID: %d", &pt->clock);
		}
	}
	fclose(f);
	return 0;
}

struct timers_call {
	struct dump_task *t;
	struct task_state *ts;
};

/* Each timer's time left, interval and overrun, asked of the task itself. */
static int timer_values_call(void *arg)
{
	struct dump_task *t = ((struct timers_call *)arg)->t;
	struct task_state *ts = ((struct timers_call *)arg)->ts;
	unsigned long raddr;
	struct itimerspec *its = compel_scratch(t->ctl, sizeof(*its), &raddr);
	long r;
	int ret = its ? 0 : -EINVAL;

	for (int i = 0; !ret && i < ts->nr_timers; i++) {
		ret = inside_syscall(t, NULL, SYS_timer_gettime, ts->timers[i].id, raddr, &r);
		if (!ret)
			ts->timers[i].val = *its;
		if (!ret)
			ret = inside_syscall(t, NULL, SYS_timer_getoverrun, ts->timers[i].id, 0, &r);
		ts->timers[i].overrun = r;
	}
	return ret;
}

static int read_timer_values(struct dump_task *t, struct task_state *ts)
{
	struct timers_call c = { t, ts };

	return ts->nr_timers ? dump_on_tracer(timer_values_call, &c) : 0;
}

/* What the parasite told first (core_dump_infected()), and what /proc and the task tell. */
static int gather_task(struct dump_task *t, const struct compel_task_info *info,
		       struct task_state *ts)
{
	int ret;

	ts->info = info;
	ret = task_read_rlimits(t->pid, ts->rlim);
	if (!ret)
		ret = proc_read_task_misc(t->pid, &ts->personality, &ts->loginuid,
					  &ts->oom_score_adj);
	if (!ret)
		ret = read_posix_timers(t->pid, ts);
	if (!ret)
		ret = read_timer_values(t, ts);
	return ret;
}

/* --- building the messages --- */

static void sigqueue_msg_free(SignalQueueEntry *m);

/* Every pending signal of @q as a message, or NULL: none is ever left out. */
static SignalQueueEntry *sigqueue_msg(const struct sigqueue *q)
{
	SignalQueueEntry *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	signal_queue_entry__init(m);
	if (!q->nr)
		return m;
	m->signals = calloc(q->nr, sizeof(*m->signals));
	if (!m->signals)
		goto err;
	for (int i = 0; i < q->nr; i++) {
		SiginfoEntry *e = calloc(1, sizeof(*e));

		if (!e)
			goto err;
		siginfo_entry__init(e);
		e->siginfo.len = SIGINFO_SIZE;
		e->siginfo.data = q->info[i];
		m->signals[m->n_signals++] = e;
	}
	return m;
err:
	pr_err("out of memory for %d pending signals", q->nr);
	sigqueue_msg_free(m);
	return NULL;
}

static void sigqueue_msg_free(SignalQueueEntry *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_signals; i++)
		free(m->signals[i]);
	free(m->signals);
	free(m);
}

static void split_caps(uint64_t v, uint32_t out[2])
{
	out[0] = v & 0xffffffff;
	out[1] = v >> 32;
}

/* Storage for a CredsEntry and its arrays. */
struct creds_buf {
	CredsEntry c;
	uint32_t inh[2], prm[2], eff[2], bnd[2], amb[2];
	uint32_t *groups;	/* as the tree's user namespace sees them; free it */
};

/* The ids of /proc/PID/status are stasis's: the image has the tree's (ns/user.c). */
static int fill_creds(struct creds_buf *b, const struct thread_state *th)
{
	const struct proc_status *s = &th->status;
	CredsEntry *c = &b->c;

	creds_entry__init(c);
	c->uid = userns_dump_uid(s->uid[0]);
	c->euid = userns_dump_uid(s->uid[1]);
	c->suid = userns_dump_uid(s->uid[2]);
	c->fsuid = userns_dump_uid(s->uid[3]);
	c->gid = userns_dump_gid(s->gid[0]);
	c->egid = userns_dump_gid(s->gid[1]);
	c->sgid = userns_dump_gid(s->gid[2]);
	c->fsgid = userns_dump_gid(s->gid[3]);
	b->groups = calloc(s->nr_groups + 1, sizeof(*b->groups));
	if (!b->groups)
		return -ENOMEM;
	for (int i = 0; i < s->nr_groups; i++)
		b->groups[i] = userns_dump_gid(s->groups[i]);
	split_caps(s->cap_inh, b->inh);
	split_caps(s->cap_prm, b->prm);
	split_caps(s->cap_eff, b->eff);
	split_caps(s->cap_bnd, b->bnd);
	split_caps(s->cap_amb, b->amb);
	c->n_cap_inh = c->n_cap_prm = c->n_cap_eff = c->n_cap_bnd = c->n_cap_amb = 2;
	c->cap_inh = b->inh;
	c->cap_prm = b->prm;
	c->cap_eff = b->eff;
	c->cap_bnd = b->bnd;
	c->cap_amb = b->amb;
	c->secbits = th->secbits;
	c->n_groups = s->nr_groups;
	c->groups = b->groups;
	if (s->no_new_privs) {
		c->has_no_new_privs = 1;
		c->no_new_privs = 1;
	}
	return 0;
}

/* Storage for the per-process part of the leader's image. */
struct tc_buf {
	TaskCoreEntry tc;
	TaskTimersEntry timers;
	ItimerEntry it[3];
	TaskRlimitsEntry rlimits;
	RlimitEntry rl[NR_RLIMITS];
	RlimitEntry *rlp[NR_RLIMITS];
	SaEntry sa[64];
	SaEntry *sap[64];
	PosixTimerEntry *posix;
	PosixTimerEntry **posixp;
};

static void fill_itimer(ItimerEntry *e, const struct compel_itimer *v)
{
	itimer_entry__init(e);
	e->isec = v->interval_sec;
	e->iusec = v->interval_usec;
	e->vsec = v->value_sec;
	e->vusec = v->value_usec;
}

/* Newest first, the order CRIU lists them in. */
static void fill_posix_timers(struct tc_buf *b, const struct task_state *ts)
{
	int n = ts->nr_timers;

	if (!b->posix)
		return;
	for (int i = 0; i < n; i++) {
		const struct posix_timer *pt = &ts->timers[n - 1 - i];
		PosixTimerEntry *e = &b->posix[i];

		posix_timer_entry__init(e);
		e->it_id = pt->id;
		e->clock_id = pt->clock;
		e->si_signo = pt->signo;
		e->it_sigev_notify = pt->notify;
		e->sival_ptr = pt->sival;
		e->overrun = pt->overrun;
		e->isec = pt->val.it_interval.tv_sec;
		e->insec = pt->val.it_interval.tv_nsec;
		e->vsec = pt->val.it_value.tv_sec;
		e->vnsec = pt->val.it_value.tv_nsec;
		if (pt->notify == SIGEV_THREAD_ID) {
			e->has_notify_thread_id = 1;
			e->notify_thread_id = pt->notify_tid;
		}
		b->posixp[i] = e;
	}
	b->timers.n_posix = n;
	b->timers.posix = b->posixp;
}

static void fill_tc(struct tc_buf *b, const struct dump_task *t, const struct task_state *ts,
		    const struct thread_state *leader)
{
	TaskCoreEntry *tc = &b->tc;
	int n = 0;

	task_core_entry__init(tc);
	tc->task_state = t->ct->state == COMPEL_TASK_STOPPED ? TASK_STOPPED : TASK_ALIVE;
	if (t->ct->state == COMPEL_TASK_STOPPED) {
		tc->has_stop_signo = 1;
		tc->stop_signo = t->ct->stop_signo ?: SIGSTOP;
	}
	tc->personality = ts->personality;
	tc->flags = t->stat.flags;
	tc->blk_sigset = leader->blocked;
	tc->comm = (char *)leader->comm;

	task_timers_entry__init(&b->timers);
	fill_itimer(&b->it[0], &ts->info->itimers[0]);
	fill_itimer(&b->it[1], &ts->info->itimers[1]);
	fill_itimer(&b->it[2], &ts->info->itimers[2]);
	b->timers.real = &b->it[0];
	b->timers.virt = &b->it[1];
	b->timers.prof = &b->it[2];
	tc->timers = &b->timers;
	fill_posix_timers(b, ts);

	task_rlimits_entry__init(&b->rlimits);
	for (int i = 0; i < NR_RLIMITS; i++) {
		rlimit_entry__init(&b->rl[i]);
		b->rl[i].cur = ts->rlim[i].rlim_cur;
		b->rl[i].max = ts->rlim[i].rlim_max;
		b->rlp[i] = &b->rl[i];
	}
	b->rlimits.n_rlimits = NR_RLIMITS;
	b->rlimits.rlimits = b->rlp;
	tc->rlimits = &b->rlimits;

	tc->has_loginuid = 1;
	tc->loginuid = userns_dump_uid(ts->loginuid);
	tc->has_oom_score_adj = 1;
	tc->oom_score_adj = ts->oom_score_adj;
	/* Every signal but the two that cannot be caught, as CRIU lists them. */
	for (int sig = 1; sig <= 64; sig++) {
		const struct compel_sigaction *s = &ts->info->sigacts[sig - 1];
		SaEntry *e = &b->sa[n];

		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		sa_entry__init(e);
		e->sigaction = s->handler;
		e->flags = s->flags;
		e->restorer = s->restorer;
		e->mask = s->mask;
		e->has_compat_sigaction = 1;
		b->sap[n++] = e;
	}
	tc->n_sigactions = n;
	tc->sigactions = b->sap;
	tc->has_child_subreaper = 1;
	tc->child_subreaper = ts->info->misc.child_subreaper;
}

static int write_core(struct dump_ctx *ctx, pid_t tid, CoreEntry *core)
{
	return img_write_one(ctx->dirfd, IMG_CORE, tid, &core->base);
}

static int write_thread_core(struct dump_ctx *ctx, struct thread_state *th,
			     TaskCoreEntry *tc, SignalQueueEntry *shared, uint32_t pdeath_sig,
			     uint32_t cg_set)
{
	struct x86_thread_info *ti = calloc(1, sizeof(*ti));
	struct creds_buf creds;
	ThreadCoreEntry thc;
	ThreadSasEntry sas;
	RseqEntry rseq;
	CoreEntry core;
	int ret;

	if (!ti)
		return -ENOMEM;
	core_entry__init(&core);
	core.mtype = CORE_ENTRY__MARCH__X86_64;
	x86_thread_info_fill(ti, &th->regs, th->clear_tid_addr, th->tid);
	core.thread_info = &ti->ti;

	thread_core_entry__init(&thc);
	thc.futex_rla = th->robust_head;
	thc.futex_rla_len = th->robust_len;
	thc.has_sched_nice = 1;
	thc.sched_nice = th->nice;
	thc.has_sched_policy = 1;
	thc.sched_policy = th->policy;
	if (th->prio) {
		thc.has_sched_prio = 1;
		thc.sched_prio = th->prio;
	}
	if (!tc) {	/* the leader's mask is in tc */
		thc.has_blk_sigset = 1;
		thc.blk_sigset = th->blocked;
	}
	thread_sas_entry__init(&sas);
	sas.ss_sp = th->sas_sp;
	sas.ss_size = th->sas_size;
	sas.ss_flags = th->sas_flags;
	thc.sas = &sas;
	if (pdeath_sig) {
		thc.has_pdeath_sig = 1;
		thc.pdeath_sig = pdeath_sig;
	}
	thc.signals_p = sigqueue_msg(&th->pending);
	if (fill_creds(&creds, th)) {
		sigqueue_msg_free(thc.signals_p);
		free(ti);
		return -ENOMEM;
	}
	thc.creds = &creds.c;
	if (th->seccomp.mode) {
		thc.has_seccomp_mode = 1;
		thc.seccomp_mode = th->seccomp.mode;
	}
	if (th->seccomp.mode == 2) {
		thc.has_seccomp_filter = 1;
		thc.seccomp_filter = th->seccomp.filter;
	}
	thc.comm = th->comm;
	if (th->has_rseq) {
		rseq_entry__init(&rseq);
		rseq.rseq_abi_pointer = th->rseq.rseq_abi_pointer;
		rseq.rseq_abi_size = th->rseq.rseq_abi_size;
		rseq.signature = th->rseq.signature;
		thc.rseq_entry = &rseq;
	}
	thc.has_cg_set = 1;
	thc.cg_set = cg_set;
	core.thread_core = &thc;
	if (tc) {
		tc->signals_s = shared;
		core.tc = tc;
	}
	ret = thc.signals_p ? write_core(ctx, dump_vpid(ctx, th->tid), &core) : -ENOMEM;
	sigqueue_msg_free(thc.signals_p);
	free(creds.groups);
	free(ti);
	return ret;
}

static void thread_state_free(struct thread_state *th)
{
	x86_regs_free(&th->regs);
	free(th->pending.info);
	free(th->status.groups);
}

struct core_priv {
	int nr;
	struct thread_state *ths;
	struct sigqueue shared_pending;	/* read with ptrace, so before infection */
	struct compel_task_info info;	/* the parasite's first answer (GET_TASK) */
};

/*
 * What the parasite tells in one round trip (each costs two wake-ups
 * across cores): signal actions, interval timers, and the task's and its
 * leader's settings, kept in @t for the parts after the core too.  Asked
 * on the tracer, while another task's parts may run (dump-pipe.c).
 */
int core_dump_infected(struct dump_ctx *ctx, struct dump_task *t)
{
	struct core_priv *cp = t->core_priv;
	union compel_rpc_args *a = compel_rpc_area(t->ctl);
	int ret;

	(void)ctx;
	if (!cp || !a)
		return -EINVAL;
	ret = compel_rpc(t->ctl, COMPEL_CMD_GET_TASK);
	if (ret)
		return ret;
	cp->info = a->task;
	t->misc = a->task.misc;
	t->has_misc = true;
	return 0;
}

/* The seccomp state of every thread, read while they are all seized. */
static int gather_seccomp(struct dump_ctx *ctx, struct core_priv *cp)
{
	struct seccomp_thread *st = calloc(cp->nr, sizeof(*st));
	pid_t *tids = calloc(cp->nr, sizeof(*tids));
	int ret = -ENOMEM;

	if (st && tids) {
		for (int i = 0; i < cp->nr; i++) {
			tids[i] = cp->ths[i].tid;
			st[i].mode = cp->ths[i].status.seccomp;
		}
		ret = seccomp_dump_task(ctx, tids, st, cp->nr);
		for (int i = 0; !ret && i < cp->nr; i++)
			cp->ths[i].seccomp = st[i];
	}
	free(st);
	free(tids);
	return ret;
}

/*
 * A task in group stop leaves it only on SIGCONT, which discards every
 * pending stop signal: the ones queued to it are nothing to restore.
 * CRIU 4.2 lets them be taken at seize; restoring one, it sees the task
 * stop under it and gives up.
 */
static void drop_stop_signals(struct sigqueue *q)
{
	int n = 0;

	for (int i = 0; i < q->nr; i++) {
		int sig;

		memcpy(&sig, q->info[i], sizeof(sig));	/* si_signo leads a siginfo */
		if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU)
			continue;
		if (n != i)
			memcpy(q->info[n], q->info[i], SIGINFO_SIZE);
		n++;
	}
	q->nr = n;
}

int core_gather_task(struct dump_ctx *ctx, struct dump_task *t)
{
	struct core_priv *cp = calloc(1, sizeof(*cp));
	int ret = 0;

	if (!cp)
		return -ENOMEM;
	t->core_priv = cp;
	cp->nr = t->ct->nr_threads;
	cp->ths = calloc(cp->nr, sizeof(*cp->ths));
	if (!cp->ths)
		return -ENOMEM;
	for (int i = 0; !ret && i < cp->nr; i++) {
		ret = gather_thread(t->pid, t->ct->threads[i], &cp->ths[i]);
		if (!ret && cp->ths[i].tid == t->pid && cp->ths[i].status.has_umask) {
			t->umask = cp->ths[i].status.umask;
			t->has_umask = true;
		}
	}
	if (!ret)
		ret = gather_seccomp(ctx, cp);
	if (!ret)
		ret = read_pending(t->pid, true, &cp->shared_pending);
	if (!ret && t->ct->state == COMPEL_TASK_STOPPED) {
		for (int i = 0; i < cp->nr; i++)
			drop_stop_signals(&cp->ths[i].pending);
		drop_stop_signals(&cp->shared_pending);
	}
	return ret;
}

void core_cleanup_task(struct dump_task *t)
{
	struct core_priv *cp = t->core_priv;

	if (!cp)
		return;
	for (int i = 0; cp->ths && i < cp->nr; i++)
		thread_state_free(&cp->ths[i]);
	free(cp->ths);
	free(cp->shared_pending.info);
	free(cp);
	t->core_priv = NULL;
}

int core_dump_task(struct dump_ctx *ctx, struct dump_task *t)
{
	struct core_priv *cp = t->core_priv;
	struct task_state *ts = calloc(1, sizeof(*ts));
	struct tc_buf *tcb = calloc(1, sizeof(*tcb));
	SignalQueueEntry *shared = NULL;
	int ret = 0, i;

	if (!ts || !tcb || !cp) {
		ret = -ENOMEM;
		goto out;
	}
	ret = gather_task(t, &cp->info, ts) ?: gather_threads_inside(ctx, t, cp->ths, cp->nr);
	if (ret)
		goto out;
	/* /proc/PID/timers names the thread as stasis sees it. */
	for (i = 0; i < ts->nr_timers; i++)
		if (ts->timers[i].notify == SIGEV_THREAD_ID)
			ts->timers[i].notify_tid = dump_vpid(ctx, ts->timers[i].notify_tid);
	if (ts->nr_timers) {
		tcb->posix = calloc(ts->nr_timers, sizeof(*tcb->posix));
		tcb->posixp = calloc(ts->nr_timers, sizeof(*tcb->posixp));
		if (!tcb->posix || !tcb->posixp) {
			ret = -ENOMEM;
			goto out;
		}
	}
	fill_tc(tcb, t, ts, &cp->ths[0]);
	ret = task_misc_dump(t, &tcb->tc);
	if (ret)
		goto out;
	shared = sigqueue_msg(&cp->shared_pending);
	if (!shared) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; !ret && i < cp->nr; i++)
		ret = write_thread_core(ctx, &cp->ths[i], i ? NULL : &tcb->tc, shared,
					i ? 0 : ts->info->misc.pdeath_sig,
					t->cg_sets ? t->cg_sets[i] : CG_SET_STASIS);
out:
	sigqueue_msg_free(shared);
	if (ts)
		free(ts->timers);
	if (tcb) {
		free(tcb->posix);
		free(tcb->posixp);
	}
	free(ts);
	free(tcb);
	core_cleanup_task(t);
	return ret;
}

int core_dump_zombie(struct dump_ctx *ctx, struct dump_task *t)
{
	TaskCoreEntry tc;
	CoreEntry core;
	char comm[64] = "";

	core_entry__init(&core);
	core.mtype = CORE_ENTRY__MARCH__X86_64;
	task_core_entry__init(&tc);
	tc.task_state = TASK_DEAD;
	tc.exit_code = t->ct->exit_code;
	proc_read_comm(t->pid, t->pid, comm, sizeof(comm));
	tc.comm = comm;
	core.tc = &tc;
	return write_core(ctx, t->vpid, &core);
}
