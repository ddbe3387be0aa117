/*
 * lazy_mem.c - memory that a restore --lazy-pages hands out late: 128 MiB
 * of patterned anonymous memory (one page in 16 never written), two
 * threads with areas of their own, and a child forked after the restore.
 *
 * Sets up, before READY: the areas, filled.  Then, until SIGTERM, every
 * millisecond: how many pages of the big area are resident (mincore).
 * A plain restore puts them all back before the program runs; a lazy one
 * leaves them to the lazy-pages daemon, and the program sees fewer: the
 * first time, it forks a child that checks the whole area itself (its
 * missing pages come through the daemon too, from the fork on).
 *
 * Checks after SIGTERM: every byte of every area (the holes read as
 * zeroes), in the threads too, and the child's verdict.  Reports
 * "# lazy: fewest resident N of M" (tests/pages/lazy.sh reads it).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "stasis_test.h"

#define AREA		(128UL << 20)
#define THREAD_AREA	(8UL << 20)
#define HOLE		16	/* page i*HOLE is never written */
#define PAGE		4096UL

static uint64_t word(size_t i, uint64_t seed)
{
	return (i * 0x9e3779b97f4a7c15ull) ^ seed;
}

static void fill(uint64_t *a, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len / 8; i++) {
		if ((i * 8 / PAGE) % HOLE)
			a[i] = word(i, seed);
	}
}

/* The first bad word's index, or -1. */
static long check(const uint64_t *a, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len / 8; i++) {
		uint64_t want = (i * 8 / PAGE) % HOLE ? word(i, seed) : 0;

		if (a[i] != want)
			return (long)i;
	}
	return -1;
}

static size_t resident(void *a, size_t len)
{
	static unsigned char vec[AREA / PAGE];
	size_t n = 0;

	if (mincore(a, len, vec))
		return 0;
	for (size_t i = 0; i < len / PAGE; i++)
		n += vec[i] & 1;
	return n;
}

struct worker {
	pthread_t th;
	uint64_t *area;
	uint64_t seed;
	long bad;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct timespec ms = { 0, 1000000 };

	while (!test_got_sigterm())
		nanosleep(&ms, NULL);
	w->bad = check(w->area, THREAD_AREA, w->seed);
	return NULL;
}

static void *map(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

int main(int argc, char **argv)
{
	struct timespec ms = { 0, 1000000 };
	struct worker w[2];
	size_t before, fewest;
	uint64_t *big;
	pid_t child = 0;
	int status;
	long bad;

	test_init(argc, argv);
	big = map(AREA);
	if (!big) {
		fail("mmap: %m");
		return test_result();
	}
	fill(big, AREA, 0x5a5a);
	for (int i = 0; i < 2; i++) {
		w[i] = (struct worker){ .area = map(THREAD_AREA), .seed = 0x1111u * (i + 1) };
		if (!w[i].area) {
			fail("mmap: %m");
			return test_result();
		}
		fill(w[i].area, THREAD_AREA, w[i].seed);
		pthread_create(&w[i].th, NULL, work, &w[i]);
	}
	before = fewest = resident(big, AREA);
	test_ready();
	/* Once more after SIGTERM: the runner may send it as the restore ends. */
	for (bool last = false; !last;) {
		size_t n;

		last = test_got_sigterm();
		n = resident(big, AREA);
		if (n < fewest)
			fewest = n;
		if (n < before && !child) {
			child = fork();
			if (child == 0) {
				bad = check(big, AREA, 0x5a5a);
				if (bad >= 0)
					fail("the child forked after the restore: word %ld of the area is wrong", bad);
				_exit(bad >= 0);
			}
		}
		if (!last)
			nanosleep(&ms, NULL);
	}
	bad = check(big, AREA, 0x5a5a);
	if (bad >= 0)
		fail("word %ld of the 128 MiB area is %#llx", bad, (unsigned long long)big[bad]);
	for (int i = 0; i < 2; i++) {
		pthread_join(w[i].th, NULL);
		if (w[i].bad >= 0)
			fail("thread %d: word %ld of its area is wrong", i, w[i].bad);
	}
	if (child > 0 && (waitpid(child, &status, 0) != child || status))
		fail("the child forked after the restore found its memory wrong (status %#x)", status);
	test_msg("lazy: fewest resident %zu of %zu, child %s", fewest, before,
		 child > 0 ? "forked" : "none");
	pass();
	return test_result();
}
