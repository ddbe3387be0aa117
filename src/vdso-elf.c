/*
 * vdso-elf.c - a vDSO's exported functions, read from its bytes, and the
 * proxy made of them.
 *
 * The bytes of the image's vDSO come from a file anyone may have written:
 * every offset, size and count is checked against the buffer before use.
 * Only what the dynamic linker itself reads is used (the PT_LOAD and
 * PT_DYNAMIC program headers, the dynamic symbol and string tables, the
 * hash table for the symbol count); section headers may be missing.
 */
#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "vdso.h"

/* Symbols the count from a hash table may claim, at most; a vDSO has a dozen. */
#define SYMS_LIMIT	4096

struct elf_view {
	const uint8_t *buf;
	uint64_t len;
	const char *what;
	uint64_t load_va, load_off;	/* the first PT_LOAD: addresses to offsets */
	uint64_t dyn_off, dyn_len;
	uint64_t strtab, strsz, symtab, syment, hash, gnu_hash;
	bool has_strtab, has_symtab, has_hash, has_gnu_hash;
};

static bool in_buf(const struct elf_view *e, uint64_t off, uint64_t size)
{
	return off <= e->len && size <= e->len - off;
}

static int bad(const struct elf_view *e, const char *why)
{
	pr_err("%s is not a vDSO this restore can read: %s", e->what, why);
	return -EINVAL;
}

static uint32_t get32(const struct elf_view *e, uint64_t off)
{
	uint32_t v;

	memcpy(&v, e->buf + off, sizeof(v));
	return v;
}

/* The file offset of @size bytes at address @va, or -EINVAL. */
static int va_off(const struct elf_view *e, uint64_t va, uint64_t size, uint64_t *off)
{
	if (va < e->load_va)
		return -EINVAL;
	*off = va - e->load_va;
	if (*off > UINT64_MAX - e->load_off)
		return -EINVAL;
	*off += e->load_off;
	return in_buf(e, *off, size) ? 0 : -EINVAL;
}

static int read_ehdr_phdrs(struct elf_view *e)
{
	Elf64_Ehdr eh;
	bool load = false, dyn = false;

	if (!in_buf(e, 0, sizeof(eh)))
		return bad(e, "shorter than an ELF header");
	memcpy(&eh, e->buf, sizeof(eh));
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG))
		return bad(e, "no ELF magic");
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB)
		return bad(e, "not 64-bit little-endian ELF");
	if (eh.e_type != ET_DYN || eh.e_machine != EM_X86_64)
		return bad(e, "not an x86-64 shared object");
	if (eh.e_phentsize != sizeof(Elf64_Phdr) ||
	    !in_buf(e, eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr)))
		return bad(e, "program headers out of bounds");
	for (uint16_t i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		memcpy(&ph, e->buf + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_LOAD && !load) {
			load = true;
			e->load_va = ph.p_vaddr;
			e->load_off = ph.p_offset;
		} else if (ph.p_type == PT_DYNAMIC && !dyn) {
			dyn = true;
			e->dyn_off = ph.p_offset;
			e->dyn_len = ph.p_filesz;
		}
	}
	if (!load || !dyn)
		return bad(e, "no PT_LOAD or no PT_DYNAMIC");
	if (!in_buf(e, e->dyn_off, e->dyn_len))
		return bad(e, "PT_DYNAMIC out of bounds");
	return 0;
}

static int read_dynamic(struct elf_view *e)
{
	uint64_t n = e->dyn_len / sizeof(Elf64_Dyn);

	e->syment = sizeof(Elf64_Sym);
	for (uint64_t i = 0; i < n; i++) {
		Elf64_Dyn d;

		memcpy(&d, e->buf + e->dyn_off + i * sizeof(d), sizeof(d));
		if (d.d_tag == DT_NULL)
			break;
		switch (d.d_tag) {
		case DT_STRTAB: e->strtab = d.d_un.d_ptr; e->has_strtab = true; break;
		case DT_SYMTAB: e->symtab = d.d_un.d_ptr; e->has_symtab = true; break;
		case DT_STRSZ: e->strsz = d.d_un.d_val; break;
		case DT_SYMENT: e->syment = d.d_un.d_val; break;
		case DT_HASH: e->hash = d.d_un.d_ptr; e->has_hash = true; break;
		case DT_GNU_HASH: e->gnu_hash = d.d_un.d_ptr; e->has_gnu_hash = true; break;
		}
	}
	if (!e->has_strtab || !e->has_symtab)
		return bad(e, "no dynamic symbol or string table");
	if (e->syment != sizeof(Elf64_Sym))
		return bad(e, "odd DT_SYMENT");
	if (!e->has_hash && !e->has_gnu_hash)
		return bad(e, "no hash table to count the symbols");
	/* From here on the tables are file offsets. */
	if (va_off(e, e->strtab, e->strsz, &e->strtab) || va_off(e, e->symtab, 0, &e->symtab))
		return bad(e, "symbol or string table out of bounds");
	return 0;
}

/* DT_HASH: its second word is the number of symbols. */
static int count_hash(struct elf_view *e, uint64_t *nr)
{
	uint64_t off;

	if (va_off(e, e->hash, 8, &off))
		return bad(e, "DT_HASH out of bounds");
	*nr = get32(e, off + 4);
	return 0;
}

/*
 * DT_GNU_HASH gives no count: the highest symbol a bucket starts at,
 * then along its chain to the entry whose low bit ends it.
 */
static int count_gnu_hash(struct elf_view *e, uint64_t *nr)
{
	uint64_t off, nbuckets, symoffset, bloom, buckets, chain, top = 0;

	if (va_off(e, e->gnu_hash, 16, &off))
		return bad(e, "DT_GNU_HASH out of bounds");
	nbuckets = get32(e, off);
	symoffset = get32(e, off + 4);
	bloom = get32(e, off + 8);
	buckets = off + 16 + bloom * 8;
	if (!in_buf(e, buckets, nbuckets * 4))
		return bad(e, "DT_GNU_HASH buckets out of bounds");
	for (uint64_t i = 0; i < nbuckets; i++) {
		if (get32(e, buckets + i * 4) > top)
			top = get32(e, buckets + i * 4);
	}
	if (top < symoffset) {
		*nr = symoffset;
		return 0;
	}
	chain = buckets + nbuckets * 4;
	for (;;) {
		uint64_t at = chain + (top - symoffset) * 4;

		if (top >= SYMS_LIMIT || !in_buf(e, at, 4))
			return bad(e, "DT_GNU_HASH chain out of bounds");
		if (get32(e, at) & 1)
			break;
		top++;
	}
	*nr = top + 1;
	return 0;
}

static int add_sym(struct elf_view *e, const Elf64_Sym *st, struct vdso_syms *s)
{
	const char *name;
	struct vdso_sym *v;
	uint64_t off;
	size_t n;

	if (st->st_name >= e->strsz)
		return bad(e, "a symbol's name out of the string table");
	name = (const char *)e->buf + e->strtab + st->st_name;
	n = strnlen(name, e->strsz - st->st_name);
	if (n == e->strsz - st->st_name)
		return bad(e, "a symbol's name runs out of the string table");
	if (n >= VDSO_NAME_MAX)
		return bad(e, "a symbol's name is too long");
	if (va_off(e, st->st_value, st->st_size ? st->st_size : 1, &off))
		return bad(e, "a function out of the vDSO's bounds");
	if (s->nr == VDSO_SYMS_MAX)
		return bad(e, "too many exported functions");
	v = &s->sym[s->nr++];
	memcpy(v->name, name, n + 1);
	v->off = off;
	v->size = st->st_size;
	return 0;
}

int vdso_parse(const uint8_t *buf, uint64_t len, const char *what, struct vdso_syms *s)
{
	struct elf_view e = { .buf = buf, .len = len, .what = what };
	uint64_t nr = 0;
	int ret;

	memset(s, 0, sizeof(*s));
	s->len = len;
	ret = read_ehdr_phdrs(&e) ?: read_dynamic(&e);
	if (ret)
		return ret;
	ret = e.has_hash ? count_hash(&e, &nr) : count_gnu_hash(&e, &nr);
	if (ret)
		return ret;
	if (nr > SYMS_LIMIT || !in_buf(&e, e.symtab, nr * sizeof(Elf64_Sym)))
		return bad(&e, "the symbol table out of bounds");
	for (uint64_t i = 1; i < nr; i++) {
		Elf64_Sym st;

		memcpy(&st, buf + e.symtab + i * sizeof(st), sizeof(st));
		if (ELF64_ST_TYPE(st.st_info) != STT_FUNC || st.st_shndx == SHN_UNDEF ||
		    (ELF64_ST_BIND(st.st_info) != STB_GLOBAL && ELF64_ST_BIND(st.st_info) != STB_WEAK))
			continue;
		ret = add_sym(&e, &st, s);
		if (ret)
			return ret;
	}
	return 0;
}

static const struct vdso_sym *find_sym(const struct vdso_syms *s, const char *name)
{
	for (uint32_t i = 0; s && i < s->nr; i++) {
		if (!strcmp(s->sym[i].name, name))
			return &s->sym[i];
	}
	return NULL;
}

bool vdso_same_layout(const struct vdso_syms *a, const struct vdso_syms *b)
{
	if (a->len != b->len || a->nr != b->nr)
		return false;
	for (uint32_t i = 0; i < a->nr; i++) {
		const struct vdso_sym *o = find_sym(b, a->sym[i].name);

		if (!o || o->off != a->sym[i].off)
			return false;
	}
	return true;
}

/* --- the proxy --- */

/*
 * jmp rel32 when the target is within 2 GiB, else movabs $to, %r11;
 * jmp *%r11 (%r11 is scratch across a call, and no argument).
 */
#define JMP_NEAR_LEN	5
#define JMP_FAR_LEN	13
/* mov $nr, %eax; syscall; ret   or   mov $-ENOSYS, %rax; ret */
#define STUB_LEN	8

/*
 * The vDSO functions that are a system call with the same arguments (at
 * most three, where the two calling conventions agree): this kernel's own
 * vDSO makes that call whenever it cannot answer from its data.  For
 * getrandom the vDSO takes two arguments more (its state), which the
 * system call does without.
 */
static const struct {
	const char *name;
	uint32_t nr;
} twins[] = {
	{ "clock_gettime", 228 }, { "clock_getres", 229 }, { "gettimeofday", 96 },
	{ "time", 201 }, { "getcpu", 309 }, { "getrandom", 318 },
};

static const char *bare(const char *name)
{
	return strncmp(name, "__vdso_", 7) ? name : name + 7;
}

/* Bytes from the entry at @off to the next one, its own end or the vDSO's. */
static uint64_t room_at(const struct vdso_syms *s, uint64_t off)
{
	uint64_t room = s->len - off;

	for (uint32_t i = 0; i < s->nr; i++) {
		const struct vdso_sym *o = &s->sym[i];

		if (o->off > off && o->off - off < room)
			room = o->off - off;
		if (o->off == off && o->size && o->size < room)
			room = o->size;
	}
	return room;
}

/* This kernel's function for the entry at @off, under any of its names. */
static const struct vdso_sym *target_of(const struct vdso_syms *old, uint64_t off,
					const struct vdso_syms *cur)
{
	for (uint32_t i = 0; i < old->nr; i++) {
		const struct vdso_sym *t;

		if (old->sym[i].off == off && (t = find_sym(cur, old->sym[i].name)))
			return t;
	}
	return NULL;
}

static bool near(uint64_t from, uint64_t to)
{
	int64_t d = (int64_t)(to - (from + JMP_NEAR_LEN));

	return d >= INT32_MIN && d <= INT32_MAX;
}

static void put_jump(uint8_t *p, uint64_t from, uint64_t to)
{
	if (near(from, to)) {
		int32_t d = (int32_t)(to - (from + JMP_NEAR_LEN));

		p[0] = 0xe9;
		memcpy(p + 1, &d, 4);
		return;
	}
	p[0] = 0x49;
	p[1] = 0xbb;
	memcpy(p + 2, &to, 8);
	p[10] = 0x41;
	p[11] = 0xff;
	p[12] = 0xe3;
}

/*
 * A function this kernel's vDSO lacks (a newer kernel's, restored on an
 * older one): the task may call it through a pointer it took long ago.
 * Its twin system call gives the same answer; without one it fails as a
 * kernel fails a call it does not know, with -ENOSYS, which callers of an
 * optional vDSO function are ready for.  Better than refusing a restore
 * for a function the task may never call.
 */
static void put_stub(uint8_t *p, const struct vdso_sym *s)
{
	static const uint8_t enosys[STUB_LEN] = { 0x48, 0xc7, 0xc0, 0xda, 0xff, 0xff, 0xff, 0xc3 };

	for (size_t i = 0; i < sizeof(twins) / sizeof(twins[0]); i++) {
		if (!strcmp(bare(s->name), twins[i].name)) {
			pr_warn("vdso: this kernel's vDSO has no %s: the proxy makes the system call",
				s->name);
			p[0] = 0xb8;
			memcpy(p + 1, &twins[i].nr, 4);
			p[5] = 0x0f;
			p[6] = 0x05;
			p[7] = 0xc3;
			return;
		}
	}
	pr_warn("vdso: this kernel's vDSO has no %s: in the proxy it returns -ENOSYS", s->name);
	memcpy(p, enosys, STUB_LEN);
}

static bool seen_before(const struct vdso_syms *s, uint32_t i)
{
	for (uint32_t j = 0; j < i; j++) {
		if (s->sym[j].off == s->sym[i].off)
			return true;
	}
	return false;
}

int vdso_make_proxy(uint8_t *buf, uint64_t base, const struct vdso_syms *old,
		    const struct vdso_syms *cur, uint64_t cur_base)
{
	for (uint32_t i = 0; i < old->nr; i++) {
		const struct vdso_sym *s = &old->sym[i], *t;
		uint64_t room, need;

		if (seen_before(old, i))
			continue;	/* an alias: its entry is patched already */
		t = target_of(old, s->off, cur);
		room = room_at(old, s->off);
		need = !t ? STUB_LEN : near(base + s->off, cur_base + t->off) ? JMP_NEAR_LEN :
		       JMP_FAR_LEN;
		if (room < need) {
			pr_err("vdso: %s at %#" PRIx64 " in the image's vDSO has %" PRIu64
			       " bytes, too few for the proxy's %" PRIu64 "-byte patch", s->name,
			       s->off, room, need);
			return -EINVAL;
		}
		if (t) {
			pr_debug("vdso: proxy %s at %#" PRIx64 " -> %#" PRIx64, s->name,
				 base + s->off, cur_base + t->off);
			put_jump(buf + s->off, base + s->off, cur_base + t->off);
		} else {
			put_stub(buf + s->off, s);
		}
	}
	return 0;
}
