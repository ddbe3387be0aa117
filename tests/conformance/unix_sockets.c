/*
 * unix_sockets.c - unix sockets of every type with data waiting in them:
 *
 *   stream      a socketpair: 5000 bytes queued one way, 5 the other; one
 *               end non-blocking, one with SO_PASSCRED and a set SO_RCVBUF
 *   seqpacket   a socketpair: three messages queued, then SHUT_WR on the
 *               sending end: the reader gets them whole, then the end
 *   dgram pair  a socketpair: three datagrams queued, one of them empty
 *   bound       a datagram socket bound to a path, two messages queued
 *               from a socket since closed; another datagram socket
 *               connected to it
 *   listener    a stream socket listening on an abstract name, backlog 7
 *   in flight   a stream socketpair with the read end of a pipe in flight
 *               in it (SCM_RIGHTS), closed by its sender; the pipe holds
 *               "piped"
 *
 * Afterwards every queue must hold what was left in it, with its message
 * boundaries, the names and options must be the same, and each socket
 * must still work: the pairs carry bytes both ways, the connected socket
 * reaches the bound one, the listener accepts a new connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "stasis_test.h"

#define BIG	5000
#define LISTEN_NAME	"stasis-test-listener"

static int bad;

#define check(cond, ...)	do { if (!(cond)) { bad++; fail(__VA_ARGS__); } } while (0)

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 37 + 11);
}

static socklen_t abstract_addr(struct sockaddr_un *sa, const char *name)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path + 1, name, strlen(name));
	return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name);
}

static socklen_t path_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	snprintf(sa->sun_path, sizeof(sa->sun_path), "%s", path);
	return sizeof(*sa);
}

static void check_stream(const int s[2], int rcvbuf)
{
	uint8_t buf[BIG + 16];
	socklen_t len = sizeof(int);
	ssize_t n, got = 0;
	int v = 0;

	check((fcntl(s[0], F_GETFL) & O_NONBLOCK) && !(fcntl(s[1], F_GETFL) & O_NONBLOCK),
	      "stream: O_NONBLOCK is not where it was");
	check(!getsockopt(s[1], SOL_SOCKET, SO_PASSCRED, &v, &len) && v == 1,
	      "stream: SO_PASSCRED is %d", v);
	len = sizeof(v);
	check(!getsockopt(s[1], SOL_SOCKET, SO_RCVBUF, &v, &len) && v == rcvbuf,
	      "stream: SO_RCVBUF is %d, not %d", v, rcvbuf);
	while (got < BIG && (n = read(s[0], buf + got, sizeof(buf) - got)) > 0)
		got += n;
	check(got == BIG, "stream: %zd bytes queued to end 0, not %d", got, BIG);
	for (ssize_t i = 0; i < got; i++)
		if (buf[i] != pattern(i)) {
			check(0, "stream: byte %zd differs", i);
			break;
		}
	n = read(s[0], buf, sizeof(buf));
	check(n < 0 && errno == EAGAIN, "stream: more than was queued (%zd)", n);
	n = read(s[1], buf, sizeof(buf));
	check(n == 5 && !memcmp(buf, "hello", 5), "stream: end 1 read %zd bytes", n);
	check(write(s[1], "back", 4) == 4 && read(s[0], buf, 4) == 4 && !memcmp(buf, "back", 4),
	      "stream: the pair carries no bytes after the restore");
}

static void check_seqpacket(const int s[2])
{
	char buf[64];
	ssize_t n;

	for (int i = 0; i < 3; i++) {
		n = recv(s[1], buf, sizeof(buf), MSG_DONTWAIT);
		check(n == i + 1 && buf[0] == 'a' + i, "seqpacket: message %d is %zd bytes", i, n);
	}
	n = recv(s[1], buf, sizeof(buf), MSG_DONTWAIT);
	check(n == 0, "seqpacket: no end after the messages (%zd)", n);
	n = send(s[0], "x", 1, MSG_NOSIGNAL);
	check(n < 0 && errno == EPIPE, "seqpacket: a send after SHUT_WR gave %zd", n);
}

static void check_dgram_pair(const int s[2])
{
	static const size_t want[] = { 3, 0, 7 };
	char buf[64];

	for (int i = 0; i < 3; i++) {
		ssize_t n = recv(s[0], buf, sizeof(buf), MSG_DONTWAIT);

		check(n == (ssize_t)want[i], "dgram pair: datagram %d is %zd bytes, not %zu", i, n,
		      want[i]);
	}
	check(send(s[0], "ok", 2, 0) == 2 && recv(s[1], buf, sizeof(buf), 0) == 2,
	      "dgram pair: no datagram goes through after the restore");
}

static void check_bound(int b, int c, const char *path)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	char buf[64];
	ssize_t n;

	check(!getsockname(b, (struct sockaddr *)&sa, &len) && !strcmp(sa.sun_path, path),
	      "bound: its name is %s, not %s", sa.sun_path, path);
	n = recv(b, buf, sizeof(buf), MSG_DONTWAIT);
	check(n == 4 && !memcmp(buf, "one", 4), "bound: first message is %zd bytes", n);
	n = recv(b, buf, sizeof(buf), MSG_DONTWAIT);
	check(n == 4 && !memcmp(buf, "two", 4), "bound: second message is %zd bytes", n);
	check(send(c, "three", 6, 0) == 6 && recv(b, buf, sizeof(buf), MSG_DONTWAIT) == 6 &&
	      !strcmp(buf, "three"), "bound: the connected socket does not reach it");
}

static int send_fd(int via, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { "F", 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(via, &mh, 0) == 1 ? 0 : -1;
}

static void check_in_flight(int via)
{
	char cbuf[CMSG_SPACE(sizeof(int))], buf[16] = "", f = 0;
	struct iovec iov = { &f, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	int fd = -1;

	if (recvmsg(via, &mh, MSG_DONTWAIT) != 1 || f != 'F') {
		check(0, "in flight: no message: %m");
		return;
	}
	c = CMSG_FIRSTHDR(&mh);
	if (c && c->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
	check(fd >= 0 && read(fd, buf, sizeof(buf)) == 5 && !memcmp(buf, "piped", 5),
	      "in flight: the pipe received reads \"%s\"", buf);
}

static void check_listener(int l)
{
	struct sockaddr_un sa, want;
	socklen_t len = sizeof(sa), wlen = abstract_addr(&want, LISTEN_NAME);
	int v = 0, c, a;

	check(!getsockname(l, (struct sockaddr *)&sa, &len) && len == wlen &&
	      !memcmp(&sa, &want, wlen), "listener: its name changed");
	len = sizeof(v);
	check(!getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) && v,
	      "listener: not listening");
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	check(c >= 0 && !connect(c, (struct sockaddr *)&want, wlen), "listener: connect: %m");
	a = accept(l, NULL, NULL);
	check(a >= 0 && write(c, "hi", 2) == 2 && read(a, &v, 2) == 2,
	      "listener: a new connection does not work: %m");
	close(a);
	close(c);
}

int main(int argc, char **argv)
{
	int st[2], sp[2], dg[2], fp[2], pp[2], b, c, l, tmp, rcvbuf = 4096, one = 1;
	struct sockaddr_un sa;
	socklen_t salen, len = sizeof(rcvbuf);
	uint8_t big[BIG];
	char path[64];

	test_init(argc, argv);
	snprintf(path, sizeof(path), "%s/stasis-test-%d.sock", getcwd((char[256]){ 0 }, 256) ?: ".",
		 getpid());
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, st) || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) ||
	    socketpair(AF_UNIX, SOCK_DGRAM, 0, dg)) {
		fail("socketpair: %m");
		return test_result();
	}
	for (size_t i = 0; i < BIG; i++)
		big[i] = pattern(i);
	fcntl(st[0], F_SETFL, O_NONBLOCK);
	setsockopt(st[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
	setsockopt(st[1], SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	getsockopt(st[1], SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len);
	if (write(st[1], big, BIG) != BIG || write(st[0], "hello", 5) != 5 ||
	    send(sp[0], "a", 1, 0) != 1 || send(sp[0], "bb", 2, 0) != 2 ||
	    send(sp[0], "ccc", 3, 0) != 3 || shutdown(sp[0], SHUT_WR) ||
	    send(dg[1], "abc", 3, 0) != 3 || send(dg[1], "", 0, 0) != 0 ||
	    send(dg[1], "1234567", 7, 0) != 7) {
		fail("filling the pairs: %m");
		return test_result();
	}

	unlink(path);
	b = socket(AF_UNIX, SOCK_DGRAM, 0);
	salen = path_addr(&sa, path);
	tmp = socket(AF_UNIX, SOCK_DGRAM, 0);
	c = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (b < 0 || bind(b, (struct sockaddr *)&sa, salen) ||
	    sendto(tmp, "one", 4, 0, (struct sockaddr *)&sa, salen) != 4 ||
	    sendto(tmp, "two", 4, 0, (struct sockaddr *)&sa, salen) != 4 ||
	    connect(c, (struct sockaddr *)&sa, salen)) {
		fail("bound socket: %m");
		return test_result();
	}
	close(tmp);
	l = socket(AF_UNIX, SOCK_STREAM, 0);
	salen = abstract_addr(&sa, LISTEN_NAME);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, salen) || listen(l, 7)) {
		fail("listener: %m");
		return test_result();
	}

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fp) || pipe(pp) || write(pp[1], "piped", 5) != 5 ||
	    send_fd(fp[1], pp[0])) {
		fail("in flight: %m");
		return test_result();
	}
	close(pp[0]);
	close(pp[1]);

	test_ready();
	test_waitsig();

	check_stream(st, rcvbuf);
	check_seqpacket(sp);
	check_dgram_pair(dg);
	check_bound(b, c, path);
	check_listener(l);
	check_in_flight(fp[0]);
	unlink(path);
	if (!bad)
		pass();
	return test_result();
}
