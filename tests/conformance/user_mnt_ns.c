/*
 * user_mnt_ns.c - two mount namespaces made inside a user namespace of
 * the tree's own: the root R (init of the runner's --pidns) in one, its
 * child C in another made from R's.  Restored, both must be owned by
 * that user namespace again (a task of the tree enters the other's, the
 * peer group between them still propagates).
 *
 * Sets up, before READY:
 *   a mount namespace of R's own (made as host root, every mount but /,
 *     /proc and /dev detached), then unshare(CLONE_NEWUSER) (uid and gid
 *     0..65535 mapped onto 200000..265535 by a helper child outside),
 *     then unshare(CLONE_NEWNS) inside it: R's namespace N1;
 *   B = /tmp/stasis-user_mnt_ns.PID in N1: tmpfs "stasis-ub" holding f
 *     "root-file"; B/sh tmpfs "stasis-ush", shared; B/two a directory;
 *   C: unshare(CLONE_NEWNS) from N1, inside the user namespace (N2);
 *     tmpfs "stasis-utwo" on B/two holding t "two-data"; C holds t
 *     read-write at offset 4 and f read-only, its cwd B/two.
 *
 * Checks after SIGTERM: R's and C's mount namespaces differ and each is
 * owned by the user namespace of the task in it, the same
 * (NS_GET_USERNS); a child of R enters N2 (setns) and reads t there; R does not see B/two's tmpfs; C's mount on
 * B/two, its files' contents, offsets and names, its cwd; a tmpfs C mounts
 * on B/sh/sub shows on R's B/sh/sub.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mnt_test.h"
#include "stasis_test.h"

#define MAP	"0 200000 65536\n"

static void check_fd(const char *who, int fd, const char *rel, const char *data, off_t pos)
{
	char buf[64] = "", link[64], name[PATH_MAX], want[PATH_MAX];
	ssize_t n;

	if (lseek(fd, 0, SEEK_CUR) != pos)
		fail("%s: %s at offset %lld, want %lld", who, rel,
		     (long long)lseek(fd, 0, SEEK_CUR), (long long)pos);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n < 0 || strcmp(buf, data))
		fail("%s: %s holds \"%s\", want \"%s\"", who, rel, n < 0 ? "?" : buf, data);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, name, sizeof(name) - 1);
	name[n > 0 ? n : 0] = '\0';
	mnt_path(want, sizeof(want), rel);
	if (strcmp(name, want))
		fail("%s: fd %d is %s, want %s", who, fd, name, want);
}

/* Dumpable again after the change of ids: a pidfd's setns() wants ptrace access. */
static int enter_userns(void)
{
	return test_enter_userns(MAP) || prctl(PR_SET_DUMPABLE, 1) ? -1 : 0;
}

/* The inode of the user namespace that owns mount namespace @path, or 0. */
static ino_t owner_of(const char *path)
{
	struct stat st;
	int ns = open(path, O_RDONLY | O_CLOEXEC), user;

	user = ns < 0 ? -1 : ioctl(ns, NS_GET_USERNS);
	if (ns >= 0)
		close(ns);
	if (user < 0 || fstat(user, &st))
		st.st_ino = 0;
	if (user >= 0)
		close(user);
	return st.st_ino;
}

/* C, in N2: set up, tell R, wait for R's go, check. */
static int child(int ready, int go)
{
	char path[PATH_MAX], cwd[PATH_MAX], src[256];
	struct stat st;
	ssize_t n;
	ino_t rns;
	int t, f;

	if (unshare(CLONE_NEWNS) || mnt_tmpfs("stasis-utwo", "two") || mnt_put("two/t", "two-data"))
		return 1;
	mnt_path(path, sizeof(path), "two/t");
	t = open(path, O_RDWR);
	mnt_path(path, sizeof(path), "f");
	f = open(path, O_RDONLY);
	mnt_path(path, sizeof(path), "two");
	if (t < 0 || f < 0 || lseek(t, 4, SEEK_SET) != 4 || chdir(path))
		return 1;
	if (write(ready, "k", 1) != 1)
		return 1;
	close(ready);
	while ((n = read(go, &rns, sizeof(rns))) < 0 && errno == EINTR)
		;
	if (n != sizeof(rns))
		fail("C: no word from R");
	else if (stat("/proc/self/ns/mnt", &st) || st.st_ino == rns)
		fail("C is in R's mount namespace (%lu)", (unsigned long)rns);
	if (stat("/proc/self/ns/user", &st) || owner_of("/proc/self/ns/mnt") != st.st_ino)
		fail("C's mount namespace is not owned by C's user namespace");
	mnt_source("two", src, sizeof(src));
	if (strcmp(src, "stasis-utwo"))
		fail("C: B/two is \"%s\", want the tmpfs stasis-utwo", src);
	check_fd("C", t, "two/t", "two-data", 4);
	check_fd("C", f, "f", "root-file", 0);
	mnt_path(path, sizeof(path), "two");
	if (!getcwd(cwd, sizeof(cwd)) || strcmp(cwd, path))
		fail("C: cwd %s, want %s", cwd, path);
	/* Across the namespaces: R's B/sh is this one's peer. */
	if (mnt_tmpfs("stasis-uprop", "sh/sub"))
		fail("C: cannot mount on B/sh/sub: %m");
	return 0;
}

static int setup(pid_t *pid, int *go)
{
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return -1;
	return mnt_setup_tree("stasis-ub", "stasis-ush", child, pid, go);
}

/*
 * A child of R: into C's namespace (only a root of its owner or above may),
 * through a pidfd (/proc shows another pid namespace before the dump than
 * after), t read there.
 */
static void enter_other(pid_t pid)
{
	char buf[64] = "", tp[PATH_MAX];
	int status, fd;
	pid_t g = fork();

	if (g < 0) {
		fail("fork: %m");
		return;
	}
	if (g == 0) {
		fd = syscall(SYS_pidfd_open, pid, 0);
		if (fd < 0 || setns(fd, CLONE_NEWNS))
			_exit(1);
		mnt_path(tp, sizeof(tp), "two/t");
		fd = open(tp, O_RDONLY | O_CLOEXEC);
		_exit(fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0 || strcmp(buf, "two-data") ?
		      2 : 0);
	}
	if (waitpid(g, &status, 0) != g || !WIFEXITED(status) || WEXITSTATUS(status))
		fail("R's child could not %s (status %#x)",
		     WIFEXITED(status) && WEXITSTATUS(status) == 1 ? "enter C's mount namespace" :
		     "read B/two/t in C's mount namespace", status);
}

static void check(pid_t pid, int go, int f)
{
	char path[PATH_MAX], src[256];
	struct stat st, sh, user;
	int status;

	if (stat("/proc/self/ns/user", &user))
		fail("stat /proc/self/ns/user: %m");
	else if (owner_of("/proc/self/ns/mnt") != user.st_ino)
		fail("R's mount namespace is not owned by R's user namespace");
	enter_other(pid);
	check_fd("R", f, "f", "root-file", 0);
	mnt_path(path, sizeof(path), "two/t");
	if (!stat(path, &st) || errno != ENOENT)
		fail("R sees %s: %m", path);
	mnt_source("two", src, sizeof(src));
	if (src[0])
		fail("R has a mount on B/two: %s", src);
	/* C compares its namespace with R's, and checks who owns its own. */
	if (stat("/proc/self/ns/mnt", &st) || write(go, &st.st_ino, sizeof(st.st_ino)) !=
					       sizeof(st.st_ino))
		fail("cannot tell C R's mount namespace: %m");
	close(go);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		fail("C ended with status %#x", status);
	mnt_path(path, sizeof(path), "sh/sub");
	if (stat(path, &st) || stat(mnt_base, &sh) || st.st_dev == sh.st_dev)
		fail("C's mount on its B/sh/sub did not reach R's B/sh/sub");
	mnt_source("sh/sub", src, sizeof(src));
	if (strcmp(src, "stasis-uprop"))
		fail("R's B/sh/sub is \"%s\", want C's tmpfs stasis-uprop", src);
}

int main(int argc, char **argv)
{
	char path[PATH_MAX], self[16] = "";
	pid_t pid = -1;
	int go = -1, f;

	test_init(argc, argv);
	if (readlink("/proc/self", self, sizeof(self) - 1) < 0)
		strcpy(self, "0");
	snprintf(mnt_base, sizeof(mnt_base), "/tmp/stasis-user_mnt_ns.%s", self);
	/* Made from here: the user namespace's mounts come from a tree of few. */
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		skip("a mount namespace of its own: %m");
		return test_result();
	}
	test_detach_mounts();
	if (enter_userns()) {
		skip("no user namespace here: %m");
		return test_result();
	}
	if (setup(&pid, &go)) {
		fail("setup: %m");
		if (pid > 0)
			kill(pid, SIGKILL);
		return test_result();
	}
	mnt_path(path, sizeof(path), "f");
	f = open(path, O_RDONLY);
	if (f < 0)
		fail("open %s: %m", path);
	test_ready();
	test_waitsig();
	check(pid, go, f);
	/* Only the directory is on the host (ours: made inside the user namespace). */
	if (chdir("/") || umount2(mnt_base, MNT_DETACH) || rmdir(mnt_base))
		test_msg("cannot remove %s: %s", mnt_base, strerror(errno));
	pass();
	return test_result();
}
