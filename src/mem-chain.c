/*
 * mem-chain.c - pages kept by the parents of a dump (mem-chain.h).
 *
 * As CRIU's chain: each directory's `parent` symlink names the one before
 * (relative to the directory); a PE_PARENT entry's pages are found in the
 * parent's pagemap of the same pid, where each is either in that
 * directory's pages image (PE_PRESENT) or, again, in its parent.  Levels
 * are read when first needed and kept for the task's other entries.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"
#include "log.h"
#include "mem.h"
#include "mem-chain.h"
#include "mem-check.h"
#include "pagemap.pb-c.h"

#define PAGE_SZ		4096UL
/* Deeper than any real chain; a `parent` link that loops stops here. */
#define CHAIN_MAX	256

struct chain_ent {
	uint64_t addr, end;
	uint64_t off;		/* in this level's pages image, if present */
	uint32_t flags;
};

struct chain_level {
	int dirfd;
	int pages_fd;
	struct chain_ent *e;
	size_t nr;
};

struct mem_chain {
	struct chain_level lv[CHAIN_MAX + 1];	/* [0] unused: the dump itself */
	uint32_t nr;				/* levels read */
};

static int add_ent(struct chain_level *l, const PagemapEntry *pe, uint32_t flags,
		   uint64_t off, size_t *cap)
{
	if (l->nr == *cap) {
		size_t n = *cap ? *cap * 2 : 64;
		struct chain_ent *e = realloc(l->e, n * sizeof(*e));

		if (!e)
			return -ENOMEM;
		l->e = e;
		*cap = n;
	}
	l->e[l->nr++] = (struct chain_ent){
		.addr = pe->vaddr, .end = pe->vaddr + (uint64_t)pe->nr_pages * PAGE_SZ,
		.off = off, .flags = flags,
	};
	return 0;
}

/* The pagemap of @pid in @l->dirfd, and its pages image. */
static int read_level(struct chain_level *l, pid_t pid, uint32_t depth)
{
	PagemapHead *head = NULL;
	PagemapEntry *pe;
	uint64_t off = 0, next = 0;
	size_t cap = 0;
	struct img *img;
	struct stat st;
	char name[64];
	int ret;

	ret = img_open(&img, l->dirfd, IMG_PAGEMAP, pid, O_RDONLY);
	if (ret) {
		pr_err("parent images (level %u): no pagemap of pid %d: %s", depth, pid,
		       strerror(-ret));
		return ret;
	}
	ret = img_read_msg(img, &pagemap_head__descriptor, (ProtobufCMessage **)&head);
	if (ret <= 0) {
		img_close(img);
		pr_err("parent images (level %u): pagemap-%d.img is empty", depth, pid);
		return ret ?: -EINVAL;
	}
	snprintf(name, sizeof(name), "pages-%u.img", head->pages_id);
	img_free_msg(&head->base);
	while ((ret = img_read_msg(img, &pagemap_entry__descriptor, (ProtobufCMessage **)&pe)) > 0) {
		uint32_t flags = pe->has_flags ? pe->flags : PE_PRESENT;

		ret = mem_check_pagemap_entry(pid, pe, &next);
		if (!ret)
			ret = add_ent(l, pe, flags, off, &cap);
		if (flags & PE_PRESENT)
			off += (uint64_t)pe->nr_pages * PAGE_SZ;
		img_free_msg(&pe->base);
		if (ret < 0)
			break;
	}
	img_close(img);
	if (ret < 0)
		return ret;
	l->pages_fd = img_openat(l->dirfd, name, O_RDONLY);
	if (l->pages_fd < 0) {
		ret = l->pages_fd;
		l->pages_fd = -1;
		if (!off && ret == -ENOENT)
			return 0;
		pr_err("parent images (level %u): cannot open %s: %s", depth, name, strerror(-ret));
		return ret;
	}
	if (fstat(l->pages_fd, &st) || (uint64_t)st.st_size < off) {
		pr_err("parent images (level %u): %s is shorter than its pagemap", depth, name);
		return -EINVAL;
	}
	return 0;
}

/* Level @depth (1: the parent of @dirfd's dump), read if it is not yet. */
static int get_level(struct mem_chain *ch, int dirfd, pid_t pid, uint32_t depth)
{
	struct chain_level *l;
	int from, ret;

	if (depth <= ch->nr)
		return 0;
	if (depth > CHAIN_MAX) {
		pr_err("the chain of parent images is deeper than %d (a loop?)", CHAIN_MAX);
		return -ELOOP;
	}
	from = depth == 1 ? dirfd : ch->lv[depth - 1].dirfd;
	l = &ch->lv[depth];
	l->pages_fd = -1;
	l->dirfd = openat(from, "parent", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->dirfd < 0) {
		ret = -errno;
		pr_err("pagemap-%d.img points to parent images, but there are none (level %u): %s",
		       pid, depth, strerror(-ret));
		return ret;
	}
	ch->nr = depth;
	return read_level(l, pid, depth);
}

static int resolve(struct mem_chain *ch, int dirfd, pid_t pid, uint32_t depth,
		   uint64_t addr, uint64_t end, mem_chain_fn fn, void *arg)
{
	struct chain_level *l;
	size_t lo, hi;
	int ret;

	ret = get_level(ch, dirfd, pid, depth);
	if (ret)
		return ret;
	l = &ch->lv[depth];
	/* The first entry that ends after @addr. */
	lo = 0;
	hi = l->nr;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (l->e[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; addr < end; i++) {
		const struct chain_ent *e = i < l->nr ? &l->e[i] : NULL;
		uint64_t to;

		if (!e || e->addr > addr || !(e->flags & (PE_PRESENT | PE_PARENT))) {
			pr_err("pid %d: the page at %#" PRIx64 " is in no parent image (level %u)",
			       pid, addr, depth);
			return -EINVAL;
		}
		to = e->end < end ? e->end : end;
		if (e->flags & PE_PRESENT)
			ret = fn(arg, addr, to - addr, e->off + (addr - e->addr), depth);
		else
			ret = resolve(ch, dirfd, pid, depth + 1, addr, to, fn, arg);
		if (ret)
			return ret;
		addr = to;
	}
	return 0;
}

int mem_chain_resolve(struct mem_chain **ch, int dirfd, pid_t pid, uint64_t addr,
		      uint64_t len, mem_chain_fn fn, void *arg)
{
	if (!*ch) {
		*ch = calloc(1, sizeof(**ch));
		if (!*ch)
			return -ENOMEM;
	}
	return resolve(*ch, dirfd, pid, 1, addr, addr + len, fn, arg);
}

int *mem_chain_fd(struct mem_chain *ch, uint32_t level)
{
	return &ch->lv[level].pages_fd;
}

uint32_t mem_chain_levels(const struct mem_chain *ch)
{
	return ch ? ch->nr : 0;
}

void mem_chain_free(struct mem_chain *ch)
{
	if (!ch)
		return;
	for (uint32_t i = 1; i <= ch->nr; i++) {
		if (ch->lv[i].dirfd >= 0)
			close(ch->lv[i].dirfd);
		if (ch->lv[i].pages_fd >= 0)
			close(ch->lv[i].pages_fd);
		free(ch->lv[i].e);
	}
	free(ch);
}
