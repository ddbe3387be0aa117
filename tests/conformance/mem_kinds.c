/*
 * mem_kinds.c - memory of several kinds, part of it shared with a child.
 *
 * Sets up, before READY:
 *   - private anonymous memory holding a pattern, with one page that is
 *     never touched;
 *   - a MAP_SHARED|MAP_ANONYMOUS region, filled with a pattern and then
 *     shared with a forked child;
 *   - a MAP_PRIVATE mapping of a file in a temporary directory under /tmp,
 *     at a non-zero file offset, with some pages written (so copied on
 *     write) and the others as the file has them;
 *   - a block of anonymous pages with different protections and PROT_NONE
 *     gaps between them: rw- --- r-- --- r-x --- rw-;
 *   - a MAP_GROWSDOWN mapping with free room below it.
 *
 * Checks after SIGTERM, against what was recorded before READY:
 *   - every byte: the patterns, the untouched page still zero, the written
 *     file pages still written, the others equal to the file's bytes;
 *   - /proc/self/maps: each region at the same addresses with the same
 *     permissions (---p for the gaps), the file mapping with the same path
 *     and offset; the growsdown mapping still "gd" in /proc/self/smaps;
 *   - the r-x page still executes (x86: a tiny function copied there);
 *   - the growsdown mapping still grows when the page below is touched;
 *   - the shared region is still shared: the parent writes a new value,
 *     the child must see it and answer through the same region.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "stasis_test.h"

#define ANON_PAGES	16
#define ANON_HOLE	5		/* the page of ANON_PAGES never touched */
#define SHARED_PAGES	4		/* page 0: struct shared, then pattern */
#define FILE_PAGES	10		/* pages in the file */
#define FMAP_OFF	2		/* first file page mapped */
#define FMAP_PAGES	6		/* pages mapped */
#define GD_PAGES	4
#define GD_ROOM		64		/* free pages below the growsdown map */
#define CHILD_WAIT_MS	5000

#define SEED_ANON	0x616e6f6e00000000ull
#define SEED_SHARED	0x7368617265640000ull
#define SEED_FILE	0x66696c6500000000ull
#define SEED_COW	0x636f770000000000ull
#define SEED_PROT	0x70726f7400000000ull

#define CHILD_READY	0x52454459u
#define TOKEN		0x5eed1234u
#define ACK(t)		((t) ^ 0xa5a5a5a5u)
#define FUNC_RET	0x1234abcd

/* Written file pages, relative to the mapping: copied on write. */
static const bool cow_page[FMAP_PAGES] = { false, true, false, false, true, false };

/* The block with PROT_NONE gaps, one page per region. */
static const struct {
	int prot;
	const char *perms;
} prot_block[] = {
	{ PROT_READ | PROT_WRITE, "rw-p" },
	{ PROT_NONE,		  "---p" },
	{ PROT_READ,		  "r--p" },
	{ PROT_NONE,		  "---p" },
	{ PROT_READ | PROT_EXEC,  "r-xp" },
	{ PROT_NONE,		  "---p" },
	{ PROT_READ | PROT_WRITE, "rw-p" },
};
#define PROT_PAGES	(sizeof(prot_block) / sizeof(prot_block[0]))
#define PROT_CODE	4		/* the r-x page */

struct shared {
	atomic_uint cmd;	/* parent -> child */
	atomic_uint ack;	/* child -> parent */
};

static size_t page;
static char tmpdir[] = "/tmp/stasis-mem_kinds.XXXXXX";
static char file_path[sizeof(tmpdir) + 8];

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Word i of the pattern @seed; @seed also encodes which page it is. */
static void fill(void *mem, size_t len, uint64_t seed)
{
	uint64_t *p = mem;

	for (size_t i = 0; i < len / sizeof(*p); i++)
		p[i] = mix(seed + i);
}

/*
 * Compare @len bytes at @mem with pattern @seed (or zeroes if @zero);
 * reports the first wrong word as a failure of @what.
 */
static int check_fill(const char *what, const void *mem, size_t len,
		      uint64_t seed, bool zero)
{
	const uint64_t *p = mem;
	uint64_t want;

	for (size_t i = 0; i < len / sizeof(*p); i++) {
		want = zero ? 0 : mix(seed + i);
		if (p[i] == want)
			continue;
		fail("%s at %p, offset %#zx: %#" PRIx64 ", want %#" PRIx64,
		     what, mem, i * sizeof(*p), p[i], want);
		return -1;
	}
	return 0;
}

/* One line of /proc/self/maps. */
struct map_line {
	unsigned long start, end, off;
	char perms[8];
	char path[PATH_MAX];
};

/* The maps line of the region holding @addr; -1 if none does. */
static int find_map(unsigned long addr, struct map_line *m)
{
	char line[PATH_MAX + 128];
	FILE *f = fopen("/proc/self/maps", "re");
	int n, ret = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		m->path[0] = '\0';
		n = sscanf(line, "%lx-%lx %7s %lx %*s %*s %4095[^\n]",
			   &m->start, &m->end, m->perms, &m->off, m->path);
		if (n < 4)
			continue;
		if (addr >= m->start && addr < m->end) {
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

/*
 * /proc/self/maps must have exactly [@start, @start + @len) with @perms,
 * and, if @path, that file at offset @off.
 */
static int check_map(const char *what, const void *start, size_t len,
		     const char *perms, const char *path, unsigned long off)
{
	unsigned long s = (unsigned long)start, e = s + len;
	struct map_line m;

	if (find_map(s, &m)) {
		fail("%s: no mapping at %#lx in /proc/self/maps", what, s);
		return -1;
	}
	if (m.start != s || m.end != e || strcmp(m.perms, perms)) {
		fail("%s: /proc/self/maps has %#lx-%#lx %s, want %#lx-%#lx %s",
		     what, m.start, m.end, m.perms, s, e, perms);
		return -1;
	}
	if (path && (strcmp(m.path, path) || m.off != off)) {
		fail("%s: /proc/self/maps has '%s' at offset %#lx, want '%s' at %#lx",
		     what, m.path, m.off, path, off);
		return -1;
	}
	return 0;
}

/* VmFlags of the smaps entry starting at @start, into @flags. */
static int smaps_vmflags(const void *start, char *flags, size_t len)
{
	char line[PATH_MAX + 128], head[32];
	FILE *f = fopen("/proc/self/smaps", "re");
	bool in = false;
	int ret = -1;

	if (!f)
		return -1;
	snprintf(head, sizeof(head), "%lx-", (unsigned long)start);
	while (fgets(line, sizeof(line), f)) {
		if (!in) {
			in = !strncmp(line, head, strlen(head));
			continue;
		}
		if (!strncmp(line, "VmFlags:", 8)) {
			size_t n = strcspn(line + 8, "\n");

			if (n >= len)
				n = len - 1;
			memcpy(flags, line + 8, n);
			flags[n] = '\0';
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

static bool has_vmflag(const char *flags, const char *flag)
{
	char buf[256], *tok, *save;

	snprintf(buf, sizeof(buf), "%s", flags);
	for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
		if (!strcmp(tok, flag))
			return true;
	return false;
}

static void nap_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000 };

	nanosleep(&ts, NULL);
}

/*
 * The child: check the shared pattern, say it is there, then wait for the
 * parent's token, check again, answer.  Exits 0 if all was well.  Leaves
 * if its parent goes away, so that it never outlives the test.
 */
static void __attribute__((noreturn)) child(uint8_t *shm, pid_t parent)
{
	struct shared *sh = (struct shared *)shm;
	unsigned int cmd;
	int bad = 0;

	if (check_fill("child: shared page", shm + page,
		       (SHARED_PAGES - 1) * page, SEED_SHARED, false))
		_exit(1);
	atomic_store(&sh->ack, CHILD_READY);

	while (!(cmd = atomic_load(&sh->cmd))) {
		if (getppid() != parent)
			_exit(1);
		nap_ms(5);
	}
	if (check_fill("child: shared page", shm + page,
		       (SHARED_PAGES - 1) * page, SEED_SHARED, false))
		bad = 1;
	if (cmd != TOKEN) {
		fail("child: read %#x from the shared region, want %#x",
		     cmd, TOKEN);
		bad = 1;
	}
	atomic_store(&sh->ack, ACK(cmd));
	_exit(bad);
}

/* Wait up to @ms for @pid to exit; 0 with its status, -1 if it did not. */
static int wait_child(pid_t pid, int *status, long ms)
{
	for (long waited = 0; ; waited += 5) {
		pid_t ret = waitpid(pid, status, WNOHANG);

		if (ret == pid)
			return 0;
		if (ret < 0 || waited >= ms)
			return -1;
		nap_ms(5);
	}
}

/* The parent's side of the shared-region check, after SIGTERM. */
static int check_shared(uint8_t *shm, pid_t pid)
{
	struct shared *sh = (struct shared *)shm;
	unsigned int ack;
	int status, bad = 0;

	if (check_fill("shared page", shm + page, (SHARED_PAGES - 1) * page,
		       SEED_SHARED, false))
		bad = 1;
	atomic_store(&sh->cmd, TOKEN);
	if (wait_child(pid, &status, CHILD_WAIT_MS)) {
		fail("child %d did not see %#x written to the shared region within %d ms",
		     pid, TOKEN, CHILD_WAIT_MS);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fail("child %d ended with wait status %#x", pid, status);
		bad = 1;
	}
	ack = atomic_load(&sh->ack);
	if (ack != ACK(TOKEN)) {
		fail("child's answer in the shared region: %#x, want %#x",
		     ack, ACK(TOKEN));
		bad = 1;
	}
	return bad ? -1 : 0;
}

static sigjmp_buf segv_jmp;

static void on_segv(int sig)
{
	(void)sig;
	siglongjmp(segv_jmp, 1);
}

/* Touch the page below the growsdown mapping: it must grow down to it. */
static int check_grows(uint8_t *gd)
{
	struct sigaction sa = { .sa_handler = on_segv }, old;
	volatile uint8_t *below = gd - page;
	volatile int ret = 0;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old);
	if (sigsetjmp(segv_jmp, 1)) {
		fail("growsdown mapping at %p: SIGSEGV touching %p below it",
		     (void *)gd, (void *)below);
		ret = -1;
	} else {
		*below = 0x77;
	}
	sigaction(SIGSEGV, &old, NULL);
	if (!ret && check_map("grown growsdown mapping", gd - page,
			      (GD_PAGES + 1) * page, "rw-p", NULL, 0))
		ret = -1;
	return ret;
}

#if defined(__x86_64__) || defined(__i386__)
/* mov $FUNC_RET, %eax; ret */
static const uint8_t code[] = { 0xb8, 0xcd, 0xab, 0x34, 0x12, 0xc3 };

static int check_exec(uint8_t *p)
{
	int (*func)(void) = (int (*)(void))(void *)p;
	int ret;

	if (memcmp(p, code, sizeof(code))) {
		fail("r-x page at %p: code bytes changed", (void *)p);
		return -1;
	}
	ret = func();
	if (ret != FUNC_RET) {
		fail("function in the r-x page returned %#x, want %#x",
		     ret, FUNC_RET);
		return -1;
	}
	return 0;
}
#else
static const uint8_t code[] = { 0 };

static int check_exec(uint8_t *p)
{
	(void)p;
	return 0;
}
#endif

struct regions {
	uint8_t *anon;
	uint8_t *shm;
	uint8_t *fmap;
	uint8_t *prot;
	uint8_t *gd;
};

/* Everything but the shared region's sharing and the growing. */
static int check_all(const struct regions *r, const char *when)
{
	char what[96], flags[256];
	int bad = 0;
	size_t i;

	for (i = 0; i < ANON_PAGES; i++) {
		snprintf(what, sizeof(what), "%s: anon page %zu", when, i);
		if (check_fill(what, r->anon + i * page, page,
			       SEED_ANON + i * page, i == ANON_HOLE))
			bad = 1;
	}
	snprintf(what, sizeof(what), "%s: anon private", when);
	if (check_map(what, r->anon, ANON_PAGES * page, "rw-p", NULL, 0))
		bad = 1;
	snprintf(what, sizeof(what), "%s: anon shared", when);
	if (check_map(what, r->shm, SHARED_PAGES * page, "rw-s", NULL, 0))
		bad = 1;

	for (i = 0; i < FMAP_PAGES; i++) {
		uint64_t seed = cow_page[i] ? SEED_COW + i * page :
				SEED_FILE + (FMAP_OFF + i) * page;

		snprintf(what, sizeof(what), "%s: file page %zu (%s)", when,
			 FMAP_OFF + i, cow_page[i] ? "written" : "as in file");
		if (check_fill(what, r->fmap + i * page, page, seed, false))
			bad = 1;
	}
	snprintf(what, sizeof(what), "%s: private file mapping", when);
	if (check_map(what, r->fmap, FMAP_PAGES * page, "rw-p", file_path,
		      FMAP_OFF * page))
		bad = 1;

	for (i = 0; i < PROT_PAGES; i++) {
		uint8_t *p = r->prot + i * page;

		snprintf(what, sizeof(what), "%s: %s page %zu of the block",
			 when, prot_block[i].perms, i);
		if (check_map(what, p, page, prot_block[i].perms, NULL, 0))
			bad = 1;
		else if (i == PROT_CODE && check_exec(p))
			bad = 1;
		else if (i != PROT_CODE && prot_block[i].prot != PROT_NONE &&
			 check_fill(what, p, page, SEED_PROT + i * page, false))
			bad = 1;
	}

	snprintf(what, sizeof(what), "%s: growsdown mapping", when);
	if (check_fill(what, r->gd, GD_PAGES * page, SEED_ANON ^ 0x6764, false))
		bad = 1;
	if (check_map(what, r->gd, GD_PAGES * page, "rw-p", NULL, 0)) {
		bad = 1;
	} else if (smaps_vmflags(r->gd, flags, sizeof(flags))) {
		fail("%s: no VmFlags in /proc/self/smaps", what);
		bad = 1;
	} else if (!has_vmflag(flags, "gd")) {
		fail("%s: VmFlags '%s' lack gd", what, flags);
		bad = 1;
	}
	return bad ? -1 : 0;
}

static void *map_anon(size_t len, int prot, int flags)
{
	void *p = mmap(NULL, len, prot, flags | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		fail("mmap %zu bytes: %m", len);
		return NULL;
	}
	return p;
}

/*
 * Map @len bytes of @fd (-1: anonymous) between two PROT_NONE pages, so
 * that the kernel cannot merge the region with a neighbour of the same
 * kind and maps lists it exactly as mapped.
 */
static void *map_fenced(size_t len, int prot, int flags, int fd, off_t off)
{
	uint8_t *res = map_anon(len + 2 * page, PROT_NONE, MAP_PRIVATE);
	void *p;

	if (!res)
		return NULL;
	if (fd < 0)
		flags |= MAP_ANONYMOUS;
	p = mmap(res + page, len, prot, flags | MAP_FIXED, fd, off);
	if (p == MAP_FAILED) {
		fail("mmap %zu bytes, flags %#x: %m", len, flags);
		return NULL;
	}
	return p;
}

static int setup_file(struct regions *r)
{
	uint8_t *buf;
	int fd;

	if (!mkdtemp(tmpdir)) {
		fail("mkdtemp: %m");
		return -1;
	}
	snprintf(file_path, sizeof(file_path), "%s/data", tmpdir);
	fd = open(file_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		fail("create %s: %m", file_path);
		return -1;
	}
	buf = malloc(page);
	if (!buf) {
		close(fd);
		return -1;
	}
	for (size_t i = 0; i < FILE_PAGES; i++) {
		fill(buf, page, SEED_FILE + i * page);
		if (write(fd, buf, page) != (ssize_t)page) {
			fail("write %s: %m", file_path);
			close(fd);
			free(buf);
			return -1;
		}
	}
	free(buf);
	r->fmap = map_fenced(FMAP_PAGES * page, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE, fd, FMAP_OFF * page);
	close(fd);	/* the mapping alone keeps the file */
	if (!r->fmap)
		return -1;
	for (size_t i = 0; i < FMAP_PAGES; i++)
		if (cow_page[i])
			fill(r->fmap + i * page, page, SEED_COW + i * page);
	return 0;
}

/* The block with gaps, fenced like the others. */
static int setup_prot(struct regions *r)
{
	r->prot = map_fenced(PROT_PAGES * page, PROT_NONE, MAP_PRIVATE, -1, 0);
	if (!r->prot)
		return -1;
	if (mprotect(r->prot, PROT_PAGES * page, PROT_READ | PROT_WRITE)) {
		fail("mprotect: %m");
		return -1;
	}
	for (size_t i = 0; i < PROT_PAGES; i++) {
		uint8_t *p = r->prot + i * page;

		if (i == PROT_CODE)
			memcpy(p, code, sizeof(code));
		else if (prot_block[i].prot != PROT_NONE)
			fill(p, page, SEED_PROT + i * page);
	}
	for (size_t i = 0; i < PROT_PAGES; i++) {
		if (mprotect(r->prot + i * page, page, prot_block[i].prot)) {
			fail("mprotect page %zu to %s: %m", i, prot_block[i].perms);
			return -1;
		}
	}
	return 0;
}

/*
 * A PROT_NONE floor page, GD_ROOM free pages, then the growsdown mapping:
 * room to grow into, and nothing accessible below to stop it.
 */
static int setup_growsdown(struct regions *r)
{
	size_t len = (1 + GD_ROOM + GD_PAGES) * page;
	uint8_t *res = map_anon(len, PROT_NONE, MAP_PRIVATE), *gd;

	if (!res)
		return -1;
	munmap(res + page, GD_ROOM * page);
	gd = mmap(res + (1 + GD_ROOM) * page, GD_PAGES * page,
		  PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_GROWSDOWN, -1, 0);
	if (gd == MAP_FAILED) {
		fail("mmap MAP_GROWSDOWN: %m");
		return -1;
	}
	fill(gd, GD_PAGES * page, SEED_ANON ^ 0x6764);
	r->gd = gd;
	return 0;
}

static void cleanup(void)
{
	if (file_path[0])
		unlink(file_path);
	rmdir(tmpdir);
}

int main(int argc, char **argv)
{
	struct regions r = { 0 };
	struct shared *sh;
	pid_t pid, self;
	int bad = 0;

	test_init(argc, argv);
	page = (size_t)sysconf(_SC_PAGESIZE);
	self = getpid();

	r.anon = map_fenced(ANON_PAGES * page, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE, -1, 0);
	r.shm = map_fenced(SHARED_PAGES * page, PROT_READ | PROT_WRITE,
			   MAP_SHARED, -1, 0);
	if (!r.anon || !r.shm)
		return test_result();
	for (size_t i = 0; i < ANON_PAGES; i++)
		if (i != ANON_HOLE)
			fill(r.anon + i * page, page, SEED_ANON + i * page);
	fill(r.shm + page, (SHARED_PAGES - 1) * page, SEED_SHARED);
	sh = (struct shared *)r.shm;

	pid = fork();
	if (pid < 0) {
		fail("fork: %m");
		return test_result();
	}
	if (pid == 0)
		child(r.shm, self);
	for (int ms = 0; atomic_load(&sh->ack) != CHILD_READY; ms += 5) {
		if (ms >= CHILD_WAIT_MS) {
			fail("child %d not ready through the shared region", pid);
			goto out_kill;
		}
		nap_ms(5);
	}

	if (setup_file(&r) || setup_prot(&r) || setup_growsdown(&r))
		goto out_kill;
	if (check_all(&r, "before READY"))
		goto out_kill;

	test_ready();
	test_waitsig();

	if (check_all(&r, "after"))
		bad = 1;
	/* Last but for the child: it changes the growsdown mapping. */
	if (check_grows(r.gd))
		bad = 1;
	if (check_shared(r.shm, pid))
		bad = 1;
	if (!bad)
		pass();
	cleanup();
	return test_result();

out_kill:
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	cleanup();
	return test_result();
}
