/*
 * test_vdso.c - unit tests of the vDSO reader and the proxy, on this
 * kernel's vDSO as this process has it (its layout is read, never assumed):
 * the reader finds what the dynamic linker finds and refuses broken ELF;
 * a proxy built from a copy, mapped near and far from the real vDSO,
 * answers as the system calls do; stubs stand in for missing functions.
 */
#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "vdso.h"

typedef long (*clock_fn)(clockid_t, struct timespec *);

static int failures;

#define CHECK(cond, name)						\
	do {								\
		if (cond) {						\
			printf("PASS: vdso: %s\n", name);		\
		} else {						\
			printf("FAIL: vdso: %s: %s (line %d)\n", name, #cond, __LINE__); \
			failures++;					\
		}							\
	} while (0)

static uint8_t *vdso;
static uint64_t vdso_len;

static void find_vdso(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];

	while (f && fgets(line, sizeof(line), f)) {
		unsigned long s, e;

		if (sscanf(line, "%lx-%lx", &s, &e) == 2 && strstr(line, "[vdso]")) {
			vdso = (uint8_t *)s;
			vdso_len = e - s;
		}
	}
	if (f)
		fclose(f);
}

static const struct vdso_sym *sym(const struct vdso_syms *s, const char *name)
{
	for (uint32_t i = 0; i < s->nr; i++) {
		if (!strcmp(s->sym[i].name, name))
			return &s->sym[i];
	}
	return NULL;
}

static int64_t ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000ll + t->tv_nsec;
}

/* A copy of the vDSO at @hint (or anywhere), writable and executable. */
static uint8_t *copy_at(uint64_t hint)
{
	uint8_t *p = mmap((void *)hint, vdso_len, PROT_READ | PROT_WRITE | PROT_EXEC,
			  MAP_PRIVATE | MAP_ANONYMOUS | (hint ? MAP_FIXED_NOREPLACE : 0), -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memcpy(p, vdso, vdso_len);
	return p;
}

static void test_parse(const struct vdso_syms *s)
{
	const struct vdso_sym *gt = sym(s, "__vdso_clock_gettime");
	bool inside = true;

	CHECK(s->nr > 0 && s->len == vdso_len, "this kernel's vDSO exports functions");
	for (uint32_t i = 0; i < s->nr; i++)
		inside &= s->sym[i].off < vdso_len && s->sym[i].size <= vdso_len - s->sym[i].off;
	CHECK(inside, "every function lies inside the vDSO");
	/* What the dynamic linker resolved for glibc is what the reader found. */
	CHECK(gt && (uint8_t *)getauxval(AT_SYSINFO_EHDR) == vdso, "__vdso_clock_gettime found");
	CHECK(vdso_same_layout(s, s), "a vDSO has its own layout");
}

static void test_bad(void)
{
	uint8_t *b = malloc(vdso_len);
	static struct vdso_syms s;
	bool sane = true;
	Elf64_Ehdr *eh = (Elf64_Ehdr *)b;

	log_set_level(LOG_MSG);
	CHECK(vdso_parse(vdso, 16, "short", &s) == -EINVAL, "refuses 16 bytes");
	memcpy(b, vdso, vdso_len);
	b[1] = 'X';
	CHECK(vdso_parse(b, vdso_len, "magic", &s) == -EINVAL, "refuses a bad magic");
	memcpy(b, vdso, vdso_len);
	eh->e_phoff = vdso_len - 8;
	CHECK(vdso_parse(b, vdso_len, "phdrs", &s) == -EINVAL, "refuses program headers outside");
	memcpy(b, vdso, vdso_len);
	eh->e_phnum = 0;
	CHECK(vdso_parse(b, vdso_len, "no phdrs", &s) == -EINVAL, "refuses no PT_DYNAMIC");
	/* Every word of the ELF's first 2 KiB flipped in turn: an error or a sane answer. */
	for (uint64_t off = 0; off + 8 <= 2048 && off + 8 <= vdso_len; off += 8) {
		memcpy(b, vdso, vdso_len);
		memset(b + off, 0xff, 8);
		if (vdso_parse(b, vdso_len, "flipped", &s))
			continue;
		for (uint32_t i = 0; i < s.nr; i++)
			sane &= s.sym[i].off < vdso_len && s.sym[i].size <= vdso_len - s.sym[i].off;
	}
	CHECK(sane, "flipped words give an error or functions inside the vDSO");
	log_set_level(LOG_WARN);
	free(b);
}

/* A proxy at @p: its clock_gettime jumps to the real one (near or far, as @p lies). */
static void test_proxy_at(uint8_t *p, const struct vdso_syms *s, const char *name)
{
	const struct vdso_sym *gt = sym(s, "__vdso_clock_gettime");
	struct timespec v, r;
	char what[128];

	snprintf(what, sizeof(what), "%s: the proxy is built", name);
	CHECK(vdso_make_proxy(p, (uintptr_t)p, s, s, (uintptr_t)vdso) == 0, what);
	memset(&v, 0, sizeof(v));
	snprintf(what, sizeof(what), "%s: clock_gettime through the proxy", name);
	CHECK(((clock_fn)(p + gt->off))(CLOCK_MONOTONIC, &v) == 0, what);
	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &r);
	snprintf(what, sizeof(what), "%s: its answer is the system call's", name);
	CHECK(ns(&r) >= ns(&v) && ns(&r) - ns(&v) < 1000000000ll, what);
}

static void test_proxy(const struct vdso_syms *s)
{
	uint8_t *far = copy_at(0x100000000ull);
	uint8_t *near = NULL;

	for (uint64_t d = 16 << 20; !near && d < (1ull << 30); d += 16 << 20)
		near = copy_at((uintptr_t)vdso - d);
	if (far && (uintptr_t)vdso - (uintptr_t)far > (1ull << 32))
		test_proxy_at(far, s, "far");
	else
		CHECK(0, "a copy 4 GiB and more away from the vDSO");
	CHECK(near != NULL, "a copy near the vDSO");
	if (near) {
		test_proxy_at(near, s, "near");
		CHECK(near[sym(s, "__vdso_clock_gettime")->off] == 0xe9, "near: a rel32 jump");
	}
}

/* Drop every name of the function at @off from @s. */
static void drop(struct vdso_syms *s, uint64_t off)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < s->nr; i++) {
		if (s->sym[i].off != off)
			s->sym[n++] = s->sym[i];
	}
	s->nr = n;
}

static void test_stubs(const struct vdso_syms *s)
{
	const struct vdso_sym *res = sym(s, "__vdso_clock_getres");
	const struct vdso_sym *t = sym(s, "__vdso_time");
	struct vdso_syms cur = *s, old = *s;
	uint8_t *p = copy_at(0);
	struct timespec v, r;

	if (!res || !t || !p) {
		printf("SKIP: vdso: stubs: no clock_getres or time in this vDSO\n");
		return;
	}
	/* clock_getres missing here: its system call twin answers. */
	drop(&cur, res->off);
	/* time renamed in the image: nothing here has that name, so -ENOSYS. */
	for (uint32_t i = 0; i < old.nr; i++) {
		if (old.sym[i].off == t->off)
			snprintf(old.sym[i].name, VDSO_NAME_MAX, "__vdso_frobnicate%u", i);
	}
	CHECK(vdso_make_proxy(p, (uintptr_t)p, &old, &cur, (uintptr_t)vdso) == 0,
	      "a proxy with missing functions is built");
	CHECK(((clock_fn)(p + res->off))(CLOCK_REALTIME, &v) == 0, "clock_getres by its twin");
	syscall(SYS_clock_getres, CLOCK_REALTIME, &r);
	CHECK(ns(&v) == ns(&r), "the twin answers as the system call");
	CHECK(((long (*)(void))(p + t->off))() == -ENOSYS, "an unknown function returns -ENOSYS");
	old = *s;
	for (uint32_t i = 0; i < old.nr; i++)
		old.sym[i].size = old.sym[i].off == t->off ? 4 : old.sym[i].size;
	log_set_level(LOG_MSG);
	CHECK(vdso_make_proxy(p, (uintptr_t)p, &old, s, (uintptr_t)vdso) == -EINVAL,
	      "refuses a function too small for its patch");
	log_set_level(LOG_WARN);
}

int main(void)
{
	static struct vdso_syms s;

	find_vdso();
	if (!vdso) {
		printf("SKIP: vdso: this process has no vDSO\n");
		return 0;
	}
	CHECK(vdso_parse(vdso, vdso_len, "this kernel's vDSO", &s) == 0, "reads this kernel's vDSO");
	test_parse(&s);
	test_bad();
	if (sym(&s, "__vdso_clock_gettime")) {
		test_proxy(&s);
		test_stubs(&s);
	}
	return failures ? 1 : 0;
}
