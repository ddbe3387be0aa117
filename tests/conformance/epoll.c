/*
 * epoll.c - epolls and what they watch, nested and renumbered.
 *
 * Sets up, before READY:
 *   fd 10  epoll A watching
 *            fd 20, a pipe's read end, EPOLLIN|EPOLLET, data 0xa20
 *            fd 21, an eventfd, EPOLLIN|EPOLLONESHOT, data 0xa21
 *            a second pipe's read end added as fd 30 and then moved to
 *            fd 31 (dup2 and close): fdinfo still names it 30
 *   fd 11  epoll B (O_CLOEXEC) watching epoll A, EPOLLIN, data 0xb10
 *
 * Checks after SIGTERM:
 *   - A and B hold the registrations they held (events and data), the
 *     moved one now under fd 31, the only fd that holds its file;
 *   - nothing is ready before anything is written;
 *   - a byte in the first pipe wakes A with 0xa20 and B with 0xb10;
 *     a count in the eventfd wakes A with 0xa21 once (one-shot);
 *     a byte in the second pipe wakes A with 0xa31.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "stasis_test.h"

#define EPA	10
#define EPB	11
#define PIPE_R	20
#define EVFD	21
#define OLD_R	30
#define MOVED_R	31
#define PIPE_W	40
#define MOVED_W	41

static int place(int fd, int want)
{
	if (fd < 0 || (fd != want && (dup2(fd, want) != want || close(fd))))
		return -1;
	return 0;
}

static int add(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static int setup(void)
{
	int p1[2], p2[2];

	if (pipe(p1) || pipe(p2))
		return -1;
	if (place(epoll_create1(0), EPA) || place(epoll_create1(EPOLL_CLOEXEC), EPB) ||
	    place(p1[0], PIPE_R) || place(p1[1], PIPE_W) || place(p2[0], OLD_R) ||
	    place(p2[1], MOVED_W) || place(eventfd(0, EFD_NONBLOCK), EVFD))
		return -1;
	if (fcntl(EPB, F_SETFD, FD_CLOEXEC))
		return -1;
	if (add(EPA, PIPE_R, EPOLLIN | EPOLLET, 0xa20) ||
	    add(EPA, EVFD, EPOLLIN | EPOLLONESHOT, 0xa21) ||
	    add(EPA, OLD_R, EPOLLIN, 0xa31) || add(EPB, EPA, EPOLLIN, 0xb10))
		return -1;
	if (dup2(OLD_R, MOVED_R) != MOVED_R || close(OLD_R))
		return -1;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/*
 * The "tfd: N events: E data: D" part of each registration, sorted: the
 * kernel lists them in the order of the files' addresses.
 */
static int registrations(int ep, char *out, size_t len)
{
	char path[64], line[256], regs[8][32];
	size_t n = 0, used = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", ep);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (n < 8 && fgets(line, sizeof(line), f)) {
		int tfd;
		unsigned int events;
		unsigned long long data;

		if (sscanf(line, "tfd: %d events: %x data: %llx", &tfd, &events, &data) != 3)
			continue;
		snprintf(regs[n++], sizeof(regs[0]), "%d:%x:%llx", tfd, events, data);
	}
	fclose(f);
	qsort(regs, n, sizeof(regs[0]), cmp_str);
	out[0] = '\0';
	for (size_t i = 0; i < n && used < len; i++)
		used += snprintf(out + used, len - used, "%s ", regs[i]);
	return 0;
}

/* One event from @ep within 1 s: its data, or -1. */
static long long wait_one(int ep)
{
	struct epoll_event ev;
	int n;

	do
		n = epoll_wait(ep, &ev, 1, 1000);
	while (n < 0 && errno == EINTR);
	return n == 1 ? (long long)ev.data.u64 : -1;
}

static bool idle(int ep)
{
	struct epoll_event ev;

	return epoll_wait(ep, &ev, 1, 0) == 0;
}

static void check_wakeups(void)
{
	uint64_t one = 1;
	long long d;
	char c = 'x';

	if (!idle(EPA) || !idle(EPB))
		fail("an epoll is ready before anything was written");
	if (write(PIPE_W, &c, 1) != 1)
		fail("write pipe: %m");
	if ((d = wait_one(EPB)) != 0xb10)
		fail("epoll B: %llx, want b10 (A became ready)", d);
	if ((d = wait_one(EPA)) != 0xa20)
		fail("epoll A after the pipe: %llx, want a20", d);
	if (read(PIPE_R, &c, 1) != 1)
		fail("read pipe: %m");
	if (write(EVFD, &one, sizeof(one)) != sizeof(one))
		fail("write eventfd: %m");
	if ((d = wait_one(EPA)) != 0xa21)
		fail("epoll A after the eventfd: %llx, want a21", d);
	if (!idle(EPA))
		fail("the one-shot eventfd fired twice");
	if (write(MOVED_W, &c, 1) != 1)
		fail("write moved pipe: %m");
	if ((d = wait_one(EPA)) != 0xa31)
		fail("epoll A after the moved pipe: %llx, want a31", d);
}

int main(int argc, char **argv)
{
	char a_was[512], b_was[512], a_now[512], b_now[512], want[512];
	char *p;

	test_init(argc, argv);
	if (setup()) {
		fail("setup: %m");
		return test_result();
	}
	if (registrations(EPA, a_was, sizeof(a_was)) || registrations(EPB, b_was, sizeof(b_was))) {
		fail("fdinfo: %m");
		return test_result();
	}
	test_ready();
	test_waitsig();

	if (registrations(EPA, a_now, sizeof(a_now)) || registrations(EPB, b_now, sizeof(b_now))) {
		fail("fdinfo after: %m");
		return test_result();
	}
	/* The moved file can come back only under the fd that holds it. */
	snprintf(want, sizeof(want), "%s", a_was);
	p = strstr(want, "30:");
	if (p)
		p[1] = '1';
	if (strcmp(b_now, b_was))
		fail("epoll B: \"%s\", was \"%s\"", b_now, b_was);
	if (strcmp(a_now, want) && strcmp(a_now, a_was))
		fail("epoll A: \"%s\", was \"%s\"", a_now, a_was);
	if (fcntl(EPB, F_GETFD) != FD_CLOEXEC)
		fail("epoll B lost FD_CLOEXEC");
	check_wakeups();
	pass();
	return test_result();
}
