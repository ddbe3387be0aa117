/*
 * inotify.c - an inotify with watches whose numbers have a gap, on disk
 * and on tmpfs, and one on a file unlinked while we keep it open.
 *
 * Sets up, before READY, in a fresh directory D next to the result file
 * and in a fresh directory S under /dev/shm (tmpfs):
 *   fd 7  inotify (IN_NONBLOCK) watching
 *           wd 1  D, IN_CREATE|IN_DELETE
 *           wd 2  removed again (a gap: the next one is 3)
 *           wd 3  D/file, IN_MODIFY|IN_EXCL_UNLINK
 *           wd 4  S, IN_CREATE|IN_ONESHOT
 *           wd 5  D/gone, IN_MODIFY, then D/gone unlinked; fd 8 keeps
 *                 it open (read-write): the dump keeps it as a ghost file
 *         the events so far read, so the queue is empty
 *
 * Checks after SIGTERM:
 *   - fdinfo lists the same watches (number and mask), and the queue is
 *     empty (nothing the restore did shows as an event);
 *   - creating D/new gives IN_CREATE on wd 1, writing D/file IN_MODIFY
 *     on wd 3, creating S/new IN_CREATE on wd 4, and S/new2 nothing (it
 *     was a one-shot watch);
 *   - writing through fd 8 gives IN_MODIFY on wd 5: the watch is on the
 *     very file fd 8 is, though it has no name (and making it again in
 *     D queued nothing either).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stasis_test.h"

#define IFD	7
#define GONE	8

static char dir[PATH_MAX], shm[PATH_MAX];

static int path_in(char *out, const char *base, const char *name)
{
	return snprintf(out, PATH_MAX, "%s/%s", base, name) >= PATH_MAX ? -1 : 0;
}

static int touch(const char *base, const char *name)
{
	char p[PATH_MAX];
	int fd;

	if (path_in(p, base, name))
		return -1;
	fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	return close(fd);
}

static int setup(void)
{
	char p[PATH_MAX], buf[4096];
	const char *out = getenv("STASIS_TEST_OUT");
	int fd, wd;

	snprintf(dir, sizeof(dir), "%s.d", out ? out : "/tmp/stasis-inotify");
	snprintf(shm, sizeof(shm), "/dev/shm/stasis-inotify.%d", getpid());
	if ((mkdir(dir, 0700) && errno != EEXIST) || (mkdir(shm, 0700) && errno != EEXIST))
		return -1;
	if (touch(dir, "file") || path_in(p, dir, "file"))
		return -1;
	fd = inotify_init1(IN_NONBLOCK);
	if (fd < 0 || (fd != IFD && (dup2(fd, IFD) != IFD || close(fd))))
		return -1;
	if (inotify_add_watch(IFD, dir, IN_CREATE | IN_DELETE) != 1)
		return -1;
	wd = inotify_add_watch(IFD, "/", IN_ATTRIB);
	if (wd != 2 || inotify_rm_watch(IFD, wd))
		return -1;
	if (inotify_add_watch(IFD, p, IN_MODIFY | IN_EXCL_UNLINK) != 3 ||
	    inotify_add_watch(IFD, shm, IN_CREATE | IN_ONESHOT) != 4)
		return -1;
	if (path_in(p, dir, "gone"))
		return -1;
	fd = open(p, O_CREAT | O_RDWR | O_TRUNC, 0600);
	if (fd < 0 || (fd != GONE && (dup2(fd, GONE) != GONE || close(fd))))
		return -1;
	if (inotify_add_watch(IFD, p, IN_MODIFY) != 5 || unlink(p))
		return -1;
	while (read(IFD, buf, sizeof(buf)) > 0)
		;
	return 0;
}

/* "wd:mask " of each watch, as fdinfo lists them. */
static int watches(char *out, size_t len)
{
	char path[64], line[512];
	size_t used = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", IFD);
	f = fopen(path, "r");
	if (!f)
		return -1;
	out[0] = '\0';
	while (fgets(line, sizeof(line), f) && used < len) {
		unsigned int wd, mask;

		if (sscanf(line, "inotify wd:%x ino:%*x sdev:%*x mask:%x", &wd, &mask) == 2)
			used += snprintf(out + used, len - used, "%x:%x ", wd, mask);
	}
	fclose(f);
	return 0;
}

/* The next event: its wd and mask; false if none comes within 1 s. */
static bool next_event(int *wd, unsigned int *mask)
{
	char buf[sizeof(struct inotify_event) + NAME_MAX + 1]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev = (const void *)buf;

	for (int i = 0; i < 100; i++) {
		if (read(IFD, buf, sizeof(buf)) > 0) {
			*wd = ev->wd;
			*mask = ev->mask;
			return true;
		}
		if (errno != EAGAIN)
			return false;
		usleep(10000);
	}
	return false;
}

static void expect(const char *what, int want_wd, unsigned int want_mask)
{
	unsigned int mask;
	int wd;

	if (!next_event(&wd, &mask))
		fail("%s: no event", what);
	else if (wd != want_wd || !(mask & want_mask))
		fail("%s: event wd %d mask %#x, want wd %d mask %#x", what, wd, mask, want_wd,
		     want_mask);
}

static void check_events(void)
{
	char p[PATH_MAX];
	unsigned int mask;
	int wd, fd;

	if (next_event(&wd, &mask))
		fail("an event was queued after the restore: wd %d mask %#x", wd, mask);
	if (touch(dir, "new"))
		fail("create %s/new: %m", dir);
	expect("create in the directory", 1, IN_CREATE);
	if (path_in(p, dir, "file") || (fd = open(p, O_WRONLY)) < 0 || write(fd, "x", 1) != 1)
		fail("write %s: %m", p);
	else
		close(fd);
	expect("write to the file", 3, IN_MODIFY);
	if (touch(shm, "new"))
		fail("create %s/new: %m", shm);
	expect("create on tmpfs", 4, IN_CREATE);
	while (next_event(&wd, &mask) && !(mask & IN_CREATE))
		;
	if (touch(shm, "new2"))
		fail("create %s/new2: %m", shm);
	if (next_event(&wd, &mask) && (mask & IN_CREATE))
		fail("the one-shot watch fired twice (wd %d)", wd);
	while (next_event(&wd, &mask))
		;
	if (write(GONE, "y", 1) != 1)
		fail("write to the unlinked file: %m");
	expect("write to the unlinked file", 5, IN_MODIFY);
}

static void cleanup(void)
{
	char p[PATH_MAX];

	if (!path_in(p, dir, "file"))
		unlink(p);
	if (!path_in(p, dir, "new"))
		unlink(p);
	if (!path_in(p, shm, "new"))
		unlink(p);
	if (!path_in(p, shm, "new2"))
		unlink(p);
	rmdir(dir);
	rmdir(shm);
}

int main(int argc, char **argv)
{
	char was[256], now[256];

	test_init(argc, argv);
	if (setup() || watches(was, sizeof(was))) {
		fail("setup: %m");
		cleanup();
		return test_result();
	}
	test_ready();
	test_waitsig();

	if (watches(now, sizeof(now)))
		fail("fdinfo: %m");
	else if (strcmp(now, was))
		fail("watches \"%s\", were \"%s\"", now, was);
	check_events();
	cleanup();
	pass();
	return test_result();
}
