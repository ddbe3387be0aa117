/*
 * mem-dump.h - what the two halves of a task's memory dump share: the
 * layout (mem-layout.c: mm fields and areas, mm-PID.img) and the pages
 * (mem.c: pagemap-PID.img and pages-N.img).
 */
#ifndef STASIS_MEM_DUMP_H
#define STASIS_MEM_DUMP_H

#include <stdint.h>
#include <sys/types.h>

#include "dump-ctx.h"
#include "mm.pb-c.h"

/* The task's areas, in address order, as mm-PID.img lists them. */
struct vma_list {
	VmaEntry *v;
	size_t nr, cap;
	/* The last file mapped and its files.img id: libraries map one file many times. */
	dev_t last_dev;
	unsigned long last_ino;
	uint32_t last_id;
};

/* Add a copy of @e to @l; 0 or -ENOMEM. */
int mem_vma_list_add(struct vma_list *l, const VmaEntry *e);
/* The areas of @t, from /proc/PID/smaps, classified as CRIU classifies them. */
int mem_collect_vmas(struct dump_ctx *ctx, struct dump_task *t, struct vma_list *l);
/* @mm's fields (stat, auxv, the parasite's prctl answers, exe), @auxv its words. */
int mem_fill_mm(struct dump_ctx *ctx, struct dump_task *t, MmEntry *mm, uint64_t *auxv,
		const struct vma_list *l);
/* mm-PID.img: @mm with the areas of @l. */
int mem_write_mm(struct dump_ctx *ctx, struct dump_task *t, MmEntry *mm, const struct vma_list *l);

/* mem.c: mm-PID.img, pagemap-PID.img and pages-N.img of one task. */
int mem_dump_task(struct dump_ctx *ctx, struct dump_task *t);
/* The end of a dump: what mem.c and mem-layout.c kept from task to task. */
void mem_dump_cleanup(struct dump_ctx *ctx);
void mem_dump_layout_cleanup(struct dump_ctx *ctx);

#endif
