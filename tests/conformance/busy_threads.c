/*
 * busy_threads.c - a process that never stops working: 96 MiB of memory
 * holding a known pattern, and five threads that run while it is dumped.
 *
 *   workers 0, 1  floating point in a tight loop: two copies of the same
 *                 sum, kept in vector registers, must stay bit-equal
 *   workers 2, 3  nanosleep() of 1 ms in a loop: interrupted and restarted
 *                 system calls
 *   worker 4      rewrites its part of the memory with the same pattern:
 *                 pages dirtied while the dump reads them
 *
 * Each worker counts its rounds.  On SIGTERM the main thread checks the
 * whole pattern, that no floating-point copy ever differed, and that every
 * worker is still making progress.  tests/dump/kill-step.sh kills stasis
 * in the middle of dumping it: whatever stasis had done to the threads,
 * they must run on exactly as before.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stasis_test.h"

#define MEM_BYTES	(96UL << 20)
#define NR_WORDS	(MEM_BYTES / sizeof(uint64_t))
#define NR_WORKERS	5
#define PROGRESS_MS	300

static uint64_t *mem;
static atomic_ulong rounds[NR_WORKERS];
static atomic_int fpu_mismatch;
static volatile double fpu_seed = 1.0;

static uint64_t pattern(size_t i)
{
	return i * 0x9e3779b97f4a7c15ULL + 12345;
}

static void fpu_worker(int id)
{
	for (;;) {
		double a = fpu_seed, b = fpu_seed;

		/* a and b are unknown to the compiler, so both are computed. */
		for (int i = 0; i < 100000; i++) {
			a = a * 1.0000001 + 0.5;
			b = b * 1.0000001 + 0.5;
		}
		if (memcmp(&a, &b, sizeof(a)))
			atomic_fetch_add(&fpu_mismatch, 1);
		atomic_fetch_add(&rounds[id], 1);
	}
}

static void sleep_worker(int id)
{
	struct timespec ts = { 0, 1000 * 1000 };

	for (;;) {
		nanosleep(&ts, NULL);
		atomic_fetch_add(&rounds[id], 1);
	}
}

static void dirty_worker(int id)
{
	size_t from = NR_WORDS / 2, n = NR_WORDS / 8;

	for (;;) {
		for (size_t i = from; i < from + n; i += 512)
			__atomic_store_n(&mem[i], pattern(i), __ATOMIC_RELAXED);
		atomic_fetch_add(&rounds[id], 1);
	}
}

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	sigset_t term;

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, NULL);
	if (id < 2)
		fpu_worker(id);
	else if (id < 4)
		sleep_worker(id);
	else
		dirty_worker(id);
	return NULL;
}

static int check_memory(void)
{
	size_t bad = 0, first = 0;

	for (size_t i = 0; i < NR_WORDS; i++)
		if (mem[i] != pattern(i) && !bad++)
			first = i;
	if (bad)
		fail("%zu of %lu words of memory changed, the first at word %zu", bad,
		     (unsigned long)NR_WORDS, first);
	return bad != 0;
}

static int check_progress(void)
{
	unsigned long before[NR_WORKERS];
	int stuck = 0;
	struct timespec ts = { 0, PROGRESS_MS * 1000L * 1000 };

	for (int i = 0; i < NR_WORKERS; i++)
		before[i] = atomic_load(&rounds[i]);
	while (nanosleep(&ts, &ts))
		;
	for (int i = 0; i < NR_WORKERS; i++)
		if (atomic_load(&rounds[i]) == before[i]) {
			fail("worker %d made no progress in %d ms", i, PROGRESS_MS);
			stuck++;
		}
	return stuck;
}

int main(int argc, char **argv)
{
	pthread_t t;
	int bad;

	test_init(argc, argv);
	mem = malloc(MEM_BYTES);
	if (!mem) {
		fail("malloc: %m");
		return test_result();
	}
	for (size_t i = 0; i < NR_WORDS; i++)
		mem[i] = pattern(i);
	for (int i = 0; i < NR_WORKERS; i++)
		if (pthread_create(&t, NULL, worker, (void *)(intptr_t)i)) {
			fail("pthread_create failed");
			return test_result();
		}
	for (int i = 0; i < NR_WORKERS; i++)
		while (!atomic_load(&rounds[i]))
			usleep(1000);
	test_ready();
	test_waitsig();

	bad = atomic_load(&fpu_mismatch);
	if (bad)
		fail("the two copies of a floating-point sum differed %d times", bad);
	bad += check_memory();
	bad += check_progress();
	if (!bad)
		pass();
	return test_result();
}
