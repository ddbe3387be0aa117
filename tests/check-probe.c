/*
 * check-probe.c - the machine's own answer to a few `stasis check`
 * features, found by using the interface for real (not the way stasis
 * probes it), for tests/check.sh to compare with.
 *
 *   check-probe openat2|pagemap_scan|clone3_set_tid|uffd
 *       exit 0: the kernel has it; 1: it does not; 2: cannot tell here
 *   check-probe run CMD [ARG...]
 *       run CMD as a child subreaper; reap whatever CMD leaves behind and
 *       print "orphans: N" on stderr; exit with CMD's status
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/userfaultfd.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pagemap-scan.h"

enum { YES = 0, NO = 1, UNKNOWN = 2 };

/* Open / for real, refusing magic links (the kernel must parse @how). */
static int probe_openat2(void)
{
	struct open_how how = { .flags = O_RDONLY | O_DIRECTORY, .resolve = RESOLVE_NO_MAGICLINKS };
	int fd = syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof(how));

	if (fd >= 0) {
		close(fd);
		return YES;
	}
	return errno == ENOSYS ? NO : UNKNOWN;
}

/* A page we wrote must come back as one present region. */
static int probe_pagemap_scan(void)
{
	struct page_region r = { 0 };
	struct pm_scan_arg arg = { .size = sizeof(arg) };
	char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd = open("/proc/self/pagemap", O_RDONLY);
	long n;

	if (page == MAP_FAILED || fd < 0)
		return UNKNOWN;
	page[0] = 1;
	arg.start = (uintptr_t)page;
	arg.end = arg.start + 4096;
	arg.vec = (uintptr_t)&r;
	arg.vec_len = 1;
	arg.category_mask = PAGE_IS_PRESENT;
	arg.return_mask = PAGE_IS_PRESENT;
	n = ioctl(fd, PAGEMAP_SCAN, &arg);
	if (n < 0)
		return errno == EINVAL || errno == ENOTTY ? NO : UNKNOWN;
	return n == 1 && r.start == arg.start && r.end == arg.end ? YES : UNKNOWN;
}

struct clone_args_v1 {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal;
	uint64_t stack, stack_size, tls, set_tid, set_tid_size;
};

/* A child made PID 1 of a new namespace by asking for that PID. */
static int probe_clone3_set_tid(void)
{
	pid_t want = 1;
	struct clone_args_v1 a = {
		.flags = CLONE_NEWPID, .exit_signal = SIGCHLD,
		.set_tid = (uintptr_t)&want, .set_tid_size = 1,
	};
	long pid = syscall(SYS_clone3, &a, sizeof(a));
	int status;

	if (pid == 0)
		_exit(getpid() == 1 ? 0 : 3);
	if (pid < 0)
		return errno == ENOSYS || errno == E2BIG ? NO : UNKNOWN;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return UNKNOWN;
	return WEXITSTATUS(status) == 0 ? YES : UNKNOWN;
}

/* Register a page for missing faults with a userfaultfd of our own. */
static int probe_uffd(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd = syscall(SYS_userfaultfd, O_CLOEXEC);

	if (fd < 0)
		return errno == ENOSYS || errno == EPERM ? NO : UNKNOWN;
	reg.range.start = (uintptr_t)page;
	reg.range.len = 4096;
	if (page == MAP_FAILED || ioctl(fd, UFFDIO_API, &api) || ioctl(fd, UFFDIO_REGISTER, &reg))
		return UNKNOWN;
	return YES;
}

/* Kill whatever is still our child (it was left running); how many. */
static int kill_children(void)
{
	char path[64];
	int n = 0, pid;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/children", getpid());
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fscanf(f, "%d", &pid) == 1) {
		kill(pid, SIGKILL);
		n++;
	}
	fclose(f);
	return n;
}

static int run(char **argv)
{
	int status, orphans;
	pid_t pid;

	if (prctl(PR_SET_CHILD_SUBREAPER, 1))
		return 2;
	pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return 2;
	/* Anything still around was left behind by CMD: running or a zombie. */
	orphans = kill_children();
	while (waitpid(-1, NULL, __WALL) > 0)
		;
	fprintf(stderr, "orphans: %d\n", orphans);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char **argv)
{
	if (argc > 2 && !strcmp(argv[1], "run"))
		return run(argv + 2);
	if (argc != 2)
		return 2;
	if (!strcmp(argv[1], "openat2"))
		return probe_openat2();
	if (!strcmp(argv[1], "pagemap_scan"))
		return probe_pagemap_scan();
	if (!strcmp(argv[1], "clone3_set_tid"))
		return probe_clone3_set_tid();
	if (!strcmp(argv[1], "uffd"))
		return probe_uffd();
	return 2;
}
