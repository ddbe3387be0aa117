/*
 * mem_flags.c - what smaps tells of an area beyond its bytes.
 *
 * Sets up, before READY:
 *   - anonymous areas with advice or flags: MAP_LOCKED (under the memlock
 *     limit), MADV_SEQUENTIAL, MADV_RANDOM, MADV_DONTDUMP, MADV_DONTFORK,
 *     MADV_WIPEONFORK, MADV_NOHUGEPAGE, MAP_NORESERVE;
 *   - a block of pages, all written, of which every other one is then
 *     made PROT_NONE: the written pages of neighbouring areas follow each
 *     other in the images;
 *   - a file under /tmp, opened read-write and mapped MAP_SHARED with
 *     PROT_READ; the fd is closed.
 * and records each area's VmFlags line.
 *
 * Checks after SIGTERM:
 *   - every area's VmFlags hold the same flags as before (soft-dirty
 *     aside: the restore writes every page again);
 *   - every page of the block holds its pattern, the PROT_NONE ones read
 *     once made readable again;
 *   - the read-only file view can still be made writable (it maps a file
 *     opened read-write) and a write through it reaches the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "stasis_test.h"

#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK	18
#endif

#define AREA_PAGES	2
#define BLOCK_PAGES	16
#define FLAGS_LEN	256

struct area {
	const char *what;
	int flags, advice;	/* advice -1: none */
	char *addr;
	char vmflags[FLAGS_LEN];
};

static struct area areas[] = {
	{ .what = "locked", .flags = MAP_LOCKED, .advice = -1 },
	{ .what = "sequential", .flags = 0, .advice = MADV_SEQUENTIAL },
	{ .what = "random", .flags = 0, .advice = MADV_RANDOM },
	{ .what = "dontdump", .flags = 0, .advice = MADV_DONTDUMP },
	{ .what = "dontfork", .flags = 0, .advice = MADV_DONTFORK },
	{ .what = "wipeonfork", .flags = 0, .advice = MADV_WIPEONFORK },
	{ .what = "nohugepage", .flags = 0, .advice = MADV_NOHUGEPAGE },
	{ .what = "noreserve", .flags = MAP_NORESERVE, .advice = -1 },
};
#define NR_AREAS	(sizeof(areas) / sizeof(areas[0]))

static size_t page;
static char file_path[] = "/tmp/stasis-mem_flags.XXXXXX";

/* The VmFlags of the area at @addr, without "sd"; -1 if not found. */
static int vmflags_of(const void *addr, char *out)
{
	char line[512];
	FILE *f = fopen("/proc/self/smaps", "re");
	unsigned long s, e, a = (unsigned long)addr;
	int found = 0, ret = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &s, &e) == 2) {	/* "Key:" lines never parse so */
			found = a >= s && a < e;
			continue;
		}
		if (!found || strncmp(line, "VmFlags:", 8))
			continue;
		out[0] = '\0';
		for (char *tok = strtok(line + 8, " \n"); tok; tok = strtok(NULL, " \n")) {
			if (strcmp(tok, "sd") && strlen(out) + 4 < FLAGS_LEN)
				strcat(strcat(out, " "), tok);
		}
		ret = 0;
		break;
	}
	fclose(f);
	return ret;
}

static int make_areas(void)
{
	for (size_t i = 0; i < NR_AREAS; i++) {
		struct area *a = &areas[i];

		a->addr = mmap(NULL, AREA_PAGES * page, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | a->flags, -1, 0);
		if (a->addr == MAP_FAILED) {
			fail("mmap of the %s area: %m", a->what);
			return -1;
		}
		if (a->advice >= 0 && madvise(a->addr, AREA_PAGES * page, a->advice)) {
			fail("madvise of the %s area: %m", a->what);
			return -1;
		}
		memset(a->addr, (int)i + 1, AREA_PAGES * page);
	}
	return 0;
}

static char *make_block(void)
{
	char *b = mmap(NULL, BLOCK_PAGES * page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (b == MAP_FAILED) {
		fail("mmap of the block: %m");
		return NULL;
	}
	for (size_t i = 0; i < BLOCK_PAGES * page / 8; i++)
		((uint64_t *)b)[i] = 0x626c6f636b000000ull + i;
	for (int i = 1; i < BLOCK_PAGES; i += 2) {
		if (mprotect(b + i * page, page, PROT_NONE)) {
			fail("mprotect of block page %d: %m", i);
			return NULL;
		}
	}
	return b;
}

static char *make_file_map(void)
{
	int fd = mkstemp(file_path);
	char *m;

	if (fd < 0) {
		fail("mkstemp: %m");
		return NULL;
	}
	if (ftruncate(fd, page)) {
		fail("ftruncate: %m");
		close(fd);
		return NULL;
	}
	m = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		fail("mmap of the file: %m");
		return NULL;
	}
	return m;
}

static int check_block(char *b)
{
	if (mprotect(b, BLOCK_PAGES * page, PROT_READ)) {
		fail("mprotect of the block after restore: %m");
		return -1;
	}
	for (size_t i = 0; i < BLOCK_PAGES * page / 8; i++) {
		if (((uint64_t *)b)[i] != 0x626c6f636b000000ull + i) {
			fail("block page %zu changed", i * 8 / page);
			return -1;
		}
	}
	return 0;
}

static int check_file_map(char *m)
{
	char c = 0;
	int fd;

	if (mprotect(m, page, PROT_READ | PROT_WRITE)) {
		fail("the read-only view of a read-write file cannot be made writable: %m");
		return -1;
	}
	m[7] = 'x';
	fd = open(file_path, O_RDONLY);
	if (fd < 0 || pread(fd, &c, 1, 7) != 1 || c != 'x') {
		fail("a write through the file mapping did not reach the file");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	char vmflags[FLAGS_LEN], *block, *fmap;
	int bad = 0;

	test_init(argc, argv);
	page = sysconf(_SC_PAGESIZE);
	if (make_areas())
		return test_result();
	block = make_block();
	fmap = block ? make_file_map() : NULL;
	if (!fmap)
		goto out;
	for (size_t i = 0; i < NR_AREAS; i++) {
		if (vmflags_of(areas[i].addr, areas[i].vmflags)) {
			fail("no VmFlags for the %s area", areas[i].what);
			goto out;
		}
	}

	test_ready();
	test_waitsig();

	for (size_t i = 0; i < NR_AREAS; i++) {
		if (vmflags_of(areas[i].addr, vmflags)) {
			fail("the %s area is gone", areas[i].what);
			bad = 1;
		} else if (strcmp(vmflags, areas[i].vmflags)) {
			fail("VmFlags of the %s area:%s, were:%s", areas[i].what, vmflags,
			     areas[i].vmflags);
			bad = 1;
		}
	}
	bad |= check_block(block) | check_file_map(fmap);
	if (!bad)
		pass();
out:
	unlink(file_path);
	return test_result();
}
