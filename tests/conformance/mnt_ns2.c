/*
 * mnt_ns2.c - two mount namespaces in one tree: the root R in one of its
 * own, its child C in another made from R's (unshare), each with mounts
 * and files the other does not see.
 *
 * Under B = /tmp/stasis-mnt_ns2.PID (in R's namespace, every mount but /,
 * /proc and /dev detached first):
 *   B      tmpfs "stasis-b2" holding f "root-file" (both namespaces have
 *          it: C's copy came with the unshare);
 *   B/sh   tmpfs "stasis-sh2", shared before C's unshare: C's copy is
 *          its peer in the other namespace;
 *   B/two  in C's namespace only: tmpfs "stasis-two" holding t
 *          "two-data", C's cwd, a unix socket listening on B/two/sock.
 * C holds t read-write at offset 4 and f read-only; R holds f.
 *
 * Checks after SIGTERM (R lets C go by closing a pipe): C is still in a
 * mount namespace of its own; C's mounts below B, its files' contents,
 * offsets and /proc/self/fd names, its cwd, its socket's name and that
 * it accepts; B/two is an empty directory for R; and the peer group
 * across the two namespaces: a mount C makes on B/sh shows on R's B/sh.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mnt_test.h"
#include "stasis_test.h"


static void check_fd(int fd, const char *rel, const char *data, off_t pos)
{
	char buf[64] = "", link[64], name[PATH_MAX], want[PATH_MAX];
	ssize_t n;

	if (lseek(fd, 0, SEEK_CUR) != pos)
		fail("%s: at offset %lld, want %lld", rel, (long long)lseek(fd, 0, SEEK_CUR),
		     (long long)pos);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n < 0 || strcmp(buf, data))
		fail("%s holds \"%s\", want \"%s\"", rel, n < 0 ? "?" : buf, data);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, name, sizeof(name) - 1);
	name[n > 0 ? n : 0] = '\0';
	mnt_path(want, sizeof(want), rel);
	if (strcmp(name, want))
		fail("fd %d is %s, want %s", fd, name, want);
}

/* C, in its own namespace: set up, tell R, wait for R's go, check. */
static int child(int ready, int go)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX }, got;
	socklen_t len = sizeof(got);
	char path[PATH_MAX], cwd[PATH_MAX], src[256], c;
	int t, f, sk, cl;

	if (unshare(CLONE_NEWNS) || mnt_tmpfs("stasis-two", "two") || mnt_put("two/t", "two-data"))
		return 1;
	mnt_path(path, sizeof(path), "two/t");
	t = open(path, O_RDWR);
	mnt_path(path, sizeof(path), "f");
	f = open(path, O_RDONLY);
	mnt_path(sa.sun_path, sizeof(sa.sun_path), "two/sock");
	sk = socket(AF_UNIX, SOCK_STREAM, 0);
	mnt_path(path, sizeof(path), "two");
	if (t < 0 || f < 0 || lseek(t, 4, SEEK_SET) != 4 || sk < 0 ||
	    bind(sk, (struct sockaddr *)&sa, sizeof(sa)) || listen(sk, 4) || chdir(path))
		return 1;
	if (write(ready, "k", 1) != 1)
		return 1;
	close(ready);
	while (read(go, &c, 1) < 0 && errno == EINTR)
		;

	mnt_source("two", src, sizeof(src));
	if (strcmp(src, "stasis-two"))
		fail("C: B/two is \"%s\", want the tmpfs stasis-two", src);
	check_fd(t, "two/t", "two-data", 4);
	check_fd(f, "f", "root-file", 0);
	mnt_path(path, sizeof(path), "two");
	if (!getcwd(cwd, sizeof(cwd)) || strcmp(cwd, path))
		fail("C: cwd %s, want %s", cwd, path);
	if (getsockname(sk, (struct sockaddr *)&got, &len) || strcmp(got.sun_path, sa.sun_path))
		fail("C: the socket is bound to \"%s\", want %s", got.sun_path, sa.sun_path);
	cl = socket(AF_UNIX, SOCK_STREAM, 0);
	if (cl < 0 || connect(cl, (struct sockaddr *)&sa, sizeof(sa)))
		fail("C: connect to %s: %m", sa.sun_path);
	/* Across the namespaces: R's B/sh is this one's peer. */
	if (mnt_tmpfs("stasis-prop", "sh/sub"))
		fail("C: cannot mount on B/sh/sub: %m");
	return 0;
}

static int setup(pid_t *pid, int *go)
{
	test_detach_mounts();
	return mnt_setup_tree("stasis-b2", "stasis-sh2", child, pid, go);
}

static void check(pid_t pid, int go, int f)
{
	char mine[64], its[64], path[PATH_MAX], src[256];
	struct stat st, sh;
	int status;

	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", pid);
	if (readlink("/proc/self/ns/mnt", mine, sizeof(mine)) < 0 ||
	    readlink(path, its, sizeof(its)) < 0)
		fail("cannot read the mount namespaces: %m");
	else if (!strcmp(mine, its))
		fail("C is in R's mount namespace (%s)", mine);
	check_fd(f, "f", "root-file", 0);
	mnt_path(path, sizeof(path), "two/t");
	if (!stat(path, &st) || errno != ENOENT)
		fail("R sees %s: %m", path);
	mnt_source("two", src, sizeof(src));
	if (src[0])
		fail("R has a mount on B/two: %s", src);
	close(go);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		fail("C ended with status %#x", status);
	mnt_path(path, sizeof(path), "sh/sub");
	if (stat(path, &st) || stat(mnt_base, &sh) || st.st_dev == sh.st_dev)
		fail("C's mount on its B/sh/sub did not reach R's B/sh/sub");
	mnt_source("sh/sub", src, sizeof(src));
	if (strcmp(src, "stasis-prop"))
		fail("R's B/sh/sub is \"%s\", want C's tmpfs stasis-prop", src);
}

int main(int argc, char **argv)
{
	char path[PATH_MAX];
	pid_t pid = -1;
	int go = -1, f;

	test_init(argc, argv);
	snprintf(mnt_base, sizeof(mnt_base), "/tmp/stasis-mnt_ns2.%d", getpid());
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		skip("a mount namespace of its own: %m");
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
	/* Only the mount point is on the host: the rest goes with the namespaces. */
	if (chdir("/") || umount2(mnt_base, MNT_DETACH) || rmdir(mnt_base))
		test_msg("cannot remove %s: %s", mnt_base, strerror(errno));
	pass();
	return test_result();
}
