/*
 * sleeping.c - a lone task asleep in nanosleep() with 64 MiB of private
 * anonymous memory.
 *
 * The memory holds a pseudo-random pattern, except one page in every
 * HOLE_STRIDE that is never touched and must still read as zeroes: a
 * restore must bring back both the data and the holes.  The task's pid,
 * session and process group must be the same afterwards too.
 */
#include <inttypes.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "stasis_test.h"

#define MEM_SIZE	(64ul << 20)
#define HOLE_STRIDE	1024		/* one untouched page per 4 MiB */
#define SEED		0x9e3779b97f4a7c15ull

static size_t page_size;

static uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Pages 1, 1 + HOLE_STRIDE, ...: not the first, so holes sit between data. */
static bool is_hole(size_t page)
{
	return page % HOLE_STRIDE == 1;
}

static void fill(uint8_t *mem)
{
	size_t words = page_size / sizeof(uint64_t);
	uint64_t s = SEED, *p;

	for (size_t pg = 0; pg < MEM_SIZE / page_size; pg++) {
		if (is_hole(pg))
			continue;
		p = (uint64_t *)(mem + pg * page_size);
		for (size_t i = 0; i < words; i++)
			p[i] = xorshift64(&s);
	}
}

/* FNV-1a over 64-bit words: cheap, and sensitive to order and position. */
static uint64_t checksum(const uint8_t *mem)
{
	const uint64_t *p = (const uint64_t *)mem;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < MEM_SIZE / sizeof(*p); i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* Compare with the pattern regenerated; reports the first bad word. */
static int check_pattern(const uint8_t *mem)
{
	size_t words = page_size / sizeof(uint64_t);
	uint64_t s = SEED, want;
	const uint64_t *p;

	for (size_t pg = 0; pg < MEM_SIZE / page_size; pg++) {
		p = (const uint64_t *)(mem + pg * page_size);
		for (size_t i = 0; i < words; i++) {
			want = is_hole(pg) ? 0 : xorshift64(&s);
			if (p[i] == want)
				continue;
			fail("%s page %zu, offset %#zx: %#" PRIx64 ", want %#" PRIx64,
			     is_hole(pg) ? "untouched" : "data", pg,
			     pg * page_size + i * sizeof(*p), p[i], want);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	pid_t pid, sid, pgid;
	uint64_t sum, now;
	struct timespec ts = { .tv_nsec = 100 * 1000 * 1000 };
	uint8_t *mem;
	int bad = 0;

	test_init(argc, argv);
	page_size = (size_t)sysconf(_SC_PAGESIZE);

	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		fail("mmap %lu bytes: %m", MEM_SIZE);
		return test_result();
	}
	fill(mem);
	sum = checksum(mem);
	pid = getpid();
	sid = getsid(0);
	pgid = getpgrp();

	test_ready();
	/*
	 * Sleep in nanosleep(), not sigsuspend(): the point is a task caught
	 * in an ordinary sleep.  A SIGTERM landing just before nanosleep()
	 * costs at most one more nap.
	 */
	while (!test_got_sigterm())
		nanosleep(&ts, NULL);

	now = checksum(mem);
	if (now != sum) {
		fail("checksum %#" PRIx64 ", was %#" PRIx64, now, sum);
		bad = 1;
	}
	if (check_pattern(mem))
		bad = 1;
	if (getpid() != pid) {
		fail("pid %d, was %d", getpid(), pid);
		bad = 1;
	}
	if (getsid(0) != sid) {
		fail("sid %d, was %d", getsid(0), sid);
		bad = 1;
	}
	if (getpgrp() != pgid) {
		fail("pgid %d, was %d", getpgrp(), pgid);
		bad = 1;
	}
	if (!bad)
		pass();
	return test_result();
}
