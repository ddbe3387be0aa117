/*
 * futex.c - threads asleep in FUTEX_WAIT, with no timeout, must sleep on
 * through whatever is done to them until the futex word changes.
 *
 * Two waiters, each on a word of its own: the main thread, which is the
 * one libcompel runs remote syscalls and the parasite in, and a second
 * thread, which is only frozen and thawed.  Both have SIGTERM blocked,
 * so nothing may ever interrupt their wait: a seize and cure must restart
 * it transparently.  A third thread waits for SIGTERM, then sets both
 * words to 1 and wakes them.
 *
 * A waiter goes round again only on EAGAIN, which means the word has
 * changed.  A return of 0 (or EAGAIN) while its word is still 0 is a
 * spurious wakeup, and EINTR or any other error is an interruption that
 * should have been restarted: each FAILs, with counts.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "stasis_test.h"

#define BLOCK_TIMEOUT_MS	10000	/* for a waiter to block in futex() */

struct waiter {
	const char *name;
	int word;		/* 0 until the waker sets it to 1 */
	atomic_int tid;		/* set before it waits */
	unsigned long waits;	/* FUTEX_WAIT calls made */
	unsigned long spurious;	/* returns while word was still 0 */
	unsigned long eintr;
	int err;		/* any other errno, 0 if none */
	long woken;		/* what the waker's FUTEX_WAKE returned */
};

static struct waiter waiters[2] = {
	{ .name = "main thread" },
	{ .name = "second thread" },
};

static long futex(int *uaddr, int op, int val)
{
	return syscall(SYS_futex, uaddr, op, val, NULL, NULL, 0);
}

static void do_wait(struct waiter *w)
{
	long ret;

	atomic_store(&w->tid, (int)gettid());
	while (!__atomic_load_n(&w->word, __ATOMIC_ACQUIRE)) {
		w->waits++;
		ret = futex(&w->word, FUTEX_WAIT_PRIVATE, 0);
		if (ret && errno != EAGAIN) {
			if (errno != EINTR) {
				w->err = errno;
				return;
			}
			w->eintr++;
		} else if (!__atomic_load_n(&w->word, __ATOMIC_ACQUIRE)) {
			w->spurious++;
		}
	}
}

static void *waiter_thread(void *arg)
{
	do_wait(arg);
	return NULL;
}

/* Wait until @w sleeps in futex(), so that READY means it. */
static void wait_blocked(struct waiter *w)
{
	if (!test_wait_in_syscall(&w->tid, SYS_futex, BLOCK_TIMEOUT_MS))
		fail("%s not asleep in futex() after %d ms", w->name, BLOCK_TIMEOUT_MS);
}

/* The only thread with SIGTERM unblocked, and only in test_waitsig(). */
static void *waker_thread(void *arg)
{
	(void)arg;
	for (int i = 0; i < 2; i++)
		wait_blocked(&waiters[i]);
	test_ready();
	test_waitsig();

	for (int i = 0; i < 2; i++) {
		__atomic_store_n(&waiters[i].word, 1, __ATOMIC_RELEASE);
		waiters[i].woken = futex(&waiters[i].word, FUTEX_WAKE_PRIVATE,
					 INT_MAX);
		if (waiters[i].woken < 0)
			fail("FUTEX_WAKE for %s: %m", waiters[i].name);
	}
	return NULL;
}

static int check_waiter(const struct waiter *w)
{
	int bad = 0;

	test_msg("%s: %lu waits, %lu spurious, %lu EINTR, FUTEX_WAKE woke %ld",
		 w->name, w->waits, w->spurious, w->eintr, w->woken);
	if (w->err) {
		fail("%s: FUTEX_WAIT failed: %s (errno %d)", w->name,
		     strerror(w->err), w->err);
		bad = 1;
	}
	if (w->eintr) {
		fail("%s: FUTEX_WAIT interrupted %lu times (EINTR)", w->name,
		     w->eintr);
		bad = 1;
	}
	if (w->spurious) {
		fail("%s: FUTEX_WAIT woke %lu times with the word still 0",
		     w->name, w->spurious);
		bad = 1;
	}
	return bad ? -1 : 0;
}

int main(int argc, char **argv)
{
	int bad = 0;

	test_init(argc, argv);
	if (test_run_pair(waiter_thread, &waiters[0], &waiters[1], waker_thread))
		return test_result();
	for (int i = 0; i < 2; i++)
		if (check_waiter(&waiters[i]))
			bad = 1;
	if (!bad)
		pass();
	return test_result();
}
