/*
 * poll_timeout.c - a thread asleep in poll() with a timeout, a thread
 * asleep in nanosleep().
 *
 * Frozen inside poll() with a timeout, the kernel would resume the call
 * from its restart block, which a restore cannot bring back: the call is
 * made again instead, and must not fail with EINTR (GNU tail -f dies of
 * it).  nanosleep() interrupted so reports EINTR with the time left, as
 * CRIU restores it: the sleeper sleeps that time left and no more.
 *
 * Sets up, before READY: P, a thread with every signal blocked, in
 * poll() on a pipe with a 60 s timeout, in a loop that counts EINTRs;
 * S, a thread sleeping 3 s in nanosleep(), looping on EINTR with the
 * time left.
 *
 * Checks after SIGTERM: the main thread writes into the pipe; P's poll()
 * returns the pipe readable and never failed with EINTR; S's whole sleep
 * took between 3 s and 3 s plus the dump and restore (under 30 s).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "stasis_test.h"

static int pipefd[2];
static volatile int poll_ret, poll_eintr, poll_errno;
static volatile double slept = -1;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *poller(void *arg)
{
	struct pollfd pfd = { .fd = pipefd[0], .events = POLLIN };
	sigset_t all;
	int r;

	(void)arg;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		r = poll(&pfd, 1, 60000);
		if (r < 0 && errno == EINTR) {
			poll_eintr++;
			continue;
		}
		if (r != 0)
			break;
	}
	poll_errno = r < 0 ? errno : 0;
	poll_ret = r;
	return NULL;
}

static void *sleeper(void *arg)
{
	struct timespec left = { 3, 0 };
	sigset_t all;
	double t0 = now();

	(void)arg;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	while (nanosleep(&left, &left) < 0 && errno == EINTR)
		;
	slept = now() - t0;
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t p, s;

	test_init(argc, argv);
	if (pipe(pipefd))
		return fail("pipe: %m"), test_result();
	if (pthread_create(&p, NULL, poller, NULL) || pthread_create(&s, NULL, sleeper, NULL))
		return fail("pthread_create"), test_result();
	usleep(100 * 1000);	/* both asleep before the dump */
	test_ready();
	test_waitsig();

	if (write(pipefd[1], "x", 1) != 1)
		fail("write: %m");
	pthread_join(p, NULL);
	pthread_join(s, NULL);
	if (poll_ret != 1)
		fail("poll() returned %d (errno %d), not the pipe readable", poll_ret, poll_errno);
	if (poll_eintr)
		fail("poll() failed with EINTR %d times", poll_eintr);
	if (slept < 2.9 || slept > 30)
		fail("the 3 s sleep took %.2f s", slept);
	if (!poll_eintr && poll_ret == 1 && slept >= 2.9 && slept <= 30)
		pass();
	return test_result();
}
