/*
 * mem-rst.h - what mem-restore.c, mem-premap.c and mem-fill.c share about
 * one task's memory at restore; private to those files.
 */
#ifndef STASIS_MEM_RST_H
#define STASIS_MEM_RST_H

#include <stdbool.h>
#include <stdint.h>

#include "restorer.h"
#include "rst-ctx.h"

struct mem_chain;
struct vdso_rst;
struct premap;

struct mem_rst {
	struct rst_vma *vmas;
	uint32_t nr_vmas;
	struct rst_run *runs;		/* in address order; fd is the image's level */
	uint32_t nr_runs;
	int pages_fd;
	uint32_t pages_id;
	struct mem_chain *chain;	/* the parent images, if the pagemap points there */
	struct vdso_rst *vdso;		/* vdso.c's plan */
	struct rst_aio *aios;		/* AIO rings to make again (aio.c) */
	uint32_t nr_aios;
	uint64_t nr_lazy;		/* --lazy-pages: pages left to the daemon */
	struct premap *pm;		/* mem-premap.c: areas filled before the fork */
	struct rst_range avoid;		/* a range the next hole must stay clear of */
};

/* The fd of the pages image a run of level @level reads from. */
int mem_run_fd(struct mem_rst *m, int32_t level);

/* The file mapped by @v opened for mmap(), an fd above the task's (mem-restore.c). */
struct VmaEntry;
int mem_open_mapped(struct rst_ctx *ctx, struct rst_task *t, const struct VmaEntry *v);

/*
 * mem-premap.c: a task's private areas mapped and filled before it forks
 * its children, which inherit them copy-on-write.
 */
bool premap_vma_ok(const struct rst_ctx *ctx, const struct VmaEntry *v);
int mem_premap(struct rst_ctx *ctx, struct rst_task *t);
/* Is the area at @start premapped? */
bool premap_has(const struct premap *pm, uint64_t start);
bool premap_overlaps(const struct premap *pm, uint64_t s, uint64_t e);
size_t premap_args_size(const struct premap *pm);
int premap_args(const struct premap *pm, struct rst_args *a, struct rst_alloc *al);
void premap_free(struct premap *pm);

/*
 * mem-fill.c: the restorer's runs cut in slices that a thread per core
 * takes in turn, and the TIDs those threads may take: how many slices
 * (and runs added) at most, the room it takes in the region.
 */
uint32_t mem_fill_slices(const struct mem_rst *m);
size_t mem_fill_size(const struct mem_rst *m);
int mem_fill_args(const struct rst_ctx *ctx, struct rst_task *t, struct rst_args *a,
		  struct rst_alloc *al);

#endif
