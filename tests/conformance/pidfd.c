/*
 * pidfd.c - pidfds of a child, of the task itself and of processes gone.
 *
 * Sets up, before READY:
 *   fd 5  pidfd of a child that sleeps (PIDFD_NONBLOCK)
 *   fd 6  pidfd of the task itself
 *   fd 7, fd 8  two pidfds of one child that has exited and been reaped
 *   fd 9  a pidfd of another such child
 *
 * Checks after SIGTERM:
 *   - fd 5 names the child (fdinfo Pid), keeps O_NONBLOCK, is not ready
 *     while it lives; a SIGKILL sent through it kills it, and fd 5 then
 *     polls ready;
 *   - fd 6 names the task itself;
 *   - fds 7, 8 and 9 name processes that are gone (Pid -1, signals fail
 *     with ESRCH); 7 and 8 the same one (one pidfs inode), 9 another.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stasis_test.h"

static pid_t child;

static int place(int fd, int want)
{
	if (fd < 0 || (fd != want && (dup2(fd, want) != want || close(fd))))
		return -1;
	return 0;
}

/* A child that exits at once, reaped: pidfds of it are taken before. */
static int dead_pidfds(int want1, int want2)
{
	pid_t pid = fork();

	if (pid == 0) {
		pause();
		_exit(0);
	}
	if (pid < 0 || place(pidfd_open(pid, 0), want1) ||
	    (want2 >= 0 && place(pidfd_open(pid, 0), want2)))
		return -1;
	kill(pid, SIGKILL);
	return waitpid(pid, NULL, 0) == pid ? 0 : -1;
}

static int setup(void)
{
	child = fork();
	if (child == 0) {
		for (;;)
			pause();
	}
	if (child < 0 || place(pidfd_open(child, PIDFD_NONBLOCK), 5) ||
	    place(pidfd_open(getpid(), 0), 6))
		return -1;
	return dead_pidfds(7, 8) || dead_pidfds(9, -1) ? -1 : 0;
}

static long pid_of(int fd)
{
	char path[64], line[128];
	long pid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Pid: %ld", &pid) == 1)
			break;
	fclose(f);
	return pid;
}

static bool ready(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 1000) == 1;
}

static void check(void)
{
	struct stat a, b, c;

	if (pid_of(5) != child)
		fail("fd 5 names pid %ld, not the child %d", pid_of(5), child);
	if (!(fcntl(5, F_GETFL) & O_NONBLOCK))
		fail("fd 5 lost O_NONBLOCK");
	if (pid_of(6) != getpid())
		fail("fd 6 names pid %ld, not us (%d)", pid_of(6), getpid());
	for (int fd = 7; fd <= 9; fd++) {
		if (pid_of(fd) != -1)
			fail("fd %d names pid %ld, not a process gone", fd, pid_of(fd));
		if (!pidfd_send_signal(fd, 0, NULL, 0) || errno != ESRCH)
			fail("fd %d: a signal to a process gone: %m", fd);
	}
	if (fstat(7, &a) || fstat(8, &b) || fstat(9, &c) || a.st_ino != b.st_ino ||
	    a.st_ino == c.st_ino)
		fail("fds 7, 8, 9: inodes %lu %lu %lu, want 7 and 8 alike, 9 not",
		     (unsigned long)a.st_ino, (unsigned long)b.st_ino, (unsigned long)c.st_ino);
	{
		struct pollfd p = { .fd = 5, .events = POLLIN };

		if (poll(&p, 1, 0) != 0)
			fail("fd 5 is ready while the child lives");
	}
	if (pidfd_send_signal(5, SIGKILL, NULL, 0))
		fail("SIGKILL through fd 5: %m");
	else if (!ready(5))
		fail("fd 5 not ready once the child is killed");
}

int main(int argc, char **argv)
{
	test_init(argc, argv);
	if (setup()) {
		fail("setup: %m");
		if (child > 0)
			kill(child, SIGKILL);
		return test_result();
	}
	test_ready();
	test_waitsig();
	check();
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	pass();
	return test_result();
}
