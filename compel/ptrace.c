/*
 * ptrace.c - waiting for ptrace stops and telling them apart.
 */
#include <errno.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>

#include "internal.h"

/*
 * How long a thread may take to stop: one stuck in the kernel that long
 * (io_uring's kernel threads never come back to user space) would hold
 * the dump, and its tree frozen, for ever.  CRIU's default --timeout.
 */
#define STOP_TIMEOUT_MS	10000

/*
 * Wait for @tid to stop; a tracee that exits instead is -ESRCH, one that
 * does not stop in STOP_TIMEOUT_MS -ETIMEDOUT.
 *
 * A killed thread group leader is not reported until its tracer has
 * reaped every other thread, which waiting on the leader alone never
 * does: so the wait sleeps on SIGCHLD (every ptrace event sends one) with
 * a timeout, and gives up once the thread is a zombie or gone.
 */
int compel_wait_stop(pid_t tid, int *status)
{
	struct timespec nap = { 0, 100 * 1000 * 1000 };
	sigset_t chld, old;
	struct timespec start, now;
	bool slept = false, masked = false;
	int ret = 0;

	for (;;) {
		pid_t r = waitpid(tid, status, __WALL | WNOHANG);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			cpr_err("tid %d: waitpid: %m", tid);
			break;
		}
		if (r == tid && WIFSTOPPED(*status))
			break;
		/*
		 * Not stopped yet is the usual answer to the first look: the
		 * task's state is read (a /proc read) only after a wake-up
		 * that brought nothing.
		 */
		if (r == tid || (slept && compel_thread_exiting(tid))) {
			/* Gone: the caller knows whether that matters. */
			cpr_debug("tid %d: exited while seized (status 0x%x)", tid,
				  r == tid ? *status : 0);
			ret = -ESRCH;
			break;
		}
		/*
		 * Most stops are there at the first look (the task runs on
		 * another core while we work), and cost no mask change.  Else
		 * SIGCHLD is held from here, and looked for once more before
		 * the first sleep, so that none is lost in between.
		 */
		if (!masked) {
			sigemptyset(&chld);
			sigaddset(&chld, SIGCHLD);
			sigprocmask(SIG_BLOCK, &chld, &old);
			masked = true;
			clock_gettime(CLOCK_MONOTONIC, &start);
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >=
		    STOP_TIMEOUT_MS) {
			cpr_err("tid %d did not stop in %d s", tid, STOP_TIMEOUT_MS / 1000);
			ret = -ETIMEDOUT;
			break;
		}
		sigtimedwait(&chld, NULL, &nap);
		slept = true;
	}
	if (masked)
		sigprocmask(SIG_SETMASK, &old, NULL);
	return ret;
}

bool compel_is_event_stop(int status)
{
	return (status >> 16) == PTRACE_EVENT_STOP;
}

/* PTRACE_O_TRACESYSGOOD marks syscall stops with bit 7 of the signal. */
bool compel_is_syscall_stop(int status)
{
	return (status >> 16) == 0 && WSTOPSIG(status) == (SIGTRAP | 0x80);
}

/*
 * SIGSTOP on its way in: the one signal besides SIGKILL that the all-blocked
 * mask of a remote call cannot hold back.  It is swallowed where it shows
 * up and raised again when the task is let go, so the stop is not lost.
 */
bool compel_is_sigstop(int status)
{
	return (status >> 16) == 0 && WSTOPSIG(status) == SIGSTOP;
}
