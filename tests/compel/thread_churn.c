/*
 * thread_churn.c - threads come and go all the time, IN_FLIGHT at once:
 * a seize has to catch a thread group that changes under it, and must
 * neither lose a thread nor leave one behind frozen.
 *
 * Every thread adds one to a counter and returns a value made from its
 * argument; the main thread joins each and checks that value.  Any error
 * from pthread_create() or pthread_join(), a wrong value, or a counter
 * that does not match the threads created FAILs.  It goes on until
 * SIGTERM, and for at least MIN_THREADS threads.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "stasis_test.h"

#define IN_FLIGHT	4
#define MIN_THREADS	2000
#define RET_MAGIC	0x7e57c0de00000000ull

static atomic_ulong ran;

static void *churn_thread(void *arg)
{
	atomic_fetch_add(&ran, 1);
	return (void *)((uintptr_t)arg ^ RET_MAGIC);
}

/* Join the thread started as number @n; 0 if it returned the right value. */
static int join(pthread_t tid, unsigned long n)
{
	void *ret;
	int err = pthread_join(tid, &ret);

	if (err) {
		fail("pthread_join of thread %lu: %s", n, strerror(err));
		return -1;
	}
	if ((uintptr_t)ret != (n ^ RET_MAGIC)) {
		fail("thread %lu returned %#lx, want %#llx", n,
		     (unsigned long)(uintptr_t)ret, n ^ RET_MAGIC);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	pthread_t tids[IN_FLIGHT];
	unsigned long created = 0, joined = 0;
	int err, bad = 0;

	test_init(argc, argv);
	test_ready();

	while (!test_got_sigterm() || created < MIN_THREADS) {
		/* Thread number n lives in tids[n % IN_FLIGHT]. */
		if (created - joined == IN_FLIGHT) {
			if (join(tids[joined % IN_FLIGHT], joined))
				bad = 1;
			joined++;
			if (bad)
				break;
		}
		err = pthread_create(&tids[created % IN_FLIGHT], NULL,
				     churn_thread, (void *)(uintptr_t)created);
		if (err) {
			fail("pthread_create of thread %lu: %s", created,
			     strerror(err));
			bad = 1;
			break;
		}
		created++;
	}
	while (joined < created) {
		if (join(tids[joined % IN_FLIGHT], joined))
			bad = 1;
		joined++;
	}

	test_msg("%lu threads", created);
	if (atomic_load(&ran) != created) {
		fail("%lu threads created and joined, but %lu ran",
		     created, atomic_load(&ran));
		bad = 1;
	}
	if (!bad)
		pass();
	/* After a failure too: the runner expects us alive until SIGTERM. */
	if (!test_got_sigterm())
		test_waitsig();
	return test_result();
}
