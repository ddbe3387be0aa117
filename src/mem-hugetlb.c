/*
 * mem-hugetlb.c - areas backed by hugetlbfs (MAP_HUGETLB, smaps flag "ht").
 *
 * Such an area always has a file behind it, even an anonymous one
 * ("/anon_hugepage (deleted)"), but a private one is anonymous memory in
 * all but page size: it is kept as CRIU keeps it, an anonymous private
 * area whose flags carry MAP_HUGETLB and the page size (MAP_HUGE_*), no
 * file, its pages dumped like any private page.  The restorer maps it
 * again with those flags and reads the pages in.
 *
 * Shared hugetlb memory is an object of its own (a hugetlb memfd, as
 * CRIU 4.2 dumps it), not handled here yet.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "log.h"
#include "mem-hugetlb.h"
#include "mem.h"

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT	26
#endif

/* The smaps VmFlags of a hugetlb area hold "ht". */
bool hugetlb_vmflags(const char *vmflags)
{
	for (const char *p = vmflags; (p = strstr(p, "ht")); p += 2) {
		if ((p == vmflags || p[-1] == ' ') && (p[2] == ' ' || !p[2]))
			return true;
	}
	return false;
}

/*
 * MAP_HUGE_* of the page size: log2 of it in the bits above
 * MAP_HUGE_SHIFT.  hugetlbfs gives its files the page size as block size.
 */
static int size_flag(pid_t pid, const VmaEntry *e, uint32_t *flag)
{
	char link[96];
	struct stat st;
	int shift;

	snprintf(link, sizeof(link), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, pid,
		 e->start, e->end);
	if (stat(link, &st)) {
		pr_perror("pid %d: cannot stat the hugetlb file mapped at %" PRIx64, pid, e->start);
		return -errno;
	}
	if (st.st_blksize <= 0 || (st.st_blksize & (st.st_blksize - 1))) {
		pr_err("pid %d: hugetlb area at %" PRIx64 " has page size %ld", pid, e->start,
		       (long)st.st_blksize);
		return -EINVAL;
	}
	shift = __builtin_ctzl(st.st_blksize);
	*flag = MAP_HUGETLB | (uint32_t)shift << MAP_HUGE_SHIFT;
	return 0;
}

int hugetlb_classify(pid_t pid, VmaEntry *e)
{
	uint32_t flag = 0;
	int ret;

	if (e->flags & MAP_SHARED) {
		pr_err("pid %d: shared hugetlb memory at %" PRIx64 " is not supported yet",
		       pid, e->start);
		return -ENOTSUP;
	}
	ret = size_flag(pid, e, &flag);
	if (ret)
		return ret;
	e->flags |= MAP_ANONYMOUS | flag;
	e->status |= VMA_ANON_PRIVATE;
	return 0;
}
