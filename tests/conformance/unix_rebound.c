/*
 * unix_rebound.c - unix sockets whose name was taken again, and an epoll
 * that only a socket's queue holds:
 *
 *   first, second  two datagram sockets bound one after the other to
 *                  "sub/name" (the first's file removed before the second
 *                  bound), each with a socket connected to it; "sub" is
 *                  removed at the end, and a third socket, "live", holds
 *                  a name that still exists in the working directory
 *   listener       a stream socket bound to "sub2/st", a client accepted
 *                  through it, the file and "sub2" removed
 *   self           a datagram socket bound to "self" and connected to
 *                  itself, a message to itself queued
 *   in flight      an epoll watching one end of a datagram pair, sent
 *                  twice through the other end and closed: only the queue
 *                  holds it
 *
 * Afterwards each connected socket reaches its own server, the removed
 * names and directories are still gone, "live" still exists, and the
 * epoll received back still reports its socket readable.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

/* A datagram socket bound to @path and one connected to it, in @s. */
static int bound_pair(const char *path, int s[2])
{
	struct sockaddr_un sa;
	socklen_t len = addr_of(&sa, path);

	s[0] = socket(AF_UNIX, SOCK_DGRAM, 0);
	s[1] = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (s[0] < 0 || s[1] < 0 || bind(s[0], (struct sockaddr *)&sa, len) ||
	    connect(s[1], (struct sockaddr *)&sa, len))
		return -1;
	return 0;
}

static int send_fd(int via, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { "E", 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(via, &mh, 0) == 1 ? 0 : -1;
}

static int recv_fd(int via)
{
	char cbuf[CMSG_SPACE(sizeof(int))], c = 0;
	struct iovec iov = { &c, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *ch;
	int fd = -1;

	if (recvmsg(via, &mh, MSG_DONTWAIT) != 1 || c != 'E')
		return -1;
	ch = CMSG_FIRSTHDR(&mh);
	if (ch && ch->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(ch), sizeof(int));
	return fd;
}

/* @from reaches @to: a datagram sent by one arrives at the other. */
static void check_reach(int from, int to, const char *what)
{
	char buf[16] = "";

	check(send(from, what, strlen(what), 0) == (ssize_t)strlen(what) &&
	      recv(to, buf, sizeof(buf) - 1, MSG_DONTWAIT) == (ssize_t)strlen(what) &&
	      !strcmp(buf, what), "%s: does not reach its server (\"%s\"): %m", what, buf);
}

static void check_gone(const char *path)
{
	struct stat st;

	check(lstat(path, &st) && errno == ENOENT, "%s exists again", path);
}

int main(int argc, char **argv)
{
	int first[2], second[2], live[2], l, cl, acc, pair[2], ep, got, self;
	char buf[8] = "";
	struct epoll_event ev = { .events = EPOLLIN };
	struct sockaddr_un sa;
	socklen_t len;

	test_init(argc, argv);
	unlink("sub/name");
	rmdir("sub");
	unlink("sub2/st");
	rmdir("sub2");
	unlink("live");
	unlink("self");
	len = addr_of(&sa, "self");
	self = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (self < 0 || bind(self, (struct sockaddr *)&sa, len) ||
	    connect(self, (struct sockaddr *)&sa, len) || send(self, "me", 2, 0) != 2) {
		fail("self: %m");
		return test_result();
	}
	if (mkdir("sub", 0755) || bound_pair("sub/name", first) || unlink("sub/name") ||
	    bound_pair("sub/name", second) || unlink("sub/name") || rmdir("sub") ||
	    bound_pair("live", live)) {
		fail("datagram sockets: %m");
		return test_result();
	}
	len = addr_of(&sa, "sub2/st");
	l = socket(AF_UNIX, SOCK_STREAM, 0);
	cl = socket(AF_UNIX, SOCK_STREAM, 0);
	if (mkdir("sub2", 0755) || l < 0 || cl < 0 || bind(l, (struct sockaddr *)&sa, len) ||
	    listen(l, 4) || connect(cl, (struct sockaddr *)&sa, len) ||
	    (acc = accept(l, NULL, NULL)) < 0 || unlink("sub2/st") || rmdir("sub2")) {
		fail("stream sockets: %m");
		return test_result();
	}
	ep = epoll_create1(0);
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, pair) || ep < 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, pair[1], &ev) || send_fd(pair[0], ep) ||
	    send_fd(pair[0], ep) || close(ep)) {
		fail("epoll in flight: %m");
		return test_result();
	}

	test_ready();
	test_waitsig();

	check_reach(first[1], first[0], "first");
	check_reach(second[1], second[0], "second");
	check_reach(live[1], live[0], "live");
	check_gone("sub");
	check_gone("sub2");
	check(!access("live", F_OK), "live: its file is gone");
	check(write(cl, "st", 2) == 2 && read(acc, (char[4]){ 0 }, 4) == 2,
	      "listener: the accepted pair carries nothing: %m");
	check(recv(self, buf, sizeof(buf), MSG_DONTWAIT) == 2 && !memcmp(buf, "me", 2),
	      "self: its message is not there: %m");
	check_reach(self, self, "self");
	ep = recv_fd(pair[1]);
	check(ep >= 0, "epoll in flight: not received back: %m");
	got = ep >= 0 ? epoll_wait(ep, &ev, 1, 0) : -1;
	check(got == 1, "epoll in flight: %d events, not 1 (its registration is lost)", got);
	unlink("live");
	unlink("self");
	if (!bad)
		pass();
	return test_result();
}
