/*
 * ptrace.c - waiting for ptrace stops and telling them apart.
 */
#include <errno.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "internal.h"

/* Wait for @tid to stop; a tracee that exits instead is -ESRCH. */
int compel_wait_stop(pid_t tid, int *status)
{
	for (;;) {
		pid_t r = waitpid(tid, status, __WALL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			cpr_err("tid %d: waitpid: %m", tid);
			return -errno;
		}
		if (WIFSTOPPED(*status))
			return 0;
		/* Gone: the caller knows whether that matters. */
		cpr_debug("tid %d: exited while seized (status 0x%x)", tid, *status);
		return -ESRCH;
	}
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
