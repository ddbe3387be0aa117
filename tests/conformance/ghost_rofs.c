/*
 * ghost_rofs.c - unlinked files kept open on a mount made read-only, in a
 * mount namespace of the task's own (ZDTM's ghost_on_rofs, in small).
 *
 * Sets up, before READY (after unshare(CLONE_NEWNS), the host's other
 * mounts detached), under B = /tmp/stasis-ghost_rofs.PID:
 *   B     tmpfs "stasis-g";
 *   B/ro  tmpfs "stasis-gro", shared, holding g "ghost data" and d/, both
 *         opened (g read-only), then unlinked; then the mount (not its
 *         superblock) made read-only;
 *   B/rw  a bind of B/ro made before that: still writable, the same files.
 *
 * Checks after SIGTERM: g's contents through its fd; both fds still on the
 * read-only mount (fstatvfs) and named as before (/proc/self/fd); B/ro
 * still refuses a new file and B/rw takes one (the superblock writable).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "stasis_test.h"

#define DATA	"ghost data"

static char base[64], ro[96], rw[96];

static int fd_name(int fd, char *buf, size_t size)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, size - 1);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

static int setup(int *g, int *d)
{
	char path[128];

	snprintf(base, sizeof(base), "/tmp/stasis-ghost_rofs.%d", getpid());
	snprintf(ro, sizeof(ro), "%s/ro", base);
	snprintf(rw, sizeof(rw), "%s/rw", base);
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return skip("no mount namespace of its own: %m"), -1;
	test_detach_mounts();
	if (mkdir(base, 0700) || mount("stasis-g", base, "tmpfs", 0, NULL) || mkdir(ro, 0700) ||
	    mkdir(rw, 0700) || mount("stasis-gro", ro, "tmpfs", 0, NULL) ||
	    mount(NULL, ro, NULL, MS_SHARED, NULL) || mount(ro, rw, NULL, MS_BIND, NULL))
		return fail("mounts: %m"), -1;
	snprintf(path, sizeof(path), "%s/g", ro);
	*g = open(path, O_RDWR | O_CREAT, 0600);
	if (*g < 0 || write(*g, DATA, strlen(DATA)) != (ssize_t)strlen(DATA))
		return fail("%s: %m", path), -1;
	close(*g);
	*g = open(path, O_RDONLY);
	if (*g < 0 || unlink(path))
		return fail("%s: %m", path), -1;
	snprintf(path, sizeof(path), "%s/d", ro);
	if (mkdir(path, 0700))
		return fail("%s: %m", path), -1;
	*d = open(path, O_RDONLY | O_DIRECTORY);
	if (*d < 0 || rmdir(path))
		return fail("%s: %m", path), -1;
	if (mount(NULL, ro, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL))
		return fail("read-only %s: %m", ro), -1;
	return 0;
}

static void check_fd(int fd, const char *what, const char *name)
{
	char now[PATH_MAX];
	struct statvfs sv;

	if (fstatvfs(fd, &sv) || !(sv.f_flag & ST_RDONLY))
		fail("%s: not on the read-only mount any more", what);
	if (fd_name(fd, now, sizeof(now)) || strcmp(now, name))
		fail("%s is %s, was %s", what, now, name);
}

static void check_create(const char *dir, bool can)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/new", dir);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
	if (can && fd < 0)
		fail("%s takes no new file: %m", dir);
	else if (!can && (fd >= 0 || errno != EROFS))
		fail("%s is not read-only (%m)", dir);
}

int main(int argc, char **argv)
{
	char gname[PATH_MAX], dname[PATH_MAX], buf[32] = "";
	int g = -1, d = -1;

	test_init(argc, argv);
	if (setup(&g, &d))
		return test_result();
	if (fd_name(g, gname, sizeof(gname)) || fd_name(d, dname, sizeof(dname)))
		return fail("readlink: %m"), test_result();
	test_ready();
	test_waitsig();

	if (pread(g, buf, sizeof(buf) - 1, 0) != (ssize_t)strlen(DATA) || strcmp(buf, DATA))
		fail("g holds \"%s\", not \"%s\"", buf, DATA);
	check_fd(g, "g", gname);
	check_fd(d, "d", dname);
	check_create(ro, false);
	check_create(rw, true);
	pass();
	return test_result();
}
