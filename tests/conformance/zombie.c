/*
 * zombie.c - children that have ended but are not reaped yet.
 *
 * Sets up, before READY, three children of the test that end at once:
 *   one exits with status 42,
 *   one is killed by SIGUSR1 (default action, raised by itself),
 *   one is killed by SIGKILL from the test;
 * and waits (waitid with WNOWAIT, which reaps nothing) until each is a
 * zombie, as /proc/PID/stat also says.  SIGCHLD stays at its default.
 *
 * Checks after SIGTERM: each pid is still a zombie child of ours (state Z
 * and our pid as ppid in /proc/PID/stat), waitpid() on it returns at once
 * with the same status (exited 42 / killed by SIGUSR1 / killed by
 * SIGKILL, no core dump), and then no child is left (ECHILD).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "stasis_test.h"

#define EXIT_CODE	42
#define NR_ZOMBIES	3

enum kind { EXITS, SELF_SIGNAL, KILLED };

struct zombie {
	enum kind kind;
	const char *what;
	pid_t pid;
	int status;	/* as waitid() saw it, in waitpid() terms */
};

static struct zombie zombies[NR_ZOMBIES] = {
	{ .kind = EXITS, .what = "child that exited with 42" },
	{ .kind = SELF_SIGNAL, .what = "child killed by SIGUSR1" },
	{ .kind = KILLED, .what = "child killed by SIGKILL" },
};

static const char *describe(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d%s", WTERMSIG(status),
			 WCOREDUMP(status) ? " (core dumped)" : "");
	else
		snprintf(buf, len, "wait status %#x", status);
	return buf;
}

static int start(struct zombie *z)
{
	siginfo_t si;

	z->pid = fork();
	if (z->pid < 0) {
		fail("fork: %m");
		return -1;
	}
	if (z->pid == 0) {
		switch (z->kind) {
		case EXITS:
			_exit(EXIT_CODE);
		case SELF_SIGNAL:
			signal(SIGUSR1, SIG_DFL);
			raise(SIGUSR1);
			_exit(1);
		case KILLED:
			for (;;)
				pause();
		}
	}
	if (z->kind == KILLED)
		kill(z->pid, SIGKILL);

	/* Wait until it has ended, leaving it a zombie. */
	memset(&si, 0, sizeof(si));
	while (waitid(P_PID, (id_t)z->pid, &si, WEXITED | WNOWAIT)) {
		if (errno != EINTR) {
			fail("waitid %s: %m", z->what);
			return -1;
		}
	}
	if (si.si_code == CLD_EXITED)
		z->status = (si.si_status & 0xff) << 8;
	else
		z->status = si.si_status & 0x7f;
	return 0;
}

/* Is @z a zombie child of ours, as /proc says? */
static int check_zombie_state(const struct zombie *z, const char *when)
{
	char state = '?';
	pid_t ppid = -1;

	if (test_proc_stat(z->pid, &state, &ppid)) {
		fail("%s: %s (pid %d) gone from /proc", when, z->what, z->pid);
		return -1;
	}
	if (state != 'Z' || ppid != getpid()) {
		fail("%s: %s (pid %d): state %c, parent %d, want Z, %d", when,
		     z->what, z->pid, state, ppid, getpid());
		return -1;
	}
	return 0;
}

static int want_status(const struct zombie *z)
{
	switch (z->kind) {
	case EXITS:
		return EXIT_CODE << 8;
	case SELF_SIGNAL:
		return SIGUSR1;
	case KILLED:
		return SIGKILL;
	}
	return -1;
}

static int reap(const struct zombie *z)
{
	char got[64], want[64];
	int status = 0;
	pid_t ret;

	ret = waitpid(z->pid, &status, WNOHANG);
	if (ret == 0) {
		fail("%s (pid %d) is not dead any more", z->what, z->pid);
		return -1;
	}
	if (ret != z->pid) {
		fail("waitpid %s (pid %d): %d (%m)", z->what, z->pid, ret);
		return -1;
	}
	if (status != z->status) {
		fail("%s (pid %d): %s, was %s", z->what, z->pid,
		     describe(status, got, sizeof(got)),
		     describe(z->status, want, sizeof(want)));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char got[64], want[64];
	int bad = 0;
	pid_t ret;

	test_init(argc, argv);
	for (int i = 0; i < NR_ZOMBIES; i++) {
		struct zombie *z = &zombies[i];

		if (start(z))
			return test_result();
		if (z->status != want_status(z)) {
			fail("%s (pid %d): %s, meant to be %s", z->what, z->pid,
			     describe(z->status, got, sizeof(got)),
			     describe(want_status(z), want, sizeof(want)));
			return test_result();
		}
		if (check_zombie_state(z, "before READY"))
			return test_result();
	}

	test_ready();
	test_waitsig();

	for (int i = 0; i < NR_ZOMBIES; i++)
		if (check_zombie_state(&zombies[i], "after"))
			bad = 1;
	for (int i = 0; i < NR_ZOMBIES; i++)
		if (reap(&zombies[i]))
			bad = 1;
	ret = waitpid(-1, NULL, WNOHANG);
	if (ret == 0) {
		fail("a child is still running after reaping the zombies");
		bad = 1;
	} else if (ret > 0) {
		fail("an unknown child %d was a zombie too", ret);
		bad = 1;
	} else if (errno != ECHILD) {
		fail("waitpid(-1): %m");
		bad = 1;
	}
	if (!bad)
		pass();
	return test_result();
}
