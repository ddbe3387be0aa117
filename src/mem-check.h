/*
 * mem-check.h - checks of the memory images before a restore creates
 * anything (mem-check.c).
 */
#ifndef STASIS_MEM_CHECK_H
#define STASIS_MEM_CHECK_H

#include <stdint.h>
#include <sys/types.h>

#include "mm.pb-c.h"
#include "pagemap.pb-c.h"
#include "mem.h"

/* Areas non-empty, page aligned, in order and apart; guards inside one. */
int mem_check_vmas(pid_t pid, const MmEntry *mm);
/*
 * Pagemap entry @pe non-empty, page aligned, at or after *@next (the end
 * of the entry before, 0 for the first), which it then moves on.
 */
int mem_check_pagemap_entry(pid_t pid, const PagemapEntry *pe, uint64_t *next);

#endif
