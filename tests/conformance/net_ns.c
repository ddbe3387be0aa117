/*
 * net_ns.c - a task in a net namespace of its own, linked to the host by
 * a veth, with addresses, a route, sysctls, a firewall rule and TCP
 * sockets in it.  Dumped with --tcp-established; restored with
 * --tcp-established --external veth[stnc0]:stnh0 (tests/restore/run.sh).
 *
 * Sets up, before READY (after unshare(CLONE_NEWNET)):
 *   lo up with 10.231.0.1/32 besides 127.0.0.1;
 *   veth stnc0 (inside, MTU 1400, up, 10.232.0.2/24) whose peer stnh0 is
 *     in the host's namespace (the runner's);
 *   a route to 10.233.0.0/16 via 10.232.0.1;
 *   net.ipv4.conf.stnc0.rp_filter 2, net.ipv4.conf.all.forwarding 1,
 *     net.unix.max_dgram_qlen 77;
 *   an iptables rule dropping TCP to port 7777 (nft's, or legacy);
 *   a TCP socket listening on 10.231.0.1:4321, and a connection to it
 *     over lo, accepted, with 5 bytes sent each way and unread;
 *   a connection to 10.231.0.1:7777 made before that rule, then closed
 *     by the client, and by the server once the rule is in: the client's
 *     last ACK dropped, the server's end stays LAST_ACK (the restore must
 *     put it back through the tree's own rule, ZDTM's closed-last-ack).
 *
 * Checks after SIGTERM: all of it, from inside; the namespace is not the
 * host's; the listening socket accepts a new connection (it was born in
 * this namespace); the connection carries the unread bytes and more; the
 * LAST_ACK end is still so and reads the end of file; and the host's
 * namespace has stnh0 again.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stasis_test.h"

#define LO_ADDR		"10.231.0.1"
#define DROP_PORT	7777
#define PORT		4321

/* Run a shell command line made of @fmt; true if it exited 0. */
static bool sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd) == 0;
}

static int sysctl_get(const char *name, char *buf, size_t size)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/net/%s", name);
	fd = open(path, O_RDONLY);
	n = fd < 0 ? -1 : read(fd, buf, size - 1);
	if (fd >= 0)
		close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static bool sysctl_set(const char *name, const char *val)
{
	char path[128];
	int fd;
	bool ok;

	snprintf(path, sizeof(path), "/proc/sys/net/%s", name);
	fd = open(path, O_WRONLY);
	ok = fd >= 0 && write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	if (fd >= 0)
		close(fd);
	return ok;
}

static void check_sysctl(const char *name, const char *want)
{
	char buf[64];

	if (sysctl_get(name, buf, sizeof(buf)))
		fail("read net/%s: %m", name);
	else if (strcmp(buf, want))
		fail("net/%s is %s, want %s", name, buf, want);
}

static int tcp_connect_to(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int sk = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, LO_ADDR, &a.sin_addr);
	if (sk >= 0 && connect(sk, (struct sockaddr *)&a, sizeof(a))) {
		close(sk);
		sk = -1;
	}
	return sk;
}

static int tcp_connect(void)
{
	return tcp_connect_to(PORT);
}

static int tcp_listen_on(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int sk = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	inet_pton(AF_INET, LO_ADDR, &a.sin_addr);
	if (sk < 0 || setsockopt(sk, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(sk, (struct sockaddr *)&a, sizeof(a)) || listen(sk, 8))
		return -1;
	return sk;
}

static int tcp_listen(void)
{
	return tcp_listen_on(PORT);
}

static int tcp_state(int sk)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	return getsockopt(sk, IPPROTO_TCP, TCP_INFO, &ti, &len) ? -1 : ti.tcpi_state;
}

/* The server's end of a connection to DROP_PORT, closed both ways: *@srv. */
static int last_ack_half(int *srv)
{
	int l = tcp_listen_on(DROP_PORT), c = l < 0 ? -1 : tcp_connect_to(DROP_PORT);

	*srv = c < 0 ? -1 : accept(l, NULL, NULL);
	if (l >= 0)
		close(l);
	if (*srv < 0 || shutdown(c, SHUT_WR))
		return -1;
	/* The client's FIN is in; from now on what it sends is dropped. */
	for (int i = 0; i < 1000 && tcp_state(*srv) != TCP_CLOSE_WAIT; i++)
		usleep(1000);
	return c;
}

static int last_ack_close(int srv)
{
	if (shutdown(srv, SHUT_WR))
		return -1;
	for (int i = 0; i < 1000 && tcp_state(srv) != TCP_LAST_ACK; i++)
		usleep(1000);
	return tcp_state(srv) == TCP_LAST_ACK ? 0 : -1;
}

static ino_t ns_ino(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : st.st_ino;
}

static void check_link(void)
{
	struct ifreq ifr = { 0 };
	int sk = socket(AF_INET, SOCK_DGRAM, 0);

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "stnc0");
	if (sk < 0 || ioctl(sk, SIOCGIFMTU, &ifr))
		fail("stnc0: %m");
	else if (ifr.ifr_mtu != 1400)
		fail("stnc0 has MTU %d, want 1400", ifr.ifr_mtu);
	if (sk >= 0 && !ioctl(sk, SIOCGIFFLAGS, &ifr) && !(ifr.ifr_flags & IFF_UP))
		fail("stnc0 is down");
	if (sk >= 0 && (ioctl(sk, SIOCGIFFLAGS, &(struct ifreq){ .ifr_name = "lo" }) ||
			!if_nametoindex("lo")))
		fail("no lo");
	if (sk >= 0)
		close(sk);
}

/* Is stnh0 in the host's namespace (the runner's, our parent's)? */
static void check_host_peer(void)
{
	char path[64];
	int own, host;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", getppid());
	own = open("/proc/self/ns/net", O_RDONLY);
	host = open(path, O_RDONLY);

	if (own < 0 || host < 0 || setns(host, CLONE_NEWNET)) {
		fail("cannot look into the host's net namespace: %m");
	} else {
		if (!if_nametoindex("stnh0"))
			fail("the host has no stnh0, the veth's peer");
		if (setns(own, CLONE_NEWNET))
			fail("cannot come back to the test's net namespace: %m");
	}
	if (own >= 0)
		close(own);
	if (host >= 0)
		close(host);
}

/* @a got "hello" from @b, which got "world" back; neither read them. */
static void check_conn(int a, int b)
{
	char buf[16] = "";

	if (recv(a, buf, sizeof(buf), MSG_DONTWAIT) != 5 || memcmp(buf, "hello", 5))
		fail("the client's bytes are not there: \"%s\"", buf);
	memset(buf, 0, sizeof(buf));
	if (recv(b, buf, sizeof(buf), MSG_DONTWAIT) != 5 || memcmp(buf, "world", 5))
		fail("the server's bytes are not there: \"%s\"", buf);
	if (send(b, "again", 5, 0) != 5 || recv(a, buf, 5, MSG_WAITALL) != 5 ||
	    memcmp(buf, "again", 5))
		fail("the connection carries nothing new");
}

static int setup(int *l, int *c, int *s, int *la)
{
	int lc;

	sh("ip link del stnh0 2>/dev/null");
	if (unshare(CLONE_NEWNET))
		return fail("unshare(CLONE_NEWNET): %m"), -1;
	if (!sh("ip link set lo up && ip addr add " LO_ADDR "/32 dev lo") ||
	    !sh("ip link add stnc0 type veth peer name stnh0 netns %d", getppid()) ||
	    !sh("ip link set stnc0 mtu 1400 up && ip addr add 10.232.0.2/24 dev stnc0") ||
	    !sh("ip route add 10.233.0.0/16 via 10.232.0.1 dev stnc0 onlink"))
		return fail("ip could not set the namespace up"), -1;
	if (!sysctl_set("ipv4/conf/stnc0/rp_filter", "2") ||
	    !sysctl_set("ipv4/conf/all/forwarding", "1") ||
	    !sysctl_set("unix/max_dgram_qlen", "77"))
		return fail("cannot set the sysctls: %m"), -1;
	lc = last_ack_half(la);
	if (lc < 0)
		return fail("no connection to port %d: %m", DROP_PORT), -1;
	if (!sh("iptables -A INPUT -p tcp --dport 7777 -j DROP"))
		return fail("iptables could not add the rule"), -1;
	if (last_ack_close(*la))
		return fail("the server's end is in state %d, not LAST_ACK", tcp_state(*la)), -1;
	close(lc);
	*l = tcp_listen();
	*c = *l < 0 ? -1 : tcp_connect();
	*s = *c < 0 ? -1 : accept(*l, NULL, NULL);
	if (*s < 0)
		return fail("no TCP connection over lo: %m"), -1;
	if (send(*c, "hello", 5, 0) != 5 || send(*s, "world", 5, 0) != 5)
		return fail("send: %m"), -1;
	return 0;
}

int main(int argc, char **argv)
{
	ino_t host;
	int l, c, s, n, la;

	test_init(argc, argv);
	host = ns_ino("/proc/self/ns/net");
	if (setup(&l, &c, &s, &la))
		return test_result();
	test_ready();
	test_waitsig();

	if (ns_ino("/proc/self/ns/net") == host)
		fail("the task is in the host's net namespace");
	if (!sh("ip -o addr show dev lo | grep -q 'inet " LO_ADDR "/32'"))
		fail("lo has not " LO_ADDR);
	if (!sh("ip -o addr show dev stnc0 | grep -q 'inet 10.232.0.2/24'"))
		fail("stnc0 has not 10.232.0.2/24");
	if (!sh("ip route show 10.233.0.0/16 | grep -q 'via 10.232.0.1'"))
		fail("the route to 10.233.0.0/16 is gone");
	if (!sh("iptables -S INPUT | grep -q 'dport 7777 -j DROP'"))
		fail("the iptables rule is gone");
	check_link();
	check_sysctl("ipv4/conf/stnc0/rp_filter", "2");
	check_sysctl("ipv4/conf/all/forwarding", "1");
	check_sysctl("unix/max_dgram_qlen", "77");
	check_conn(s, c);
	if (tcp_state(la) != TCP_LAST_ACK)
		fail("the LAST_ACK end is in state %d", tcp_state(la));
	else if (recv(la, &n, 1, MSG_DONTWAIT) != 0)
		fail("the LAST_ACK end reads no end of file: %m");
	n = tcp_connect();
	if (n < 0)
		fail("the listening socket takes no new connection: %m");
	else
		close(n);
	check_host_peer();
	pass();
	return test_result();
}
