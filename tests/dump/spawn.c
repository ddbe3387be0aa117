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
 * the status of PROGRAM.  SIGTERM to spawn kills the whole tree: PROGRAM's
 * process group and every process whose parent spawn is (its children,
 * and the orphans it adopted), again after each one reaped, so that
 * what they leave comes to spawn and is killed too.
 */
#include <dirent.h>
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
static volatile pid_t program;

/* Here and not only in the loop: a SIGTERM just before waitpid() must not be lost. */
static void on_term(int sig)
{
	(void)sig;
	stop = 1;
	if (program > 0) {
		kill(-program, SIGKILL);
		kill(program, SIGKILL);
	}
}

/* SIGKILL to every process whose parent we are. */
static void kill_children(void)
{
	char path[300], buf[512], *p;
	struct dirent *de;
	DIR *d = opendir("/proc");
	FILE *f;
	int ppid;

	while (d && (de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
		if (p && sscanf(p + 2, "%*c %d", &ppid) == 1 && ppid == getpid())
			kill(atoi(de->d_name), SIGKILL);
		fclose(f);
	}
	if (d)
		closedir(d);
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
	program = pid;
	f = fopen(pidfile, "w");
	if (f) {
		fprintf(f, "%d\n", pid);
		fclose(f);
	}
	for (;;) {
		if (stop) {
			/* Once reaped, PROGRAM's pid may be someone else's. */
			if (program > 0) {
				kill(-pid, SIGKILL);
				kill(pid, SIGKILL);
			}
			kill_children();
		}
		r = waitpid(-1, &status, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;	/* ECHILD: everything is reaped */
		if (r == pid) {
			program = 0;
			result = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
	}
	return result;
usage:
	fprintf(stderr, "usage: spawn PIDFILE [-C DIR] [-S] -- PROGRAM [ARGS...]\n");
	return 2;
}
