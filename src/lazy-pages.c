/*
 * lazy-pages.c - `stasis lazy-pages -D DIR [-W DIR] [-d] [--status-fd FD]`:
 * the daemon that fills the memory of a tree restored with --lazy-pages.
 *
 * It takes each task's userfaultfd from the restore (lazy.h has the
 * protocol, CRIU's), answers faults from the pages images (UFFDIO_COPY;
 * UFFDIO_ZEROPAGE where the images have no page), and once the restore
 * says it is finished pushes the pages nobody asked for yet.  It follows
 * what the tasks do meanwhile: fork (the child gets its own userfaultfd
 * and the parent's missing pages), mremap, munmap and MADV_DONTNEED of
 * lazy areas.  It exits once every lazy page of every task is in place
 * (or its task is gone): closing the userfaultfds then gives the areas
 * back to the kernel.
 *
 * What it serves is what the restore left out: the pages of areas
 * mem_vma_lazy() accepts that are PE_LAZY in this dump's pages image, or
 * that a parent dump holds (PE_PARENT, found up the chain of `parent`
 * links as the restore would: a migration's pre-dumps are all on the
 * destination already, so the final restore need not read them first).
 * With --page-server --address A --port P the bytes of this dump's lazy
 * pages come from a page server instead (CRIU's PS_IOV_GET: `page-server --lazy-pages` on the
 * images), one request at a time; closing the connection ends it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/userfaultfd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "image.h"
#include "lazy.h"
#include "log.h"
#include "mem.h"
#include "mem-chain.h"
#include "mem-restore.h"
#include "mm.pb-c.h"
#include "page-server.h"
#include "page-xfer.h"
#include "pagemap.pb-c.h"
#include "ps-proto.h"
#include "pstree.pb-c.h"
#include "tls.h"

#define PAGE_SZ		4096UL
#define FAULT_AHEAD	(16 * PAGE_SZ)	/* what a fault brings in: it and what follows */
#define PUSH_MIN	(64UL << 10)	/* a push after a fault: small, faults go first */
#define PUSH_MAX	(4UL << 20)

/*
 * Pages still missing in a task: [start, end), at @off in the pages image
 * of level @lv (0: this dump's, N: its Nth parent's) and at @img in the
 * dumped address space (a page server's key: mremap moves start, never img).
 */
struct lp_iov {
	uint64_t start, end, off, img;
	uint32_t lv;
};

/* A pages image, mapped (NULL when nothing is read from it). */
struct lp_map {
	const uint8_t *map;
	size_t len;
};

/* One task's pages images, this dump's and its parents'; shared with the children it forks. */
struct lp_src {
	int refs;
	uint32_t nr;			/* levels in lv[] */
	struct lp_map *lv;
};

struct lp_task {
	pid_t pid;			/* a forked child has its parent's */
	int uffd;
	struct lp_iov *iov;		/* sorted, apart */
	size_t nr, cap;
	struct lp_src *src;
	uint64_t faults, pushed, zeros;	/* pages in, by what brought them */
	bool gone;
	struct lp_task *next;
};

struct lp_daemon {
	int dirfd, ep, ctl;		/* ctl: the restore's connection, -1 once done */
	bool finished;			/* the restore said so */
	struct lp_task *tasks;
	uint64_t push_len;
	uint64_t t0;			/* the first task announced */
	int ps;				/* --page-server: the remote pages' socket; -1 */
	uint8_t *buf;			/* what came from it */
};

/* --- the missing pages of a task --- */

static int iov_add(struct lp_task *t, uint64_t start, uint64_t end, uint64_t off, uint64_t img,
		   uint32_t lv)
{
	if (t->nr == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct lp_iov *n = realloc(t->iov, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		t->iov = n;
		t->cap = cap;
	}
	t->iov[t->nr++] = (struct lp_iov){ start, end, off, img, lv };
	return 0;
}

static int iov_cmp(const void *a, const void *b)
{
	const struct lp_iov *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* The iov holding @addr, or NULL. */
static struct lp_iov *iov_find(struct lp_task *t, uint64_t addr)
{
	size_t lo = 0, hi = t->nr;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (addr < t->iov[mid].start)
			hi = mid;
		else if (addr >= t->iov[mid].end)
			lo = mid + 1;
		else
			return &t->iov[mid];
	}
	return NULL;
}

/* [@start, @end) is no longer missing (in place, or gone). */
static int iov_drop(struct lp_task *t, uint64_t start, uint64_t end)
{
	size_t n = t->nr;
	int ret = 0;

	for (size_t i = 0; i < n && !ret; i++) {
		struct lp_iov *v = &t->iov[i];

		if (v->end <= start || v->start >= end)
			continue;
		if (v->start < start && v->end > end) {
			/* The middle goes: the tail becomes an iov of its own. */
			uint64_t d = end - t->iov[i].start;

			ret = iov_add(t, end, t->iov[i].end, t->iov[i].off + d, t->iov[i].img + d,
				      t->iov[i].lv);
			t->iov[i].end = start;
		} else if (v->start < start) {
			v->end = start;
		} else if (v->end > end) {
			v->off += end - v->start;
			v->img += end - v->start;
			v->start = end;
		} else {
			v->start = v->end;	/* empty: swept below */
		}
	}
	n = 0;
	for (size_t i = 0; i < t->nr; i++) {
		if (t->iov[i].start < t->iov[i].end)
			t->iov[n++] = t->iov[i];
	}
	t->nr = n;
	qsort(t->iov, t->nr, sizeof(*t->iov), iov_cmp);
	return ret;
}

/* mremap moved [@from, @from + @len) to @to, missing pages with it. */
static int iov_move(struct lp_task *t, uint64_t from, uint64_t to, uint64_t len)
{
	struct lp_iov *moved = NULL;
	size_t nr = 0;
	int ret;

	for (size_t i = 0; i < t->nr; i++) {
		struct lp_iov v = t->iov[i];
		uint64_t s = v.start > from ? v.start : from;
		uint64_t e = v.end < from + len ? v.end : from + len;
		struct lp_iov *n;

		if (s >= e)
			continue;
		n = realloc(moved, (nr + 1) * sizeof(*n));
		if (!n) {
			free(moved);
			return -ENOMEM;
		}
		moved = n;
		moved[nr++] = (struct lp_iov){ s - from + to, e - from + to, v.off + (s - v.start),
					       v.img + (s - v.start), v.lv };
	}
	ret = iov_drop(t, from, from + len) ?: iov_drop(t, to, to + len);
	for (size_t i = 0; !ret && i < nr; i++)
		ret = iov_add(t, moved[i].start, moved[i].end, moved[i].off, moved[i].img,
			      moved[i].lv);
	qsort(t->iov, t->nr, sizeof(*t->iov), iov_cmp);
	free(moved);
	return ret;
}

/* --- reading a task's images --- */

static VmaEntry *vma_at(MmEntry *mm, uint64_t addr)
{
	for (size_t i = 0; i < mm->n_vmas; i++) {
		if (addr >= mm->vmas[i]->start && addr < mm->vmas[i]->end)
			return mm->vmas[i];
	}
	return NULL;
}

/* Pages at @off of level @lv's pages image: their parts in lazy areas are ours to serve. */
static int add_entry(struct lp_task *t, MmEntry *mm, uint64_t addr, uint64_t len, uint64_t off,
		     uint32_t lv)
{
	uint64_t end = addr + len;

	while (addr < end) {
		VmaEntry *v = vma_at(mm, addr);
		uint64_t part;
		int ret;

		if (!v) {
			pr_err("pagemap-%d.img: pages at %#" PRIx64 " lie outside any area", t->pid, addr);
			return -EINVAL;
		}
		part = (v->end < end ? v->end : end) - addr;
		if (mem_vma_lazy(v)) {
			ret = iov_add(t, addr, addr + part, off, addr, lv);
			if (ret)
				return ret;
		}
		addr += part;
		off += part;
	}
	return 0;
}

/* Map the pages image @fd as level @lv, if it has to be read (@need bytes at least). */
static int map_level(struct lp_src *src, uint32_t lv, int fd, const char *name, uint64_t need)
{
	struct stat st;
	void *map;

	if (!need)
		return 0;
	if (fstat(fd, &st) || (uint64_t)st.st_size < need) {
		pr_err("lazy-pages: %s is shorter than its pagemap says", name);
		return -EINVAL;
	}
	map = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		pr_perror("lazy-pages: cannot map %s", name);
		return -ENOMEM;
	}
	src->lv[lv] = (struct lp_map){ map, st.st_size };
	return 0;
}

/* This dump's pages image (unless the bytes come from a page server) and the parents' in use. */
static int map_pages(struct lp_daemon *d, struct lp_task *t, uint32_t pages_id, uint64_t need,
		     struct mem_chain *ch)
{
	uint32_t levels = mem_chain_levels(ch);
	uint64_t *ends;
	char name[64];
	int fd, ret = 0;

	t->src = calloc(1, sizeof(*t->src));
	if (!t->src)
		return -ENOMEM;
	t->src->refs = 1;
	t->src->nr = levels + 1;
	t->src->lv = calloc(levels + 1, sizeof(*t->src->lv));
	ends = calloc(levels + 1, sizeof(*ends));
	if (!t->src->lv || !ends) {
		free(ends);
		return -ENOMEM;
	}
	/* What each parent level must hold: the end of the last piece read from it. */
	for (size_t i = 0; i < t->nr; i++) {
		struct lp_iov *v = &t->iov[i];

		if (v->lv && v->off + (v->end - v->start) > ends[v->lv])
			ends[v->lv] = v->off + (v->end - v->start);
	}
	snprintf(name, sizeof(name), "pages-%u.img", pages_id);
	if (need) {
		fd = img_openat(d->dirfd, name, O_RDONLY);
		if (fd < 0) {
			pr_err("lazy-pages: cannot open %s: %s", name, strerror(-fd));
			free(ends);
			return fd;
		}
		ret = map_level(t->src, 0, fd, name, need);
		close(fd);
	}
	for (uint32_t i = 1; !ret && i <= levels; i++) {
		snprintf(name, sizeof(name), "the pages image of parent level %u", i);
		ret = map_level(t->src, i, *mem_chain_fd(ch, i), name, ends[i]);
	}
	free(ends);
	return ret;
}

struct chain_arg {
	struct lp_task *t;
	MmEntry *mm;
};

static int chain_piece(void *arg, uint64_t addr, uint64_t len, uint64_t off, uint32_t level)
{
	struct chain_arg *c = arg;

	return add_entry(c->t, c->mm, addr, len, off, level);
}

static int read_pagemap(struct lp_daemon *d, struct lp_task *t, MmEntry *mm)
{
	struct chain_arg c = { t, mm };
	struct mem_chain *ch = NULL;
	PagemapHead *head = NULL;
	PagemapEntry *pe;
	uint64_t off = 0;
	struct img *img;
	uint32_t pages_id;
	int ret;

	ret = img_open(&img, d->dirfd, IMG_PAGEMAP, t->pid, O_RDONLY);
	if (ret)
		return ret;
	ret = img_read_msg(img, &pagemap_head__descriptor, (ProtobufCMessage **)&head);
	if (ret <= 0) {
		img_close(img);
		return ret ?: -EINVAL;
	}
	pages_id = head->pages_id;
	img_free_msg(&head->base);
	while ((ret = img_read_msg(img, &pagemap_entry__descriptor, (ProtobufCMessage **)&pe)) > 0) {
		uint64_t len = (uint64_t)pe->nr_pages * PAGE_SZ;
		uint32_t flags = pe->has_flags ? pe->flags : PE_PRESENT;

		ret = 0;
		if ((flags & PE_LAZY) && !(flags & (PE_PRESENT | PE_PARENT)) && d->ps < 0) {
			pr_err("lazy-pages: pid %d's pages stayed with the dumped tree "
			       "(dump --lazy-pages): fetch them with --page-server", t->pid);
			ret = -EINVAL;
		} else if (flags & PE_PARENT) {
			/* The restore leaves these to us too (mem-restore.c): from the chain, here. */
			ret = mem_chain_resolve(&ch, d->dirfd, t->pid, pe->vaddr, len, chain_piece, &c);
		} else if ((flags & PE_LAZY) && ((flags & PE_PRESENT) || d->ps >= 0)) {
			ret = add_entry(t, mm, pe->vaddr, len, off, 0);
		}
		if (flags & PE_PRESENT)
			off += len;
		img_free_msg(&pe->base);
		if (ret)
			break;
	}
	img_close(img);
	/* Remote: the bytes of this dump's lazy pages come from the page server. */
	if (ret >= 0)
		ret = map_pages(d, t, pages_id, d->ps < 0 ? off : 0, ch);
	mem_chain_free(ch);
	return ret;
}

static int read_task(struct lp_daemon *d, struct lp_task *t)
{
	MmEntry *mm = NULL;
	int ret;

	ret = img_read_one(d->dirfd, IMG_MM, t->pid, &mm_entry__descriptor, (ProtobufCMessage **)&mm);
	if (ret) {
		pr_err("lazy-pages: cannot read mm-%d.img", t->pid);
		return ret;
	}
	ret = read_pagemap(d, t, mm);
	img_free_msg(&mm->base);
	if (ret)
		return ret;
	qsort(t->iov, t->nr, sizeof(*t->iov), iov_cmp);
	pr_info("lazy-pages: pid %d: uffd %d, %zu ranges to fill", t->pid, t->uffd, t->nr);
	return 0;
}

/* --- filling --- */

static uint64_t missing(const struct lp_task *t)
{
	uint64_t n = 0;

	for (size_t i = 0; i < t->nr; i++)
		n += t->iov[i].end - t->iov[i].start;
	return n / PAGE_SZ;
}

static void task_gone(struct lp_daemon *d, struct lp_task *t)
{
	if (t->gone)
		return;
	pr_info("lazy-pages: pid %d (uffd %d) is gone, %" PRIu64 " pages never needed",
		t->pid, t->uffd, missing(t));
	epoll_ctl(d->ep, EPOLL_CTL_DEL, t->uffd, NULL);
	t->gone = true;
	t->nr = 0;
}

/*
 * Copy [@addr, @addr + @len) of @v in.  The kernel refuses with EAGAIN
 * while the mm changes (a fork, mremap or munmap whose event is still to
 * be read): what was not copied stays missing, and is tried again.
 */
/*
 * --page-server: the pages at @img of the dumped task, up to *@len bytes;
 * the server may send fewer (*@len says how many).
 */
static const void *fetch(struct lp_daemon *d, struct lp_task *t, uint64_t img, uint64_t *len)
{
	struct ps_iov pi = {
		.cmd = PS_IOV_GET, .nr_pages = *len / PAGE_SZ, .vaddr = img, .dst_id = t->pid,
	};
	uint64_t asked = pi.nr_pages;

	if (ps_sk_send(d->ps, &pi, sizeof(pi)) || ps_sk_recv_full(d->ps, &pi, sizeof(pi))) {
		pr_err("lazy-pages: the page server went away");
		return NULL;
	}
	if (!pi.nr_pages || pi.nr_pages > asked || pi.vaddr != img) {
		pr_err("lazy-pages: the page server has no page of pid %d at %#" PRIx64,
		       t->pid, img);
		return NULL;
	}
	*len = pi.nr_pages * PAGE_SZ;
	if (ps_sk_recv_full(d->ps, d->buf, *len)) {
		pr_err("lazy-pages: the page server sent less than it said");
		return NULL;
	}
	return d->buf;
}

/* Where the bytes of [@addr, +*@len) of @v are: the pages image, or the page server. */
static const void *source(struct lp_daemon *d, struct lp_task *t, struct lp_iov *v,
			  uint64_t addr, uint64_t *len)
{
	uint64_t off = v->off + (addr - v->start);
	const struct lp_map *m;

	if (d->ps >= 0 && !v->lv)
		return fetch(d, t, v->img + (addr - v->start), len);
	m = v->lv < t->src->nr ? &t->src->lv[v->lv] : NULL;
	if (!m || !m->map || off + *len > m->len) {
		pr_err("lazy-pages: pid %d: pages at %#" PRIx64 " beyond its pages image (level %u)",
		       t->pid, addr, v->lv);
		return NULL;
	}
	return m->map + off;
}

static int copy_in(struct lp_daemon *d, struct lp_task *t, struct lp_iov *v, uint64_t addr,
		   uint64_t len, uint64_t *count)
{
	const void *src = source(d, t, v, addr, &len);
	struct uffdio_copy c = { .dst = addr, .len = len, .src = (uintptr_t)src };
	uint64_t done;

	if (!src)
		return -EIO;
	if (!ioctl(t->uffd, UFFDIO_COPY, &c)) {
		done = len;
	} else if (errno == ESRCH || errno == ENOSPC) {
		task_gone(d, t);
		return 0;
	} else if (errno == EAGAIN || errno == EEXIST) {
		done = c.copy > 0 ? (uint64_t)c.copy : 0;
		/* EEXIST: the page after what was copied is there already. */
		if (errno == EEXIST)
			done += PAGE_SZ;
	} else {
		pr_perror("lazy-pages: pid %d: UFFDIO_COPY at %#" PRIx64, t->pid, addr);
		return -errno;
	}
	*count += done / PAGE_SZ;
	return iov_drop(t, addr, addr + (done < len ? done : len));
}

static int zero_in(struct lp_daemon *d, struct lp_task *t, uint64_t addr)
{
	struct uffdio_zeropage z = { .range = { addr, PAGE_SZ } };

	if (!ioctl(t->uffd, UFFDIO_ZEROPAGE, &z)) {
		t->zeros++;
		return 0;
	}
	if (errno == ESRCH || errno == ENOSPC) {
		task_gone(d, t);
		return 0;
	}
	if (errno == EEXIST)
		return 0;
	if (errno == EAGAIN) {
		struct uffdio_range r = { addr, PAGE_SZ };

		/* The thread faults again once the mm is settled. */
		ioctl(t->uffd, UFFDIO_WAKE, &r);
		return 0;
	}
	pr_perror("lazy-pages: pid %d: UFFDIO_ZEROPAGE at %#" PRIx64, t->pid, addr);
	return -errno;
}

static int on_fault(struct lp_daemon *d, struct lp_task *t, uint64_t addr)
{
	struct lp_iov *v;
	uint64_t len, before = t->faults;
	int ret;

	addr &= ~(PAGE_SZ - 1);
	d->push_len = PUSH_MIN;
	v = iov_find(t, addr);
	if (!v)
		return zero_in(d, t, addr);
	len = v->end - addr < FAULT_AHEAD ? v->end - addr : FAULT_AHEAD;
	ret = copy_in(d, t, v, addr, len, &t->faults);
	if (!ret && !t->gone && t->faults == before) {
		struct uffdio_range r = { addr, PAGE_SZ };

		ioctl(t->uffd, UFFDIO_WAKE, &r);
	}
	return ret;
}

static int add_task(struct lp_daemon *d, pid_t pid, int uffd, struct lp_task **out)
{
	struct lp_task *t = calloc(1, sizeof(*t));
	struct epoll_event ev = { .events = EPOLLIN };

	if (!t)
		return -ENOMEM;
	t->pid = pid;
	t->uffd = uffd;
	t->next = d->tasks;
	d->tasks = t;
	fcntl(uffd, F_SETFL, fcntl(uffd, F_GETFL) | O_NONBLOCK);
	ev.data.ptr = t;
	if (epoll_ctl(d->ep, EPOLL_CTL_ADD, uffd, &ev)) {
		pr_perror("lazy-pages: epoll");
		return -errno;
	}
	*out = t;
	return 0;
}

/* A fork: the child misses what the parent missed, in its own userfaultfd. */
static int on_fork(struct lp_daemon *d, struct lp_task *t, int uffd)
{
	struct lp_task *c;
	int ret = add_task(d, t->pid, uffd, &c);

	if (ret)
		return ret;
	c->src = t->src;
	c->src->refs++;
	for (size_t i = 0; !ret && i < t->nr; i++)
		ret = iov_add(c, t->iov[i].start, t->iov[i].end, t->iov[i].off, t->iov[i].img,
			      t->iov[i].lv);
	pr_info("lazy-pages: pid %d forked: a child with uffd %d, %" PRIu64 " pages missing",
		t->pid, uffd, missing(c));
	return ret;
}

static int on_event(struct lp_daemon *d, struct lp_task *t, const struct uffd_msg *m)
{
	switch (m->event) {
	case UFFD_EVENT_PAGEFAULT:
		return on_fault(d, t, m->arg.pagefault.address);
	case UFFD_EVENT_FORK:
		return on_fork(d, t, m->arg.fork.ufd);
	case UFFD_EVENT_REMAP:
		return iov_move(t, m->arg.remap.from, m->arg.remap.to, m->arg.remap.len);
	case UFFD_EVENT_REMOVE:
	case UFFD_EVENT_UNMAP:
		/* A page touched there from now on is a new, zero one. */
		return iov_drop(t, m->arg.remove.start, m->arg.remove.end);
	default:
		pr_err("lazy-pages: pid %d: unexpected userfaultfd event %u", t->pid, m->event);
		return -EINVAL;
	}
}

static int drain(struct lp_daemon *d, struct lp_task *t)
{
	struct uffd_msg msgs[16];

	while (!t->gone) {
		ssize_t n = read(t->uffd, msgs, sizeof(msgs));
		int ret = 0;

		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0) {
			pr_perror("lazy-pages: pid %d: reading its userfaultfd", t->pid);
			return -errno;
		}
		if (n == 0) {
			task_gone(d, t);
			return 0;
		}
		for (size_t i = 0; !ret && i < n / sizeof(msgs[0]); i++)
			ret = on_event(d, t, &msgs[i]);
		if (ret)
			return ret;
	}
	return 0;
}

/* One push, the next missing range of the first task with any. */
static int push(struct lp_daemon *d)
{
	for (struct lp_task *t = d->tasks; t; t = t->next) {
		struct lp_iov *v;
		uint64_t len;

		if (t->gone || !t->nr)
			continue;
		v = &t->iov[0];
		len = v->end - v->start < d->push_len ? v->end - v->start : d->push_len;
		if (d->push_len < PUSH_MAX)
			d->push_len *= 2;
		return copy_in(d, t, v, v->start, len, &t->pushed);
	}
	return 0;
}

static bool all_in(struct lp_daemon *d)
{
	for (struct lp_task *t = d->tasks; t; t = t->next) {
		if (!t->gone && t->nr)
			return false;
	}
	return true;
}

/* --- the restore's connection --- */

static int recv_fd(int sk)
{
	char byte, buf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &byte, 1 };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = buf, .msg_controllen = sizeof(buf),
	};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sk, &mh, MSG_CMSG_CLOEXEC) != 1)
		return -EPIPE;
	c = CMSG_FIRSTHDR(&mh);
	if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)))
		return -EPROTO;
	memcpy(&fd, CMSG_DATA(c), sizeof(fd));
	return fd;
}

/* Every task of pstree.img is announced: its pid and userfaultfd, or a zombie. */
static int take_tasks(struct lp_daemon *d, size_t nr_tasks)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	for (size_t i = 0; i < nr_tasks; i++) {
		struct lp_task *t;
		int32_t pid;
		int fd, ret;

		if (recv(d->ctl, &pid, sizeof(pid), MSG_WAITALL) != sizeof(pid)) {
			pr_err("lazy-pages: the restore closed the connection before announcing "
			       "every task (%zu of %zu)", i, nr_tasks);
			return -EPIPE;
		}
		if (!d->t0)
			d->t0 = now_us();
		if (pid < 0) {
			pr_debug("lazy-pages: zombie %d", -pid);
			continue;
		}
		fd = recv_fd(d->ctl);
		if (fd < 0) {
			pr_err("lazy-pages: no userfaultfd came with pid %d", pid);
			return fd;
		}
		ret = add_task(d, pid, fd, &t) ?: read_task(d, t);
		if (ret)
			return ret;
	}
	if (epoll_ctl(d->ep, EPOLL_CTL_ADD, d->ctl, &ev)) {
		pr_perror("lazy-pages: epoll");
		return -errno;
	}
	return 0;
}

static int on_ctl(struct lp_daemon *d)
{
	uint32_t fin;
	ssize_t n = recv(d->ctl, &fin, sizeof(fin), MSG_WAITALL);

	if (n == 0 && d->finished) {
		epoll_ctl(d->ep, EPOLL_CTL_DEL, d->ctl, NULL);
		close(d->ctl);
		d->ctl = -1;
		return 0;
	}
	if (n != sizeof(fin) || fin != LAZY_RESTORE_FINISHED) {
		pr_err("lazy-pages: the restore went away before it finished: it failed");
		return -EPIPE;
	}
	d->finished = true;
	d->push_len = PUSH_MIN;
	pr_info("lazy-pages: the restore is finished after %" PRIu64 " us: pushing the rest",
		now_us() - d->t0);
	return 0;
}

static int serve(struct lp_daemon *d)
{
	struct epoll_event evs[32];
	int ret = 0;

	while (!ret && !(d->finished && all_in(d))) {
		int n = epoll_wait(d->ep, evs, 32, d->finished ? 0 : -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			pr_perror("lazy-pages: epoll_wait");
			return -errno;
		}
		for (int i = 0; !ret && i < n; i++)
			ret = evs[i].data.ptr ? drain(d, evs[i].data.ptr) : on_ctl(d);
		if (!ret && d->finished)
			ret = push(d);
	}
	return ret;
}

static void summary(struct lp_daemon *d)
{
	uint64_t faults = 0, pushed = 0, zeros = 0;

	while (d->tasks) {
		struct lp_task *t = d->tasks;

		pr_info("lazy-pages: pid %d: %" PRIu64 " pages on faults, %" PRIu64 " pushed, %"
			PRIu64 " zero pages%s", t->pid, t->faults, t->pushed, t->zeros,
			t->gone ? " (gone)" : "");
		faults += t->faults;
		pushed += t->pushed;
		zeros += t->zeros;
		d->tasks = t->next;
		close(t->uffd);
		if (t->src && !--t->src->refs) {
			for (uint32_t i = 0; t->src->lv && i < t->src->nr; i++) {
				if (t->src->lv[i].map)
					munmap((void *)t->src->lv[i].map, t->src->lv[i].len);
			}
			free(t->src->lv);
			free(t->src);
		}
		free(t->iov);
		free(t);
	}
	pr_msg("lazy-pages: done in %" PRIu64 " us: %" PRIu64 " pages on faults, %" PRIu64
	       " pushed, %" PRIu64 " zero pages", d->t0 ? now_us() - d->t0 : 0, faults, pushed,
	       zeros);
}

static int count_tasks(int dirfd, size_t *nr)
{
	PstreeEntry *e;
	struct img *img;
	int ret = img_open(&img, dirfd, IMG_PSTREE, 0, O_RDONLY);

	if (ret) {
		pr_err("lazy-pages: no pstree.img in the images directory");
		return ret;
	}
	*nr = 0;
	while ((ret = img_read_msg(img, &pstree_entry__descriptor, (ProtobufCMessage **)&e)) > 0) {
		(*nr)++;
		img_free_msg(&e->base);
	}
	img_close(img);
	return ret;
}

static int listen_here(const struct opts *o, struct sockaddr_un *sun)
{
	const char *dir = o->work_dir ? o->work_dir : o->images_dir;
	int dirfd, sk, ret = lazy_sock_addr(dir, sun, &dirfd);

	if (ret)
		return ret;
	sk = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unlink(sun->sun_path);
	if (sk < 0 || bind(sk, (struct sockaddr *)sun, sizeof(*sun)) || listen(sk, 1)) {
		pr_perror("lazy-pages: cannot listen on %s/%s", dir, LAZY_SOCK_NAME);
		ret = -errno;
		if (sk >= 0)
			close(sk);
	}
	if (dirfd >= 0)
		close(dirfd);
	return ret ?: sk;
}

int cr_lazy_pages(const struct opts *o)
{
	struct lp_daemon d = { .ctl = -1, .ep = -1, .ps = -1 };
	struct sockaddr_un sun;
	size_t nr_tasks = 0;
	int lsk, ret;

	if (o->page_server) {
		int off = 0, on = 1;

		d.ps = page_xfer_connect(o, false);
		if (d.ps < 0)
			return d.ps;
		/* Requests and answers, one at a time: nothing waits in a buffer. */
		setsockopt(d.ps, IPPROTO_TCP, TCP_CORK, &off, sizeof(off));
		setsockopt(d.ps, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
		d.buf = malloc(PUSH_MAX);
		if (!d.buf) {
			ps_sk_close(d.ps, false);
			return -ENOMEM;
		}
	}
	d.dirfd = open(o->images_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d.dirfd < 0) {
		pr_perror("lazy-pages: cannot open the images directory %s", o->images_dir);
		ret = -errno;
		if (d.ps >= 0)
			ps_sk_close(d.ps, false);
		free(d.buf);
		return ret;
	}
	lsk = listen_here(o, &sun);
	if (lsk < 0) {
		close(d.dirfd);
		if (d.ps >= 0)
			ps_sk_close(d.ps, false);
		free(d.buf);
		return lsk;
	}
	ret = o->restore_detached ? server_daemonize(o) : 0;
	if (ret == 1) {
		close(lsk);
		close(d.dirfd);
		if (d.ps >= 0)
			ps_sk_close(d.ps, false);
		free(d.buf);
		return 0;
	}
	ret = ret ?: server_status_ready(o);
	if (!ret) {
		d.ctl = accept4(lsk, NULL, NULL, SOCK_CLOEXEC);
		ret = d.ctl < 0 ? -errno : 0;
	}
	close(lsk);
	unlink(sun.sun_path);
	/*
	 * The images are read once the restore comes, not before: a migration
	 * starts the daemon before its final dump has written them.
	 */
	ret = ret ?: count_tasks(d.dirfd, &nr_tasks);
	d.ep = epoll_create1(EPOLL_CLOEXEC);
	if (!ret && d.ep < 0)
		ret = -errno;
	if (!ret)
		ret = take_tasks(&d, nr_tasks);
	if (!ret)
		ret = serve(&d);
	summary(&d);
	if (d.ctl >= 0)
		close(d.ctl);
	if (d.ep >= 0)
		close(d.ep);
	if (d.ps >= 0)
		ps_sk_close(d.ps, true);	/* the page server's cue to end */
	free(d.buf);
	close(d.dirfd);
	return ret;
}
