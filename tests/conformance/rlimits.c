/*
 * rlimits.c - resource limits set away from their defaults.
 *
 * Sets up, before READY (never raising a hard limit; a soft limit may go
 * up to its hard one):
 *   RLIMIT_NOFILE     soft 777, hard lowered to 4099: below the result
 *                     file's descriptor (>= TEST_OUT_FD), which must
 *                     survive anyway
 *   RLIMIT_STACK      soft 4 MiB + 12 KiB
 *   RLIMIT_CORE       soft 0x123000, hard lowered to 0x456000
 *   RLIMIT_NPROC      soft 4321
 *   RLIMIT_SIGPENDING soft 1234
 *   RLIMIT_MSGQUEUE   soft 409600
 *   RLIMIT_MEMLOCK    soft 68 KiB
 *   RLIMIT_CPU        soft 86400 s
 *   RLIMIT_FSIZE      soft 1 GiB + 4 KiB
 *   RLIMIT_RTTIME     soft 7654321 us
 * (each capped at what the hard limit allows) and records all of them.
 *
 * Checks after SIGTERM: every limit, soft and hard, 0 to RLIM_NLIMITS - 1,
 * is exactly as recorded; and the kernel enforces RLIMIT_NOFILE: a
 * descriptor can be made at soft - 1 but not at soft.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "stasis_test.h"

#define KEEP	((rlim_t)-2)	/* leave the hard limit as it is */

static const struct {
	int res;
	const char *name;
	rlim_t soft, hard;
} limits[] = {
	{ RLIMIT_NOFILE, "RLIMIT_NOFILE", 777, 4099 },
	{ RLIMIT_STACK, "RLIMIT_STACK", (4 << 20) + (12 << 10), KEEP },
	{ RLIMIT_CORE, "RLIMIT_CORE", 0x123000, 0x456000 },
	{ RLIMIT_NPROC, "RLIMIT_NPROC", 4321, KEEP },
	{ RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING", 1234, KEEP },
	{ RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE", 409600, KEEP },
	{ RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK", 68 << 10, KEEP },
	{ RLIMIT_CPU, "RLIMIT_CPU", 86400, KEEP },
	{ RLIMIT_FSIZE, "RLIMIT_FSIZE", (1 << 30) + 4096, KEEP },
	{ RLIMIT_RTTIME, "RLIMIT_RTTIME", 7654321, KEEP },
};
#define NR_SET	(sizeof(limits) / sizeof(limits[0]))

static const char *const res_names[RLIM_NLIMITS] = {
	[RLIMIT_CPU] = "RLIMIT_CPU", [RLIMIT_FSIZE] = "RLIMIT_FSIZE",
	[RLIMIT_DATA] = "RLIMIT_DATA", [RLIMIT_STACK] = "RLIMIT_STACK",
	[RLIMIT_CORE] = "RLIMIT_CORE", [RLIMIT_RSS] = "RLIMIT_RSS",
	[RLIMIT_NPROC] = "RLIMIT_NPROC", [RLIMIT_NOFILE] = "RLIMIT_NOFILE",
	[RLIMIT_MEMLOCK] = "RLIMIT_MEMLOCK", [RLIMIT_AS] = "RLIMIT_AS",
	[RLIMIT_LOCKS] = "RLIMIT_LOCKS", [RLIMIT_SIGPENDING] = "RLIMIT_SIGPENDING",
	[RLIMIT_MSGQUEUE] = "RLIMIT_MSGQUEUE", [RLIMIT_NICE] = "RLIMIT_NICE",
	[RLIMIT_RTPRIO] = "RLIMIT_RTPRIO", [RLIMIT_RTTIME] = "RLIMIT_RTTIME",
};

static rlim_t min_lim(rlim_t a, rlim_t b)
{
	/* RLIM_INFINITY is the largest rlim_t: a plain comparison does. */
	return a < b ? a : b;
}

static void fmt_lim(rlim_t v, char *buf, size_t len)
{
	if (v == RLIM_INFINITY)
		snprintf(buf, len, "unlimited");
	else
		snprintf(buf, len, "%llu", (unsigned long long)v);
}

static int set_limits(void)
{
	struct rlimit rl;
	rlim_t hard;

	for (size_t i = 0; i < NR_SET; i++) {
		if (getrlimit(limits[i].res, &rl)) {
			fail("getrlimit(%s): %m", limits[i].name);
			return -1;
		}
		hard = limits[i].hard == KEEP ? rl.rlim_max :
		       min_lim(limits[i].hard, rl.rlim_max);
		rl.rlim_max = hard;
		rl.rlim_cur = min_lim(limits[i].soft, hard);
		if (setrlimit(limits[i].res, &rl)) {
			fail("setrlimit(%s): %m", limits[i].name);
			return -1;
		}
	}
	return 0;
}

static int check_limits(const struct rlimit *was)
{
	char s[32], h[32], ws[32], wh[32];
	struct rlimit rl;
	int bad = 0;

	for (int res = 0; res < RLIM_NLIMITS; res++) {
		if (getrlimit(res, &rl)) {
			fail("getrlimit(%d): %m", res);
			bad = 1;
			continue;
		}
		if (rl.rlim_cur == was[res].rlim_cur &&
		    rl.rlim_max == was[res].rlim_max)
			continue;
		fmt_lim(rl.rlim_cur, s, sizeof(s));
		fmt_lim(rl.rlim_max, h, sizeof(h));
		fmt_lim(was[res].rlim_cur, ws, sizeof(ws));
		fmt_lim(was[res].rlim_max, wh, sizeof(wh));
		fail("%s (%d): soft %s hard %s, were %s %s",
		     res_names[res] ? res_names[res] : "resource", res, s, h,
		     ws, wh);
		bad = 1;
	}
	return bad ? -1 : 0;
}

/* The kernel goes by the limit: soft - 1 is a valid descriptor, soft not. */
static int check_nofile(rlim_t soft)
{
	int top = (int)soft - 1, fd;

	fd = fcntl(STDIN_FILENO, F_DUPFD, top);
	if (fd < 0) {
		fail("RLIMIT_NOFILE %llu: F_DUPFD at %d: %m",
		     (unsigned long long)soft, top);
		return -1;
	}
	if (fd != top) {
		fail("RLIMIT_NOFILE %llu: F_DUPFD at %d gave %d",
		     (unsigned long long)soft, top, fd);
		close(fd);
		return -1;
	}
	close(fd);
	fd = fcntl(STDIN_FILENO, F_DUPFD, (int)soft);
	if (fd >= 0) {
		fail("RLIMIT_NOFILE %llu: F_DUPFD at %llu gave %d, want EINVAL",
		     (unsigned long long)soft, (unsigned long long)soft, fd);
		close(fd);
		return -1;
	}
	if (errno != EINVAL) {
		fail("RLIMIT_NOFILE %llu: F_DUPFD at %llu: %m, want EINVAL",
		     (unsigned long long)soft, (unsigned long long)soft);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct rlimit was[RLIM_NLIMITS];
	int bad = 0;

	test_init(argc, argv);
	if (set_limits())
		return test_result();
	for (int res = 0; res < RLIM_NLIMITS; res++) {
		if (getrlimit(res, &was[res])) {
			fail("getrlimit(%d): %m", res);
			return test_result();
		}
	}
	if (check_nofile(was[RLIMIT_NOFILE].rlim_cur))
		return test_result();

	test_ready();
	test_waitsig();

	if (check_limits(was))
		bad = 1;
	if (check_nofile(was[RLIMIT_NOFILE].rlim_cur))
		bad = 1;
	if (!bad)
		pass();
	return test_result();
}
