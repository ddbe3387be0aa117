/*
 * mem_chain.c - memory that changes between the dumps of a chain
 * (pre-dump, pre-dump --prev-images-dir, dump --prev-images-dir): each
 * page must come back from the dump that saw its last write.
 *
 * Sets up, before READY (phase 0): A, 32 MiB anonymous private, every
 * page written with its pattern of version 0; B, 1 MiB, to be unmapped;
 * C, 256 KiB, to be grown; D, 256 KiB, to be replaced at the same place.
 *
 * Each SIGUSR1 moves to the next phase, and the task's name (comm) says
 * when it is done ("chain-1", "chain-2"), for the script that drives it:
 *   1: pages i % 3 == 1 of A get version 1; B is unmapped and its place
 *      taken by an area without access or pages; D is unmapped and
 *      mapped again at the same address with other bytes;
 *   2: pages i % 3 == 2 of A get version 2; C grows to 1 MiB (mremap,
 *      maybe moving) and every page of it is written; 16 pages of A are
 *      dropped (MADV_DONTNEED) and must read as zeroes.
 *
 * Checks after SIGTERM, in whatever phase it was dumped: every page of A,
 * C and D as the phases left it, none of B's pages back.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "stasis_test.h"

#define PSZ		4096UL
#define A_PAGES		(32UL << 20) / PSZ
#define B_LEN		(1UL << 20)
#define C_LEN		(256UL << 10)
#define C_GROWN		(1UL << 20)
#define D_LEN		(256UL << 10)
#define DROP_AT		1000	/* the first page of A dropped in phase 2 */
#define DROP_NR		16

static uint8_t *a, *b, *c, *d;
static size_t c_len = C_LEN;
static uint8_t ver[A_PAGES];
static int phase;
static volatile sig_atomic_t want_phase;

static void on_usr1(int sig)
{
	(void)sig;
	want_phase++;
}

/* Page @i of area @tag at version @v: its number, then a byte of both everywhere. */
static void fill(uint8_t *p, uint64_t i, int tag, int v)
{
	memset(p, (int)((i * 7 + v * 31 + tag) % 251) + 1, PSZ);
	memcpy(p, &i, sizeof(i));
}

static bool same(const uint8_t *p, uint64_t i, int tag, int v)
{
	uint8_t want[PSZ];

	fill(want, i, tag, v);
	return !memcmp(p, want, PSZ);
}

static void *map(void *at, size_t len)
{
	void *p = mmap(at, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | (at ? MAP_FIXED_NOREPLACE : 0), -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	/* Small pages: which were written stays a matter of single pages. */
	madvise(p, len, MADV_NOHUGEPAGE);
	return p;
}

static void phase1(void)
{
	for (size_t i = 1; i < A_PAGES; i += 3) {
		fill(a + i * PSZ, i, 'A', 1);
		ver[i] = 1;
	}
	munmap(b, B_LEN);
	if (mmap(b, B_LEN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != b)
		fail("cannot map B's place again: %m");
	munmap(d, D_LEN);
	if (map(d, D_LEN) != d) {
		fail("cannot map D again at %p: %m", d);
		return;
	}
	for (size_t i = 0; i < D_LEN / PSZ; i++)
		fill(d + i * PSZ, i, 'D', 1);
}

static void phase2(void)
{
	void *p;

	for (size_t i = 2; i < A_PAGES; i += 3) {
		fill(a + i * PSZ, i, 'A', 2);
		ver[i] = 2;
	}
	p = mremap(c, C_LEN, C_GROWN, MREMAP_MAYMOVE);
	if (p == MAP_FAILED) {
		fail("mremap: %m");
		return;
	}
	c = p;
	c_len = C_GROWN;
	for (size_t i = 0; i < c_len / PSZ; i++)
		fill(c + i * PSZ, i, 'C', 2);
	madvise(a + DROP_AT * PSZ, DROP_NR * PSZ, MADV_DONTNEED);
	for (size_t i = DROP_AT; i < DROP_AT + DROP_NR; i++)
		ver[i] = 0xff;
}

static void next_phase(void)
{
	char name[16];

	phase++;
	if (phase == 1)
		phase1();
	else if (phase == 2)
		phase2();
	snprintf(name, sizeof(name), "chain-%d", phase);
	prctl(PR_SET_NAME, name);
}

static void check(void)
{
	static const uint8_t zero[PSZ];
	static unsigned char v[B_LEN / PSZ];

	for (size_t i = 0; i < A_PAGES; i++) {
		const uint8_t *p = a + i * PSZ;
		bool ok = ver[i] == 0xff ? !memcmp(p, zero, PSZ) : same(p, i, 'A', ver[i]);

		if (!ok) {
			fail("A page %zu (phase %d): bytes %#x %#x..., not version %d", i, phase,
			     p[8], p[9], ver[i]);
			return;
		}
	}
	for (size_t i = 0; i < c_len / PSZ; i++)
		if (!same(c + i * PSZ, i, 'C', phase >= 2 ? 2 : 0)) {
			fail("C page %zu (phase %d) is wrong", i, phase);
			return;
		}
	for (size_t i = 0; i < D_LEN / PSZ; i++)
		if (!same(d + i * PSZ, i, 'D', phase >= 1 ? 1 : 0)) {
			fail("D page %zu (phase %d) is wrong", i, phase);
			return;
		}
	if (phase >= 1 && mincore(b, B_LEN, v))
		fail("B's place is not mapped: %m");
	for (size_t i = 0; phase >= 1 && i < B_LEN / PSZ; i++)
		if (v[i] & 1) {
			fail("B's page %zu came back after B was unmapped", i);
			break;
		}
	pass();
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_usr1 };

	test_init(argc, argv);
	sigaction(SIGUSR1, &sa, NULL);
	a = map(NULL, A_PAGES * PSZ);
	b = map(NULL, B_LEN);
	c = map(NULL, C_LEN);
	d = map(NULL, D_LEN);
	if (!a || !b || !c || !d) {
		fail("mmap: %m");
		return test_result();
	}
	for (size_t i = 0; i < A_PAGES; i++)
		fill(a + i * PSZ, i, 'A', 0);
	memset(b, 0x5a, B_LEN);
	for (size_t i = 0; i < C_LEN / PSZ; i++)
		fill(c + i * PSZ, i, 'C', 0);
	for (size_t i = 0; i < D_LEN / PSZ; i++)
		fill(d + i * PSZ, i, 'D', 0);
	prctl(PR_SET_NAME, "chain-0");
	test_ready();
	while (!test_got_sigterm()) {
		if (want_phase > phase && phase < 2)
			next_phase();
		else
			usleep(10000);
	}
	check();
	return test_result();
}
