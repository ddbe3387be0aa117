/*
 * mem-restore.h - a task's memory at restore (mem-restore.c): read its
 * images, open what it maps, plan it, and fill the restorer's part.
 */
#ifndef STASIS_MEM_RESTORE_H
#define STASIS_MEM_RESTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rst-ctx.h"

struct rst_range;
struct rst_args;

/*
 * mem-restore.c, in the controller: mm-PID.img and the pagemap; a pages image
 * shorter than its pagemap fails here, before anything runs.
 */
int mem_restore_read(struct rst_ctx *ctx, struct rst_task *t);
void mem_restore_free(struct rst_task *t);
/* In the controller, before the fork: the exe and every mapped file or memfd. */
int mem_restore_open_files(struct rst_ctx *ctx, struct rst_task *t);
/* In the task: open what the areas map and plan the vdso's move. */
int mem_restore_plan(struct rst_ctx *ctx, struct rst_task *t);
/* Bytes mem_restore_args() takes from the region, at most. */
size_t mem_restore_size(struct rst_task *t);
/* An address for a region of @size bytes, free here and in the image. */
int mem_restore_hole(struct rst_task *t, size_t size, uint64_t *addr);
/* The restorer's memory part: areas, page runs, moves, mm fields. */
int mem_restore_args(struct rst_task *t, struct rst_args *a, struct rst_alloc *al,
		     const struct rst_range *region);
int mem_restore_exe(struct rst_ctx *ctx, struct rst_task *t, struct rst_args *a);

/*
 * restore --lazy-pages: may @v's pages come later, through userfaultfd?
 * CRIU's rule (private anonymous, not locked, huge, vDSO, vvar or
 * vsyscall), and only areas the restorer maps as plain memory.  The
 * restore skips the PE_LAZY pages of these areas and the lazy-pages
 * daemon serves exactly those.
 */
struct VmaEntry;
bool mem_vma_lazy(const struct VmaEntry *v);

#endif
