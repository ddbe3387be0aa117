/*
 * shmem.h - objects that live in shmem: memfds and shared anonymous
 * memory.  Each is dumped once, however many fds, mappings and tasks
 * reach it: one memfd.img entry and its contents (shmem.c), which every
 * files.img entry of it (fds, mappings) names by inode_id.
 */
#ifndef STASIS_SHMEM_H
#define STASIS_SHMEM_H

#include <stdint.h>

#include "dump-ctx.h"

/*
 * The contents of the object @shmid, @size bytes long, read through @fd
 * (opened for reading): pagemap-shmem-@shmid.img, whose entries give
 * offsets in the object, and the pages image it names.  Holes and
 * all-zero pages are left out: both restore as zeroes.  Nothing is
 * written for an empty object, as CRIU writes nothing.
 */
int shmem_dump_contents(struct dump_ctx *ctx, int fd, uint64_t shmid, uint64_t size);
/*
 * The same for an object with no read(2) (SysV shared memory), through
 * its mapping at @mem: every page is read, those all zero left out.
 */
int shmem_dump_mem(struct dump_ctx *ctx, const void *mem, uint64_t shmid, uint64_t size);

/*
 * files/memfd.c: the object mapped at @link (/proc/PID/map_files/A-B) as
 * a files.img MEMFD entry; all mappings of one object share its @id.
 */
int memfd_dump_mapping(struct dump_ctx *ctx, struct dump_task *t, const char *link,
		       uint32_t *id);

/* --- restore --- */

struct rst_ctx;

/*
 * Fill the object open as @fd (for writing, @size bytes long already)
 * with the contents of shmid @shmid: pagemap-shmem-@shmid.img and its
 * pages image.  No pagemap image means nothing but zeroes.
 */
int shmem_restore_contents(struct rst_ctx *ctx, int fd, uint64_t shmid, uint64_t size);
/* The same into the object's writable mapping at @mem (SysV shared memory). */
int shmem_restore_mem(struct rst_ctx *ctx, void *mem, uint64_t shmid, uint64_t size);

/*
 * files/memfd.c: the pool fd of the object behind MEMFD files.img entry
 * @file_id (a VmaEntry.shmid of a VMA_AREA_MEMFD area), made on first use
 * with its contents and seals.  It is open O_RDWR, whatever the entry's
 * flags, so it serves any mapping the seals allow; files_restore_open()
 * of the same id gives the entry's own open file instead (the mappings'
 * entry is O_RDONLY).  -errno, logged, when it cannot be had.
 */
int memfd_restore_object(struct rst_ctx *ctx, uint32_t file_id);

#endif
