/*
 * mem-prescan.c - a frozen task's page-table walks beside its smaps read
 * (mem-prescan.h).
 *
 * The regions are asked for with every category mem.c's scan looks at
 * and no filter but "present or swapped", so that one walk answers
 * whatever the area turns out to be once smaps has classified it; mem.c
 * leaves out what its own filter would have.  Nothing here logs from the
 * second thread: an error is kept for prescan_wait() to say.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "mem-prescan.h"
#include "proc.h"

/* In a large task, areas smaller than this are scanned by mem.c in turn. */
#define PRESCAN_MIN_BYTES	(1UL << 20)
/*
 * Below this much mapped memory the walks take tens of microseconds,
 * less than starting a thread for them: they are done in place.
 */
#define PRESCAN_THREAD_BYTES	(64UL << 20)
/* Regions asked of one PAGEMAP_SCAN call. */
#define PRESCAN_VEC		1024
/*
 * Regions kept at most, over all areas (3 MiB): our memory stays flat
 * whatever the task's; past it, mem.c scans the rest itself.  The tests
 * set a lower bound with STASIS_PRESCAN_REGS, to see that hand-over.
 */
#define PRESCAN_MAX_REGS	(1UL << 17)

static size_t max_regs(void)
{
	const char *v = getenv("STASIS_PRESCAN_REGS");
	unsigned long n = v ? strtoul(v, NULL, 10) : 0;

	return n && n < PRESCAN_MAX_REGS ? n : PRESCAN_MAX_REGS;
}

static int add_region(struct page_region **v, size_t *nr, size_t *cap,
		      const struct page_region *r)
{
	if (*nr == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		struct page_region *n = realloc(*v, c * sizeof(*n));

		if (!n)
			return -ENOMEM;
		*v = n;
		*cap = c;
	}
	(*v)[(*nr)++] = *r;
	return 0;
}

/* The guard regions below guard_end (CRIU keeps them as areas of their own). */
static int walk_guards(struct prescan *ps, struct page_region *vec)
{
	uint64_t start = 0;

	while (start < ps->guard_end) {
		struct pm_scan_arg a = {
			.size = sizeof(a),
			.start = start,
			.end = ps->guard_end,
			.vec = (uintptr_t)vec,
			.vec_len = PRESCAN_VEC,
			.category_mask = PAGE_IS_GUARD,
			.return_mask = PAGE_IS_GUARD,
		};
		long n = ioctl(ps->pagemap_fd, PAGEMAP_SCAN, &a);

		if (n < 0 || a.walk_end <= start) {
			ps->err_at = start;
			return n < 0 ? -errno : -EIO;
		}
		for (long i = 0; i < n; i++) {
			int ret = add_region(&ps->guards, &ps->nr_guards, &ps->cap_guards, &vec[i]);

			if (ret)
				return ret;
		}
		start = a.walk_end;
	}
	return 0;
}

/* The present or swapped pages of @pa, until its end or the budget of @left regions. */
static int walk_area(struct prescan *ps, struct prescan_area *pa, struct page_region *vec,
		     size_t *left)
{
	uint64_t start = pa->start;

	while (start < pa->end && pa->nr < *left) {
		struct pm_scan_arg a = {
			.size = sizeof(a),
			.start = start,
			.end = pa->end,
			.vec = (uintptr_t)vec,
			.vec_len = PRESCAN_VEC,
			.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
			.return_mask = PRESCAN_CATEGORIES | (ps->guard ? PAGE_IS_GUARD : 0) |
				       (pa->file ? PAGE_IS_FILE : 0),
		};
		long n = ioctl(ps->pagemap_fd, PAGEMAP_SCAN, &a);

		if (n < 0 || a.walk_end <= start) {
			ps->err_at = start;
			return n < 0 ? -errno : -EIO;
		}
		for (long i = 0; i < n; i++) {
			struct page_region r = vec[i];
			int ret;

			/* A full vector may end the walk before pages it returned: none twice. */
			if (r.end <= pa->done)
				continue;
			if (r.start < pa->done)
				r.start = pa->done;
			ret = add_region(&pa->regs, &pa->nr, &pa->cap, &r);
			if (ret)
				return ret;
			pa->done = r.end;
		}
		start = a.walk_end > pa->done ? a.walk_end : pa->done;
		pa->done = start;
	}
	*left -= pa->nr < *left ? pa->nr : *left;
	return 0;
}

/* Region @r, cut at the areas' edges, to the areas it falls in. */
static int spread_region(struct prescan *ps, const struct page_region *r, size_t *left)
{
	for (size_t i = 0; i < ps->nr_areas && *left; i++) {
		struct prescan_area *pa = &ps->areas[i];
		struct page_region c = *r;
		int ret;

		if (pa->end <= r->start || pa->start >= r->end)
			continue;
		if (c.start < pa->done)
			c.start = pa->done;
		if (c.end > pa->end)
			c.end = pa->end;
		if (c.start >= c.end)
			continue;
		ret = add_region(&pa->regs, &pa->nr, &pa->cap, &c);
		if (ret)
			return ret;
		pa->done = c.end;
		(*left)--;
	}
	return 0;
}

/*
 * A small task's areas in one walk from the first to the last: a call a
 * task, not one an area (twenty and more for a C program).  The kernel
 * walks only what is mapped, and regions of the areas not kept here
 * (shared, special) are dropped.  PAGE_IS_FILE is asked everywhere: on
 * so few pages its cost does not show.
 */
static int walk_all(struct prescan *ps, struct page_region *vec, size_t *left)
{
	uint64_t start = ps->areas[0].start, end = ps->areas[ps->nr_areas - 1].end;

	while (start < end && *left) {
		struct pm_scan_arg a = {
			.size = sizeof(a),
			.start = start,
			.end = end,
			.vec = (uintptr_t)vec,
			.vec_len = PRESCAN_VEC,
			.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
			.return_mask = PRESCAN_CATEGORIES | (ps->guard ? PAGE_IS_GUARD : 0) |
				       PAGE_IS_FILE,
		};
		long n = ioctl(ps->pagemap_fd, PAGEMAP_SCAN, &a);

		if (n < 0 || a.walk_end <= start) {
			ps->err_at = start;
			return n < 0 ? -errno : -EIO;
		}
		for (long i = 0; i < n; i++) {
			int ret = spread_region(ps, &vec[i], left);

			if (ret)
				return ret;
		}
		/* Up to walk_end every area is answered for, unless the budget ran out. */
		for (size_t i = 0; i < ps->nr_areas && *left; i++) {
			struct prescan_area *pa = &ps->areas[i];
			uint64_t to = a.walk_end < pa->end ? a.walk_end : pa->end;

			if (to > pa->done)
				pa->done = to;
		}
		start = a.walk_end;
	}
	return 0;
}

static void *prescan_main(void *arg)
{
	struct prescan *ps = arg;
	struct page_region *vec = malloc(PRESCAN_VEC * sizeof(*vec));
	size_t left = ps->max_regs;
	uint64_t t0 = now_us();
	int ret = vec ? 0 : -ENOMEM;

	if (!ret && ps->want_guards)
		ret = walk_guards(ps, vec);
	if (!ret && ps->one_walk && ps->nr_areas)
		ret = walk_all(ps, vec, &left);
	for (size_t i = 0; !ret && !ps->one_walk && i < ps->nr_areas && left; i++)
		if (ps->areas[i].end - ps->areas[i].start >= PRESCAN_MIN_BYTES)
			ret = walk_area(ps, &ps->areas[i], vec, &left);
	free(vec);
	ps->err = ret;
	ps->walk_us = now_us() - t0;
	return NULL;
}

static bool special_area(const char *name)
{
	return !strcmp(name, "[vsyscall]") || !strcmp(name, "[vdso]") ||
	       !strcmp(name, "[vvar]") || !strcmp(name, "[vvar_vclock]");
}

/*
 * Area [@start, @end), @walk if it is one to walk (private, not the
 * kernel's), @file if a file is behind it.
 */
static int add_area(struct prescan *ps, uint64_t start, uint64_t end, bool walk, bool file)
{
	if (end > ps->guard_end)
		ps->guard_end = end;
	ps->mapped += end - start;
	if (!ps->want_pages || !walk)
		return 0;
	if (!(ps->nr_areas & (ps->nr_areas + 1))) {
		/* At 0, 1, 3, 7...: room for twice as many. */
		struct prescan_area *a = realloc(ps->areas, (ps->nr_areas + 1) * 2 * sizeof(*a));

		if (!a)
			return -ENOMEM;
		ps->areas = a;
	}
	ps->areas[ps->nr_areas++] = (struct prescan_area){ .start = start, .end = end,
							   .done = start, .file = file };
	return 0;
}

/* One line of /proc/PID/maps: a large private area is one to walk. */
static int maps_line(struct prescan *ps, const char *line)
{
	struct proc_maps_line m;

	if (!proc_parse_maps_line(line, &m))
		return -EINVAL;
	if (!strcmp(m.name, "[vsyscall]"))
		return 0;
	/* As smaps shows it, 00:00 0 is no file: an area mem.c takes as anonymous. */
	return add_area(ps, m.start, m.end, m.perms[3] == 'p' && !special_area(m.name),
			m.maj || m.min || m.ino);
}

/* The areas as mem-layout.c classified them from smaps. */
static int list_areas(struct prescan *ps, const VmaEntry *v, size_t nr)
{
	const uint32_t special = VMA_AREA_VDSO | VMA_AREA_VVAR;
	int ret = 0;

	for (size_t i = 0; !ret && i < nr; i++) {
		const VmaEntry *e = &v[i];

		if (e->status & VMA_AREA_VSYSCALL)
			continue;
		ret = add_area(ps, e->start, e->end,
			       !(e->flags & MAP_SHARED) && !(e->status & special),
			       !(e->status & VMA_ANON_PRIVATE));
	}
	return ret;
}

/* The areas, from /proc/PID/maps: it walks no page table. */
static int read_maps(struct prescan *ps)
{
	size_t size = 64 << 10, len = 0;
	char *buf = malloc(size), *line, *nl;
	int fd = proc_open(ps->pid, "maps", O_RDONLY), ret = 0;
	ssize_t r;

	if (fd < 0 || !buf) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return fd < 0 ? fd : -ENOMEM;
	}
	for (;;) {
		if (len + 1 == size) {
			char *b = realloc(buf, size * 2);

			if (!b) {
				ret = -ENOMEM;
				break;
			}
			buf = b;
			size *= 2;
		}
		r = read(fd, buf + len, size - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			ret = r < 0 ? -errno : 0;
			break;
		}
		len += r;
	}
	close(fd);
	buf[len] = '\0';
	for (line = buf; !ret && *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			break;
		*nl = '\0';
		ret = maps_line(ps, line);
		if (ret == -EINVAL)
			pr_err("/proc/%d/maps: cannot parse \"%s\"", ps->pid, line);
	}
	if (ret && ret != -EINVAL)
		pr_err("/proc/%d/maps: %s", ps->pid, strerror(-ret));
	free(buf);
	return ret;
}

bool prescan_small(uint64_t mapped)
{
	return mapped < PRESCAN_THREAD_BYTES;
}

int prescan_start(struct prescan *ps, pid_t pid, int fd, bool guard, bool guards, bool pages,
		  bool thread, const VmaEntry *v, size_t nr)
{
	sigset_t all, old;
	int ret;

	*ps = (struct prescan){ .pid = pid, .pagemap_fd = fd, .guard = guard,
				.want_guards = guards, .want_pages = pages,
				.max_regs = max_regs() };
	if (!guards && !pages)
		return 0;
	ret = v ? list_areas(ps, v, nr) : read_maps(ps);
	if (ret)
		return ret;
	/* A small task's walk is one call, here: its areas, all of them. */
	ps->one_walk = prescan_small(ps->mapped);
	for (size_t i = 0; ps->one_walk && i < ps->nr_areas; i++)
		ps->areas[i].file = true;
	if (thread && !ps->one_walk) {
		/* The walk takes no signal: they go where they went before. */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		ps->threaded = !pthread_create(&ps->thread, NULL, prescan_main, ps);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	/* Without a second thread it is done now: slower, not wrong. */
	if (!ps->threaded)
		prescan_main(ps);
	return 0;
}

int prescan_wait(struct prescan *ps)
{
	if (ps->threaded) {
		pthread_join(ps->thread, NULL);
		ps->threaded = false;
	}
	if (ps->err)
		pr_err("pid %d: PAGEMAP_SCAN at %" PRIx64 ": %s", ps->pid, ps->err_at,
		       strerror(-ps->err));
	return ps->err;
}

const struct prescan_area *prescan_find(struct prescan *ps, uint64_t start, uint64_t end)
{
	if (ps->cursor < ps->nr_areas && ps->areas[ps->cursor].start > start)
		ps->cursor = 0;
	while (ps->cursor < ps->nr_areas && ps->areas[ps->cursor].end <= start)
		ps->cursor++;
	if (ps->cursor < ps->nr_areas && ps->areas[ps->cursor].start == start &&
	    ps->areas[ps->cursor].end == end)
		return &ps->areas[ps->cursor];
	return NULL;
}

void prescan_free(struct prescan *ps)
{
	if (ps->threaded)
		pthread_join(ps->thread, NULL);
	for (size_t i = 0; i < ps->nr_areas; i++)
		free(ps->areas[i].regs);
	free(ps->areas);
	free(ps->guards);
	memset(ps, 0, sizeof(*ps));
	ps->pagemap_fd = -1;
}
