/*
 * pagemap-scan.h - the PAGEMAP_SCAN ioctl of /proc/PID/pagemap (Linux 6.7),
 * for systems whose kernel headers predate it (Debian 12 ships 6.1's).
 * The layout is the kernel's uapi (include/uapi/linux/fs.h).
 */
#ifndef STASIS_PAGEMAP_SCAN_H
#define STASIS_PAGEMAP_SCAN_H

#include <linux/fs.h>
#include <linux/types.h>
#include <sys/ioctl.h>

#ifndef PAGEMAP_SCAN

#define PAGE_IS_WPALLOWED	(1 << 0)
#define PAGE_IS_WRITTEN		(1 << 1)
#define PAGE_IS_FILE		(1 << 2)
#define PAGE_IS_PRESENT		(1 << 3)
#define PAGE_IS_SWAPPED		(1 << 4)
#define PAGE_IS_PFNZERO		(1 << 5)
#define PAGE_IS_HUGE		(1 << 6)
#define PAGE_IS_SOFT_DIRTY	(1 << 7)

/* One run of pages with the same categories. */
struct page_region {
	__u64 start;
	__u64 end;
	__u64 categories;
};

#define PM_SCAN_WP_MATCHING	(1 << 0)
#define PM_SCAN_CHECK_WPASYNC	(1 << 1)

struct pm_scan_arg {
	__u64 size;		/* sizeof(struct pm_scan_arg) */
	__u64 flags;
	__u64 start;		/* [start, end) to scan */
	__u64 end;
	__u64 walk_end;		/* out: where the walk stopped */
	__u64 vec;		/* struct page_region[vec_len] */
	__u64 vec_len;
	__u64 max_pages;	/* 0: no limit */
	__u64 category_inverted;
	__u64 category_mask;
	__u64 category_anyof_mask;
	__u64 return_mask;
};

#define PAGEMAP_SCAN	_IOWR('f', 16, struct pm_scan_arg)

#endif /* PAGEMAP_SCAN */
#endif
