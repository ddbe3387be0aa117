/*
 * mem_hugetlb.c - private MAP_HUGETLB memory.
 *
 * Sets up, before READY: a private anonymous MAP_HUGETLB area of two huge
 * pages of the default size, its first and its last 4 KiB written with a
 * pattern, the rest never touched; records its /proc/self/smaps
 * KernelPageSize.  SKIPs when no huge page can be had (the system
 * reserves none: /proc/sys/vm/nr_hugepages).
 *
 * Checks after SIGTERM: the area is at the same place, still hugetlb
 * ("ht") with the same page size; both written pieces hold their
 * pattern and a byte never written reads zero.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "stasis_test.h"

#define PIECE	4096
#define SEED	0x6875676500000000ull

static size_t huge_size(void)
{
	char line[128];
	size_t kb = 0;
	FILE *f = fopen("/proc/meminfo", "re");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Hugepagesize: %zu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb << 10;
}

/* The KernelPageSize of the area at @addr, and whether it is "ht"; 0 if none. */
static size_t area_page_size(const void *addr, int *ht)
{
	unsigned long s, e, a = (unsigned long)addr;
	char line[512];
	size_t kb = 0;
	int in = 0;
	FILE *f = fopen("/proc/self/smaps", "re");

	*ht = 0;
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &s, &e) == 2)
			in = a >= s && a < e;
		else if (in && sscanf(line, "KernelPageSize: %zu kB", &kb) == 1)
			continue;
		else if (in && !strncmp(line, "VmFlags:", 8))
			*ht = strstr(line, " ht") != NULL;
	}
	if (f)
		fclose(f);
	return kb << 10;
}

static void fill(uint64_t *p, uint64_t seed)
{
	for (size_t i = 0; i < PIECE / 8; i++)
		p[i] = seed + i;
}

static int check(const char *what, const uint64_t *p, uint64_t seed)
{
	for (size_t i = 0; i < PIECE / 8; i++) {
		if (p[i] != seed + i) {
			fail("%s: word %zu is %#lx", what, i, (unsigned long)p[i]);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	size_t hs = huge_size(), was, now;
	char *m;
	int ht, bad = 0;

	test_init(argc, argv);
	if (!hs) {
		skip("no huge page size in /proc/meminfo");
		return test_result();
	}
	m = mmap(NULL, 2 * hs, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB,
		 -1, 0);
	if (m == MAP_FAILED) {
		skip("no huge pages to map (/proc/sys/vm/nr_hugepages): %m");
		return test_result();
	}
	fill((uint64_t *)m, SEED);
	fill((uint64_t *)(m + 2 * hs - PIECE), SEED + 1000);
	was = area_page_size(m, &ht);
	if (!ht || was != hs) {
		fail("a MAP_HUGETLB area shows page size %zu, ht %d", was, ht);
		return test_result();
	}

	test_ready();
	test_waitsig();

	now = area_page_size(m, &ht);
	if (!ht || now != was) {
		fail("after restore: page size %zu (was %zu), ht %d", now, was, ht);
		bad = 1;
	}
	bad |= check("first piece", (uint64_t *)m, SEED);
	bad |= check("last piece", (uint64_t *)(m + 2 * hs - PIECE), SEED + 1000);
	if (m[hs + 12345]) {
		fail("a byte never written is %#x", m[hs + 12345]);
		bad = 1;
	}
	if (!bad)
		pass();
	return test_result();
}
