/*
 * no_trace.c - a restore leaves nothing of its own in the restored tasks.
 *
 * Sets up, before READY: two threads besides the main one, and a child
 * process with a thread of its own, all asleep.  Then each process reads
 * its /proc/self/maps: the memory areas the dump will see.
 *
 * Checks after SIGTERM: in each process, /proc/PID/task/TID/maps of every
 * thread is line for line what it was (addresses, protections, offsets,
 * files): no area of the restorer is left, none is missing, none moved.
 * Run twice through dump and restore (runner --cycles 2), an area a
 * restore left behind would be dumped as the task's own the second time
 * and show up here as well.
 *
 * The maps are read with open/read into static buffers: nothing here may
 * map memory between the two readings.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stasis_test.h"

#define MAPS_MAX	(256 << 10)
#define NR_THREADS	2

static char before[MAPS_MAX], after[MAPS_MAX];
static int sleep_pipe[2];	/* the threads block reading it, forever */

/* The whole of @path into @buf, NUL-terminated; its length or -1. */
static long read_all(const char *path, char *buf)
{
	long len = 0, r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while ((r = read(fd, buf + len, MAPS_MAX - 1 - len)) > 0)
		len += r;
	close(fd);
	if (r < 0 || len >= MAPS_MAX - 1)
		return -1;
	buf[len] = '\0';
	return len;
}

/* The first line where @a and @b differ, for the message. */
static void first_diff(const char *a, const char *b, char *la, char *lb, size_t size)
{
	while (*a && *a == *b) {
		const char *na = strchr(a, '\n'), *nb = strchr(b, '\n');

		if (!na || !nb || na - a != nb - b || memcmp(a, b, na - a))
			break;
		a = na + 1;
		b = nb + 1;
	}
	snprintf(la, size, "%.*s", (int)strcspn(a, "\n"), a);
	snprintf(lb, size, "%.*s", (int)strcspn(b, "\n"), b);
}

/* The thread ids of this process, read without malloc (opendir would). */
static int list_threads(pid_t *tids, int max)
{
	static char buf[16 << 10];
	int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC), nr = 0;
	long len;

	if (fd < 0)
		return -1;
	while ((len = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < len;) {
			struct dirent64 *de = (struct dirent64 *)(buf + off);

			if (de->d_name[0] != '.' && nr < max)
				tids[nr++] = atoi(de->d_name);
			off += de->d_reclen;
		}
	}
	close(fd);
	return len < 0 ? -1 : nr;
}

/* Compare the maps of every thread of this process with @before. */
static int check_maps(const char *who)
{
	char path[64], la[256], lb[256];
	pid_t tids[16];
	int bad = 0, nr;

	nr = list_threads(tids, 16);
	if (nr < 0) {
		fail("%s: cannot list its threads: %m", who);
		return 1;
	}
	for (int i = 0; i < nr; i++) {
		snprintf(path, sizeof(path), "/proc/self/task/%d/maps", tids[i]);
		if (read_all(path, after) < 0) {
			fail("%s: cannot read %s: %m", who, path);
			bad = 1;
		} else if (strcmp(before, after)) {
			first_diff(before, after, la, lb, sizeof(la));
			fail("%s: thread %d's memory areas changed: was '%s', now '%s'", who,
			     tids[i], la, lb);
			bad = 1;
		}
	}
	if (nr != NR_THREADS + 1) {
		fail("%s: %d threads, not %d", who, nr, NR_THREADS + 1);
		bad = 1;
	}
	return bad;
}

static void *sleeper(void *arg)
{
	char c;

	(void)arg;
	while (read(sleep_pipe[0], &c, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

static int start_threads(void)
{
	pthread_t th;

	for (int i = 0; i < NR_THREADS; i++) {
		if (pthread_create(&th, NULL, sleeper, NULL))
			return -1;
	}
	return 0;
}

/* The child: its own threads and maps; checks once @go has a byte. */
static void __attribute__((noreturn)) child(int ready, int go)
{
	char c = 0;

	if (start_threads() || read_all("/proc/self/maps", before) < 0)
		_exit(2);
	if (write(ready, &c, 1) != 1)
		_exit(2);
	while (read(go, &c, 1) < 0 && errno == EINTR)
		;
	_exit(check_maps("child"));
}

int main(int argc, char **argv)
{
	int ready[2], go[2], status, bad;
	pid_t pid;
	char c;

	test_init(argc, argv);
	if (pipe(sleep_pipe) || pipe(ready) || pipe(go)) {
		fail("pipe: %m");
		return test_result();
	}
	pid = fork();
	if (pid == 0)
		child(ready[1], go[0]);
	if (pid < 0 || read(ready[0], &c, 1) != 1) {
		fail("the child did not start");
		return test_result();
	}
	if (start_threads() || read_all("/proc/self/maps", before) < 0) {
		fail("cannot start threads or read the maps: %m");
		return test_result();
	}
	test_ready();
	test_waitsig();

	bad = check_maps("parent");
	if (write(go[1], &c, 1) != 1 || waitpid(pid, &status, 0) != pid) {
		fail("the child is gone: %m");
		bad = 1;
	} else if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		/* 1: it said what differs; else it could not run its check. */
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 1)
			fail("the child ended with status %#x", status);
		bad = 1;
	}
	if (!bad)
		pass();
	return test_result();
}
