/*
 * shmem-prog.c - a process tree holding shmem objects, for
 * tests/dump/shmem.sh.
 *
 *   shmem-prog      (run in an empty directory, stdio on /dev/null)
 *   shmem-prog page TAG N   writes page N of pattern TAG to stdout
 *
 * It makes:
 *   memfd "stasis-a", MFD_ALLOW_SEALING, A_PAGES pages: pages 0-9 and 30
 *     hold a pattern, page 20 was written with zeroes, the rest are
 *     holes; sealed F_SEAL_SHRINK|F_SEAL_GROW; held as fd 3 at position
 *     A_POS, fd 4 (its dup) and fd 5 (opened again, O_RDONLY), and
 *     mapped shared
 *   memfd "stasis-b", B_SIZE bytes of pattern (not a whole number of
 *     pages), sealed F_SEAL_WRITE|F_SEAL_SEAL, held as fd 6, not mapped
 *   memfd "stasis-c", C_PAGES pages of pattern, mapped shared, its fd closed
 *   MAP_SHARED|MAP_ANONYMOUS memory, ANON_PAGES pages: pages 0-15 and
 *     100 hold a pattern, page 50 was written with zeroes
 * and then forks a child that keeps all of it and writes a pattern of its
 * own into page 17 of the shared anonymous memory.
 *
 * It writes "info" (the shmem inode numbers, the mapping addresses, the
 * child's pid), then "ready" to the file "state" and waits for SIGUSR2;
 * then both processes check that everything is as they left it, and the
 * parent writes "OK" or "FAIL: why" to "state" and exits.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE		4096UL
#define A_PAGES		64
#define A_POS		100
#define B_SIZE		(3 * PAGE + 100)
#define C_PAGES		4
#define ANON_PAGES	128

/* Pattern tags: one per object, and one for what the child writes. */
enum { TAG_A = 1, TAG_B, TAG_C, TAG_ANON, TAG_CHILD };

static uint8_t *map_a, *map_c, *anon;
static char buf[B_SIZE];

static void put_state(const char *s)
{
	int fd = open("state.tmp", O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, s, strlen(s)) != (ssize_t)strlen(s) || close(fd) ||
	    rename("state.tmp", "state"))
		_exit(1);
}

static void die(const char *what)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "FAIL: setup: %s\n", what);
	put_state(msg);
	exit(1);
}

/* Never a whole page of zeroes. */
static uint8_t pattern(int tag, size_t page, size_t i)
{
	return (uint8_t)(tag * 37 + page * 13 + i * 7 + 1) | 1;
}

static void fill(uint8_t *p, int tag, size_t page, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = pattern(tag, page, i);
}

static bool same(const uint8_t *p, int tag, size_t page, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != (tag ? pattern(tag, page, i) : 0))
			return false;
	return true;
}

static int memfd(const char *name, unsigned int flags, size_t size)
{
	int fd = memfd_create(name, flags);

	if (fd < 0 || ftruncate(fd, size))
		die(name);
	return fd;
}

static void *map(int fd, size_t size, int flags)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, fd, 0);

	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

static void setup(void)
{
	uint8_t page[PAGE];
	int fd;

	/* fd 3, 4, 5: memfd a */
	if (memfd("stasis-a", MFD_ALLOW_SEALING, A_PAGES * PAGE) != 3)
		die("memfd a is not fd 3");
	map_a = map(3, A_PAGES * PAGE, MAP_SHARED);
	for (size_t p = 0; p < 10; p++)
		fill(map_a + p * PAGE, TAG_A, p, PAGE);
	fill(map_a + 30 * PAGE, TAG_A, 30, PAGE);
	memset(page, 0, sizeof(page));
	if (pwrite(3, page, PAGE, 20 * PAGE) != (ssize_t)PAGE)
		die("zero page of a");
	if (fcntl(3, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW))
		die("seal a");
	if (lseek(3, A_POS, SEEK_SET) != A_POS || dup(3) != 4)
		die("fd 4");
	if (open("/proc/self/fd/3", O_RDONLY) != 5)
		die("fd 5");

	/* fd 6: memfd b */
	if (memfd("stasis-b", MFD_ALLOW_SEALING, 0) != 6)
		die("memfd b is not fd 6");
	for (size_t i = 0; i < B_SIZE; i++)
		buf[i] = pattern(TAG_B, i / PAGE, i % PAGE);
	if (write(6, buf, B_SIZE) != B_SIZE ||
	    fcntl(6, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SEAL))
		die("fill and seal b");

	/* memfd c: only mapped */
	fd = memfd("stasis-c", 0, C_PAGES * PAGE);
	map_c = map(fd, C_PAGES * PAGE, MAP_SHARED);
	close(fd);
	for (size_t p = 0; p < C_PAGES; p++)
		fill(map_c + p * PAGE, TAG_C, p, PAGE);

	anon = map(-1, ANON_PAGES * PAGE, MAP_SHARED | MAP_ANONYMOUS);
	for (size_t p = 0; p < 16; p++)
		fill(anon + p * PAGE, TAG_ANON, p, PAGE);
	fill(anon + 100 * PAGE, TAG_ANON, 100, PAGE);
	memset(anon + 50 * PAGE, 0, PAGE);
}

static unsigned long ino_of(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		die(path);
	return st.st_ino;
}

static unsigned long map_ino(const void *p, size_t len)
{
	char path[96];

	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", (unsigned long)p,
		 (unsigned long)p + len);
	return ino_of(path);
}

static void write_info(pid_t child)
{
	FILE *f = fopen("info", "w");

	if (!f)
		die("info");
	fprintf(f, "a %lu\nb %lu\nc %lu\nanon %lu\n", ino_of("/proc/self/fd/3"),
		ino_of("/proc/self/fd/6"), map_ino(map_c, C_PAGES * PAGE),
		map_ino(anon, ANON_PAGES * PAGE));
	fprintf(f, "map_a %lx\nmap_c %lx\nmap_anon %lx\nchild %d\n", (unsigned long)map_a,
		(unsigned long)map_c, (unsigned long)anon, child);
	if (fclose(f))
		die("info");
}

/* What both processes see in their mappings; NULL or what is wrong. */
static const char *check_maps(void)
{
	for (size_t p = 0; p < A_PAGES; p++)
		if (!same(map_a + p * PAGE, p < 10 || p == 30 ? TAG_A : 0, p, PAGE))
			return "memfd a changed";
	for (size_t p = 0; p < C_PAGES; p++)
		if (!same(map_c + p * PAGE, TAG_C, p, PAGE))
			return "memfd c changed";
	for (size_t p = 0; p < ANON_PAGES; p++) {
		int tag = p < 16 || p == 100 ? TAG_ANON : p == 17 ? TAG_CHILD : 0;

		if (!same(anon + p * PAGE, tag, p, PAGE))
			return "shared anonymous memory changed";
	}
	return NULL;
}

/* What only the parent holds: the fds. */
static const char *check_fds(void)
{
	struct stat st;

	if (fcntl(3, F_GET_SEALS) != (F_SEAL_SHRINK | F_SEAL_GROW))
		return "seals of a changed";
	if (fcntl(6, F_GET_SEALS) != (F_SEAL_WRITE | F_SEAL_SEAL))
		return "seals of b changed";
	if (lseek(4, 0, SEEK_CUR) != A_POS || lseek(5, 0, SEEK_CUR) != 0)
		return "positions changed";
	if ((fcntl(3, F_GETFL) & O_ACCMODE) != O_RDWR || (fcntl(5, F_GETFL) & O_ACCMODE) != O_RDONLY)
		return "access modes changed";
	if (pread(5, buf, PAGE, 30 * PAGE) != (ssize_t)PAGE || !same((uint8_t *)buf, TAG_A, 30, PAGE))
		return "memfd a reads differently";
	if (fstat(6, &st) || st.st_size != B_SIZE)
		return "size of b changed";
	if (pread(6, buf, B_SIZE, 0) != B_SIZE)
		return "cannot read b";
	for (size_t i = 0; i < B_SIZE; i++)
		if ((uint8_t)buf[i] != pattern(TAG_B, i / PAGE, i % PAGE))
			return "memfd b changed";
	return NULL;
}

static void wait_usr2(void)
{
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	while (sigwait(&set, &sig))
		;
}

static void child(int ready)
{
	fill(anon + 17 * PAGE, TAG_CHILD, 17, PAGE);
	if (write(ready, "r", 1) != 1)
		_exit(2);
	close(ready);
	wait_usr2();
	_exit(check_maps() ? 1 : 0);
}

int main(int argc, char **argv)
{
	const char *bad;
	int p[2], status;
	char msg[128], c;
	sigset_t set;
	pid_t pid;

	if (argc == 4 && !strcmp(argv[1], "page")) {
		/* What a page should hold, for the test to compare the images with. */
		fill((uint8_t *)buf, atoi(argv[2]), atoi(argv[3]), PAGE);
		return write(1, buf, PAGE) == (ssize_t)PAGE ? 0 : 1;
	}
	close_range(3, ~0U, 0);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	setup();
	if (pipe2(p, O_CLOEXEC))
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		close(p[0]);
		child(p[1]);
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1)
		die("child");
	close(p[0]);
	write_info(pid);
	put_state("ready\n");

	wait_usr2();
	bad = check_maps();
	if (!bad)
		bad = check_fds();
	kill(pid, SIGUSR2);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		bad = bad ? bad : "the child finds its memory changed";
	if (bad)
		snprintf(msg, sizeof(msg), "FAIL: %s\n", bad);
	put_state(bad ? msg : "OK\n");
	return 0;
}
