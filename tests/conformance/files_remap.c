/*
 * files_remap.c - open files whose path will not simply open them again:
 * unlinked ones and /proc files of the tree's own tasks.
 *
 * Sets up, before READY, in a temporary directory T:
 *   fd 40  an O_TMPFILE file in T, O_RDWR, 5000 bytes written, at 123
 *   fd 41  the directory T/a/b, opened, then b and a removed
 *   fd 42  /proc/C/stat of a child C of ours
 *   fd 43  /proc/self/maps (the link names our pid)
 *   a child C whose cwd is its own /proc/C
 *   a child U whose cwd is /proc/G of a grandchild G that is gone
 * C and U block reading a pipe only the test can write to.
 *
 * Checks after SIGTERM:
 *   - fd 40: F_GETFL as before (but O_TMPFILE), st_nlink 0, a regular file, size 5000,
 *     offset 123 and the bytes written;
 *   - fd 41: a directory with st_nlink 0, and T/a is not back;
 *   - fd 42 reads C's stat (its first field is C's pid);
 *   - fd 43: its link is /proc/<our pid>/maps and it reads a maps line;
 *   - C (told by the end of file on the pipe): its cwd is /proc/C;
 *   - U (likewise): getcwd() fails with
 *     ENOENT and /proc/self/cwd reads as before; U exits 0 only then.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stasis_test.h"

#define TMP_FD		40
#define DIR_FD		41
#define STAT_FD		42
#define MAPS_FD		43
#define TMP_LEN		5000
#define TMP_OFF		123

static char tmpdir[] = "/tmp/stasis-remap.XXXXXX";
static int go[2];		/* children read go[0] until the test closes go[1] */
static pid_t child_c, child_u;
static int tmp_fl;

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 37 + (i >> 7));
}

static int move_fd(int fd, int to)
{
	if (fd < 0 || dup2(fd, to) != to)
		return -1;
	close(fd);
	return 0;
}

/* Block until the test closes the pipe; the child's checks follow. */
static void wait_go(void)
{
	char c;

	close(go[1]);
	while (read(go[0], &c, 1) < 0 && errno == EINTR)
		;
}

static int setup_tmpfile(void)
{
	uint8_t buf[TMP_LEN];
	int fd = open(tmpdir, O_TMPFILE | O_RDWR, 0600);

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = pattern(i);
	if (fd < 0 || write(fd, buf, sizeof(buf)) != sizeof(buf) ||
	    lseek(fd, TMP_OFF, SEEK_SET) != TMP_OFF || move_fd(fd, TMP_FD)) {
		fail("O_TMPFILE file in %s: %m", tmpdir);
		return -1;
	}
	/*
	 * F_GETFL shows O_TMPFILE (with O_DIRECTORY) for the file that made
	 * the inode; a restore makes the inode by a name and opens it again,
	 * as CRIU does: those bits cannot come back, the others must.
	 */
	tmp_fl = fcntl(TMP_FD, F_GETFL) & ~O_TMPFILE;
	return 0;
}

static int setup_dir(void)
{
	char a[PATH_MAX], b[PATH_MAX];

	snprintf(a, sizeof(a), "%s/a", tmpdir);
	snprintf(b, sizeof(b), "%s/a/b", tmpdir);
	if (mkdir(a, 0700) || mkdir(b, 0700) ||
	    move_fd(open(b, O_RDONLY | O_DIRECTORY), DIR_FD) || rmdir(b) || rmdir(a)) {
		fail("removed directory %s: %m", b);
		return -1;
	}
	return 0;
}

/* C: cwd in its own /proc dir, a path of the tree's own. */
static int run_c(void)
{
	char want[64], cwd[PATH_MAX];
	ssize_t n;

	if (chdir("/proc/self")) {
		fail("C: chdir /proc/self: %m");
		return 1;
	}
	wait_go();
	snprintf(want, sizeof(want), "/proc/%d", getpid());
	n = readlink("/proc/self/cwd", cwd, sizeof(cwd) - 1);
	cwd[n < 0 ? 0 : n] = '\0';
	if (strcmp(cwd, want) || access("stat", R_OK)) {
		fail("C: cwd '%s', want '%s' (with a stat in it)", cwd, want);
		return 1;
	}
	return 0;
}

/* U: cwd in /proc/G of a grandchild G that is gone by READY. */
static int run_u(void)
{
	char before[PATH_MAX], after[PATH_MAX], path[64];
	ssize_t n;
	pid_t g = fork();

	if (g == 0) {
		pause();
		_exit(0);
	}
	snprintf(path, sizeof(path), "/proc/%d", g);
	if (g < 0 || chdir(path)) {
		fail("U: cwd in %s: %m", path);
		return 1;
	}
	kill(g, SIGKILL);
	waitpid(g, NULL, 0);
	n = readlink("/proc/self/cwd", before, sizeof(before) - 1);
	before[n < 0 ? 0 : n] = '\0';
	wait_go();
	if (getcwd(after, sizeof(after)) || errno != ENOENT) {
		fail("U: getcwd() in the /proc dir of a dead pid: %s, want ENOENT",
		     errno == ENOENT ? after : strerror(errno));
		return 1;
	}
	n = readlink("/proc/self/cwd", after, sizeof(after) - 1);
	after[n < 0 ? 0 : n] = '\0';
	if (strcmp(before, after)) {
		fail("U: cwd '%s', was '%s'", after, before);
		return 1;
	}
	return 0;
}

static pid_t start_child(int (*fn)(void))
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(fn ? fn() : (wait_go(), 0));
	if (pid < 0)
		fail("fork: %m");
	return pid;
}

static int setup(void)
{
	char path[64];

	if (!mkdtemp(tmpdir) || pipe(go)) {
		fail("temporary directory %s or pipe: %m", tmpdir);
		return -1;
	}
	if (setup_tmpfile() || setup_dir())
		return -1;
	child_c = start_child(run_c);
	child_u = start_child(run_u);
	if (child_c < 0 || child_u < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", child_c);
	if (move_fd(open(path, O_RDONLY), STAT_FD) ||
	    move_fd(open("/proc/self/maps", O_RDONLY), MAPS_FD)) {
		fail("open %s or /proc/self/maps: %m", path);
		return -1;
	}
	close(go[0]);
	return 0;
}

static int check_tmpfile(void)
{
	uint8_t buf[TMP_LEN];
	struct stat st;
	int fl = fcntl(TMP_FD, F_GETFL) & ~O_TMPFILE;

	if (fl != tmp_fl)
		fail("fd %d: flags %#o, were %#o", TMP_FD, fl, tmp_fl);
	if (fstat(TMP_FD, &st) || !S_ISREG(st.st_mode) || st.st_nlink || st.st_size != TMP_LEN) {
		fail("fd %d: not an unlinked %d-byte regular file: mode %#o nlink %lu size %lld",
		     TMP_FD, TMP_LEN, st.st_mode, (unsigned long)st.st_nlink,
		     (long long)st.st_size);
		return -1;
	}
	if (lseek(TMP_FD, 0, SEEK_CUR) != TMP_OFF)
		fail("fd %d: offset %lld, was %d", TMP_FD, (long long)lseek(TMP_FD, 0, SEEK_CUR),
		     TMP_OFF);
	if (pread(TMP_FD, buf, sizeof(buf), 0) != sizeof(buf)) {
		fail("fd %d: read: %m", TMP_FD);
		return -1;
	}
	for (size_t i = 0; i < sizeof(buf); i++) {
		if (buf[i] != pattern(i)) {
			fail("fd %d: byte %zu is %#x, was %#x", TMP_FD, i, buf[i], pattern(i));
			return -1;
		}
	}
	return fl == tmp_fl ? 0 : -1;
}

static int check_dir(void)
{
	char a[PATH_MAX];
	struct stat st;

	snprintf(a, sizeof(a), "%s/a", tmpdir);
	if (fstat(DIR_FD, &st) || !S_ISDIR(st.st_mode) || st.st_nlink) {
		fail("fd %d: not a removed directory: mode %#o nlink %lu", DIR_FD, st.st_mode,
		     (unsigned long)st.st_nlink);
		return -1;
	}
	if (access(a, F_OK) == 0) {
		fail("%s is back after the restore", a);
		return -1;
	}
	return 0;
}

static int check_proc(void)
{
	char buf[256], want[64], link[64];
	ssize_t n;

	n = pread(STAT_FD, buf, sizeof(buf) - 1, 0);
	buf[n < 0 ? 0 : n] = '\0';
	if (n <= 0 || atoi(buf) != child_c) {
		fail("fd %d: reads '%.40s', not the stat of child %d", STAT_FD, buf, child_c);
		return -1;
	}
	snprintf(want, sizeof(want), "/proc/%d/maps", getpid());
	snprintf(link, sizeof(link), "/proc/self/fd/%d", MAPS_FD);
	n = readlink(link, buf, sizeof(buf) - 1);
	buf[n < 0 ? 0 : n] = '\0';
	if (strcmp(buf, want)) {
		fail("fd %d: '%s', want '%s'", MAPS_FD, buf, want);
		return -1;
	}
	n = pread(MAPS_FD, buf, sizeof(buf) - 1, 0);
	if (n <= 0 || !strchr(buf, '-')) {
		fail("fd %d: no maps line: %m", MAPS_FD);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int bad;

	test_init(argc, argv);
	if (setup()) {
		close(go[1]);
		while (wait(NULL) > 0)
			;
		rmdir(tmpdir);
		return test_result();
	}
	test_ready();
	test_waitsig();

	bad = check_tmpfile() | check_dir() | check_proc();
	close(go[1]);
	bad |= test_reap(child_c, "child C") | test_reap(child_u, "child U");
	rmdir(tmpdir);
	if (!bad)
		pass();
	return test_result();
}
