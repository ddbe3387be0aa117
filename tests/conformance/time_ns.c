/*
 * time_ns.c - a task in a time namespace of its own, its clocks ten and
 * twenty days ahead of the host's.
 *
 * Sets up, before READY: unshare(CLONE_NEWTIME), offsets monotonic +10
 * days and boottime +20 days, then enters it (setns time_for_children).
 * Records both clocks as it sees them.
 *
 * Checks after SIGTERM: both clocks read what they did plus at most the
 * time the test took (no jump back to the host's, no jump forward: the
 * restore put them back where they were), boottime still ahead of
 * monotonic by about the ten days, and the namespace still another than
 * the one it started in.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "stasis_test.h"

#define DAY		(24 * 3600L)
#define MAX_RUN		120	/* seconds the test may take, dump and restore included */

static ino_t ns_ino(const char *name)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/self/ns/%s", name);
	return stat(path, &st) ? 0 : st.st_ino;
}

static int enter_new_ns(void)
{
	static const char offsets[] = "1 864000 0\n7 1728000 0\n";
	int fd;

	if (unshare(CLONE_NEWTIME))
		return -1;
	fd = open("/proc/self/timens_offsets", O_WRONLY);
	if (fd < 0 || write(fd, offsets, strlen(offsets)) != (ssize_t)strlen(offsets))
		return -1;
	close(fd);
	fd = open("/proc/self/ns/time_for_children", O_RDONLY);
	if (fd < 0 || setns(fd, CLONE_NEWTIME))
		return -1;
	close(fd);
	return 0;
}

static void check_clock(const char *name, clockid_t clk, const struct timespec *then)
{
	struct timespec now;
	long d;

	clock_gettime(clk, &now);
	d = now.tv_sec - then->tv_sec;
	if (d < 0 || d > MAX_RUN)
		fail("%s clock moved by %ld s across the checkpoint (%ld -> %ld)", name, d,
		     (long)then->tv_sec, (long)now.tv_sec);
}

int main(int argc, char **argv)
{
	struct timespec mono, boot, m2, b2;
	ino_t host;

	test_init(argc, argv);
	host = ns_ino("time");
	if (!host || access("/proc/self/timens_offsets", F_OK)) {
		skip("this kernel has no time namespaces");
		return test_result();
	}
	if (enter_new_ns()) {
		fail("cannot make and enter a time namespace: %m");
		return test_result();
	}
	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_BOOTTIME, &boot);
	test_ready();
	test_waitsig();

	check_clock("monotonic", CLOCK_MONOTONIC, &mono);
	check_clock("boot", CLOCK_BOOTTIME, &boot);
	clock_gettime(CLOCK_MONOTONIC, &m2);
	clock_gettime(CLOCK_BOOTTIME, &b2);
	/* The host's boot clock runs ahead of its monotonic one by its suspends only. */
	if (b2.tv_sec - m2.tv_sec < 10 * DAY - MAX_RUN)
		fail("boot clock %ld s ahead of monotonic, want about 10 days", (long)(b2.tv_sec - m2.tv_sec));
	if (ns_ino("time") == host)
		fail("back in the time namespace it started in");
	if (ns_ino("time") != ns_ino("time_for_children"))
		fail("its children would be born in another time namespace");
	pass();
	return test_result();
}
