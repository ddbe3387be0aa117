/*
 * mem-pagemap.h - a task's pagemap-PID.img read entry by entry, each
 * checked and given the offset of its pages in the pages image
 * (mem-pagemap.c): for the restore, the image chain, dedup, the page
 * server and the lazy-pages daemon alike.
 */
#ifndef STASIS_MEM_PAGEMAP_H
#define STASIS_MEM_PAGEMAP_H

#include <stdint.h>
#include <sys/types.h>

#include "pagemap.pb-c.h"

/*
 * Called for each entry with its flags (PE_PRESENT where the image has
 * none, as CRIU's oldest) and, for a present one, where its pages start
 * in the pages image; a negative return stops the walk with it.
 */
typedef int (*pagemap_fn)(void *arg, const PagemapEntry *pe, uint32_t flags, uint64_t off);

/*
 * Walk pagemap-@pid.img in @dirfd: *@pages_id gets its pages image's id,
 * *@bytes (may be NULL) how many bytes of pages it holds.  0, or -errno:
 * -ENOENT (not logged: the caller says what was looked for) when there is
 * no such image, the callback's error, or a bad image (logged).
 */
int pagemap_walk(int dirfd, pid_t pid, pagemap_fn fn, void *arg, uint32_t *pages_id,
		 uint64_t *bytes);

#endif
