/*
 * stasis_test.c - result reporting and SIGTERM handling for test programs.
 * See stasis_test.h for the contract with the runner.
 */
#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "stasis_test.h"

static int out_fd = -1;
static volatile sig_atomic_t got_sigterm;
static int nr_pass, nr_fail, nr_skip;

static void on_sigterm(int sig)
{
	(void)sig;
	got_sigterm = 1;
}

/* Move @fd out of the low range; keep it where it is if the limit is too low. */
static int move_high(int fd)
{
	int high = fcntl(fd, F_DUPFD, TEST_OUT_FD);

	if (high < 0)
		return fd;
	close(fd);
	return high;
}

void test_init(int argc, char **argv)
{
	const char *path = getenv("STASIS_TEST_OUT");
	const char *prog = argc > 0 ? argv[0] : "test";
	struct sigaction sa = { .sa_handler = on_sigterm };
	int fd;

	if (path)
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
	else
		fd = dup(STDERR_FILENO);
	if (fd < 0) {
		fprintf(stderr, "%s: cannot open %s: %m\n", prog,
			path ? path : "stderr");
		exit(1);
	}
	out_fd = move_high(fd);

	/* No SA_RESTART: a test blocked in a syscall should see EINTR. */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL)) {
		fail("sigaction(SIGTERM): %m");
		exit(1);
	}
}

/* Write "@prefix@message\n" with one write(2); errno is preserved for callers. */
static void out_line(const char *prefix, const char *fmt, va_list ap)
{
	int saved = errno;
	char line[1024];
	size_t len = strlen(prefix);
	size_t room = sizeof(line) - len - 1;	/* one byte kept for '\n' */
	ssize_t ret;
	int n;

	memcpy(line, prefix, len);
	if (fmt) {
		n = vsnprintf(line + len, room, fmt, ap);
		if (n > 0)	/* a long message is cut, not dropped */
			len += (size_t)n < room ? (size_t)n : room - 1;
	}
	/* The runner reads lines: a message must not break its own. */
	for (char *p = line; p < line + len; p++)
		if (*p == '\n')
			*p = ' ';
	line[len++] = '\n';

	do
		ret = write(out_fd, line, len);
	while (ret < 0 && errno == EINTR);
	errno = saved;
}

static void report(const char *prefix, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	out_line(prefix, fmt, ap);
	va_end(ap);
}

void test_ready(void)
{
	report("READY", NULL);
}

void test_waitsig(void)
{
	sigset_t term, old, wait;

	/*
	 * Block SIGTERM while testing the flag, so that it cannot arrive
	 * between the test and sigsuspend() and leave us asleep for good.
	 */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, &old);
	wait = old;
	sigdelset(&wait, SIGTERM);
	while (!got_sigterm)
		sigsuspend(&wait);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

bool test_got_sigterm(void)
{
	return got_sigterm;
}

void pass(void)
{
	nr_pass++;
	report("PASS", NULL);
}

void fail(const char *fmt, ...)
{
	va_list ap;

	nr_fail++;
	va_start(ap, fmt);
	out_line("FAIL: ", fmt, ap);
	va_end(ap);
}

void skip(const char *fmt, ...)
{
	va_list ap;

	nr_skip++;
	va_start(ap, fmt);
	out_line("SKIP: ", fmt, ap);
	va_end(ap);
}

void test_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	out_line("# ", fmt, ap);
	va_end(ap);
}

int test_result(void)
{
	if (nr_fail)
		return 1;
	return nr_pass || nr_skip ? 0 : 1;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* Is thread @tid of ours in syscall @nr?  /proc says "running" if not in one. */
static bool in_syscall(int tid, long nr)
{
	char path[64], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return buf[0] != 'r' && strtol(buf, NULL, 10) == nr;
}

bool test_wait_in_syscall(const atomic_int *tid, long nr, int timeout_ms)
{
	long end = now_ms() + timeout_ms;
	struct timespec nap = { .tv_nsec = 1000 * 1000 };

	for (;;) {
		int t = atomic_load(tid);

		if (t && in_syscall(t, nr))
			return true;
		if (now_ms() >= end)
			return false;
		nanosleep(&nap, NULL);
	}
}

int test_proc_stat(pid_t pid, char *state, pid_t *ppid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* "pid (comm) state ppid ...": comm may hold spaces and parentheses. */
	p = strrchr(buf, ')');
	if (!p || strlen(p) < 5)
		return -1;
	*state = p[2];
	*ppid = (pid_t)strtol(p + 4, NULL, 10);
	return 0;
}

int test_write_file(const char *path, const char *val)
{
	size_t len = strlen(val);
	int fd = open(path, O_WRONLY | O_CLOEXEC), err;
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, val, len);
	err = errno;
	close(fd);
	if (n == (ssize_t)len)
		return 0;
	errno = n < 0 ? err : EIO;
	return -1;
}

int test_enter_userns(const char *map)
{
	char path[64], self[16] = "", c;
	int p[2], status;
	pid_t me, h;

	/* Our pid as /proc knows it: getpid() is 1 in the runner's --pidns. */
	if (readlink("/proc/self", self, sizeof(self) - 1) < 0 || pipe(p))
		return -1;
	me = atoi(self);
	h = fork();
	if (h < 0)
		return -1;
	if (h == 0) {
		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			_exit(1);
		snprintf(path, sizeof(path), "/proc/%d/uid_map", me);
		if (test_write_file(path, map))
			_exit(2);
		snprintf(path, sizeof(path), "/proc/%d/gid_map", me);
		_exit(test_write_file(path, map) ? 3 : 0);
	}
	close(p[0]);
	if (unshare(CLONE_NEWUSER) || write(p[1], "u", 1) != 1)
		return -1;
	close(p[1]);
	if (waitpid(h, &status, 0) != h || status) {
		errno = EPERM;
		return -1;
	}
	return setresgid(0, 0, 0) || setgroups(0, NULL) || setresuid(0, 0, 0) ? -1 : 0;
}

int test_read_line(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;
	ssize_t n;

	buf[0] = '\0';
	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	err = errno;
	close(fd);
	if (n < 0) {
		errno = err;
		return -1;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

void test_detach_mounts(void)
{
	static char lines[256][1024];
	char mp[PATH_MAX];
	int n = 0;
	FILE *f = fopen("/proc/self/mountinfo", "r");

	while (f && n < 256 && fgets(lines[n], sizeof(lines[n]), f))
		n++;
	if (f)
		fclose(f);
	for (int i = n - 1; i >= 0; i--) {
		if (sscanf(lines[i], "%*d %*d %*s %*s %4095s", mp) != 1)
			continue;
		if (strcmp(mp, "/") && strcmp(mp, "/proc") && strcmp(mp, "/dev"))
			umount2(mp, MNT_DETACH);
	}
}

int test_run_pair(void *(*fn)(void *), void *arg0, void *arg1, void *(*waker)(void *))
{
	pthread_t second, third;
	sigset_t term;
	int err;

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, NULL);
	err = pthread_create(&second, NULL, fn, arg1);
	if (err) {
		fail("pthread_create: %s", strerror(err));
		return -1;
	}
	err = pthread_create(&third, NULL, waker, NULL);
	if (err) {
		fail("pthread_create: %s", strerror(err));
		return -1;
	}
	fn(arg0);
	pthread_join(second, NULL);
	pthread_join(third, NULL);
	return 0;
}

int test_reap(pid_t pid, const char *name)
{
	int status;

	if (waitpid(pid, &status, 0) != pid) {
		fail("waitpid %s: %m", name);
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fail("%s ended with status %#x", name, status);
		return -1;
	}
	return 0;
}
