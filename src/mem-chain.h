/*
 * mem-chain.h - the parent images of a dump at restore (mem-chain.c).
 *
 * A dump made with --prev-images-dir (or a pre-dump after another) has
 * pagemap entries flagged PE_PARENT: their pages are in the images the
 * `parent` link of its directory names, or further up the chain.
 */
#ifndef STASIS_MEM_CHAIN_H
#define STASIS_MEM_CHAIN_H

#include <stdint.h>
#include <sys/types.h>

struct mem_chain;

/* Called for each piece found: its pages at @off of the pages image of @level (1: the parent). */
typedef int (*mem_chain_fn)(void *arg, uint64_t addr, uint64_t len, uint64_t off,
			    uint32_t level);

/*
 * Find [@addr, @addr + @len) of task @pid up the chain that starts at
 * the images directory @dirfd; *@ch holds what was read (NULL at first).
 * -EINVAL (said) for a page no parent image has.
 */
int mem_chain_resolve(struct mem_chain **ch, int dirfd, pid_t pid, uint64_t addr,
		      uint64_t len, mem_chain_fn fn, void *arg);
/* The pages image of @level; the caller may replace it (a higher fd number). */
int *mem_chain_fd(struct mem_chain *ch, uint32_t level);
uint32_t mem_chain_levels(const struct mem_chain *ch);
void mem_chain_free(struct mem_chain *ch);

/*
 * `stasis dedup`, `--auto-dedup`: every page the dump in @dir holds is
 * freed (a hole punched) in the parent images that held it before, up the
 * chain, as CRIU's dedup: the chain keeps only the newest copy of a page.
 */
int mem_chain_dedup(const char *dir);

#endif
