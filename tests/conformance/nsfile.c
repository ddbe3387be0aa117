/*
 * nsfile.c - open files of the task's own namespaces.
 *
 * Sets up, before READY:
 *   fd 5  /proc/self/ns/net, O_RDONLY
 *   fd 6  /proc/self/ns/uts, O_RDONLY, FD_CLOEXEC
 *
 * Checks after SIGTERM: each fd is still the namespace the task is in
 * (same device and inode as /proc/self/ns/NAME now), fd 6 still has
 * FD_CLOEXEC and fd 5 not, and setns() into each works.
 */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stasis_test.h"

static const struct {
	int fd;
	const char *name;
	int cflag;
	int fdflags;
} nss[] = {
	{ 5, "net", CLONE_NEWNET, 0 },
	{ 6, "uts", CLONE_NEWUTS, FD_CLOEXEC },
};

#define NR	(sizeof(nss) / sizeof(nss[0]))

static int setup(void)
{
	char path[64];

	for (size_t i = 0; i < NR; i++) {
		int fd;

		snprintf(path, sizeof(path), "/proc/self/ns/%s", nss[i].name);
		fd = open(path, O_RDONLY);
		if (fd < 0 || dup2(fd, nss[i].fd) != nss[i].fd || close(fd) ||
		    fcntl(nss[i].fd, F_SETFD, nss[i].fdflags))
			return -1;
	}
	return 0;
}

static void check(void)
{
	char path[64];
	struct stat a, b;

	for (size_t i = 0; i < NR; i++) {
		snprintf(path, sizeof(path), "/proc/self/ns/%s", nss[i].name);
		if (fstat(nss[i].fd, &a) || stat(path, &b)) {
			fail("%s: %m", nss[i].name);
			continue;
		}
		if (a.st_dev != b.st_dev || a.st_ino != b.st_ino)
			fail("fd %d is not our %s namespace", nss[i].fd, nss[i].name);
		if (fcntl(nss[i].fd, F_GETFD) != nss[i].fdflags)
			fail("fd %d: fd flags %#x, want %#x", nss[i].fd, fcntl(nss[i].fd, F_GETFD),
			     nss[i].fdflags);
		if (setns(nss[i].fd, nss[i].cflag))
			fail("setns fd %d (%s): %m", nss[i].fd, nss[i].name);
	}
}

int main(int argc, char **argv)
{
	test_init(argc, argv);
	if (setup()) {
		fail("setup: %m");
		return test_result();
	}
	test_ready();
	test_waitsig();
	check();
	pass();
	return test_result();
}
