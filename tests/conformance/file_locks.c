/*
 * file_locks.c - locks of every style held across a checkpoint (the
 * runner dumps it with --file-locks).
 *
 * Sets up, before READY, on four files next to the result file:
 *   fd 5  "flock": flock(LOCK_EX)
 *   fd 6  "posix": POSIX read lock on bytes 10-29; fd 7 a dup of fd 6
 *   fd 8  "ofd":   OFD write lock on the whole file
 *   fd 9  "lease": opened read-only, a read lease
 *
 * Checks after SIGTERM:
 *   - fdinfo shows each lock as before (style, type, range);
 *   - another process is kept out: flock(LOCK_EX|LOCK_NB) fails, a POSIX
 *     write lock on byte 15 is reported held by us (F_GETLK), an OFD
 *     lock through another open fails (F_OFD_SETLK), the lease is a read
 *     lease (F_GETLEASE).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stasis_test.h"

static char dir[PATH_MAX];

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
	return 0;
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
}

static void cleanup(void)
{
	static const char *const names[] = { "flock", "posix", "ofd", "lease" };
	char p[PATH_MAX];

	for (int i = 0; i < 4; i++)
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
