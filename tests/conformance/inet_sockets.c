/*
 * inet_sockets.c - IPv4 and IPv6 sockets that hold no connection:
 *
 *   listen4     TCP on 127.0.0.1, backlog 5, with options: SO_REUSEADDR,
 *               SO_KEEPALIVE with TCP_KEEPIDLE 77, TCP_NODELAY, SO_LINGER
 *               {1, 3}, IP_TOS, SO_PRIORITY, SO_RCVBUF, SO_RCVTIMEO; a
 *               connection waits in its queue, its client closed (the
 *               dump drops it with --skip-in-flight)
 *   listen6     TCP on ::1, IPV6_V6ONLY, backlog 3
 *   listen4v6   TCP on ::ffff:127.0.0.1 (an IPv6 socket reached by IPv4)
 *   unbound     TCP, never bound, with IP_FREEBIND and TCP_CORK
 *   udp4        bound to 127.0.0.1, a socket filter that drops short
 *               datagrams; another one connected to it
 *   udp6        bound to ::1; another one connected to it, SO_BROADCAST
 *   raw         a raw ICMP socket whose ICMP_FILTER drops all but echo
 *               replies, where we may have one (CAP_NET_RAW)
 *   ping        an ICMP echo socket, where ping_group_range allows one
 *
 * Afterwards each must be where it was, with its options, and work: a
 * client connects to each listener and bytes go both ways, datagrams go
 * both ways, the filter still drops short ones, the raw and ping sockets
 * get the echo reply (the raw one nothing before it).  The connection that waited is gone, or (without a dump)
 * still there, at its end.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stasis_test.h"

static int bad;

#define check(cond, ...)	do { if (!(cond)) { bad++; fail(__VA_ARGS__); } } while (0)

#ifndef ICMP_FILTER
#define ICMP_FILTER	1	/* SOL_RAW: a bit set drops that ICMP type */
#endif

union addr {
	struct sockaddr sa;
	struct sockaddr_in v4;
	struct sockaddr_in6 v6;
};

struct sk {
	const char *name;
	int fd;
	union addr addr;	/* getsockname() before the dump */
	socklen_t len;
};

#define SK(n)	{ .name = n, .fd = -1 }
static struct sk listen4 = SK("listen4"), listen6 = SK("listen6"), l4v6 = SK("listen4v6"),
		 unbound = SK("unbound"), udp4 = SK("udp4"), udp4c = SK("udp4 client"),
		 udp6 = SK("udp6"), udp6c = SK("udp6 client"), ping = SK("ping"),
		 raw = SK("raw");

static int one = 1;

static socklen_t make(union addr *a, int family, const char *ip, int port)
{
	memset(a, 0, sizeof(*a));
	if (family == AF_INET) {
		a->v4.sin_family = AF_INET;
		a->v4.sin_port = htons(port);
		inet_pton(AF_INET, ip, &a->v4.sin_addr);
		return sizeof(a->v4);
	}
	a->v6.sin6_family = AF_INET6;
	a->v6.sin6_port = htons(port);
	inet_pton(AF_INET6, ip, &a->v6.sin6_addr);
	return sizeof(a->v6);
}

static int getint(int fd, int level, int opt)
{
	socklen_t len = sizeof(int);
	int v = -1;

	if (getsockopt(fd, level, opt, &v, &len))
		return -1;
	return v;
}

/* A socket of @family and @type bound to @ip port 0 (any), its name kept. */
static int open_bound(struct sk *s, int family, int type, const char *ip, int v6only)
{
	union addr a;
	socklen_t len = make(&a, family, ip, 0);

	s->fd = socket(family, type, 0);
	if (s->fd < 0 || (family == AF_INET6 &&
			  setsockopt(s->fd, SOL_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only))) ||
	    bind(s->fd, &a.sa, len))
		return -1;
	s->len = sizeof(s->addr);
	return getsockname(s->fd, &s->addr.sa, &s->len);
}

static void check_name(const struct sk *s)
{
	union addr a;
	socklen_t len = sizeof(a);

	check(!getsockname(s->fd, &a.sa, &len) && len == s->len && !memcmp(&a, &s->addr, len),
	      "%s: its address is not what it was", s->name);
}

/* The port and address of listener @s, as a client of @family reaches it. */
static socklen_t reach(const struct sk *s, int family, union addr *a)
{
	if (family == AF_INET && s->addr.sa.sa_family == AF_INET6)
		return make(a, AF_INET, "127.0.0.1", ntohs(s->addr.v6.sin6_port));
	*a = s->addr;
	return s->len;
}

/* A client of @family connects to listener @s: accepted, bytes both ways. */
static void check_listener(const struct sk *s, int family, int backlog)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	char buf[8] = "";
	union addr a;
	int c, x;

	check_name(s);
	check(!getsockopt(s->fd, SOL_TCP, TCP_INFO, &ti, &len) && ti.tcpi_state == TCP_LISTEN &&
	      (int)ti.tcpi_sacked == backlog, "%s: not listening with backlog %d (%u)", s->name,
	      backlog, ti.tcpi_sacked);
	c = socket(family, SOCK_STREAM, 0);
	len = reach(s, family, &a);
	if (c < 0 || connect(c, &a.sa, len)) {
		check(0, "%s: cannot connect to it: %m", s->name);
		return;
	}
	fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) & ~O_NONBLOCK);
	x = accept(s->fd, NULL, NULL);
	check(x >= 0 && write(c, "ping", 4) == 4 && read(x, buf, 4) == 4 && !memcmp(buf, "ping", 4) &&
	      write(x, "pong", 4) == 4 && read(c, buf, 4) == 4 && !memcmp(buf, "pong", 4),
	      "%s: a connection made after does not carry bytes: %m", s->name);
	close(x);
	close(c);
}

static void check_options(void)
{
	struct linger lg = { 0, 0 };
	struct timeval tv = { 0, 0 };
	socklen_t len = sizeof(lg);

	check(getint(listen4.fd, SOL_SOCKET, SO_REUSEADDR) == 1 &&
	      getint(listen4.fd, SOL_SOCKET, SO_KEEPALIVE) == 1 &&
	      getint(listen4.fd, SOL_TCP, TCP_KEEPIDLE) == 77 &&
	      getint(listen4.fd, SOL_TCP, TCP_NODELAY) == 1 &&
	      getint(listen4.fd, SOL_IP, IP_TOS) == IPTOS_LOWDELAY &&
	      getint(listen4.fd, SOL_SOCKET, SO_PRIORITY) == 3 &&
	      getint(listen4.fd, SOL_SOCKET, SO_RCVBUF) == 2 * 6000,
	      "listen4: an option is not what it was");
	check(!getsockopt(listen4.fd, SOL_SOCKET, SO_LINGER, &lg, &len) && lg.l_onoff &&
	      lg.l_linger == 3, "listen4: SO_LINGER is {%d, %d}", lg.l_onoff, lg.l_linger);
	len = sizeof(tv);
	check(!getsockopt(listen4.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len) && tv.tv_sec == 5 &&
	      tv.tv_usec == 500000, "listen4: SO_RCVTIMEO is %ld.%06ld", (long)tv.tv_sec,
	      (long)tv.tv_usec);
	check(getint(listen6.fd, SOL_IPV6, IPV6_V6ONLY) == 1 &&
	      getint(l4v6.fd, SOL_IPV6, IPV6_V6ONLY) == 0, "IPV6_V6ONLY is not what it was");
	check(getint(unbound.fd, SOL_IP, IP_FREEBIND) == 1 &&
	      getint(unbound.fd, SOL_TCP, TCP_CORK) == 1 &&
	      getint(unbound.fd, SOL_SOCKET, SO_REUSEADDR) == 0,
	      "unbound: an option is not what it was");
	check(getint(udp6c.fd, SOL_SOCKET, SO_BROADCAST) == 1, "udp6 client: no SO_BROADCAST");
}

/* The waiting connection: dropped by the dump, or still there at its end. */
static void check_pending(void)
{
	char c;
	int x;

	fcntl(listen4.fd, F_SETFL, fcntl(listen4.fd, F_GETFL) | O_NONBLOCK);
	x = accept(listen4.fd, NULL, NULL);
	if (x < 0) {
		check(errno == EAGAIN, "listen4: accept: %m");
		test_msg("the connection that waited was dropped");
		return;
	}
	check(read(x, &c, 1) == 0, "listen4: the connection that waited is not at its end");
	close(x);
}

/* Drops datagrams of 12 bytes or less (with or without the UDP header). */
static int attach_filter(int fd)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
		BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, 12, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog p = { sizeof(f) / sizeof(f[0]), f };

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &p, sizeof(p));
}

static ssize_t recv_wait(int fd, char *buf, size_t len, struct sockaddr *from, socklen_t *flen)
{
	struct pollfd pfd = { fd, POLLIN, 0 };

	if (poll(&pfd, 1, 2000) != 1)
		return -1;
	return recvfrom(fd, buf, len, MSG_DONTWAIT, from, flen);
}

/* Client @c sends to @s (short, then long); @s answers it by its address. */
static void check_udp(const struct sk *s, const struct sk *c, bool filtered)
{
	char buf[64] = "";
	union addr from;
	socklen_t flen = sizeof(from);
	ssize_t n;

	check_name(s);
	check(send(c->fd, "x", 1, 0) == 1 && send(c->fd, "a long datagram", 15, 0) == 15,
	      "%s: cannot send: %m", c->name);
	n = recv_wait(s->fd, buf, sizeof(buf), &from.sa, &flen);
	if (filtered)
		check(n == 15 && !memcmp(buf, "a long datagram", 15),
		      "%s: the filter let a short datagram through, or the long one is lost",
		      s->name);
	else
		check(n == 1 && buf[0] == 'x', "%s: the first datagram is lost", s->name);
	check(sendto(s->fd, "back", 4, 0, &from.sa, flen) == 4 &&
	      recv_wait(c->fd, buf, sizeof(buf), NULL, NULL) == 4 && !memcmp(buf, "back", 4),
	      "%s: the answer to its peer is lost", s->name);
	while (recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

/* The Internet checksum of @n bytes (even). */
static uint16_t csum(const void *p, size_t n)
{
	const uint16_t *w = p;
	uint32_t sum = 0;

	for (size_t i = 0; i < n / 2; i++)
		sum += w[i];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/* An echo request from @s to 127.0.0.1; the first ICMP message it gets back. */
static int echo(const struct sk *s, size_t iphdr)
{
	struct icmphdr h = { .type = ICMP_ECHO };
	char buf[256];
	union addr a;
	socklen_t len = make(&a, AF_INET, "127.0.0.1", 0);
	ssize_t n;

	h.un.echo.id = htons(0x5a5a);
	h.un.echo.sequence = htons(7);
	/* A ping socket fills the checksum in; a raw one sends what it is given. */
	if (iphdr)
		h.checksum = csum(&h, sizeof(h));
	if (sendto(s->fd, &h, sizeof(h), 0, &a.sa, len) != sizeof(h))
		return -1;
	n = recv_wait(s->fd, buf, sizeof(buf), NULL, NULL);
	if (n < (ssize_t)(sizeof(h) + iphdr))
		return -1;
	if (iphdr)
		iphdr = (buf[0] & 0xf) * 4;
	return ((struct icmphdr *)(buf + iphdr))->type;
}

static void check_icmp(void)
{
	int t;

	if (ping.fd >= 0)
		check((t = echo(&ping, 0)) == ICMP_ECHOREPLY, "ping: no echo reply (%d): %m", t);
	if (raw.fd >= 0)
		check((t = echo(&raw, sizeof(struct iphdr))) == ICMP_ECHOREPLY,
		      "raw: the first ICMP message back is of type %d, not an echo reply", t);
}

static int set_listen4(void)
{
	struct linger lg = { 1, 3 };
	struct timeval tv = { 5, 500000 };
	int v;

	if (open_bound(&listen4, AF_INET, SOCK_STREAM, "127.0.0.1", 0))
		return -1;
	v = 77;
	setsockopt(listen4.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(listen4.fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(listen4.fd, SOL_TCP, TCP_KEEPIDLE, &v, sizeof(v));
	setsockopt(listen4.fd, SOL_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(listen4.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	setsockopt(listen4.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	v = IPTOS_LOWDELAY;
	setsockopt(listen4.fd, SOL_IP, IP_TOS, &v, sizeof(v));
	v = 3;
	setsockopt(listen4.fd, SOL_SOCKET, SO_PRIORITY, &v, sizeof(v));
	v = 6000;
	setsockopt(listen4.fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	return listen(listen4.fd, 5);
}

/* A client connects to listen4 and goes: its connection waits, at its end. */
static int leave_pending(void)
{
	int c = socket(AF_INET, SOCK_STREAM, 0);
	struct tcp_info ti;
	socklen_t len;

	if (c < 0 || connect(c, &listen4.addr.sa, listen4.len))
		return -1;
	close(c);
	for (int i = 0; i < 200; i++) {
		len = sizeof(ti);
		if (!getsockopt(listen4.fd, SOL_TCP, TCP_INFO, &ti, &len) && ti.tcpi_unacked)
			return 0;
		usleep(10000);
	}
	return -1;
}

static int set_listeners(void)
{
	if (set_listen4() || leave_pending())
		return -1;
	if (open_bound(&listen6, AF_INET6, SOCK_STREAM, "::1", 1) || listen(listen6.fd, 3))
		return -1;
	if (open_bound(&l4v6, AF_INET6, SOCK_STREAM, "::ffff:127.0.0.1", 0) || listen(l4v6.fd, 4))
		return -1;
	unbound.fd = socket(AF_INET, SOCK_STREAM, 0);
	if (unbound.fd < 0 || setsockopt(unbound.fd, SOL_IP, IP_FREEBIND, &one, sizeof(one)) ||
	    setsockopt(unbound.fd, SOL_TCP, TCP_CORK, &one, sizeof(one)))
		return -1;
	return 0;
}

static int set_datagrams(void)
{
	if (open_bound(&udp4, AF_INET, SOCK_DGRAM, "127.0.0.1", 0) || attach_filter(udp4.fd))
		return -1;
	udp4c.fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (udp4c.fd < 0 || connect(udp4c.fd, &udp4.addr.sa, udp4.len))
		return -1;
	if (open_bound(&udp6, AF_INET6, SOCK_DGRAM, "::1", 1))
		return -1;
	udp6c.fd = socket(AF_INET6, SOCK_DGRAM, 0);
	if (udp6c.fd < 0 || setsockopt(udp6c.fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) ||
	    connect(udp6c.fd, &udp6.addr.sa, udp6.len))
		return -1;
	ping.fd = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
	if (ping.fd < 0)
		test_msg("no ICMP echo socket here (ping_group_range): %m");
	raw.fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	if (raw.fd < 0) {
		test_msg("no raw socket here: %m");
		return 0;
	}
	/* A set bit drops that type: all but echo replies go. */
	return setsockopt(raw.fd, SOL_RAW, ICMP_FILTER, &(uint32_t){ ~(1u << ICMP_ECHOREPLY) },
			  sizeof(uint32_t));
}

int main(int argc, char **argv)
{
	test_init(argc, argv);
	if (set_listeners() || set_datagrams()) {
		fail("setting the sockets up: %m");
		return test_result();
	}
	test_ready();
	test_waitsig();

	check_options();
	check_pending();
	check_listener(&listen4, AF_INET, 5);
	check_listener(&listen6, AF_INET6, 3);
	check_listener(&l4v6, AF_INET, 4);
	check_udp(&udp4, &udp4c, true);
	check_udp(&udp6, &udp6c, false);
	check_icmp();
	if (!bad)
		pass();
	return test_result();
}
