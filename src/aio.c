/*
 * aio.c - AIO rings, the contexts io_setup() makes.
 *
 * A context is a kernel object (struct kioctx) whose completion ring is
 * mapped shared into the task at the address that is also its id
 * (aio_context_t): a 32-byte header (head, tail, nr ...) then the events.
 * It is kept as CRIU keeps it: the ring is an area of status
 * VMA_AREA_AIORING in mm-PID.img whose pages are all dumped, and an
 * entry of MmEntry.aios gives its address, length and the nr_events
 * io_setup() is to be called with to make a ring of that length again.
 *
 * At restore the area is mapped as plain anonymous memory and filled
 * with the dumped pages; the restorer then makes a new context, brings
 * its in-kernel tail to the dumped one, copies the events in and moves
 * the new ring over the old area (mremap: the kernel follows, and the
 * context's id becomes the dumped address again).
 *
 * Requests in flight at dump time cannot be seen from outside the kernel
 * and are not kept (nor does CRIU keep them): their completions are lost.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aio.h"
#include "log.h"
#include "mem.h"
#include "proc.h"


/*
 * The number of events of a ring @len bytes long.  The kernel sizes the
 * ring to whole pages and fills them with events past the header.
 */
static uint32_t ring_events(uint64_t len)
{
	return (len - sizeof(struct rst_aio_hdr)) / RST_AIO_EVENT_SIZE;
}

/*
 * The nr_events to give io_setup() for a ring of @len bytes.  The kernel
 * makes a ring for 2 * max(nr_events, 4 * possible CPUs) + 2 events and
 * rounds it up to pages, whose room is the ring's nr: asking for
 * (nr - 2) / 2 makes a ring of the same pages on this machine.  0 if
 * @len cannot be a ring's.
 */
static uint32_t ring_nr_req(uint64_t len)
{
	uint32_t nr;

	if (!len || len % PAGE_SZ || len > UINT32_MAX)
		return 0;
	nr = ring_events(len);
	return nr > 2 ? (nr - 2) / 2 : 0;
}

int aio_ring_classify(pid_t pid, const char *name, VmaEntry *e)
{
	char link[96];
	struct stat st;

	if (strncmp(name, AIO_RING_NAME, strlen(AIO_RING_NAME)))
		return 0;
	/* A file may be named so: the ring's inode has no file type at all. */
	snprintf(link, sizeof(link), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, pid,
		 e->start, e->end);
	if (stat(link, &st)) {
		if (errno == ENOENT)
			return 0;
		pr_perror("cannot stat %s", link);
		return -errno;
	}
	if (st.st_mode & S_IFMT)
		return 0;
	if ((e->flags & MAP_TYPE) != MAP_SHARED) {
		pr_err("pid %d: AIO ring at %" PRIx64 " is not a shared mapping", pid, e->start);
		return -ENOTSUP;
	}
	/* CRIU's status for it: the ring only, no other bit. */
	e->status = VMA_AREA_AIORING;
	return 1;
}

/* The ring header at @e, as the kernel keeps it; refused if it is not a ring's. */
static int check_header(pid_t pid, int mem_fd, const VmaEntry *e)
{
	uint32_t nr = ring_events(e->end - e->start);
	struct rst_aio_hdr h;
	ssize_t n;

	n = pread(mem_fd, &h, sizeof(h), e->start);
	if (n != (ssize_t)sizeof(h)) {
		pr_perror("pid %d: cannot read the AIO ring header at %" PRIx64, pid, e->start);
		return n < 0 ? -errno : -EIO;
	}
	/* head is the task's to write (the kernel takes it modulo nr); tail is the kernel's. */
	if (h.magic != RST_AIO_MAGIC || h.header_length != sizeof(h) || h.nr != nr ||
	    h.tail >= nr) {
		pr_err("pid %d: AIO ring at %" PRIx64 " has an unexpected header: magic %#x, "
		       "header_length %u, nr %u (%u expected), tail %u", pid, e->start, h.magic,
		       h.header_length, h.nr, nr, h.tail);
		return -ENOTSUP;
	}
	pr_info("pid %d: AIO ring at %" PRIx64 ": %u events, head %u, tail %u", pid, e->start,
		nr, h.head, h.tail);
	return 0;
}

static int add_ring(MmEntry *mm, const VmaEntry *e)
{
	AioRingEntry **v, *r;

	v = realloc(mm->aios, (mm->n_aios + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	mm->aios = v;
	r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	aio_ring_entry__init(r);
	r->id = e->start;
	r->ring_len = e->end - e->start;
	r->nr_req = ring_nr_req(r->ring_len);
	mm->aios[mm->n_aios++] = r;
	return 0;
}

int aio_dump_rings(pid_t pid, MmEntry *mm, const struct vma_list *l)
{
	int mem_fd = -1, ret = 0;

	for (size_t i = 0; !ret && i < l->nr; i++) {
		const VmaEntry *e = &l->v[i];

		if (!(e->status & VMA_AREA_AIORING))
			continue;
		if (!ring_nr_req(e->end - e->start)) {
			pr_err("pid %d: AIO ring at %" PRIx64 " is %" PRIu64 " bytes: no ring's size",
			       pid, e->start, e->end - e->start);
			ret = -ENOTSUP;
			break;
		}
		if (mem_fd < 0) {
			mem_fd = proc_open(pid, "mem", O_RDONLY);
			if (mem_fd < 0) {
				ret = mem_fd;
				break;
			}
		}
		ret = check_header(pid, mem_fd, e);
		if (!ret)
			ret = add_ring(mm, e);
	}
	if (mem_fd >= 0)
		close(mem_fd);
	return ret;
}

void aio_free_rings(MmEntry *mm)
{
	for (size_t i = 0; i < mm->n_aios; i++)
		free(mm->aios[i]);
	free(mm->aios);
	mm->aios = NULL;
	mm->n_aios = 0;
}

/* --- restore --- */

static const AioRingEntry *ring_entry(const MmEntry *mm, uint64_t addr)
{
	for (size_t i = 0; i < mm->n_aios; i++) {
		if (mm->aios[i]->id == addr)
			return mm->aios[i];
	}
	return NULL;
}

int aio_restore_plan(pid_t pid, const MmEntry *mm, const VmaEntry *v, struct rst_aio *r)
{
	const AioRingEntry *a = ring_entry(mm, v->start);
	uint64_t len = v->end - v->start;

	if (!a) {
		pr_err("mm-%d.img: the AIO ring at %#" PRIx64 " has no aios entry", pid,
		       (uint64_t)v->start);
		return -EINVAL;
	}
	/* The restorer reads the header and the events in the area's length. */
	if (a->ring_len != len || !ring_nr_req(len) || !a->nr_req) {
		pr_err("mm-%d.img: the AIO ring at %#" PRIx64 " is %" PRIu64 " bytes, its aios "
		       "entry says %u bytes for %u requests", pid, (uint64_t)v->start, len,
		       a->ring_len, a->nr_req);
		return -EINVAL;
	}
	r->addr = v->start;
	r->len = len;
	r->nr_req = a->nr_req;
	r->nr = ring_events(len);
	return 0;
}

int aio_check_entries(pid_t pid, const MmEntry *mm)
{
	for (size_t i = 0; i < mm->n_aios; i++) {
		uint64_t id = mm->aios[i]->id;
		bool found = false;

		for (size_t k = 0; k < mm->n_vmas && !found; k++)
			found = mm->vmas[k]->start == id && (mm->vmas[k]->status & VMA_AREA_AIORING);
		if (!found) {
			pr_err("mm-%d.img: aios entry %zu (%#" PRIx64 ") names no AIO ring area",
			       pid, i, id);
			return -EINVAL;
		}
		for (size_t k = 0; k < i; k++) {
			if (mm->aios[k]->id == id) {
				pr_err("mm-%d.img: two aios entries for the ring at %#" PRIx64,
				       pid, id);
				return -EINVAL;
			}
		}
	}
	return 0;
}
