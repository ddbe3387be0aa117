/*
 * vdso.h - the vDSO across kernels.
 *
 * A dumped task's vDSO is the dumping kernel's.  At restore this kernel's
 * vDSO either takes its place (same size, every exported function at the
 * same offset: the task's cached function pointers stay right), or the
 * image's bytes come back as a proxy whose exported entries jump to this
 * kernel's functions, which then live somewhere else (vdso.c).
 *
 * vdso-elf.c reads a vDSO's exported functions from its bytes and turns
 * the bytes into the proxy; it trusts nothing in them.  vdso.c plans the
 * restore for one task.
 */
#ifndef STASIS_VDSO_H
#define STASIS_VDSO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VDSO_SYMS_MAX	64
#define VDSO_NAME_MAX	64

struct vdso_sym {
	char name[VDSO_NAME_MAX];
	uint64_t off;		/* of its entry, from the vDSO's first byte */
	uint64_t size;		/* the ELF's st_size; 0 if it gives none */
};

/* The functions a vDSO exports, aliases included (clock_gettime and __vdso_clock_gettime). */
struct vdso_syms {
	uint64_t len;		/* bytes of the vDSO's mapping */
	uint32_t nr;
	struct vdso_sym sym[VDSO_SYMS_MAX];
};

/*
 * Read the exported functions of the vDSO in @buf[0..@len); 0, or -EINVAL
 * with an error naming @what and the first thing wrong.
 */
int vdso_parse(const uint8_t *buf, uint64_t len, const char *what, struct vdso_syms *s);

/* Same size and every exported name at the same offset, in both. */
bool vdso_same_layout(const struct vdso_syms *a, const struct vdso_syms *b);

/*
 * Turn @buf, the image's vDSO (@old its functions) to be mapped at @base,
 * into the proxy: each
 * exported entry jumps to the function of the same name in this kernel's
 * vDSO (@cur, mapped at @cur_base; @cur NULL if this kernel has none) or,
 * when that is missing, to a stub written in its place.  0, or -EINVAL
 * when an entry has no room for its patch.
 */
int vdso_make_proxy(uint8_t *buf, uint64_t base, const struct vdso_syms *old,
		    const struct vdso_syms *cur, uint64_t cur_base);

/* --- vdso.c: one task's restore --- */

struct rst_task;
struct rst_args;
struct rst_alloc;
struct rst_range;
struct vdso_rst;

/*
 * In the controller, while the pagemap is read: the image's vDSO pages
 * at @addr, @len bytes, are at @off in the pages image.
 */
int vdso_note_pages(struct vdso_rst **v, uint64_t addr, uint64_t len, uint64_t off);

/*
 * In the task: compare the image's vDSO with this kernel's and decide
 * where each goes.  *@v is allocated if the pagemap named no vDSO pages.
 */
int vdso_restore_plan(struct rst_task *t, int pages_fd, struct vdso_rst **v);
/* In the controller before the fork: where this kernel's vDSO pieces are, for every task. */
void vdso_restore_prepare(void);

/* The image's vDSO area comes back as memory of its own (the proxy). */
bool vdso_restore_proxied(const struct vdso_rst *v);

/* Bytes vdso_restore_args() takes from the region, at most. */
size_t vdso_restore_size(const struct vdso_rst *v);

/* Is [@s, @e) clear of where the kernel's vvar and vDSO go? */
bool vdso_restore_clear(const struct vdso_rst *v, uint64_t s, uint64_t e);

/* Moves, the ranges the restorer keeps (@region and the pieces), the proxy. */
int vdso_restore_args(struct vdso_rst *v, struct rst_args *a, struct rst_alloc *al,
		      const struct rst_range *region);

void vdso_restore_free(struct vdso_rst *v);

#endif
