/*
 * zombie.c - a child that has exited and is not reaped yet: a seize of
 * the tree must leave the zombie alone, neither reaping it nor losing
 * its exit status.
 *
 * The child exits at once with CHILD_STATUS; the parent waits with
 * WNOWAIT until it is a zombie, says READY, and only after SIGTERM reaps
 * it with waitpid(-1), which must return that child with that status,
 * and then find no other child.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stasis_test.h"

#define CHILD_STATUS	42

/* The state letter and parent of @pid; -1 if it is gone. */
static int proc_stat(pid_t pid, char *state, pid_t *ppid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');	/* comm may hold anything */
	if (!p || strlen(p) < 5)
		return -1;
	*state = p[2];
	*ppid = (pid_t)strtol(p + 4, NULL, 10);
	return 0;
}

/* Before reaping: is @child still our zombie? */
static int check_zombie(pid_t child)
{
	pid_t ppid;
	char state;

	if (proc_stat(child, &state, &ppid)) {
		fail("zombie %d is gone before we reaped it", child);
		return -1;
	}
	if (state != 'Z' || ppid != getpid()) {
		fail("zombie %d: state %c, parent %d; want Z, %d", child,
		     state, ppid, getpid());
		return -1;
	}
	return 0;
}

static int reap(pid_t child)
{
	int status;
	pid_t ret;

	ret = waitpid(-1, &status, WNOHANG);
	if (ret < 0) {
		fail("waitpid(-1) for zombie %d: %m", child);
		return -1;
	}
	if (ret != child) {
		fail("waitpid(-1) returned %d, want zombie %d", ret, child);
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != CHILD_STATUS) {
		fail("zombie %d: wait status %#x, want exit %d", child, status,
		     CHILD_STATUS);
		return -1;
	}
	ret = waitpid(-1, NULL, WNOHANG);
	if (ret >= 0) {
		fail("a child other than %d: waitpid(-1) returned %d", child, ret);
		return -1;
	}
	if (errno != ECHILD) {
		fail("second waitpid(-1): %m");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	siginfo_t si = { 0 };
	pid_t child;
	int bad = 0;

	test_init(argc, argv);

	child = fork();
	if (child < 0) {
		fail("fork: %m");
		return test_result();
	}
	if (child == 0)
		_exit(CHILD_STATUS);
	/* Wait for it to exit, leaving it a zombie. */
	if (waitid(P_PID, child, &si, WEXITED | WNOWAIT)) {
		fail("waitid: %m");
		return test_result();
	}
	if (si.si_pid != child || si.si_code != CLD_EXITED ||
	    si.si_status != CHILD_STATUS) {
		fail("child %d ended as pid %d, code %d, status %d", child,
		     si.si_pid, si.si_code, si.si_status);
		return test_result();
	}

	test_ready();
	test_waitsig();

	if (check_zombie(child) || reap(child))
		bad = 1;
	if (!bad)
		pass();
	return test_result();
}
