/*
 * signalfd_timerfd.c - a signalfd with a signal waiting for it, and three
 * timerfds: periodic with expirations unread, absolute far away, disarmed.
 *
 * Sets up, before READY:
 *   fd 5   signalfd of { SIGUSR1, SIGRTMIN+3 }, SFD_NONBLOCK; SIGUSR1 and
 *          SIGRTMIN+3 blocked and queued to the process with a value
 *   fd 6   timerfd CLOCK_MONOTONIC, every 20 ms from 20 ms, left unread
 *          until it has expired (the kernel counts the expirations of a
 *          periodic timer only when it is read: fdinfo shows 1 till then)
 *   fd 7   timerfd CLOCK_REALTIME, TFD_TIMER_ABSTIME, due in 300 s,
 *          interval 7 s
 *   fd 8   timerfd CLOCK_BOOTTIME, created and never armed
 *
 * Checks after SIGTERM:
 *   - fd 5 is a signalfd with the same mask and flags: reading it gives
 *     SIGRTMIN+3 and SIGUSR1 with their values, then EAGAIN;
 *   - fd 6 is a timerfd on CLOCK_MONOTONIC with its interval, and a read
 *     returns at least the expirations that were pending before READY;
 *   - fd 7 keeps its clock, TFD_TIMER_ABSTIME and its interval; what is
 *     left of it is not above what was left before READY, nor below that
 *     minus the time elapsed since (and a second): a checkpoint may stop
 *     the clock, it may not bring the deadline closer;
 *   - fd 8 is still disarmed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "stasis_test.h"

#define SFD		5
#define TFD_PERIODIC	6
#define TFD_ABS		7
#define TFD_IDLE	8
#define PERIOD_NS	20000000L
#define USR1_VALUE	0x51f1
#define RT_VALUE	0x51f2
#define SLACK_NS	1000000000LL

static long long ns_of(const struct timespec *ts)
{
	return ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static long long mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ns_of(&ts);
}

/* Put @fd at number @want. */
static int place(int fd, int want, const char *what)
{
	if (fd < 0) {
		fail("%s: %m", what);
		return -1;
	}
	if (fd != want) {
		if (dup2(fd, want) != want) {
			fail("dup2 %s: %m", what);
			return -1;
		}
		close(fd);
	}
	return 0;
}

/* The value of "@key:" in /proc/self/fdinfo/@fd, as text; 0 or -1. */
static int fdinfo_get(int fd, const char *key, char *val, size_t len)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	FILE *f;
	int ret = -1;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			char *v = line + klen + 1;

			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = '\0';
			snprintf(val, len, "%s", v);
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

static unsigned long long pending_ticks(int fd)
{
	char v[64];

	if (fdinfo_get(fd, "ticks", v, sizeof(v)))
		return 0;
	return strtoull(v, NULL, 10);
}

static int setup_signalfd(void)
{
	union sigval sv;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGRTMIN + 3);
	if (sigprocmask(SIG_BLOCK, &set, NULL)) {
		fail("sigprocmask: %m");
		return -1;
	}
	if (place(signalfd(-1, &set, SFD_NONBLOCK), SFD, "signalfd"))
		return -1;
	sv.sival_int = USR1_VALUE;
	if (sigqueue(getpid(), SIGUSR1, sv))
		return fail("sigqueue SIGUSR1: %m"), -1;
	sv.sival_int = RT_VALUE;
	if (sigqueue(getpid(), SIGRTMIN + 3, sv))
		return fail("sigqueue SIGRTMIN+3: %m"), -1;
	return 0;
}

static int setup_timerfds(struct itimerspec *abs_left)
{
	struct itimerspec per = { { 0, PERIOD_NS }, { 0, PERIOD_NS } };
	struct itimerspec abs = { { 7, 0 }, { 0, 0 } };
	struct timespec now;

	if (place(timerfd_create(CLOCK_MONOTONIC, 0), TFD_PERIODIC, "timerfd monotonic") ||
	    place(timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK), TFD_ABS, "timerfd realtime") ||
	    place(timerfd_create(CLOCK_BOOTTIME, 0), TFD_IDLE, "timerfd boottime"))
		return -1;
	if (timerfd_settime(TFD_PERIODIC, 0, &per, NULL))
		return fail("timerfd_settime periodic: %m"), -1;
	clock_gettime(CLOCK_REALTIME, &now);
	abs.it_value.tv_sec = now.tv_sec + 300;
	abs.it_value.tv_nsec = now.tv_nsec;
	if (timerfd_settime(TFD_ABS, TFD_TIMER_ABSTIME, &abs, NULL))
		return fail("timerfd_settime absolute: %m"), -1;
	/* Let it expire, and more, unread. */
	while (pending_ticks(TFD_PERIODIC) < 1)
		usleep(10000);
	usleep(3 * PERIOD_NS / 1000);
	if (timerfd_gettime(TFD_ABS, abs_left))
		return fail("timerfd_gettime: %m"), -1;
	return 0;
}

static void check_siginfo(int sig, int value)
{
	struct signalfd_siginfo si;
	ssize_t n = read(SFD, &si, sizeof(si));

	if (n != sizeof(si)) {
		fail("signalfd read: %zd (%m), want signal %d", n, sig);
		return;
	}
	if ((int)si.ssi_signo != sig || si.ssi_int != value)
		fail("signalfd gave signal %u value %#x, want %d value %#x", si.ssi_signo,
		     si.ssi_int, sig, value);
}

static void check_signalfd(void)
{
	struct signalfd_siginfo si;
	char mask[64], want[64];
	int fl = fcntl(SFD, F_GETFL);

	if (fl < 0 || !(fl & O_NONBLOCK))
		fail("signalfd flags %#x, want O_NONBLOCK", fl);
	snprintf(want, sizeof(want), "%016llx",
		 (1ULL << (SIGUSR1 - 1)) | (1ULL << (SIGRTMIN + 3 - 1)));
	if (fdinfo_get(SFD, "sigmask", mask, sizeof(mask)) || strcmp(mask, want))
		fail("signalfd sigmask \"%s\", want \"%s\"", mask, want);
	/* Real-time signals are not taken before standard ones: lowest first. */
	check_siginfo(SIGUSR1, USR1_VALUE);
	check_siginfo(SIGRTMIN + 3, RT_VALUE);
	if (read(SFD, &si, sizeof(si)) >= 0 || errno != EAGAIN)
		fail("signalfd holds more than was queued");
}

static void check_clock(int fd, int clock, const char *what)
{
	char v[32], want[32];

	snprintf(want, sizeof(want), "%d", clock);
	if (fdinfo_get(fd, "clockid", v, sizeof(v)) || strcmp(v, want))
		fail("%s: clockid \"%s\", want %s", what, v, want);
}

static void check_timerfds(unsigned long long ticks, const struct itimerspec *abs_was,
			   long long ready_ns)
{
	struct itimerspec it;
	uint64_t got = 0;
	long long left, was = ns_of(&abs_was->it_value);
	char v[32];

	check_clock(TFD_PERIODIC, CLOCK_MONOTONIC, "periodic timerfd");
	check_clock(TFD_ABS, CLOCK_REALTIME, "absolute timerfd");
	check_clock(TFD_IDLE, CLOCK_BOOTTIME, "idle timerfd");

	if (timerfd_gettime(TFD_PERIODIC, &it) || it.it_interval.tv_sec ||
	    it.it_interval.tv_nsec != PERIOD_NS)
		fail("periodic timerfd: interval %ld.%09ld, want 0.%09ld", it.it_interval.tv_sec,
		     it.it_interval.tv_nsec, PERIOD_NS);
	if (read(TFD_PERIODIC, &got, sizeof(got)) != sizeof(got))
		fail("periodic timerfd: read: %m");
	else if (got < ticks)
		fail("periodic timerfd: %llu expirations, %llu were pending before READY",
		     (unsigned long long)got, ticks);

	if (fdinfo_get(TFD_ABS, "settime flags", v, sizeof(v)) || strtoul(v, NULL, 8) != 1)
		fail("absolute timerfd: settime flags \"%s\", want 01", v);
	if (timerfd_gettime(TFD_ABS, &it))
		fail("absolute timerfd: timerfd_gettime: %m");
	if (it.it_interval.tv_sec != 7 || it.it_interval.tv_nsec)
		fail("absolute timerfd: interval %ld.%09ld, want 7 s", it.it_interval.tv_sec,
		     it.it_interval.tv_nsec);
	left = ns_of(&it.it_value);
	if (left <= 0 || left > was || left < was - (mono_ns() - ready_ns) - SLACK_NS)
		fail("absolute timerfd: %lld ns left, %lld were left before READY, %lld ns ago",
		     left, was, mono_ns() - ready_ns);

	if (timerfd_gettime(TFD_IDLE, &it) || it.it_value.tv_sec || it.it_value.tv_nsec ||
	    it.it_interval.tv_sec || it.it_interval.tv_nsec)
		fail("idle timerfd: armed (%ld.%09ld every %ld.%09ld)", it.it_value.tv_sec,
		     it.it_value.tv_nsec, it.it_interval.tv_sec, it.it_interval.tv_nsec);
}

int main(int argc, char **argv)
{
	struct itimerspec abs_left;
	unsigned long long ticks;
	long long ready_ns;

	test_init(argc, argv);
	if (setup_signalfd() || setup_timerfds(&abs_left))
		return test_result();
	ticks = pending_ticks(TFD_PERIODIC);
	ready_ns = mono_ns();
	test_ready();
	test_waitsig();

	check_signalfd();
	check_timerfds(ticks, &abs_left, ready_ns);
	pass();
	return test_result();
}
