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

/*
 * Classify the hugetlb area @e of @pid (start, end, prot and MAP_SHARED or
 * MAP_PRIVATE set): status and flags as CRIU writes them.
 */
int hugetlb_classify(pid_t pid, VmaEntry *e);

#endif
