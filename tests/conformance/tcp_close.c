/*
 * tcp_close.c - TCP connections through --tcp-close:
 *
 *   listener    TCP on 127.0.0.1, backlog 4
 *   open pair   a connection accepted from it, both ends in the test,
 *               bytes sent one way and not yet read
 *   half pair   another one, its client shut down for writing (the
 *               client in FIN_WAIT2, the server in CLOSE_WAIT)
 *
 * Dumped and restored with --tcp-close, all four ends come back closed:
 * TCP_CLOSE, reads see the end, writes fail with EPIPE.  Without a dump
 * they are as they were ("# kept").  Either way the listener accepts a
 * new connection that carries bytes both ways.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

/* A client of the listener and its accepted end; -1 on failure. */
static int connect_pair(int l, int *c, int *s)
{
	*c = socket(AF_INET, SOCK_STREAM, 0);
	if (*c < 0 || connect(*c, (struct sockaddr *)&addr, sizeof(addr)))
		return -1;
	*s = accept(l, NULL, NULL);
	return *s < 0 ? -1 : 0;
}

static void check_closed(int fd, const char *name)
{
	char c;

	check(state(fd) == TCP_CLOSE, "%s: in TCP state %d, not closed", name, state(fd));
	check(recv(fd, &c, 1, MSG_DONTWAIT) == 0, "%s: a read does not see the end: %m", name);
	check(send(fd, "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno == EPIPE,
	      "%s: a write does not fail with EPIPE: %m", name);
}

/* Without a dump: the connections as they were left. */
static void check_kept(int c, int s, int hc, int hs)
{
	char buf[8] = "";

	check(state(c) == TCP_ESTABLISHED && state(s) == TCP_ESTABLISHED &&
	      state(hc) == TCP_FIN_WAIT2 && state(hs) == TCP_CLOSE_WAIT,
	      "the connections are not in the states they were left in");
	check(read(s, buf, 6) == 6 && !memcmp(buf, "unread", 6), "the bytes sent are lost");
	check(read(hs, buf, 1) == 0, "the half-closed connection does not end");
}

static void check_new(int l)
{
	char buf[4] = "";
	int c, s;

	check(!connect_pair(l, &c, &s) && write(c, "ping", 4) == 4 && read(s, buf, 4) == 4 &&
	      write(s, "pong", 4) == 4 && read(c, buf, 4) == 4 && !memcmp(buf, "pong", 4),
	      "the listener: a new connection does not carry bytes: %m");
}

int main(int argc, char **argv)
{
	socklen_t len = sizeof(addr);
	int l, c, s, hc, hs;

	test_init(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&addr, len) || listen(l, 4) ||
	    getsockname(l, (struct sockaddr *)&addr, &len) || connect_pair(l, &c, &s) ||
	    write(c, "unread", 6) != 6 || connect_pair(l, &hc, &hs) || shutdown(hc, SHUT_WR)) {
		fail("setting the connections up: %m");
		return test_result();
	}
	for (int i = 0; i < 200 && state(hc) != TCP_FIN_WAIT2; i++)
		usleep(10000);
	test_ready();
	test_waitsig();

	if (state(s) == TCP_CLOSE) {
		test_msg("closed");
		check_closed(c, "client");
		check_closed(s, "server");
		check_closed(hc, "half-closed client");
		check_closed(hs, "half-closed server");
	} else {
		test_msg("kept");
		check_kept(c, s, hc, hs);
	}
	check_new(l);
	if (!bad)
		pass();
	return test_result();
}
