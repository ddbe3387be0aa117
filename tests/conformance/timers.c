/*
 * timers.c - interval timers and POSIX timers, armed far into the future.
 *
 * Sets up, before READY:
 *   ITIMER_REAL     value 100 s, interval 200 s (SIGALRM caught)
 *   ITIMER_VIRTUAL  value  50 s, interval  60 s (SIGVTALRM caught)
 *   ITIMER_PROF     value  70 s, interval  80 s (SIGPROF caught)
 *   POSIX timer A   CLOCK_MONOTONIC, SIGEV_SIGNAL SIGRTMIN+1 with value
 *                   A_VALUE, armed: value 300 s, interval 400 s
 *   POSIX timer B   CLOCK_REALTIME, SIGEV_SIGNAL SIGRTMIN+2, created but
 *                   never armed
 * None can fire while the test runs.  Records each timer's remaining time
 * right before READY, with CLOCK_MONOTONIC.
 *
 * Checks after SIGTERM:
 *   - every interval exactly as set;
 *   - every remaining value plausible: > 0, not above the value recorded
 *     before READY (nor the value set; CPU timers: plus a tick or two,
 *     see check_remaining()), and for the timers that count wall time
 *     (ITIMER_REAL, timer A) not below it minus the time elapsed since
 *     (and a second), which a checkpoint that stops the clock still passes;
 *   - timer B still disarmed;
 *   - the timer ids are the same: timer_gettime() works on both ids and
 *     /proc/self/timers (ids, signals, values, notify, clocks) reads
 *     exactly as before;
 *   - no timer signal has been delivered.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "stasis_test.h"

#define A_VALUE		0x7157a
#define B_VALUE		0x7157b
#define SLACK_NS	1000000000ll	/* for wall-time timers, below */
#define TICK_SLACK_NS	20000000ll	/* for CPU timers, above: see below */
#define TIMERS_LEN	1024

static const struct {
	int which;
	const char *name;
	int sig;
	struct itimerval set;
	bool wall;	/* counts elapsed time, not CPU time */
} itimers[] = {
	{ ITIMER_REAL, "ITIMER_REAL", SIGALRM, { { 200, 0 }, { 100, 0 } }, true },
	{ ITIMER_VIRTUAL, "ITIMER_VIRTUAL", SIGVTALRM, { { 60, 0 }, { 50, 0 } }, false },
	{ ITIMER_PROF, "ITIMER_PROF", SIGPROF, { { 80, 0 }, { 70, 0 } }, false },
};
#define NR_ITIMERS	(sizeof(itimers) / sizeof(itimers[0]))

static const struct itimerspec a_set = { { 400, 0 }, { 300, 0 } };

static volatile sig_atomic_t fired[NSIG];

static void on_timer(int sig)
{
	fired[sig]++;
}

static long long ns_of_tv(const struct timeval *tv)
{
	return tv->tv_sec * 1000000000ll + tv->tv_usec * 1000ll;
}

static long long ns_of_ts(const struct timespec *ts)
{
	return ts->tv_sec * 1000000000ll + ts->tv_nsec;
}

static long long mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ns_of_ts(&ts);
}

/* All of /proc/self/timers. */
static int read_timers(char *buf, size_t len)
{
	FILE *f = fopen("/proc/self/timers", "re");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
	return 0;
}

/*
 * A remaining time @now_ns of a timer set to @set_ns that had @was_ns
 * left @elapsed_ns ago: plausible?  @wall: it counts elapsed time.
 *
 * The kernel adds a tick to a CPU timer when it is set, so that it never
 * fires early: ITIMER_VIRTUAL set to 50 s reads 50.004 s with HZ=250, and
 * a restore that sets it again to what it read gets one tick more.  CPU
 * timers may read up to TICK_SLACK_NS above what they read before.
 */
static int check_remaining(const char *name, long long now_ns, long long was_ns,
			   long long set_ns, long long elapsed_ns, bool wall)
{
	long long max = wall ? was_ns : was_ns + TICK_SLACK_NS;

	if (wall && max > set_ns)
		max = set_ns;
	if (now_ns <= 0 || now_ns > max) {
		fail("%s: %lld ns left, want > 0 and <= %lld ns (%lld ns left before READY, set to %lld ns)",
		     name, now_ns, max, was_ns, set_ns);
		return -1;
	}
	if (wall && now_ns < was_ns - elapsed_ns - SLACK_NS) {
		fail("%s: %lld ns left, but %lld ns were left %lld ns ago",
		     name, now_ns, was_ns, elapsed_ns);
		return -1;
	}
	return 0;
}

static void msg_itimerval_diff(const char *name, const struct timeval *got,
			       const struct timeval *want)
{
	fail("%s: interval %ld.%06ld s, want %ld.%06ld s", name,
	     (long)got->tv_sec, (long)got->tv_usec,
	     (long)want->tv_sec, (long)want->tv_usec);
}

int main(int argc, char **argv)
{
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL };
	struct sigaction sa = { .sa_handler = on_timer };
	struct itimerval it_was[NR_ITIMERS], it;
	struct itimerspec a_was, b_was, ts;
	char procs_was[TIMERS_LEN], procs_now[TIMERS_LEN];
	timer_t a, b;
	long long t0, elapsed;
	int bad = 0;

	test_init(argc, argv);

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < NR_ITIMERS; i++)
		sigaction(itimers[i].sig, &sa, NULL);
	sigaction(SIGRTMIN + 1, &sa, NULL);
	sigaction(SIGRTMIN + 2, &sa, NULL);

	sev.sigev_signo = SIGRTMIN + 1;
	sev.sigev_value.sival_int = A_VALUE;
	if (timer_create(CLOCK_MONOTONIC, &sev, &a)) {
		fail("timer_create(CLOCK_MONOTONIC): %m");
		return test_result();
	}
	sev.sigev_signo = SIGRTMIN + 2;
	sev.sigev_value.sival_int = B_VALUE;
	if (timer_create(CLOCK_REALTIME, &sev, &b)) {
		fail("timer_create(CLOCK_REALTIME): %m");
		return test_result();
	}
	if (timer_settime(a, 0, &a_set, NULL)) {
		fail("timer_settime: %m");
		return test_result();
	}
	for (size_t i = 0; i < NR_ITIMERS; i++) {
		if (setitimer(itimers[i].which, &itimers[i].set, NULL)) {
			fail("setitimer(%s): %m", itimers[i].name);
			return test_result();
		}
	}

	if (read_timers(procs_was, sizeof(procs_was))) {
		fail("/proc/self/timers: %m");
		return test_result();
	}
	t0 = mono_ns();
	for (size_t i = 0; i < NR_ITIMERS; i++)
		getitimer(itimers[i].which, &it_was[i]);
	timer_gettime(a, &a_was);
	timer_gettime(b, &b_was);

	test_ready();
	test_waitsig();

	elapsed = mono_ns() - t0;
	for (size_t i = 0; i < NR_ITIMERS; i++) {
		const char *name = itimers[i].name;

		if (getitimer(itimers[i].which, &it)) {
			fail("getitimer(%s): %m", name);
			bad = 1;
			continue;
		}
		if (it.it_interval.tv_sec != itimers[i].set.it_interval.tv_sec ||
		    it.it_interval.tv_usec != itimers[i].set.it_interval.tv_usec) {
			msg_itimerval_diff(name, &it.it_interval,
					   &itimers[i].set.it_interval);
			bad = 1;
		}
		if (check_remaining(name, ns_of_tv(&it.it_value),
				    ns_of_tv(&it_was[i].it_value),
				    ns_of_tv(&itimers[i].set.it_value),
				    elapsed, itimers[i].wall))
			bad = 1;
	}

	if (timer_gettime(a, &ts)) {
		fail("timer_gettime(timer A, id %ld): %m", (long)(intptr_t)a);
		bad = 1;
	} else {
		if (ns_of_ts(&ts.it_interval) != ns_of_ts(&a_set.it_interval)) {
			fail("timer A: interval %lld ns, want %lld ns",
			     ns_of_ts(&ts.it_interval),
			     ns_of_ts(&a_set.it_interval));
			bad = 1;
		}
		if (check_remaining("timer A", ns_of_ts(&ts.it_value),
				    ns_of_ts(&a_was.it_value),
				    ns_of_ts(&a_set.it_value), elapsed, true))
			bad = 1;
	}
	if (timer_gettime(b, &ts)) {
		fail("timer_gettime(timer B, id %ld): %m", (long)(intptr_t)b);
		bad = 1;
	} else if (ts.it_value.tv_sec || ts.it_value.tv_nsec ||
		   ts.it_interval.tv_sec || ts.it_interval.tv_nsec ||
		   b_was.it_value.tv_sec || b_was.it_value.tv_nsec) {
		fail("timer B: value %lld ns, interval %lld ns, want disarmed",
		     ns_of_ts(&ts.it_value), ns_of_ts(&ts.it_interval));
		bad = 1;
	}

	if (read_timers(procs_now, sizeof(procs_now))) {
		fail("/proc/self/timers: %m");
		bad = 1;
	} else if (strcmp(procs_now, procs_was)) {
		fail("/proc/self/timers reads '%s', was '%s'", procs_now, procs_was);
		bad = 1;
	}

	for (int sig = 1; sig < NSIG; sig++) {
		if (fired[sig]) {
			fail("signal %d (%s) delivered %d times: a timer fired",
			     sig, sigabbrev_np(sig) ? sigabbrev_np(sig) : "RT",
			     (int)fired[sig]);
			bad = 1;
		}
	}
	if (!bad)
		pass();
	return test_result();
}
