/*
 * stopped.c - a child stopped by SIGSTOP, with the test running beside it.
 *
 * Sets up, before READY: a child that blocks SIGUSR1, has one SIGUSR1
 * pending (queued with a value), and stops itself with raise(SIGSTOP).
 * The test sees it stopped (waitid WSTOPPED) and in state T in
 * /proc/PID/stat.
 *
 * Checks after SIGTERM: the child is still in state T, with the test as
 * its parent, and stays so for a moment (nothing continues it by itself).
 * Then the test sends SIGCONT: the child must go on from where it stopped,
 * find its pid and ppid unchanged and SIGUSR1 still pending with its
 * value, and exit 0 within CHILD_MS.
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

#define USR1_VALUE	0x57095
#define SETTLE_MS	300
#define CHILD_MS	5000

static void nap_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000 };

	nanosleep(&ts, NULL);
}

static void __attribute__((noreturn)) child(pid_t parent)
{
	struct timespec zero = { 0 };
	pid_t self = getpid();
	siginfo_t si;
	sigset_t usr1;
	int bad = 0;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	sigqueue(self, SIGUSR1, (union sigval){ .sival_int = USR1_VALUE });

	raise(SIGSTOP);

	if (getpid() != self || getppid() != parent) {
		fail("stopped child: pid %d ppid %d, were %d %d", getpid(),
		     getppid(), self, parent);
		bad = 1;
	}
	if (sigtimedwait(&usr1, &si, &zero) != SIGUSR1) {
		fail("stopped child: SIGUSR1 no longer pending: %m");
		bad = 1;
	} else if (si.si_value.sival_int != USR1_VALUE || si.si_code != SI_QUEUE) {
		fail("stopped child: SIGUSR1 with value %#x, si_code %d, want %#x, SI_QUEUE",
		     si.si_value.sival_int, si.si_code, USR1_VALUE);
		bad = 1;
	}
	_exit(bad);
}

/* The child must be stopped, ours, and stay stopped for SETTLE_MS. */
static int check_stopped(pid_t pid, const char *when)
{
	char state = '?';
	pid_t ppid = -1;

	for (long ms = 0; ; ms += 50) {
		if (test_proc_stat(pid, &state, &ppid)) {
			fail("%s: child %d gone from /proc", when, pid);
			return -1;
		}
		if (state != 'T' || ppid != getpid()) {
			fail("%s: child %d in state %c with parent %d, want T, %d",
			     when, pid, state, ppid, getpid());
			return -1;
		}
		if (ms >= SETTLE_MS)
			return 0;
		nap_ms(50);
	}
}

/* Continue the child; it must exit 0 in time. */
static int resume(pid_t pid)
{
	int status;

	if (kill(pid, SIGCONT)) {
		fail("SIGCONT to child %d: %m", pid);
		return -1;
	}
	for (long ms = 0; ; ms += 10) {
		pid_t ret = waitpid(pid, &status, WNOHANG);

		if (ret == pid)
			break;
		if (ret < 0) {
			fail("waitpid child %d: %m", pid);
			return -1;
		}
		if (ms >= CHILD_MS) {
			fail("child %d did not end within %d ms of SIGCONT",
			     pid, CHILD_MS);
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return -1;
		}
		nap_ms(10);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fail("child %d ended with wait status %#x after SIGCONT", pid,
		     status);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	siginfo_t si;
	pid_t pid;
	int bad = 0;

	test_init(argc, argv);
	pid = fork();
	if (pid < 0) {
		fail("fork: %m");
		return test_result();
	}
	if (pid == 0)
		child(getppid());

	memset(&si, 0, sizeof(si));
	while (waitid(P_PID, (id_t)pid, &si, WSTOPPED)) {
		if (errno != EINTR) {
			fail("waitid: %m");
			goto out_kill;
		}
	}
	if (si.si_code != CLD_STOPPED || si.si_status != SIGSTOP) {
		fail("child %d: si_code %d, status %d, want stopped by SIGSTOP",
		     pid, si.si_code, si.si_status);
		goto out_kill;
	}
	if (check_stopped(pid, "before READY"))
		goto out_kill;

	test_ready();
	test_waitsig();

	if (check_stopped(pid, "after"))
		bad = 1;
	if (resume(pid))
		bad = 1;
	if (!bad)
		pass();
	return test_result();

out_kill:
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return test_result();
}
