/*
 * mem_sparse.c - a large area with one page in 16 written: many more
 * runs of present pages than one PAGEMAP_SCAN call returns (1,024), so a
 * dump must carry on from where each call stopped, taking no page twice.
 *
 * Sets up, before READY: 128 MiB anonymous private (MEM_SPARSE_MIB=N:
 * N MiB instead, for a task small enough for the dump's one walk), page
 * i*16 holding its own pattern, the rest never touched.
 *
 * Checks after SIGTERM: each written page holds its pattern, each other
 * page reads as zeroes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "stasis_test.h"

#define AREA	(128UL << 20)
#define STEP	16

int main(int argc, char **argv)
{
	const char *mib = getenv("MEM_SPARSE_MIB");
	size_t area = mib ? strtoul(mib, NULL, 10) << 20 : AREA;
	long psz = sysconf(_SC_PAGESIZE);
	size_t npages = area / psz;
	uint8_t *a;

	test_init(argc, argv);
	a = mmap(NULL, area, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED) {
		fail("mmap: %m");
		return test_result();
	}
	/* No huge pages: each written page must stay a run of its own. */
	madvise(a, area, MADV_NOHUGEPAGE);
	for (size_t i = 0; i < npages; i += STEP)
		memset(a + i * psz, (int)(i / STEP % 251) + 1, psz);
	test_ready();
	test_waitsig();

	for (size_t i = 0; i < npages; i++) {
		uint8_t want = i % STEP ? 0 : (uint8_t)(i / STEP % 251) + 1;
		const uint8_t *p = a + i * psz;

		if (p[0] != want || p[psz - 1] != want || memcmp(p, p + 1, psz - 1)) {
			fail("page %zu: %#x..., want all %#x", i, p[0], want);
			break;
		}
	}
	pass();
	return test_result();
}
