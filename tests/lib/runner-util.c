/*
 * runner-util.c - small helpers of the conformance runner (runner.c):
 * wait statuses in words, directories, /proc/PID/stat fields, a test
 * started in a pid namespace of its own and its pidfile.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runner-util.h"
#include "stasis_test.h"

const char *describe_status(int status)
{
	static char buf[64];
	const char *abbrev;

	if (WIFEXITED(status)) {
		snprintf(buf, sizeof(buf), "exited with status %d",
			 WEXITSTATUS(status));
	} else if (WIFSIGNALED(status)) {
		abbrev = sigabbrev_np(WTERMSIG(status));
		if (abbrev)
			snprintf(buf, sizeof(buf), "killed by SIG%s", abbrev);
		else
			snprintf(buf, sizeof(buf), "killed by signal %d",
				 WTERMSIG(status));
	} else {
		snprintf(buf, sizeof(buf), "wait status %#x", status);
	}
	return buf;
}

int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	char *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

/* Image directories are flat; stale images must not mix with new ones. */
int empty_dir(const char *path)
{
	struct dirent *de;
	DIR *d = opendir(path);
	int ret = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) && !ret)
			ret = -errno;
	}
	closedir(d);
	return ret;
}

/* The parent of @pid, or -1 if it is gone. */
pid_t proc_ppid(pid_t pid)
{
	pid_t ppid;
	char state;

	return test_proc_stat(pid, &state, &ppid) ? -1 : ppid;
}

/* The state letter of @pid ('R', 'S', 'T', 'Z', ...), or '?' if it is gone. */
char proc_state(pid_t pid)
{
	pid_t ppid;
	char state;

	return test_proc_stat(pid, &state, &ppid) ? '?' : state;
}

/* SIGKILL every child we have now. */

#define NR_HUGEPAGES	"/proc/sys/vm/nr_hugepages"

long hugepages_get(void)
{
	FILE *f = fopen(NR_HUGEPAGES, "re");
	long nr = -1;

	if (f && fscanf(f, "%ld", &nr) != 1)
		nr = -1;
	if (f)
		fclose(f);
	return nr;
}

void hugepages_put_back(long nr)
{
	long now = hugepages_get();
	FILE *f;

	if (nr < 0 || now <= nr)
		return;
	f = fopen(NR_HUGEPAGES, "we");
	if (!f || fprintf(f, "%ld\n", nr) < 0)
		fprintf(stderr, "runner: cannot put " NR_HUGEPAGES " back to %ld\n", nr);
	if (f)
		fclose(f);
}

pid_t fork_maybe_newpid(int newpid)
{
	if (!newpid)
		return fork();
	/* clone with no new stack goes on like fork in the child. */
	return (pid_t)syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, 0, NULL, NULL, 0);
}

int read_pidfile(const char *path, pid_t *pid, pid_t *inner)
{
	char status[64], line[256];
	FILE *f = fopen(path, "re");
	int ok;

	*inner = 0;
	if (!f)
		return -1;
	ok = fscanf(f, "%d", pid) == 1 && *pid > 0;
	fclose(f);
	if (!ok)
		return -1;
	snprintf(status, sizeof(status), "/proc/%d/status", *pid);
	f = fopen(status, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *last;

		if (strncmp(line, "NSpid:", 6))
			continue;
		last = strrchr(line, '\t');
		*inner = last ? atoi(last + 1) : 0;
	}
	fclose(f);
	return 0;
}
