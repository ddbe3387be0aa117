/*
 * pipes_fifos.c - a pipe and a FIFO with unread data, on chosen,
 * non-contiguous descriptor numbers.
 *
 * Sets up, before READY:
 *   fd  7   read end of a pipe, O_NONBLOCK, FD_CLOEXEC
 *   fd 42   write end of the same pipe, blocking; the pipe's buffer size
 *           raised to PIPE_SIZE; PIPE_DATA bytes in it, written in several
 *           chunks
 *   fd 13   read end of a FIFO made with mkfifo() in a temporary directory
 *           under /tmp, opened O_RDONLY|O_NONBLOCK
 *   fd 99   write end of the same FIFO, opened O_WRONLY; FIFO_DATA bytes
 *           in it
 * Nothing else below TEST_OUT_FD but 0, 1 and 2.
 *
 * Checks after SIGTERM:
 *   - the set of open descriptors is the same, by number;
 *   - each of 7, 42, 13, 99: a FIFO, F_GETFL and F_GETFD as before, and
 *     /proc/self/fd/N links to the FIFO's path / to some pipe:[N] (a
 *     restored pipe is a new pipe, with a new inode number);
 *   - 7 and 42 are one pipe (same inode), 13 and 99 are the FIFO at its
 *     path; the pipe's buffer size is unchanged;
 *   - each holds exactly the bytes written, in order, and nothing more
 *     (the read ends are non-blocking: EAGAIN when empty);
 *   - a byte written to each write end comes out of its read end.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stasis_test.h"

#define PIPE_R		7
#define PIPE_W		42
#define FIFO_R		13
#define FIFO_W		99
#define PIPE_SIZE	(128 * 1024)
#define PIPE_DATA	70000		/* more than the default 64 KiB */
#define PIPE_CHUNK	4093
#define FIFO_DATA	3000
#define MAX_FDS		64

struct fd_state {
	int fd;
	const char *what;
	bool is_pipe;	/* else a FIFO */
	int fl, fd_flags;
	char link[PATH_MAX];
	struct stat st;
};

static char tmpdir[] = "/tmp/stasis-pipes_fifos.XXXXXX";
static char fifo_path[sizeof(tmpdir) + 8];

static uint8_t pattern(uint64_t seed, size_t i)
{
	return (uint8_t)((i * 151 + (i >> 8) * 7 + (i >> 16) * 13) ^ seed);
}

/* Move @fd to @target; -1 on error. */
static int move_fd(int fd, int target)
{
	if (fd == target)
		return 0;
	if (dup3(fd, target, 0) != target) {
		fail("dup3(%d, %d): %m", fd, target);
		return -1;
	}
	close(fd);
	return 0;
}

/* The open descriptors below TEST_OUT_FD, in order; their number. */
static int list_fds(int *fds, int max)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0, fd, dfd;

	if (!d)
		return -1;
	dfd = dirfd(d);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		fd = (int)strtol(de->d_name, NULL, 10);
		if (fd == dfd || fd >= TEST_OUT_FD)
			continue;
		if (n < max)
			fds[n] = fd;
		n++;
	}
	closedir(d);
	if (n > max)
		return -1;
	/* readdir order is not promised: sort. */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && fds[j - 1] > fds[j]; j--) {
			int t = fds[j];

			fds[j] = fds[j - 1];
			fds[j - 1] = t;
		}
	return n;
}

static int record(struct fd_state *s)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", s->fd);
	n = readlink(path, s->link, sizeof(s->link) - 1);
	s->fl = fcntl(s->fd, F_GETFL);
	s->fd_flags = fcntl(s->fd, F_GETFD);
	if (n < 0 || s->fl < 0 || s->fd_flags < 0 || fstat(s->fd, &s->st)) {
		fail("fd %d (%s): %m", s->fd, s->what);
		return -1;
	}
	s->link[n] = '\0';
	return 0;
}

static int check_fd(const struct fd_state *want)
{
	struct fd_state now = *want;
	int bad = 0;

	if (record(&now))
		return -1;
	if (!S_ISFIFO(now.st.st_mode)) {
		fail("fd %d (%s): mode %#o, not a FIFO", now.fd, now.what,
		     now.st.st_mode);
		bad = 1;
	}
	if (now.fl != want->fl) {
		fail("fd %d (%s): F_GETFL %#o, was %#o", now.fd, now.what,
		     now.fl, want->fl);
		bad = 1;
	}
	if (now.fd_flags != want->fd_flags) {
		fail("fd %d (%s): F_GETFD %#x, was %#x", now.fd, now.what,
		     now.fd_flags, want->fd_flags);
		bad = 1;
	}
	/*
	 * A FIFO is its inode in the file system; a pipe is a new one after
	 * a restore, with a new number in pipe:[N]: check_same() sees that
	 * both ends share it.
	 */
	if (want->is_pipe ? strncmp(now.link, "pipe:[", 6) :
	    strcmp(now.link, want->link)) {
		fail("fd %d (%s): links to '%s', was '%s'", now.fd, now.what,
		     now.link, want->link);
		bad = 1;
	}
	return bad ? -1 : 0;
}

/* @a and @b are the same FIFO (by inode). */
static int check_same(const struct fd_state *a, const struct fd_state *b)
{
	struct stat sa, sb;

	if (fstat(a->fd, &sa) || fstat(b->fd, &sb)) {
		fail("fstat: %m");
		return -1;
	}
	if (sa.st_dev != sb.st_dev || sa.st_ino != sb.st_ino) {
		fail("fds %d and %d (%s, %s) are not the same FIFO: inodes %lu and %lu",
		     a->fd, b->fd, a->what, b->what, (unsigned long)sa.st_ino,
		     (unsigned long)sb.st_ino);
		return -1;
	}
	return 0;
}

/* Read all of non-blocking @fd: exactly @len bytes of pattern @seed. */
static int check_data(int fd, const char *what, size_t len, uint64_t seed)
{
	size_t room = len + 4096, got = 0;
	uint8_t *buf = malloc(room);
	ssize_t n;
	int ret = -1;

	if (!buf)
		return -1;
	while (got < room) {
		n = read(fd, buf + got, room - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			fail("%s: read from fd %d: %m", what, fd);
			goto out;
		}
		if (n == 0) {
			fail("%s: end of file on fd %d after %zu bytes", what,
			     fd, got);
			goto out;
		}
		got += (size_t)n;
	}
	if (got != len) {
		fail("%s: %zu bytes in it, want %zu", what, got, len);
		goto out;
	}
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != pattern(seed, i)) {
			fail("%s: byte %zu is %#x, want %#x", what, i, buf[i],
			     pattern(seed, i));
			goto out;
		}
	}
	ret = 0;
out:
	free(buf);
	return ret;
}

static int check_connected(int w, int r, const char *what)
{
	uint8_t c = 0xa5, back = 0;

	if (write(w, &c, 1) != 1) {
		fail("%s: write to fd %d: %m", what, w);
		return -1;
	}
	if (read(r, &back, 1) != 1 || back != c) {
		fail("%s: byte written to fd %d did not come out of fd %d",
		     what, w, r);
		return -1;
	}
	return 0;
}

static int write_pattern(int fd, size_t len, size_t chunk, uint64_t seed)
{
	uint8_t buf[PIPE_CHUNK];

	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;

		for (size_t i = 0; i < n; i++)
			buf[i] = pattern(seed, off + i);
		if (write(fd, buf, n) != (ssize_t)n) {
			fail("write %zu bytes to fd %d: %m", n, fd);
			return -1;
		}
	}
	return 0;
}

static int setup(void)
{
	int p[2], r, w;

	if (pipe2(p, O_NONBLOCK | O_CLOEXEC)) {
		fail("pipe2: %m");
		return -1;
	}
	/* dup3 clears FD_CLOEXEC: set it again on the read end only. */
	if (move_fd(p[0], PIPE_R) || move_fd(p[1], PIPE_W))
		return -1;
	fcntl(PIPE_R, F_SETFD, FD_CLOEXEC);
	fcntl(PIPE_W, F_SETFL, 0);
	if (fcntl(PIPE_W, F_SETPIPE_SZ, PIPE_SIZE) < PIPE_SIZE) {
		fail("F_SETPIPE_SZ %d: %m", PIPE_SIZE);
		return -1;
	}
	if (write_pattern(PIPE_W, PIPE_DATA, PIPE_CHUNK, 0x11))
		return -1;

	if (!mkdtemp(tmpdir)) {
		fail("mkdtemp: %m");
		return -1;
	}
	snprintf(fifo_path, sizeof(fifo_path), "%s/fifo", tmpdir);
	if (mkfifo(fifo_path, 0600)) {
		fail("mkfifo %s: %m", fifo_path);
		return -1;
	}
	r = open(fifo_path, O_RDONLY | O_NONBLOCK);
	if (r < 0) {
		fail("open %s for reading: %m", fifo_path);
		return -1;
	}
	w = open(fifo_path, O_WRONLY);
	if (w < 0) {
		fail("open %s for writing: %m", fifo_path);
		return -1;
	}
	if (move_fd(r, FIFO_R) || move_fd(w, FIFO_W))
		return -1;
	return write_pattern(FIFO_W, FIFO_DATA, 1000, 0x22);
}

static void cleanup(void)
{
	if (fifo_path[0])
		unlink(fifo_path);
	rmdir(tmpdir);
}

int main(int argc, char **argv)
{
	struct fd_state fds[] = {
		{ .fd = PIPE_R, .what = "pipe read end", .is_pipe = true },
		{ .fd = PIPE_W, .what = "pipe write end", .is_pipe = true },
		{ .fd = FIFO_R, .what = "FIFO read end" },
		{ .fd = FIFO_W, .what = "FIFO write end" },
	};
	int fds_was[MAX_FDS], fds_now[MAX_FDS], nr_was, nr_now;
	int pipe_size, sz, bad = 0;
	struct stat st;

	test_init(argc, argv);
	if (setup())
		goto out;
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (record(&fds[i]))
			goto out;
	pipe_size = fcntl(PIPE_R, F_GETPIPE_SZ);
	nr_was = list_fds(fds_was, MAX_FDS);
	if (nr_was < 0) {
		fail("cannot list /proc/self/fd");
		goto out;
	}

	test_ready();
	test_waitsig();

	nr_now = list_fds(fds_now, MAX_FDS);
	if (nr_now != nr_was ||
	    memcmp(fds_now, fds_was, (size_t)nr_now * sizeof(int))) {
		char was[256] = "", now[256] = "";
		size_t wl = 0, nl = 0;

		for (int i = 0; i < nr_was && wl < sizeof(was); i++)
			wl += (size_t)snprintf(was + wl, sizeof(was) - wl, " %d", fds_was[i]);
		for (int i = 0; i < nr_now && nl < sizeof(now); i++)
			nl += (size_t)snprintf(now + nl, sizeof(now) - nl, " %d", fds_now[i]);
		fail("open descriptors below %d:%s, were:%s", TEST_OUT_FD, now, was);
		bad = 1;
	}
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (check_fd(&fds[i]))
			bad = 1;
	if (bad)
		goto out;	/* reading from the wrong thing tells nothing */

	if (check_same(&fds[0], &fds[1]) || check_same(&fds[2], &fds[3]))
		bad = 1;
	if (stat(fifo_path, &st) || st.st_ino != fds[2].st.st_ino ||
	    st.st_dev != fds[2].st.st_dev) {
		fail("fd %d is not the FIFO at %s", FIFO_R, fifo_path);
		bad = 1;
	}
	sz = fcntl(PIPE_R, F_GETPIPE_SZ);
	if (sz != pipe_size) {
		fail("pipe buffer size %d, was %d", sz, pipe_size);
		bad = 1;
	}
	if (check_data(PIPE_R, "pipe", PIPE_DATA, 0x11) ||
	    check_connected(PIPE_W, PIPE_R, "pipe"))
		bad = 1;
	if (check_data(FIFO_R, "FIFO", FIFO_DATA, 0x22) ||
	    check_connected(FIFO_W, FIFO_R, "FIFO"))
		bad = 1;
	if (!bad)
		pass();
out:
	cleanup();
	return test_result();
}
