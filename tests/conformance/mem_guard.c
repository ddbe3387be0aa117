/*
 * mem_guard.c - guard regions (MADV_GUARD_INSTALL) inside an area.
 *
 * Sets up, before READY: an anonymous private area of 8 pages, each
 * written with its own pattern, then guards installed on pages 2-3 and 6
 * (which drops their contents).  Skipped where the kernel has no guards.
 *
 * Checks after SIGTERM:
 *   - /proc/self/pagemap marks exactly pages 2, 3 and 6 as guards;
 *   - touching page 2 or 6 faults (SIGSEGV), as a guard must;
 *   - the other pages hold their patterns.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "stasis_test.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL	102
#endif
#define PM_GUARD	(1ULL << 58)
#define NPAGES		8

static long psz;
static uint8_t *area;
static sigjmp_buf jb;

static bool is_guard(int page)
{
	return page == 2 || page == 3 || page == 6;
}

static void on_segv(int sig)
{
	(void)sig;
	siglongjmp(jb, 1);
}

/* Does reading @p fault? */
static bool faults(volatile uint8_t *p)
{
	struct sigaction sa = { .sa_handler = on_segv }, old;
	bool hit = false;

	sigaction(SIGSEGV, &sa, &old);
	if (sigsetjmp(jb, 1))
		hit = true;
	else
		(void)*p;
	sigaction(SIGSEGV, &old, NULL);
	return hit;
}

static int check_pagemap(void)
{
	uint64_t pme[NPAGES];
	int fd = open("/proc/self/pagemap", O_RDONLY);
	off_t off = (uintptr_t)area / psz * sizeof(uint64_t);

	if (fd < 0 || pread(fd, pme, sizeof(pme), off) != sizeof(pme)) {
		fail("pagemap: %m");
		return -1;
	}
	close(fd);
	for (int i = 0; i < NPAGES; i++)
		if (!!(pme[i] & PM_GUARD) != is_guard(i))
			fail("page %d: pagemap guard bit %d, want %d", i, !!(pme[i] & PM_GUARD),
			     is_guard(i));
	return 0;
}

int main(int argc, char **argv)
{
	test_init(argc, argv);
	psz = sysconf(_SC_PAGESIZE);
	area = mmap(NULL, NPAGES * psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED) {
		fail("mmap: %m");
		return test_result();
	}
	for (int i = 0; i < NPAGES; i++)
		memset(area + i * psz, 0x30 + i, psz);
	if (madvise(area + 2 * psz, 2 * psz, MADV_GUARD_INSTALL) ||
	    madvise(area + 6 * psz, psz, MADV_GUARD_INSTALL)) {
		if (errno == EINVAL) {
			skip("this kernel has no guard regions (MADV_GUARD_INSTALL)");
			return test_result();
		}
		fail("MADV_GUARD_INSTALL: %m");
		return test_result();
	}
	test_ready();
	test_waitsig();

	check_pagemap();
	if (!faults(area + 2 * psz) || !faults(area + 6 * psz))
		fail("a guard page can be read");
	for (int i = 0; i < NPAGES; i++) {
		if (is_guard(i))
			continue;
		for (long b = 0; b < psz; b++) {
			if (area[i * psz + b] != 0x30 + i) {
				fail("page %d byte %ld: %#x, want %#x", i, b, area[i * psz + b], 0x30 + i);
				break;
			}
		}
	}
	pass();
	return test_result();
}
