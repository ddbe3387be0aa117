/*
 * mem-restore.c - a task's memory at restore: mm-PID.img and its pagemap
 * read in the controller, then, in the task, the plan the restorer blob
 * follows (areas to map, page runs to read, the vdso to move) and where
 * its region can go.
 *
 * The blob does the mapping itself (restorer/restorer.c): by then nothing
 * of stasis is left in the address space to collide with the dumped one.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aio.h"
#include "files/api.h"
#include "log.h"
#include "mem.h"
#include "mem-chain.h"
#include "mem-check.h"
#include "mem-dump.h"
#include "mem-pagemap.h"
#include "mem-restore.h"
#include "mem-rst.h"
#include "ns/ns.h"
#include "parts.h"
#include "mm.pb-c.h"
#include "pagemap.pb-c.h"
#include "rst-ctx.h"
#include "restorer.h"
#include "shmem.h"
#include "vdso.h"


/*
 * In the controller: read mm-PID.img and check the pages image holds every
 * page its pagemap names, so that a short image fails before anything runs.
 * struct mem_rst is in mem-rst.h, shared with mem-premap.c.
 */
static int read_mm(struct rst_ctx *ctx, struct rst_task *t)
{
	int ret;

	ret = img_read_one(ctx->dirfd, IMG_MM, t->pid, &mm_entry__descriptor,
			   (ProtobufCMessage **)&t->mm);
	if (ret == -ENOENT)
		pr_err("the memory image of pid %d (mm-%d.img) is missing", t->pid, t->pid);
	return ret ?: mem_check_vmas(t->pid, t->mm) ?: aio_check_entries(t->pid, t->mm);
}

static VmaEntry *vma_of(MmEntry *mm, uint64_t addr)
{
	for (size_t i = 0; i < mm->n_vmas; i++) {
		if (addr >= mm->vmas[i]->start && addr < mm->vmas[i]->end)
			return mm->vmas[i];
	}
	return NULL;
}

static bool vma_takes_pages(const VmaEntry *v)
{
	/* A ring's pages go to a plain area first, whence the restorer copies them. */
	if (v->status & VMA_AREA_AIORING)
		return true;
	return (v->status & VMA_AREA_REGULAR) &&
	       !(v->status & (VMA_AREA_VDSO | VMA_AREA_VVAR | VMA_AREA_VSYSCALL | VMA_AREA_SOCKET)) &&
	       (v->flags & MAP_TYPE) != MAP_SHARED;
}

bool mem_vma_lazy(const VmaEntry *v)
{
	return (v->status & VMA_AREA_REGULAR) &&
	       !(v->status & (VMA_AREA_VDSO | VMA_AREA_VVAR | VMA_AREA_VSYSCALL |
			      VMA_AREA_AIORING | VMA_AREA_SOCKET | VMA_AREA_SYSVIPC |
			      VMA_AREA_GUARD | VMA_AREA_MEMFD)) &&
	       (v->flags & MAP_ANONYMOUS) && (v->flags & MAP_TYPE) == MAP_PRIVATE &&
	       !(v->flags & (MAP_LOCKED | MAP_HUGETLB));
}

/* Pages in no image (PE_LAZY alone): a page server serves them from the dumped tree. */
#define OFF_ELSEWHERE	UINT64_MAX

/* @level: 0 for this dump's pages image, N for the Nth parent's (fd set at the end). */
static int add_run(struct mem_rst *m, uint64_t addr, uint64_t len, uint64_t off, uint32_t level)
{
	struct rst_run *r = m->runs;

	if (m->nr_runs && r[m->nr_runs - 1].addr + r[m->nr_runs - 1].len == addr &&
	    r[m->nr_runs - 1].off + r[m->nr_runs - 1].len == off &&
	    r[m->nr_runs - 1].fd == (int32_t)level) {
		r[m->nr_runs - 1].len += len;
		return 0;
	}
	r = realloc(m->runs, (m->nr_runs + 1) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	m->runs = r;
	r[m->nr_runs++] = (struct rst_run){ addr, len, off, (int32_t)level, 0 };
	return 0;
}

/*
 * One pagemap entry: its pages at @off in the pages image.  CRIU's entries
 * may run across areas that touch; each part goes to its own area, and
 * pages of areas that take none are stepped over (the vDSO's: vdso.c
 * reads them).
 */
static int add_entry(struct rst_task *t, struct mem_rst *m, uint64_t addr, uint64_t len,
		     uint64_t off, uint32_t level, bool lazy)
{
	uint64_t end = addr + len;

	if (end < addr)
		return -EINVAL;
	while (addr < end) {
		VmaEntry *v = vma_of(t->mm, addr);
		uint64_t part;
		int ret;

		if (!v) {
			pr_err("pagemap-%d.img: pages at %#" PRIx64 " lie outside any area",
			       t->pid, addr);
			return -EINVAL;
		}
		part = (v->end < end ? v->end : end) - addr;
		ret = 0;
		if (off == OFF_ELSEWHERE && !(lazy && mem_vma_lazy(v))) {
			pr_err("pagemap-%d.img: the pages at %#" PRIx64 " stayed with the dumped tree "
			       "(dump --lazy-pages): restore --lazy-pages with a lazy-pages daemon "
			       "fetching them", t->pid, addr);
			return -EINVAL;
		}
		if (lazy && mem_vma_lazy(v))
			m->nr_lazy += part / PAGE_SZ;	/* the lazy-pages daemon's */
		else if (vma_takes_pages(v))
			ret = add_run(m, addr, part, off, level);
		else if (level && (v->status & VMA_AREA_VDSO)) {
			pr_err("pagemap-%d.img: the vDSO's pages are in a parent image", t->pid);
			ret = -EINVAL;
		} else if (v->status & VMA_AREA_VDSO)
			ret = vdso_note_pages(&m->vdso, addr, part, off);
		if (ret)
			return ret;
		addr += part;
		if (off != OFF_ELSEWHERE)
			off += part;
	}
	return 0;
}

struct chain_arg {
	struct rst_ctx *ctx;
	struct rst_task *t;
	struct mem_rst *m;
	bool lazy;
};

/*
 * A parent's pages: with --lazy-pages, those of lazy areas are the
 * daemon's too, which finds them up the same chain (lazy-pages.c).
 */
static int chain_piece(void *arg, uint64_t addr, uint64_t len, uint64_t off, uint32_t level)
{
	struct chain_arg *c = arg;

	return add_entry(c->t, c->m, addr, len, off, level, c->lazy);
}

/* One pagemap entry: its pages here, left to the daemon, or in a parent. */
static int pagemap_piece(void *arg, const PagemapEntry *pe, uint32_t flags, uint64_t off)
{
	struct chain_arg *c = arg;
	uint64_t len = (uint64_t)pe->nr_pages * PAGE_SZ;

	if (flags & PE_PRESENT)
		return add_entry(c->t, c->m, pe->vaddr, len, off, 0, c->lazy && (flags & PE_LAZY));
	if ((flags & PE_LAZY) && !(flags & PE_PARENT))
		return add_entry(c->t, c->m, pe->vaddr, len, OFF_ELSEWHERE, 0, c->lazy);
	if (flags & PE_PARENT)
		return mem_chain_resolve(&c->m->chain, c->ctx->dirfd, c->t->pid, pe->vaddr, len,
					 chain_piece, c);
	return 0;
}

/* Pages of the pagemap: runs to read, checked against the VMAs and the file. */
static int read_pagemap(struct rst_ctx *ctx, struct rst_task *t, struct mem_rst *m)
{
	struct chain_arg c = { ctx, t, m, ctx->opts->lazy_pages };
	uint64_t off = 0;
	struct stat st;
	char name[64];
	int ret;

	ret = pagemap_walk(ctx->dirfd, t->pid, pagemap_piece, &c, &m->pages_id, &off);
	if (ret == -ENOENT)
		pr_err("the pagemap of pid %d (pagemap-%d.img) is missing", t->pid, t->pid);
	if (ret)
		return ret;
	snprintf(name, sizeof(name), "pages-%u.img", m->pages_id);
	m->pages_fd = img_openat(ctx->dirfd, name, O_RDONLY);
	if (m->pages_fd < 0) {
		ret = m->pages_fd;
		m->pages_fd = -1;
		if (!off && ret == -ENOENT)
			return 0;	/* nothing to read */
		if (ret != -EINVAL && ret != -ELOOP)
			pr_err("cannot open %s: %s", name, strerror(-ret));
		return ret;
	}
	if (fstat(m->pages_fd, &st) || (uint64_t)st.st_size < off) {
		pr_err("%s is truncated: %" PRIu64 " bytes, its pagemap names %" PRIu64,
		       name, (uint64_t)st.st_size, off);
		return -EINVAL;
	}
	return 0;
}

int mem_restore_read(struct rst_ctx *ctx, struct rst_task *t)
{
	struct mem_rst *m = calloc(1, sizeof(*m));
	int ret;

	if (!m)
		return -ENOMEM;
	m->pages_fd = -1;
	t->mem_priv = m;
	ret = read_mm(ctx, t);
	if (!ret)
		ret = read_pagemap(ctx, t, m);
	for (uint32_t i = 0; !ret && i < m->nr_runs; i++)
		ctx->pages_restored += m->runs[i].len / PAGE_SZ;
	if (!ret && m->nr_lazy)
		pr_info("pid %d: %" PRIu64 " pages left to the lazy-pages daemon", t->pid, m->nr_lazy);
	return ret;
}

void mem_restore_free(struct rst_task *t)
{
	struct mem_rst *m = t->mem_priv;

	if (!m)
		return;
	if (m->pages_fd >= 0)
		close(m->pages_fd);
	mem_chain_free(m->chain);
	free(m->runs);
	free(m->vmas);
	free(m->aios);
	vdso_restore_free(m->vdso);
	premap_free(m->pm);
	free(m);
	t->mem_priv = NULL;
	if (t->mm)
		img_free_msg(&t->mm->base);
	t->mm = NULL;
}

int mem_run_fd(struct mem_rst *m, int32_t level)
{
	return level ? *mem_chain_fd(m->chain, (uint32_t)level) : m->pages_fd;
}

/* An fd above every fd the task will have, so the restorer can keep it. */
static int high_fd(struct rst_ctx *ctx, int fd)
{
	int nfd, err;

	if (fd < 0)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, ctx->pool_next);
	err = nfd < 0 ? -errno : 0;	/* before close() may change it */
	close(fd);
	if (err)
		return err;
	return nfd;
}

/*
 * How to open the file of @v: as the task had it open (fdflags, from the
 * map_files link), since that decides what mprotect() may grant later: a
 * read-only view of a file opened read-write may become writable.  Images
 * without fdflags get what the protection needs.  mmap() wants read
 * access in every case.
 */
static int mapped_open_flags(const VmaEntry *v)
{
	bool rw = (v->flags & MAP_TYPE) == MAP_SHARED && (v->prot & PROT_WRITE);

	if (v->has_fdflags && (v->fdflags & O_ACCMODE) != O_RDONLY)
		rw = true;
	return rw ? O_RDWR : O_RDONLY;
}

/*
 * A packet socket's ring: mapped from the socket itself, the one the
 * task's fds hold, whose rings were set up when it was opened.
 */
static uint64_t ring_len(const PacketRing *r)
{
	return r ? (uint64_t)r->block_size * r->block_nr : 0;
}

/* The kernel maps a socket's rings whole, from offset 0: the area must be them. */
static int check_socket_map(struct rst_ctx *ctx, struct rst_task *t, const VmaEntry *v)
{
	struct rst_file *f = rst_file_by_id(ctx, v->shmid);
	const PacketSockEntry *pe = f ? f->fe->psk : NULL;

	if (!f || f->fe->type != FD_TYPES__PACKETSK || !pe) {
		pr_err("mm-%d.img: the socket area at %#" PRIx64 " names files.img id %u, "
		       "no packet socket", t->pid, (uint64_t)v->start, (unsigned)v->shmid);
		return -EINVAL;
	}
	if (v->pgoff || v->end - v->start != ring_len(pe->rx_ring) + ring_len(pe->tx_ring)) {
		pr_err("mm-%d.img: the socket area at %#" PRIx64 " is not the rings of packet "
		       "socket id %u", t->pid, (uint64_t)v->start, (unsigned)v->shmid);
		return -EINVAL;
	}
	return 0;
}

static int open_socket_map(struct rst_ctx *ctx, struct rst_task *t, const VmaEntry *v)
{
	int pfd, fd, ret = check_socket_map(ctx, t, v);

	if (ret)
		return ret;
	pfd = files_restore_open(ctx, v->shmid);
	if (pfd < 0)
		return pfd;
	fd = fcntl(pfd, F_DUPFD_CLOEXEC, ctx->pool_next);
	return fd < 0 ? -errno : fd;
}

/* The object behind files.img entry @id, opened for the mapping @v. */
int mem_open_mapped(struct rst_ctx *ctx, struct rst_task *t, const VmaEntry *v)
{
	char path[64];
	int fd, pfd;

	/*
	 * A memfd mapped read-write is mapped from the object memfd_create()
	 * made: a reopen would hold write access, and make execveat() of the
	 * memfd fail (ETXTBSY) where it did not before.
	 */
	if ((v->status & VMA_AREA_MEMFD) && mapped_open_flags(v) == O_RDWR) {
		pfd = memfd_restore_object(ctx, v->shmid);
		if (pfd < 0)
			return pfd;
		fd = fcntl(pfd, F_DUPFD_CLOEXEC, ctx->pool_next);
		return fd < 0 ? -errno : fd;
	}
	pfd = files_restore_open(ctx, v->shmid);
	if (pfd < 0)
		return pfd;
	/* (Through stasis's /proc: the task's mount namespace may have none.) */
	snprintf(path, sizeof(path), "fd/%d", pfd);
	fd = rst_open_self(path, mapped_open_flags(v));
	if (fd < 0) {
		pr_perror("pid %d: cannot open the file mapped at %#" PRIx64 " (files.img id %u)",
			  t->pid, (uint64_t)v->start, (unsigned)v->shmid);
		return -errno;
	}
	return high_fd(ctx, fd);
}

static int unsupported_vma(struct rst_task *t, const VmaEntry *v)
{
	static const struct {
		uint32_t bit;
		const char *what;
	} kinds[] = {
		{ VMA_AREA_SHSTK, "a shadow stack" },
		{ VMA_AREA_UPROBES, "a uprobes area" },
	};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (v->status & kinds[i].bit) {
			pr_err("unsupported: pid %d maps %s at %#" PRIx64, t->pid, kinds[i].what,
			       (uint64_t)v->start);
			return -ENOTSUP;
		}
	}
	if ((v->status & VMA_ANON_SHARED) && !(v->status & (VMA_AREA_MEMFD | VMA_AREA_SYSVIPC))) {
		pr_err("unsupported: pid %d has anonymous shared memory at %#" PRIx64
		       " not dumped as a memfd", t->pid, (uint64_t)v->start);
		return -ENOTSUP;
	}
	return 0;
}

/* A guard region (MADV_GUARD_INSTALL), an entry after the real areas. */
static void plan_guard(struct mem_rst *m, const VmaEntry *v)
{
	m->vmas[m->nr_vmas++] = (struct rst_vma){
		.start = v->start, .end = v->end, .fd = -1, .guard = 1,
	};
}

/*
 * A segment of the host's IPC namespace, which the images do not hold
 * (mem-layout.c): it must still be there, as large as the area needs,
 * for the restore to attach it again.
 */
static int host_sysv_check(const struct rst_task *t, const VmaEntry *v)
{
	struct shmid_ds ds;
	uint64_t need = v->pgoff + (v->end - v->start);

	if (shmctl((int)v->shmid, IPC_STAT, &ds) < 0) {
		pr_perror("pid %d: SysV shared memory %u (at %#" PRIx64 ") is the host's and not in"
			  " the images: it must exist here to be attached again", t->pid,
			  (unsigned)v->shmid, (uint64_t)v->start);
		return -ENOENT;
	}
	if (((uint64_t)ds.shm_segsz + PAGE_SZ - 1) / PAGE_SZ * PAGE_SZ < need) {
		pr_err("pid %d: SysV shared memory %u is %zu bytes here, its area at %#" PRIx64
		       " needs %" PRIu64 ": another segment than the one dumped", t->pid,
		       (unsigned)v->shmid, (size_t)ds.shm_segsz, (uint64_t)v->start, need);
		return -EINVAL;
	}
	return 0;
}

/*
 * SysV shared memory (the segment itself is the IPC namespace's, made
 * with its id before the tree).  As CRIU: the area at offset 0 of the
 * segment attaches all of it, read-only if it was, executable if any part
 * is; the areas after it, the same attachment split by mprotect(), only
 * get their protection.
 */
static int plan_sysv(struct rst_task *t, struct mem_rst *m, const VmaEntry *v, struct rst_vma *r)
{
	struct rst_vma *att = NULL;
	int ret;

	r->fd = v->shmid;
	if (!ns_restore_has(CLONE_NEWIPC)) {
		ret = host_sysv_check(t, v);
		if (ret)
			return ret;
	}
	if (!v->pgoff) {
		r->sysv = RST_SYSV_ATTACH;
		r->shmflg = SHM_REMAP | (mapped_open_flags(v) == O_RDONLY ? SHM_RDONLY : 0);
		att = r;
	} else {
		for (uint32_t i = m->nr_vmas; i-- > 0 && !att;) {
			struct rst_vma *p = &m->vmas[i];

			if (p->sysv == RST_SYSV_ATTACH && p->fd == r->fd &&
			    p->start + v->pgoff == v->start)
				att = p;
		}
		if (!att) {
			pr_err("unsupported: pid %d: SysV shm %u at %#" PRIx64 " is not part of an "
			       "attachment of it from its start", t->pid, (unsigned)v->shmid,
			       (uint64_t)v->start);
			return -ENOTSUP;
		}
		r->sysv = RST_SYSV_PART;
	}
	if (v->prot & PROT_EXEC)
		att->shmflg |= SHM_EXEC;
	return 0;
}

static int plan_vma(struct rst_ctx *ctx, struct rst_task *t, struct mem_rst *m, const VmaEntry *v)
{
	struct rst_vma *r = &m->vmas[m->nr_vmas];
	int ret = unsupported_vma(t, v);

	if (ret)
		return ret;
	r->start = v->start;
	r->end = v->end;
	r->prot = v->prot;
	r->flags = v->flags & (MAP_TYPE | MAP_ANONYMOUS | MAP_GROWSDOWN | MAP_NORESERVE |
			       MAP_LOCKED | MAP_HUGETLB | MAP_HUGE_MASK << MAP_HUGE_SHIFT);
	r->madv = v->has_madv ? v->madv : 0;
	r->fd = -1;
	r->lazy = ctx->opts->lazy_pages && mem_vma_lazy(v);
	/* Mapped and filled before the fork: the restorer moves it in and protects it. */
	if (premap_has(m->pm, v->start)) {
		r->premap = 1;
		r->fill = 1;
		m->nr_vmas++;
		return 0;
	}
	if (v->status & VMA_AREA_SYSVIPC) {
		ret = plan_sysv(t, m, v, r);
		if (ret)
			return ret;
	} else if (v->status & (VMA_FILE_PRIVATE | VMA_FILE_SHARED | VMA_AREA_MEMFD | VMA_AREA_SOCKET)) {
		r->flags &= ~MAP_ANONYMOUS;
		r->pgoff = v->pgoff;
		r->fd = v->status & VMA_AREA_SOCKET ? open_socket_map(ctx, t, v) :
						      mem_open_mapped(ctx, t, v);
		if (r->fd < 0)
			return r->fd;
	} else {
		r->flags |= MAP_ANONYMOUS;
	}
	/* A run may start in the area before (runs merge across areas that touch). */
	for (uint32_t i = 0; i < m->nr_runs; i++) {
		if (m->runs[i].addr < v->end && m->runs[i].addr + m->runs[i].len > v->start) {
			r->fill = 1;
			break;
		}
	}
	m->nr_vmas++;
	return 0;
}

/* Do the runs read every page of [@start, @end)?  They are in address order. */
static bool runs_cover(const struct mem_rst *m, uint64_t start, uint64_t end)
{
	for (uint32_t i = 0; i < m->nr_runs && start < end; i++) {
		const struct rst_run *r = &m->runs[i];

		if (r->addr <= start && start < r->addr + r->len)
			start = r->addr + r->len;
	}
	return start >= end;
}

/*
 * An AIO ring: plain memory at first, filled with the dumped ring, over
 * which the restorer moves the ring of the context it makes again.
 */
static int plan_aio(struct rst_task *t, struct mem_rst *m, const VmaEntry *v)
{
	int ret = aio_restore_plan(t->pid, t->mm, v, &m->aios[m->nr_aios]);

	if (ret)
		return ret;
	if (!runs_cover(m, v->start, v->end)) {
		pr_err("pagemap-%d.img: the pages of the AIO ring at %#" PRIx64 " are missing",
		       t->pid, (uint64_t)v->start);
		return -EINVAL;
	}
	m->nr_aios++;
	m->vmas[m->nr_vmas++] = (struct rst_vma){
		.start = v->start, .end = v->end, .prot = v->prot,
		.flags = MAP_PRIVATE | MAP_ANONYMOUS, .fd = -1, .fill = 1,
		.madv = v->has_madv ? v->madv : 0,
	};
	return 0;
}

/*
 * The runs of premapped areas were read before the fork (mem-premap.c):
 * the restorer reads the others only.  A run may span areas that touch.
 */
static int drop_premapped_runs(struct rst_task *t, struct mem_rst *m)
{
	struct rst_run *runs = m->runs;
	uint32_t nr = m->nr_runs;
	int ret = 0;

	if (!m->pm)
		return 0;
	m->runs = NULL;
	m->nr_runs = 0;
	for (uint32_t i = 0; !ret && i < nr; i++) {
		uint64_t addr = runs[i].addr, end = addr + runs[i].len, off = runs[i].off;

		while (!ret && addr < end) {
			VmaEntry *v = vma_of(t->mm, addr);
			uint64_t part = (v && v->end < end ? v->end : end) - addr;

			if (!v || !premap_has(m->pm, v->start))
				ret = add_run(m, addr, part, off, (uint32_t)runs[i].fd);
			addr += part;
			off += part;
		}
	}
	free(runs);
	return ret;
}

int mem_restore_plan(struct rst_ctx *ctx, struct rst_task *t)
{
	struct mem_rst *m = t->mem_priv;
	int ret;

	ret = drop_premapped_runs(t, m);
	if (ret)
		return ret;
	if (m->pages_fd >= 0) {
		m->pages_fd = high_fd(ctx, m->pages_fd);
		if (m->pages_fd < 0)
			return m->pages_fd;
	}
	for (uint32_t i = 1; i <= mem_chain_levels(m->chain); i++) {
		int *fd = mem_chain_fd(m->chain, i);

		*fd = high_fd(ctx, *fd);
		if (*fd < -1)
			return *fd;
	}
	ret = vdso_restore_plan(t, m->pages_fd, &m->vdso);
	if (ret)
		return ret;
	m->vmas = calloc(t->mm->n_vmas + 1, sizeof(*m->vmas));
	m->aios = calloc(t->mm->n_aios + 1, sizeof(*m->aios));
	if (!m->vmas || !m->aios)
		return -ENOMEM;
	for (size_t i = 0; i < t->mm->n_vmas; i++) {
		VmaEntry *v = t->mm->vmas[i];
		bool proxy = (v->status & VMA_AREA_VDSO) && vdso_restore_proxied(m->vdso);

		if (v->status == VMA_AREA_GUARD) {
			plan_guard(m, v);
			continue;
		}
		if (v->status & VMA_AREA_AIORING) {
			ret = plan_aio(t, m, v);
			if (ret)
				return ret;
			continue;
		}
		if (!(v->status & VMA_AREA_REGULAR) ||
		    ((v->status & (VMA_AREA_VDSO | VMA_AREA_VVAR | VMA_AREA_VSYSCALL)) && !proxy))
			continue;
		ret = plan_vma(ctx, t, m, v);
		if (ret)
			return ret;
		if (proxy)
			m->vmas[m->nr_vmas - 1].fill = 1;	/* the restorer copies it in */
	}
	return 0;
}

size_t mem_restore_size(struct rst_task *t)
{
	struct mem_rst *m = t->mem_priv;

	return m->nr_vmas * sizeof(struct rst_vma) +
	       (m->nr_runs + mem_fill_slices(m)) * sizeof(struct rst_run) +
	       m->nr_aios * sizeof(struct rst_aio) +
	       t->mm->n_mm_saved_auxv * sizeof(uint64_t) + vdso_restore_size(m->vdso) +
	       premap_args_size(m->pm) + 3 * PAGE_SZ;
}

/* Is [@s, @e) clear of every area of the image, of this process and of the vDSO's plan? */
static bool range_free(struct rst_task *t, const struct rst_range *cur, size_t nr_cur,
		       uint64_t s, uint64_t e)
{
	struct mem_rst *m = t->mem_priv;

	if (!vdso_restore_clear(m->vdso, s, e) || premap_overlaps(m->pm, s, e) ||
	    (s < m->avoid.end && m->avoid.start < e))
		return false;
	for (size_t i = 0; i < t->mm->n_vmas; i++) {
		if (s < t->mm->vmas[i]->end && t->mm->vmas[i]->start < e)
			return false;
	}
	for (size_t i = 0; i < nr_cur; i++) {
		if (s < cur[i].end && cur[i].start < e)
			return false;
	}
	return true;
}

/*
 * Where the restorer's region can go: free here and in the image, away
 * from where heaps and stacks grow.  Candidates are the ends of every
 * area, tried from 16 TiB up, then anywhere.
 */
int mem_restore_hole(struct rst_task *t, size_t size, uint64_t *addr)
{
	struct rst_range cur[4096];
	size_t nr_cur = 0;
	FILE *f = rst_fopen_self("maps");
	char line[512];
	uint64_t best = 0;

	if (!f)
		return -errno;
	while (nr_cur < 4096 && fgets(line, sizeof(line), f)) {
		unsigned long long s, e;

		if (sscanf(line, "%llx-%llx", &s, &e) == 2)
			cur[nr_cur++] = (struct rst_range){ s, e };
	}
	fclose(f);
	size = (size + PAGE_SZ - 1) & ~(PAGE_SZ - 1);
	/* The same gap of 1 GiB on both sides of it keeps stacks and heaps growing. */
	for (uint64_t a = 0x100000000000ull; a < 0x7f0000000000ull; a += 0x10000000000ull) {
		if (range_free(t, cur, nr_cur, a - (1ull << 30), a + size + (1ull << 30))) {
			best = a;
			break;
		}
	}
	for (size_t i = 0; !best && i < t->mm->n_vmas; i++) {
		uint64_t a = t->mm->vmas[i]->end + (1ull << 20);

		if (a + size < 0x7ffffffff000ull && range_free(t, cur, nr_cur, a, a + size))
			best = a;
	}
	if (!best) {
		pr_err("pid %d: no room for the restorer (%zu bytes) between the areas", t->pid, size);
		return -ENOMEM;
	}
	*addr = best;
	return 0;
}

int mem_restore_args(struct rst_task *t, struct rst_args *a, struct rst_alloc *al,
		     const struct rst_range *region)
{
	struct mem_rst *m = t->mem_priv;
	MmEntry *mm = t->mm;
	uint64_t *auxv;
	int ret;

	a->vmas = rst_alloc(al, m->nr_vmas * sizeof(*a->vmas), 8);
	memcpy(a->vmas, m->vmas, m->nr_vmas * sizeof(*a->vmas));
	a->nr_vmas = m->nr_vmas;
	/* Room for more: mem_fill_args() may cut some in two. */
	a->runs = rst_alloc(al, (m->nr_runs + mem_fill_slices(m)) * sizeof(*a->runs), 8);
	memcpy(a->runs, m->runs, m->nr_runs * sizeof(*a->runs));
	a->nr_runs = m->nr_runs;
	/* Each run reads from its own dump's pages image. */
	for (uint32_t i = 0; i < m->nr_runs; i++)
		a->runs[i].fd = mem_run_fd(m, a->runs[i].fd);
	a->pages_fd = m->pages_fd;
	a->aios = rst_alloc(al, m->nr_aios * sizeof(*a->aios), 8);
	memcpy(a->aios, m->aios, m->nr_aios * sizeof(*a->aios));
	a->nr_aios = m->nr_aios;

	ret = vdso_restore_args(m->vdso, a, al, region) ?: premap_args(m->pm, a, al);
	if (ret)
		return ret;

	a->mm.start_code = mm->mm_start_code;
	a->mm.end_code = mm->mm_end_code;
	a->mm.start_data = mm->mm_start_data;
	a->mm.end_data = mm->mm_end_data;
	a->mm.start_stack = mm->mm_start_stack;
	a->mm.start_brk = mm->mm_start_brk;
	a->mm.brk = mm->mm_brk;
	a->mm.arg_start = mm->mm_arg_start;
	a->mm.arg_end = mm->mm_arg_end;
	a->mm.env_start = mm->mm_env_start;
	a->mm.env_end = mm->mm_env_end;
	auxv = rst_alloc(al, mm->n_mm_saved_auxv * sizeof(uint64_t) + 8, 8);
	memcpy(auxv, mm->mm_saved_auxv, mm->n_mm_saved_auxv * sizeof(uint64_t));
	a->mm.auxv = (uintptr_t)auxv;
	a->mm.auxv_size = mm->n_mm_saved_auxv * sizeof(uint64_t);
	a->mm.exe_fd = -1;
	/* 2 (suid_dumpable's "root only") cannot be set by prctl: the kernel's own rule. */
	a->mm.dumpable = mm->has_dumpable && mm->dumpable <= 1 ? (int32_t)mm->dumpable : -1;
	return 0;
}

int mem_restore_open_files(struct rst_ctx *ctx, struct rst_task *t)
{
	int fd = files_restore_open(ctx, t->mm->exe_file_id);

	for (size_t i = 0; fd >= 0 && i < t->mm->n_vmas; i++) {
		VmaEntry *v = t->mm->vmas[i];

		if ((v->status & VMA_AREA_REGULAR) &&
		    (v->status & (VMA_FILE_PRIVATE | VMA_FILE_SHARED | VMA_AREA_MEMFD |
				  VMA_AREA_SOCKET)))
			fd = files_restore_open(ctx, v->shmid);
	}
	return fd < 0 ? fd : 0;
}

/* The exe link's file for PR_SET_MM_MAP. */
int mem_restore_exe(struct rst_ctx *ctx, struct rst_task *t, struct rst_args *a)
{
	int fd;

	fd = files_restore_open(ctx, t->mm->exe_file_id);
	if (fd < 0)
		return fd;
	a->mm.exe_fd = fd;
	return 0;
}

/* A zombie has no memory images. */
static int mem_part_read(struct rst_ctx *ctx, struct rst_task *t)
{
	return t->zombie ? 0 : mem_restore_read(ctx, t);
}

/*
 * What tasks map is opened before the fork, so that a memfd or a file
 * two tasks map shared is one object for both.
 */
static int mem_part_prepare(struct rst_ctx *ctx)
{
	int ret = 0;

	vdso_restore_prepare();
	for (size_t i = 0; !ret && i < ctx->nr_tasks; i++) {
		if (!ctx->tasks[i].zombie)
			ret = mem_restore_open_files(ctx, &ctx->tasks[i]);
	}
	return ret;
}

static size_t mem_part_args_size(struct rst_ctx *ctx, struct rst_task *t)
{
	(void)ctx;
	return mem_restore_size(t) + mem_fill_size(t->mem_priv);
}

static int mem_part_args(struct rst_ctx *ctx, struct rst_task *t, struct rst_args *a,
			 struct rst_alloc *al, const struct rst_range *region)
{
	return mem_restore_args(t, a, al, region) ?: mem_fill_args(ctx, t, a, al) ?:
	       mem_restore_exe(ctx, t, a);
}

const struct task_part_ops mem_part = {
	.name = "mem",
	.fail = "restore its memory",
	.dump_task = mem_dump_task,
	.dump_cleanup = mem_dump_cleanup,
	.read_task = mem_part_read,
	.prepare = mem_part_prepare,
	.before_fork = mem_premap,
	.task = mem_restore_plan,
	.args_size = mem_part_args_size,
	.args = mem_part_args,
	.free_task = mem_restore_free,
};
