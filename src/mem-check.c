/*
 * mem-check.c - the memory images checked before anything is created.
 *
 * A restore maps what mm-PID.img lists and reads into it what the
 * pagemap names.  An area that is not page aligned, or that overlaps
 * another, would be mapped over it without a word; a pagemap entry
 * that is empty, unaligned, out of order or on top of another would
 * read pages over pages already read.  Either way the restored task
 * would run on with the wrong memory, so such images are refused, naming
 * the image and the entry.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>

#include "log.h"
#include "mem-check.h"
#include "mem.h"

#define PAGE_MASK_LOW	(PAGE_SZ - 1)

static bool aligned(uint64_t v)
{
	return !(v & PAGE_MASK_LOW);
}

/* CRIU's guard regions: entries after the real areas, inside them. */
static bool is_guard(const VmaEntry *v)
{
	return v->status == VMA_AREA_GUARD;
}

/*
 * Is guard region @g covered by areas?  It may run across several that
 * touch (PAGEMAP_SCAN reports adjacent guard pages as one region).
 */
static bool inside_areas(const MmEntry *mm, const VmaEntry *g)
{
	uint64_t cur = g->start;
	bool moved = true;

	while (cur < g->end && moved) {
		moved = false;
		for (size_t i = 0; i < mm->n_vmas; i++) {
			const VmaEntry *v = mm->vmas[i];

			if (!is_guard(v) && v->start <= cur && cur < v->end) {
				cur = v->end;
				moved = true;
			}
		}
	}
	return cur >= g->end;
}

int mem_check_vmas(pid_t pid, const MmEntry *mm)
{
	uint64_t prev_end = 0;

	for (size_t i = 0; i < mm->n_vmas; i++) {
		const VmaEntry *v = mm->vmas[i];

		if (v->start >= v->end || !aligned(v->start) || !aligned(v->end)) {
			pr_err("mm-%d.img: area %zu (%#" PRIx64 "-%#" PRIx64 ") is empty or not page aligned",
			       pid, i, (uint64_t)v->start, (uint64_t)v->end);
			return -EINVAL;
		}
		if (is_guard(v)) {
			if (!inside_areas(mm, v)) {
				pr_err("mm-%d.img: guard region %#" PRIx64 "-%#" PRIx64 " lies outside every area",
				       pid, (uint64_t)v->start, (uint64_t)v->end);
				return -EINVAL;
			}
			continue;
		}
		if (v->start < prev_end) {
			pr_err("mm-%d.img: area %zu (%#" PRIx64 "-%#" PRIx64 ") overlaps the one before or is out of order",
			       pid, i, (uint64_t)v->start, (uint64_t)v->end);
			return -EINVAL;
		}
		prev_end = v->end;
	}
	return 0;
}

int mem_check_pagemap_entry(pid_t pid, const PagemapEntry *pe, uint64_t *next)
{
	uint64_t len = (uint64_t)pe->nr_pages * PAGE_SZ;

	if (!pe->nr_pages || pe->nr_pages > UINT64_MAX / PAGE_SZ || !aligned(pe->vaddr) ||
	    pe->vaddr + len < pe->vaddr) {
		pr_err("pagemap-%d.img: entry at %#" PRIx64 " of %" PRIu64 " pages is empty, unaligned or wraps",
		       pid, (uint64_t)pe->vaddr, (uint64_t)pe->nr_pages);
		return -EINVAL;
	}
	if (pe->vaddr < *next) {
		pr_err("pagemap-%d.img: entry at %#" PRIx64 " overlaps the one before or is out of order",
		       pid, (uint64_t)pe->vaddr);
		return -EINVAL;
	}
	*next = pe->vaddr + len;
	return 0;
}
