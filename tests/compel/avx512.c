/*
 * avx512.c - every AVX-512 register must hold its value through whatever
 * is done to the task: zmm0-zmm31 whole (the upper halves and zmm16-31
 * are only in the AVX-512 parts of the XSAVE area) and the opmask
 * registers k0-k7 in all 64 bits.
 *
 * One asm block loads a distinct pattern into each register and then,
 * never loading them again, loops: store all of them, compare the copy
 * with the patterns in general-purpose registers, and poll for SIGTERM
 * with rt_sigpending().  Nothing in the loop writes a vector or opmask
 * register, so any change is interference.  The loop cannot call C code:
 * by the ABI every vector register is call-clobbered.  SIGTERM stays
 * blocked so that it ends the loop without a handler in the middle; the
 * kernel keeps the registers across syscalls and signal frames, so the
 * poll itself disturbs nothing.
 *
 * Each pattern word holds a tag and the register and lane it belongs in,
 * so a mismatch says what ended up where.
 */
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>

#include "stasis_test.h"

#define NR_ZMM		32
#define ZMM_WORDS	8		/* 512 bits */
#define NR_K		8
#define NR_WORDS	(NR_ZMM * ZMM_WORDS + NR_K)

#define ZMM_TAG		0x5aull		/* 'Z' */
#define K_TAG		0x6bull		/* 'k' */

struct regs {
	uint64_t zmm[NR_ZMM][ZMM_WORDS];
	uint64_t k[NR_K];
} __attribute__((aligned(64)));

static struct regs expect, seen;

enum spin_end { SPIN_SIGTERM, SPIN_MISMATCH, SPIN_SYSCALL };

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* tag:8 | register:8 | lane:8 | random:40 */
static uint64_t pattern(uint64_t tag, int reg, int lane, uint64_t *s)
{
	return tag << 56 | (uint64_t)reg << 48 | (uint64_t)lane << 40 |
	       (splitmix64(s) & 0xffffffffffull);
}

static void make_patterns(void)
{
	uint64_t s = 0x243f6a8885a308d3ull;

	for (int r = 0; r < NR_ZMM; r++)
		for (int l = 0; l < ZMM_WORDS; l++)
			expect.zmm[r][l] = pattern(ZMM_TAG, r, l, &s);
	for (int r = 0; r < NR_K; r++)
		expect.k[r] = pattern(K_TAG, r, 0, &s);
}

#define ZMM_LIST	"0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20," \
			"21,22,23,24,25,26,27,28,29,30,31"
#define K_LIST		"0,1,2,3,4,5,6,7"
#define K_OFF		"2048"		/* offsetof(struct regs, k) */

_Static_assert(sizeof(struct regs) == NR_WORDS * 8, "struct regs layout");
_Static_assert(__builtin_offsetof(struct regs, k) == 2048, "K_OFF");

/*
 * Load the patterns and loop until SIGTERM is pending or a register is
 * wrong; @seen then holds the registers as last stored.  Only this
 * function is built for AVX-512, so nothing else can use it on a CPU
 * without it.
 */
__attribute__((target("avx512f,avx512bw"), noinline))
static enum spin_end spin(uint64_t *loops)
{
	uint64_t pending = 0, n = 0, i, tmp;
	int end;

	asm volatile(
		".irp r," ZMM_LIST "\n\t"
		"vmovdqu64 64*\\r(%[exp]), %%zmm\\r\n\t"
		".endr\n\t"
		".irp r," K_LIST "\n\t"
		"kmovq " K_OFF "+8*\\r(%[exp]), %%k\\r\n\t"
		".endr\n"
		"1:\n\t"
		".irp r," ZMM_LIST "\n\t"
		"vmovdqu64 %%zmm\\r, 64*\\r(%[seen])\n\t"
		".endr\n\t"
		".irp r," K_LIST "\n\t"
		"kmovq %%k\\r, " K_OFF "+8*\\r(%[seen])\n\t"
		".endr\n\t"
		/* Compare word by word, in general-purpose registers only. */
		"xor %k[i], %k[i]\n"
		"2:\n\t"
		"mov (%[exp],%[i],8), %[tmp]\n\t"
		"cmp (%[seen],%[i],8), %[tmp]\n\t"
		"jne 3f\n\t"
		"inc %[i]\n\t"
		"cmp %[nwords], %[i]\n\t"
		"jne 2b\n\t"
		"inc %[n]\n\t"
		/* rt_sigpending(&pending, 8): rax, rcx, r11 change, no more. */
		"mov %[nr], %%eax\n\t"
		"lea %[pending], %%rdi\n\t"
		"mov $8, %%esi\n\t"
		"syscall\n\t"
		"test %%rax, %%rax\n\t"
		"jnz 4f\n\t"
		"testq %[term], %[pending]\n\t"
		"jz 1b\n\t"
		"mov %[e_term], %[end]\n\t"
		"jmp 5f\n"
		"3:\n\t"
		"mov %[e_bad], %[end]\n\t"
		"jmp 5f\n"
		"4:\n\t"
		"mov %[e_sys], %[end]\n"
		"5:\n"
		: [n] "+r" (n), [i] "=&r" (i), [tmp] "=&r" (tmp),
		  [end] "=&r" (end), [pending] "+m" (pending)
		: [exp] "r" (&expect), [seen] "r" (&seen),
		  [nwords] "i" (NR_WORDS), [nr] "i" (SYS_rt_sigpending),
		  [term] "i" (1ull << (SIGTERM - 1)),
		  [e_term] "i" (SPIN_SIGTERM), [e_bad] "i" (SPIN_MISMATCH),
		  [e_sys] "i" (SPIN_SYSCALL)
		: "rax", "rcx", "rdi", "rsi", "r11", "cc", "memory",
		  "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
		  "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
		  "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21",
		  "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28",
		  "xmm29", "xmm30", "xmm31",
		  "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7");
	*loops = n;
	return end;
}

/* Name every register in @seen that differs from its pattern. */
static void report_mismatch(void)
{
	int lanes, first;

	for (int r = 0; r < NR_ZMM; r++) {
		lanes = 0;
		first = -1;
		for (int l = 0; l < ZMM_WORDS; l++) {
			if (seen.zmm[r][l] == expect.zmm[r][l])
				continue;
			lanes++;
			if (first < 0)
				first = l;
		}
		if (lanes)
			fail("zmm%d: %d of 8 words changed, word %d is %#llx, want %#llx",
			     r, lanes, first,
			     (unsigned long long)seen.zmm[r][first],
			     (unsigned long long)expect.zmm[r][first]);
	}
	for (int r = 0; r < NR_K; r++)
		if (seen.k[r] != expect.k[r])
			fail("k%d: %#llx, want %#llx", r,
			     (unsigned long long)seen.k[r],
			     (unsigned long long)expect.k[r]);
}

int main(int argc, char **argv)
{
	enum spin_end end;
	uint64_t loops = 0;
	sigset_t term;

	test_init(argc, argv);
	if (!__builtin_cpu_supports("avx512f") ||
	    !__builtin_cpu_supports("avx512bw")) {
		skip("no AVX-512F and AVX-512BW here");
		return test_result();
	}
	make_patterns();

	/* Ends the loop by being pending; test_waitsig() takes it after. */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, NULL);

	test_ready();
	end = spin(&loops);
	if (end == SPIN_MISMATCH)
		report_mismatch();
	else if (end == SPIN_SYSCALL)
		fail("rt_sigpending failed in the loop");
	/* After a failure too: the runner expects us alive until SIGTERM. */
	test_waitsig();

	test_msg("%llu loops", (unsigned long long)loops);
	if (end == SPIN_SIGTERM && !loops)
		fail("the check loop never ran");
	if (end == SPIN_SIGTERM && loops)
		pass();
	return test_result();
}
