/*
 * mem-read.h - reading a frozen task's pages into our memory (mem-read.c).
 */
#ifndef STASIS_MEM_READ_H
#define STASIS_MEM_READ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct mem_reader {
	pid_t pid;
	int pagemap_fd;		/* /proc/PID/pagemap, the caller's */
	int mem_fd;		/* /proc/PID/mem, opened when first needed; -1 before */
};

/*
 * Read the task's @n page-aligned @ranges, in order, into @buf, one after
 * the other; through /proc/PID/mem only when @force (areas the task may
 * not read itself).  0 or -errno, logged.
 */
int mem_read(struct mem_reader *r, uint8_t *buf, const struct iovec *ranges, unsigned int n,
	     bool force);

/* Close what mem_read() opened. */
void mem_reader_close(struct mem_reader *r);

#endif
