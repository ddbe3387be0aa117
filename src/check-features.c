/*
 * check-features.c - the names `stasis check --feature` answers (CRIU
 * 4.2's list) and the probes for processes, memory and ptrace.
 *
 * A feature is the kernel's, probed here at run time, as CRIU's check
 * reports it; the few that name something of the tool itself (compat
 * tasks, external netns, memory tracking) say no with the
 * reason while stasis lacks them.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <linux/filter.h>
#include <linux/kcmp.h>
#include <linux/seccomp.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "log.h"
#include "mem-track.h"

#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS	_IOW('T', 0, uint64_t)
#endif
#ifndef ARCH_MAP_VDSO_64
#define ARCH_MAP_VDSO_64	0x2003
#endif

const struct check_feature check_features[] = {
	{ "mnt_id", check_mnt_id },
	{ "mem_dirty_track", check_mem_dirty_track },
	{ "aio_remap", check_aio_remap },
	{ "timerfd", check_timerfd },
	{ "tun", check_tun },
	{ "tun_ns", check_tun_ns },
	{ "userns", check_userns },
	{ "fdinfo_lock", check_fdinfo_lock },
	{ "seccomp_suspend", check_seccomp_suspend },
	{ "seccomp_filters", check_seccomp_filters },
	{ "loginuid", check_loginuid },
	{ "cgroupns", check_cgroupns },
	{ "autofs", check_autofs },
	{ "tcp_half_closed", check_tcp_half_closed },
	{ "compat_cr", check_compat_cr },
	{ "uffd", check_uffd },
	{ "uffd-noncoop", check_uffd_noncoop },
	{ "can_map_vdso", check_can_map_vdso },
	{ "sk_ns", check_sk_ns },
	{ "sk_unix_file", check_sk_unix_file },
	{ "net_diag_raw", check_net_diag_raw },
	{ "nsid", check_nsid },
	{ "link_nsid", check_link_nsid },
	{ "kcmp_epoll", check_kcmp_epoll },
	{ "timens", check_timens },
	{ "external_net_ns", check_external_net_ns },
	{ "clone3_set_tid", check_clone3_set_tid },
	{ "newifindex", check_newifindex },
	{ "nftables", check_nftables },
	{ "has_ipt_legacy", check_has_ipt_legacy },
	{ "pidfd_store", check_pidfd_store },
	{ "ns_pid", check_ns_pid },
	{ "apparmor_stacking", check_apparmor_stacking },
	{ "network_lock_nftables", check_network_lock_nftables },
	{ "sockopt_buf_lock", check_sockopt_buf_lock },
	{ "memfd_hugetlb", check_memfd_hugetlb },
	{ "move_mount_set_group", check_move_mount_set_group },
	{ "openat2", check_openat2 },
	{ "get_rseq_conf", check_get_rseq_conf },
	{ "ipv6_freebind", check_ipv6_freebind },
	{ "pagemap_scan", check_pagemap_scan },
	{ "timer_cr_ids", check_timer_cr_ids },
	{ "overlayfs_maps", check_overlayfs_maps },
	{ "breakpoints", check_breakpoints },
	{ "pagemap_scan_guard_pages", check_pagemap_scan_guard_pages },
};

const size_t check_nr_features = sizeof(check_features) / sizeof(check_features[0]);

const struct check_feature *check_find_feature(const char *name)
{
	for (size_t i = 0; i < check_nr_features; i++)
		if (!strcmp(check_features[i].name, name))
			return &check_features[i];
	return NULL;
}

/*
 * Pre-dumps track written pages with asynchronous userfaultfd
 * write-protection and PAGEMAP_SCAN (mem-track.c), soft-dirty or not:
 * yes when a probe of exactly that works here.
 */
int check_mem_dirty_track(void)
{
	const char *why;

	if (!track_probe(&why))
		return 0;
	pr_warn("Dirty tracking is OFF. Memory snapshot will not work: %s", why);
	return -1;
}

/* The AIO ring's length at @addr, from /proc/self/maps; 0 if not found. */
static unsigned long aio_ring_len(unsigned long addr)
{
	FILE *f = fopen("/proc/self/maps", "re");
	unsigned long s, e, len = 0;
	char line[512];

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx", &s, &e) == 2 && s == addr) {
			if (strstr(line, "/[aio] (deleted)"))
				len = e - s;
			break;
		}
	}
	fclose(f);
	return len;
}

/* In a child, so that the moved ring dies with it. */
static int aio_remap_child(void *arg)
{
	aio_context_t ctx = 0;
	unsigned long len;
	void *to;

	(void)arg;
	if (syscall(SYS_io_setup, 16, &ctx) < 0) {
		pr_perror("No AIO syscall");
		return -1;
	}
	len = aio_ring_len(ctx);
	if (!len) {
		pr_err("No AIO ring at expected location");
		return -1;
	}
	to = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (to == MAP_FAILED || mremap((void *)ctx, len, len, MREMAP_FIXED | MREMAP_MAYMOVE, to) == MAP_FAILED) {
		pr_perror("Can't remap AIO ring");
		return -1;
	}
	/* The kernel must find the context at its new address. */
	if (syscall(SYS_io_getevents, (aio_context_t)to, 0, 1, NULL, NULL) < 0) {
		pr_perror("AIO remap doesn't work properly");
		return -1;
	}
	return 0;
}

int check_aio_remap(void)
{
	return check_in_child(aio_remap_child, NULL);
}

/* TFD_IOC_SET_TICKS restores a timerfd's expiry count; a NULL value says EFAULT. */
int check_timerfd(void)
{
	int fd, ret = 0;

	fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (fd < 0) {
		pr_perror("timerfd_create failed");
		return -1;
	}
	if (ioctl(fd, TFD_IOC_SET_TICKS, NULL) == 0 || errno != EFAULT) {
		pr_perror("No timerfd support for c/r");
		ret = -1;
	}
	close(fd);
	return ret;
}

int check_userns(void)
{
	unsigned int size = 0;

	if (access("/proc/self/ns/user", F_OK)) {
		pr_perror("No userns proc file");
		return -1;
	}
	if (prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE, (unsigned long)&size, 0, 0)) {
		pr_perror("prctl: PR_SET_MM_MAP_SIZE is not supported");
		return -1;
	}
	return 0;
}

int check_seccomp_suspend(void)
{
	pid_t pid = check_traced_child(NULL);
	int ret = 0;

	if (pid < 0)
		return -1;
	if (ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(long)PTRACE_O_SUSPEND_SECCOMP)) {
		if (errno == EINVAL)
			pr_err("Kernel doesn't support PTRACE_O_SUSPEND_SECCOMP");
		else
			pr_perror("couldn't suspend seccomp");
		ret = -1;
	}
	check_kill(pid);
	return ret;
}

/* A filter that allows everything: its presence is what matters. */
static int install_filter(void)
{
	struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = { .len = 1, .filter = &allow };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, (unsigned long)&prog, 0, 0))
		return -1;
	return 0;
}

int check_seccomp_filters(void)
{
	pid_t pid = check_traced_child(install_filter);
	int ret = 0;

	if (pid < 0)
		return -1;
	if (ptrace(PTRACE_SECCOMP_GET_FILTER, pid, 0, NULL) < 0) {
		pr_perror("Dumping seccomp filters not supported");
		ret = -1;
	}
	check_kill(pid);
	return ret;
}

/* In a child: loginuid can be unset and set back (restore needs both). */
static int loginuid_child(void *arg)
{
	char saved[32];
	int fd, ret = 0;

	(void)arg;
	if (check_read_line("/proc/self/loginuid", saved, sizeof(saved)))
		return -1;
	fd = open("/proc/self/loginuid", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (write(fd, "4294967295", 10) != 10)
		ret = -1;
	else if (pwrite(fd, saved, strlen(saved), 0) != (ssize_t)strlen(saved))
		ret = -1;
	close(fd);
	return ret;
}

int check_loginuid(void)
{
	if (check_in_child(loginuid_child, NULL)) {
		pr_warn("Loginuid restore is OFF.");
		return -1;
	}
	return 0;
}

int check_cgroupns(void)
{
	if (access("/proc/self/ns/cgroup", F_OK)) {
		pr_err("cgroupns not supported. This is not fatal.");
		return -1;
	}
	return 0;
}

int check_compat_cr(void)
{
	pr_warn("compat_cr is not supported: stasis does not checkpoint 32-bit tasks yet");
	return -1;
}

/* The userfaultfd features this kernel offers; -1 without userfaultfd. */
static long long uffd_features(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	int fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	long long ret = -1;

	if (fd < 0) {
		pr_info("userfaultfd: %s", strerror(errno));
		return -1;
	}
	if (ioctl(fd, UFFDIO_API, &api) == 0 && api.api == UFFD_API)
		ret = api.features;
	close(fd);
	return ret;
}

int check_uffd(void)
{
	if (uffd_features() < 0) {
		pr_err("UFFD is not supported");
		return -1;
	}
	return 0;
}

/* Lazy restore must see the tasks' forks, remaps and unmaps. */
int check_uffd_noncoop(void)
{
	const long long need = UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMAP |
			       UFFD_FEATURE_EVENT_UNMAP | UFFD_FEATURE_EVENT_REMOVE;
	long long have = uffd_features();

	if (have < 0) {
		pr_err("UFFD is not supported");
		return -1;
	}
	if ((have & need) != need) {
		pr_err("Non-cooperative UFFD is not supported");
		return -1;
	}
	return 0;
}

/* In a child: mapping a second vDSO is refused (EEXIST) where the API exists. */
static int map_vdso_child(void *arg)
{
	(void)arg;
	if (syscall(SYS_arch_prctl, ARCH_MAP_VDSO_64, 0) == 0 || errno == EEXIST)
		return 0;
	return -1;
}

int check_can_map_vdso(void)
{
	if (check_in_child(map_vdso_child, NULL) == 0)
		return 0;
	pr_warn("Do not have API to map vDSO - will use mremap() to restore vDSO");
	return -1;
}

/* kcmp() can tell which file an epoll instance watches. */
int check_kcmp_epoll(void)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct kcmp_epoll_slot slot;
	int p[2], efd, ret = -1, err;

	if (pipe2(p, O_CLOEXEC)) {
		pr_perror("cannot make a pipe");
		return -1;
	}
	efd = epoll_create1(EPOLL_CLOEXEC);
	if (efd >= 0 && epoll_ctl(efd, EPOLL_CTL_ADD, p[0], &ev) == 0) {
		slot = (struct kcmp_epoll_slot){ .efd = efd, .tfd = p[0], .toff = 0 };
		if (syscall(SYS_kcmp, getpid(), getpid(), KCMP_EPOLL_TFD, p[0], &slot) == 0)
			ret = 0;
	}
	err = errno;	/* before close() may change it */
	if (efd >= 0)
		close(efd);
	close(p[0]);
	close(p[1]);
	if (ret)
		pr_info("kcmp(KCMP_EPOLL_TFD) does not work: %s", strerror(err));
	return ret;
}

int check_timens(void)
{
	if (access("/proc/self/timens_offsets", F_OK)) {
		pr_err("Time namespaces are not supported");
		return -1;
	}
	return 0;
}

/* Says the tool takes --external net[INO]:KEY (src/ns/net.c): nothing of the kernel's. */
int check_external_net_ns(void)
{
	return 0;
}
