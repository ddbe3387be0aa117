/*
 * fdt_chroot.c - what tasks share or not of their files: an fd table
 * shared with CLONE_FILES, a root of their own, an executable memfd.
 *
 * Sets up, before READY:
 *   S  a child cloned with CLONE_FILES: one fd table with the test
 *   F  a child forked plainly: a copy of the table
 *   R  a child chrooted into an empty temporary directory
 *   fd 50  a memfd holding "#!/bin/true", as memfd_create() made it
 * The children block reading a pipe only the test can write to.
 *
 * Checks after SIGTERM:
 *   - kcmp(KCMP_FILES) says S shares the test's fd table, F does not;
 *   - a fork of the test runs fd 50 with execveat(AT_EMPTY_PATH) and
 *     exits 0 (ETXTBSY if the memfd were a file opened again for writing);
 *   - R (told by the end of file on the pipe): "/" is the directory it
 *     was chrooted into (same device and inode) and /proc is not there;
 *     R exits 0 only then.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stasis_test.h"

#define MEMFD_FD	50
#define SCRIPT		"#!/bin/true\n"

static char tmpdir[] = "/tmp/stasis-chroot.XXXXXX";
static struct stat root_st;
static int go[2];
static pid_t child_s, child_f, child_r;

static void wait_go(bool shared)
{
	char c;

	/* A task that shares the table must leave the test's end open. */
	if (!shared)
		close(go[1]);
	while (read(go[0], &c, 1) < 0 && errno == EINTR)
		;
}

static int run_r(void)
{
	struct stat st;

	if (chroot(tmpdir) || chdir("/")) {
		fail("R: chroot %s: %m", tmpdir);
		return 1;
	}
	wait_go(false);
	if (stat("/", &st) || st.st_dev != root_st.st_dev || st.st_ino != root_st.st_ino) {
		fail("R: / is not %s after the restore", tmpdir);
		return 1;
	}
	if (access("/proc", F_OK) == 0) {
		fail("R: /proc is there: the root is not %s", tmpdir);
		return 1;
	}
	return 0;
}

static pid_t start(unsigned long flags, int (*fn)(void))
{
	pid_t pid = syscall(SYS_clone, flags | SIGCHLD, 0, NULL, NULL, 0);

	if (pid == 0) {
		if (fn)
			_exit(fn());
		wait_go(flags & CLONE_FILES);
		_exit(0);
	}
	if (pid < 0)
		fail("clone: %m");
	return pid;
}

static int setup(void)
{
	int fd;

	if (!mkdtemp(tmpdir) || stat(tmpdir, &root_st) || pipe(go)) {
		fail("temporary directory %s or pipe: %m", tmpdir);
		return -1;
	}
	fd = memfd_create("script", 0);
	if (fd < 0 || write(fd, SCRIPT, strlen(SCRIPT)) != (ssize_t)strlen(SCRIPT) ||
	    dup2(fd, MEMFD_FD) != MEMFD_FD) {
		fail("memfd: %m");
		return -1;
	}
	close(fd);
	child_s = start(CLONE_FILES, NULL);
	child_f = start(0, NULL);
	child_r = start(0, run_r);
	return child_s < 0 || child_f < 0 || child_r < 0 ? -1 : 0;
}

static int check_tables(void)
{
	long s = syscall(SYS_kcmp, getpid(), child_s, KCMP_FILES, 0, 0);
	long f = syscall(SYS_kcmp, getpid(), child_f, KCMP_FILES, 0, 0);

	if (s != 0) {
		fail("S (pid %d) does not share the test's fd table: kcmp %ld: %m", child_s, s);
		return -1;
	}
	if (f <= 0) {
		fail("F (pid %d) shares the test's fd table: kcmp %ld: %m", child_f, f);
		return -1;
	}
	return 0;
}

static int check_exec(void)
{
	static char *const argv[] = { "true", NULL }, *const envp[] = { NULL };
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		syscall(SYS_execveat, MEMFD_FD, "", argv, envp, AT_EMPTY_PATH);
		_exit(100 + errno);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid) {
		fail("fork or waitpid: %m");
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fail("execveat of the memfd: status %#x (100 + errno: %s)", status,
		     WIFEXITED(status) && WEXITSTATUS(status) > 100 ?
			     strerror(WEXITSTATUS(status) - 100) : "-");
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

	bad = check_tables() | check_exec();
	close(go[1]);
	bad |= test_reap(child_s, "S") | test_reap(child_f, "F") | test_reap(child_r, "R");
	rmdir(tmpdir);
	if (!bad)
		pass();
	return test_result();
}
