/*
 * avx512.c - AVX-512 register state live across the checkpoint.
 *
 * One asm statement loads known patterns into zmm0..zmm31, the opmask
 * registers k0..k7 (64 bits with AVX512BW, else 16), MXCSR (non-default
 * rounding, FTZ, DAZ and some sticky exception flags) and the x87 control
 * word; writes READY to the result file with a raw write(2); then sleeps
 * in raw nanosleep(2) calls until its SIGTERM handler sets a flag; and
 * only then stores all those registers to memory.  No compiled code runs
 * in between (only the signal handler, whose register state the kernel
 * saves and restores), so whatever the registers hold at the end is what
 * the checkpoint and restore left in them.
 *
 * Checks every register against its pattern and reports each wrong one.
 * Skips if the CPU or the kernel lacks AVX-512F.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "stasis_test.h"

#ifdef __x86_64__
#include <cpuid.h>

#define MXCSR_WANT	0xffe5u		/* FZ, RZ, all masked, DAZ, PE ZE IE */
#define FCW_WANT	0x0c7fu		/* all masked, 24-bit, toward zero */
#define FD_SCAN		64		/* descriptors looked at from TEST_OUT_FD */

static uint64_t zmm_want[32][8] __attribute__((aligned(64)));
static uint64_t zmm_got[32][8] __attribute__((aligned(64)));
static uint64_t k_want[8], k_got[8];
static uint32_t mxcsr_want = MXCSR_WANT, mxcsr_got;
static uint16_t fcw_want = FCW_WANT, fcw_got;
static const struct timespec nap = { .tv_nsec = 50 * 1000 * 1000 };
static const char ready_line[] = "READY\n";
static volatile int term;
static int out_fd;

static void on_sigterm(int sig)
{
	(void)sig;
	term = 1;
}

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t xgetbv0(void)
{
	uint32_t lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (uint64_t)hi << 32 | lo;
}

/* AVX-512F usable: the CPU has it and the kernel enabled its state. */
static bool have_avx512f(bool *bw)
{
	unsigned int a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE))
		return false;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & bit_AVX512F))
		return false;
	*bw = b & bit_AVX512BW;
	/* SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM */
	return (xgetbv0() & 0xe6) == 0xe6;
}

/*
 * The descriptor the library writes results to: the lowest open one from
 * TEST_OUT_FD up that is the file STASIS_TEST_OUT names; stderr when run
 * by hand without it.
 */
static int find_out_fd(void)
{
	const char *path = getenv("STASIS_TEST_OUT");
	struct stat want, st;

	if (!path)
		return STDERR_FILENO;
	if (stat(path, &want))
		return -1;
	for (int fd = TEST_OUT_FD; fd < TEST_OUT_FD + FD_SCAN; fd++) {
		if (fstat(fd, &st))
			continue;
		if (st.st_dev == want.st_dev && st.st_ino == want.st_ino)
			return fd;
	}
	return -1;
}

#define LOAD_ZMM(n)	"vmovdqu64 " #n "*64(%[zw]), %%zmm" #n "\n\t"
#define STORE_ZMM(n)	"vmovdqu64 %%zmm" #n ", " #n "*64(%[zg])\n\t"
#define ZMM_ALL(op)							\
	op(0) op(1) op(2) op(3) op(4) op(5) op(6) op(7)			\
	op(8) op(9) op(10) op(11) op(12) op(13) op(14) op(15)		\
	op(16) op(17) op(18) op(19) op(20) op(21) op(22) op(23)		\
	op(24) op(25) op(26) op(27) op(28) op(29) op(30) op(31)
#define K_ALL(op)	op(0) op(1) op(2) op(3) op(4) op(5) op(6) op(7)

#define ZMM_CLOBBERS							\
	"xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",	\
	"xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",	\
	"xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21",	\
	"xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28",	\
	"xmm29", "xmm30", "xmm31",					\
	"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"

/*
 * Load, say READY, sleep until SIGTERM, store: one asm statement, so the
 * compiler has no chance to use a vector register in between.  @KMOV is
 * kmovq or kmovw.  The syscalls clobber rax, rcx and r11 only.
 */
#define HOLD_REGS(name, KMOV)						\
__attribute__((target("avx512f"), noinline))				\
static void name(void)							\
{									\
	__asm__ volatile(						\
		ZMM_ALL(LOAD_ZMM)					\
		K_ALL(LOAD_K)						\
		"ldmxcsr %[mw]\n\t"					\
		"fldcw %[fw]\n\t"					\
		/* write(out_fd, "READY\n", 6) */			\
		"movl $" STR(SYS_write) ", %%eax\n\t"			\
		"movl %[fd], %%edi\n\t"					\
		"leaq %[rl], %%rsi\n\t"					\
		"movl $6, %%edx\n\t"					\
		"syscall\n\t"						\
		"1:\n\t"						\
		"cmpl $0, %[term]\n\t"					\
		"jne 2f\n\t"						\
		/* nanosleep(&nap, NULL) */				\
		"movl $" STR(SYS_nanosleep) ", %%eax\n\t"		\
		"leaq %[nap], %%rdi\n\t"				\
		"xorl %%esi, %%esi\n\t"					\
		"syscall\n\t"						\
		"jmp 1b\n\t"						\
		"2:\n\t"						\
		ZMM_ALL(STORE_ZMM)					\
		K_ALL(STORE_K)						\
		"stmxcsr %[mg]\n\t"					\
		"fnstcw %[fg]\n\t"					\
		: [mg] "=m"(mxcsr_got), [fg] "=m"(fcw_got)		\
		: [zw] "r"(zmm_want), [zg] "r"(zmm_got),		\
		  [kw] "r"(k_want), [kg] "r"(k_got),			\
		  [mw] "m"(mxcsr_want), [fw] "m"(fcw_want),		\
		  [fd] "m"(out_fd), [rl] "m"(ready_line),		\
		  [nap] "m"(nap), [term] "m"(term)			\
		: "rax", "rcx", "rdx", "rsi", "rdi", "r11", "memory",	\
		  "cc", ZMM_CLOBBERS);					\
}

#define STR_(x)		#x
#define STR(x)		STR_(x)

#define LOAD_K(n)	KMOV " " #n "*8(%[kw]), %%k" #n "\n\t"
#define STORE_K(n)	KMOV " %%k" #n ", " #n "*8(%[kg])\n\t"

#define KMOV "kmovq"
HOLD_REGS(hold_regs_q, KMOV)
#undef KMOV
#define KMOV "kmovw"
HOLD_REGS(hold_regs_w, KMOV)
#undef KMOV

static int check(bool bw)
{
	uint64_t kmask = bw ? ~0ull : 0xffffull;
	int bad = 0;

	for (int r = 0; r < 32; r++) {
		for (int q = 0; q < 8; q++) {
			if (zmm_got[r][q] == zmm_want[r][q])
				continue;
			fail("zmm%d qword %d: %#" PRIx64 ", want %#" PRIx64,
			     r, q, zmm_got[r][q], zmm_want[r][q]);
			bad = 1;
			break;		/* one line per register */
		}
	}
	for (int i = 0; i < 8; i++) {
		if ((k_got[i] & kmask) != (k_want[i] & kmask)) {
			fail("k%d: %#" PRIx64 ", want %#" PRIx64,
			     i, k_got[i] & kmask, k_want[i] & kmask);
			bad = 1;
		}
	}
	if (mxcsr_got != mxcsr_want) {
		fail("MXCSR %#x, want %#x", mxcsr_got, mxcsr_want);
		bad = 1;
	}
	if (fcw_got != fcw_want) {
		fail("x87 control word %#x, want %#x", fcw_got, fcw_want);
		bad = 1;
	}
	return bad ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_sigterm };
	bool bw = false;

	test_init(argc, argv);
	if (!have_avx512f(&bw)) {
		skip("no AVX-512F on this CPU, or not enabled by the kernel");
		return test_result();
	}
	out_fd = find_out_fd();
	if (out_fd < 0) {
		fail("cannot find the result file's descriptor");
		return test_result();
	}
	for (int r = 0; r < 32; r++)
		for (int q = 0; q < 8; q++)
			zmm_want[r][q] = mix((uint64_t)r << 8 | (uint64_t)q);
	for (int i = 0; i < 8; i++)
		k_want[i] = mix(0x6b00 + (uint64_t)i);
	test_msg("opmask registers %s bits wide (AVX512BW %s)",
		 bw ? "64" : "16", bw ? "present" : "absent");

	/* Our own handler: its flag is what the asm loop looks at. */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL)) {
		fail("sigaction(SIGTERM): %m");
		return test_result();
	}
	if (bw)
		hold_regs_q();
	else
		hold_regs_w();

	if (!check(bw))
		pass();
	return test_result();
}

#else /* !__x86_64__ */

int main(int argc, char **argv)
{
	test_init(argc, argv);
	skip("AVX-512 is x86-64 only");
	return test_result();
}

#endif
