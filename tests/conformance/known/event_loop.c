/*
 * NOT BUILT NOR RUN YET (tests/conformance/known/ is outside the suite's
 * wildcard): it fails now with stasis, found on 2026-12-05, too late to
 * fix in that session.  After a dump and restore:
 *   - the inotify event queued before the dump is gone (epoll does not
 *     report the inotify, a read gets nothing): stasis, as CRIU, restores
 *     the watches but not the queued events;
 *   - the periodic timerfd, once read after the restore, fires no more
 *     within 2 s: but so it does without any checkpoint (runner --no-cr,
 *     4 runs of 4 on 2026-12-05), so that check of the program is wrong,
 *     not the restore; a periodic timerfd read, dumped with expirations
 *     pending, restored and read again by hand keeps firing.
 * Build by hand: cc -Itests/lib -o /tmp/event_loop tests/conformance/known/event_loop.c
 * tests/lib/stasis_test.c, run with build/tests/runner --workdir DIR.
 *
 * event_loop.c - the fds of an event loop, all in one epoll set, as a
 * real service holds them: an inotify watching a directory, a signalfd,
 * a periodic timerfd and an eventfd, each with an event waiting at READY.
 *
 * Sets up, before READY:
 *   - a directory watched for IN_CREATE, a file "before" made in it;
 *   - SIGUSR1 blocked and raised, a signalfd of it;
 *   - a timerfd every 10 ms;
 *   - an eventfd holding 5;
 *   - one epoll set with the four, each tagged in its data.
 *
 * Checks after SIGTERM:
 *   - epoll reports all four, and each gives what waited: the inotify
 *     event of "before", SIGUSR1, at least one expiration, 5;
 *   - new events are reported by the same set: a file "after" made,
 *     SIGUSR1 raised again, 7 written to the eventfd, the timer again.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <fcntl.h>
#include <unistd.h>

#include "stasis_test.h"

enum { INO, SIG, TMR, EVT, NR };
static const char *const names[NR] = { "inotify", "signalfd", "timerfd", "eventfd" };
static int fds[NR];
static char dir[64];

/* Which of the four epoll reports within 2 s, as a bit mask. */
static unsigned int ready(int ep)
{
	struct epoll_event ev[NR];
	unsigned int got = 0;
	int i, n, tries;

	for (tries = 0; tries < 20 && got != (1u << NR) - 1; tries++) {
		n = epoll_wait(ep, ev, NR, 100);
		for (i = 0; i < n; i++)
			if (ev[i].data.u32 < NR)
				got |= 1u << ev[i].data.u32;
		if (got == (1u << NR) - 1)
			break;
	}
	return got;
}

/* Read what each fd holds and check it; @file is the name inotify must give. */
static void drain(const char *file, uint64_t value)
{
	char buf[sizeof(struct inotify_event) + 256];
	struct inotify_event *ie = (void *)buf;
	struct signalfd_siginfo si;
	uint64_t v;

	if (read(fds[INO], buf, sizeof(buf)) < (ssize_t)sizeof(*ie) ||
	    !(ie->mask & IN_CREATE) || !ie->len || strcmp(ie->name, file))
		fail("inotify: no IN_CREATE of %s", file);
	if (read(fds[SIG], &si, sizeof(si)) != sizeof(si) || si.ssi_signo != SIGUSR1)
		fail("signalfd: no SIGUSR1");
	if (read(fds[TMR], &v, sizeof(v)) != sizeof(v) || v < 1)
		fail("timerfd: no expiration");
	if (read(fds[EVT], &v, sizeof(v)) != sizeof(v) || v != value)
		fail("eventfd: want %llu", (unsigned long long)value);
}

static void touch(const char *name)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	if (fd < 0)
		fail("create %s: %m", path);
	else
		close(fd);
}

static void check(int ep, const char *when)
{
	unsigned int got = ready(ep);
	int i;

	for (i = 0; i < NR; i++)
		if (!(got & (1u << i)))
			fail("%s: epoll does not report the %s", when, names[i]);
}

int main(int argc, char **argv)
{
	struct itimerspec its = { { 0, 10000000 }, { 0, 10000000 } };
	uint64_t v;
	sigset_t set;
	int ep, i;

	test_init(argc, argv);
	snprintf(dir, sizeof(dir), "/tmp/stasis-event-loop.%d", getpid());
	if (mkdir(dir, 0755) && errno != EEXIST) {
		fail("mkdir %s: %m", dir);
		return test_result();
	}
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	fds[INO] = inotify_init1(IN_NONBLOCK);
	fds[SIG] = signalfd(-1, &set, SFD_NONBLOCK);
	fds[TMR] = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	fds[EVT] = eventfd(0, EFD_NONBLOCK);
	ep = epoll_create1(0);
	for (i = 0; i < NR; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };

		if (fds[i] < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev)) {
			fail("the %s: %m", names[i]);
			return test_result();
		}
	}
	if (inotify_add_watch(fds[INO], dir, IN_CREATE) < 0 ||
	    timerfd_settime(fds[TMR], 0, &its, NULL)) {
		fail("inotify watch or timer: %m");
		return test_result();
	}
	touch("before");
	raise(SIGUSR1);
	v = 5;
	if (write(fds[EVT], &v, sizeof(v)) != sizeof(v))
		fail("eventfd write: %m");
	usleep(30000);
	test_ready();
	test_waitsig();

	check(ep, "after the restore");
	drain("before", 5);
	touch("after");
	raise(SIGUSR1);
	v = 7;
	if (write(fds[EVT], &v, sizeof(v)) != sizeof(v))
		fail("eventfd write: %m");
	check(ep, "new events");
	drain("after", 7);
	{
		char p[128];

		snprintf(p, sizeof(p), "%s/before", dir);
		unlink(p);
		snprintf(p, sizeof(p), "%s/after", dir);
		unlink(p);
		rmdir(dir);
	}
	pass();
	return test_result();
}
