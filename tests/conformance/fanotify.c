/*
 * fanotify.c - a fanotify group with inode marks, one with an ignored mask.
 *
 * Sets up, before READY, on two files F and G next to the result file:
 *   fd 7  fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK, O_RDONLY), marks:
 *           F  FAN_OPEN | FAN_CLOSE_WRITE
 *           G  ignored mask FAN_MODIFY, FAN_MARK_IGNORED_SURV_MODIFY
 *         (skipped where fanotify is missing or not allowed)
 *   fd 9  /proc/self/fdinfo/7, left open (as zdtm's fanotify00 leaks it);
 *         fd 11 a dup of it
 *   a child with fd 10 on /proc/PARENT/fdinfo/7 (our fd 7, from another task)
 *
 * Checks after SIGTERM: fdinfo shows the group's flags and both marks
 * as before (mark flags, masks), no event is queued, and opening F
 * gives a FAN_OPEN event for it; fds 9 and 11 are still the fdinfo of
 * our fd 7 (its link, and it reads the group's flags), and so is the
 * child's fd 10.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stasis_test.h"

#define FAN	7
#define INFO	9	/* /proc/self/fdinfo/FAN */
#define PINFO	10	/* the child's /proc/PARENT/fdinfo/FAN */
#define INFO2	11	/* a dup of INFO */

static char f_path[PATH_MAX], g_path[PATH_MAX];
static pid_t child;

/* Is @fd the fdinfo of task @pid's fanotify FAN: its link, and what it reads? */
static bool is_fan_info(int fd, pid_t pid)
{
	char link[64], want[64], buf[4096];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	snprintf(want, sizeof(want), "/proc/%d/fdinfo/%d", pid, FAN);
	n = readlink(link, buf, sizeof(buf) - 1);
	if (n < 0 || (size_t)n != strlen(want) || memcmp(buf, want, n))
		return false;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, "fanotify flags:") != NULL;
}

static int open_as(const char *path, int want)
{
	int fd = open(path, O_RDONLY);

	if (fd < 0 || (fd != want && (dup2(fd, want) != want || close(fd))))
		return -1;
	return 0;
}

/* The child: its own open of our fdinfo, checked when SIGUSR1 comes. */
static int child_main(pid_t parent, int ready)
{
	char path[64];
	sigset_t usr1;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", parent, FAN);
	if (open_as(path, PINFO))
		return 2;
	/* Ready only once the fd is there: the parent waits on a pipe. */
	close(ready);
	while (sigwaitinfo(&usr1, NULL) < 0 && errno == EINTR)
		;
	return is_fan_info(PINFO, parent) ? 0 : 1;
}

/* fd 9 and the child; -1 on failure. */
static int setup_infos(void)
{
	char path[64], c;
	sigset_t usr1;
	int p[2];

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", FAN);
	if (open_as(path, INFO) || dup2(INFO, INFO2) != INFO2 ||
	    sigprocmask(SIG_BLOCK, &usr1, NULL) || pipe(p))
		return -1;
	child = fork();
	if (child == 0) {
		close(p[0]);
		_exit(child_main(getppid(), p[1]));
	}
	close(p[1]);
	if (child < 0 || read(p[0], &c, 1) != 0) {
		close(p[0]);
		return -1;
	}
	close(p[0]);
	return 0;
}

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
	return setup_infos();
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

static void check_infos(void)
{
	int status;

	if (!is_fan_info(INFO, getpid()) || !is_fan_info(INFO2, getpid()))
		fail("fds %d and %d are no longer the fdinfo of our fd %d", INFO, INFO2, FAN);
	if (kill(child, SIGUSR1) || waitpid(child, &status, 0) != child || !WIFEXITED(status))
		fail("the child: %m");
	else if (WEXITSTATUS(status))
		fail("the child's fd %d is no longer the fdinfo of our fd %d (exit %d)", PINFO, FAN,
		     WEXITSTATUS(status));
	child = 0;
}

static void stop_child(void)
{
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
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
	check_infos();
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
		stop_child();
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
