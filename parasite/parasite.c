/*
 * parasite.c - the code compel runs inside a seized task.
 *
 * Built -nostdlib -fpie -mgeneral-regs-only: no libc, no relocations, and
 * no use of the vector registers, so the task's FPU state is never touched
 * (compel restores it anyway).  It only makes system calls and obeys the
 * commands compel leaves in the shared area (parasite-proto.h).
 *
 * The parasite never returns and never uses rt_sigreturn: compel takes the
 * task back with PTRACE_INTERRUPT while it waits for the next command.  Its
 * futex waits have no timeout, so an interrupted wait leaves the task's
 * restart block alone and an interrupted system call of the task's own
 * (a nanosleep) restarts exactly as it would have.  If compel dies, the
 * parasite gives the task back itself (parasite_cure_self).
 */
#include <stddef.h>
#include <stdint.h>

#include <asm/unistd.h>
#include <linux/futex.h>
#include <linux/prctl.h>
#include <signal.h>
#include <sys/time.h>

#include "nolibc.h"
#include "parasite-proto.h"

static int get_sigacts(struct compel_sigaction *sa)
{
	for (int sig = 1; sig <= 64; sig++) {
		long ret = sys4(__NR_rt_sigaction, sig, 0, &sa[sig - 1], 8);

		/* SIGKILL and SIGSTOP answer too; 32 and 33 may belong to libc. */
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int get_itimers(struct compel_itimer *it)
{
	for (int which = ITIMER_REAL; which <= ITIMER_PROF; which++) {
		struct itimerval v;
		long ret = sys2(__NR_getitimer, which, &v);

		if (ret < 0)
			return ret;
		it[which].interval_sec = v.it_interval.tv_sec;
		it[which].interval_usec = v.it_interval.tv_usec;
		it[which].value_sec = v.it_value.tv_sec;
		it[which].value_usec = v.it_value.tv_usec;
	}
	return 0;
}

/* membarrier(2)'s MEMBARRIER_CMD_GET_REGISTRATIONS (Linux 6.3): older headers lack it. */
#define MB_GET_REGISTRATIONS	(1 << 9)

/* The kernel's stack_t, which nolibc does not have. */
struct kernel_stack {
	uint64_t sp;
	int32_t flags;
	uint64_t size;
};

static void get_sigaltstack(struct compel_misc *m)
{
	struct kernel_stack ss = { 0, 0, 0 };

	m->ss_ret = sys2(__NR_sigaltstack, 0, &ss);
	m->ss_sp = ss.sp;
	m->ss_flags = ss.flags;
	m->ss_size = ss.size;
}

static int get_misc(struct compel_misc *m)
{
	int v;

	/* umask can only be read by setting it: set it straight back. */
	m->umask = sys1(__NR_umask, 0);
	sys1(__NR_umask, m->umask);
	m->pid = sys0(__NR_getpid);
	m->tid = sys0(__NR_gettid);
	m->sid = sys1(__NR_getsid, 0);
	m->pgid = sys1(__NR_getpgid, 0);
	m->personality = sys1(__NR_personality, 0xffffffff);
	m->dumpable = sys2(__NR_prctl, PR_GET_DUMPABLE, 0);
	m->no_new_privs = sys2(__NR_prctl, PR_GET_NO_NEW_PRIVS, 0);
	v = 0;
	sys2(__NR_prctl, PR_GET_CHILD_SUBREAPER, &v);
	m->child_subreaper = v;
	v = 0;
	sys2(__NR_prctl, PR_GET_PDEATHSIG, &v);
	m->pdeath_sig = v;
	m->thp_disabled = sys1(__NR_prctl, PR_GET_THP_DISABLE);
	m->securebits = sys1(__NR_prctl, PR_GET_SECUREBITS);
	m->brk = sys1(__NR_brk, 0);
	m->membarrier = sys3(__NR_membarrier, MB_GET_REGISTRATIONS, 0, 0);
	m->tid_address = 0;
	m->tid_address_ret = sys2(__NR_prctl, PR_GET_TID_ADDRESS, &m->tid_address);
	get_sigaltstack(m);
	return 0;
}

static int get_task(struct compel_task_info *ti)
{
	int ret = get_sigacts(ti->sigacts);

	if (!ret)
		ret = get_itimers(ti->itimers);
	return ret ?: get_misc(&ti->misc);
}

void parasite_cure_self(struct parasite_cure *c) __attribute__((noreturn));

static int sigpipe_pending(void)
{
	uint64_t set = 0;

	sys2(__NR_rt_sigpending, &set, 8);
	return !!(set & (1ULL << (SIGPIPE - 1)));
}

/*
 * vmsplice into a pipe whose reader is gone raises SIGPIPE at the task,
 * which would kill it once its mask is back: take back the one we caused.
 */
static void drop_own_sigpipe(int was_pending)
{
	uint64_t set = 1ULL << (SIGPIPE - 1);
	struct { long sec, nsec; } now = { 0, 0 };

	if (!was_pending)
		sys4(__NR_rt_sigtimedwait, &set, 0, &now, 8);
}

/* Move the listed pages into the pipe: the kernel does the work, in batches. */
static int dump_pages(struct compel_pages *p)
{
	int had_sigpipe = sigpipe_pending();
	uint32_t i = p->done;

	if (p->nr_iovs > COMPEL_MAX_IOVS)
		return -22;	/* EINVAL */
	while (i < p->nr_iovs) {
		uint32_t n = p->nr_iovs - i;
		long ret;

		if (n > 512)	/* IOV_MAX is 1024; stay well inside it */
			n = 512;
		ret = sys4(__NR_vmsplice, p->pipe_fd, &p->iovs[i], n, p->flags);
		if (ret == -32)	/* EPIPE */
			drop_own_sigpipe(had_sigpipe);
		if (ret < 0)
			return ret;
		/* Account whole iovecs; a partial one is finished next round. */
		while (ret > 0 && i < p->nr_iovs) {
			if ((uint64_t)ret >= p->iovs[i].len) {
				ret -= p->iovs[i].len;
				i++;
			} else {
				p->iovs[i].base += ret;
				p->iovs[i].len -= ret;
				ret = 0;
			}
		}
		p->done = i;
	}
	return 0;
}

static int do_syscall(struct compel_syscall_args *s)
{
	s->ret = sys6(s->nr, s->args[0], s->args[1], s->args[2], s->args[3], s->args[4],
		      s->args[5]);
	return 0;
}

static int run(struct parasite_area *a)
{
	switch (a->cmd) {
	case COMPEL_CMD_NOP:
		return 0;
	case COMPEL_CMD_GET_SIGACTS:
		return get_sigacts(a->args.sigacts);
	case COMPEL_CMD_GET_ITIMERS:
		return get_itimers(a->args.itimers);
	case COMPEL_CMD_GET_MISC:
		return get_misc(&a->args.misc);
	case COMPEL_CMD_DUMP_PAGES:
		return dump_pages(&a->args.pages);
	case COMPEL_CMD_SYSCALL:
		return do_syscall(&a->args.sys);
	case COMPEL_CMD_GET_TASK:
		return get_task(&a->args.task);
	default:
		return -38;	/* ENOSYS */
	}
}

/*
 * Wait for a command after @last, or for compel's death when it guards
 * us.  No timeout: see the comment at the top.  Kernels before 5.16 have
 * no futex_waitv; there the parasite waits for commands only.
 */
static void wait_command(struct parasite_area *a, uint32_t last, uint32_t tracer)
{
	struct futex_waitv w[2] = {
		{ .val = last, .uaddr = (uintptr_t)&a->cmd_seq, .flags = FUTEX_32 },
		{ .val = tracer, .uaddr = (uintptr_t)&a->tracer, .flags = FUTEX_32 },
	};

	if (tracer && sys5(__NR_futex_waitv, w, 2, 0, 0, 0) != -38)	/* ENOSYS */
		return;
	sys4(__NR_futex, &a->cmd_seq, FUTEX_WAIT, last, 0);
}

void parasite_main(struct parasite_area *a)
{
	uint32_t last = 0;

	/* The fd the area was mapped from, ours to close: a remote call less. */
	if (a->memfd >= 0) {
		sys4(__NR_close, a->memfd, 0, 0, 0);
		a->memfd = -1;
	}
	for (;;) {
		uint32_t seq = __atomic_load_n(&a->cmd_seq, __ATOMIC_ACQUIRE);
		uint32_t tracer = __atomic_load_n(&a->tracer, __ATOMIC_ACQUIRE);

		if (tracer & FUTEX_OWNER_DIED)
			parasite_cure_self(&a->cure);
		if (seq == last) {
			wait_command(a, last, tracer);
			continue;
		}
		last = seq;
		a->ret = run(a);
		__atomic_store_n(&a->done_seq, seq, __ATOMIC_RELEASE);
		sys4(__NR_futex, &a->done_seq, FUTEX_WAKE, 1, 0);
	}
}
