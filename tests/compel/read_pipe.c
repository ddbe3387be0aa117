/*
 * read_pipe.c - threads blocked in read(2) on empty pipes must go on
 * blocking through whatever is done to them, and get exactly the byte
 * written after SIGTERM.
 *
 * Two readers, each on a pipe of its own: the main thread, which is the
 * one libcompel runs remote syscalls and the parasite in, and a second
 * thread, which is only frozen and thawed.  Both have SIGTERM blocked,
 * so no handler can ever interrupt their read(): a seize and cure must
 * restart it transparently.  A third thread waits for SIGTERM, then
 * writes one byte to each pipe.
 *
 * Each read() must return 1 with that byte, and only after it was
 * written: EINTR, a raw -ERESTARTSYS (errno 512), end of file, a return
 * before the byte was written, a wrong byte or extra data all FAIL.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "stasis_test.h"

#define BLOCK_TIMEOUT_MS	10000	/* for a reader to block in read() */

struct reader {
	const char *name;
	int fd[2];
	uint8_t want;		/* the byte the waker writes */
	atomic_int tid;		/* set before it reads */
	ssize_t ret;		/* what read() returned */
	int err;		/* its errno */
	uint8_t buf[16];	/* room for more than the one byte */
	bool early;		/* it returned before the byte was written */
};

static struct reader readers[2] = {
	{ .name = "main thread", .want = 0xa5 },
	{ .name = "second thread", .want = 0x3c },
};

/* Set by the waker after SIGTERM, just before it writes. */
static atomic_int released;

static void do_read(struct reader *rd)
{
	atomic_store(&rd->tid, (int)gettid());
	rd->ret = read(rd->fd[0], rd->buf, sizeof(rd->buf));
	rd->err = errno;
	rd->early = !atomic_load(&released);
}

static void *reader_thread(void *arg)
{
	do_read(arg);
	return NULL;
}

/* Wait until @rd sleeps in read(), so that READY means it. */
static void wait_blocked(struct reader *rd)
{
	if (!test_wait_in_syscall(&rd->tid, SYS_read, BLOCK_TIMEOUT_MS))
		fail("%s not blocked in read() after %d ms", rd->name, BLOCK_TIMEOUT_MS);
}

/* The only thread with SIGTERM unblocked, and only in test_waitsig(). */
static void *waker_thread(void *arg)
{
	(void)arg;
	for (int i = 0; i < 2; i++)
		wait_blocked(&readers[i]);
	test_ready();
	test_waitsig();

	atomic_store(&released, 1);
	for (int i = 0; i < 2; i++) {
		if (write(readers[i].fd[1], &readers[i].want, 1) != 1)
			fail("write to %s's pipe: %m", readers[i].name);
	}
	return NULL;
}

static int check_reader(struct reader *rd)
{
	uint8_t extra;
	ssize_t n;

	if (rd->early && rd->ret >= 0) {
		fail("%s: read() returned %zd before anything was written",
		     rd->name, rd->ret);
		return -1;
	}
	if (rd->ret < 0) {
		fail("%s: read() failed%s: %s (errno %d)", rd->name,
		     rd->early ? " before the write" : "",
		     strerror(rd->err), rd->err);
		return -1;
	}
	if (rd->ret == 0) {
		fail("%s: read() returned end of file", rd->name);
		return -1;
	}
	if (rd->ret != 1 || rd->buf[0] != rd->want) {
		fail("%s: read() returned %zd bytes, first %#x; want 1 byte %#x",
		     rd->name, rd->ret, rd->buf[0], rd->want);
		return -1;
	}
	/* Nothing but our byte may have gone into the pipe. */
	fcntl(rd->fd[0], F_SETFL, O_NONBLOCK);
	n = read(rd->fd[0], &extra, 1);
	if (n >= 0 || errno != EAGAIN) {
		fail("%s: pipe not empty after the byte: read %zd (%m)",
		     rd->name, n);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	pthread_t reader, waker;
	sigset_t term;
	int err, bad = 0;

	test_init(argc, argv);

	for (int i = 0; i < 2; i++) {
		if (pipe2(readers[i].fd, O_CLOEXEC)) {
			fail("pipe: %m");
			return test_result();
		}
	}
	/* Blocked in every thread; the waker unblocks it in test_waitsig(). */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, NULL);

	err = pthread_create(&reader, NULL, reader_thread, &readers[1]);
	if (!err)
		err = pthread_create(&waker, NULL, waker_thread, NULL);
	if (err) {
		fail("pthread_create: %s", strerror(err));
		return test_result();
	}

	do_read(&readers[0]);
	pthread_join(reader, NULL);
	pthread_join(waker, NULL);

	for (int i = 0; i < 2; i++)
		if (check_reader(&readers[i]))
			bad = 1;
	if (!bad)
		pass();
	return test_result();
}
