/*
 * vdso.c - one task's vDSO at restore.
 *
 * The task's code holds pointers into the dumped vDSO (glibc resolves its
 * functions once, at start), so what sits at the dumped address must do
 * what those entries did.  This kernel's vDSO comes with its vvar pieces
 * ([vvar], [vvar_vclock]): its code reads them at fixed distances, so the
 * pieces always move together, keeping this kernel's distances.
 *
 *  - Same layout (vdso_same_layout): the pieces move so that this
 *    kernel's vDSO lands at the dumped address, if the vvar pieces then
 *    land clear of the task's other areas.
 *  - Otherwise the proxy: the image's vDSO bytes come back at the dumped
 *    address as private memory, r-x, each exported entry a jump to this
 *    kernel's function; this kernel's pieces stay where they are when that
 *    is clear of the task's areas, else move to a hole.  The image's vvar
 *    range stays unmapped: only the image's own code read it.
 *
 * The restorer moves the pieces (moves[], through scratch room in its
 * region) and copies the proxy's bytes in after the pages are read.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"
#include "rst-ctx.h"
#include "restorer.h"
#include "vdso.h"

#define TASK_TOP	0x7ffffffff000ull
#define LOW_LIMIT	0x10000ull	/* below: mmap_min_addr's usual value */
#define VDSO_LEN_MAX	(1ull << 20)	/* a vDSO is a few pages */

struct vdso_rst {
	struct rst_run *runs;		/* the image's vDSO in the pages image */
	uint32_t nr_runs;

	struct rst_move moves[RST_MOVES_MAX];
	uint32_t nr_moves;
	uint64_t moves_len;

	uint8_t *proxy;			/* NULL: no proxy */
	uint64_t proxy_addr, proxy_len;
};

/* The kernel's pieces here, as /proc/self/maps shows them. */
struct vdso_here {
	struct rst_range piece[RST_MOVES_MAX];
	uint32_t nr;
	struct rst_range vdso;		/* { 0, 0 }: this kernel maps none */
};

int vdso_note_pages(struct vdso_rst **v, uint64_t addr, uint64_t len, uint64_t off)
{
	struct rst_run *r;

	if ((addr | len) % PAGE_SZ) {
		pr_err("pagemap: vDSO pages at %#" PRIx64 " are not page-aligned", addr);
		return -EINVAL;
	}
	if (!*v) {
		*v = calloc(1, sizeof(**v));
		if (!*v)
			return -ENOMEM;
	}
	r = realloc((*v)->runs, ((*v)->nr_runs + 1) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	(*v)->runs = r;
	r[(*v)->nr_runs++] = (struct rst_run){ .addr = addr, .len = len, .off = off };
	return 0;
}

static bool is_piece(const char *line)
{
	return strstr(line, "[vvar]") || strstr(line, "[vvar_vclock]") || strstr(line, "[vdso]");
}

/*
 * Read in the controller before the fork (vdso_restore_prepare()): every
 * task is a fork of it and finds the pieces where it left them, so each
 * need not read its maps for them again.
 */
static struct vdso_here here_known;
static bool here_valid;

static int read_here(struct vdso_here *h);

static int find_here(struct vdso_here *h)
{
	if (here_valid) {
		*h = here_known;
		return 0;
	}
	return read_here(h);
}

void vdso_restore_prepare(void)
{
	here_valid = false;
	/* A failure here is found again, and told, by each task's own reading. */
	here_valid = !read_here(&here_known);
}

static int read_here(struct vdso_here *h)
{
	FILE *f = rst_fopen_self("maps");
	char line[512];
	int ret = 0;

	if (!f)
		return -errno;
	memset(h, 0, sizeof(*h));
	while (fgets(line, sizeof(line), f)) {
		unsigned long long s, e;

		if (sscanf(line, "%llx-%llx", &s, &e) != 2 || !is_piece(line))
			continue;
		if (h->nr == RST_MOVES_MAX) {
			pr_err("this kernel maps more than %d vDSO and vvar areas: the restorer "
			       "moves at most that many", RST_MOVES_MAX);
			ret = -ENOTSUP;
			break;
		}
		h->piece[h->nr++] = (struct rst_range){ s, e };
		if (strstr(line, "[vdso]"))
			h->vdso = (struct rst_range){ s, e };
	}
	fclose(f);
	return ret;
}

/* The image's one vDSO area; NULL if it has none, -EINVAL in *@ret if two. */
static const VmaEntry *image_vdso(const MmEntry *mm, int *ret)
{
	const VmaEntry *found = NULL;

	*ret = 0;
	for (size_t i = 0; i < mm->n_vmas; i++) {
		if (!(mm->vmas[i]->status & VMA_AREA_VDSO))
			continue;
		if (found) {
			pr_err("the image has two vDSO areas, at %#" PRIx64 " and %#" PRIx64,
			       (uint64_t)found->start, (uint64_t)mm->vmas[i]->start);
			*ret = -EINVAL;
			return NULL;
		}
		found = mm->vmas[i];
	}
	return found;
}

/* Read @r's bytes into @buf, the area's copy from @start; every page once. */
static int read_run(int pages_fd, const struct rst_run *r, uint64_t start, uint8_t *buf,
		    uint8_t *seen)
{
	for (uint64_t done = 0; done < r->len;) {
		ssize_t n = pread(pages_fd, buf + (r->addr - start) + done, r->len - done,
				  r->off + done);

		if (n <= 0) {
			pr_perror("cannot read the image's vDSO from the pages image");
			return n ? -errno : -EIO;
		}
		done += n;
	}
	for (uint64_t p = (r->addr - start) / PAGE_SZ; p * PAGE_SZ < r->addr - start + r->len; p++)
		seen[p] = 1;
	return 0;
}

/* The image's vDSO bytes, every page of them from the pages image. */
static int read_image_vdso(struct vdso_rst *v, const VmaEntry *iv, int pages_fd, uint8_t **out)
{
	uint64_t len = iv->end - iv->start;
	uint8_t *buf, *seen;
	int ret = 0;

	if (iv->end <= iv->start || len > VDSO_LEN_MAX || (iv->start | len) % PAGE_SZ) {
		pr_err("the image's vDSO area %#" PRIx64 "-%#" PRIx64 " is not a vDSO's",
		       (uint64_t)iv->start, (uint64_t)iv->end);
		return -EINVAL;
	}
	buf = calloc(1, len);
	seen = calloc(1, len / PAGE_SZ);
	if (!buf || !seen)
		ret = -ENOMEM;
	/* add_entry() cut the runs at the area's ends. */
	for (uint32_t i = 0; !ret && i < v->nr_runs; i++)
		ret = read_run(pages_fd, &v->runs[i], iv->start, buf, seen);
	for (uint64_t p = 0; !ret && p < len / PAGE_SZ; p++) {
		if (!seen[p]) {
			pr_err("the image's vDSO page at %#" PRIx64 " is not in the pages image: "
			       "the vDSO cannot be compared with this kernel's",
			       (uint64_t)(iv->start + p * PAGE_SZ));
			ret = -EINVAL;
		}
	}
	free(seen);
	if (ret)
		free(buf);
	else
		*out = buf;
	return ret;
}

/* Is [@s, @e) clear of the image's areas (but its vDSO and vvar, if @own_ok)? */
static bool clear_of_image(const MmEntry *mm, uint64_t s, uint64_t e, bool own_ok)
{
	for (size_t i = 0; i < mm->n_vmas; i++) {
		const VmaEntry *m = mm->vmas[i];

		if (own_ok && (m->status & (VMA_AREA_VDSO | VMA_AREA_VVAR)))
			continue;
		if (s < m->end && m->start < e)
			return false;
	}
	return true;
}

static bool block_fits(const MmEntry *mm, const struct vdso_here *h, int64_t delta, bool own_ok)
{
	for (uint32_t i = 0; i < h->nr; i++) {
		uint64_t s = h->piece[i].start + delta, e = h->piece[i].end + delta;

		if (s < LOW_LIMIT || e > TASK_TOP || !clear_of_image(mm, s, e, own_ok))
			return false;
	}
	return true;
}

/*
 * Where the pieces go in the proxy case: where they are if that is clear
 * of the image, else next to one of its areas, keeping their distances.
 */
static int proxy_delta(const MmEntry *mm, const struct vdso_here *h, int64_t *delta)
{
	uint64_t lo = UINT64_MAX, hi = 0;

	for (uint32_t i = 0; i < h->nr; i++) {
		lo = h->piece[i].start < lo ? h->piece[i].start : lo;
		hi = h->piece[i].end > hi ? h->piece[i].end : hi;
	}
	*delta = 0;
	if (!h->nr || block_fits(mm, h, 0, false))
		return 0;
	for (size_t i = 0; i < mm->n_vmas; i++) {
		uint64_t below = mm->vmas[i]->start - (hi - lo) - PAGE_SZ;
		uint64_t above = mm->vmas[i]->end + PAGE_SZ;

		*delta = (int64_t)(below - lo);
		if (mm->vmas[i]->start > hi - lo + PAGE_SZ && block_fits(mm, h, *delta, false))
			return 0;
		*delta = (int64_t)(above - lo);
		if (block_fits(mm, h, *delta, false))
			return 0;
	}
	pr_err("no room for this kernel's vDSO and vvar (%" PRIu64 " bytes) next to the "
	       "task's areas", hi - lo);
	return -ENOMEM;
}

static void plan_moves(struct vdso_rst *v, const struct vdso_here *h, int64_t delta)
{
	for (uint32_t i = 0; i < h->nr; i++) {
		uint64_t len = h->piece[i].end - h->piece[i].start;

		v->moves[i] = (struct rst_move){ h->piece[i].start, h->piece[i].start + delta, len };
		v->moves_len += len;
	}
	v->nr_moves = h->nr;
}

/* This kernel's vDSO, read where it is mapped; @s->nr == 0 if there is none. */
static int parse_here(const struct vdso_here *h, struct vdso_syms *s)
{
	uint64_t at = getauxval(AT_SYSINFO_EHDR);

	memset(s, 0, sizeof(*s));
	if (!h->vdso.start)
		return 0;
	if (at != h->vdso.start)
		pr_debug("vdso: AT_SYSINFO_EHDR %#" PRIx64 ", [vdso] at %#" PRIx64 ": using the "
			 "latter", at, (uint64_t)h->vdso.start);
	return vdso_parse((const uint8_t *)(uintptr_t)h->vdso.start,
			  h->vdso.end - h->vdso.start, "this kernel's vDSO", s);
}

static int plan_proxy(struct vdso_rst *v, const MmEntry *mm, const VmaEntry *iv,
		      const struct vdso_here *h, const struct vdso_syms *old,
		      const struct vdso_syms *cur)
{
	int64_t delta;
	int ret = proxy_delta(mm, h, &delta);

	if (ret)
		return ret;
	ret = vdso_make_proxy(v->proxy, iv->start, old, h->vdso.start ? cur : NULL,
			      h->vdso.start + delta);
	if (ret)
		return ret;
	plan_moves(v, h, delta);
	v->proxy_addr = iv->start;
	v->proxy_len = iv->end - iv->start;
	pr_info("vdso: the image's vDSO differs from this kernel's: proxy at %#" PRIx64
		", this kernel's vDSO at %#" PRIx64, (uint64_t)iv->start,
		h->vdso.start ? (uint64_t)(h->vdso.start + delta) : 0);
	return 0;
}

static int plan(struct vdso_rst *v, struct rst_task *t, int pages_fd)
{
	struct vdso_syms *old = NULL, *cur = NULL;
	struct vdso_here h;
	const VmaEntry *iv;
	int ret = find_here(&h);

	if (ret)
		return ret;
	iv = image_vdso(t->mm, &ret);
	if (!iv)
		return ret;	/* none: the kernel's pieces go with the rest */
	old = malloc(sizeof(*old));
	cur = malloc(sizeof(*cur));
	ret = old && cur ? 0 : -ENOMEM;
	if (!ret)
		ret = read_image_vdso(v, iv, pages_fd, &v->proxy);
	if (!ret)
		ret = vdso_parse(v->proxy, iv->end - iv->start, "the image's vDSO", old);
	if (!ret)
		ret = parse_here(&h, cur);
	if (ret)
		goto out;
	if (h.vdso.start && vdso_same_layout(old, cur)) {
		int64_t delta = (int64_t)(iv->start - h.vdso.start);

		if (block_fits(t->mm, &h, delta, true)) {
			pr_info("vdso: same layout as the image's: moved to %#" PRIx64,
				(uint64_t)iv->start);
			plan_moves(v, &h, delta);
			free(v->proxy);
			v->proxy = NULL;
			goto out;
		}
		pr_info("vdso: same layout, but this kernel's vvar would land on the task's "
			"areas: proxy");
	}
	ret = plan_proxy(v, t->mm, iv, &h, old, cur);
out:
	free(old);
	free(cur);
	return ret;
}

int vdso_restore_plan(struct rst_task *t, int pages_fd, struct vdso_rst **v)
{
	int ret;

	if (!*v) {
		*v = calloc(1, sizeof(**v));
		if (!*v)
			return -ENOMEM;
	}
	ret = plan(*v, t, pages_fd);
	if (ret)
		pr_err("pid %d: cannot restore the vDSO", t->pid);
	return ret;
}

bool vdso_restore_proxied(const struct vdso_rst *v)
{
	return v && v->proxy;
}

size_t vdso_restore_size(const struct vdso_rst *v)
{
	if (!v)
		return 0;
	return v->moves_len + PAGE_SZ + (v->proxy ? v->proxy_len + PAGE_SZ : 0);
}

bool vdso_restore_clear(const struct vdso_rst *v, uint64_t s, uint64_t e)
{
	for (uint32_t i = 0; v && i < v->nr_moves; i++) {
		if (s < v->moves[i].to + v->moves[i].len && v->moves[i].to < e)
			return false;
	}
	return true;
}

/* The region and every piece's place now stay through the restorer's unmap, sorted. */
static int fill_keep(const struct vdso_rst *v, struct rst_args *a, const struct rst_range *region)
{
	uint32_t nr = v ? v->nr_moves : 0;

	if (nr + 1 > sizeof(a->keep) / sizeof(a->keep[0]) ||
	    nr > sizeof(a->moves) / sizeof(a->moves[0])) {
		pr_err("%u vDSO and vvar areas to keep: the restorer keeps at most %d", nr,
		       RST_MOVES_MAX);
		return -ENOTSUP;
	}
	a->nr_keep = 0;
	a->keep[a->nr_keep++] = *region;
	for (uint32_t i = 0; i < nr; i++)
		a->keep[a->nr_keep++] = (struct rst_range){ v->moves[i].from,
							    v->moves[i].from + v->moves[i].len };
	for (uint32_t i = 1; i < a->nr_keep; i++) {
		for (uint32_t j = i; j > 0 && a->keep[j].start < a->keep[j - 1].start; j--) {
			struct rst_range tmp = a->keep[j];

			a->keep[j] = a->keep[j - 1];
			a->keep[j - 1] = tmp;
		}
	}
	return 0;
}

int vdso_restore_args(struct vdso_rst *v, struct rst_args *a, struct rst_alloc *al,
		      const struct rst_range *region)
{
	int ret = fill_keep(v, a, region);

	if (ret || !v)
		return ret;
	memcpy(a->moves, v->moves, v->nr_moves * sizeof(v->moves[0]));
	a->nr_moves = v->nr_moves;
	a->move_tmp = (uintptr_t)rst_alloc(al, v->moves_len + PAGE_SZ, PAGE_SZ);
	if (v->proxy) {
		void *src = rst_alloc(al, v->proxy_len, PAGE_SZ);

		memcpy(src, v->proxy, v->proxy_len);
		a->proxy_src = (uintptr_t)src;
		a->proxy_dst = v->proxy_addr;
		a->proxy_len = v->proxy_len;
	}
	return 0;
}

void vdso_restore_free(struct vdso_rst *v)
{
	if (!v)
		return;
	free(v->runs);
	free(v->proxy);
	free(v);
}
