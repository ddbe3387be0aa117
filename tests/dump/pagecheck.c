/*
 * pagecheck.c - are the pages in a dump the task's own bytes?
 *
 *   pagecheck DIR PID
 *
 * For a task dumped with -R (so still running, memory unchanged where it
 * does not write), every page that pagemap-PID.img lists inside the
 * largest anonymous private area must equal the task's memory now
 * (/proc/PID/mem), and every page of that area that is missing from the
 * dump must read as zeroes in the task; the pagemap's entries must come in
 * address order, each page once.  tests/conformance/sleeping keeps
 * 64 MiB of pattern with untouched pages in it: exactly what this checks.
 * Prints PASS/FAIL lines.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image.h"
#include "log.h"
#include "mm.pb-c.h"
#include "pagemap.pb-c.h"

#define PAGE	4096UL
#define VMA_ANON_PRIVATE	(1u << 9)

static int fail(const char *what)
{
	printf("FAIL: dump pages: %s\n", what);
	return 1;
}

int main(int argc, char **argv)
{
	unsigned long start = 0, end = 0, dumped = 0, holes = 0, next = 0;
	char path[256], mine[PAGE], theirs[PAGE], zero[PAGE] = { 0 };
	ProtobufCMessage *m;
	struct img *img;
	uint8_t *present;
	int dirfd, memfd, pagesfd;
	long pid;
	MmEntry *mm;

	if (argc != 3)
		return 2;
	log_set_level(LOG_ERROR);
	pid = atol(argv[2]);
	dirfd = open(argv[1], O_RDONLY | O_DIRECTORY);
	snprintf(path, sizeof(path), "/proc/%ld/mem", pid);
	memfd = open(path, O_RDONLY);
	if (dirfd < 0 || memfd < 0 || img_open(&img, dirfd, IMG_MM, pid, O_RDONLY))
		return fail("cannot open the dump or the task");
	if (img_read_msg(img, &mm_entry__descriptor, &m) != 1)
		return fail("no mm entry");
	img_close(img);
	mm = (MmEntry *)m;
	for (size_t i = 0; i < mm->n_vmas; i++) {
		VmaEntry *v = mm->vmas[i];

		if ((v->status & VMA_ANON_PRIVATE) && v->end - v->start > end - start) {
			start = v->start;
			end = v->end;
		}
	}
	present = calloc((end - start) / PAGE, 1);
	if (!present || img_open(&img, dirfd, IMG_PAGEMAP, pid, O_RDONLY) ||
	    img_read_msg(img, &pagemap_head__descriptor, &m) != 1)
		return fail("no pagemap");
	snprintf(path, sizeof(path), "pages-%u.img", ((PagemapHead *)m)->pages_id);
	pagesfd = openat(dirfd, path, O_RDONLY);
	if (pagesfd < 0)
		return fail("no pages image");
	while (img_read_msg(img, &pagemap_entry__descriptor, &m) == 1) {
		PagemapEntry *e = (PagemapEntry *)m;

		/* In address order, each page once, as CRIU writes them. */
		if (e->vaddr < next)
			return fail("a pagemap entry repeats or precedes the one before");
		next = e->vaddr + e->nr_pages * PAGE;

		for (uint64_t k = 0; k < e->nr_pages; k++) {
			unsigned long addr = e->vaddr + k * PAGE;

			if (read(pagesfd, mine, PAGE) != PAGE)
				return fail("pages image shorter than its pagemap");
			if (addr < start || addr >= end)
				continue;
			if (pread(memfd, theirs, PAGE, addr) != PAGE || memcmp(mine, theirs, PAGE))
				return fail("a dumped page differs from the task's memory");
			present[(addr - start) / PAGE] = 1;
			dumped++;
		}
		img_free_msg(m);
	}
	for (unsigned long p = 0; p < (end - start) / PAGE; p++) {
		if (present[p])
			continue;
		if (pread(memfd, theirs, PAGE, start + p * PAGE) != PAGE || memcmp(theirs, zero, PAGE))
			return fail("a page left out of the dump is not zero in the task");
		holes++;
	}
	printf("PASS: dump pages: %lu pages of the %lu KiB area equal the task's, "
	       "%lu zero pages left out\n", dumped, (end - start) >> 10, holes);
	return 0;
}
