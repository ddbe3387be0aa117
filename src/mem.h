/*
 * mem.h - the constants of a task's memory images (mm-PID.img,
 * pagemap-PID.img), shared by the dump (mem.c) and whatever reads them back.
 *
 * The values are CRIU's: they are written into images as they are.
 */
#ifndef STASIS_MEM_H
#define STASIS_MEM_H

#include "pagemap-scan.h"

/* The page size of the images (and of x86_64). */
#define PAGE_SZ		4096UL

/* VmaEntry.status: what kind of area it is, for the restorer. */
#define VMA_AREA_NONE		0u
#define VMA_AREA_REGULAR	(1u << 0)	/* an ordinary area: map it */
#define VMA_AREA_STACK		(1u << 1)
#define VMA_AREA_VSYSCALL	(1u << 2)	/* the kernel's, never restored */
#define VMA_AREA_VDSO		(1u << 3)
#define VMA_AREA_HEAP		(1u << 5)
#define VMA_FILE_PRIVATE	(1u << 6)
#define VMA_FILE_SHARED		(1u << 7)
#define VMA_ANON_SHARED		(1u << 8)
#define VMA_ANON_PRIVATE	(1u << 9)
#define VMA_AREA_SYSVIPC	(1u << 10)
#define VMA_AREA_SOCKET		(1u << 11)
#define VMA_AREA_VVAR		(1u << 12)
#define VMA_AREA_AIORING	(1u << 13)
#define VMA_AREA_MEMFD		(1u << 14)	/* shmid is a memfd files.img entry */
#define VMA_AREA_SHSTK		(1u << 15)
#define VMA_AREA_GUARD		(1u << 16)
#define VMA_AREA_UPROBES	(1u << 17)

/* PagemapEntry.flags */
#define PE_PARENT		(1u << 0)	/* the pages are in the parent images */
#define PE_LAZY			(1u << 1)	/* they may be restored on demand */
#define PE_PRESENT		(1u << 2)	/* they are in pages-N.img */

/* The bits of a /proc/PID/pagemap entry (the kernel's pagemap.rst). */
#define PME_PRESENT	(1ULL << 63)
#define PME_SWAP	(1ULL << 62)
#define PME_FILE	(1ULL << 61)
#define PME_GUARD	(1ULL << 58)	/* a guard region: shows as swapped */
#define PME_EXCLUSIVE	(1ULL << 56)	/* mapped by this task only */
#define PME_PFN_MASK	((1ULL << 55) - 1)

/* The most mm_saved_auxv words CRIU's x86 restore accepts. */
#define MM_AUXV_WORDS_MAX	44

#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE		0x08
#endif

/* Guard regions (MADV_GUARD_INSTALL) in PAGEMAP_SCAN's categories, Linux 6.14. */
#ifndef PAGE_IS_GUARD
#define PAGE_IS_GUARD		(1 << 8)
#endif

#endif
