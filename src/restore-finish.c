/*
 * restore-finish.c - the end of a restore: nothing of stasis stays behind.
 *
 * Each restored task runs its restorer from one region of its address
 * space (restorer.h).  The restorer cannot unmap that region, since its
 * last instruction, the rt_sigreturn into the task's own registers, is in
 * it.  So the controller does it from outside, as CRIU does:
 *
 *   - when every task is ready, it seizes every thread of every live task
 *     (they all wait for the last stage then, in the restorer);
 *   - once the last stage is open, it traces their system calls until
 *     each thread is at the exit of its rt_sigreturn: the registers are
 *     the task's own now, and no instruction of the region runs again;
 *   - once every thread of the tree is there, it runs munmap(region) in
 *     one thread of each task (at the same syscall instruction, with
 *     every signal blocked), puts back that thread's registers and signal
 *     mask, stops the task if it is to be stopped, and detaches from
 *     every thread.  No task runs its own code before all are caught, so
 *     the tree starts as it did before: all at once, and none of our
 *     waits can reap a task that ended.
 *
 * A signal is never taken while we work: the restorer blocks them all,
 * and only SIGSTOP and SIGKILL get through.  A SIGSTOP that arrives is
 * held back and raised again before the detach, so the task stops before
 * it runs an instruction of its own, as it would have.  The tracing uses
 * PTRACE_O_EXITKILL: if stasis dies half way, the caught tasks die too.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>

#include "log.h"
#include "ns/ns.h"
#include "proc.h"
#include "restore.h"

#define FINISH_TIMEOUT	60	/* seconds, without --timeout */
#define MAX_RESTOPS	16	/* stops that are not the one awaited, in a row */
#define SYSCALL_STOP	(SIGTRAP | 0x80)	/* PTRACE_O_TRACESYSGOOD */
#define ERESTARTSYS_K	512	/* the kernel's "restart this call", not in uapi */

enum fin_state_kind {
	TH_RUNNING,		/* on its way to its last rt_sigreturn */
	TH_CAUGHT,		/* at the exit of it: held */
	TH_UNMAP,		/* running the munmap of its task's region */
	TH_DONE,		/* back as caught, the region gone */
};

struct fin_thread {
	pid_t tid;
	struct rst_task *task;
	int state;			/* enum fin_state_kind */
	bool in_sigreturn;		/* its last syscall entry was rt_sigreturn */
	unsigned long syscall_ip;	/* the syscall instruction of that rt_sigreturn */
	struct user_regs_struct regs;	/* as rt_sigreturn left them */
	uint64_t sigmask;
};

struct fin_state {
	struct fin_thread *th;
	size_t nr;
	size_t left;			/* threads yet to reach the stop awaited */
	size_t *first;			/* by task index: its first thread in th[] */
	bool *stop_owed;		/* by task index: a SIGSTOP held back */
};

static int resume(struct fin_thread *th, int sig)
{
	if (ptrace(PTRACE_SYSCALL, th->tid, NULL, (void *)(long)sig)) {
		pr_perror("tid %d: cannot resume it to finish its restore", th->tid);
		return -errno;
	}
	return 0;
}

static int wait_thread(pid_t tid, int *status)
{
	while (waitpid(tid, status, __WALL) < 0) {
		if (errno != EINTR) {
			pr_perror("tid %d: waitpid", tid);
			return -errno;
		}
	}
	if (WIFSTOPPED(*status))
		return 0;
	pr_err("tid %d died before its restore finished (status %#x)", tid, *status);
	return -ECHILD;
}

/*
 * A stop that is not the one awaited: a SIGSTOP is held back for later,
 * another signal (only SIGKILL gets past the restorer's mask) passes on.
 */
static int other_signal(struct fin_state *fs, struct fin_thread *th, int status)
{
	int sig = WSTOPSIG(status);

	if (status >> 16 == PTRACE_EVENT_STOP || sig == SYSCALL_STOP)
		return 0;
	if (sig == SIGSTOP) {
		fs->stop_owed[th->task->index] = true;
		return 0;
	}
	return sig;
}

/* --- seize, while every thread waits in the restorer --- */

static int add_threads(struct rst_ctx *ctx, struct fin_state *fs)
{
	size_t nr = 0;

	for (size_t i = 0; i < ctx->nr_tasks; i++)
		nr += ctx->tasks[i].zombie ? 0 : ctx->tasks[i].nr_threads;
	fs->th = calloc(nr ?: 1, sizeof(*fs->th));
	fs->first = calloc(ctx->nr_tasks, sizeof(*fs->first));
	fs->stop_owed = calloc(ctx->nr_tasks, sizeof(*fs->stop_owed));
	if (!fs->th || !fs->first || !fs->stop_owed)
		return -ENOMEM;
	for (size_t i = 0; i < ctx->nr_tasks; i++) {
		struct rst_task *t = &ctx->tasks[i];
		pid_t *real = calloc(t->nr_threads, sizeof(*real));
		int ret;

		if (!real)
			return -ENOMEM;
		fs->first[i] = fs->nr;
		/* Seized by the tids stasis sees them by (ns/pid.c). */
		ret = t->zombie ? 0 : pidns_real_tids(ctx, t, real);
		for (size_t k = 0; !ret && !t->zombie && k < t->nr_threads; k++) {
			fs->th[fs->nr].tid = real[k];
			fs->th[fs->nr++].task = t;
		}
		free(real);
		if (ret)
			return ret;
	}
	return 0;
}

static int seize_thread(pid_t tid)
{
	long opts = PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL | PTRACE_O_SUSPEND_SECCOMP;
	int ret = ptrace(PTRACE_SEIZE, tid, NULL, (void *)opts);

	/*
	 * Seccomp is restored from here on (restorer.c): suspended, it filters
	 * nothing the restorer or we do.  A stasis that is under seccomp
	 * itself may not suspend it: then the filters apply at once.
	 */
	if (ret && errno == EPERM) {
		pr_debug("tid %d: seccomp cannot be suspended while its restore ends", tid);
		opts &= ~PTRACE_O_SUSPEND_SECCOMP;
		ret = ptrace(PTRACE_SEIZE, tid, NULL, (void *)opts);
	}
	if (ret) {
		pr_perror("tid %d: cannot seize it to finish its restore", tid);
		return -errno;
	}
	if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL)) {
		pr_perror("tid %d: PTRACE_INTERRUPT", tid);
		return -errno;
	}
	return 0;
}

/*
 * The thread was interrupted in the restorer's futex wait for the last
 * stage: have the wait return EINTR instead of being restarted.  Its
 * loop looks at the stage again, so this is only two syscall stops less
 * for us (the restarted wait's entry and exit) on the way to the end.
 */
static int skip_restart(struct fin_thread *th)
{
	struct user_regs_struct regs;

	if (ptrace(PTRACE_GETREGS, th->tid, NULL, &regs)) {
		pr_perror("tid %d: PTRACE_GETREGS", th->tid);
		return -errno;
	}
	if (regs.orig_rax != SYS_futex || (long)regs.rax != -ERESTARTSYS_K)
		return 0;
	regs.rax = -EINTR;
	if (ptrace(PTRACE_SETREGS, th->tid, NULL, &regs)) {
		pr_perror("tid %d: PTRACE_SETREGS", th->tid);
		return -errno;
	}
	return 0;
}

static int wait_interrupted(struct fin_state *fs, struct fin_thread *th)
{
	int status, sig, ret;

	for (int i = 0; i < MAX_RESTOPS; i++) {
		ret = wait_thread(th->tid, &status);
		if (ret)
			return ret;
		if (status >> 16 == PTRACE_EVENT_STOP)
			return skip_restart(th);
		sig = other_signal(fs, th, status);
		if (ptrace(PTRACE_CONT, th->tid, NULL, (void *)(long)sig)) {
			pr_perror("tid %d: PTRACE_CONT", th->tid);
			return -errno;
		}
	}
	pr_err("tid %d does not stop for the end of its restore", th->tid);
	return -EIO;
}

int finish_seize(struct rst_ctx *ctx)
{
	struct fin_state *fs = calloc(1, sizeof(*fs));
	int ret;

	if (!fs)
		return -ENOMEM;
	ctx->finish_priv = fs;
	ret = add_threads(ctx, fs);
	/* All interrupts first, then all waits: the threads stop together. */
	for (size_t i = 0; !ret && i < fs->nr; i++) {
		ret = seize_thread(fs->th[i].tid);
		fs->left = i + !ret;
	}
	for (size_t i = 0; !ret && i < fs->nr; i++)
		ret = wait_interrupted(fs, &fs->th[i]);
	return ret;
}

/* --- catch every thread at the exit of its rt_sigreturn, then unmap --- */

static int set_regs(pid_t tid, const struct user_regs_struct *regs, uint64_t mask)
{
	if (ptrace(PTRACE_SETREGS, tid, NULL, regs) ||
	    ptrace(PTRACE_SETSIGMASK, tid, (void *)sizeof(mask), &mask)) {
		pr_perror("tid %d: cannot set its registers or signal mask", tid);
		return -errno;
	}
	return 0;
}

/*
 * Start munmap(region) in @th, at its own syscall instruction, the last
 * one of the region; at_unmap() sees it through.
 */
static int start_unmap(struct fin_thread *th, const struct rst_region *r)
{
	struct user_regs_struct regs = th->regs;
	int ret;

	regs.rip = th->syscall_ip;
	regs.rax = SYS_munmap;
	regs.orig_rax = -1;	/* no restart logic on the way out of this stop */
	regs.rdi = r->start;
	regs.rsi = r->len;
	ret = set_regs(th->tid, &regs, ~0ull);
	if (!ret)
		ret = resume(th, 0);
	th->state = TH_UNMAP;
	return ret;
}

static int get_syscall_info(struct fin_thread *th, struct __ptrace_syscall_info *info)
{
	if (ptrace(PTRACE_GET_SYSCALL_INFO, th->tid, (void *)sizeof(*info), info) < 0) {
		pr_perror("tid %d: PTRACE_GET_SYSCALL_INFO", th->tid);
		return -errno;
	}
	return 0;
}

/* A syscall stop of the munmap: its exit puts the thread back as caught. */
static int at_unmap(struct rst_ctx *ctx, struct fin_state *fs, struct fin_thread *th)
{
	const struct rst_region *r = &ctx->regions[th->task->index];
	struct __ptrace_syscall_info info;
	int ret = get_syscall_info(th, &info);

	if (ret)
		return ret;
	if (info.op == PTRACE_SYSCALL_INFO_ENTRY)
		return resume(th, 0);
	if (info.exit.rval < 0) {
		pr_err("pid %d: cannot unmap its restorer at %#lx: %s", th->task->pid,
		       (unsigned long)r->start, strerror(-(int)info.exit.rval));
		return (int)info.exit.rval;
	}
	pr_debug("pid %d: restorer region %#lx-%#lx unmapped", th->task->pid,
		 (unsigned long)r->start, (unsigned long)(r->start + r->len));
	th->state = TH_DONE;
	fs->left--;
	return set_regs(th->tid, &th->regs, th->sigmask);
}

/* A syscall stop on the way to the last rt_sigreturn. */
static int at_syscall(struct fin_state *fs, struct fin_thread *th)
{
	struct __ptrace_syscall_info info;
	int ret = get_syscall_info(th, &info);

	if (ret)
		return ret;
	if (info.op == PTRACE_SYSCALL_INFO_ENTRY) {
		th->in_sigreturn = info.entry.nr == SYS_rt_sigreturn;
		/* The instruction pointer is past the 2-byte syscall instruction. */
		th->syscall_ip = info.instruction_pointer - 2;
		return resume(th, 0);
	}
	if (!th->in_sigreturn)
		return resume(th, 0);
	if (ptrace(PTRACE_GETREGS, th->tid, NULL, &th->regs) ||
	    ptrace(PTRACE_GETSIGMASK, th->tid, (void *)sizeof(th->sigmask), &th->sigmask)) {
		pr_perror("tid %d: cannot read its restored registers", th->tid);
		return -errno;
	}
	th->state = TH_CAUGHT;
	fs->left--;
	return 0;
}

static int on_stop(struct rst_ctx *ctx, struct fin_state *fs, struct fin_thread *th, int status)
{
	if (!WIFSTOPPED(status)) {
		pr_err("tid %d died before its restore finished (status %#x)", th->tid, status);
		return -ECHILD;
	}
	if (th->state == TH_CAUGHT || th->state == TH_DONE)
		return 0;	/* held where it is */
	if (WSTOPSIG(status) == SYSCALL_STOP && status >> 16 == 0)
		return th->state == TH_UNMAP ? at_unmap(ctx, fs, th) : at_syscall(fs, th);
	return resume(th, other_signal(fs, th, status));
}

static struct fin_thread *find_thread(struct fin_state *fs, pid_t tid)
{
	for (size_t i = 0; i < fs->nr; i++) {
		if (fs->th[i].tid == tid)
			return &fs->th[i];
	}
	return NULL;
}

/* Handle every stop there is now; 0 once none is left to handle. */
static int drain(struct rst_ctx *ctx, struct fin_state *fs)
{
	struct fin_thread *th;
	int status, ret;
	pid_t pid;

	while (fs->left) {
		pid = waitpid(-1, &status, __WALL | WNOHANG);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0) {
			pr_perror("waiting for the restored threads");
			return -errno;
		}
		if (pid == 0)
			return 0;
		th = find_thread(fs, pid);
		if (!th) {
			/* An orphan of the tree: we are still the subreaper. */
			pr_debug("pid %d ended (status %#x) as the restore finished", pid, status);
			continue;
		}
		ret = on_stop(ctx, fs, th, status);
		if (ret)
			return ret;
	}
	return 0;
}

/* Until fs->left is 0: each ptrace stop sends us a SIGCHLD. */
static int wait_for_stops(struct rst_ctx *ctx, struct fin_state *fs, const sigset_t *chld,
			  const struct timespec *end, const char *what)
{
	struct timespec now, left;
	int ret;

	while (!(ret = drain(ctx, fs)) && fs->left) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		left.tv_sec = end->tv_sec - now.tv_sec;
		left.tv_nsec = end->tv_nsec - now.tv_nsec;
		if (left.tv_nsec < 0) {
			left.tv_sec--;
			left.tv_nsec += 1000000000;
		}
		if (left.tv_sec < 0) {
			pr_err("restore timed out: %zu threads did not %s", fs->left, what);
			return -ETIMEDOUT;
		}
		sigtimedwait(chld, NULL, &left);
	}
	return ret;
}

/* Every thread caught: unmap every task's region, all tasks at once. */
static int unmap_all(struct rst_ctx *ctx, struct fin_state *fs)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < ctx->nr_tasks; i++) {
		if (ctx->tasks[i].zombie)
			continue;
		ret = start_unmap(&fs->th[fs->first[i]], &ctx->regions[i]);
		fs->left++;
	}
	return ret;
}

/*
 * A task let go with a stop pending stops when it next runs: wait for
 * that, so that the restore returns with the tree as it was dumped and
 * nobody sees the task running for a moment.
 */
static void wait_stopped(pid_t pid)
{
	struct timespec nap = { .tv_nsec = 1000000 };
	struct proc_stat st;

	for (int i = 0; i < 2000; i++) {
		if (proc_read_stat(pid, &st) || st.state == 'T' || st.state == 't' ||
		    st.state == 'Z' || st.state == 'X')
			return;
		nanosleep(&nap, NULL);
	}
	pr_warn("pid %d: not stopped yet after 2 s", pid);
}

/* The regions are gone: each task runs (or stops) from its own registers. */
static int detach_all(struct rst_ctx *ctx, struct fin_state *fs)
{
	for (size_t i = 0; i < ctx->nr_tasks; i++) {
		struct rst_task *t = &ctx->tasks[i];
		struct fin_thread *th = &fs->th[fs->first[i]];
		int stop = ctx->regions[i].stop_signo;

		if (t->zombie)
			continue;
		if (!stop && fs->stop_owed[i])
			stop = SIGSTOP;
		/* Pending before the detach: taken before any instruction of the task. */
		if (stop && kill(t->real, stop)) {
			pr_perror("pid %d: cannot stop it again", t->pid);
			return -errno;
		}
		for (size_t k = 0; k < t->nr_threads; k++) {
			if (ptrace(PTRACE_DETACH, th[k].tid, NULL, NULL)) {
				pr_perror("tid %d: PTRACE_DETACH", th[k].tid);
				return -errno;
			}
		}
	}
	for (size_t i = 0; i < ctx->nr_tasks; i++)
		if (!ctx->tasks[i].zombie && (ctx->regions[i].stop_signo || fs->stop_owed[i]))
			wait_stopped(ctx->tasks[i].real);
	return 0;
}

int finish_release(struct rst_ctx *ctx)
{
	struct fin_state *fs = ctx->finish_priv;
	int timeout = ctx->opts->timeout ? ctx->opts->timeout : FINISH_TIMEOUT;
	struct sigaction dfl = { .sa_handler = SIG_DFL }, old_act;
	sigset_t chld, old_mask;
	struct timespec end;
	int ret = 0;

	/* Blocked and not ignored, so that every stop is a signal we can wait for. */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old_mask);
	sigaction(SIGCHLD, &dfl, &old_act);
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += timeout;
	for (size_t i = 0; !ret && i < fs->nr; i++)
		ret = resume(&fs->th[i], 0);
	if (!ret)
		ret = wait_for_stops(ctx, fs, &chld, &end, "reach their last rt_sigreturn");
	if (!ret && fault_at("finish"))
		ret = -EFAULT;
	if (!ret)
		ret = unmap_all(ctx, fs);
	if (!ret)
		ret = wait_for_stops(ctx, fs, &chld, &end, "unmap the restorer");
	if (!ret)
		ret = detach_all(ctx, fs);
	sigaction(SIGCHLD, &old_act, NULL);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	return ret;
}

void finish_free(struct rst_ctx *ctx)
{
	struct fin_state *fs = ctx->finish_priv;

	if (!fs)
		return;
	free(fs->th);
	free(fs->first);
	free(fs->stop_owed);
	free(fs);
	ctx->finish_priv = NULL;
}
