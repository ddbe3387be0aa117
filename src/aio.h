/*
 * aio.h - AIO rings (io_setup contexts): the dump half (aio.c) finds and
 * checks them, the restore half plans them for the restorer, which makes
 * each context again (restorer/restorer.c).
 */
#ifndef STASIS_AIO_H
#define STASIS_AIO_H

#include <stdint.h>
#include <sys/types.h>

#include "mem-dump.h"
#include "mm.pb-c.h"
#include "restorer.h"

/* The smaps name of a ring: the kernel's file behind it, deleted. */
#define AIO_RING_NAME		"/[aio]"

/*
 * Is the area @e (named @name in smaps, a file behind it) an AIO ring?
 * If so its status becomes VMA_AREA_AIORING and 1 is returned; 0 if it
 * is not one; -errno on failure.
 */
int aio_ring_classify(pid_t pid, const char *name, VmaEntry *e);

/*
 * @mm's aios: one entry per ring of @l, each ring's header read from the
 * task and checked first (the task is frozen; nothing is written).
 */
int aio_dump_rings(pid_t pid, MmEntry *mm, const struct vma_list *l);
void aio_free_rings(MmEntry *mm);

/*
 * At restore: what the restorer needs for the ring @v of @mm, from its
 * aios entry, checked against the area.  -EINVAL, said why, for an image
 * that does not add up.
 */
int aio_restore_plan(pid_t pid, const MmEntry *mm, const VmaEntry *v, struct rst_aio *r);
/* Every aios entry of @mm names a ring area: 0 or -EINVAL. */
int aio_check_entries(pid_t pid, const MmEntry *mm);

#endif
