/*
 * spawn.c - start a program the way the dump tests need it, and clean up:
 *
 *   spawn PIDFILE [-C DIR] [-S] -- PROGRAM [ARGS...]
 *
 * Becomes a child subreaper (PID 1 here reaps no orphans), starts PROGRAM
 * in a session of its own (-S: in ours, for programs that call setsid()
 * themselves) with stdio on /dev/null and no other fd, writes its pid to
 * PIDFILE, and then reaps every descendant until none is left.  It exits
 * when the tree is gone (dumped and killed, or killed by the test) with
 * the status of PROGRAM.  SIGTERM to spawn kills the whole tree.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static void child(const char *dir, bool own_session, char **argv)
{
	int null = open("/dev/null", O_RDWR);

	if (own_session)
		setsid();
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
	/* Nothing of ours leaks into the program: it starts as a shell would start it. */
	syscall(SYS_close_range, 3, ~0U, 0);
	if (dir && chdir(dir))
		_exit(126);
	signal(SIGTERM, SIG_DFL);
	execv(argv[0], argv);
	_exit(127);
}

int main(int argc, char **argv)
{
	const char *pidfile, *dir = NULL;
	int i = 2, status, result = 0;
	bool own_session = true;
	pid_t pid, r;
	FILE *f;

	if (argc < 4)
		goto usage;
	pidfile = argv[1];
	if (i + 1 < argc && !strcmp(argv[i], "-C")) {
		dir = argv[i + 1];
		i += 2;
	}
	if (i < argc && !strcmp(argv[i], "-S")) {
		own_session = false;
		i++;
	}
	if (i >= argc || strcmp(argv[i], "--"))
		goto usage;
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	/* No SA_RESTART: the wait below must return to act on SIGTERM. */
	sigaction(SIGTERM, &(struct sigaction){ .sa_handler = on_term }, NULL);
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0)
		child(dir, own_session, &argv[i + 1]);
	f = fopen(pidfile, "w");
	if (f) {
		fprintf(f, "%d\n", pid);
		fclose(f);
	}
	for (;;) {
		r = waitpid(-1, &status, 0);
		if (r < 0 && errno == EINTR) {
			if (stop) {
				kill(-pid, SIGKILL);
				kill(pid, SIGKILL);
			}
			continue;
		}
		if (r < 0)
			break;	/* ECHILD: everything is reaped */
		if (r == pid)
			result = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	}
	return result;
usage:
	fprintf(stderr, "usage: spawn PIDFILE [-C DIR] [-S] -- PROGRAM [ARGS...]\n");
	return 2;
}
