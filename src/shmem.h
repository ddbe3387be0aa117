/*
 * shmem.h - objects that live in shmem: memfds and shared anonymous
 * memory.  Each is dumped once, however many fds, mappings and tasks
 * reach it: one memfd.img entry and its contents (shmem.c), which every
 * files.img entry of it (fds, mappings) names by inode_id.
 */
#ifndef STASIS_SHMEM_H
#define STASIS_SHMEM_H

#include <stdint.h>

#include "dump.h"

/*
 * The contents of the object @shmid, @size bytes long, read through @fd
 * (opened for reading): pagemap-shmem-@shmid.img, whose entries give
 * offsets in the object, and the pages image it names.  Holes and
 * all-zero pages are left out: both restore as zeroes.  Nothing is
 * written for an empty object, as CRIU writes nothing.
 */
int shmem_dump_contents(struct dump_ctx *ctx, int fd, uint64_t shmid, uint64_t size);

/*
 * files/memfd.c: the object mapped at @link (/proc/PID/map_files/A-B) as
 * a files.img MEMFD entry; all mappings of one object share its @id.
 */
int memfd_dump_mapping(struct dump_ctx *ctx, struct dump_task *t, const char *link,
		       uint32_t *id);

#endif
