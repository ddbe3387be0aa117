/*
 * netlink_sockets.c - netlink sockets bound, subscribed and connected:
 *
 *   route     NETLINK_ROUTE, port id picked by the kernel (the pid), bound
 *             to RTMGRP_LINK, joined to group 36 (past the 32 that bind()
 *             can name) with NETLINK_ADD_MEMBERSHIP; O_NONBLOCK and a set
 *             SO_RCVBUF
 *   server    NETLINK_USERSOCK bound to a port id of its own and to group 5
 *   client    NETLINK_USERSOCK connected to the server (autobound)
 *   plain     NETLINK_USERSOCK, neither bound nor connected
 *
 * Afterwards the port ids, groups, flags and options must be the same;
 * route must still hear of links: a tun device made then is announced
 * to it (RTM_NEWLINK with its name) when the machine has /dev/net/tun;
 * the client's message reaches the server from the client's port id, and
 * a message sent to group 5 reaches the server.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stasis_test.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK	270
#endif

#define HIGH_GROUP	36	/* RTNLGRP_STATS */
#define USER_GROUP	5
#define RCVBUF		65536

static int bad;

#define check(cond, ...)	do { if (!(cond)) { bad++; fail(__VA_ARGS__); } } while (0)

struct socks {
	int route, server, client, plain;
	uint32_t route_port, server_port, client_port;
};

static uint32_t port_of(int fd, uint32_t *groups)
{
	struct sockaddr_nl sa = { 0 };
	socklen_t len = sizeof(sa);

	if (getsockname(fd, (struct sockaddr *)&sa, &len))
		return 0;
	if (groups)
		*groups = sa.nl_groups;
	return sa.nl_pid;
}

static int bind_nl(int fd, uint32_t port, uint32_t groups)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_pid = port, .nl_groups = groups };

	return bind(fd, (struct sockaddr *)&sa, sizeof(sa));
}

static int setup(struct socks *s)
{
	struct sockaddr_nl to = { .nl_family = AF_NETLINK };
	int v = RCVBUF / 2, g = HIGH_GROUP;

	s->route = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK, NETLINK_ROUTE);
	s->server = socket(AF_NETLINK, SOCK_RAW, NETLINK_USERSOCK);
	s->client = socket(AF_NETLINK, SOCK_RAW, NETLINK_USERSOCK);
	s->plain = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_USERSOCK);
	if (s->route < 0 || s->server < 0 || s->client < 0 || s->plain < 0)
		return -1;
	if (bind_nl(s->route, 0, RTMGRP_LINK) ||
	    setsockopt(s->route, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g)) ||
	    setsockopt(s->route, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)))
		return -1;
	/* A port id no one picks: the kernel's own choices are pids or negative. */
	s->server_port = 0x3c000000u | (getpid() & 0xffffff);
	if (bind_nl(s->server, s->server_port, 1u << (USER_GROUP - 1)))
		return -1;
	to.nl_pid = s->server_port;
	if (connect(s->client, (struct sockaddr *)&to, sizeof(to)))
		return -1;
	s->route_port = port_of(s->route, NULL);
	s->client_port = port_of(s->client, NULL);
	return s->route_port && s->client_port ? 0 : -1;
}

static bool has_group(int fd, unsigned int group)
{
	uint32_t words[8] = { 0 };
	socklen_t len = sizeof(words);

	if (getsockopt(fd, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, words, &len))
		return false;
	return group <= len * 8 && (words[(group - 1) / 32] & (1u << ((group - 1) % 32)));
}

/* Wait up to 5 s for a message on @fd; its length, or -1. */
static ssize_t recv_wait(int fd, void *buf, size_t size, struct sockaddr_nl *from)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	socklen_t len = sizeof(*from);

	if (poll(&p, 1, 5000) != 1)
		return -1;
	return recvfrom(fd, buf, size, MSG_DONTWAIT, (struct sockaddr *)from, &len);
}

/* Is @h an RTM_NEWLINK of interface @name? */
static bool newlink_of(struct nlmsghdr *h, const char *name)
{
	struct ifinfomsg *ifi = NLMSG_DATA(h);
	int len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*ifi));

	if (h->nlmsg_type != RTM_NEWLINK)
		return false;
	for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == IFLA_IFNAME && !strncmp(RTA_DATA(a), name, RTA_PAYLOAD(a)))
			return true;
	return false;
}

/* A tun device made now is announced to @route (RTMGRP_LINK). */
static void check_link_event(int route)
{
	struct ifreq ifr = { .ifr_flags = IFF_TUN | IFF_NO_PI };
	char buf[16384] __attribute__((aligned(8)));
	struct sockaddr_nl from;
	bool seen = false;
	int tun = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "stnl%d", getpid() % 100000);
	if (tun < 0 || ioctl(tun, TUNSETIFF, &ifr)) {
		test_msg("no tun device here (%m): link events not checked");
		if (tun >= 0)
			close(tun);
		return;
	}
	for (int i = 0; i < 64 && !seen; i++) {
		ssize_t n = recv_wait(route, buf, sizeof(buf), &from);

		if (n <= 0)
			break;
		for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, (unsigned)n) && !seen;
		     h = NLMSG_NEXT(h, n))
			seen = newlink_of(h, ifr.ifr_name);
	}
	close(tun);
	check(seen, "route: no RTM_NEWLINK of %s after the restore", ifr.ifr_name);
}

static void check_route(const struct socks *s)
{
	socklen_t len = sizeof(int);
	uint32_t groups = 0;
	int v = 0;

	check(port_of(s->route, &groups) == s->route_port, "route: port id %u, not %u",
	      port_of(s->route, NULL), s->route_port);
	check(groups == RTMGRP_LINK, "route: groups %#x, not RTMGRP_LINK", groups);
	check(has_group(s->route, HIGH_GROUP), "route: not in group %d any more", HIGH_GROUP);
	check(fcntl(s->route, F_GETFL) & O_NONBLOCK, "route: O_NONBLOCK lost");
	check(!getsockopt(s->route, SOL_SOCKET, SO_RCVBUF, &v, &len) && v == RCVBUF,
	      "route: SO_RCVBUF is %d, not %d", v, RCVBUF);
	check_link_event(s->route);
}

static void check_user(const struct socks *s)
{
	struct sockaddr_nl from, grp = { .nl_family = AF_NETLINK, .nl_groups = 1u << (USER_GROUP - 1) };
	char buf[256];
	socklen_t len = sizeof(int);
	int proto = 0, sender;
	ssize_t n;

	check(port_of(s->server, NULL) == s->server_port, "server: port id %u, not %u",
	      port_of(s->server, NULL), s->server_port);
	check(port_of(s->client, NULL) == s->client_port, "client: port id %u, not %u",
	      port_of(s->client, NULL), s->client_port);
	check(send(s->client, "hello", 5, 0) == 5, "client: send: %m");
	n = recv_wait(s->server, buf, sizeof(buf), &from);
	check(n == 5 && !memcmp(buf, "hello", 5) && from.nl_pid == s->client_port,
	      "server: got %zd bytes from %u, not the client's 5 from %u", n, from.nl_pid,
	      s->client_port);
	/* Port 0 has no kernel socket for USERSOCK: refused, after the group got it. */
	sender = socket(AF_NETLINK, SOCK_RAW, NETLINK_USERSOCK);
	n = sender < 0 ? -1 : sendto(sender, "group", 5, 0, (struct sockaddr *)&grp, sizeof(grp));
	check(n == 5 || (n < 0 && errno == ECONNREFUSED), "cannot send to group %d: %m", USER_GROUP);
	n = recv_wait(s->server, buf, sizeof(buf), &from);
	check(n == 5 && !memcmp(buf, "group", 5), "server: no message sent to group %d (%zd)",
	      USER_GROUP, n);
	if (sender >= 0)
		close(sender);
	check(!getsockopt(s->plain, SOL_SOCKET, SO_PROTOCOL, &proto, &len) &&
	      proto == NETLINK_USERSOCK, "plain: protocol %d", proto);
	check(!port_of(s->plain, NULL), "plain: bound to %u", port_of(s->plain, NULL));
}

int main(int argc, char **argv)
{
	struct socks s;

	test_init(argc, argv);
	if (setup(&s)) {
		fail("cannot set the netlink sockets up: %m");
		return test_result();
	}
	test_ready();
	test_waitsig();
	check_route(&s);
	check_user(&s);
	if (!bad)
		pass();
	return test_result();
}
