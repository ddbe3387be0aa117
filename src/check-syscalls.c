/*
 * check-syscalls.c - probes for newer system calls and interfaces that
 * restore and dump use: clone3 with set_tid, pidfds, openat2, rseq,
 * PAGEMAP_SCAN, timer ids, hardware breakpoints, memfd on hugetlbfs,
 * /proc's NSpid, AppArmor stacking.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "log.h"
#include "pagemap-scan.h"

#ifndef PAGE_IS_GUARD
#define PAGE_IS_GUARD		(1 << 8)
#endif
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL	102
#endif
#ifndef PR_TIMER_CREATE_RESTORE_IDS
#define PR_TIMER_CREATE_RESTORE_IDS	77
#define PR_TIMER_CREATE_RESTORE_IDS_GET	2
#endif

#define AA_FEATURES "/sys/kernel/security/apparmor"

/* clone3()'s arguments up to set_tid_size (CLONE_ARGS_SIZE_VER1). */
struct clone3_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal;
	uint64_t stack, stack_size, tls, set_tid, set_tid_size;
};

/*
 * set_tid without set_tid_size is invalid (EINVAL) where the kernel knows
 * set_tid; a kernel that does not says E2BIG, one without clone3 ENOSYS.
 */
int check_clone3_set_tid(void)
{
	struct clone3_args args = { .set_tid = -1ULL };
	long pid = syscall(SYS_clone3, &args, sizeof(args));

	if (pid == 0)
		_exit(0);
	if (pid > 0) {
		pr_err("Unexpected success: clone3() returned %ld", pid);
		waitpid(pid, NULL, __WALL);
		return -1;
	}
	if (errno == EINVAL)
		return 0;
	pr_warn("clone3() with set_tid not supported");
	return -1;
}

/* pidfd_getfd() must hand over a working copy of another task's fd. */
int check_pidfd_store(void)
{
	int sk[2], pidfd = -1, fd = -1, ret = -1, val = 1984, got = 0;

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sk)) {
		pr_perror("Can't open unix socket pair");
		return -1;
	}
	pidfd = syscall(SYS_pidfd_open, getpid(), 0);
	if (pidfd < 0) {
		pr_warn("Pidfd store requires pidfd_open syscall which is not supported");
		goto out;
	}
	fd = syscall(SYS_pidfd_getfd, pidfd, sk[1], 0);
	if (fd < 0) {
		pr_warn("Pidfd store requires pidfd_getfd syscall which is not supported");
		goto out;
	}
	if (write(sk[0], &val, sizeof(val)) == sizeof(val) &&
	    read(fd, &got, sizeof(got)) == sizeof(got) && got == val)
		ret = 0;
	else
		pr_err("pidfd_getfd() gave a descriptor that does not work");
out:
	if (fd >= 0)
		close(fd);
	if (pidfd >= 0)
		close(pidfd);
	close(sk[0]);
	close(sk[1]);
	return ret;
}

int check_ns_pid(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");
	int ret = -1;

	if (!f) {
		pr_perror("Can't open /proc/self/status");
		return -1;
	}
	while (ret && fgets(line, sizeof(line), f))
		if (!strncmp(line, "NSpid:", 6))
			ret = 0;
	fclose(f);
	if (ret)
		pr_info("/proc/PID/status has no NSpid line");
	return ret;
}

bool check_have_apparmor(void)
{
	return access(AA_FEATURES, F_OK) == 0;
}

/* AppArmor namespaces can be dumped from policy version 1.2 with stacking. */
int check_apparmor_stacking(void)
{
	int major = 0, minor = 0;
	char buf[64];

	if (check_read_line(AA_FEATURES "/features/domain/stack", buf, sizeof(buf)) ||
	    strncmp(buf, "yes", 3)) {
		pr_info("AppArmor stacking is not available");
		return -1;
	}
	if (check_read_line(AA_FEATURES "/features/domain/version", buf, sizeof(buf)) ||
	    sscanf(buf, "%d.%d", &major, &minor) != 2) {
		pr_err("scanning aa stack version failed");
		return -1;
	}
	if (major > 1 || (major == 1 && minor >= 2))
		return 0;
	pr_info("AppArmor domain version %d.%d is older than 1.2", major, minor);
	return -1;
}

int check_memfd_hugetlb(void)
{
	int fd = memfd_create("stasis-check", MFD_HUGETLB | MFD_CLOEXEC);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (errno != EINVAL && errno != ENOENT && errno != ENOSYS)
		pr_perror("Unexpected error from memfd_create(MFD_HUGETLB)");
	return -1;
}

/* Any failure but ENOSYS says the call is there (NULL @how faults). */
int check_openat2(void)
{
	if (syscall(SYS_openat2, AT_FDCWD, ".", NULL, 0) < 0 && errno == ENOSYS) {
		pr_info("No openat2 syscall support");
		return -1;
	}
	return 0;
}

int check_get_rseq_conf(void)
{
	struct __ptrace_rseq_configuration conf;
	pid_t pid = check_traced_child(NULL);
	long len;

	if (pid < 0)
		return -1;
	len = ptrace(PTRACE_GET_RSEQ_CONFIGURATION, pid, sizeof(conf), &conf);
	check_kill(pid);
	/* Non-zero flags would be something new, which the image cannot hold. */
	if (len == sizeof(conf) && conf.flags == 0)
		return 0;
	pr_warn("ptrace(PTRACE_GET_RSEQ_CONFIGURATION) isn't supported. "
		"C/R of processes which are using rseq() won't work.");
	return -1;
}

/*
 * PAGEMAP_SCAN asked about an empty range: the kernel still checks the
 * arguments, so EINVAL says it does not know a category of @return_mask.
 */
static int pagemap_scan_with(uint64_t return_mask)
{
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.category_inverted = PAGE_IS_PFNZERO | PAGE_IS_FILE,
		.category_mask = PAGE_IS_PFNZERO | PAGE_IS_FILE,
		.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		.return_mask = return_mask,
	};
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC), ret = 0;

	if (fd < 0) {
		pr_perror("cannot open /proc/self/pagemap");
		return -1;
	}
	if (ioctl(fd, PAGEMAP_SCAN, &arg) < 0) {
		if (errno != EINVAL && errno != ENOTTY)
			pr_perror("PAGEMAP_SCAN failed with unexpected errno");
		ret = -1;
	}
	close(fd);
	return ret;
}

#define SCAN_BASE (PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_SOFT_DIRTY)

int check_pagemap_scan(void)
{
	return pagemap_scan_with(SCAN_BASE);
}

int check_pagemap_scan_guard_pages(void)
{
	bool scan_guard = pagemap_scan_with(SCAN_BASE | PAGE_IS_GUARD) == 0;
	void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bool madv_guard = false;

	if (page != MAP_FAILED) {
		madv_guard = madvise(page, 4096, MADV_GUARD_INSTALL) == 0;
		munmap(page, 4096);
	}
	if (madv_guard && !scan_guard)
		pr_warn("ioctl(PAGEMAP_SCAN) doesn't support PAGE_IS_GUARD flag. "
			"A dump will fail if dumped processes use madvise(MADV_GUARD_INSTALL). "
			"Please, consider updating your kernel.");
	return scan_guard ? 0 : -1;
}

int check_timer_cr_ids(void)
{
	if (prctl(PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_GET, 0, 0, 0) != -1)
		return 0;
	if (errno != EINVAL)
		pr_perror("prctl(PR_TIMER_CREATE_RESTORE_IDS) returned unexpected error");
	return -1;
}

/* Where the child runs into the hardware breakpoint. */
static void __attribute__((noinline)) breakpoint_target(void)
{
	__asm__ volatile("" ::: "memory");
}

static void breakpoint_child(void)
{
	if (ptrace(PTRACE_TRACEME, 0, NULL, NULL))
		_exit(1);
	raise(SIGSTOP);
	breakpoint_target();
	_exit(1);
}

/* Arm debug register 0 on @pid at breakpoint_target (same address after fork). */
static int arm_breakpoint(pid_t pid)
{
	if (ptrace(PTRACE_POKEUSER, pid, offsetof(struct user, u_debugreg[0]),
		   (void *)breakpoint_target) ||
	    ptrace(PTRACE_POKEUSER, pid, offsetof(struct user, u_debugreg[7]), (void *)1L)) {
		pr_perror("cannot set a hardware breakpoint");
		return -1;
	}
	return 0;
}

/* Hardware breakpoints may be missing under some hypervisors. */
int check_breakpoints(void)
{
	int status, ret = -1;
	pid_t pid;

	pid = fork();
	if (pid < 0) {
		pr_perror("fork");
		return -1;
	}
	if (pid == 0)
		breakpoint_child();
	if (waitpid(pid, &status, 0) != pid || !WIFSTOPPED(status) || WSTOPSIG(status) != SIGSTOP)
		goto out;
	if (arm_breakpoint(pid) || ptrace(PTRACE_CONT, pid, NULL, NULL))
		goto out;
	if (waitpid(pid, &status, 0) == pid && WIFSTOPPED(status) && WSTOPSIG(status) == SIGTRAP)
		ret = 0;
out:
	check_kill(pid);
	if (ret)
		pr_warn("Hardware breakpoints don't seem to work");
	return ret;
}
