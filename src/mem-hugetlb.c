/*
 * mem-hugetlb.c - areas backed by hugetlbfs (MAP_HUGETLB, smaps flag "ht").
 *
 * Such an area always has a file behind it, even an anonymous one
 * ("/anon_hugepage (deleted)").  As CRIU 4.2 sorts them:
 *
 *  - a private mapping of anonymous hugetlb memory is anonymous memory in
 *    all but page size: an anonymous private area whose flags carry
 *    MAP_HUGETLB and the page size (MAP_HUGE_*), no file, its pages
 *    dumped like any private page;
 *  - any other mapping of a file of the kernel's own hugetlbfs mounts
 *    (shared anonymous hugetlb memory, a hugetlb memfd shared or private)
 *    is a memfd mapping (files/memfd.c), the page size in its flags, the
 *    object dumped once with its memfd.img entry's hugetlb_flag;
 *  - a file of a hugetlbfs someone mounted is a file like any other.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "mem-hugetlb.h"
#include "mem.h"

#ifndef MFD_HUGETLB
#define MFD_HUGETLB	4U
#endif

#define ANON_HUGEPAGE	"/anon_hugepage"

/* The smaps VmFlags of a hugetlb area hold "ht". */
bool hugetlb_vmflags(const char *vmflags)
{
	for (const char *p = vmflags; (p = strstr(p, "ht")); p += 2) {
		if ((p == vmflags || p[-1] == ' ') && (p[2] == ' ' || !p[2]))
			return true;
	}
	return false;
}

int hugetlb_size_shift(long blksize)
{
	if (blksize <= 0 || (blksize & (blksize - 1)))
		return -EINVAL;
	return __builtin_ctzl(blksize);
}

/*
 * MAP_HUGE_* of the page size: log2 of it in the bits above
 * MAP_HUGE_SHIFT.  hugetlbfs gives its files the page size as block size.
 */
static int size_flag(pid_t pid, const VmaEntry *e, struct stat *st, uint32_t *flag)
{
	char link[96];
	int shift;

	snprintf(link, sizeof(link), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, pid,
		 e->start, e->end);
	if (stat(link, st)) {
		pr_perror("pid %d: cannot stat the hugetlb file mapped at %" PRIx64, pid, e->start);
		return -errno;
	}
	shift = hugetlb_size_shift(st->st_blksize);
	if (shift < 0) {
		pr_err("pid %d: hugetlb area at %" PRIx64 " has page size %ld", pid, e->start,
		       (long)st->st_blksize);
		return shift;
	}
	*flag = MAP_HUGETLB | (uint32_t)shift << MAP_HUGE_SHIFT;
	return 0;
}

/*
 * The kernel's hugetlbfs mount for pages of 2^@shift bytes holds anonymous
 * hugetlb memory and hugetlb memfds: its st_dev is that of a memfd made
 * with that page size.  Each is looked up once.
 */
bool hugetlb_internal_dev(dev_t dev, int shift)
{
	static dev_t devs[64];
	static bool known[64];
	struct stat st;
	int fd;

	if (shift < 0 || shift >= 64)
		return false;
	if (!known[shift]) {
		fd = syscall(__NR_memfd_create, "stasis-hugetlb-probe",
			     MFD_CLOEXEC | MFD_HUGETLB | (unsigned)shift << MAP_HUGE_SHIFT);
		if (fd < 0)
			return false;
		if (!fstat(fd, &st)) {
			devs[shift] = st.st_dev;
			known[shift] = true;
		}
		close(fd);
		if (!known[shift])
			return false;
	}
	return devs[shift] == dev;
}

int hugetlb_classify(pid_t pid, const char *name, VmaEntry *e)
{
	uint32_t flag = 0;
	struct stat st;
	int ret;

	ret = size_flag(pid, e, &st, &flag);
	if (ret)
		return ret;
	e->flags |= flag;
	if ((e->flags & MAP_SHARED) || strncmp(name, ANON_HUGEPAGE, strlen(ANON_HUGEPAGE)))
		return 0;	/* a file's mapping: the caller classifies it */
	e->flags |= MAP_ANONYMOUS;
	e->status |= VMA_ANON_PRIVATE;
	return 1;
}
