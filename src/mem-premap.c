/*
 * mem-premap.c - private memory shared copy-on-write across fork, kept so
 * at restore.
 *
 * A parent and the child it forked share the physical pages of their
 * private areas until one of them writes.  To keep that, a task maps and
 * fills its private areas before it forks its children (the before_fork
 * hook), in a staging range clear of every area of its image: stasis
 * itself still occupies the address space.  A child then takes over each
 * area of the parent's that matches one of its own (same addresses, same
 * kind, same file and offset, same flags), moves it into its own staging
 * range, and writes only the pages whose contents differ from what it
 * inherited; a page the parent has and the child's pagemap lacks is
 * dropped (MADV_DONTNEED: zeroes, or the file's bytes again).  The other
 * areas are mapped fresh there and read as usual.  The parent's staging
 * range goes away in the child; areas no child takes are kept from the
 * fork (MADV_DONTFORK, undone by the restorer).  The restorer moves
 * every staged area to its place (mremap keeps the pages and their
 * sharing), unmaps the rest of the range and sets the protections.
 *
 * Any depth works: each task stages for its own children what it got
 * from its parent.  A child whose area was split or grown takes the part
 * that overlaps one area of the parent's; one that moved or exec'd
 * matches nothing and reads its pages as a root does.  Left out (the
 * restorer maps them as before): shared, locked, hugetlb, lazy, AIO,
 * vDSO, socket and memfd areas.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "files/api.h"
#include "log.h"
#include "mem.h"
#include "mem-restore.h"
#include "mem-rst.h"
#include "mm.pb-c.h"

#define PMD_SZ		(2UL << 20)
/* More areas than this: staged the old way, two mappings each would crowd max_map_count. */
#define PREMAP_MAX	8192
#define IOV_BATCH	256
#define FILL_CHUNK	(1UL << 20)
#define FILL_POPULATE	(64UL << 10)

struct premap_area {
	uint64_t start, end;		/* its place in the image */
	uint64_t at;			/* its place in the staging range */
	uint64_t in_start, in_end;	/* the part taken from the parent's; empty if none */
	/*
	 * Where the staged area is cut in several mappings (pieces taken
	 * from the parent's, which may be cut too, and fresh ones), in
	 * address order, inside (start, end): each piece moves by itself.
	 */
	uint64_t *cuts;
	uint32_t nr_cuts;
	const VmaEntry *v;
};

struct premap {
	uint64_t base, size;		/* the staging range */
	struct premap_area *areas;	/* in address order */
	uint32_t nr;
	uint32_t nr_moves;
};

bool premap_vma_ok(const struct rst_ctx *ctx, const VmaEntry *v)
{
	if (!(v->status & VMA_AREA_REGULAR) || (v->flags & MAP_TYPE) != MAP_PRIVATE)
		return false;
	if (v->status & (VMA_AREA_VDSO | VMA_AREA_VVAR | VMA_AREA_VSYSCALL | VMA_AREA_AIORING |
			 VMA_AREA_SOCKET | VMA_AREA_SYSVIPC | VMA_AREA_MEMFD | VMA_AREA_SHSTK |
			 VMA_AREA_UPROBES | VMA_AREA_GUARD | VMA_FILE_SHARED | VMA_ANON_SHARED))
		return false;
	if (v->flags & (MAP_LOCKED | MAP_HUGETLB))
		return false;
	if (ctx->opts->lazy_pages && mem_vma_lazy(v))
		return false;
	return (v->status & (VMA_ANON_PRIVATE | VMA_FILE_PRIVATE)) != 0;
}

bool premap_has(const struct premap *pm, uint64_t start)
{
	uint32_t lo = 0, hi = pm ? pm->nr : 0;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (pm->areas[mid].start == start)
			return true;
		if (pm->areas[mid].start < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

bool premap_overlaps(const struct premap *pm, uint64_t s, uint64_t e)
{
	return pm && s < pm->base + pm->size && pm->base < e;
}

/* The advice that shapes what a fill allocates (transparent huge pages). */
#define MADV_THP	(1ull << MADV_HUGEPAGE | 1ull << MADV_NOHUGEPAGE)
#define MAP_KEPT	(MAP_TYPE | MAP_ANONYMOUS | MAP_GROWSDOWN | MAP_NORESERVE)

static uint64_t vma_madv(const VmaEntry *v)
{
	return v->has_madv ? v->madv : 0;
}

static bool same_file(struct rst_ctx *ctx, const VmaEntry *a, const VmaEntry *b)
{
	struct stat sa, sb;
	int fa, fb;

	if (a->shmid == b->shmid)
		return true;
	fa = files_restore_open(ctx, a->shmid);
	fb = files_restore_open(ctx, b->shmid);
	return fa >= 0 && fb >= 0 && !fstat(fa, &sa) && !fstat(fb, &sb) &&
	       sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/*
 * May the child's area @c take over the part of the parent's area @p it
 * overlaps?  What a moved area keeps of its first mapping (kind, file,
 * offset, flags, huge page advice) must be what the child's had; its
 * protection and other advice are set at the end anyway.
 */
static bool inheritable(struct rst_ctx *ctx, const VmaEntry *p, const VmaEntry *c)
{
	bool file = c->status & VMA_FILE_PRIVATE;

	if (c->start >= p->end || p->start >= c->end)
		return false;
	if (file != !!(p->status & VMA_FILE_PRIVATE) ||
	    (c->flags & MAP_KEPT) != (p->flags & MAP_KEPT) ||
	    (vma_madv(c) & MADV_THP) != (vma_madv(p) & MADV_THP))
		return false;
	if (!file)
		return true;
	return c->pgoff - c->start == p->pgoff - p->start && same_file(ctx, p, c);
}

/* The parent's staged area @c may take over, or NULL. */
static const struct premap_area *parent_area(struct rst_ctx *ctx, const struct premap *pp,
					     const VmaEntry *c)
{
	for (uint32_t i = 0; pp && i < pp->nr; i++) {
		const struct premap_area *pa = &pp->areas[i];

		if (pa->start >= c->end)
			break;
		if (inheritable(ctx, pa->v, c))
			return pa;
	}
	return NULL;
}

/* --- the fill: page runs read in batches, as the restorer reads them --- */

struct fill {
	struct mem_rst *m;
	struct iovec iov[IOV_BATCH];
	int n, fd;
	uint64_t off, total;
	uint8_t *buf;			/* FILL_CHUNK bytes for the pages compared */
	uint64_t same, differ;
};

static int read_full(int fd, struct iovec *iov, int n, uint64_t off, uint64_t total)
{
	while (total) {
		ssize_t ret = preadv(fd, iov, n, (off_t)off);

		if (ret <= 0) {
			pr_perror("cannot read pages from the pages image");
			return ret ? -errno : -EIO;
		}
		off += ret;
		total -= ret;
		while (ret && n) {
			if ((size_t)ret >= iov[0].iov_len) {
				ret -= iov[0].iov_len;
				memmove(iov, iov + 1, --n * sizeof(*iov));
			} else {
				iov[0].iov_base = (char *)iov[0].iov_base + ret;
				iov[0].iov_len -= ret;
				ret = 0;
			}
		}
	}
	return 0;
}

static int fill_flush(struct fill *f)
{
	int ret = f->n ? read_full(f->fd, f->iov, f->n, f->off, f->total) : 0;

	f->n = 0;
	f->total = 0;
	return ret;
}

/* Read @len bytes at @off of pages image @fd straight into @dst. */
static int fill_read(struct fill *f, int fd, uint64_t off, uint64_t dst, uint64_t len)
{
	int ret;

	while (len) {
		uint64_t n;

		if (f->n && (f->fd != fd || f->off + f->total != off || f->n == IOV_BATCH ||
			     f->total >= FILL_CHUNK)) {
			ret = fill_flush(f);
			if (ret)
				return ret;
		}
		if (!f->n) {
			f->fd = fd;
			f->off = off;
		}
		n = len < FILL_CHUNK - f->total ? len : FILL_CHUNK - f->total;
		/* Frames in one go rather than a fault each inside the read. */
		if (n >= FILL_POPULATE)
			madvise((void *)dst, n, MADV_POPULATE_WRITE);
		f->iov[f->n++] = (struct iovec){ (void *)dst, n };
		f->total += n;
		off += n;
		dst += n;
		len -= n;
	}
	return 0;
}

/* Pages the parent has too: written only where they differ, so equal ones stay shared. */
static int fill_compare(struct fill *f, int fd, uint64_t off, uint64_t dst, uint64_t len)
{
	while (len) {
		uint64_t n = len < FILL_CHUNK ? len : FILL_CHUNK;
		struct iovec iov = { f->buf, n };
		int ret = read_full(fd, &iov, 1, off, n);

		if (ret)
			return ret;
		for (uint64_t i = 0; i < n; i += PAGE_SZ) {
			if (!memcmp(f->buf + i, (void *)(dst + i), PAGE_SZ)) {
				f->same++;
				continue;
			}
			memcpy((void *)(dst + i), f->buf + i, PAGE_SZ);
			f->differ++;
		}
		off += n;
		dst += n;
		len -= n;
	}
	return 0;
}

/* Runs in address order: the first one ending after @addr (binary search). */
static uint32_t run_index(const struct rst_run *r, uint32_t nr, uint64_t addr)
{
	uint32_t lo = 0, hi = nr;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (r[mid].addr + r[mid].len <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* From *@i on, the next run ending after @addr, or NULL. */
static const struct rst_run *run_from(const struct rst_run *r, uint32_t nr, uint32_t *i,
				      uint64_t addr)
{
	while (*i < nr && r[*i].addr + r[*i].len <= addr)
		(*i)++;
	return *i < nr ? &r[*i] : NULL;
}

/*
 * [@s, @e) of the child's pages, at @off of @fd, inside the inherited
 * part: compared where the parent has pages, read where it has none.
 */
static int fill_inherited(struct fill *f, const struct premap_area *a, const struct mem_rst *pm,
			  uint32_t *pi, int fd, uint64_t off, uint64_t s, uint64_t e)
{
	int ret = 0;

	while (!ret && s < e) {
		const struct rst_run *p = run_from(pm->runs, pm->nr_runs, pi, s);
		uint64_t ps = e, pe = e;

		if (p && p->addr < e) {
			ps = p->addr > s ? p->addr : s;
			pe = p->addr + p->len < e ? p->addr + p->len : e;
		}
		if (ps > s)
			ret = fill_read(f, fd, off, a->at + (s - a->start), ps - s);
		if (!ret && pe > ps)
			ret = fill_compare(f, fd, off + (ps - s), a->at + (ps - a->start), pe - ps);
		off += pe - s;
		s = pe;
	}
	return ret;
}

/* The child's own pages of area @a, in the inherited part or not. */
static int fill_area_runs(struct fill *f, const struct premap_area *a, const struct mem_rst *pm)
{
	struct mem_rst *m = f->m;
	uint32_t pi = pm ? run_index(pm->runs, pm->nr_runs, a->in_start) : 0;
	int ret = 0;

	for (uint32_t i = run_index(m->runs, m->nr_runs, a->start);
	     !ret && i < m->nr_runs && m->runs[i].addr < a->end; i++) {
		const struct rst_run *r = &m->runs[i];
		uint64_t s = r->addr > a->start ? r->addr : a->start;
		uint64_t e = r->addr + r->len < a->end ? r->addr + r->len : a->end;
		uint64_t off = r->off + (s - r->addr);
		int fd = mem_run_fd(m, r->fd);

		while (!ret && s < e) {
			bool in = s >= a->in_start && s < a->in_end;
			uint64_t to = e;

			if (in && a->in_end < e)
				to = a->in_end;
			else if (!in && s < a->in_start && a->in_start < e)
				to = a->in_start;
			ret = in ? fill_inherited(f, a, pm, &pi, fd, off, s, to) :
				   fill_read(f, fd, off, a->at + (s - a->start), to - s);
			off += to - s;
			s = to;
		}
	}
	return ret;
}

/* Pages the parent has and the child's pagemap lacks: zeroes, or the file's bytes. */
static int drop_parents_extra(const struct mem_rst *m, const struct premap_area *a,
			      const struct mem_rst *pm)
{
	uint32_t ci = run_index(m->runs, m->nr_runs, a->in_start);

	for (uint32_t i = run_index(pm->runs, pm->nr_runs, a->in_start);
	     i < pm->nr_runs && pm->runs[i].addr < a->in_end; i++) {
		const struct rst_run *p = &pm->runs[i];
		uint64_t s = p->addr > a->in_start ? p->addr : a->in_start;
		uint64_t e = p->addr + p->len < a->in_end ? p->addr + p->len : a->in_end;

		while (s < e) {
			const struct rst_run *c = run_from(m->runs, m->nr_runs, &ci, s);
			uint64_t cs = e, ce = e;

			if (c && c->addr < e) {
				cs = c->addr > s ? c->addr : s;
				ce = c->addr + c->len < e ? c->addr + c->len : e;
			}
			if (cs > s && madvise((void *)(a->at + (s - a->start)), cs - s,
					      MADV_DONTNEED)) {
				pr_perror("cannot drop inherited pages at %#" PRIx64, s);
				return -errno;
			}
			s = ce;
		}
	}
	return 0;
}

/* --- staging --- */

/*
 * Each area at the next free place of the range whose address is its own
 * modulo 2 MiB, so that huge pages survive both moves, with a page
 * between areas (PROT_NONE, the reservation's): staged areas never merge.
 */
static uint64_t layout(struct premap *pm)
{
	uint64_t off = PAGE_SZ;

	for (uint32_t i = 0; i < pm->nr; i++) {
		struct premap_area *a = &pm->areas[i];

		off += (a->start - off) & (PMD_SZ - 1);
		a->at = off;
		off += a->end - a->start + PAGE_SZ;
	}
	return off;
}

static int map_fresh(struct rst_ctx *ctx, struct rst_task *t, const struct premap_area *a)
{
	const VmaEntry *v = a->v;
	int flags = MAP_PRIVATE | MAP_FIXED | (v->flags & (MAP_GROWSDOWN | MAP_NORESERVE));
	int fd = -1;
	void *p;

	if (v->status & VMA_FILE_PRIVATE) {
		fd = mem_open_mapped(ctx, t, v);
		if (fd < 0)
			return fd;
	} else {
		flags |= MAP_ANONYMOUS;
	}
	p = mmap((void *)a->at, a->end - a->start, PROT_READ | PROT_WRITE, flags, fd,
		 fd >= 0 ? (off_t)v->pgoff : 0);
	if (fd >= 0)
		close(fd);
	if (p != (void *)a->at) {
		pr_perror("pid %d: cannot stage the area at %#" PRIx64, t->pid, a->start);
		return p == MAP_FAILED ? -errno : -EFAULT;
	}
	return 0;
}

static int add_cut(struct premap_area *a, uint64_t at)
{
	uint64_t *c;

	if (at <= a->start || at >= a->end)
		return 0;
	c = realloc(a->cuts, (a->nr_cuts + 1) * sizeof(*c));
	if (!c)
		return -ENOMEM;
	a->cuts = c;
	c[a->nr_cuts++] = at;
	return 0;
}

/* Piece @k of area @a: [*s, *e); pieces 0 ... nr_cuts. */
static void piece(const struct premap_area *a, uint32_t k, uint64_t *s, uint64_t *e)
{
	*s = k ? a->cuts[k - 1] : a->start;
	*e = k < a->nr_cuts ? a->cuts[k] : a->end;
}

/* The parent's pieces over [in_start, in_end), moved into @a's place, piece by piece. */
static int take_over(struct rst_task *t, struct premap_area *a, const struct premap_area *pa)
{
	int ret = add_cut(a, a->in_start);

	for (uint32_t k = 0; !ret && k <= pa->nr_cuts; k++) {
		uint64_t s, e;
		void *p;

		piece(pa, k, &s, &e);
		s = s > a->in_start ? s : a->in_start;
		e = e < a->in_end ? e : a->in_end;
		if (s >= e)
			continue;
		p = mremap((void *)(pa->at + (s - pa->start)), e - s, e - s,
			   MREMAP_MAYMOVE | MREMAP_FIXED, (void *)(a->at + (s - a->start)));
		if (p == MAP_FAILED) {
			pr_perror("pid %d: cannot take over the parent's area at %#" PRIx64, t->pid, s);
			return -errno;
		}
		ret = add_cut(a, e);
	}
	return ret;
}

/* Area @a of the child, with what it takes from the parent's @pa (if any). */
static int stage_area(struct rst_ctx *ctx, struct rst_task *t, struct premap_area *a,
		      const struct premap_area *pa)
{
	uint64_t madv = vma_madv(a->v);
	int ret = 0;

	if (pa) {
		a->in_start = a->start > pa->start ? a->start : pa->start;
		a->in_end = a->end < pa->end ? a->end : pa->end;
	}
	if (!pa || a->in_start > a->start || a->in_end < a->end)
		ret = map_fresh(ctx, t, a);
	if (!ret && pa)
		ret = take_over(t, a, pa);
	/* Huge pages as the task had them, from the first page read in. */
	if (!ret && (madv & MADV_THP) &&
	    madvise((void *)a->at, a->end - a->start,
		    madv & (1ull << MADV_HUGEPAGE) ? MADV_HUGEPAGE : MADV_NOHUGEPAGE)) {
		pr_perror("pid %d: cannot madvise the area at %#" PRIx64, t->pid, a->start);
		ret = -errno;
	}
	return ret;
}

/* Areas no child takes over stay out of the children's address spaces. */
static int keep_from_children(struct rst_ctx *ctx, struct rst_task *t, struct premap *pm)
{
	bool *taken = calloc(pm->nr + 1, sizeof(*taken));

	if (!taken)
		return -ENOMEM;
	for (size_t k = t->index + 1; k < ctx->nr_tasks; k++) {
		const struct rst_task *c = &ctx->tasks[k];
		size_t j = 0;

		if (c->parent != t || c->zombie || !c->mm)
			continue;
		for (uint32_t i = 0; i < pm->nr; i++) {
			const struct premap_area *a = &pm->areas[i];

			while (j < c->mm->n_vmas && c->mm->vmas[j]->end <= a->start)
				j++;
			for (size_t l = j; l < c->mm->n_vmas && c->mm->vmas[l]->start < a->end; l++) {
				const VmaEntry *cv = c->mm->vmas[l];

				if (premap_vma_ok(ctx, cv) && inheritable(ctx, a->v, cv))
					taken[i] = true;
			}
		}
	}
	for (uint32_t i = 0; i < pm->nr; i++) {
		if (!taken[i])
			madvise((void *)pm->areas[i].at, pm->areas[i].end - pm->areas[i].start,
				MADV_DONTFORK);
	}
	free(taken);
	return 0;
}

static int fill_areas(struct rst_task *t, struct mem_rst *m, const struct mem_rst *pm_parent)
{
	struct premap *pm = m->pm;
	struct fill f = { .m = m };
	int ret = 0;

	for (uint32_t i = 0; !ret && i < pm->nr; i++) {
		const struct premap_area *a = &pm->areas[i];
		bool in = a->in_end > a->in_start;

		if (in && !f.buf) {
			f.buf = malloc(FILL_CHUNK);
			if (!f.buf)
				return -ENOMEM;
		}
		ret = fill_area_runs(&f, a, in ? pm_parent : NULL);
		if (!ret && in)
			ret = drop_parents_extra(m, a, pm_parent);
	}
	if (!ret)
		ret = fill_flush(&f);
	free(f.buf);
	if (!ret && (f.same || f.differ))
		pr_info("pid %d: %" PRIu64 " pages kept shared with the parent, %" PRIu64
			" written over", t->pid, f.same, f.differ);
	return ret;
}

static int reserve(struct rst_task *t, struct mem_rst *m, struct premap *pm,
		   const struct premap *pp)
{
	uint64_t addr;
	void *p;
	int ret;

	pm->size = layout(pm);
	/* Clear of the parent's range too: the child unmaps that one whole. */
	if (pp)
		m->avoid = (struct rst_range){ pp->base, pp->base + pp->size };
	ret = mem_restore_hole(t, pm->size + PMD_SZ, &addr);
	m->avoid = (struct rst_range){ 0, 0 };
	if (ret)
		return ret;
	pm->base = (addr + PMD_SZ - 1) & ~(PMD_SZ - 1);
	p = mmap((void *)pm->base, pm->size, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
	if (p != (void *)pm->base) {
		pr_perror("pid %d: cannot reserve the staging range of its areas", t->pid);
		return p == MAP_FAILED ? -errno : -EFAULT;
	}
	for (uint32_t i = 0; i < pm->nr; i++)
		pm->areas[i].at += pm->base;
	return 0;
}

static int premap_task(struct rst_ctx *ctx, struct rst_task *t, struct mem_rst *m,
		       const struct mem_rst *mp)
{
	const struct premap *pp = mp ? mp->pm : NULL;
	struct premap *pm;
	uint32_t nr = 0;
	int ret;

	for (size_t i = 0; i < t->mm->n_vmas; i++)
		nr += premap_vma_ok(ctx, t->mm->vmas[i]);
	if (!nr || nr > PREMAP_MAX)
		return 0;
	pm = calloc(1, sizeof(*pm));
	if (!pm || !(pm->areas = calloc(nr, sizeof(*pm->areas)))) {
		free(pm);
		return -ENOMEM;
	}
	for (size_t i = 0; i < t->mm->n_vmas; i++) {
		const VmaEntry *v = t->mm->vmas[i];

		if (premap_vma_ok(ctx, v))
			pm->areas[pm->nr++] = (struct premap_area){ .start = v->start,
								    .end = v->end, .v = v };
	}
	ret = reserve(t, m, pm, pp);
	if (ret) {
		premap_free(pm);
		return ret;
	}
	m->pm = pm;
	for (uint32_t i = 0; !ret && i < pm->nr; i++) {
		struct premap_area *a = &pm->areas[i];

		ret = stage_area(ctx, t, a, parent_area(ctx, pp, a->v));
		pm->nr_moves += a->nr_cuts + 1;
	}
	return ret ?: fill_areas(t, m, mp) ?: keep_from_children(ctx, t, pm);
}

/* Does any task of the tree come from @t's fork?  Helpers and zombies count. */
static bool forks_children(const struct rst_ctx *ctx, const struct rst_task *t)
{
	for (size_t k = t->index + 1; k < ctx->nr_tasks; k++) {
		if (ctx->tasks[k].parent == t)
			return true;
	}
	return false;
}

/*
 * A leaf (a task that forks nothing) stages nothing of its own: what no
 * child will inherit gains nothing from being filled before the fork, so
 * the restorer maps and fills it in place, as a task without staging;
 * what it takes from its parent stays where the parent staged it (the
 * leaf's copy of the parent's range, its pages shared with the parent),
 * compared and written there, and the restorer moves it from there.
 * That saves the leaf a staging range (a search of its maps), a move
 * per piece and the unmap of the parent's range, which the restorer
 * unmaps instead.  An area that only partly overlaps the parent's one
 * it matches would need a range of its own: 1, and the leaf is staged as
 * any task.
 */
static int premap_leaf(struct rst_ctx *ctx, struct rst_task *t, struct mem_rst *m,
		       const struct mem_rst *mp)
{
	const struct premap *pp = mp->pm;
	const struct premap_area *pa;
	struct premap *pm;
	uint32_t nr = 0;
	int ret = 0;

	for (size_t i = 0; i < t->mm->n_vmas; i++) {
		const VmaEntry *v = t->mm->vmas[i];

		if (!premap_vma_ok(ctx, v) || !(pa = parent_area(ctx, pp, v)))
			continue;
		if (v->start < pa->start || v->end > pa->end)
			return 1;
		nr++;
	}
	if (!nr)
		return 0;
	pm = calloc(1, sizeof(*pm));
	if (!pm || !(pm->areas = calloc(nr, sizeof(*pm->areas)))) {
		free(pm);
		return -ENOMEM;
	}
	pm->base = pp->base;
	pm->size = pp->size;
	m->pm = pm;
	for (size_t i = 0; !ret && i < t->mm->n_vmas; i++) {
		const VmaEntry *v = t->mm->vmas[i];
		struct premap_area *a;
		uint64_t madv = vma_madv(v);

		if (!premap_vma_ok(ctx, v) || !(pa = parent_area(ctx, pp, v)))
			continue;
		a = &pm->areas[pm->nr++];
		*a = (struct premap_area){ .start = v->start, .end = v->end, .v = v,
					   .at = pa->at + (v->start - pa->start),
					   .in_start = v->start, .in_end = v->end };
		/* The parent's area may be several mappings: each piece moves by itself. */
		for (uint32_t k = 0; !ret && k < pa->nr_cuts; k++)
			ret = add_cut(a, pa->cuts[k]);
		pm->nr_moves += a->nr_cuts + 1;
		if (!ret && (madv & MADV_THP) &&
		    madvise((void *)a->at, a->end - a->start,
			    madv & (1ull << MADV_HUGEPAGE) ? MADV_HUGEPAGE : MADV_NOHUGEPAGE)) {
			pr_perror("pid %d: cannot madvise the area at %#" PRIx64, t->pid, a->start);
			ret = -errno;
		}
	}
	if (!ret)
		pr_debug("pid %d: a leaf: %u areas left where its parent staged them", t->pid, nr);
	return ret ?: fill_areas(t, m, mp);
}

/* The parent's staging range is the leaf's own now: the restorer unmaps it. */
static bool staged_in_parents(const struct mem_rst *m, const struct mem_rst *mp)
{
	return m && m->pm && mp && mp->pm && m->pm->base == mp->pm->base;
}

/*
 * THP off for the whole mm (PR_SET_THP_DISABLE) before anything is
 * filled, so that the fill makes no huge page the task never had; a
 * child inherits its parent's setting, so it is set either way.
 */
static int restore_thp_disabled(struct rst_task *t)
{
	int want = t->mm->has_thp_disabled && t->mm->thp_disabled;
	int now = prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0);

	if (now < 0 || now == want || (!t->mm->has_thp_disabled && !now))
		return 0;
	if (prctl(PR_SET_THP_DISABLE, want, 0, 0, 0)) {
		pr_perror("pid %d: cannot set transparent huge pages off or on", t->pid);
		return -errno;
	}
	return 0;
}

int mem_premap(struct rst_ctx *ctx, struct rst_task *t)
{
	struct mem_rst *m = t->mem_priv;
	const struct mem_rst *mp = t->parent ? t->parent->mem_priv : NULL;
	int ret = 0;

	if (m && t->mm && !t->zombie) {
		bool leaf = !forks_children(ctx, t);

		ret = restore_thp_disabled(t);
		if (!ret && leaf)
			ret = mp && mp->pm ? premap_leaf(ctx, t, m, mp) : 0;
		if (ret == 1 || (!ret && !leaf))
			ret = premap_task(ctx, t, m, mp);
	}
	/* What the parent staged and this task did not take is not its own. */
	if (mp && mp->pm && !staged_in_parents(m, mp))
		munmap((void *)mp->pm->base, mp->pm->size);
	return ret;
}

size_t premap_args_size(const struct premap *pm)
{
	return pm ? pm->nr_moves * sizeof(struct rst_move) + 8 : 0;
}

int premap_args(const struct premap *pm, struct rst_args *a, struct rst_alloc *al)
{
	struct rst_range r;
	uint32_t n = 0, k;

	if (!pm)
		return 0;
	if (a->nr_keep >= RST_KEEP_MAX) {
		pr_err("more ranges to keep than the restorer holds");
		return -ENOTSUP;
	}
	a->premap = rst_alloc(al, pm->nr_moves * sizeof(*a->premap), 8);
	for (uint32_t i = 0; i < pm->nr; i++) {
		const struct premap_area *pa = &pm->areas[i];

		for (uint32_t k = 0; k <= pa->nr_cuts; k++) {
			uint64_t s, e;

			piece(pa, k, &s, &e);
			a->premap[n++] = (struct rst_move){ pa->at + (s - pa->start), s, e - s };
		}
	}
	a->nr_premap = n;
	r = (struct rst_range){ pm->base, pm->base + pm->size };
	a->premap_range = r;
	/* Into the sorted ranges the restorer keeps through its unmap. */
	for (k = a->nr_keep; k > 0 && a->keep[k - 1].start > r.start; k--)
		a->keep[k] = a->keep[k - 1];
	a->keep[k] = r;
	a->nr_keep++;
	return 0;
}

void premap_free(struct premap *pm)
{
	if (!pm)
		return;
	for (uint32_t i = 0; i < pm->nr; i++)
		free(pm->areas[i].cuts);
	free(pm->areas);
	free(pm);
}
