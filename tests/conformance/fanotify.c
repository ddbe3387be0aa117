/*
 * fanotify.c - a fanotify group with inode marks, one with an ignored mask.
 *
 * Sets up, before READY, on two files F and G next to the result file:
 *   fd 7  fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK, O_RDONLY), marks:
 *           F  FAN_OPEN | FAN_CLOSE_WRITE
 *           G  ignored mask FAN_MODIFY, FAN_MARK_IGNORED_SURV_MODIFY
 *         (skipped where fanotify is missing or not allowed)
 *
 * Checks after SIGTERM: fdinfo shows the group's flags and both marks
 * as before (mark flags, masks), no event is queued, and opening F
 * gives a FAN_OPEN event for it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <unistd.h>

#include "stasis_test.h"

#define FAN	7

static char f_path[PATH_MAX], g_path[PATH_MAX];

static int setup(void)
{
	const char *out = getenv("STASIS_TEST_OUT");
	int fd;

	snprintf(f_path, sizeof(f_path), "%s.F", out ? out : "/tmp/stasis-fanotify");
	snprintf(g_path, sizeof(g_path), "%s.G", out ? out : "/tmp/stasis-fanotify");
	if ((fd = open(f_path, O_CREAT | O_RDWR, 0600)) < 0 || close(fd) ||
	    (fd = open(g_path, O_CREAT | O_RDWR, 0600)) < 0 || close(fd))
		return -1;
	fd = fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK, O_RDONLY);
	if (fd < 0)
		return errno == ENOSYS || errno == EPERM ? 1 : -1;
	if (fd != FAN && (dup2(fd, FAN) != FAN || close(fd)))
		return -1;
	if (fanotify_mark(FAN, FAN_MARK_ADD, FAN_OPEN | FAN_CLOSE_WRITE, AT_FDCWD, f_path) ||
	    fanotify_mark(FAN, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK | FAN_MARK_IGNORED_SURV_MODIFY,
			  FAN_MODIFY, AT_FDCWD, g_path))
		return -1;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/*
 * fdinfo's fanotify lines without inode numbers and handles (a restore
 * may meet the files anew), sorted: the kernel lists marks in no fixed
 * order.
 */
static void marks(char *out, size_t len)
{
	char path[64], line[512], lines[8][512], *cut;
	size_t n = 0, used = 0;
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", FAN);
	f = fopen(path, "r");
	if (!f)
		return;
	while (n < 8 && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "fanotify ", 9))
			continue;
		cut = strstr(line, " fhandle-bytes");
		if (cut)
			*cut = '\0';
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "fanotify ino:", 13)) {
			char *m = strstr(line, "mflags:");

			if (m)
				memmove(line + 9, m, strlen(m) + 1);
		}
		snprintf(lines[n++], sizeof(lines[0]), "%s", line);
	}
	fclose(f);
	qsort(lines, n, sizeof(lines[0]), cmp_str);
	for (size_t i = 0; i < n && used < len; i++)
		used += snprintf(out + used, len - used, "%s;", lines[i]);
}

static void check(const char *was)
{
	char now[1024], buf[4096];
	const struct fanotify_event_metadata *ev = (const void *)buf;
	ssize_t n;
	int fd;

	marks(now, sizeof(now));
	if (strcmp(now, was))
		fail("fanotify marks \"%s\", were \"%s\"", now, was);
	n = read(FAN, buf, sizeof(buf));
	if (n > 0)
		fail("an event was queued after the restore (mask %#llx)", (unsigned long long)ev->mask);
	fd = open(f_path, O_RDONLY);
	if (fd < 0) {
		fail("open %s: %m", f_path);
		return;
	}
	close(fd);
	n = read(FAN, buf, sizeof(buf));
	if (n < (ssize_t)sizeof(*ev) || !(ev->mask & FAN_OPEN))
		fail("opening F gave no FAN_OPEN event (%zd bytes)", n);
	else if (ev->fd >= 0)
		close(ev->fd);
}

int main(int argc, char **argv)
{
	char was[1024];
	int ret;

	test_init(argc, argv);
	ret = setup();
	if (ret) {
		if (ret > 0)
			skip("fanotify is missing or not allowed here");
		else
			fail("setup: %m");
		unlink(f_path);
		unlink(g_path);
		return test_result();
	}
	marks(was, sizeof(was));
	test_ready();
	test_waitsig();
	check(was);
	unlink(f_path);
	unlink(g_path);
	pass();
	return test_result();
}
