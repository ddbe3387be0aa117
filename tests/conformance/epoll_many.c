/*
 * epoll_many.c - an epoll whose fdinfo is many pages long.
 *
 * Sets up, before READY: an epoll watching NR_EVFDS eventfds, each with
 * its own events and data, so that /proc/self/fdinfo of the epoll (a line
 * a registration) runs well past the first page /proc hands out.
 *
 * Checks after SIGTERM:
 *   - the epoll holds every registration it held (fd, events, data);
 *   - nothing is ready before anything is written;
 *   - a count in every eventfd readies exactly the registrations there
 *     were, each with its own data.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "stasis_test.h"

#define NR_EVFDS	400
#define DATA(i)		(0x5eed0000ULL + (i))

static int ep = -1;
static int evfds[NR_EVFDS];

static int setup(void)
{
	ep = epoll_create1(0);
	if (ep < 0)
		return -1;
	for (int i = 0; i < NR_EVFDS; i++) {
		struct epoll_event ev = { .data.u64 = DATA(i) };

		/* Every fourth edge-triggered: the events differ from line to line. */
		ev.events = EPOLLIN | (i % 4 ? 0 : EPOLLET);
		evfds[i] = eventfd(0, EFD_NONBLOCK);
		if (evfds[i] < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, evfds[i], &ev))
			return -1;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The epoll's registrations, one "fd:events:data" a line, sorted; NULL on error. */
static char *registrations(size_t *count)
{
	char path[64], line[256];
	char (*regs)[48] = calloc(NR_EVFDS + 1, sizeof(*regs));
	char *out;
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", ep);
	f = regs ? fopen(path, "r") : NULL;
	if (!f) {
		free(regs);
		return NULL;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned int events;
		unsigned long long data;
		int tfd;

		if (sscanf(line, "tfd: %d events: %x data: %llx", &tfd, &events, &data) != 3)
			continue;
		if (n <= NR_EVFDS)
			snprintf(regs[n++], sizeof(regs[0]), "%d:%x:%llx", tfd, events, data);
	}
	fclose(f);
	qsort(regs, n, sizeof(regs[0]), cmp_str);
	out = calloc(n + 1, sizeof(regs[0]));
	for (size_t i = 0; out && i < n; i++)
		strcat(strcat(out, regs[i]), "\n");
	free(regs);
	*count = n;
	return out;
}

static void check_wakeups(void)
{
	struct epoll_event evs[64];
	static bool seen[NR_EVFDS];
	uint64_t one = 1;
	int got = 0, n;

	if (epoll_wait(ep, evs, 64, 0) != 0)
		fail("the epoll is ready before anything was written");
	for (int i = 0; i < NR_EVFDS; i++)
		if (write(evfds[i], &one, sizeof(one)) != sizeof(one))
			fail("write eventfd %d: %m", evfds[i]);
	while ((n = epoll_wait(ep, evs, 64, 0)) > 0) {
		for (int k = 0; k < n; k++) {
			uint64_t i = evs[k].data.u64 - DATA(0);

			if (i >= NR_EVFDS || seen[i]) {
				fail("unexpected event, data %llx", (unsigned long long)evs[k].data.u64);
				return;
			}
			seen[i] = true;
			got++;
			/* Read it empty: a level-triggered one would come back. */
			if (read(evfds[i], &one, sizeof(one)) != sizeof(one))
				fail("read eventfd %d: %m", evfds[i]);
		}
	}
	if (n < 0)
		fail("epoll_wait: %m");
	if (got != NR_EVFDS)
		fail("%d of %d registrations woke", got, NR_EVFDS);
}

int main(int argc, char **argv)
{
	size_t was_n = 0, now_n = 0;
	char *was, *now;

	test_init(argc, argv);
	if (setup()) {
		fail("setup: %m");
		return test_result();
	}
	was = registrations(&was_n);
	if (!was || was_n != NR_EVFDS) {
		fail("fdinfo lists %zu of %d registrations", was_n, NR_EVFDS);
		return test_result();
	}
	test_ready();
	test_waitsig();

	now = registrations(&now_n);
	if (!now)
		fail("fdinfo after: %m");
	else if (now_n != was_n)
		fail("%zu registrations, there were %zu", now_n, was_n);
	else if (strcmp(now, was))
		fail("the registrations changed");
	else
		check_wakeups();
	free(was);
	free(now);
	pass();
	return test_result();
}
