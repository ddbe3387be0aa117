/*
 * tcp_established.c - TCP connections kept with --tcp-established:
 *
 *   listener    TCP on 127.0.0.1
 *   pair        a connection accepted from it, both ends in the test:
 *               the server sent "hello" not yet read; the client wrote
 *               a numbered stream until its queue was full, the server
 *               reading none: bytes sent and unread, bytes never sent
 *   half pair   another, its client shut down for writing (FIN_WAIT2
 *               and CLOSE_WAIT), "bye" queued before the FIN
 *
 * After the restore (or without one) every byte arrives once and in
 * order, the half pair ends after "bye", the connections stay usable
 * both ways, and the listener takes a new one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stasis_test.h"

static int bad;

#define check(cond, ...)	do { if (!(cond)) { bad++; fail(__VA_ARGS__); } } while (0)

static struct sockaddr_in addr = { .sin_family = AF_INET };

static int state(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	return getsockopt(fd, SOL_TCP, TCP_INFO, &ti, &len) ? -1 : ti.tcpi_state;
}

static int connect_pair(int l, int *c, int *s)
{
	*c = socket(AF_INET, SOCK_STREAM, 0);
	if (*c < 0 || connect(*c, (struct sockaddr *)&addr, sizeof(addr)))
		return -1;
	*s = accept(l, NULL, NULL);
	return *s < 0 ? -1 : 0;
}

static unsigned char byte_at(size_t i)
{
	return (unsigned char)(i * 7 + i / 251);
}

/* Fill the client's queue (and the server's receive buffer): bytes written. */
static size_t fill(int c)
{
	unsigned char buf[4096];
	size_t total = 0;
	ssize_t n;

	fcntl(c, F_SETFL, O_NONBLOCK);
	for (;;) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = byte_at(total + i);
		n = write(c, buf, sizeof(buf));
		if (n <= 0)
			break;
		total += n;
	}
	fcntl(c, F_SETFL, 0);
	return total;
}

/* Read exactly @total numbered bytes from @s, checking each. */
static void drain(int s, size_t total)
{
	unsigned char buf[4096];
	size_t got = 0;
	ssize_t n;

	while (got < total) {
		struct pollfd p = { .fd = s, .events = POLLIN };

		if (poll(&p, 1, 10000) != 1) {
			fail("the stream stops after %zu of %zu bytes", got, total);
			bad++;
			return;
		}
		n = read(s, buf, total - got < sizeof(buf) ? total - got : sizeof(buf));
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != byte_at(got + i)) {
				fail("byte %zu of the stream is wrong", got + i);
				bad++;
				return;
			}
		got += n;
	}
	check(got == total, "the stream ends after %zu of %zu bytes: %m", got, total);
}

static void check_pair(int c, int s, size_t total)
{
	char buf[8] = "";

	check(state(c) == TCP_ESTABLISHED && state(s) == TCP_ESTABLISHED,
	      "the pair is in states %d and %d", state(c), state(s));
	check(read(c, buf, 5) == 5 && !memcmp(buf, "hello", 5), "the server's bytes are lost");
	drain(s, total);
	check(write(s, "again", 5) == 5 && read(c, buf, 5) == 5 && !memcmp(buf, "again", 5),
	      "the pair does not carry new bytes: %m");
}

static void check_half(int hc, int hs)
{
	char buf[8] = "";

	check(state(hc) == TCP_FIN_WAIT2 && state(hs) == TCP_CLOSE_WAIT,
	      "the half pair is in states %d and %d", state(hc), state(hs));
	check(read(hs, buf, 3) == 3 && !memcmp(buf, "bye", 3), "the half pair's bytes are lost");
	check(read(hs, buf, 1) == 0, "the half pair does not end");
	check(write(hs, "back", 4) == 4 && read(hc, buf, 4) == 4 && !memcmp(buf, "back", 4),
	      "the half pair does not carry bytes back: %m");
}

int main(int argc, char **argv)
{
	socklen_t len = sizeof(addr);
	int l, c, s, hc, hs, nc, ns;
	char buf[4] = "";
	size_t total;

	test_init(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&addr, len) || listen(l, 4) ||
	    getsockname(l, (struct sockaddr *)&addr, &len) || connect_pair(l, &c, &s) ||
	    write(s, "hello", 5) != 5 || connect_pair(l, &hc, &hs) || write(hc, "bye", 3) != 3 ||
	    shutdown(hc, SHUT_WR)) {
		fail("setting the connections up: %m");
		return test_result();
	}
	total = fill(c);
	for (int i = 0; i < 200 && state(hc) != TCP_FIN_WAIT2; i++)
		usleep(10000);
	test_msg("queued %zu bytes", total);
	test_ready();
	test_waitsig();

	check_pair(c, s, total);
	check_half(hc, hs);
	check(!connect_pair(l, &nc, &ns) && write(nc, "ping", 4) == 4 && read(ns, buf, 4) == 4,
	      "the listener does not take a new connection: %m");
	if (!bad)
		pass();
	return test_result();
}
