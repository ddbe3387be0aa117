/*
 * fork_churn.c - children are forked and reaped all the time: a seize of
 * the tree has to cope with children that appear and exit under it, and
 * must not reap, keep or change any of them.
 *
 * Child number i exits at once with status i & 0x7f; the parent waits
 * for each by pid and checks the status.  A failed fork(), waitpid()
 * failing (ECHILD: someone else reaped it) or returning another pid, a
 * wrong status, or a child left over at the end FAILs.  EINTR is only
 * expected from the SIGTERM handler.  It goes on until SIGTERM, and for
 * at least MIN_CHILDREN children.
 */
#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stasis_test.h"

#define MIN_CHILDREN	500

/* Reap child number @n, @pid; 0 if it exited as it should. */
static int reap(pid_t pid, unsigned long n)
{
	int status;
	pid_t ret;

	do
		ret = waitpid(pid, &status, 0);
	while (ret < 0 && errno == EINTR && test_got_sigterm());
	if (ret < 0) {
		fail("waitpid for child %lu, pid %d: %m", n, pid);
		return -1;
	}
	if (ret != pid) {
		fail("waitpid for child %lu, pid %d, returned %d", n, pid, ret);
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != (int)(n & 0x7f)) {
		fail("child %lu, pid %d: wait status %#x, want exit %lu",
		     n, pid, status, n & 0x7f);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long n;
	pid_t pid;
	int bad = 0;

	test_init(argc, argv);
	test_ready();

	for (n = 0; !test_got_sigterm() || n < MIN_CHILDREN; n++) {
		pid = fork();
		if (pid < 0) {
			fail("fork of child %lu: %m", n);
			bad = 1;
			break;
		}
		if (pid == 0)
			_exit(n & 0x7f);
		if (reap(pid, n)) {
			bad = 1;
			break;
		}
	}

	/* Every child was reaped, so there must be none left. */
	pid = waitpid(-1, NULL, WNOHANG);
	if (pid >= 0) {
		fail("a child left over: waitpid(-1) returned %d, not ECHILD", pid);
		bad = 1;
	} else if (errno != ECHILD) {
		fail("waitpid(-1): %m");
		bad = 1;
	}
	test_msg("%lu children", n);
	if (!bad)
		pass();
	/* After a failure too: the runner expects us alive until SIGTERM. */
	if (!test_got_sigterm())
		test_waitsig();
	return test_result();
}
