/*
 * mem-read.c - a frozen task's pages into our memory.
 *
 * process_vm_readv takes a thousand ranges in one call, and is the way
 * for a task's own written memory.  But it pins the pages it reads, and
 * pinning an anonymous page that another process still shares
 * copy-on-write makes the kernel give the task a copy of its own (Linux
 * 5.19's "unshare"): a dump that leaves the tree running (-R, a pre-dump)
 * would undo a forked tree's sharing and grow its memory.  /proc/PID/mem
 * reads without pinning, and may read what the task itself may not
 * (PROT_NONE, write-only).  So ranges are pinned only when pagemap says
 * each of their pages is present and mapped by this task alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"
#include "mem-read.h"
#include "proc.h"

/* Pagemap entries read at once: 2 MiB of the task. */
#define PME_BATCH	512

static uint64_t range_end(const struct iovec *v)
{
	return (uint64_t)(uintptr_t)v->iov_base + v->iov_len;
}

/* Is every page of @ranges present and the task's alone?  Pagemap read over their span. */
static bool ranges_exclusive(struct mem_reader *r, const struct iovec *ranges, unsigned int n)
{
	uint64_t pme[PME_BATCH], from = 0, to = 0, end = n ? range_end(&ranges[n - 1]) : 0;

	for (unsigned int i = 0; i < n; i++) {
		for (uint64_t a = (uintptr_t)ranges[i].iov_base; a < range_end(&ranges[i]);
		     a += PAGE_SZ) {
			uint64_t e;

			if (a < from || a >= to) {
				size_t nr = (end - a) / PAGE_SZ;
				ssize_t got;

				if (nr > PME_BATCH)
					nr = PME_BATCH;
				got = pread(r->pagemap_fd, pme, nr * 8, (a / PAGE_SZ) * 8);
				if (got < 8)
					return false;
				from = a;
				to = a + (uint64_t)(got / 8) * PAGE_SZ;
			}
			e = pme[(a - from) / PAGE_SZ];
			if (!(e & PME_PRESENT) || !(e & PME_EXCLUSIVE))
				return false;
		}
	}
	return true;
}

/* The ranges from byte @done of them on, through /proc/PID/mem. */
static int read_proc_mem(struct mem_reader *r, uint8_t *buf, const struct iovec *ranges,
			 unsigned int n, size_t done)
{
	size_t off = 0;

	if (r->mem_fd < 0)
		r->mem_fd = proc_open(r->pid, "mem", O_RDONLY);
	if (r->mem_fd < 0)
		return r->mem_fd;
	for (unsigned int i = 0; i < n; i++) {
		uint64_t at = (uintptr_t)ranges[i].iov_base;
		size_t len = ranges[i].iov_len;

		while (done < off + len) {
			size_t skip = done - off;
			ssize_t got = pread(r->mem_fd, buf + done, len - skip, at + skip);

			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0) {
				int ret = got < 0 ? -errno : -EIO;

				pr_err("pid %d: cannot read its memory at %" PRIx64 ": %s", r->pid,
				       at + skip, strerror(-ret));
				return ret;
			}
			done += got;
		}
		off += len;
	}
	return 0;
}

int mem_read(struct mem_reader *r, uint8_t *buf, const struct iovec *ranges, unsigned int n,
	     bool force)
{
	size_t total = 0;
	struct iovec local;
	ssize_t got;

	for (unsigned int i = 0; i < n; i++)
		total += ranges[i].iov_len;
	if (!total)
		return 0;
	if (force || !ranges_exclusive(r, ranges, n))
		return read_proc_mem(r, buf, ranges, n, 0);
	local = (struct iovec){ buf, total };
	got = process_vm_readv(r->pid, &local, 1, ranges, n, 0);
	if (got == (ssize_t)total)
		return 0;
	if (got < 0 && errno != EFAULT) {
		pr_perror("pid %d: process_vm_readv", r->pid);
		return -errno;
	}
	/* A page it could not fault in: /proc/PID/mem tries harder, or says where. */
	return read_proc_mem(r, buf, ranges, n, got < 0 ? 0 : got);
}

void mem_reader_close(struct mem_reader *r)
{
	if (r->mem_fd >= 0)
		close(r->mem_fd);
	r->mem_fd = -1;
}
