/*
 * mem-prescan.h - the page-table walks of a frozen task's memory dump,
 * run on a second thread while the first reads /proc/PID/smaps
 * (mem-prescan.c).
 *
 * smaps and PAGEMAP_SCAN each walk every page table of the task, and a
 * dump needs both: smaps for the areas' VmFlags (which nothing cheaper
 * tells), PAGEMAP_SCAN for the pages to take.  The task is frozen, so the
 * walks need not wait for one another: the areas come from
 * /proc/PID/maps (which walks no page table), and the scan of each large
 * private one, and of the guard regions, runs beside the smaps read.
 * mem.c then takes the pages from what was found here.
 */
#ifndef STASIS_MEM_PRESCAN_H
#define STASIS_MEM_PRESCAN_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mem.h"
#include "mm.pb-c.h"

/* What PAGEMAP_SCAN reported for one area, in address order. */
struct prescan_area {
	uint64_t start, end;		/* as /proc/PID/maps gave it */
	uint64_t done;			/* the regions cover [start, done) */
	bool file;			/* a file behind it: PAGE_IS_FILE asked too */
	struct page_region *regs;	/* each with every category mem.c asks about */
	size_t nr, cap;
};

struct prescan {
	pid_t pid;
	int pagemap_fd;
	bool guard;			/* the kernel reports guard regions */
	bool want_guards, want_pages;
	bool threaded;
	bool one_walk;			/* a small task: all areas in one PAGEMAP_SCAN */
	pthread_t thread;
	size_t max_regs;		/* regions kept at most, over all areas */
	int err;			/* the walk's -errno, logged by prescan_wait() */
	uint64_t walk_us;		/* how long the walks took */
	uint64_t err_at;
	struct prescan_area *areas;
	size_t nr_areas, cursor;
	struct page_region *guards;	/* the guard regions, when wanted */
	size_t nr_guards, cap_guards;
	uint64_t guard_end;		/* the end of the highest user area */
	uint64_t mapped;		/* bytes of all its areas */
};

/*
 * Start the walks of @pid (frozen), through its pagemap @fd: the guard
 * regions if @guards, the pages of its large private areas if @pages.
 * The areas are @nr of @v when the caller has them (its smaps read),
 * else they come from /proc/PID/maps.  On a second thread if @thread,
 * the task maps enough memory for the walks to be worth one, and one can
 * be had; else here and now.  0 or -errno; prescan_free() in any case.
 */
int prescan_start(struct prescan *ps, pid_t pid, int fd, bool guard, bool guards, bool pages,
		  bool thread, const VmaEntry *v, size_t nr);
/*
 * A task mapping @mapped bytes is small: its walks take less than a
 * thread's start, and are best made after its smaps read, from the areas
 * read there (no /proc/PID/maps read, a third of a small task's areas).
 */
bool prescan_small(uint64_t mapped);
/* Wait for them; 0, or their -errno (said). */
int prescan_wait(struct prescan *ps);
/* The walk of exactly [@start, @end), or NULL; lookups in address order are cheapest. */
const struct prescan_area *prescan_find(struct prescan *ps, uint64_t start, uint64_t end);
void prescan_free(struct prescan *ps);

/*
 * The categories every walk here returns: any question of mem.c's scan,
 * PAGE_IS_FILE only where a file is behind the area (the kernel looks at
 * every page's struct page to answer it: the walk of an anonymous GiB
 * takes 5 to 10 times as long with it).
 */
#define PRESCAN_CATEGORIES	(PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_WRITTEN |	\
				 PAGE_IS_WPALLOWED | PAGE_IS_PFNZERO)

#endif
