/*
 * stopped.c - a task that is stopped (SIGSTOP) while it is seized and
 * cured, for the runner's --stop: the runner checks that it is still
 * stopped afterwards, and this checks that, once continued, it finds its
 * memory, identity and signal mask as they were.
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stasis_test.h"

#define MEM_WORDS	(1u << 17)	/* 1 MiB */
#define SEED		0x9e3779b97f4a7c15ull

static uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void fill(uint64_t *mem)
{
	uint64_t s = SEED;

	for (size_t i = 0; i < MEM_WORDS; i++)
		mem[i] = xorshift64(&s);
}

static int check_mem(const uint64_t *mem)
{
	uint64_t s = SEED, want;

	for (size_t i = 0; i < MEM_WORDS; i++) {
		want = xorshift64(&s);
		if (mem[i] != want) {
			fail("memory word %zu: %#llx, want %#llx", i,
			     (unsigned long long)mem[i],
			     (unsigned long long)want);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	sigset_t mask, now;
	pid_t pid, ppid;
	uint64_t *mem;
	int bad = 0;

	test_init(argc, argv);

	mem = malloc(MEM_WORDS * sizeof(*mem));
	if (!mem) {
		fail("malloc: %m");
		return test_result();
	}
	fill(mem);
	pid = getpid();
	ppid = getppid();
	sigprocmask(SIG_SETMASK, NULL, &mask);

	test_ready();
	test_waitsig();

	if (check_mem(mem))
		bad = 1;
	if (getpid() != pid || getppid() != ppid) {
		fail("pid %d, parent %d; were %d, %d", getpid(), getppid(),
		     pid, ppid);
		bad = 1;
	}
	/*
	 * Signal by signal: the kernel's mask is 64 bits, and what glibc
	 * leaves in the rest of its 128-byte sigset_t is not ours to compare.
	 */
	sigprocmask(SIG_SETMASK, NULL, &now);
	for (int sig = 1; sig < NSIG; sig++) {
		if (sigismember(&now, sig) == sigismember(&mask, sig))
			continue;
		fail("signal %d %s the mask now", sig,
		     sigismember(&now, sig) ? "joined" : "left");
		bad = 1;
	}
	if (!bad)
		pass();
	return test_result();
}
