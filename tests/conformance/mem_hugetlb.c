/*
 * mem_hugetlb.c - MAP_HUGETLB memory: private, shared, and a hugetlb memfd.
 *
 * Sets up, before READY, with huge pages of the default size:
 *  - a private anonymous MAP_HUGETLB area of two huge pages, its first and
 *    its last 4 KiB written with a pattern, the rest never touched;
 *  - a shared anonymous MAP_HUGETLB area of two huge pages, patterns at
 *    both ends, shared with a forked child;
 *  - a hugetlb memfd (MFD_HUGETLB) of one huge page, held by an fd and
 *    mapped shared by both tasks, a pattern at its start; the parent maps
 *    it privately too and writes another pattern there (a copy on write);
 * and records /proc/self/smaps KernelPageSize of each.
 *
 * Huge pages come from the pool (/proc/sys/vm/nr_hugepages): when it has
 * too few free, the test raises it for its run and puts it back at the
 * end; it SKIPs, saying why, when it cannot.
 *
 * Checks after SIGTERM, in both tasks: every area is at the same place,
 * still hugetlb ("ht") with the same page size, holds its patterns, and
 * reads zero where never written; the memfd fd reads what its mapping
 * holds, its private mapping the parent's copy.  Then each task writes a
 * token in the shared area and in the memfd that the other must see: the
 * two still share them.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "stasis_test.h"

#define PIECE		4096
#define SEED		0x6875676500000000ull
#define SEED_SHM	0x7368617265000000ull
#define SEED_MFD	0x6d66640000000000ull
#define SEED_COW	0x636f770000000000ull
#define NR_HUGE		6	/* private 2, shared 2, memfd 1, its private copy 1 */
#define WAIT_MS		10000
#define TOKEN_PARENT	0x70617265u
#define TOKEN_CHILD	0x6368696cu
#define NR_HUGEPAGES	"/proc/sys/vm/nr_hugepages"

/* Where the two tasks meet: words at the start of the shared area's second page. */
struct meet {
	atomic_uint child_ready;
	atomic_uint parent_says;	/* a token, through the shared area */
	atomic_uint child_done;
};

struct areas {
	size_t hs;
	char *priv, *shm, *mfd_map, *mfd_priv;
	int mfd;
};

static void nap_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static long meminfo(const char *key)
{
	char line[128];
	long val = -1;
	FILE *f = fopen("/proc/meminfo", "re");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)) && sscanf(line + strlen(key), "%ld", &val) == 1)
			break;
	if (f)
		fclose(f);
	return val;
}

/* --- the pool of huge pages --- */

static long pool_old = -1;	/* nr_hugepages to put back, -1 if untouched */

static int write_nr(long nr)
{
	FILE *f = fopen(NR_HUGEPAGES, "we");
	int ok;

	if (!f)
		return -1;
	ok = fprintf(f, "%ld\n", nr) > 0;
	return fclose(f) || !ok ? -1 : 0;
}

/* @need free huge pages, the pool raised if it must be: 0, or -1 with *@why. */
static int pool_get(long need, char *why, size_t len)
{
	long nr = -1, free = meminfo("HugePages_Free:");
	FILE *f;

	if (free >= need)
		return 0;
	f = fopen(NR_HUGEPAGES, "re");
	if (!f || fscanf(f, "%ld", &nr) != 1) {
		snprintf(why, len, "cannot read " NR_HUGEPAGES ": %m");
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	if (write_nr(nr + need - free)) {
		snprintf(why, len, "%ld free huge pages, %ld needed, and " NR_HUGEPAGES
			 " cannot be raised: %m", free, need);
		return -1;
	}
	pool_old = nr;
	free = meminfo("HugePages_Free:");
	if (free < need) {
		snprintf(why, len, "the kernel gives only %ld free huge pages, %ld needed", free,
			 need);
		return -1;
	}
	return 0;
}

static void pool_put(void)
{
	if (pool_old >= 0 && write_nr(pool_old))
		test_msg("cannot put " NR_HUGEPAGES " back to %ld: %m", pool_old);
	pool_old = -1;
}

/* --- checks --- */

/* The KernelPageSize of the area at @addr, and whether it is "ht"; 0 if none. */
static size_t area_page_size(const void *addr, int *ht)
{
	unsigned long s, e, a = (unsigned long)addr;
	char line[512];
	size_t kb = 0;
	int in = 0;
	FILE *f = fopen("/proc/self/smaps", "re");

	*ht = 0;
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &s, &e) == 2)
			in = a >= s && a < e;
		else if (in && sscanf(line, "KernelPageSize: %zu kB", &kb) == 1)
			continue;
		else if (in && !strncmp(line, "VmFlags:", 8))
			*ht = strstr(line, " ht") != NULL;
	}
	if (f)
		fclose(f);
	return kb << 10;
}

static int check_huge(const char *who, const char *what, const void *addr, size_t hs)
{
	int ht;
	size_t ps = area_page_size(addr, &ht);

	if (ht && ps == hs)
		return 0;
	fail("%s: %s at %p: page size %zu (want %zu), ht %d", who, what, addr, ps, hs, ht);
	return -1;
}

static void fill(void *p, uint64_t seed)
{
	uint64_t *w = p;

	for (size_t i = 0; i < PIECE / 8; i++)
		w[i] = seed + i;
}

static int check(const char *who, const char *what, const void *p, uint64_t seed)
{
	const uint64_t *w = p;

	for (size_t i = 0; i < PIECE / 8; i++) {
		if (w[i] != seed + i) {
			fail("%s: %s: word %zu is %#lx", who, what, i, (unsigned long)w[i]);
			return -1;
		}
	}
	return 0;
}

static int check_zero(const char *who, const char *what, const char *p)
{
	if (!*p)
		return 0;
	fail("%s: %s: a byte never written is %#x", who, what, *p);
	return -1;
}

/* What both tasks see of the shared area and the memfd. */
static int check_shared(const char *who, const struct areas *a)
{
	char buf[PIECE];
	int bad = 0;

	bad |= check_huge(who, "shared area", a->shm, a->hs);
	bad |= check_huge(who, "memfd mapping", a->mfd_map, a->hs);
	bad |= check(who, "shared area's start", a->shm, SEED_SHM);
	bad |= check(who, "shared area's end", a->shm + 2 * a->hs - PIECE, SEED_SHM + 1);
	bad |= check_zero(who, "shared area", a->shm + a->hs + 12345);
	bad |= check(who, "memfd mapping", a->mfd_map, SEED_MFD);
	bad |= check_zero(who, "memfd mapping", a->mfd_map + 54321);
	if (pread(a->mfd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf)) {
		fail("%s: cannot read the memfd: %m", who);
		return -1;
	}
	return bad | check(who, "memfd read through its fd", buf, SEED_MFD);
}

/* --- the two tasks --- */

static volatile atomic_uint *mfd_word(const struct areas *a)
{
	return (volatile atomic_uint *)(a->mfd_map + PIECE);
}

/*
 * The child: ready, then wait for the parent's token (after the restore),
 * check its view, answer through the shared area and the memfd.  Leaves if
 * the parent goes away, so that it never outlives the test.
 */
static void __attribute__((noreturn)) child(struct areas *a, pid_t parent)
{
	struct meet *m = (struct meet *)(a->shm + PIECE);
	int bad;

	/* The private areas' huge pages are the parent's to keep. */
	munmap(a->priv, 2 * a->hs);
	munmap(a->mfd_priv, a->hs);
	atomic_store(&m->child_ready, 1);
	while (atomic_load(&m->parent_says) != TOKEN_PARENT) {
		if (getppid() != parent)
			_exit(1);
		nap_ms(5);
	}
	bad = check_shared("child", a);
	if (atomic_load(mfd_word(a)) != TOKEN_PARENT) {
		fail("child: the memfd holds %#x, not the parent's token",
		     atomic_load(mfd_word(a)));
		bad = 1;
	}
	atomic_store(mfd_word(a), TOKEN_CHILD);
	atomic_store(&m->child_done, TOKEN_CHILD);
	_exit(bad ? 1 : 0);
}

static int wait_for(atomic_uint *w, unsigned int want)
{
	for (long ms = 0; atomic_load(w) != want; ms += 5) {
		if (ms >= WAIT_MS)
			return -1;
		nap_ms(5);
	}
	return 0;
}

/* The parent's side of the exchange with the child, then its end. */
static int talk_to_child(struct areas *a, pid_t pid)
{
	struct meet *m = (struct meet *)(a->shm + PIECE);
	int status, bad = 0;

	atomic_store(mfd_word(a), TOKEN_PARENT);
	atomic_store(&m->parent_says, TOKEN_PARENT);
	if (wait_for(&m->child_done, TOKEN_CHILD)) {
		fail("the child did not answer through the shared area in %d ms", WAIT_MS);
		bad = 1;
	} else if (atomic_load(mfd_word(a)) != TOKEN_CHILD) {
		fail("the memfd holds %#x, not the child's token", atomic_load(mfd_word(a)));
		bad = 1;
	}
	if (bad)
		kill(pid, SIGKILL);
	if (waitpid(pid, &status, 0) != pid) {
		fail("waitpid: %m");
		return -1;
	}
	if (!bad && (!WIFEXITED(status) || WEXITSTATUS(status))) {
		fail("the child ended with wait status %#x", status);
		bad = 1;
	}
	return bad ? -1 : 0;
}

static int setup(struct areas *a, char *why, size_t len)
{
	int prot = PROT_READ | PROT_WRITE;

	a->priv = mmap(NULL, 2 * a->hs, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	a->shm = mmap(NULL, 2 * a->hs, prot, MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	a->mfd = memfd_create("stasis-huge", MFD_HUGETLB | MFD_CLOEXEC);
	if (a->priv == MAP_FAILED || a->shm == MAP_FAILED || a->mfd < 0) {
		snprintf(why, len, "cannot map huge pages (" NR_HUGEPAGES "): %m");
		return -1;
	}
	if (ftruncate(a->mfd, a->hs)) {
		snprintf(why, len, "cannot size a hugetlb memfd: %m");
		return -1;
	}
	a->mfd_map = mmap(NULL, a->hs, prot, MAP_SHARED, a->mfd, 0);
	if (a->mfd_map == MAP_FAILED) {
		snprintf(why, len, "cannot map a hugetlb memfd: %m");
		return -1;
	}
	fill(a->priv, SEED);
	fill(a->priv + 2 * a->hs - PIECE, SEED + 1000);
	fill(a->shm, SEED_SHM);
	fill(a->shm + 2 * a->hs - PIECE, SEED_SHM + 1);
	fill(a->mfd_map, SEED_MFD);
	a->mfd_priv = mmap(NULL, a->hs, prot, MAP_PRIVATE, a->mfd, 0);
	if (a->mfd_priv == MAP_FAILED) {
		snprintf(why, len, "cannot map a hugetlb memfd privately: %m");
		return -1;
	}
	fill(a->mfd_priv + PIECE, SEED_COW);
	return 0;
}

static int check_parent(const struct areas *a)
{
	int bad = 0;

	bad |= check_huge("parent", "private area", a->priv, a->hs);
	bad |= check("parent", "private area's start", a->priv, SEED);
	bad |= check("parent", "private area's end", a->priv + 2 * a->hs - PIECE, SEED + 1000);
	bad |= check_zero("parent", "private area", a->priv + a->hs + 12345);
	bad |= check_huge("parent", "memfd private mapping", a->mfd_priv, a->hs);
	bad |= check("parent", "memfd private mapping", a->mfd_priv, SEED_MFD);
	bad |= check("parent", "memfd private copy", a->mfd_priv + PIECE, SEED_COW);
	return bad | check_shared("parent", a);
}

static int run(struct areas *a)
{
	pid_t self = getpid(), pid;
	char why[256];
	int bad;

	if (pool_get(NR_HUGE, why, sizeof(why)) || setup(a, why, sizeof(why))) {
		skip("%s", why);
		return 0;
	}
	pid = fork();
	if (pid < 0) {
		fail("fork: %m");
		return -1;
	}
	if (!pid)
		child(a, self);
	if (wait_for(&((struct meet *)(a->shm + PIECE))->child_ready, 1)) {
		fail("the child is not ready after %d ms", WAIT_MS);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	if (check_parent(a)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}

	test_ready();
	test_waitsig();

	bad = check_parent(a);
	bad |= talk_to_child(a, pid);
	return bad ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct areas a = { .hs = (size_t)meminfo("Hugepagesize:") << 10, .mfd = -1 };
	int ret;

	test_init(argc, argv);
	if (meminfo("Hugepagesize:") <= 0) {
		skip("no huge page size in /proc/meminfo");
		return test_result();
	}
	ret = run(&a);
	if (a.priv && a.priv != MAP_FAILED)
		munmap(a.priv, 2 * a.hs);
	if (a.shm && a.shm != MAP_FAILED)
		munmap(a.shm, 2 * a.hs);
	if (a.mfd_map && a.mfd_map != MAP_FAILED)
		munmap(a.mfd_map, a.hs);
	if (a.mfd_priv && a.mfd_priv != MAP_FAILED)
		munmap(a.mfd_priv, a.hs);
	if (a.mfd >= 0)
		close(a.mfd);
	pool_put();
	if (!ret)
		pass();
	return test_result();
}
