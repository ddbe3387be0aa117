/*
 * file_locks.c - locks of every style held across a checkpoint (the
 * runner dumps it with --file-locks).
 *
 * Sets up, before READY, on four files next to the result file:
 *   fd 5  "flock": flock(LOCK_EX)
 *   fd 6  "posix": POSIX read lock on bytes 10-29; fd 7 a dup of fd 6
 *   fd 8  "ofd":   OFD write lock on the whole file
 *   fd 9  "lease": opened read-only, a read lease
 *   fd 10 "broken": opened read-write, a write lease that a conflicting
 *         open is breaking (its SIGIO, F_SETSIG'd, taken by us, its
 *         owner); then a child is forked and only the child keeps fd 10
 *
 * Checks after SIGTERM:
 *   - fdinfo shows each lock as before (style, type, range);
 *   - another process is kept out: flock(LOCK_EX|LOCK_NB) fails, a POSIX
 *     write lock on byte 15 is reported held by us (F_GETLK), an OFD
 *     lock through another open fails (F_OFD_SETLK), the lease is a read
 *     lease (F_GETLEASE);
 *   - no second break signal came to us (the restore breaks the lease
 *     again in the child, and we are still the file's owner);
 *   - in the child: the lease is still being broken to nothing
 *     (F_GETLEASE F_UNLCK) and its owner is still us (F_GETOWN_EX).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stasis_test.h"

static char dir[PATH_MAX];
static volatile sig_atomic_t breaks, break_fd = -1;
static pid_t holder;

static int path_of(char *out, const char *name)
{
	return snprintf(out, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX ? -1 : 0;
}

static int open_at(const char *name, int flags, int want)
{
	char p[PATH_MAX];
	int fd;

	if (path_of(p, name))
		return -1;
	fd = open(p, flags | O_CREAT, 0600);
	if (fd < 0 || (fd != want && (dup2(fd, want) != want || close(fd))))
		return -1;
	return 0;
}

static void on_break(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	breaks++;
	break_fd = si->si_fd;
}

/* In the child that keeps fd 10: wait for SIGUSR1, then check its lease. */
static int holder_main(void)
{
	struct f_owner_ex owner;
	sigset_t usr1;
	int bad = 0;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	while (sigwaitinfo(&usr1, NULL) < 0 && errno == EINTR)
		;
	if (fcntl(10, F_GETLEASE) != F_UNLCK)
		bad |= 1;
	if (fcntl(10, F_GETOWN_EX, &owner) || owner.type != F_OWNER_PID ||
	    owner.pid != getppid())
		bad |= 2;
	return bad;
}

/*
 * fd 10: a write lease we break ourselves (the open fails with
 * EWOULDBLOCK and leaves it breaking), its signal taken; then a child
 * keeps the fd and we close it.
 */
static int setup_broken(void)
{
	struct sigaction sa = { .sa_sigaction = on_break, .sa_flags = SA_SIGINFO };
	sigset_t usr1;
	char p[PATH_MAX];
	int fd;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	if (sigaction(SIGIO, &sa, NULL) || sigprocmask(SIG_BLOCK, &usr1, NULL) ||
	    open_at("broken", O_RDWR, 10) || path_of(p, "broken"))
		return -1;
	if (fcntl(10, F_SETLEASE, F_WRLCK) || fcntl(10, F_SETSIG, SIGIO))
		return -1;
	fd = open(p, O_WRONLY | O_NONBLOCK);
	if (fd >= 0 || errno != EWOULDBLOCK)
		return -1;
	for (int i = 0; i < 100 && !breaks; i++)
		usleep(1000);
	if (breaks != 1 || break_fd != 10)
		return -1;
	holder = fork();
	if (holder == 0)
		_exit(holder_main());
	if (holder < 0 || close(10))
		return -1;
	return 0;
}

static int setup(void)
{
	struct flock rd = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = 20 };
	struct flock wr = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	const char *out = getenv("STASIS_TEST_OUT");

	snprintf(dir, sizeof(dir), "%s.d", out ? out : "/tmp/stasis-file-locks");
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -1;
	if (open_at("flock", O_RDWR, 5) || open_at("posix", O_RDWR, 6) ||
	    open_at("ofd", O_RDWR, 8) || open_at("lease", O_RDONLY, 9))
		return -1;
	if (dup2(6, 7) != 7)
		return -1;
	if (flock(5, LOCK_EX) || fcntl(6, F_SETLK, &rd) || fcntl(8, F_OFD_SETLK, &wr) ||
	    fcntl(9, F_SETLEASE, F_RDLCK))
		return -1;
	return setup_broken();
}

/* "STYLE TYPE START END" of each lock fdinfo shows for @fd. */
static void locks_of(int fd, char *out, size_t len)
{
	char path[64], line[256], style[16], mode[16], type[16], s[24], e[24];
	size_t used = 0;
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && used < len) {
		if (sscanf(line, "lock: %*d: %15s %15s %15s %*d %*s %23s %23s", style, mode, type,
			   s, e) == 5)
			used += snprintf(out + used, len - used, "%s %s %s %s %s;", style, mode, type,
					 s, e);
	}
	fclose(f);
}

/* In a child: 0 when each lock keeps another process out, else a bit per failure. */
static int child_checks(void)
{
	struct flock q = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 15, .l_len = 1 };
	struct flock wr = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char p[PATH_MAX];
	int fd, bad = 0;

	if (path_of(p, "flock") || (fd = open(p, O_RDWR)) < 0 || !flock(fd, LOCK_EX | LOCK_NB))
		bad |= 1;
	if (path_of(p, "posix") || (fd = open(p, O_RDWR)) < 0 || fcntl(fd, F_GETLK, &q) ||
	    q.l_type != F_RDLCK || q.l_pid != getppid())
		bad |= 2;
	if (path_of(p, "ofd") || (fd = open(p, O_RDWR)) < 0 || !fcntl(fd, F_OFD_SETLK, &wr))
		bad |= 4;
	return bad;
}

static void check_broken(void)
{
	int status;

	if (breaks != 1)
		fail("fd 10: %d break signals came to us, want the one before the checkpoint",
		     (int)breaks);
	if (kill(holder, SIGUSR1) || waitpid(holder, &status, 0) != holder ||
	    !WIFEXITED(status))
		fail("the child holding fd 10: %m");
	else if (WEXITSTATUS(status))
		fail("the child's fd 10 (failures %#x: 1 lease not breaking to nothing, 2 owner not us)",
		     WEXITSTATUS(status));
	holder = 0;
}

static void check(const char was[4][256])
{
	static const int fds[4] = { 5, 6, 8, 9 };
	char now[256];
	int status, lease;
	pid_t pid;

	for (int i = 0; i < 4; i++) {
		locks_of(fds[i], now, sizeof(now));
		if (strcmp(now, was[i]))
			fail("fd %d: locks \"%s\", were \"%s\"", fds[i], now, was[i]);
	}
	lease = fcntl(9, F_GETLEASE);
	if (lease != F_RDLCK)
		fail("fd 9: lease %d, want a read lease", lease);
	pid = fork();
	if (pid == 0)
		_exit(child_checks());
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		fail("the checking child: %m");
	else if (WEXITSTATUS(status))
		fail("another process was not kept out (failures %#x: 1 flock, 2 posix, 4 ofd)",
		     WEXITSTATUS(status));
	check_broken();
}

static void cleanup(void)
{
	static const char *const names[] = { "flock", "posix", "ofd", "lease", "broken" };
	char p[PATH_MAX];

	if (holder > 0) {
		kill(holder, SIGKILL);
		waitpid(holder, NULL, 0);
	}
	for (int i = 0; i < 5; i++)
		if (!path_of(p, names[i]))
			unlink(p);
	rmdir(dir);
}

int main(int argc, char **argv)
{
	char was[4][256];
	static const int fds[4] = { 5, 6, 8, 9 };

	test_init(argc, argv);
	if (setup()) {
		fail("setup: %m");
		cleanup();
		return test_result();
	}
	for (int i = 0; i < 4; i++)
		locks_of(fds[i], was[i], sizeof(was[i]));
	test_ready();
	test_waitsig();
	check((const char (*)[256])was);
	cleanup();
	pass();
	return test_result();
}
