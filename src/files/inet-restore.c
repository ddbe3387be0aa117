/*
 * inet-restore.c - AF_INET and AF_INET6 sockets made again (inet.c says
 * what of them is dumped).
 *
 * In the controller, before the fork: a socket of the family, type and
 * protocol; bound to its address (a ping socket takes its own when it
 * first sends, as CRIU leaves it), listening with its backlog, or
 * connected (datagram and raw sockets).  Every socket is bound with
 * SO_REUSEADDR and SO_REUSEPORT on, since sockets of the tree may share
 * a port; their own values come back once every socket is made
 * (prepared).  A TCP connection comes back closed with --tcp-close, else
 * through inet-tcp.c.  Then the options, the shutdown flags, the file
 * flags.
 */
#include <errno.h>
#include <stdio.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "files/inet.h"
#include "files/sockopts.h"
#include "log.h"
#include "proc.h"

#ifndef IPV6_HDRINCL
#define IPV6_HDRINCL	36
#endif
#define ICMP_FILTER_OPT		1	/* SOL_RAW ICMP_FILTER */
#define ICMPV6_FILTER_OPT	1	/* SOL_ICMPV6 ICMPV6_FILTER */

static int set_int(int fd, int level, int opt, const char *name, int v)
{
	if (!setsockopt(fd, level, opt, &v, sizeof(v)))
		return 0;
	pr_perror("inet socket: cannot set %s to %d", name, v);
	return -errno;
}

#define SET_INT(fd, level, opt, v)	set_int(fd, level, opt, #opt, v)

/* An entry we can make a socket of, its addresses of the right length. */
static int check_entry(const InetSkEntry *ie)
{
	const char *why = NULL;

	if (ie->family != AF_INET && ie->family != AF_INET6)
		why = "of an unknown family";
	else if (ie->type != SOCK_STREAM && ie->type != SOCK_DGRAM && ie->type != SOCK_RAW)
		why = "of an unknown type";
	/* The first images of CRIU gave an IPv4 address four words. */
	else if (ie->family == AF_INET ? ie->n_src_addr < 1 || ie->n_dst_addr < 1 :
		 ie->n_src_addr != 4 || ie->n_dst_addr != 4)
		why = "with addresses of the wrong length";
	else if (ie->state == TCP_LISTEN && (ie->type != SOCK_STREAM || ie->proto != IPPROTO_TCP))
		why = "listening, but not TCP";
	else if (!ie->opts)
		why = "without its options";
	if (!why)
		return 0;
	pr_err("inet socket %u: an entry %s", ie->ino, why);
	return -EINVAL;
}

static socklen_t make_addr(const InetSkEntry *ie, uint32_t port, const uint32_t *words,
			   uint32_t scope, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (ie->family == AF_INET) {
		struct sockaddr_in *in = (void *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		memcpy(&in->sin_addr, words, sizeof(in->sin_addr));
		return sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (void *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		memcpy(&in6->sin6_addr, words, sizeof(in6->sin6_addr));
		in6->sin6_scope_id = scope;
		return sizeof(*in6);
	}
}

/* IP_FREEBIND, by its IPv6 name first where there is one. */
static int set_freebind(int fd, const InetSkEntry *ie, int v)
{
	if (ie->family == AF_INET6 && !setsockopt(fd, SOL_IPV6, IPV6_FREEBIND, &v, sizeof(v)))
		return 0;
	return SET_INT(fd, SOL_IP, IP_FREEBIND, v);
}

/*
 * Bound again to its address.  An address may not be there yet (an IPv6
 * one still tentative, or one the socket bound with IP_FREEBIND): the
 * bind is free, then the flag is as it was.
 */
static int bind_addr(int fd, const InetSkEntry *ie)
{
	struct sockaddr_storage ss;
	unsigned int scope = 0;
	socklen_t len;
	int ret;

	if (ie->ifname && !(scope = if_nametoindex(ie->ifname))) {
		pr_perror("inet socket %u: no interface %s to bind it on", ie->ino, ie->ifname);
		return -errno;
	}
	len = make_addr(ie, ie->src_port, ie->src_addr, scope, &ss);
	ret = set_freebind(fd, ie, 1);
	if (!ret && bind(fd, (struct sockaddr *)&ss, len)) {
		pr_perror("inet socket %u: cannot bind it to port %u again", ie->ino, ie->src_port);
		ret = -errno;
	}
	return ret ?: set_freebind(fd, ie, ie->ip_opts && ie->ip_opts->freebind);
}

static int connect_addr(int fd, const InetSkEntry *ie)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(ie, ie->dst_port, ie->dst_addr, 0, &ss);

	if (!connect(fd, (struct sockaddr *)&ss, len))
		return 0;
	pr_perror("inet socket %u: cannot connect it to port %u again", ie->ino, ie->dst_port);
	return -errno;
}

/* Where it was: bound, listening, connected; or a TCP connection. */
static int place(struct rst_ctx *ctx, int fd, const InetSkEntry *ie)
{
	bool ping = ie->type == SOCK_DGRAM &&
		    (ie->proto == IPPROTO_ICMP || ie->proto == IPPROTO_ICMPV6);
	int ret = 0;

	if (inet_tcp_connection(ie)) {
		if (!ctx->opts->tcp_close)
			return inet_tcp_restore_connection(ctx, fd, ie);
		/* Closed both ways: reads see the end, writes EPIPE. */
		if (shutdown(fd, SHUT_RDWR) && errno != ENOTCONN) {
			pr_perror("inet socket %u: shutdown", ie->ino);
			return -errno;
		}
		return 0;
	}
	if (ie->src_port && !ping)
		ret = bind_addr(fd, ie);
	if (!ret && ie->state == TCP_LISTEN && listen(fd, ie->backlog)) {
		pr_perror("inet socket %u: cannot listen on port %u again", ie->ino, ie->src_port);
		ret = -errno;
	}
	if (!ret && ie->type != SOCK_STREAM && ie->state == TCP_ESTABLISHED)
		ret = connect_addr(fd, ie);
	return ret;
}

static int restore_raw_opts(int fd, const InetSkEntry *ie, const IpOptsRawEntry *r)
{
	bool v6 = ie->family == AF_INET6;
	size_t n = v6 ? 8 : 1;
	int ret = 0;

	if (r->n_icmpv_filter && ie->proto == (v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP)) {
		if (r->n_icmpv_filter != n) {
			pr_err("inet socket %u: an ICMP filter of %zu words", ie->ino,
			       r->n_icmpv_filter);
			return -EINVAL;
		}
		if (setsockopt(fd, v6 ? SOL_ICMPV6 : SOL_RAW, v6 ? ICMPV6_FILTER_OPT : ICMP_FILTER_OPT,
			       r->icmpv_filter, n * sizeof(uint32_t))) {
			pr_perror("inet socket %u: cannot set its ICMP filter", ie->ino);
			return -errno;
		}
	}
	if (r->has_nodefrag && !v6)
		ret = SET_INT(fd, SOL_IP, IP_NODEFRAG, r->nodefrag);
	if (!ret && r->has_hdrincl)
		ret = v6 ? SET_INT(fd, SOL_IPV6, IPV6_HDRINCL, r->hdrincl) :
			   SET_INT(fd, SOL_IP, IP_HDRINCL, r->hdrincl);
	return ret;
}

static int restore_ip_opts(int fd, const InetSkEntry *ie)
{
	const IpOptsEntry *o = ie->ip_opts;
	int ret = 0;

	if (!o)
		return 0;
	if (ie->family == AF_INET6) {
		if (o->has_pktinfo)
			ret = SET_INT(fd, SOL_IPV6, IPV6_RECVPKTINFO, o->pktinfo);
	} else {
		if (o->has_pktinfo)
			ret = SET_INT(fd, SOL_IP, IP_PKTINFO, o->pktinfo);
		if (!ret && o->has_tos)
			ret = SET_INT(fd, SOL_IP, IP_TOS, o->tos);
		if (!ret && o->has_ttl)
			ret = SET_INT(fd, SOL_IP, IP_TTL, o->ttl);
	}
	if (!ret && o->has_freebind)
		ret = set_freebind(fd, ie, o->freebind);
	if (!ret && o->raw && ie->type == SOCK_RAW)
		ret = restore_raw_opts(fd, ie, o->raw);
	return ret;
}

/* TCP's own options; older images kept the keepalive ones in sk_opts. */
static int restore_tcp_opts(int fd, const InetSkEntry *ie)
{
	const TcpOptsEntry *t = ie->tcp_opts;
	const SkOptsEntry *o = ie->opts;
	int ret = 0;

	if (ie->proto != IPPROTO_TCP || ie->type != SOCK_STREAM)
		return 0;
	if (o->has_tcp_keepcnt)
		ret = SET_INT(fd, SOL_TCP, TCP_KEEPCNT, o->tcp_keepcnt);
	if (!ret && o->has_tcp_keepidle)
		ret = SET_INT(fd, SOL_TCP, TCP_KEEPIDLE, o->tcp_keepidle);
	if (!ret && o->has_tcp_keepintvl)
		ret = SET_INT(fd, SOL_TCP, TCP_KEEPINTVL, o->tcp_keepintvl);
	if (!t || ret)
		return ret;
	if (t->has_nodelay)
		ret = SET_INT(fd, SOL_TCP, TCP_NODELAY, t->nodelay);
	if (!ret && t->has_cork)
		ret = SET_INT(fd, SOL_TCP, TCP_CORK, t->cork);
	if (!ret && t->has_keepcnt)
		ret = SET_INT(fd, SOL_TCP, TCP_KEEPCNT, t->keepcnt);
	if (!ret && t->has_keepidle)
		ret = SET_INT(fd, SOL_TCP, TCP_KEEPIDLE, t->keepidle);
	if (!ret && t->has_keepintvl)
		ret = SET_INT(fd, SOL_TCP, TCP_KEEPINTVL, t->keepintvl);
	return ret;
}

/*
 * The shutdown flags of a TCP or UDP socket.  One not connected says
 * ENOTCONN, yet keeps them: reads see the end, writes EPIPE.
 */
static int restore_shutdown(int fd, const InetSkEntry *ie)
{
	if (!ie->has_shutdown || ie->shutdown < SK_SHUTDOWN__READ ||
	    ie->shutdown > SK_SHUTDOWN__BOTH || ie->type == SOCK_RAW ||
	    (ie->proto != IPPROTO_TCP && ie->proto != IPPROTO_UDP && ie->proto != IPPROTO_UDPLITE))
		return 0;
	if (!shutdown(fd, ie->shutdown - 1) || errno == ENOTCONN || ie->state == TCP_CLOSE)
		return 0;
	pr_perror("inet socket %u: shutdown", ie->ino);
	return -errno;
}

static int restore_socket(struct rst_ctx *ctx, int fd, const InetSkEntry *ie)
{
	int ret = 0;

	if (ie->family == AF_INET6 && ie->has_v6only && ie->v6only)
		ret = SET_INT(fd, SOL_IPV6, IPV6_V6ONLY, 1);
	ret = ret ?: SET_INT(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	ret = ret ?: SET_INT(fd, SOL_SOCKET, SO_REUSEPORT, 1);
	ret = ret ?: place(ctx, fd, ie);
	ret = ret ?: restore_ip_opts(fd, ie);
	ret = ret ?: sockopts_restore(fd, ie->opts);
	ret = ret ?: restore_tcp_opts(fd, ie);
	ret = ret ?: restore_shutdown(fd, ie);
	if (!ret && fcntl(fd, F_SETFL, ie->flags & (O_NONBLOCK | O_ASYNC))) {
		pr_perror("inet socket %u: cannot set its flags", ie->ino);
		ret = -errno;
	}
	return ret;
}

/*
 * A ping socket (SOCK_DGRAM of IPPROTO_ICMP or ICMPV6): the kernel makes
 * one only for an effective or supplementary gid in the namespace's
 * net.ipv4.ping_group_range, whatever the capabilities.  Stasis makes it
 * as root of the init user namespace: in a tree's user namespace the range
 * covers the tree's gids only.  So a refused one is made again with the
 * first gid of the range as the effective one, for that call alone.
 */
static int ping_socket(const InetSkEntry *ie)
{
	unsigned int low, high;
	char val[64];
	gid_t egid = getegid();
	int fd, err;

	if (proc_sys_read("net/ipv4/ping_group_range", val, sizeof(val)) < 0 ||
	    sscanf(val, "%u %u", &low, &high) != 2 || low > high) {
		errno = EACCES;
		return -1;
	}
	pr_info("inet socket %u: a ping socket, made as gid %u of the range %u-%u", ie->ino,
		low, low, high);
	if (setresgid(-1, low, -1))
		return -1;
	fd = socket(ie->family, ie->type | SOCK_CLOEXEC, ie->proto);
	err = errno;
	if (setresgid(-1, egid, -1)) {
		pr_perror("inet socket %u: cannot take back the gid %u", ie->ino, egid);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	errno = err;
	return fd;
}

static bool is_ping(const InetSkEntry *ie)
{
	return ie->type == SOCK_DGRAM &&
	       ((ie->family == AF_INET && ie->proto == IPPROTO_ICMP) ||
		(ie->family == AF_INET6 && ie->proto == IPPROTO_ICMPV6));
}

int inet_restore_open(struct rst_ctx *ctx, struct rst_file *f)
{
	const InetSkEntry *ie = f->fe->isk;
	int fd, ret;

	ret = check_entry(ie);
	if (ret)
		return ret;
	fd = socket(ie->family, ie->type | SOCK_CLOEXEC, ie->proto);
	if (fd < 0 && errno == EACCES && is_ping(ie))
		fd = ping_socket(ie);
	if (fd < 0) {
		pr_perror("inet socket %u: cannot make a socket of family %u type %u protocol %u",
			  ie->ino, ie->family, ie->type, ie->proto);
		return -errno;
	}
	ret = restore_socket(ctx, fd, ie);
	if (ret) {
		pr_err("inet socket %u (id %u): not made again", ie->ino, ie->id);
		close(fd);
		return ret;
	}
	return rst_pool_add(ctx, fd);
}

int inet_restore_prepared(struct rst_ctx *ctx)
{
	for (size_t i = 0; i < ctx->nr_files; i++) {
		const struct rst_file *f = &ctx->files[i];
		int ret;

		if (f->fe->type != FD_TYPES__INETSK || !f->fe->isk || f->fd < 0 || f->deferred)
			continue;
		ret = sockopts_restore_reuse(f->fd, f->fe->isk->opts);
		if (ret)
			return ret;
	}
	return 0;
}
