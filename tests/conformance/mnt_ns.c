/*
 * mnt_ns.c - a task in a mount namespace of its own, with files open on
 * mounts that exist only there.
 *
 * Sets up, before READY (after unshare(CLONE_NEWNS), every mount but /,
 * /proc and /dev detached, so that what the host has mounted elsewhere
 * does not matter), under B = /tmp/stasis-mnt_ns.PID:
 *   B      tmpfs "stasis-b" (size=2m,mode=751): f "hello world", sub/h
 *          "inside", d/ (the cwd), gone (unlinked, kept open);
 *   B/bp   a bind of B/sub, read-only (the mount, not the superblock);
 *   B/ro   tmpfs "stasis-ro" holding r "r-data", its superblock read-only;
 *   B/sh   tmpfs "stasis-sh", shared, holding s; B/peer a bind of it (the
 *          same peer group); B/sl a bind of it made its slave;
 *   B/unb  tmpfs "stasis-unb", unbindable;
 *   B/proc a proc of its own;
 *   B/hid  a tmpfs over B's directory hid holding x "hidden";
 *   B/ov   tmpfs "stasis-ov1" holding y "under", covered by another tmpfs;
 *   fds: B/f read-write at offset 6, B/bp/h, B/ro/r, B/sh/s appending,
 *        the unlinked B/gone, a unix socket listening on B/sock.
 *
 * Checks after SIGTERM: the mounts below B as they were (mount point,
 * root, type, source, options, which mounts share a peer group and whose
 * slave each is); the files' contents, offsets and /proc/self/fd names;
 * the cwd; the socket still bound where it was and accepting; writes
 * refused where the mount or its superblock is read-only; and the
 * propagation itself: a mount made on B/sh shows on B/peer and B/sl, one
 * made on B/sl does not show on B/sh; what the mounts on B/hid and B/ov
 * cover is still there once they are taken off.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "mnt_test.h"
#include "stasis_test.h"

#define MAX_MNT		32
#define LINE		1024

static char before[MAX_MNT][LINE];
static int nr_before;

enum { F_RW, F_BIND, F_RO, F_SHARED, F_GHOST, F_SOCK, NR_FDS };
static int fds[NR_FDS];

static int do_mount(const char *src, const char *rel, const char *type, unsigned long flags,
		    const char *opts)
{
	char path[PATH_MAX];

	mnt_path(path, sizeof(path), rel);
	if (mount(src, path, type, flags, opts)) {
		fail("mount %s on %s: %m", src ? src : "(none)", path);
		return -1;
	}
	return 0;
}

/*
 * The mounts below B, one line each: mount point (relative to B), root,
 * mount options, peer group and master as letters in order of first
 * sight, type, source, superblock options.
 */
static int snapshot(char out[][LINE])
{
	char line[LINE], root[256], mp[256], mopt[128], type[32], src[64], sopt[128];
	unsigned int groups[MAX_MNT];
	int n = 0, ng = 0;
	size_t bl = strlen(mnt_base);
	FILE *f = fopen("/proc/self/mountinfo", "r");

	while (f && fgets(line, sizeof(line), f) && n < MAX_MNT) {
		char prop[64] = "", *dash = strstr(line, " - "), *p;
		int off;

		if (!dash || sscanf(line, "%*d %*d %*s %255s %255s %127s %n", root, mp, mopt, &off) != 3)
			continue;
		if (strncmp(mp, mnt_base, bl) || (mp[bl] && mp[bl] != '/'))
			continue;
		for (p = line + off; p < dash; p += strcspn(p, " "), p += *p == ' ') {
			unsigned int g;
			char kind[16];

			if (sscanf(p, "%15[a-z]:%u", kind, &g) != 2)
				continue;
			int i;

			for (i = 0; i < ng && groups[i] != g; i++)
				;
			if (i == ng && ng < MAX_MNT)
				groups[ng++] = g;
			snprintf(prop + strlen(prop), sizeof(prop) - strlen(prop), " %s:%c", kind,
				 'A' + i);
		}
		if (strstr(line, " unbindable "))
			strcat(prop, " unbindable");
		if (sscanf(dash + 3, "%31s %63s %127s", type, src, sopt) != 3)
			continue;
		snprintf(out[n++], LINE, "%s %s %s%s - %s %s %s", mp[bl] ? mp + bl : "B", root, mopt,
			 prop, type, src, sopt);
	}
	if (f)
		fclose(f);
	return n;
}

static int setup(void)
{
	char path[PATH_MAX];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	test_detach_mounts();
	if (mkdir(mnt_base, 0755) && errno != EEXIST)
		return -1;
	if (do_mount("stasis-b", "", "tmpfs", 0, "size=2m,mode=751") ||
	    mkdir(strcat(strcpy(path, mnt_base), "/sub"), 0755) || mnt_put("sub/h", "inside") ||
	    mnt_put("f", "hello world") || mnt_put("gone", "ghost-data"))
		return -1;
	for (const char *const *d = (const char *const[]){ "bp", "ro", "sh", "peer", "sl", "unb",
							   "proc", "d", "hid", "ov", NULL }; *d; d++) {
		snprintf(path, sizeof(path), "%s/%s", mnt_base, *d);
		if (mkdir(path, 0755))
			return -1;
	}
	snprintf(path, sizeof(path), "%s/sub", mnt_base);
	if (do_mount(path, "bp", NULL, MS_BIND, NULL) ||
	    do_mount(NULL, "bp", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) ||
	    do_mount("stasis-ro", "ro", "tmpfs", 0, "size=1m") || mnt_put("ro/r", "r-data") ||
	    do_mount(NULL, "ro", NULL, MS_REMOUNT | MS_RDONLY, "size=1m") ||
	    do_mount("stasis-sh", "sh", "tmpfs", 0, NULL) || mnt_put("sh/s", "s1") ||
	    do_mount(NULL, "sh", NULL, MS_SHARED, NULL))
		return -1;
	snprintf(path, sizeof(path), "%s/sh", mnt_base);
	if (do_mount(path, "peer", NULL, MS_BIND, NULL) || do_mount(path, "sl", NULL, MS_BIND, NULL) ||
	    do_mount(NULL, "sl", NULL, MS_SLAVE, NULL) ||
	    do_mount("stasis-unb", "unb", "tmpfs", 0, NULL) ||
	    do_mount(NULL, "unb", NULL, MS_UNBINDABLE, NULL) ||
	    do_mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) ||
	    mnt_put("hid/x", "hidden") || do_mount("stasis-hid", "hid", "tmpfs", 0, NULL) ||
	    do_mount("stasis-ov1", "ov", "tmpfs", 0, NULL) || mnt_put("ov/y", "under") ||
	    do_mount("stasis-ov2", "ov", "tmpfs", 0, NULL))
		return -1;

	const char *names[NR_FDS] = { "f", "bp/h", "ro/r", "sh/s", "gone", NULL };
	const int flags[NR_FDS] = { O_RDWR, O_RDONLY, O_RDONLY, O_WRONLY | O_APPEND, O_RDWR };

	for (int i = 0; i < F_SOCK; i++) {
		snprintf(path, sizeof(path), "%s/%s", mnt_base, names[i]);
		fds[i] = open(path, flags[i]);
		if (fds[i] < 0)
			return -1;
	}
	if (lseek(fds[F_RW], 6, SEEK_SET) != 6 || unlinkat(AT_FDCWD, path, 0))
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock", mnt_base);
	fds[F_SOCK] = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fds[F_SOCK] < 0 || bind(fds[F_SOCK], (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(fds[F_SOCK], 4))
		return -1;
	snprintf(path, sizeof(path), "%s/d", mnt_base);
	if (chdir(path))
		return -1;
	nr_before = snapshot(before);
	return nr_before == 11 ? 0 : (errno = EINVAL, -1);
}

static void check_mounts(void)
{
	char after[MAX_MNT][LINE];
	int n = snapshot(after);

	if (n != nr_before)
		fail("%d mounts below %s, %d before", n, mnt_base, nr_before);
	for (int i = 0; i < nr_before; i++) {
		int j;

		for (j = 0; j < n && strcmp(before[i], after[j]); j++)
			;
		if (j == n)
			fail("mount \"%s\" is gone", before[i]);
	}
	for (int j = 0; j < n; j++) {
		int i;

		for (i = 0; i < nr_before && strcmp(before[i], after[j]); i++)
			;
		if (i == nr_before)
			fail("mount \"%s\" is new", after[j]);
	}
}

static void check_file(int i, const char *rel, const char *want, off_t pos)
{
	char path[PATH_MAX], link[PATH_MAX], buf[64] = "";
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fds[i]);
	n = readlink(link, path, sizeof(path) - 1);
	path[n < 0 ? 0 : n] = '\0';
	snprintf(link, sizeof(link), "%s/%s%s", mnt_base, rel, i == F_GHOST ? " (deleted)" : "");
	if (strcmp(path, link))
		fail("fd %d is %s, want %s", fds[i], path, link);
	if (lseek(fds[i], 0, SEEK_CUR) != pos)
		fail("fd %d (%s): offset %lld, want %lld", fds[i], rel,
		     (long long)lseek(fds[i], 0, SEEK_CUR), (long long)pos);
	if (i == F_SHARED)
		return;	/* write-only */
	n = pread(fds[i], buf, sizeof(buf) - 1, 0);
	buf[n < 0 ? 0 : n] = '\0';
	if (strcmp(buf, want))
		fail("%s holds \"%s\", want \"%s\"", rel, buf, want);
}

static void check_refused(const char *rel, const char *why)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", mnt_base, rel);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	if (fd >= 0 || errno != EROFS)
		fail("%s: writable (%s)", path, why);
	if (fd >= 0)
		close(fd);
}

/* Under what is mounted on B/@dir, @file still holds @want. */
static void check_uncovered(const char *dir, const char *file, const char *want)
{
	char path[PATH_MAX], buf[32] = "";
	int fd;

	snprintf(path, sizeof(path), "%s/%s", mnt_base, dir);
	if (umount2(path, MNT_DETACH)) {
		fail("umount %s: %m", path);
		return;
	}
	snprintf(path, sizeof(path), "%s/%s/%s", mnt_base, dir, file);
	fd = open(path, O_RDONLY);
	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) < 0 || strcmp(buf, want))
		fail("%s under its cover holds \"%s\", want \"%s\" (%m)", path, buf, want);
	if (fd >= 0)
		close(fd);
}

/* A mount on B/sh must reach its peer and its slave; one on the slave, not the master. */
static void check_propagation(void)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/sh/sub", mnt_base);
	if (mkdir(path, 0755)) {
		fail("mkdir %s: %m", path);
		return;
	}
	if (do_mount("stasis-new", "sh/sub", "tmpfs", 0, NULL))
		return;
	if (mnt_put("sh/sub/x", "x"))
		fail("cannot write on the new mount: %m");
	snprintf(path, sizeof(path), "%s/peer/sub/x", mnt_base);
	if (stat(path, &st))
		fail("a mount on sh did not reach its peer: %m");
	snprintf(path, sizeof(path), "%s/sl/sub/x", mnt_base);
	if (stat(path, &st))
		fail("a mount on sh did not reach its slave: %m");
	if (do_mount("stasis-slave", "sl/sub", "tmpfs", 0, NULL) || mnt_put("sl/sub/y", "y"))
		return;
	snprintf(path, sizeof(path), "%s/sh/sub/y", mnt_base);
	if (!stat(path, &st))
		fail("a mount on the slave reached its master");
}

static void check(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX }, got;
	socklen_t len = sizeof(got);
	char cwd[PATH_MAX], want[PATH_MAX];
	struct stat st;
	int c;

	check_mounts();
	check_file(F_RW, "f", "hello world", 6);
	check_file(F_BIND, "bp/h", "inside", 0);
	check_file(F_RO, "ro/r", "r-data", 0);
	check_file(F_SHARED, "sh/s", "", 0);
	check_file(F_GHOST, "gone", "ghost-data", 0);
	if (fstat(fds[F_GHOST], &st) || st.st_nlink)
		fail("the unlinked file has %lu links", (unsigned long)st.st_nlink);
	snprintf(want, sizeof(want), "%s/d", mnt_base);
	if (!getcwd(cwd, sizeof(cwd)) || strcmp(cwd, want))
		fail("cwd %s, want %s", cwd, want);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock", mnt_base);
	if (getsockname(fds[F_SOCK], (struct sockaddr *)&got, &len) || strcmp(got.sun_path, sa.sun_path))
		fail("the socket is bound to \"%s\", want %s", got.sun_path, sa.sun_path);
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof(sa)))
		fail("connect to %s: %m", sa.sun_path);
	if (c >= 0)
		close(c);
	check_uncovered("hid", "x", "hidden");
	check_uncovered("ov", "y", "under");
	check_refused("bp/new", "a read-only bind");
	check_refused("ro/new", "a read-only superblock");
	check_propagation();
}

int main(int argc, char **argv)
{
	test_init(argc, argv);
	snprintf(mnt_base, sizeof(mnt_base), "/tmp/stasis-mnt_ns.%d", getpid());
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		skip("a mount namespace of its own: %m");
		return test_result();
	}
	if (setup()) {
		fail("setup: %m");
		return test_result();
	}
	test_ready();
	test_waitsig();
	check();
	/* Only the mount point is on the host: the rest goes with the namespace. */
	if (chdir("/") || umount2(mnt_base, MNT_DETACH) || rmdir(mnt_base))
		test_msg("cannot remove %s: %s", mnt_base, strerror(errno));
	pass();
	return test_result();
}
