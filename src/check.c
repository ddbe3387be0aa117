/*
 * check.c - `stasis check`: does this kernel have what stasis uses?
 *
 * Without --feature every check runs and "Looks good." ends a clean run,
 * as with CRIU.  With --feature NAME only that feature is checked, and the
 * exit status is 0 only when stasis really supports it here.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "opts.h"
#include "pagemap-scan.h"

/* Fork a child that waits to be killed; -errno if fork fails. */
static pid_t sleeper(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	return pid;
}

static void reap(pid_t pid)
{
	int status;

	kill(pid, SIGKILL);
	waitpid(pid, &status, __WALL);
}

static int check_seize(void)
{
	pid_t pid = sleeper();
	int ret = 0, status;

	if (pid < 0)
		return -errno;
	if (ptrace(PTRACE_SEIZE, pid, NULL, (void *)(long)PTRACE_O_SUSPEND_SECCOMP) ||
	    ptrace(PTRACE_INTERRUPT, pid, NULL, NULL) || waitpid(pid, &status, __WALL) != pid)
		ret = -errno;
	reap(pid);
	return ret;
}

static int check_rseq_conf(void)
{
	struct __ptrace_rseq_configuration conf;
	pid_t pid = sleeper();
	int ret = 0, status;

	if (pid < 0)
		return -errno;
	if (ptrace(PTRACE_SEIZE, pid, NULL, NULL) || ptrace(PTRACE_INTERRUPT, pid, NULL, NULL) ||
	    waitpid(pid, &status, __WALL) != pid ||
	    ptrace(PTRACE_GET_RSEQ_CONFIGURATION, pid, sizeof(conf), &conf) < 0)
		ret = -errno;
	reap(pid);
	return ret;
}

static int check_pagemap_scan(void)
{
	struct pm_scan_arg arg = { .size = sizeof(arg) };
	int fd = open("/proc/self/pagemap", O_RDONLY), ret = 0;

	if (fd < 0)
		return -errno;
	arg.start = (unsigned long)&arg & ~4095UL;
	arg.end = arg.start + 4096;
	arg.category_anyof_mask = PAGE_IS_PRESENT;
	arg.return_mask = PAGE_IS_PRESENT;
	if (ioctl(fd, PAGEMAP_SCAN, &arg) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static int check_kcmp(void)
{
	return syscall(SYS_kcmp, getpid(), getpid(), 1 /* KCMP_VM */, 0, 0) ? -errno : 0;
}

static int check_pidfd_getfd(void)
{
	int pidfd = syscall(SYS_pidfd_open, getpid(), 0), fd, ret = 0;

	if (pidfd < 0)
		return -errno;
	fd = syscall(SYS_pidfd_getfd, pidfd, pidfd, 0);
	if (fd < 0)
		ret = -errno;
	else
		close(fd);
	close(pidfd);
	return ret;
}

static const struct {
	const char *name;	/* CRIU's feature name where it has one */
	int (*check)(void);
} features[] = {
	{ "seccomp_suspend", check_seize },
	{ "get_rseq_conf", check_rseq_conf },
	{ "pagemap_scan", check_pagemap_scan },
	{ "kcmp", check_kcmp },
	{ "pidfd_getfd", check_pidfd_getfd },
};

#define NR_FEATURES (sizeof(features) / sizeof(features[0]))

int cr_check(const struct opts *o)
{
	int failed = 0;

	for (size_t i = 0; i < NR_FEATURES; i++) {
		int ret;

		if (o->feature && strcmp(o->feature, features[i].name))
			continue;
		ret = features[i].check();
		if (ret) {
			pr_err("%s is not available: %s", features[i].name, strerror(-ret));
			failed++;
		} else if (o->feature) {
			pr_msg("%s is supported", o->feature);
		}
		if (o->feature)
			return ret;
	}
	if (o->feature) {
		pr_err("feature %s is not supported by stasis", o->feature);
		return -ENOTSUP;
	}
	if (!failed)
		pr_msg("Looks good.");
	return failed ? -ENOTSUP : 0;
}
