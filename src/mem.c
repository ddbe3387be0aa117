/*
 * mem.c - dump a task's memory: its layout (mm-PID.img) and the pages only it
 * holds (pagemap-PID.img, pages-N.img).
 *
 * The layout is mem-layout.c's.
 *
 * Pages are dumped for private areas only: shared memory belongs to its
 * object (memfd, shmem), which is dumped once whoever maps it.  Of a
 * private area only the pages the task really holds are written: present
 * or swapped, not the shared zero page, and in a private file mapping only
 * the anonymous copies the task made by writing (the rest is the file's).
 * PAGEMAP_SCAN finds them with one ioctl per area (for the large ones, run
 * beside the smaps read: mem-prescan.c); older kernels get the same answer
 * from /proc/PID/pagemap, read in chunks.
 *
 * The bytes are pulled into one buffer, up to a thousand ranges a call
 * (mem-read.c: process_vm_readv for the task's own pages, /proc/PID/mem
 * for pages shared copy-on-write, which pinning would unshare, and for
 * areas the task may not read), and leave through the page transport
 * (page-xfer.c: local images with one writev, or a page server): no
 * parasite round trip, and our own memory stays the size of two such
 * buffers whatever the task's.  Writing into tmpfs costs several times
 * the reading (every page of the image is a fresh page), so a second
 * thread writes one buffer while the next is read.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "aio.h"
#include "dump-ctx.h"
#include "clock.h"
#include "log.h"
#include "mem-hugetlb.h"
#include "mem.h"
#include "mem-dump.h"
#include "mem-prescan.h"
#include "mem-read.h"
#include "mem-track.h"
#include "page-xfer.h"
#include "proc.h"
#include "mm.pb-c.h"
#include "pagemap.pb-c.h"
#include "shmem.h"
#include "vdso.h"

#define PAGE_SZ_SHIFT	12

/*
 * Pages moved per batch: one process_vm_readv, one writev.  4 MiB keeps
 * the syscall count negligible while the buffer still sits in the cache
 * between the copy in, the zero check and the copy out.
 */
#ifndef XFER_BUF_PAGES
#define XFER_BUF_PAGES	1024
#endif
/* Ranges per batch: one process_vm_readv takes at most IOV_MAX of them. */
#define XFER_MAX_SEGS	1024
/* Regions asked of one PAGEMAP_SCAN call; a larger area takes more calls. */
#define SCAN_REGIONS	1024
/* Pagemap entries read at once when PAGEMAP_SCAN is missing: 64 KiB. */
#define PME_CHUNK	8192

/* --- small helpers --- */

/* /proc/PID/pagemap, and what its PAGEMAP_SCAN can do here. */
struct pagemap {
	int fd;
	bool scan;		/* PAGEMAP_SCAN works */
	bool guard;		/* and reports guard regions */
};

/* Whether PAGEMAP_SCAN knows @categories: asked with an empty range. */
static bool pagemap_scan_knows(int fd, uint64_t categories)
{
	struct pm_scan_arg a = {
		.size = sizeof(a),
		.return_mask = categories,
	};

	return ioctl(fd, PAGEMAP_SCAN, &a) >= 0;
}

static int pagemap_open(pid_t pid, struct pagemap *pm)
{
	pm->fd = proc_open(pid, "pagemap", O_RDONLY);
	if (pm->fd < 0)
		return pm->fd;
	/* The reader older kernels need, asked for by the tests. */
	if (getenv("STASIS_PAGEMAP_READ"))
		return 0;
	pm->scan = pagemap_scan_knows(pm->fd, PAGE_IS_PRESENT);
	pm->guard = pm->scan && pagemap_scan_knows(pm->fd, PAGE_IS_PRESENT | PAGE_IS_GUARD);
	if (!pm->scan)
		pr_info("pid %d: no PAGEMAP_SCAN, reading pagemap", pid);
	return 0;
}

/*
 * Guard regions (MADV_GUARD_INSTALL) are no areas of their own in the
 * kernel.  CRIU keeps them as extra entries after the real ones, with
 * only VMA_AREA_GUARD set, for its restorer to install them again.  The
 * walk that finds them is mem-prescan.c's.
 */
static int add_guards(const struct prescan *ps, struct vma_list *l)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < ps->nr_guards; i++) {
		VmaEntry e;

		vma_entry__init(&e);
		e.start = ps->guards[i].start;
		e.end = ps->guards[i].end;
		e.fd = -1;
		e.status = VMA_AREA_GUARD;
		ret = mem_vma_list_add(l, &e);
	}
	return ret;
}

/*
 * The zero page's PFN, for /proc/PID/pagemap readers (PAGEMAP_SCAN says
 * PAGE_IS_PFNZERO itself).  0 when PFNs are hidden from us: zero-page
 * mappings are then read like other pages (and the root's zero check
 * still leaves them out).
 */
static uint64_t zero_page_pfn(void)
{
	static uint64_t pfn;
	static bool known;
	volatile char *p;
	uint64_t pme = 0;
	int fd;

	if (known)
		return pfn;
	known = true;
	p = mmap(NULL, PAGE_SZ, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 0;
	(void)p[0];	/* a read fault maps the zero page */
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd >= 0 &&
	    pread(fd, &pme, sizeof(pme), ((uintptr_t)p >> PAGE_SZ_SHIFT) * 8) == sizeof(pme) &&
	    (pme & PME_PRESENT))
		pfn = pme & PME_PFN_MASK;
	if (fd >= 0)
		close(fd);
	munmap((void *)p, PAGE_SZ);
	return pfn;
}

enum dump_how {
	DUMP_NONE,	/* no pages: shared, the kernel's, or droppable */
	DUMP_SCAN,	/* the pages the task holds */
	DUMP_ALL,	/* every page (vdso: a restore may need to build a proxy of it; AIO rings) */
};

static enum dump_how vma_dump_how(const VmaEntry *e)
{
	/* A ring's every page, header and events: the restorer copies them into a new ring. */
	if (e->status & VMA_AREA_AIORING)
		return DUMP_ALL;
	if (!(e->status & VMA_AREA_REGULAR) ||
	    !(e->status & (VMA_ANON_PRIVATE | VMA_FILE_PRIVATE)))
		return DUMP_NONE;
	/* vvar is the kernel's live data: the restorer maps the new kernel's. */
	if (e->status & VMA_AREA_VVAR)
		return DUMP_NONE;
	/* The kernel may drop these pages at any time: they are zero to the task. */
	if (e->flags & MAP_DROPPABLE)
		return DUMP_NONE;
	if (e->status & VMA_AREA_VDSO)
		return DUMP_ALL;
	return DUMP_SCAN;
}

/* CRIU's rule for which pages a lazy restore may fault in later. */
static bool vma_can_be_lazy(const VmaEntry *e)
{
	return (e->flags & MAP_ANONYMOUS) && (e->flags & MAP_PRIVATE) &&
	       !(e->flags & (MAP_LOCKED | MAP_HUGETLB)) &&
	       !(e->status & (VMA_AREA_VDSO | VMA_AREA_VVAR | VMA_AREA_VSYSCALL));
}

/* --- moving them --- */

/* A range of pages of one area, waiting in the batch. */
struct xfer_seg {
	uint64_t vaddr;
	uint32_t nr_pages;
	uint32_t vma;		/* index: pagemap entries never span areas */
	uint32_t pe_flags;
	bool zero_skip;		/* all-zero pages may be left out */
	bool parent;		/* in the parent images: an entry, no bytes */
};

/* Buffers between the reading and the writing thread: one filled while one is written. */
#define NR_WBUFS	2

struct wbuf {
	uint8_t *data;			/* XFER_BUF_PAGES pages */
	/* What of it goes out: runs alternate at worst with left-out zero pages. */
	struct page_run runs[XFER_BUF_PAGES];
	unsigned int nr_runs;
};

/*
 * The thread that hands the pages to the transport (page-xfer.h: local
 * images or a page server).  Buffers go round in order: the
 * reader fills bufs[filled % NR_WBUFS], the writer empties bufs[done %
 * NR_WBUFS].  The writer logs nothing (the reader reports its error).
 */
struct writer {
	struct page_xfer *px;
	bool threaded;			/* else the reader writes, inline */
	bool tried;			/* the thread was asked for (at a second buffer) */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct wbuf bufs[NR_WBUFS];
	unsigned int filled, done;
	bool stop;
	int err;			/* the first write error, -errno */
	uint64_t write_us;
};

struct xfer {
	pid_t pid;
	struct mem_reader rd;	/* how the pages are read (mem-read.c) */
	const struct pagemap *pagemap;
	struct prescan *prescan;	/* the walks made beside the smaps read */
	struct page_xfer px;
	struct writer w;

	size_t nr_pages;	/* pages in the batch */
	bool force;		/* the batch is read through /proc/PID/mem */
	unsigned int nr_segs;

	/* Tracking (mem-track.c): this dump protects what it dumps; the parent has the rest. */
	bool arm, chain;
	const uint8_t *wp;	/* per area: registered for write-protection */

	uint64_t scanned, written, zero, parent;

	/*
	 * Last, and not zeroed (xfer_alloc()): 170 KiB a task, each entry
	 * written before it is read (nr_segs, the scans' answers).
	 */
	struct xfer_seg segs[XFER_MAX_SEGS];
	struct iovec iov[XFER_MAX_SEGS];	/* the batch's ranges in the task */
	union {
		struct page_region regs[SCAN_REGIONS];
		uint64_t pme[PME_CHUNK];
	};
};

/* A struct xfer, all zero but its buffers. */
static struct xfer *xfer_alloc(void)
{
	struct xfer *x = malloc(sizeof(*x));

	if (x)
		memset(x, 0, offsetof(struct xfer, segs));
	return x;
}

static bool page_is_zero(const void *page)
{
	const uint64_t *w = page;
	size_t i;

	/* Pages with data nearly always show it at once: no loop for them. */
	if (w[0] | w[1])
		return false;
	for (i = 0; i < PAGE_SZ / 8; i += 8)
		if (w[i] | w[i + 1] | w[i + 2] | w[i + 3] |
		    w[i + 4] | w[i + 5] | w[i + 6] | w[i + 7])
			return false;
	return true;
}

/* The batch's ranges in the task, those of the parent left out, in x->iov. */
static unsigned int batch_ranges(struct xfer *x)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < x->nr_segs; i++) {
		if (x->segs[i].parent)
			continue;
		x->iov[n].iov_base = (void *)(uintptr_t)x->segs[i].vaddr;
		x->iov[n].iov_len = (size_t)x->segs[i].nr_pages * PAGE_SZ;
		n++;
	}
	return n;
}

static int read_batch(struct xfer *x, uint8_t *buf)
{
	return mem_read(&x->rd, buf, x->iov, batch_ranges(x), x->force);
}

/* Only the writing thread touches write_us; err is set under the lock. */
static int write_one(struct writer *w, struct wbuf *b)
{
	uint64_t t0 = now_us();
	int ret = b->nr_runs ? w->px->ops->write(w->px, b->runs, b->nr_runs) : 0;

	w->write_us += now_us() - t0;
	return ret;
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	int ret = 0;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct wbuf *b;

		while (w->done == w->filled && !w->stop)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->done == w->filled)
			break;
		b = &w->bufs[w->done % NR_WBUFS];
		pthread_mutex_unlock(&w->lock);
		/* After an error the rest is only drained: the dump has failed. */
		if (!ret)
			ret = write_one(w, b);
		pthread_mutex_lock(&w->lock);
		if (ret && !w->err)
			w->err = ret;
		w->done++;
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/*
 * The page buffers, kept from one task to the next until the dump ends: a
 * tree of small tasks would otherwise fault fresh zeroed pages in for
 * each one's few pages.
 */
static uint8_t *wbuf_mem;

static int writer_start(struct writer *w, struct page_xfer *px)
{
	uint8_t *mem = wbuf_mem;

	w->px = px;
	if (!mem)
		mem = mmap(NULL, NR_WBUFS * XFER_BUF_PAGES * PAGE_SZ, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		pr_perror("cannot allocate the page buffers");
		return -ENOMEM;
	}
	wbuf_mem = mem;
	for (int i = 0; i < NR_WBUFS; i++)
		w->bufs[i].data = mem + i * XFER_BUF_PAGES * PAGE_SZ;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	return 0;
}

/* Write what is filled and not yet written, here. */
static void writer_inline(struct writer *w)
{
	while (w->done != w->filled) {
		int ret = w->err ? 0 : write_one(w, &w->bufs[w->done % NR_WBUFS]);

		if (ret)
			w->err = ret;
		w->done++;
	}
}

/*
 * The writing thread, started when a second buffer is wanted: most tasks
 * of a tree have their pages in one buffer, and a thread costs them more
 * than writing it in turn.  The writer takes no signal: they keep going
 * where they went before.  Without a second thread the same work is done
 * in turn: slower, not wrong.
 */
static void writer_spawn(struct writer *w)
{
	sigset_t all, old;

	w->tried = true;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	w->threaded = !pthread_create(&w->thread, NULL, writer_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!w->threaded) {
		pr_warn("no writer thread: pages are written inline");
		writer_inline(w);
	}
}

/* A buffer to fill, once the writer is done with it; NULL after a write error. */
static struct wbuf *writer_get(struct writer *w)
{
	struct wbuf *b;

	if (!w->tried && w->filled != w->done)
		writer_spawn(w);
	pthread_mutex_lock(&w->lock);
	while (w->filled - w->done == NR_WBUFS && !w->err)
		pthread_cond_wait(&w->cond, &w->lock);
	b = w->err ? NULL : &w->bufs[w->filled % NR_WBUFS];
	pthread_mutex_unlock(&w->lock);
	if (b)
		b->nr_runs = 0;
	return b;
}

/* @b is filled: to the writer (before it runs: kept for it, or for writer_stop). */
static void writer_put(struct writer *w)
{
	if (!w->threaded) {
		w->filled++;
		if (w->tried)
			writer_inline(w);
		return;
	}
	pthread_mutex_lock(&w->lock);
	w->filled++;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* Wait for every buffer to be written; the first write error, logged. */
static int writer_stop(struct writer *w)
{
	if (!w->bufs[0].data)
		return 0;
	if (!w->threaded)
		writer_inline(w);
	if (w->threaded) {
		pthread_mutex_lock(&w->lock);
		w->stop = true;
		pthread_cond_broadcast(&w->cond);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->thread, NULL);
	}
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	w->bufs[0].data = NULL;
	if (w->err)
		pr_err("pages: write failed: %s", strerror(-w->err));
	return w->err;
}

/* Queue @nr pages at @vaddr, read to @p, to be written as one run. */
static int emit(struct xfer *x, struct wbuf *b, uint8_t *p, uint64_t vaddr, uint64_t nr,
		const struct xfer_seg *s)
{
	struct page_run *last = b->nr_runs ? &b->runs[b->nr_runs - 1] : NULL;

	x->written += nr;
	if (last && last->group == s->vma && last->flags == s->pe_flags &&
	    last->vaddr + last->nr_pages * PAGE_SZ == vaddr &&
	    (uint8_t *)last->data + last->nr_pages * PAGE_SZ == p) {
		last->nr_pages += nr;
		return 0;
	}
	if (b->nr_runs == XFER_BUF_PAGES)
		return -EOVERFLOW;	/* cannot be: a run holds a page at least */
	b->runs[b->nr_runs++] = (struct page_run){
		.vaddr = vaddr,
		.nr_pages = nr,
		.flags = s->pe_flags,
		.group = s->vma,
		.data = p,
	};
	return 0;
}

/* The pages of one segment, all-zero ones left out where that is allowed. */
static int emit_seg(struct xfer *x, struct wbuf *b, uint8_t *p, const struct xfer_seg *s)
{
	uint64_t i, run = 0;
	int ret = 0;

	if (!s->zero_skip)
		return emit(x, b, p, s->vaddr, s->nr_pages, s);
	for (i = 0; !ret && i < s->nr_pages; i++) {
		if (!page_is_zero(p + i * PAGE_SZ)) {
			run++;
			continue;
		}
		x->zero++;
		if (run)
			ret = emit(x, b, p + (i - run) * PAGE_SZ, s->vaddr + (i - run) * PAGE_SZ,
				   run, s);
		run = 0;
	}
	if (!ret && run)
		ret = emit(x, b, p + (i - run) * PAGE_SZ, s->vaddr + (i - run) * PAGE_SZ, run, s);
	return ret;
}

/* Pages the parent images hold: a run without bytes, in address order with the rest. */
static int emit_parent(struct wbuf *b, const struct xfer_seg *s)
{
	struct page_run *last = b->nr_runs ? &b->runs[b->nr_runs - 1] : NULL;

	if (last && last->group == s->vma && last->flags == PE_PARENT &&
	    last->vaddr + last->nr_pages * PAGE_SZ == s->vaddr) {
		last->nr_pages += s->nr_pages;
		return 0;
	}
	if (b->nr_runs == XFER_BUF_PAGES)
		return -EOVERFLOW;
	b->runs[b->nr_runs++] = (struct page_run){
		.vaddr = s->vaddr,
		.nr_pages = s->nr_pages,
		.flags = PE_PARENT,
		.group = s->vma,
		.data = NULL,
	};
	return 0;
}

/* Read the batch into a free buffer, leave out zero pages, hand it to the writer. */
static int flush_batch(struct xfer *x)
{
	struct wbuf *b;
	uint8_t *p;
	int ret;

	if (!x->nr_segs)
		return 0;
	b = writer_get(&x->w);
	if (!b)
		return x->w.err;
	p = b->data;
	ret = read_batch(x, p);
	for (unsigned int i = 0; !ret && i < x->nr_segs; i++) {
		const struct xfer_seg *s = &x->segs[i];

		if (s->parent) {
			x->parent += s->nr_pages;
			ret = emit_parent(b, s);
			continue;
		}
		ret = emit_seg(x, b, p, s);
		p += (size_t)s->nr_pages * PAGE_SZ;
	}
	/* Even a failed batch goes round, so that the buffers stay in order. */
	if (ret)
		b->nr_runs = 0;
	writer_put(&x->w);
	x->nr_segs = 0;
	x->nr_pages = 0;
	return ret;
}

static int add_range(struct xfer *x, uint64_t vaddr, uint64_t nr, uint32_t vma,
		     const VmaEntry *e, bool root)
{
	bool force = !(e->prot & PROT_READ);
	struct xfer_seg want = {
		.vma = vma,
		/*
		 * CRIU means to keep the pages under a thread's stack pointer
		 * eager, but its test compares the wrong bits: in its images
		 * every page of an anonymous private area is lazy, and so here.
		 */
		.pe_flags = PE_PRESENT | (vma_can_be_lazy(e) ? PE_LAZY : 0),
		/*
		 * All-zero pages of an anonymous area are left out in the root
		 * task only, where a hole restores as zeroes.  A child's areas
		 * are rebuilt copy-on-write from its parent's, and a restorer
		 * reading a hole there as "the parent's bytes" would bring
		 * those back: a child writes its zero pages.  (Zero-page
		 * mappings are left out in every task, as CRIU does; its
		 * restore drops from a child each page the parent has and the
		 * child's pagemap lacks, which ours must do too to read CRIU's
		 * images right.)  A private file mapping keeps them all: there
		 * a hole means the file's bytes.
		 */
		.zero_skip = root && (e->status & VMA_ANON_PRIVATE) &&
			     !(e->status & VMA_AREA_VDSO),
	};
	int ret;

	while (nr) {
		struct xfer_seg *last = x->nr_segs ? &x->segs[x->nr_segs - 1] : NULL;
		uint64_t n;

		if (x->nr_pages == XFER_BUF_PAGES || (last && x->force != force) ||
		    (x->nr_segs == XFER_MAX_SEGS)) {
			ret = flush_batch(x);
			if (ret)
				return ret;
			last = NULL;
		}
		x->force = force;
		n = XFER_BUF_PAGES - x->nr_pages;
		if (n > nr)
			n = nr;
		if (last && !last->parent && last->vma == vma &&
		    last->vaddr + last->nr_pages * PAGE_SZ == vaddr) {
			last->nr_pages += n;
		} else {
			want.vaddr = vaddr;
			want.nr_pages = n;
			x->segs[x->nr_segs++] = want;
		}
		x->nr_pages += n;
		vaddr += n * PAGE_SZ;
		nr -= n;
	}
	return 0;
}

/* @nr pages at @vaddr, unwritten since the parent dump: an entry that points there. */
static int add_parent_range(struct xfer *x, uint64_t vaddr, uint64_t nr, uint32_t vma)
{
	struct xfer_seg *last = x->nr_segs ? &x->segs[x->nr_segs - 1] : NULL;
	int ret;

	if (last && last->parent && last->vma == vma &&
	    last->vaddr + (uint64_t)last->nr_pages * PAGE_SZ == vaddr &&
	    last->nr_pages + nr <= UINT32_MAX) {
		last->nr_pages += nr;
		return 0;
	}
	while (nr) {
		uint64_t n = nr > UINT32_MAX / 2 ? UINT32_MAX / 2 : nr;

		if (x->nr_segs == XFER_MAX_SEGS) {
			ret = flush_batch(x);
			if (ret)
				return ret;
		}
		x->segs[x->nr_segs++] = (struct xfer_seg){
			.vaddr = vaddr, .nr_pages = n, .vma = vma, .pe_flags = PE_PARENT,
			.parent = true,
		};
		vaddr += n * PAGE_SZ;
		nr -= n;
	}
	return 0;
}

/*
 * Take @n regions of area @vma that PAGEMAP_SCAN found, none with a
 * category of @skip, from *@done on (a scan that filled its vector may
 * return pages again).  In a chain, a page still write-protected
 * (PAGE_IS_WPALLOWED without PAGE_IS_WRITTEN) is the one the parent
 * dump has.
 */
static int take_regions(struct xfer *x, uint32_t vma, const VmaEntry *e, bool root,
			const struct page_region *regs, long n, uint64_t skip, uint64_t *done)
{
	int ret = 0;

	for (long i = 0; !ret && i < n; i++) {
		uint64_t from = regs[i].start, to = regs[i].end;

		if (to <= *done || (regs[i].categories & skip))
			continue;
		if (from < *done)
			from = *done;
		if (x->chain && (regs[i].categories & PAGE_IS_WPALLOWED) &&
		    !(regs[i].categories & PAGE_IS_WRITTEN))
			ret = add_parent_range(x, from, (to - from) / PAGE_SZ, vma);
		else
			ret = add_range(x, from, (to - from) / PAGE_SZ, vma, e, root);
		*done = to;
	}
	return ret;
}

/*
 * The pages of @e the task holds, found with PAGEMAP_SCAN: by the walk
 * made beside the smaps read when there was one, else (and past where it
 * stopped) here.  A dump that arms tracking protects every page it
 * reports in the same walk (PM_SCAN_WP_MATCHING), on the areas
 * registered for it only: the kernel steps over any other area without
 * a word.
 */
static int scan_vma(struct xfer *x, uint32_t vma, const VmaEntry *e, bool root)
{
	const struct prescan_area *pa = x->prescan ? prescan_find(x->prescan, e->start, e->end) : NULL;
	uint64_t start = e->start, done = e->start, skip = PAGE_IS_PFNZERO;
	uint64_t cats = PAGE_IS_PRESENT | PAGE_IS_SWAPPED;
	bool wp = x->arm && x->wp && x->wp[vma];
	int ret = 0;

	/*
	 * WRITTEN asked for in a protecting walk too: the kernel protects
	 * only pages it has seen written, and sees that only when asked.
	 */
	if (x->chain || wp)
		cats |= PAGE_IS_WRITTEN | PAGE_IS_WPALLOWED;
	/* In a private file mapping the file's own pages are the file's. */
	if (e->status & VMA_FILE_PRIVATE)
		skip |= PAGE_IS_FILE;
	/* Guard regions hold no page, and reading one fails. */
	if (x->pagemap->guard)
		skip |= PAGE_IS_GUARD;
	/*
	 * The prescan protects nothing: a protecting walk is never one; and
	 * it asked for PAGE_IS_FILE only where smaps shows a file too.
	 */
	if (pa && !wp && (pa->file || !(e->status & VMA_FILE_PRIVATE))) {
		ret = take_regions(x, vma, e, root, pa->regs, pa->nr, skip, &done);
		start = pa->done > done ? pa->done : done;
	}
	while (!ret && start < e->end) {
		struct pm_scan_arg a = {
			.size = sizeof(a),
			.flags = wp ? PM_SCAN_WP_MATCHING : 0,
			.start = start,
			.end = e->end,
			.vec = (uintptr_t)x->regs,
			.vec_len = SCAN_REGIONS,
			.category_inverted = skip,
			.category_mask = skip,
			.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
			.return_mask = cats,
		};
		long n = ioctl(x->pagemap->fd, PAGEMAP_SCAN, &a);

		if (n < 0) {
			ret = -errno;
			pr_perror("pid %d: PAGEMAP_SCAN of %" PRIx64 "-%" PRIx64,
				  x->pid, start, e->end);
			break;
		}
		ret = take_regions(x, vma, e, root, x->regs, n, 0, &done);
		if (!ret && a.walk_end <= start) {
			pr_err("pid %d: PAGEMAP_SCAN made no progress at %" PRIx64, x->pid, start);
			ret = -EIO;
		}
		start = a.walk_end > done ? a.walk_end : done;
	}
	return ret;
}

/* The same from /proc/PID/pagemap, for kernels without PAGEMAP_SCAN. */
static int scan_vma_pagemap(struct xfer *x, uint32_t vma, const VmaEntry *e, bool root)
{
	bool file = e->status & VMA_FILE_PRIVATE;
	uint64_t zpfn = zero_page_pfn(), addr = e->start, run_start = 0, run = 0;
	int ret = 0;

	while (!ret && addr < e->end) {
		uint64_t nr = (e->end - addr) / PAGE_SZ;
		ssize_t r;

		if (nr > PME_CHUNK)
			nr = PME_CHUNK;
		r = pread(x->pagemap->fd, x->pme, nr * 8, (addr >> PAGE_SZ_SHIFT) * 8);
		if (r != (ssize_t)(nr * 8)) {
			pr_perror("pid %d: cannot read pagemap at %" PRIx64, x->pid, addr);
			return r < 0 ? -errno : -EIO;
		}
		for (uint64_t i = 0; !ret && i < nr; i++, addr += PAGE_SZ) {
			uint64_t pme = x->pme[i];
			bool want = (pme & (PME_PRESENT | PME_SWAP)) && !(pme & PME_GUARD) &&
				    !(file && (pme & PME_FILE)) &&
				    !(zpfn && (pme & PME_PRESENT) && (pme & PME_PFN_MASK) == zpfn);

			if (want && !run)
				run_start = addr;
			if (want) {
				run++;
				continue;
			}
			if (run)
				ret = add_range(x, run_start, run, vma, e, root);
			run = 0;
		}
	}
	if (!ret && run)
		ret = add_range(x, run_start, run, vma, e, root);
	return ret;
}

static int dump_vma_pages(struct xfer *x, const struct vma_list *l, bool root)
{
	int ret = 0;

	/*
	 * A dump the next one builds on keeps its all-zero pages: a page
	 * it protects must be in its pagemap, for the next one to point to.
	 */
	if (x->arm)
		root = false;
	for (uint32_t i = 0; !ret && i < l->nr; i++) {
		const VmaEntry *e = &l->v[i];

		switch (vma_dump_how(e)) {
		case DUMP_NONE:
			continue;
		case DUMP_ALL:
			ret = add_range(x, e->start, (e->end - e->start) / PAGE_SZ, i, e, root);
			break;
		case DUMP_SCAN:
			if (x->pagemap->scan)
				ret = scan_vma(x, i, e, root);
			else
				ret = scan_vma_pagemap(x, i, e, root);
			break;
		}
		x->scanned += (e->end - e->start) / PAGE_SZ;
	}
	if (!ret)
		ret = flush_batch(x);
	return ret;
}

static int dump_pages(struct dump_ctx *ctx, struct dump_task *t, const struct vma_list *l,
		      const struct pagemap *pagemap, struct prescan *ps, const uint8_t *wp)
{
	struct track_task *tt = track_task_of(ctx, t->pid);
	struct xfer *x = xfer_alloc();
	uint64_t t0 = now_us();
	int ret;

	if (!x)
		return -ENOMEM;
	x->pid = t->pid;
	x->rd = (struct mem_reader){ .pid = t->pid, .pagemap_fd = pagemap->fd, .mem_fd = -1 };
	x->pagemap = pagemap;
	x->prescan = ps;
	x->arm = ctx->track && ctx->track->arm;
	x->chain = tt && tt->parent && pagemap->scan;
	x->wp = wp;
	ret = page_xfer_open(&x->px, &ctx->pages, PAGE_XFER_PID, t->vpid);
	if (!ret)
		ret = writer_start(&x->w, &x->px);
	if (!ret)
		ret = dump_vma_pages(x, l, t == &ctx->tasks[0]);

	ret = writer_stop(&x->w) ? : ret;
	if (x->px.ops)
		ret = x->px.ops->close(&x->px) ? : ret;
	mem_reader_close(&x->rd);

	ctx->stats.pages_scanned += x->scanned;
	ctx->stats.pages_written += x->written;
	ctx->stats.pages_zero += x->zero;
	ctx->stats.pages_skipped_parent += x->parent;
	/* As CRIU counts them: the pages' time, from finding them to written. */
	ctx->stats.memdump_time += now_us() - t0;
	ctx->stats.memwrite_time += x->w.write_us;
	pr_info("pid %d: %" PRIu64 " pages written, %" PRIu64 " zero pages left out, %" PRIu64
		" in the parent, in %" PRIu64 " us", t->pid, x->written, x->zero, x->parent,
		now_us() - t0);
	free(x);
	return ret;
}

/* --- the task --- */

/* The end of a dump: the page buffers and the files seen go. */
void mem_dump_cleanup(struct dump_ctx *ctx)
{
	mem_dump_layout_cleanup(ctx);
	if (wbuf_mem)
		munmap(wbuf_mem, NR_WBUFS * XFER_BUF_PAGES * PAGE_SZ);
	wbuf_mem = NULL;
}

/*
 * The page-table walks of a frozen task run beside its smaps read
 * (mem-prescan.h): the guard regions of a dump that writes areas, and
 * the pages of one that protects none (a protecting walk must see the
 * areas registered first).  STASIS_PRESCAN_INLINE=1 makes them before
 * the smaps read instead, for the benchmarks to compare.  A small task's
 * come after it, from the areas it found (@l).
 */
static int prescan_task(struct dump_ctx *ctx, struct dump_task *t, const struct pagemap *pm,
			struct prescan *ps, const struct vma_list *l)
{
	bool arm = ctx->track && ctx->track->arm;

	return prescan_start(ps, t->pid, pm->fd, pm->guard, pm->guard && !ctx->pre_dump,
			     pm->scan && !arm, !getenv("STASIS_PRESCAN_INLINE"),
			     l ? l->v : NULL, l ? l->nr : 0);
}

int mem_dump_task(struct dump_ctx *ctx, struct dump_task *t)
{
	uint64_t auxv[MM_AUXV_WORDS_MAX];
	struct pagemap pagemap = { .fd = -1 };
	struct prescan ps = { .pagemap_fd = -1 };
	struct vma_list l = { 0 };
	bool small = prescan_small(t->stat.vsize);
	uint8_t *wp = NULL;
	uint64_t t0, t1;
	MmEntry mm;
	int ret;

	mm_entry__init(&mm);
	ret = pagemap_open(t->pid, &pagemap);
	if (!ret && !small)
		ret = prescan_task(ctx, t, &pagemap, &ps, NULL);
	t0 = now_us();
	if (!ret)
		ret = mem_collect_vmas(ctx, t, &l);
	t1 = now_us();
	if (!ret && small)
		ret = prescan_task(ctx, t, &pagemap, &ps, &l);
	ret = prescan_wait(&ps) ?: ret;
	if (ps.one_walk)
		pr_debug("pid %d: areas read in %" PRIu64 " us, then one page-table walk of"
			 " them all (%" PRIu64 " us)", t->pid, t1 - t0, ps.walk_us);
	else
		pr_debug("pid %d: areas read in %" PRIu64 " us, waited %" PRIu64 " us more for"
			 " the page-table walks beside (%" PRIu64 " us)", t->pid, t1 - t0,
			 now_us() - t1, ps.walk_us);
	/* A pre-dump writes no areas: it needs the guard regions no more than them. */
	if (!ret && pagemap.guard && !ctx->pre_dump)
		ret = add_guards(&ps, &l);
	/* A pre-dump takes the pages only: the layout is the final dump's. */
	if (!ret && !ctx->pre_dump)
		ret = mem_fill_mm(ctx, t, &mm, auxv, &l);
	/* Tracking needs PAGEMAP_SCAN: without it, every dump takes every page. */
	if (!ret && pagemap.scan)
		ret = track_arm(ctx, t, &l, &wp);
	if (!ret)
		ret = dump_pages(ctx, t, &l, &pagemap, &ps, wp);
	if (!ret && !ctx->pre_dump)
		ret = mem_write_mm(ctx, t, &mm, &l);
	prescan_free(&ps);
	free(wp);
	if (pagemap.fd >= 0)
		close(pagemap.fd);
	aio_free_rings(&mm);
	free(l.v);
	if (ret)
		pr_err("pid %d: memory dump failed", t->pid);
	return ret;
}
