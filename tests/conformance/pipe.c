/*
 * pipe.c - a pipe with unread data in it, read end non-blocking.
 *
 * Afterwards both ends must be open on the same descriptors, be the two
 * ends of one pipe with their access modes and O_NONBLOCK, and the pipe
 * must hold exactly the bytes written, in order, and nothing more.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stasis_test.h"

#define DATA_LEN	1000

/* Not periodic in 256, so a shifted or repeated chunk shows. */
static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 151 + (i >> 8) * 7 + 3);
}

/* Both ends open, of one pipe, with the flags they had. */
static int check_ends(const int fds[2], const int flags[2])
{
	struct stat st[2];
	int i, fl, bad = 0;

	for (i = 0; i < 2; i++) {
		if (fstat(fds[i], &st[i])) {
			fail("fd %d: %m", fds[i]);
			return -1;
		}
		if (!S_ISFIFO(st[i].st_mode)) {
			fail("fd %d: mode %#o, not a pipe", fds[i], st[i].st_mode);
			bad = 1;
		}
		fl = fcntl(fds[i], F_GETFL);
		if (fl != flags[i]) {
			fail("fd %d: flags %#o, were %#o", fds[i], fl, flags[i]);
			bad = 1;
		}
	}
	if (st[0].st_dev != st[1].st_dev || st[0].st_ino != st[1].st_ino) {
		fail("fds %d and %d are not the same pipe", fds[0], fds[1]);
		bad = 1;
	}
	return bad ? -1 : 0;
}

/* Read what the pipe holds; exactly DATA_LEN bytes of pattern, then EAGAIN. */
static int check_data(int fd)
{
	uint8_t buf[2 * DATA_LEN];
	size_t got = 0;
	ssize_t n;

	while (got < sizeof(buf)) {
		n = read(fd, buf + got, sizeof(buf) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			fail("read: %m");
			return -1;
		}
		if (n == 0) {
			fail("read: end of file after %zu bytes", got);
			return -1;
		}
		got += (size_t)n;
	}
	if (got != DATA_LEN) {
		fail("pipe held %zu bytes, want %d", got, DATA_LEN);
		return -1;
	}
	for (size_t i = 0; i < got; i++) {
		if (buf[i] != pattern(i)) {
			fail("byte %zu: %#x, want %#x", i, buf[i], pattern(i));
			return -1;
		}
	}
	n = read(fd, buf, 1);
	if (n >= 0 || errno != EAGAIN) {
		fail("read from empty pipe: %zd (%m), want EAGAIN", n);
		return -1;
	}
	return 0;
}

/* The two ends still talk to each other. */
static int check_connected(const int fds[2])
{
	uint8_t c = 0x5a, back = 0;

	if (write(fds[1], &c, 1) != 1) {
		fail("write to fd %d: %m", fds[1]);
		return -1;
	}
	if (read(fds[0], &back, 1) != 1 || back != c) {
		fail("byte written to fd %d did not come out of fd %d",
		     fds[1], fds[0]);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	uint8_t data[DATA_LEN];
	int fds[2], flags[2];
	int bad = 0;

	test_init(argc, argv);

	for (size_t i = 0; i < DATA_LEN; i++)
		data[i] = pattern(i);
	if (pipe(fds)) {
		fail("pipe: %m");
		return test_result();
	}
	if (write(fds[1], data, DATA_LEN) != DATA_LEN) {
		fail("write %d bytes: %m", DATA_LEN);
		return test_result();
	}
	if (fcntl(fds[0], F_SETFL, O_NONBLOCK)) {
		fail("F_SETFL O_NONBLOCK: %m");
		return test_result();
	}
	flags[0] = fcntl(fds[0], F_GETFL);
	flags[1] = fcntl(fds[1], F_GETFL);

	test_ready();
	test_waitsig();

	/* The same numbers must still name the two ends of one pipe. */
	if (check_ends(fds, flags))
		bad = 1;
	else if (check_data(fds[0]) || check_connected(fds))
		bad = 1;
	if (!bad)
		pass();
	return test_result();
}
