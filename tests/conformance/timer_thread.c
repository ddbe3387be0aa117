/*
 * timer_thread.c - a SIGEV_THREAD POSIX timer (glibc's: its helper thread
 * waits for signal 32 in sigwaitinfo, a new thread runs each expiry) that
 * fires every 2 ms, through the whole checkpoint and restore.
 *
 * Signal 32 is glibc's own: its sigprocmask() never blocks it, and the
 * action stays SIG_DFL.  So a restore that arms the timer before the
 * task's signal mask is back gets the task killed by it, or (SIG_IGN in
 * other programs) the kernel parks the timer for good.
 *
 * Sets up, before READY: the timer, and one expiry seen (glibc has made
 * its helper thread).  Checks after SIGTERM:
 *   - the interval is as set;
 *   - expiries go on: after the ones counted so far, another comes within
 *     two seconds.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "stasis_test.h"

#define INTERVAL_NS	2000000l

static int efd = -1;

static void on_expiry(union sigval sv)
{
	uint64_t one = 1;

	(void)sv;
	if (write(efd, &one, sizeof(one)) != sizeof(one))
		_exit(3);
}

/* One read of the expiry count, waiting up to @ms; 0 when none came. */
static uint64_t expiries(int ms)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	uint64_t n = 0;
	int r;

	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return 0;
	if (read(efd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

int main(int argc, char **argv)
{
	struct sigevent ev;
	struct itimerspec its = { { 0, INTERVAL_NS }, { 0, INTERVAL_NS } };
	timer_t id;

	test_init(argc, argv);
	efd = eventfd(0, EFD_NONBLOCK);
	if (efd < 0) {
		fail("eventfd: %m");
		return test_result();
	}
	memset(&ev, 0, sizeof(ev));
	ev.sigev_notify = SIGEV_THREAD;
	ev.sigev_notify_function = on_expiry;
	if (timer_create(CLOCK_MONOTONIC, &ev, &id) || timer_settime(id, 0, &its, NULL)) {
		fail("a SIGEV_THREAD timer: %m");
		return test_result();
	}
	if (!expiries(2000)) {
		fail("the timer did not fire before the checkpoint");
		return test_result();
	}
	test_ready();
	test_waitsig();

	if (timer_gettime(id, &its))
		fail("timer_gettime: %m");
	else if (its.it_interval.tv_sec || its.it_interval.tv_nsec != INTERVAL_NS)
		fail("interval %ld.%09ld s, not %ld ns", (long)its.it_interval.tv_sec,
		     its.it_interval.tv_nsec, INTERVAL_NS);
	expiries(0);
	if (!expiries(2000))
		fail("no expiry in 2 s: the timer stopped");
	pass();
	return test_result();
}
