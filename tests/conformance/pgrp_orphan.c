/*
 * pgrp_orphan.c - a process group whose leader is gone, and a session
 * made by a grandchild.
 *
 *   R  the test
 *   |- M1  forked by L for R (CLONE_PARENT), asleep, in L's group
 *   |- M2  the same, exited: a zombie in L's group
 *   |  (L  setpgid(0, 0), forked M1 and M2, exited and was reaped)
 *   `- B  asleep, in R's session
 *      `- C  setsid(): a session and group of its own, asleep
 *         `- D  asleep, in C's session and group
 *
 * Group L has members and no leader: a restore must make it (CRIU does so
 * with a helper task of pid L) and leave no task L behind.
 *
 * Checks after SIGTERM: M1 and the zombie M2 are in group L, no process L
 * exists, M2 still waits to be reaped with exit status 0; C and D are in
 * session and group C, C's parent is B and D's is C, B is in R's session.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stasis_test.h"

static int bad;
#define FAIL(...)	do { bad++; fail(__VA_ARGS__); } while (0)

static void __attribute__((noreturn)) sleep_forever(void)
{
	for (;;)
		pause();
}

static pid_t fork_parent(void)
{
	return syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, NULL, NULL, 0);
}

/* L: a group, two members handed to R, then gone.  Reports through @fd. */
static void __attribute__((noreturn)) leader(int fd)
{
	pid_t m[2];

	if (setpgid(0, 0))
		_exit(1);
	for (int i = 0; i < 2; i++) {
		m[i] = fork_parent();
		if (m[i] == 0) {
			if (i == 1)
				_exit(0);
			sleep_forever();
		}
		if (m[i] < 0)
			_exit(1);
	}
	_exit(write(fd, m, sizeof(m)) == sizeof(m) ? 0 : 1);
}

/* B, then C (setsid) and D.  C's and D's pids go through @fd. */
static void __attribute__((noreturn)) session_branch(int fd)
{
	pid_t cd[2];
	int p[2];

	if (pipe(p) || (cd[0] = fork()) < 0)
		_exit(1);
	if (cd[0] == 0) {
		if (setsid() < 0 || (cd[1] = fork()) < 0)
			_exit(1);
		if (cd[1] == 0)
			sleep_forever();
		cd[0] = getpid();
		if (write(p[1], cd, sizeof(cd)) != sizeof(cd))
			_exit(1);
		sleep_forever();
	}
	if (read(p[0], cd, sizeof(cd)) != sizeof(cd) || write(fd, cd, sizeof(cd)) != sizeof(cd))
		_exit(1);
	sleep_forever();
}

static pid_t ppid_of(pid_t pid)
{
	char state;
	pid_t ppid;

	return test_proc_stat(pid, &state, &ppid) ? -1 : ppid;
}

/* Is @pid in group @pgid and session @sid? */
static void check_ids(const char *who, pid_t pid, pid_t pgid, pid_t sid)
{
	if (getpgid(pid) != pgid || getsid(pid) != sid)
		FAIL("%s (%d): group %d session %d, not %d %d", who, pid, getpgid(pid),
		     getsid(pid), pgid, sid);
}

static void check(pid_t l, const pid_t m[2], pid_t b, const pid_t cd[2])
{
	siginfo_t si = { 0 };

	check_ids("M1", m[0], l, getsid(0));
	check_ids("M2 (zombie)", m[1], l, getsid(0));
	if (!kill(l, 0) || errno != ESRCH)
		FAIL("a process %d (the gone group leader's pid) exists", l);
	if (waitid(P_PID, m[1], &si, WEXITED | WNOHANG | WNOWAIT) || si.si_pid != m[1] ||
	    si.si_code != CLD_EXITED || si.si_status != 0)
		FAIL("M2 (%d) is not a zombie that exited 0: pid %d code %d status %d", m[1],
		     si.si_pid, si.si_code, si.si_status);
	check_ids("B", b, getpgrp(), getsid(0));
	check_ids("C", cd[0], cd[0], cd[0]);
	check_ids("D", cd[1], cd[0], cd[0]);
	if (ppid_of(cd[0]) != b || ppid_of(cd[1]) != cd[0])
		FAIL("parents: C's %d (not B %d), D's %d (not C %d)", ppid_of(cd[0]), b,
		     ppid_of(cd[1]), cd[0]);
}

int main(int argc, char **argv)
{
	pid_t l, b, m[2] = { 0 }, cd[2] = { 0 };
	int status, p[2];

	test_init(argc, argv);
	if (pipe(p) || (l = fork()) < 0) {
		FAIL("pipe/fork: %m");
		return test_result();
	}
	if (l == 0)
		leader(p[1]);
	if (waitpid(l, &status, 0) != l || status || read(p[0], m, sizeof(m)) != sizeof(m)) {
		FAIL("the group leader failed (status %#x)", status);
		return test_result();
	}
	b = fork();
	if (b == 0)
		session_branch(p[1]);
	if (b < 0 || read(p[0], cd, sizeof(cd)) != sizeof(cd)) {
		FAIL("the session branch failed: %m");
		kill(b, SIGKILL);
		return test_result();
	}
	/* M2 exits on its own time: wait (without reaping) until it has. */
	if (waitid(P_PID, m[1], &(siginfo_t){ 0 }, WEXITED | WNOWAIT)) {
		FAIL("M2 (%d) never exited: %m", m[1]);
		return test_result();
	}
	check(l, m, b, cd);	/* as built: the checks themselves are right */
	test_ready();
	test_waitsig();

	check(l, m, b, cd);
	kill(cd[1], SIGKILL);
	kill(cd[0], SIGKILL);
	kill(b, SIGKILL);
	kill(m[0], SIGKILL);
	while (waitpid(-1, NULL, 0) > 0)
		;
	if (!bad)
		pass();
	return test_result();
}
