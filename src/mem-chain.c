/*
 * mem-chain.c - pages kept by the parents of a dump (mem-chain.h).
 *
 * As CRIU's chain: each directory's `parent` symlink names the one before
 * (relative to the directory); a PE_PARENT entry's pages are found in the
 * parent's pagemap of the same pid, where each is either in that
 * directory's pages image (PE_PRESENT) or, again, in its parent.  Levels
 * are read when first needed and kept for the task's other entries.
 */
#include <dirent.h>
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
#include "mem-pagemap.h"
#include "pagemap.pb-c.h"

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

struct level_arg {
	struct chain_level *l;
	size_t cap;
};

static int add_ent(void *arg, const PagemapEntry *pe, uint32_t flags, uint64_t off)
{
	struct level_arg *a = arg;
	struct chain_level *l = a->l;

	if (l->nr == a->cap) {
		size_t n = a->cap ? a->cap * 2 : 64;
		struct chain_ent *e = realloc(l->e, n * sizeof(*e));

		if (!e)
			return -ENOMEM;
		l->e = e;
		a->cap = n;
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
	struct level_arg a = { l, 0 };
	uint64_t off = 0;
	uint32_t pages_id;
	struct stat st;
	char name[64];
	int ret;

	ret = pagemap_walk(l->dirfd, pid, add_ent, &a, &pages_id, &off);
	if (ret) {
		pr_err("parent images (level %u): cannot read the pagemap of pid %d: %s", depth,
		       pid, strerror(-ret));
		return ret;
	}
	snprintf(name, sizeof(name), "pages-%u.img", pages_id);
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

/* --- dedup: a dump's parents give up the pages the dump has again --- */

struct dedup {
	struct mem_chain *ch;
	int dirfd;
	pid_t pid;
	int wfd[CHAIN_MAX + 1];		/* each level's pages image, for writing */
	uint64_t freed;			/* pages */
};

/* Free @len bytes at @off of level @depth's pages image: a hole reads as zeroes. */
static int punch(struct dedup *d, uint32_t depth, uint64_t off, uint64_t len)
{
	char path[64];

	if (d->wfd[depth] < 0) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", d->ch->lv[depth].pages_fd);
		d->wfd[depth] = open(path, O_WRONLY | O_CLOEXEC);
		if (d->wfd[depth] < 0) {
			pr_perror("dedup: cannot open the pages image of level %u for writing", depth);
			return -errno;
		}
	}
	if (fallocate(d->wfd[depth], FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
		      (off_t)len)) {
		pr_perror("dedup: cannot free pages in the images of level %u", depth);
		return -errno;
	}
	d->freed += len / PAGE_SZ;
	return 0;
}

/* [@addr, @end) has newer pages below @depth: free what level @depth holds of it. */
static int dedup_level(struct dedup *d, uint32_t depth, uint64_t addr, uint64_t end)
{
	struct chain_level *l;
	int ret;

	ret = get_level(d->ch, d->dirfd, d->pid, depth);
	if (ret)
		return ret;
	l = &d->ch->lv[depth];
	for (size_t i = 0; !ret && i < l->nr && l->e[i].addr < end; i++) {
		const struct chain_ent *e = &l->e[i];
		uint64_t a = e->addr > addr ? e->addr : addr;
		uint64_t b = e->end < end ? e->end : end;

		if (a >= b)
			continue;
		if (e->flags & PE_PRESENT)
			ret = punch(d, depth, e->off + (a - e->addr), b - a);
		else if (e->flags & PE_PARENT)
			ret = dedup_level(d, depth + 1, a, b);
	}
	return ret;
}

static int dedup_entry(void *arg, const PagemapEntry *pe, uint32_t flags, uint64_t off)
{
	(void)off;
	if (!(flags & PE_PRESENT))
		return 0;
	return dedup_level(arg, 1, pe->vaddr, pe->vaddr + (uint64_t)pe->nr_pages * PAGE_SZ);
}

/* pagemap-@pid.img of @dirfd: each page it holds, freed up its chain. */
static int dedup_task(int dirfd, pid_t pid, uint64_t *freed)
{
	struct dedup d = { .dirfd = dirfd, .pid = pid };
	uint32_t pages_id;
	char name[64];
	int ret;

	snprintf(name, sizeof(name), "parent/pagemap-%d.img", pid);
	if (faccessat(dirfd, name, F_OK, 0))
		return 0;	/* no parent, or one that has not this task */
	for (size_t i = 0; i <= CHAIN_MAX; i++)
		d.wfd[i] = -1;
	d.ch = calloc(1, sizeof(*d.ch));
	ret = d.ch ? pagemap_walk(dirfd, pid, dedup_entry, &d, &pages_id, NULL) : -ENOMEM;
	for (size_t i = 0; i <= CHAIN_MAX; i++)
		if (d.wfd[i] >= 0)
			close(d.wfd[i]);
	mem_chain_free(d.ch);
	*freed += d.freed;
	return ret < 0 ? ret : 0;
}

int mem_chain_dedup(const char *dir)
{
	uint64_t freed = 0;
	struct dirent *de;
	int dirfd, ret = 0;
	DIR *dp;

	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dp = dirfd < 0 ? NULL : fdopendir(dirfd);
	if (!dp) {
		pr_perror("dedup: cannot open the images directory %s", dir);
		if (dirfd >= 0)
			close(dirfd);
		return -errno;
	}
	while (!ret && (de = readdir(dp))) {
		int pid, n = 0;

		if (sscanf(de->d_name, "pagemap-%d.img%n", &pid, &n) == 1 && !de->d_name[n])
			ret = dedup_task(dirfd, pid, &freed);
	}
	closedir(dp);
	if (!ret)
		pr_info("dedup: %" PRIu64 " pages of %s's parent images freed", freed, dir);
	return ret;
}
