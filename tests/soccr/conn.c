/*
 * conn.c - the connection a libsoccr test works on: a pair of TCP
 * sockets over loopback in a network namespace of its own, data with a
 * pattern that tells each byte's place in its stream, and nftables rules
 * that drop one direction (a network lock: our own marked segments pass).
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>

#include "conn.h"

char conn_why[256];

int fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(conn_why, sizeof(conn_why), fmt, ap);
	va_end(ap);
	return -1;
}

/* Run an nft command; the table lives in our namespace and dies with it. */
int nft(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int n;

	n = snprintf(cmd, sizeof(cmd), "nft ");
	va_start(ap, fmt);
	vsnprintf(cmd + n, sizeof(cmd) - n, fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		return fail("'%s' failed", cmd);
	return 0;
}

int block(uint16_t sport)
{
	return nft("add rule inet soccr out meta mark != 0x%x tcp sport %u drop",
		   SOCCR_MARK, sport);
}

int unblock_all(void)
{
	return nft("flush chain inet soccr out");
}

static void set_bufs(int fd)
{
	int sz = 1 << 20;

	/* Room for the queues the tests build, and for their restore. */
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

int new_socket(int fam)
{
	int fd = socket(fam == 4 ? AF_INET : AF_INET6, SOCK_STREAM, 0);

	if (fd >= 0)
		set_bufs(fd);
	return fd;
}

static socklen_t fill_addr(int fam, union soccr_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (fam == 4) {
		a->v4.sin_family = AF_INET;
		a->v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof(a->v4);
	}
	a->v6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, fam == 6 ? "::1" : "::ffff:127.0.0.1", &a->v6.sin6_addr);
	return sizeof(a->v6);
}

uint16_t port_of(int fd)
{
	union soccr_addr a;
	socklen_t len = sizeof(a);

	if (getsockname(fd, &a.sa, &len))
		return 0;
	return ntohs(a.v4.sin_port);	/* same place in sockaddr_in6 */
}

int listen_on(int fam, union soccr_addr *a, socklen_t *len)
{
	int l = new_socket(fam);

	*len = fill_addr(fam, a);
	/* b's window smaller than what a sends: some of it stays unsent. */
	if (l >= 0)
		setsockopt(l, SOL_SOCKET, SO_RCVBUF, &(int){ 64 << 10 }, sizeof(int));
	if (l < 0 || bind(l, &a->sa, *len) || listen(l, 1)) {
		fail("listener: %s", strerror(errno));
		if (l >= 0)
			close(l);
		return -1;
	}
	*len = sizeof(*a);
	getsockname(l, &a->sa, len);
	return l;
}

void pair_ports(struct pair *p)
{
	p->pa = port_of(p->a);
	p->pb = port_of(p->b);
}

int make_pair(struct pair *p, int fam)
{
	union soccr_addr a;
	socklen_t len;
	int l;

	memset(p, 0, sizeof(*p));
	p->fam = fam;
	l = listen_on(fam, &a, &len);
	if (l < 0)
		return -1;
	p->a = new_socket(fam);
	if (p->a < 0 || connect(p->a, &a.sa, len)) {
		close(l);
		return fail("connect: %s", strerror(errno));
	}
	p->b = accept(l, NULL, NULL);
	close(l);
	if (p->b < 0)
		return fail("accept: %s", strerror(errno));
	pair_ports(p);
	return 0;
}

/* Byte @off of the stream in direction @dir (0: a to b, 1: b to a). */
static uint8_t pattern(int dir, uint64_t off)
{
	return (uint8_t)(off * 131 + (off >> 9) + dir * 17);
}

/* Queue @n more bytes of the stream on @fd without waiting. */
int put(int fd, int dir, uint64_t *off, size_t n)
{
	uint8_t buf[4096];
	size_t i, k;
	ssize_t w;

	while (n) {
		k = n < sizeof(buf) ? n : sizeof(buf);
		for (i = 0; i < k; i++)
			buf[i] = pattern(dir, *off + i);
		w = send(fd, buf, k, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w <= 0)
			return fail("send (dir %d at %llu): %s", dir,
				    (unsigned long long)*off, w ? strerror(errno) : "0");
		*off += w;
		n -= w;
	}
	return 0;
}

static int readable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 10000) == 1 ? 0 : fail("fd %d: nothing to read in 10 s", fd);
}

/* Read @n bytes of the stream, each in its place, each once. */
int expect(int fd, int dir, uint64_t *off, size_t n)
{
	uint8_t buf[4096];
	ssize_t r, i;

	while (n) {
		if (readable(fd))
			return -1;
		r = recv(fd, buf, n < sizeof(buf) ? n : sizeof(buf), MSG_DONTWAIT);
		if (r <= 0)
			return fail("dir %d at %llu: %s", dir, (unsigned long long)*off,
				    r ? strerror(errno) : "end of stream too early");
		for (i = 0; i < r; i++)
			if (buf[i] != pattern(dir, *off + i))
				return fail("dir %d: byte %llu wrong", dir,
					    (unsigned long long)(*off + i));
		*off += r;
		n -= r;
	}
	return 0;
}

int expect_eof(int fd)
{
	char c;
	ssize_t r;

	if (readable(fd))
		return -1;
	r = recv(fd, &c, 1, MSG_DONTWAIT);
	return r == 0 ? 0 : fail("fd %d: %s where the stream ends", fd,
				 r > 0 ? "a byte too many" : strerror(errno));
}

int tcp_state(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, SOL_TCP, TCP_INFO, &ti, &len))
		return -1;
	return ti.tcpi_state;
}

int wait_state(int fd, int state)
{
	int i;

	for (i = 0; i < 2000 && tcp_state(fd) != state; i++)
		poll(NULL, 0, 1);
	if (tcp_state(fd) == state)
		return 0;
	return fail("state %d, not %d", tcp_state(fd), state);
}

int queued(int fd, unsigned long req)
{
	int n = -1;

	ioctl(fd, req, &n);
	return n;
}

int wait_inq(int fd, int n)
{
	int i;

	for (i = 0; i < 2000 && queued(fd, SIOCINQ) != n; i++)
		poll(NULL, 0, 1);
	return queued(fd, SIOCINQ) == n ? 0 : fail("%d bytes to read, not %d",
						   queued(fd, SIOCINQ), n);
}
