/*
 * mem_fill.c - memory big enough for the restorer to read it on two
 * cores (src/mem-fill.c), in a process with threads of its own, which
 * are made after the restorer's helper thread has come and gone.
 *
 * Sets up, before READY: 48 MiB anonymous private, each page holding
 * its index and a byte of its own, but for a hole of 3 MiB never
 * touched in the middle (where the halves meet, or near) and the last
 * page; 8 MiB given MADV_HUGEPAGE, written; three threads that wait on
 * a futex, each recording its tid.
 *
 * Checks after SIGTERM: the hole and the last page are not resident
 * (mincore) and read as zeroes; every written page has its bytes;
 * /proc/self/task lists exactly the four tids of before (no thread of
 * the restore's left, none with another tid); the threads wake and end.
 */
#include <dirent.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "stasis_test.h"

#define AREA		(48UL << 20)
#define HOLE_AT		(23UL << 20)
#define HOLE_LEN	(3UL << 20)
#define HUGE_AREA	(8UL << 20)
#define NR_THREADS	3

static atomic_int wake_word;
static volatile pid_t tids[NR_THREADS + 1];

static void *worker(void *arg)
{
	tids[(intptr_t)arg] = (pid_t)syscall(SYS_gettid);
	while (!atomic_load(&wake_word))
		syscall(SYS_futex, &wake_word, FUTEX_WAIT, 0, NULL, NULL, 0);
	return NULL;
}

static bool in_hole(size_t off)
{
	return (off >= HOLE_AT && off < HOLE_AT + HOLE_LEN) || off >= AREA - 4096;
}

static void write_page(uint8_t *p, size_t i, size_t psz)
{
	memset(p, (int)(i % 251) + 1, psz);
	memcpy(p, &i, sizeof(i));
}

static int check_page(const uint8_t *p, size_t i, size_t psz)
{
	uint8_t b = (uint8_t)(i % 251) + 1;
	size_t got;

	memcpy(&got, p, sizeof(got));
	if (got != i || p[sizeof(i)] != b || memcmp(p + sizeof(i), p + sizeof(i) + 1,
						    psz - sizeof(i) - 1))
		return -1;
	return 0;
}

/* Every page of [@p, @p + @len) not resident: a hole stays one. */
static int check_hole(uint8_t *p, size_t len, size_t psz, const char *what)
{
	unsigned char vec[HOLE_LEN / 4096];

	if (mincore(p, len, vec)) {
		fail("mincore: %m");
		return -1;
	}
	for (size_t i = 0; i < len / psz; i++) {
		if (vec[i] & 1) {
			fail("%s: page %zu is resident after the restore", what, i);
			return -1;
		}
	}
	for (size_t i = 0; i < len; i++) {
		if (p[i]) {
			fail("%s: byte %zu is %#x", what, i, p[i]);
			return -1;
		}
	}
	return 0;
}

static int check_tasks(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0, bad = 0;

	if (!d) {
		fail("/proc/self/task: %m");
		return -1;
	}
	while ((e = readdir(d))) {
		pid_t tid = atoi(e->d_name);
		bool known = false;

		if (e->d_name[0] == '.')
			continue;
		for (int k = 0; k <= NR_THREADS; k++)
			known |= tids[k] == tid;
		if (!known && !bad++)
			fail("/proc/self/task has tid %d, not one of the process's", tid);
		n++;
	}
	closedir(d);
	if (!bad && n != NR_THREADS + 1)
		fail("/proc/self/task lists %d threads, want %d", n, NR_THREADS + 1);
	return bad || n != NR_THREADS + 1 ? -1 : 0;
}

static int check_area(uint8_t *a, uint8_t *h, size_t psz)
{
	for (size_t i = 0; i < HUGE_AREA / psz; i++) {
		if (check_page(h + i * psz, i + 7, psz)) {
			fail("huge page area: page %zu has other bytes", i);
			return -1;
		}
	}
	for (size_t i = 0; i < AREA / psz; i++) {
		if (!in_hole(i * psz) && check_page(a + i * psz, i, psz)) {
			fail("page %zu has other bytes", i);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	long psz = sysconf(_SC_PAGESIZE);
	pthread_t th[NR_THREADS];
	uint8_t *a, *h;

	test_init(argc, argv);
	a = mmap(NULL, AREA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	h = mmap(NULL, HUGE_AREA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED || h == MAP_FAILED) {
		fail("mmap: %m");
		return test_result();
	}
	/* The hole must stay one page deep: no huge page may cover it. */
	madvise(a, AREA, MADV_NOHUGEPAGE);
	madvise(h, HUGE_AREA, MADV_HUGEPAGE);
	for (size_t i = 0; i < AREA / psz; i++) {
		if (!in_hole(i * psz))
			write_page(a + i * psz, i, psz);
	}
	for (size_t i = 0; i < HUGE_AREA / psz; i++)
		write_page(h + i * psz, i + 7, psz);
	tids[0] = (pid_t)syscall(SYS_gettid);
	for (intptr_t k = 1; k <= NR_THREADS; k++) {
		if (pthread_create(&th[k - 1], NULL, worker, (void *)k)) {
			fail("pthread_create failed");
			return test_result();
		}
	}
	while (!tids[1] || !tids[2] || !tids[3])
		usleep(1000);
	test_ready();
	test_waitsig();

	if (!check_hole(a + HOLE_AT, HOLE_LEN, psz, "the hole") &&
	    !check_hole(a + AREA - psz, psz, psz, "the last page") && !check_tasks() &&
	    !check_area(a, h, psz)) {
		atomic_store(&wake_word, 1);
		syscall(SYS_futex, &wake_word, FUTEX_WAKE, NR_THREADS, NULL, NULL, 0);
		for (int k = 0; k < NR_THREADS; k++)
			pthread_join(th[k], NULL);
		pass();
	}
	return test_result();
}
