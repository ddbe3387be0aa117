/*
 * unix_peer_order.c - datagram sockets connected to a server whose fd
 * comes after theirs: a dump that visits fds in order meets each client
 * before its peer (CRIU 4.2 restores a client only when its peer's entry
 * was read first).
 *
 * Sets up, before READY:
 *   fd 5, fd 6  two datagram sockets, without names, connected to fd 7
 *   fd 7        a datagram socket bound to an abstract name; fd 5's
 *               message "one" waits in its queue
 *
 * Checks after SIGTERM:
 *   - fd 5 and fd 6 are still connected to fd 7's name;
 *   - fd 7 receives "one" first, then "two" sent from fd 5 and "three"
 *     from fd 6, and nothing else.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "stasis_test.h"

#define CLIENT_A	5
#define CLIENT_B	6
#define SERVER		7

static struct sockaddr_un addr;
static socklen_t addr_len;

static int place(int fd, int want)
{
	if (fd < 0 || (fd != want && (dup2(fd, want) != want || close(fd))))
		return -1;
	return 0;
}

static int setup(void)
{
	addr.sun_family = AF_UNIX;
	/* Abstract: nothing to clean up, and unique to this run. */
	snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1, "stasis-peer-order-%d", getpid());
	addr_len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(addr.sun_path + 1);
	if (place(socket(AF_UNIX, SOCK_DGRAM, 0), CLIENT_A) ||
	    place(socket(AF_UNIX, SOCK_DGRAM, 0), CLIENT_B) ||
	    place(socket(AF_UNIX, SOCK_DGRAM, 0), SERVER))
		return -1;
	if (bind(SERVER, (struct sockaddr *)&addr, addr_len) ||
	    connect(CLIENT_A, (struct sockaddr *)&addr, addr_len) ||
	    connect(CLIENT_B, (struct sockaddr *)&addr, addr_len))
		return -1;
	return send(CLIENT_A, "one", 3, 0) == 3 ? 0 : -1;
}

static void check_peer(int fd)
{
	struct sockaddr_un a = { 0 };
	socklen_t len = sizeof(a);

	if (getpeername(fd, (struct sockaddr *)&a, &len))
		fail("fd %d: getpeername: %m", fd);
	else if (len != addr_len || memcmp(&a, &addr, len))
		fail("fd %d: connected to another name (%u bytes)", fd, (unsigned int)len);
}

static void expect(const char *want)
{
	char buf[16];
	ssize_t n = recv(SERVER, buf, sizeof(buf), MSG_DONTWAIT);

	if (n < 0)
		fail("server: no \"%s\": %m", want);
	else if ((size_t)n != strlen(want) || memcmp(buf, want, n))
		fail("server: \"%.*s\" instead of \"%s\"", (int)n, buf, want);
}

int main(int argc, char **argv)
{
	char buf[16];

	test_init(argc, argv);
	if (setup()) {
		fail("setup: %m");
		return test_result();
	}
	test_ready();
	test_waitsig();

	check_peer(CLIENT_A);
	check_peer(CLIENT_B);
	expect("one");
	if (send(CLIENT_A, "two", 3, 0) != 3 || send(CLIENT_B, "three", 5, 0) != 5)
		fail("send after the restore: %m");
	expect("two");
	expect("three");
	if (recv(SERVER, buf, sizeof(buf), MSG_DONTWAIT) >= 0 || errno != EAGAIN)
		fail("server: more in the queue than was sent");
	pass();
	return test_result();
}
