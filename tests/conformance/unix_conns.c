/*
 * unix_conns.c - unix sockets in the middle of their connections:
 *
 *   listener  a stream socket bound to a relative path, "conn.sock", in
 *             the working directory
 *   accepted  a client connected to it and accepted, with "ping" waiting
 *             for the server side and "pong" for the client
 *   pending   a client connected to it, not accepted yet
 *   orphan    one end of a stream pair whose other end wrote "bye" and
 *             closed: it reads "bye", then the end
 *   gone      a datagram socket bound to "gone.sock", whose file was then
 *             removed, with a message waiting from a socket connected to it
 *
 * Afterwards each must be as it was and still work: the listener accepts
 * the pending client, the accepted pair carries bytes both ways, the
 * removed socket's file is still gone and its connected socket reaches it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "stasis_test.h"

static int bad;

#define check(cond, ...)	do { if (!(cond)) { bad++; fail(__VA_ARGS__); } } while (0)

static socklen_t addr_of(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	snprintf(sa->sun_path, sizeof(sa->sun_path), "%s", path);
	return sizeof(*sa);
}

static int sock(int type)
{
	return socket(AF_UNIX, type, 0);
}

static void check_read(int fd, const char *want, const char *what)
{
	char buf[16] = "";
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	check(n == (ssize_t)strlen(want) && !strcmp(buf, want), "%s: read \"%s\" (%zd), not \"%s\"",
	      what, buf, n, want);
}

int main(int argc, char **argv)
{
	int l, a, s, p, orph[2], d, e, acc;
	struct sockaddr_un sa, got;
	socklen_t len, glen = sizeof(got);
	char c = 0;

	test_init(argc, argv);
	unlink("conn.sock");
	unlink("gone.sock");
	l = sock(SOCK_STREAM);
	a = sock(SOCK_STREAM);
	p = sock(SOCK_STREAM);
	len = addr_of(&sa, "conn.sock");
	if (bind(l, (struct sockaddr *)&sa, len) || listen(l, 4) ||
	    connect(a, (struct sockaddr *)&sa, len) || (s = accept(l, NULL, NULL)) < 0 ||
	    connect(p, (struct sockaddr *)&sa, len) || write(a, "ping", 4) != 4 ||
	    write(s, "pong", 4) != 4) {
		fail("listener and its clients: %m");
		return test_result();
	}
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, orph) || write(orph[1], "bye", 3) != 3 ||
	    close(orph[1])) {
		fail("orphan: %m");
		return test_result();
	}
	d = sock(SOCK_DGRAM);
	e = sock(SOCK_DGRAM);
	len = addr_of(&sa, "gone.sock");
	if (bind(d, (struct sockaddr *)&sa, len) || connect(e, (struct sockaddr *)&sa, len) ||
	    send(e, "msg", 3, 0) != 3 || unlink("gone.sock")) {
		fail("removed socket: %m");
		return test_result();
	}

	test_ready();
	test_waitsig();

	check(!getsockname(l, (struct sockaddr *)&got, &glen) && !strcmp(got.sun_path, "conn.sock"),
	      "listener: its name is \"%s\"", got.sun_path);
	check_read(s, "ping", "accepted, server side");
	check_read(a, "pong", "accepted, client side");
	check(write(a, "more", 4) == 4, "accepted: write: %m");
	check_read(s, "more", "accepted after the restore");
	acc = accept(l, NULL, NULL);
	check(acc >= 0 && write(p, "x", 1) == 1 && read(acc, &c, 1) == 1 && c == 'x',
	      "pending: not accepted, or carries nothing: %m");
	check_read(orph[0], "bye", "orphan");
	check(read(orph[0], &c, 1) == 0, "orphan: no end after its data");
	check(access("gone.sock", F_OK) && errno == ENOENT, "removed socket: its file is back");
	check_read(d, "msg", "removed socket");
	check(send(e, "again", 5, 0) == 5, "removed socket: the connected one cannot send: %m");
	check_read(d, "again", "removed socket after the restore");
	unlink("conn.sock");
	if (!bad)
		pass();
	return test_result();
}
