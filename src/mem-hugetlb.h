/*
 * mem-hugetlb.h - hugetlbfs-backed areas at dump (mem-hugetlb.c).
 */
#ifndef STASIS_MEM_HUGETLB_H
#define STASIS_MEM_HUGETLB_H

#include <stdbool.h>
#include <sys/types.h>

#include "mm.pb-c.h"

/* Does an area with these smaps VmFlags live on hugetlbfs? */
bool hugetlb_vmflags(const char *vmflags);

/* log2 of a hugetlbfs file's page size (its st_blksize); -EINVAL if not a power of 2. */
int hugetlb_size_shift(long blksize);

/* Is @dev the kernel's own hugetlbfs mount for pages of 2^@shift bytes? */
bool hugetlb_internal_dev(dev_t dev, int shift);

/*
 * The hugetlb area @e of @pid (start, end, prot and MAP_SHARED or
 * MAP_PRIVATE set), mapping @name: its flags get the page size.  1 when
 * it is private anonymous memory, classified so; 0 when it maps a file
 * (anonymous shared memory included) for the caller to classify;
 * -errno on an error.
 */
int hugetlb_classify(pid_t pid, const char *name, VmaEntry *e);

#endif
