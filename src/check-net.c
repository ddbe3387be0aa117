/*
 * check-net.c - socket options, TCP repair, tun and the firewall tools,
 * as `stasis check` probes them.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "log.h"

#ifndef SIOCUNIXFILE
#define SIOCUNIXFILE	(SIOCPROTOPRIVATE + 0)	/* O_PATH fd of a unix socket's file */
#endif
#ifndef SO_BUF_LOCK
#define SO_BUF_LOCK	72
#endif

/* A TCP socket of the first family this kernel has; -1 if none. */
static int tcp_socket(void)
{
	int sk = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);

	if (sk < 0 && errno == EAFNOSUPPORT)
		sk = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (sk < 0)
		pr_perror("Unable to create a TCP socket");
	return sk;
}

/* Peeking from an offset: a fresh socket reports the "off" value -1. */
int check_sock_peek_off(void)
{
	int sk, off = 0, ret;
	socklen_t len = sizeof(off);

	sk = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sk < 0) {
		pr_perror("Can't create unix socket for check");
		return -1;
	}
	ret = getsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &off, &len);
	close(sk);
	if (ret == 0 && off == -1 && len == sizeof(int))
		return 0;
	pr_msg("SO_PEEK_OFF sockoption doesn't work.");
	return -1;
}

int check_tcp(void)
{
	int sk = tcp_socket(), val = 1, ret = -1;
	socklen_t len = sizeof(val);

	if (sk < 0)
		return -1;
	if (setsockopt(sk, SOL_TCP, TCP_REPAIR, &val, sizeof(val)))
		pr_perror("Can't turn TCP repair mode ON");
	else if (getsockopt(sk, SOL_TCP, TCP_TIMESTAMP, &val, &len))
		pr_perror("Can't get TCP_TIMESTAMP");
	else
		ret = 0;
	close(sk);
	return ret;
}

int check_so_gets(void)
{
	char name[IFNAMSIZ];
	socklen_t len = 0;
	int sk, ret = -1;

	sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
	if (sk < 0) {
		pr_perror("No socket");
		return -1;
	}
	/* SO_GET_FILTER shares its number with SO_ATTACH_FILTER. */
	if (getsockopt(sk, SOL_SOCKET, SO_ATTACH_FILTER, NULL, &len)) {
		pr_perror("Can't get socket filter");
		goto out;
	}
	len = sizeof(name);
	if (getsockopt(sk, SOL_SOCKET, SO_BINDTODEVICE, name, &len)) {
		pr_perror("Can't get socket bound dev");
		goto out;
	}
	ret = 0;
out:
	close(sk);
	return ret;
}

int check_tcp_window(void)
{
	struct tcp_repair_window win;
	socklen_t len = sizeof(win);
	int sk = tcp_socket(), val = 1, ret = -1;

	if (sk < 0)
		return -1;
	if (setsockopt(sk, SOL_TCP, TCP_REPAIR, &val, sizeof(val)))
		pr_perror("Unable to set TCP_REPAIR");
	else if (getsockopt(sk, SOL_TCP, TCP_REPAIR_WINDOW, &win, &len))
		pr_err("The TCP_REPAIR_WINDOW option isn't supported.");
	else
		ret = 0;
	close(sk);
	return ret;
}

/* A loopback connection whose client has sent its FIN; -1 on failure. */
static int half_closed_client(int *listener)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(addr);
	int clnt;

	*listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (*listener < 0 || bind(*listener, (struct sockaddr *)&addr, sizeof(addr)) ||
	    getsockname(*listener, (struct sockaddr *)&addr, &alen) || listen(*listener, 1)) {
		pr_perror("Unable to make a listening socket");
		return -1;
	}
	clnt = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (clnt < 0 || connect(clnt, (struct sockaddr *)&addr, alen) || shutdown(clnt, SHUT_WR)) {
		pr_perror("Unable to make a half-closed connection");
		if (clnt >= 0)
			close(clnt);
		return -1;
	}
	return clnt;
}

/* Repair mode is allowed on a socket in FIN_WAIT (older kernels: EPERM). */
int check_tcp_half_closed(void)
{
	int lsk = -1, clnt, yes = 1, ret = -1;

	clnt = half_closed_client(&lsk);
	if (clnt >= 0) {
		if (setsockopt(clnt, SOL_TCP, TCP_REPAIR, &yes, sizeof(yes)) == 0)
			ret = 0;
		else if (errno == EPERM)
			pr_err("TCP_REPAIR can't be enabled for half-closed sockets");
		else
			pr_perror("Unable to set TCP_REPAIR with setsockopt");
		close(clnt);
	}
	if (lsk >= 0)
		close(lsk);
	return ret;
}

/* TUNSETIFINDEX lets restore give a tun device its old index. */
static int tun_probe(int no_tun)
{
	unsigned int idx = 13;
	int fd, ret;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("Can't check tun support");
		return no_tun;
	}
	ret = ioctl(fd, TUNSETIFINDEX, &idx);
	if (ret < 0)
		pr_perror("No proper support for tun dump/restore");
	close(fd);
	return ret < 0 ? -1 : 0;
}

int check_tun(void)
{
	return tun_probe(-1);
}

/* Under --extra a machine without tun is fine: there is nothing to dump. */
int check_tun_extra(void)
{
	return tun_probe(0);
}

/* SIOCGSKNS on @fd opens the network namespace it belongs to. */
static int has_netns_ioctl(int fd, const char *what)
{
	int ns = ioctl(fd, SIOCGSKNS);

	if (ns < 0) {
		pr_warn("Unable to get %s network namespace", what);
		return -1;
	}
	close(ns);
	return 0;
}

int check_tun_ns(void)
{
	int fd = open("/dev/net/tun", O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0) {
		pr_perror("Unable to create tun");
		return -1;
	}
	ret = has_netns_ioctl(fd, "tun");
	close(fd);
	return ret;
}

int check_sk_ns(void)
{
	int sk = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret;

	if (sk < 0) {
		pr_perror("Unable to create socket");
		return -1;
	}
	ret = has_netns_ioctl(sk, "socket");
	close(sk);
	return ret;
}

/* SIOCUNIXFILE opens a bound socket's file; an unbound one says ENOENT. */
int check_sk_unix_file(void)
{
	int sk = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), fd, ret = 0;

	if (sk < 0) {
		pr_perror("Unable to create socket");
		return -1;
	}
	fd = ioctl(sk, SIOCUNIXFILE);
	if (fd >= 0) {
		close(fd);
	} else if (errno != ENOENT) {
		pr_warn("Unable to open a socket file: %s", strerror(errno));
		ret = -1;
	}
	close(sk);
	return ret;
}

int check_sockopt_buf_lock(void)
{
	int sk = tcp_socket(), lock, ret = 0;
	socklen_t len = sizeof(lock);

	if (sk < 0)
		return -1;
	if (getsockopt(sk, SOL_SOCKET, SO_BUF_LOCK, &lock, &len)) {
		if (errno != ENOPROTOOPT)
			pr_perror("Unable to get SO_BUF_LOCK with getsockopt");
		ret = -1;
	}
	close(sk);
	return ret;
}

int check_ipv6_freebind(void)
{
	int sk, one = 1, ret = 0;

	if (access("/proc/sys/net/ipv6", F_OK))
		return -1;	/* no IPv6 here */
	sk = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
	if (sk < 0) {
		pr_perror("Unable to create a ipv6 dgram socket");
		return -1;
	}
	if (setsockopt(sk, SOL_IPV6, IPV6_FREEBIND, &one, sizeof(one))) {
		if (errno != ENOPROTOOPT)
			pr_perror("Unable to setsockopt ipv6_freebind");
		ret = -1;
	}
	close(sk);
	return ret;
}

/*
 * Whether @prog -V runs and reports the legacy (x_tables) backend, not
 * nf_tables: the rules of the legacy backend are saved with it.
 */
static bool is_legacy(const char *prog)
{
	char *argv[] = { (char *)prog, "-V", NULL };
	char out[256];

	if (check_run(argv, out, sizeof(out)) != 0)
		return false;
	return !strstr(out, "nf_tables");
}

static const char *legacy_bin(bool v6)
{
	const char *plain = v6 ? "ip6tables-save" : "iptables-save";
	const char *legacy = v6 ? "ip6tables-legacy-save" : "iptables-legacy-save";

	if (is_legacy(plain))
		return plain;
	return is_legacy(legacy) ? legacy : NULL;
}

int check_has_ipt_legacy(void)
{
	const char *bin = legacy_bin(false);

	if (!bin) {
		pr_warn("Couldn't find iptables version which is using iptables legacy API");
		return -1;
	}
	pr_info("iptables cmd: %s", bin);
	if (access("/proc/sys/net/ipv6", F_OK))
		return 0;
	bin = legacy_bin(true);
	if (!bin) {
		pr_warn("Couldn't find ip6tables version which is using iptables legacy API");
		return -1;
	}
	pr_info("ip6tables cmd: %s", bin);
	return 0;
}

/*
 * In a child with a network namespace of its own (nothing to clean up):
 * a set keyed by a concatenation, which nftables network locking uses.
 */
static int nft_concat_child(void *arg)
{
	char *table[] = { "nft", "create table inet stasis", NULL };
	char *set[] = { "nft", "add set inet stasis conn { type ipv4_addr . inet_service ; }", NULL };
	char out[256];

	(void)arg;
	if (unshare(CLONE_NEWNET)) {
		pr_perror("Unable create a network namespace");
		return -1;
	}
	if (check_run(table, out, sizeof(out)) != 0) {
		pr_warn("Can't create nftables table (is nft installed?)");
		return -1;
	}
	return check_run(set, out, sizeof(out)) == 0 ? 0 : -1;
}

int check_network_lock_nftables(void)
{
	if (check_in_child(nft_concat_child, NULL) == 0)
		return 0;
	pr_warn("Nftables based locking requires nft and set concatenations support");
	return -1;
}

/* In a child with a network namespace of its own: can nft list its rules? */
static int nft_list_child(void *arg)
{
	char *list[] = { "nft", "list ruleset", NULL };
	char out[256];

	(void)arg;
	if (unshare(CLONE_NEWNET)) {
		pr_perror("Unable create a network namespace");
		return -1;
	}
	return check_run(list, out, sizeof(out)) == 0 ? 0 : -1;
}

/*
 * A net namespace's nftables rules are kept as `nft list ruleset` prints
 * them and fed back to `nft -f` (ns/net-conf.c), where CRIU links
 * libnftables: supported when the program runs here.
 */
int check_nftables(void)
{
	if (check_in_child(nft_list_child, NULL) == 0)
		return 0;
	pr_warn("nftables rules are kept with the nft program, which does not run here");
	return -1;
}
