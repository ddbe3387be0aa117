/*
 * signals.c - signal dispositions, mask, pending signals and the
 * alternate signal stack.
 *
 * Sets up, before READY:
 *   SIGUSR1   handler, SA_SIGINFO|SA_RESTART, sa_mask {HUP, USR2, RTMIN+1}
 *   SIGUSR2   handler, SA_SIGINFO, sa_mask {QUIT}; blocked, and pending:
 *             sigqueue()d to the process with value USR2_VALUE
 *   SIGHUP    handler, SA_NODEFER|SA_RESETHAND
 *   SIGINT    handler, SA_SIGINFO|SA_ONSTACK
 *   SIGCHLD   handler, SA_NOCLDSTOP|SA_RESTART
 *   SIGPIPE   ignored;  SIGALRM ignored, with an sa_mask
 *   SIGRTMIN+4  SA_SIGINFO handler; blocked; queued to the process twice,
 *             values RT_VALUE1 then RT_VALUE2 (shared pending)
 *   SIGRTMIN+5  SA_SIGINFO handler; blocked; queued to the main thread
 *             itself with value PRIV_VALUE (private pending)
 *   also blocked: SIGQUIT, SIGRTMIN+10
 *   an alternate signal stack with SS_AUTODISARM
 * and waits for SIGTERM in nanosleep() with that mask in force.
 *
 * Checks after SIGTERM, against what was recorded before READY:
 *   - every signal's kernel sigaction (rt_sigaction: handler, flags,
 *     restorer, mask), 1 to 64, SIGKILL and SIGSTOP aside;
 *   - the blocked mask, sigpending(), and the SigPnd/ShdPnd/SigBlk/
 *     SigIgn/SigCgt lines of /proc/self/status (private vs shared queue);
 *   - sigaltstack(): same ss_sp, ss_size, ss_flags; a SIGINT then runs
 *     its handler on that stack;
 *   - SIGRTMIN+5 is taken (sigtimedwait) once with PRIV_VALUE, SIGRTMIN+4
 *     twice, RT_VALUE1 then RT_VALUE2, all SI_QUEUE from our own pid;
 *   - unblocking SIGUSR2 delivers it at once, exactly once, with
 *     USR2_VALUE, and its handler runs with its sa_mask in force;
 *   - nothing is left pending.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "stasis_test.h"

#define KSIGS		64
#define ALTSTACK_SIZE	(64 * 1024)
#define USR2_VALUE	0x5eed
#define RT_VALUE1	0x1111
#define RT_VALUE2	0x2222
#define PRIV_VALUE	0x77
#define STATUS_LEN	512

#ifndef SS_AUTODISARM
#define SS_AUTODISARM	(1U << 31)	/* linux/signal.h clashes with signal.h */
#endif

/* The kernel's struct sigaction, as rt_sigaction(2) takes it on x86-64. */
struct ksigaction {
	unsigned long handler;
	unsigned long flags;
	unsigned long restorer;
	uint64_t mask;
};

/* What the handlers saw. */
static volatile sig_atomic_t usr2_count, int_count;
static volatile int usr2_value, usr2_code, usr2_pid;
static volatile sig_atomic_t usr2_mask_ok, int_on_stack;
static stack_t alt;

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)si, (void)uc;
}

static void on_usr2(int sig, siginfo_t *si, void *uc)
{
	sigset_t now;

	(void)sig, (void)uc;
	usr2_count++;
	usr2_value = si->si_value.sival_int;
	usr2_code = si->si_code;
	usr2_pid = si->si_pid;
	/* sa_mask {QUIT} and the signal itself must be blocked in here. */
	sigprocmask(SIG_BLOCK, NULL, &now);
	usr2_mask_ok = sigismember(&now, SIGQUIT) && sigismember(&now, SIGUSR2);
}

static void on_plain(int sig)
{
	(void)sig;
}

static void on_int(int sig, siginfo_t *si, void *uc)
{
	uintptr_t here = (uintptr_t)&sig, base = (uintptr_t)alt.ss_sp;

	(void)si, (void)uc;
	int_count++;
	int_on_stack = here >= base && here < base + alt.ss_size;
}

static int set_action(int sig, void *handler, int flags, const int *mask)
{
	struct sigaction sa = { .sa_flags = flags };

	if (flags & SA_SIGINFO)
		sa.sa_sigaction = (void (*)(int, siginfo_t *, void *))handler;
	else
		sa.sa_handler = (void (*)(int))handler;
	sigemptyset(&sa.sa_mask);
	for (; mask && *mask; mask++)
		sigaddset(&sa.sa_mask, *mask);
	if (sigaction(sig, &sa, NULL)) {
		fail("sigaction(%d): %m", sig);
		return -1;
	}
	return 0;
}

static int get_ksa(int sig, struct ksigaction *ksa)
{
	return (int)syscall(SYS_rt_sigaction, sig, NULL, ksa, sizeof(ksa->mask));
}

static int check_actions(const struct ksigaction *want)
{
	const struct ksigaction *w;
	struct ksigaction ksa;
	int bad = 0;

	for (int sig = 1; sig <= KSIGS; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (get_ksa(sig, &ksa)) {
			fail("rt_sigaction(%d): %m", sig);
			bad = 1;
			continue;
		}
		w = &want[sig];
		if (ksa.handler != w->handler || ksa.flags != w->flags ||
		    ksa.restorer != w->restorer || ksa.mask != w->mask) {
			fail("signal %d (%s): handler %#lx flags %#lx restorer %#lx mask %#llx, was %#lx %#lx %#lx %#llx",
			     sig, sigabbrev_np(sig) ? sigabbrev_np(sig) : "RT",
			     ksa.handler, ksa.flags, ksa.restorer,
			     (unsigned long long)ksa.mask, w->handler, w->flags,
			     w->restorer, (unsigned long long)w->mask);
			bad = 1;
		}
	}
	return bad ? -1 : 0;
}

/* The Sig* and ShdPnd lines of /proc/self/status, in one string. */
static int status_sigs(char *buf, size_t len)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	size_t used = 0;

	if (!f)
		return -1;
	buf[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "SigPnd:", 7) && strncmp(line, "ShdPnd:", 7) &&
		    strncmp(line, "SigBlk:", 7) && strncmp(line, "SigIgn:", 7) &&
		    strncmp(line, "SigCgt:", 7))
			continue;
		line[strcspn(line, "\n")] = ' ';
		used += (size_t)snprintf(buf + used, len - used, "%s", line);
		if (used >= len)
			break;
	}
	fclose(f);
	return 0;
}

/* Report every signal in which sets @got and @want differ. */
static int cmp_sets(const char *what, const sigset_t *got, const sigset_t *want)
{
	int bad = 0;

	for (int sig = 1; sig <= KSIGS; sig++) {
		if (sigismember(got, sig) == sigismember(want, sig))
			continue;
		fail("%s: signal %d (%s) %s, was %s", what, sig,
		     sigabbrev_np(sig) ? sigabbrev_np(sig) : "RT",
		     sigismember(got, sig) ? "set" : "clear",
		     sigismember(want, sig) ? "set" : "clear");
		bad = 1;
	}
	return bad;
}

/* Take blocked @sig with sigtimedwait() now; it must come with @value. */
static int take(int sig, int value, const char *what)
{
	struct timespec zero = { 0 };
	siginfo_t si;
	sigset_t set;
	int ret;

	sigemptyset(&set);
	sigaddset(&set, sig);
	ret = sigtimedwait(&set, &si, &zero);
	if (ret != sig) {
		fail("%s: signal %d not pending: %m", what, sig);
		return -1;
	}
	if (si.si_code != SI_QUEUE || si.si_pid != getpid() ||
	    si.si_value.sival_int != value) {
		fail("%s: signal %d with si_code %d, value %#x from %d, want SI_QUEUE, %#x from %d",
		     what, sig, si.si_code, si.si_value.sival_int, si.si_pid,
		     value, getpid());
		return -1;
	}
	return 0;
}

static int none_left(int sig, const char *what)
{
	struct timespec zero = { 0 };
	siginfo_t si;
	sigset_t set;
	int ret;

	sigemptyset(&set);
	sigaddset(&set, sig);
	ret = sigtimedwait(&set, &si, &zero);
	if (ret >= 0) {
		fail("%s: signal %d pending once more than queued, value %#x",
		     what, sig, si.si_value.sival_int);
		return -1;
	}
	return 0;
}

static int check_altstack(const stack_t *want)
{
	stack_t now;

	if (sigaltstack(NULL, &now)) {
		fail("sigaltstack: %m");
		return -1;
	}
	if (now.ss_sp != want->ss_sp || now.ss_size != want->ss_size ||
	    now.ss_flags != want->ss_flags) {
		fail("sigaltstack sp %p size %zu flags %#x, was %p %zu %#x",
		     now.ss_sp, now.ss_size, now.ss_flags, want->ss_sp,
		     want->ss_size, want->ss_flags);
		return -1;
	}
	return 0;
}

static int setup(void)
{
	static const int usr1_mask[] = { SIGHUP, SIGUSR2, 0, 0 };
	static const int usr2_mask[] = { SIGQUIT, 0 };
	static const int alrm_mask[] = { SIGINT, SIGTERM, 0 };
	int usr1m[4];
	sigset_t block;

	memcpy(usr1m, usr1_mask, sizeof(usr1m));
	usr1m[2] = SIGRTMIN + 1;	/* not a constant in glibc */

	alt.ss_sp = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (alt.ss_sp == MAP_FAILED) {
		fail("mmap: %m");
		return -1;
	}
	alt.ss_size = ALTSTACK_SIZE;
	alt.ss_flags = (int)SS_AUTODISARM;
	if (sigaltstack(&alt, NULL)) {
		fail("sigaltstack: %m");
		return -1;
	}

	if (set_action(SIGUSR1, on_usr1, SA_SIGINFO | SA_RESTART, usr1m) ||
	    set_action(SIGUSR2, on_usr2, SA_SIGINFO, usr2_mask) ||
	    set_action(SIGHUP, on_plain, SA_NODEFER | SA_RESETHAND, NULL) ||
	    set_action(SIGINT, on_int, SA_SIGINFO | SA_ONSTACK, NULL) ||
	    set_action(SIGCHLD, on_plain, SA_NOCLDSTOP | SA_RESTART, NULL) ||
	    set_action(SIGPIPE, SIG_IGN, 0, NULL) ||
	    set_action(SIGALRM, SIG_IGN, 0, alrm_mask) ||
	    set_action(SIGRTMIN + 4, on_usr1, SA_SIGINFO, NULL) ||
	    set_action(SIGRTMIN + 5, on_usr1, SA_SIGINFO, NULL))
		return -1;

	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	sigaddset(&block, SIGQUIT);
	sigaddset(&block, SIGRTMIN + 4);
	sigaddset(&block, SIGRTMIN + 5);
	sigaddset(&block, SIGRTMIN + 10);
	if (sigprocmask(SIG_BLOCK, &block, NULL)) {
		fail("sigprocmask: %m");
		return -1;
	}

	if (sigqueue(getpid(), SIGUSR2, (union sigval){ .sival_int = USR2_VALUE }) ||
	    sigqueue(getpid(), SIGRTMIN + 4, (union sigval){ .sival_int = RT_VALUE1 }) ||
	    sigqueue(getpid(), SIGRTMIN + 4, (union sigval){ .sival_int = RT_VALUE2 }) ||
	    pthread_sigqueue(pthread_self(), SIGRTMIN + 5,
			     (union sigval){ .sival_int = PRIV_VALUE })) {
		fail("sigqueue: %m");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct ksigaction actions[KSIGS + 1] = { 0 };
	char status_was[STATUS_LEN], status_now[STATUS_LEN];
	sigset_t mask_was, pend_was, mask_now, pend_now, usr2;
	struct timespec nap = { .tv_nsec = 100 * 1000 * 1000 };
	stack_t alt_was;
	int bad = 0;

	test_init(argc, argv);
	if (setup())
		return test_result();

	for (int sig = 1; sig <= KSIGS; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (get_ksa(sig, &actions[sig])) {
			fail("rt_sigaction(%d): %m", sig);
			return test_result();
		}
	}
	sigprocmask(SIG_BLOCK, NULL, &mask_was);
	sigpending(&pend_was);
	sigaltstack(NULL, &alt_was);
	if (status_sigs(status_was, sizeof(status_was))) {
		fail("/proc/self/status: %m");
		return test_result();
	}

	test_ready();
	/*
	 * Not test_waitsig(): sigsuspend() would swap the mask for the time
	 * of the checkpoint, and its caller set it back afterwards, hiding
	 * a mask the restore got wrong.  A SIGTERM landing just before
	 * nanosleep() costs one more nap.
	 */
	while (!test_got_sigterm())
		nanosleep(&nap, NULL);

	/* First look, touching nothing. */
	if (usr2_count || int_count) {
		fail("SIGUSR2 or SIGINT delivered before it was unblocked or raised (%d, %d times)",
		     (int)usr2_count, (int)int_count);
		bad = 1;
	}
	if (check_actions(actions))
		bad = 1;
	sigprocmask(SIG_BLOCK, NULL, &mask_now);
	sigpending(&pend_now);
	if (cmp_sets("blocked mask", &mask_now, &mask_was))
		bad = 1;
	if (cmp_sets("pending set", &pend_now, &pend_was))
		bad = 1;
	if (status_sigs(status_now, sizeof(status_now)) ||
	    strcmp(status_now, status_was)) {
		fail("/proc/self/status says '%s', was '%s'", status_now,
		     status_was);
		bad = 1;
	}
	if (check_altstack(&alt_was))
		bad = 1;

	/* Then use it all. */
	raise(SIGINT);
	if (int_count != 1 || !int_on_stack) {
		fail("SIGINT handler ran %d times, %s the alternate stack",
		     (int)int_count, int_on_stack ? "on" : "not on");
		bad = 1;
	}
	if (check_altstack(&alt_was))	/* re-armed after the handler */
		bad = 1;

	if (take(SIGRTMIN + 5, PRIV_VALUE, "thread-private SIGRTMIN+5") ||
	    none_left(SIGRTMIN + 5, "thread-private SIGRTMIN+5"))
		bad = 1;
	if (take(SIGRTMIN + 4, RT_VALUE1, "first SIGRTMIN+4") ||
	    take(SIGRTMIN + 4, RT_VALUE2, "second SIGRTMIN+4") ||
	    none_left(SIGRTMIN + 4, "SIGRTMIN+4"))
		bad = 1;

	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	sigprocmask(SIG_UNBLOCK, &usr2, NULL);
	if (usr2_count != 1) {
		fail("SIGUSR2 delivered %d times on unblocking, want once",
		     (int)usr2_count);
		bad = 1;
	} else if (usr2_value != USR2_VALUE || usr2_code != SI_QUEUE ||
		   usr2_pid != getpid()) {
		fail("SIGUSR2 came with value %#x, si_code %d from %d, want %#x, SI_QUEUE from %d",
		     usr2_value, usr2_code, usr2_pid, USR2_VALUE, getpid());
		bad = 1;
	} else if (!usr2_mask_ok) {
		fail("SIGUSR2 handler ran without SIGQUIT and SIGUSR2 blocked");
		bad = 1;
	}

	sigpending(&pend_now);
	for (int sig = 1; sig <= KSIGS; sig++) {
		if (sigismember(&pend_now, sig)) {
			fail("signal %d still pending at the end", sig);
			bad = 1;
		}
	}
	if (!bad)
		pass();
	return test_result();
}
