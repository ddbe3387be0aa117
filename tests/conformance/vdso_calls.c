/*
 * vdso_calls.c - the vDSO keeps answering across a checkpoint/restore.
 *
 * Loops calling clock_gettime, gettimeofday, time and getcpu through
 * glibc, which calls the vDSO through pointers it resolved at start, and
 * the vDSO's clock_getres and clock_gettime through pointers this program
 * resolves itself, each time afresh, from the vDSO's ELF at
 * AT_SYSINFO_EHDR (after a proxy restore that is the proxy, whose symbol
 * table is the image's).  Every answer is compared with the system call's.
 *
 * Records where [vdso] is mapped before READY.  After SIGTERM, one more
 * round of calls, then:
 *   - no argument: [vdso] is where it was (a same-layout restore moves
 *     this kernel's vDSO to the dumped address);
 *   - "proxy": the images were altered so that the vDSO's layout differs
 *     from this kernel's (tests/restore/vdso-move.py), so [vdso] is
 *     elsewhere and the old address holds the proxy, r-x.
 */
#include <elf.h>
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "stasis_test.h"

#define SLACK_NS	1000000000ll
#define MAX_FAILS	5

typedef long (*clock_fn)(clockid_t, struct timespec *);

static int nr_fails;
static long rounds;
static int64_t last_mono;

#define check(cond, ...)						\
	do {								\
		if (!(cond) && nr_fails++ < MAX_FAILS)			\
			fail(__VA_ARGS__);				\
	} while (0)

static int64_t ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000ll + t->tv_nsec;
}

static int64_t diff(int64_t a, int64_t b)
{
	return a > b ? a - b : b - a;
}

/* The vDSO's function @name, looked up in the ELF at AT_SYSINFO_EHDR; NULL if none. */
static void *vdso_sym(const char *name)
{
	uintptr_t base = getauxval(AT_SYSINFO_EHDR);
	const Elf64_Ehdr *eh = (const void *)base;
	const Elf64_Phdr *ph;
	const Elf64_Dyn *dyn = NULL;
	const Elf64_Sym *sym = NULL;
	const char *str = NULL;
	const uint32_t *hash = NULL;
	uintptr_t bias = 0;

	if (!base)
		return NULL;
	ph = (const void *)(base + eh->e_phoff);
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_LOAD && !bias)
			bias = base + ph[i].p_offset - ph[i].p_vaddr;
		else if (ph[i].p_type == PT_DYNAMIC)
			dyn = (const void *)(base + ph[i].p_offset);
	}
	for (; dyn && dyn->d_tag != DT_NULL; dyn++) {
		if (dyn->d_tag == DT_SYMTAB)
			sym = (const void *)(bias + dyn->d_un.d_ptr);
		else if (dyn->d_tag == DT_STRTAB)
			str = (const void *)(bias + dyn->d_un.d_ptr);
		else if (dyn->d_tag == DT_HASH)
			hash = (const void *)(bias + dyn->d_un.d_ptr);
	}
	if (!sym || !str || !hash)
		return NULL;
	for (uint32_t i = 1; i < hash[1]; i++) {
		if (ELF64_ST_TYPE(sym[i].st_info) == STT_FUNC && sym[i].st_shndx &&
		    !strcmp(str + sym[i].st_name, name))
			return (void *)(bias + sym[i].st_value);
	}
	return NULL;
}

static void check_clock(clockid_t id, const char *name)
{
	struct timespec v, s;

	check(!clock_gettime(id, &v), "clock_gettime(%s): %m", name);
	syscall(SYS_clock_gettime, id, &s);
	check(diff(ns(&v), ns(&s)) < SLACK_NS, "clock_gettime(%s) %lld.%09ld, the system call "
	      "%lld.%09ld", name, (long long)v.tv_sec, v.tv_nsec, (long long)s.tv_sec, s.tv_nsec);
	if (id == CLOCK_MONOTONIC) {
		check(ns(&v) >= last_mono, "CLOCK_MONOTONIC went back by %lld ns",
		      (long long)(last_mono - ns(&v)));
		last_mono = ns(&v);
	}
}

static void check_glibc(void)
{
	struct timeval tv, stv;
	unsigned int cpu = ~0u, node = ~0u;
	time_t t, st;

	check_clock(CLOCK_REALTIME, "CLOCK_REALTIME");
	check_clock(CLOCK_MONOTONIC, "CLOCK_MONOTONIC");
	check(!gettimeofday(&tv, NULL), "gettimeofday: %m");
	syscall(SYS_gettimeofday, &stv, NULL);
	check(diff(tv.tv_sec * 1000000ll + tv.tv_usec, stv.tv_sec * 1000000ll + stv.tv_usec) <
	      SLACK_NS / 1000, "gettimeofday %lld, the system call %lld", (long long)tv.tv_sec,
	      (long long)stv.tv_sec);
	t = time(NULL);
	st = syscall(SYS_time, NULL);
	check(diff(t, st) <= 1, "time() %lld, the system call %lld", (long long)t, (long long)st);
	check(!getcpu(&cpu, &node), "getcpu: %m");
	check(cpu < (unsigned int)get_nprocs_conf(), "getcpu: cpu %u of %d", cpu, get_nprocs_conf());
}

/* Through pointers resolved now from the vDSO's own symbol table. */
static void check_resolved(void)
{
	clock_fn getres = (clock_fn)vdso_sym("__vdso_clock_getres");
	clock_fn gettime = (clock_fn)vdso_sym("__vdso_clock_gettime");
	struct timespec v, s;

	check(gettime != NULL, "the vDSO exports no __vdso_clock_gettime");
	if (gettime) {
		check(!gettime(CLOCK_MONOTONIC, &v), "__vdso_clock_gettime failed");
		syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &s);
		check(diff(ns(&v), ns(&s)) < SLACK_NS, "__vdso_clock_gettime: %lld, the system "
		      "call %lld", (long long)ns(&v), (long long)ns(&s));
	}
	if (getres) {
		memset(&v, 0x55, sizeof(v));
		check(!getres(CLOCK_MONOTONIC, &v), "__vdso_clock_getres failed");
		syscall(SYS_clock_getres, CLOCK_MONOTONIC, &s);
		check(ns(&v) == ns(&s), "__vdso_clock_getres: %lld ns, the system call %lld ns",
		      (long long)ns(&v), (long long)ns(&s));
	}
}

static void round_of_calls(void)
{
	check_glibc();
	check_resolved();
	rounds++;
}

/* Where [vdso] is mapped, and the protection of the area at @at. */
static uintptr_t vdso_start(uintptr_t at, char *prot_at)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512], prot[8];
	uintptr_t found = 0;

	prot_at[0] = 0;
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long s, e;

		if (sscanf(line, "%lx-%lx %7s", &s, &e, prot) != 3)
			continue;
		if (strstr(line, "[vdso]"))
			found = s;
		if (at >= s && at < e)
			strcpy(prot_at, prot);
	}
	if (f)
		fclose(f);
	return found;
}

static void check_place(uintptr_t before, bool proxy)
{
	char prot[8];
	uintptr_t now = vdso_start(before, prot);

	if (!proxy) {
		check(now == before, "[vdso] at %#lx, it was at %#lx", (unsigned long)now,
		      (unsigned long)before);
		return;
	}
	check(now && now != before, "[vdso] at %#lx: the proxy's restore left it at %#lx",
	      (unsigned long)now, (unsigned long)before);
	check(!strcmp(prot, "r-xp"), "the old vDSO's address %#lx is '%s', not the proxy's r-xp",
	      (unsigned long)before, prot);
	check(getauxval(AT_SYSINFO_EHDR) == before, "AT_SYSINFO_EHDR %#lx, not the dumped %#lx",
	      getauxval(AT_SYSINFO_EHDR), (unsigned long)before);
}

int main(int argc, char **argv)
{
	bool proxy = argc > 1 && !strcmp(argv[1], "proxy");
	struct timespec nap = { 0, 1000000 }, before, after;
	char prot[8];
	uintptr_t start;

	test_init(argc, argv);
	start = vdso_start(0, prot);
	if (!start) {
		skip("no [vdso] in this process");
		return test_result();
	}
	round_of_calls();
	test_ready();
	while (!test_got_sigterm()) {
		round_of_calls();
		nanosleep(&nap, NULL);
	}
	clock_gettime(CLOCK_REALTIME, &before);
	round_of_calls();	/* the restored program's own calls, at least these */
	clock_gettime(CLOCK_REALTIME, &after);
	check(ns(&after) >= ns(&before), "CLOCK_REALTIME went back");
	check_place(start, proxy);
	test_msg("%ld rounds of calls, [vdso] was at %#lx", rounds, (unsigned long)start);
	if (!nr_fails)
		pass();
	return test_result();
}
