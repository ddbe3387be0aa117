/*
 * nanosleep.c - threads sleeping 700 ms at a time must never be woken
 * early: a seize and cure in the middle of a sleep must resume it, through
 * restart_syscall(), with the time it had left.
 *
 * Two sleepers: the main thread, which is the one libcompel runs remote
 * syscalls and the parasite in, sleeping with nanosleep(), and a second
 * thread, which is only frozen and thawed, with clock_nanosleep() on
 * CLOCK_MONOTONIC.  Both have SIGTERM blocked, so no handler can ever cut
 * a sleep short.  A third thread waits for SIGTERM and tells them to stop
 * once each has done MIN_SLEEPS sleeps.
 *
 * Every sleep must return 0, never EINTR or another error, and at least
 * the time asked for must have passed on CLOCK_MONOTONIC.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "stasis_test.h"

#define SLEEP_NS	(700 * 1000 * 1000L)
#define MIN_SLEEPS	3	/* each sleeper does at least this many */

struct sleeper {
	const char *name;
	bool posix;		/* clock_nanosleep(), not nanosleep() */
	unsigned long sleeps;	/* completed, returning 0 */
	unsigned long shorts;	/* of those, ended too soon */
	unsigned long eintr;
	unsigned long errors;	/* other errors, which end its loop */
	int err;		/* the error */
	long shortest_ns;	/* the shortest short sleep */
	long longest_ns;	/* the longest sleep */
};

static struct sleeper sleepers[2] = {
	{ .name = "main thread (nanosleep)" },
	{ .name = "second thread (clock_nanosleep)", .posix = true },
};

/* Set by the waker after SIGTERM. */
static atomic_int stop;

static long elapsed_ns(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1000000000L + (b->tv_nsec - a->tv_nsec);
}

/* One sleep; 0 or the error number. */
static int sleep_once(const struct sleeper *s)
{
	const struct timespec req = { .tv_nsec = SLEEP_NS };

	if (s->posix)
		return clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL);
	return nanosleep(&req, NULL) ? errno : 0;
}

static void do_sleeps(struct sleeper *s)
{
	struct timespec t0, t1;
	long ns;
	int err;

	while (!atomic_load(&stop) || s->sleeps < MIN_SLEEPS) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		err = sleep_once(s);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ns = elapsed_ns(&t0, &t1);

		if (err == EINTR) {
			s->eintr++;
			continue;
		}
		if (err) {	/* not a thing to retry: it would spin */
			s->errors++;
			s->err = err;
			return;
		}
		s->sleeps++;
		if (ns > s->longest_ns)
			s->longest_ns = ns;
		if (ns < SLEEP_NS) {
			if (!s->shorts || ns < s->shortest_ns)
				s->shortest_ns = ns;
			s->shorts++;
		}
	}
}

static void *sleeper_thread(void *arg)
{
	do_sleeps(arg);
	return NULL;
}

/* The only thread with SIGTERM unblocked, and only in test_waitsig(). */
static void *waker_thread(void *arg)
{
	(void)arg;
	test_ready();
	test_waitsig();
	atomic_store(&stop, 1);
	return NULL;
}

static int check_sleeper(const struct sleeper *s)
{
	int bad = 0;

	test_msg("%s: %lu sleeps, %lu short, %lu EINTR, %lu errors, longest %ld us",
		 s->name, s->sleeps, s->shorts, s->eintr, s->errors,
		 s->longest_ns / 1000);
	if (s->eintr) {
		fail("%s: %lu sleeps interrupted (EINTR)", s->name, s->eintr);
		bad = 1;
	}
	if (s->errors) {
		fail("%s: sleep failed with %s (errno %d)",
		     s->name, strerror(s->err), s->err);
		bad = 1;
	}
	if (s->shorts) {
		fail("%s: %lu sleeps of %ld ms ended early, the shortest after %ld us",
		     s->name, s->shorts, SLEEP_NS / 1000000, s->shortest_ns / 1000);
		bad = 1;
	}
	return bad ? -1 : 0;
}

int main(int argc, char **argv)
{
	int bad = 0;

	test_init(argc, argv);
	if (test_run_pair(sleeper_thread, &sleepers[0], &sleepers[1], waker_thread))
		return test_result();
	for (int i = 0; i < 2; i++)
		if (check_sleeper(&sleepers[i]))
			bad = 1;
	if (!bad)
		pass();
	return test_result();
}
