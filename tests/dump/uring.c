/*
 * uring.c - a program with an io_uring, for tests/dump/uring.sh: the
 * dump must refuse it, naming the ring, and leave it running.
 *
 *   uring sqpoll|plain DIR
 *
 * Makes a ring (sqpoll: with IORING_SETUP_SQPOLL, whose kernel thread
 * iou-sqp-PID is listed among the program's threads; plain: none), writes
 * "ready" to DIR/state, then counts in DIR/count every 20 ms.
 */
#include <errno.h>
#include <linux/io_uring.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void put(const char *dir, const char *name, const char *text)
{
	char path[512], tmp[520];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
	rename(tmp, path);
}

int main(int argc, char **argv)
{
	struct timespec nap = { 0, 20 * 1000 * 1000 };
	struct io_uring_params p;
	char buf[96];
	int fd;

	if (argc != 3 || (strcmp(argv[1], "sqpoll") && strcmp(argv[1], "plain"))) {
		fprintf(stderr, "usage: uring sqpoll|plain DIR\n");
		return 2;
	}
	memset(&p, 0, sizeof(p));
	if (!strcmp(argv[1], "sqpoll")) {
		p.flags = IORING_SETUP_SQPOLL;
		p.sq_thread_idle = 60000;
	}
	fd = syscall(SYS_io_uring_setup, 8, &p);
	if (fd < 0) {
		snprintf(buf, sizeof(buf), "io_uring_setup: %s", strerror(errno));
		put(argv[2], "state", buf);
		return 1;
	}
	snprintf(buf, sizeof(buf), "%d", fd);
	put(argv[2], "fd", buf);
	put(argv[2], "state", "ready");
	for (unsigned long n = 0;; n++) {
		snprintf(buf, sizeof(buf), "%lu", n);
		put(argv[2], "count", buf);
		nanosleep(&nap, NULL);
	}
}
