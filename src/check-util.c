/*
 * check-util.c - what the probes of `stasis check` share: children that
 * try risky things away from stasis, a traced child, small file readers,
 * and running a helper program (iptables, nft) for its output.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "log.h"

int check_in_child(int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0) {
		pr_perror("cannot fork a child for a check");
		return -1;
	}
	if (pid == 0)
		_exit(fn(arg) ? 1 : 0);
	if (waitpid(pid, &status, 0) != pid) {
		pr_perror("cannot wait for check child %d", pid);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

void check_kill(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, __WALL);
}

/* The child's side: get ready, tell the parent, wait to be killed. */
static void traced_child(int (*setup)(void), int ready)
{
	char c = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (setup && setup())
		_exit(1);
	if (write(ready, &c, 1) != 1)
		_exit(1);
	close(ready);
	for (;;)
		pause();
}

pid_t check_traced_child(int (*setup)(void))
{
	int p[2], status;
	pid_t pid;
	char c;

	if (pipe(p)) {
		pr_perror("cannot make a pipe");
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		pr_perror("cannot fork a child to trace");
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		traced_child(setup, p[1]);
	}
	close(p[1]);
	/* EOF instead of a byte: the child's setup failed. */
	if (read(p[0], &c, 1) != 1) {
		pr_err("check child %d could not get ready", pid);
		goto fail;
	}
	if (ptrace(PTRACE_SEIZE, pid, NULL, NULL) ||
	    ptrace(PTRACE_INTERRUPT, pid, NULL, NULL)) {
		pr_perror("cannot seize check child %d", pid);
		goto fail;
	}
	if (waitpid(pid, &status, __WALL) != pid || !WIFSTOPPED(status)) {
		pr_err("check child %d did not stop", pid);
		goto fail;
	}
	close(p[0]);
	return pid;
fail:
	close(p[0]);
	check_kill(pid);
	return -1;
}

int check_read_fdinfo(int fd, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int pfd;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	pfd = open(path, O_RDONLY | O_CLOEXEC);
	if (pfd < 0) {
		pr_perror("cannot open %s", path);
		return -1;
	}
	n = read(pfd, buf, len - 1);
	close(pfd);
	if (n < 0) {
		pr_perror("cannot read %s", path);
		return -1;
	}
	buf[n] = '\0';
	return 0;
}

int check_read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	int ret = -1;

	if (!f)
		return -1;
	if (fgets(buf, len, f)) {
		buf[strcspn(buf, "\n")] = '\0';
		ret = 0;
	}
	fclose(f);
	return ret;
}

static void run_child(char *const argv[], int out)
{
	int null = open("/dev/null", O_RDWR);

	if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
	    dup2(null, STDERR_FILENO) < 0)
		_exit(127);
	execvp(argv[0], argv);
	_exit(127);
}

int check_run(char *const argv[], char *out, size_t len)
{
	char sink[512];
	size_t got = 0;
	int p[2], status;
	pid_t pid;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC)) {
		pr_perror("cannot make a pipe");
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		pr_perror("cannot fork for %s", argv[0]);
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0)
		run_child(argv, p[1]);
	close(p[1]);
	while (got < len - 1 && (n = read(p[0], out + got, len - 1 - got)) > 0)
		got += n;
	out[got] = '\0';
	/* Drain the rest, so that a talkative program cannot block on us. */
	while (read(p[0], sink, sizeof(sink)) > 0)
		;
	close(p[0]);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) == 127)
		return -1;
	return WEXITSTATUS(status);
}

int check_private_tmp(void)
{
	if (unshare(CLONE_NEWNS)) {
		pr_perror("cannot make a mount namespace");
		return -1;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		pr_perror("cannot make / private");
		return -1;
	}
	if (mount("stasis-check", "/tmp", "tmpfs", 0, NULL)) {
		pr_perror("cannot mount a tmpfs on /tmp");
		return -1;
	}
	return 0;
}
