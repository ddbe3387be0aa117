/*
 * check-basic.c - the kernel interfaces every dump and restore relies on
 * (CRIU's "category 1" of `check`), plus the few --extra checks that have
 * no --feature name of their own.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "log.h"
#include "proc.h"

#ifndef F_GETOWNER_UIDS
#define F_GETOWNER_UIDS	17
#endif

int check_map_files(void)
{
	if (access("/proc/self/map_files", R_OK) == 0)
		return 0;
	pr_perror("/proc/<pid>/map_files is inaccessible");
	return -1;
}

int check_ns_last_pid(void)
{
	if (access("/proc/sys/kernel/ns_last_pid", W_OK) == 0)
		return 0;
	pr_perror("/proc/sys/kernel/ns_last_pid is inaccessible");
	return -1;
}

/* kcmp() tells which tasks share files, mm, fs...; any answer but ENOSYS will do. */
int check_kcmp(void)
{
	if (syscall(SYS_kcmp, getpid(), -1, -1, -1, -1) < 0 && errno == ENOSYS) {
		pr_perror("System call kcmp is not supported");
		return -1;
	}
	return 0;
}

/* The pre-3.18 way of restoring mm fields, for kernels without PR_SET_MM_MAP. */
static int prctl_set_mm_fields(void)
{
	unsigned long auxv = 0;

	if (prctl(PR_SET_MM, PR_SET_MM_BRK, (unsigned long)sbrk(0), 0, 0)) {
		if (errno == EPERM)
			pr_msg("prctl: One needs CAP_SYS_RESOURCE capability to perform testing");
		else
			pr_perror("prctl: PR_SET_MM_BRK is not supported");
		return -1;
	}
	if (prctl(PR_SET_MM, PR_SET_MM_EXE_FILE, -1, 0, 0) && errno != EBADF) {
		pr_perror("prctl: PR_SET_MM_EXE_FILE is not supported");
		return -1;
	}
	if (prctl(PR_SET_MM, PR_SET_MM_AUXV, (unsigned long)&auxv, sizeof(auxv), 0)) {
		pr_perror("prctl: PR_SET_MM_AUXV is not supported");
		return -1;
	}
	return 0;
}

int check_prctl_cat1(void)
{
	unsigned int size = 0;
	int *tid_addr;

	if (prctl(PR_GET_TID_ADDRESS, (unsigned long)&tid_addr, 0, 0, 0)) {
		pr_perror("prctl: PR_GET_TID_ADDRESS is not supported");
		return -1;
	}
	if (prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE, (unsigned long)&size, 0, 0) == 0)
		return 0;
	pr_msg("Info  prctl: PR_SET_MM_MAP_SIZE is not supported");
	return prctl_set_mm_fields();
}

int check_prctl_cat2(void)
{
	unsigned int size = 0;

	if (prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE, (unsigned long)&size, 0, 0) == 0)
		return 0;
	pr_warn("prctl: PR_SET_MM_MAP_SIZE is not supported");
	return -1;
}

/* F_GETOWNER_UIDS reads the credentials an fd's owner signals with. */
int check_fcntl(void)
{
	uint32_t uids[2];
	int fd, ret = 0;

	fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("cannot open /proc/self/comm");
		return -1;
	}
	if (fcntl(fd, F_GETOWNER_UIDS, (long)uids)) {
		pr_perror("Can't fetch file owner UIDs");
		ret = -1;
	}
	close(fd);
	return ret;
}

/*
 * /proc/PID/stat must carry the fields added in 3.5 (arg and env areas,
 * exit code): 52 in all, counting the two before the command name's end.
 */
int check_proc_stat(void)
{
	char buf[1024], *p;
	struct proc_stat st;
	int fields = 2;

	if (proc_read_stat(getpid(), &st) ||
	    check_read_line("/proc/self/stat", buf, sizeof(buf)) ||
	    !(p = strrchr(buf, ')'))) {
		pr_msg("procfs: stat extension is not supported");
		return -1;
	}
	for (p = strtok(p + 1, " "); p; p = strtok(NULL, " "))
		fields++;
	if (fields < 52) {
		pr_msg("procfs: stat extension is not supported");
		return -1;
	}
	return 0;
}

/* @key's value (in @base) in the fdinfo of @fd, or -1 when it is missing. */
static long long fdinfo_value(int fd, const char *key, int base)
{
	char buf[4096], *p;

	if (check_read_fdinfo(fd, buf, sizeof(buf)) || !(p = strstr(buf, key)))
		return -1;
	return strtoll(p + strlen(key), NULL, base);
}

static int check_fdinfo_eventfd(void)
{
	int fd = eventfd(13, EFD_CLOEXEC);
	long long v;

	if (fd < 0) {
		pr_perror("Can't make eventfd");
		return -1;
	}
	v = fdinfo_value(fd, "eventfd-count:", 16);
	close(fd);
	if (v != 13) {
		pr_err("Counter mismatch (or not met) %lld want 13", v);
		return -1;
	}
	return 0;
}

static int check_fdinfo_epoll(void)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT };
	int p[2], efd, ret = -1;

	if (pipe2(p, O_CLOEXEC)) {
		pr_perror("Can't make pipe to watch");
		return -1;
	}
	efd = epoll_create1(EPOLL_CLOEXEC);
	if (efd < 0) {
		pr_perror("Can't make epoll fd");
		goto out;
	}
	if (epoll_ctl(efd, EPOLL_CTL_ADD, p[0], &ev)) {
		pr_perror("Can't add epoll tfd");
		goto out;
	}
	if (fdinfo_value(efd, "tfd:", 10) != p[0]) {
		pr_err("TFD mismatch (or not met)");
		goto out;
	}
	ret = 0;
out:
	if (efd >= 0)
		close(efd);
	close(p[0]);
	close(p[1]);
	return ret;
}

static int check_fdinfo_signalfd(void)
{
	char buf[4096];
	sigset_t mask;
	int fd, ret;

	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	fd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (fd < 0) {
		pr_perror("Can't make signalfd");
		return -1;
	}
	ret = check_read_fdinfo(fd, buf, sizeof(buf));
	close(fd);
	if (ret || !strstr(buf, "sigmask:")) {
		pr_err("Error parsing proc fdinfo");
		return -1;
	}
	return 0;
}

static int check_fdinfo_inotify(void)
{
	int fd, wd;
	long long v;

	fd = inotify_init1(IN_CLOEXEC);
	if (fd < 0) {
		pr_perror("Can't make inotify fd");
		return -1;
	}
	wd = inotify_add_watch(fd, "/", IN_ALL_EVENTS);
	if (wd < 0) {
		pr_perror("Can't add watch");
		close(fd);
		return -1;
	}
	v = fdinfo_value(fd, "inotify wd:", 16);
	close(fd);
	if (v != wd) {
		pr_err("WD mismatch (or not met)");
		return -1;
	}
	return 0;
}

/* fdinfo shows what eventfd, epoll, signalfd and inotify hold. */
int check_fdinfo_ext(void)
{
	int ret = 0;

	ret |= check_fdinfo_eventfd();
	ret |= check_fdinfo_epoll();
	ret |= check_fdinfo_signalfd();
	ret |= check_fdinfo_inotify();
	return ret ? -1 : 0;
}

/* Pages are gifted to a pipe from any address, aligned or not. */
int check_unaligned_vmsplice(void)
{
	char byte = 0;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	int p[2], ret = 0;

	if (pipe2(p, O_CLOEXEC)) {
		pr_perror("Can't create pipe");
		return -1;
	}
	if (vmsplice(p[1], &iov, 1, SPLICE_F_GIFT | SPLICE_F_NONBLOCK) < 0) {
		pr_perror("Unaligned vmsplice doesn't work");
		ret = -1;
	}
	close(p[0]);
	close(p[1]);
	return ret;
}

/* A locked pty's peer must refuse to open (EIO): restore relies on it. */
int check_tty(void)
{
	int master, slave, lock = 1, ret = -1;
	char name[64];

	master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0) {
		pr_perror("Can't open /dev/ptmx");
		return -1;
	}
	if (ioctl(master, TIOCSPTLCK, &lock) || ptsname_r(master, name, sizeof(name))) {
		pr_perror("Can't lock pty master");
		goto out;
	}
	slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave >= 0) {
		pr_err("Managed to open locked pty.");
		close(slave);
	} else if (errno != EIO) {
		pr_perror("Unexpected error on locked pty");
	} else {
		ret = 0;
	}
out:
	close(master);
	return ret;
}

int check_ipc(void)
{
	/* Only root may set the next SysV id; others skip it, as CRIU does. */
	if (geteuid())
		return 0;
	if (access("/proc/sys/kernel/sem_next_id", R_OK | W_OK) == 0)
		return 0;
	pr_perror("/proc/sys/kernel/sem_next_id is inaccessible");
	return -1;
}

/* Restore queues each pending signal with its own siginfo, si_code > 0. */
int check_sigqueueinfo(void)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	siginfo_t info = { .si_code = 1 };
	int ret = 0;

	if (sigaction(SIGUSR1, &ign, &old)) {
		pr_perror("cannot ignore SIGUSR1");
		return -1;
	}
	if (syscall(SYS_rt_sigqueueinfo, getpid(), SIGUSR1, &info) < 0) {
		pr_perror("Unable to send siginfo with positive si_code to itself");
		ret = -1;
	}
	sigaction(SIGUSR1, &old, NULL);
	return ret;
}

int check_ptrace_peeksiginfo(void)
{
	struct __ptrace_peeksiginfo_args arg = { .off = 0, .flags = 0, .nr = 1 };
	siginfo_t si;
	uint64_t mask;
	int ret = 0;
	pid_t pid;

	pid = check_traced_child(NULL);
	if (pid < 0)
		return -1;
	if (ptrace(PTRACE_PEEKSIGINFO, pid, &arg, &si) < 0) {
		pr_perror("Unable to dump pending signals");
		ret = -1;
	}
	if (ptrace(PTRACE_GETSIGMASK, pid, sizeof(mask), &mask)) {
		pr_perror("Unable to dump signal blocking mask");
		ret = -1;
	}
	check_kill(pid);
	return ret;
}

/* The kernel's own mappings that move with mremap() like any other. */
static bool is_special(const char *name)
{
	static const char *const names[] = { "[vvar]", "[vvar_vclock]", "[vdso]", "[sigpage]" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(name, names[i]))
			return true;
	return false;
}

/* Each special mapping of this task in turn; 0, or -1 if maps is unreadable. */
static int for_each_special(int (*fn)(unsigned long s, unsigned long e, void *arg), void *arg)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512], name[64];
	unsigned long s, e;
	int ret = 0;

	if (!f) {
		pr_perror("cannot open /proc/self/maps");
		return -1;
	}
	while (!ret && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %63s", &s, &e, name) == 3 &&
		    is_special(name))
			ret = fn(s, e, arg);
	}
	fclose(f);
	return ret;
}

/* Widen span[0..1] to cover [s, e). */
static int add_to_span(unsigned long s, unsigned long e, void *arg)
{
	unsigned long *span = arg;

	span[0] = s < span[0] ? s : span[0];
	span[1] = e > span[1] ? e : span[1];
	return 0;
}

/* Move [s, e) to the same offset in the parking area of span[2]. */
static int park(unsigned long s, unsigned long e, void *arg)
{
	unsigned long *span = arg, to = span[2] + (s - span[0]);

	/* Same offsets at the new place: the vDSO finds its data by them. */
	if (s < span[0] || e > span[1])
		return 0;	/* already moved: maps lists it again */
	if (syscall(SYS_mremap, s, e - s, e - s, MREMAP_MAYMOVE | MREMAP_FIXED, to) != (long)to)
		return -1;
	return 0;
}

static void on_usr1(int sig)
{
	(void)sig;
}

/* The child: move the special mappings as one block, then take a signal. */
static int move_specials(void *arg)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	unsigned long *span = arg;
	void *to;

	to = mmap(NULL, span[1] - span[0], PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (to == MAP_FAILED || sigaction(SIGUSR1, &sa, NULL))
		return -1;
	span[2] = (unsigned long)to;
	if (for_each_special(park, span))
		return -1;
	/* Returning from the handler needs the kernel to know where they went. */
	syscall(SYS_kill, getpid(), SIGUSR1);
	return 0;
}

int check_special_mapping_mremap(void)
{
	unsigned long span[3] = { -1UL, 0, 0 };

	if (for_each_special(add_to_span, span) || !span[1]) {
		pr_err("no special mappings ([vdso], [vvar]) found in /proc/self/maps");
		return -1;
	}
	if (check_in_child(move_specials, span)) {
		pr_err("Your kernel probably lacks the support for mremapping special mappings");
		return -1;
	}
	return 0;
}

int check_posix_timers(void)
{
	if (access("/proc/self/timers", R_OK) == 0)
		return 0;
	pr_msg("/proc/<pid>/timers file is missing.");
	return -1;
}

/* A task may fork its sibling into a new PID namespace (restore does). */
int check_clone_parent_vs_pid(void)
{
	int status;
	pid_t mid;

	/*
	 * A go-between forks the sibling, so that the sibling is our child
	 * (we reap it) and not our parent's.
	 */
	mid = fork();
	if (mid < 0) {
		pr_perror("cannot fork");
		return -1;
	}
	if (mid == 0) {
		long pid = syscall(SYS_clone, CLONE_NEWPID | CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);

		if (pid == 0)
			_exit(0);
		_exit(pid < 0 ? 1 : 0);
	}
	if (waitpid(mid, &status, 0) != mid)
		return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		pr_err("CLONE_PARENT | CLONE_NEWPID don't work together");
		return -1;
	}
	/* The sibling, now ours. */
	waitpid(-1, NULL, __WALL);
	return 0;
}
