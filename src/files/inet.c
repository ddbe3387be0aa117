/*
 * inet.c - AF_INET and AF_INET6 sockets: TCP, UDP, UDP-Lite, ICMP (ping)
 * and raw, as CRIU keeps them (sk-inet.proto).
 *
 * Dump.  Our copy of the socket (pidfd_getfd) answers what it is and
 * where: its type and protocol, its own address and its peer's (a closed
 * TCP socket still names the peer it had), a TCP socket's state, a
 * listener's backlog and the connections waiting in it (TCP_INFO), the
 * options.  sock_diag, asked once per family and protocol, adds what
 * only it shows: the shutdown flags of TCP and UDP sockets.  Nothing is
 * changed on the socket.
 *
 * Refused with "unsupported:": a TCP connection without --tcp-close or
 * --tcp-established (inet-tcp.c keeps it with libsoccr), a listener with
 * connections not yet accepted without --skip-in-flight, a corked UDP
 * socket (its pending datagram would be lost: CRIU refuses it too),
 * protocols other than these.  Datagrams waiting to be read are not
 * kept, as CRIU does not keep them.
 *
 * Restore: inet-restore.c.
 */
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files/inet.h"
#include "files/kind.h"
#include "files/sockdiag.h"
#include "files/sockopts.h"
#include "log.h"
#include "ns/ns.h"

#ifndef SOL_UDP
#define SOL_UDP		17
#endif

/* What sock_diag said of one socket. */
struct inet_diag_seen {
	uint32_t ino;
	uint32_t rqueue, wqueue;
	uint8_t shutdown;
	bool has_shutdown;
};

/* The sockets of one family and protocol, listed once per dump. */
struct inet_diag_list {
	int family, proto;
	struct inet_diag_seen *socks;
	size_t nr, cap;
};

struct inet_dump {
	struct inet_diag_list lists[8];	/* {v4, v6} x {TCP, UDP, UDP-Lite} */
	size_t nr_lists;
	ino_t netns;			/* our own net namespace, once known */
};

/* The address of one side, as the image has it. */
struct inet_addr {
	uint32_t port;
	uint32_t words[4];
	uint32_t scope;			/* an IPv6 address's interface */
};

static void diag_attrs(struct inet_diag_seen *s, struct rtattr *a, int len)
{
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == INET_DIAG_SHUTDOWN && RTA_PAYLOAD(a) >= 1) {
			s->shutdown = *(uint8_t *)RTA_DATA(a);
			s->has_shutdown = true;
		}
}

/* One reply of the dump: the socket it describes, added to the list @arg. */
static int diag_add(struct nlmsghdr *h, void *arg)
{
	struct inet_diag_list *l = arg;
	struct inet_diag_msg *m = NLMSG_DATA(h);
	struct inet_diag_seen *s;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return -EIO;
	if (files_grow(&l->socks, &l->cap, l->nr, sizeof(*l->socks)))
		return -ENOMEM;
	s = &l->socks[l->nr++];
	*s = (struct inet_diag_seen){ .ino = m->idiag_inode, .rqueue = m->idiag_rqueue,
				      .wqueue = m->idiag_wqueue };
	diag_attrs(s, (struct rtattr *)(m + 1), h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
	return 0;
}

/* Every socket of @l's family and protocol, with its shutdown flags. */
static int diag_list(struct inet_diag_list *l)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} q = {
		.nlh = { sizeof(q), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, 1, 0 },
		.req = { .sdiag_family = l->family, .sdiag_protocol = l->proto,
			 .idiag_states = ~0U },
	};
	int ret = sockdiag_dump(&q, sizeof(q), diag_add, l);

	if (ret)
		pr_warn("sock_diag cannot list the sockets of family %d protocol %d: %s",
			l->family, l->proto, strerror(-ret));
	return ret;
}

static struct inet_dump *dump_state(struct dump_ctx *ctx)
{
	struct files_priv *priv = files_priv(ctx);

	if (priv && !priv->inet_priv)
		priv->inet_priv = calloc(1, sizeof(struct inet_dump));
	return priv ? priv->inet_priv : NULL;
}

/*
 * What sock_diag says of socket @ino of @family and @proto: NULL in
 * *@seen when it does not list it (a socket bound to no port is in no
 * table it walks).
 */
static int diag_find(struct dump_ctx *ctx, int family, int proto, uint32_t ino,
		     const struct inet_diag_seen **seen)
{
	struct inet_dump *id = dump_state(ctx);
	struct inet_diag_list *l = NULL;
	int ret;

	*seen = NULL;
	if (!id)
		return -ENOMEM;
	for (size_t i = 0; i < id->nr_lists && !l; i++)
		if (id->lists[i].family == family && id->lists[i].proto == proto)
			l = &id->lists[i];
	if (!l) {
		if (id->nr_lists == sizeof(id->lists) / sizeof(id->lists[0]))
			return -EINVAL;
		l = &id->lists[id->nr_lists++];
		l->family = family;
		l->proto = proto;
		/* Without it (no inet_diag for the protocol), poll() says what it can. */
		ret = diag_list(l);
		if (ret == -ENOMEM)
			return ret;
		if (ret)
			pr_warn("the shutdown flags of sockets of family %d protocol %d are "
				"known only from poll()", family, proto);
	}
	for (size_t i = 0; i < l->nr; i++)
		if (l->socks[i].ino == ino)
			*seen = &l->socks[i];
	return 0;
}

/*
 * A socket made in another net namespace than the tree's would come back
 * in the tree's, its address meaning something else there: refused.
 */
static int check_netns(struct dump_ctx *ctx, const struct file_parms *p)
{
	struct inet_dump *id = dump_state(ctx);
	struct stat st;
	int ns;

	if (!id)
		return -ENOMEM;
	if (!id->netns)
		id->netns = ns_net_ino();
	ns = ioctl(p->lfd, SIOCGSKNS);
	if (ns < 0) {
		pr_perror("pid %d fd %d: cannot tell its net namespace", p->pid, p->fd);
		return -errno;
	}
	if (fstat(ns, &st))
		st.st_ino = 0;
	close(ns);
	if (st.st_ino == id->netns)
		return 0;
	pr_err("unsupported: pid %d fd %d is an inet socket of another net namespace than the "
	       "root's%s", p->pid, p->fd, p->net_ns_id ? " (one of the tree's: not yet)" : "");
	return -ENOTSUP;
}

static int get_int(int fd, int level, int opt, int *v)
{
	socklen_t len = sizeof(*v);

	*v = 0;
	return getsockopt(fd, level, opt, v, &len) ? -errno : 0;
}

static int inet_match(struct dump_ctx *ctx, struct file_parms *p)
{
	int family = files_socket_family(p);

	(void)ctx;
	return family == AF_INET || family == AF_INET6;
}

/* A socket of a type and protocol we can make again, or said why not. */
static int check_kind(const struct file_parms *p, const InetSkEntry *ie)
{
	const char *why = NULL;

	if (ie->type == SOCK_STREAM && ie->proto != IPPROTO_TCP)
		why = ie->proto == IPPROTO_MPTCP ? "an MPTCP socket" : "a stream socket not TCP";
	else if (ie->type == SOCK_DGRAM && ie->proto != IPPROTO_UDP &&
		 ie->proto != IPPROTO_UDPLITE && ie->proto != IPPROTO_ICMP &&
		 ie->proto != IPPROTO_ICMPV6)
		why = "a datagram socket of another protocol";
	else if (ie->type != SOCK_STREAM && ie->type != SOCK_DGRAM && ie->type != SOCK_RAW)
		why = "of a type other than stream, datagram or raw";
	if (!why)
		return 0;
	pr_err("unsupported: pid %d fd %d is an inet socket %s (type %u, protocol %u)", p->pid,
	       p->fd, why, ie->type, ie->proto);
	return -ENOTSUP;
}

static void put_addr(const struct sockaddr_storage *ss, struct inet_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		a->port = ntohs(in->sin_port);
		memcpy(a->words, &in->sin_addr, sizeof(in->sin_addr));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		a->port = ntohs(in6->sin6_port);
		memcpy(a->words, &in6->sin6_addr, sizeof(in6->sin6_addr));
		a->scope = in6->sin6_scope_id;
	}
}

/*
 * Its own address, and its peer's.  SO_PEERNAME, unlike getpeername(),
 * also names the peer of a TCP socket closed after a connection: CRIU
 * keeps that one as a connection.
 */
static int read_addrs(const struct file_parms *p, int family, struct inet_addr *src,
		      struct inet_addr *dst)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	memset(&ss, 0, sizeof(ss));
	if (getsockname(p->lfd, (struct sockaddr *)&ss, &len)) {
		pr_perror("pid %d fd %d: getsockname", p->pid, p->fd);
		return -errno;
	}
	put_addr(&ss, src);
	memset(&ss, 0, sizeof(ss));
	/* SO_PEERNAME takes no more room than the address needs. */
	len = family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	if (getsockopt(p->lfd, SOL_SOCKET, SO_PEERNAME, &ss, &len) && errno != ENOTCONN) {
		pr_perror("pid %d fd %d: SO_PEERNAME", p->pid, p->fd);
		return -errno;
	}
	put_addr(&ss, dst);
	return 0;
}

/* Link-local and interface-local addresses are bound with their interface. */
static bool needs_scope(const uint32_t *w)
{
	const uint8_t *b = (const uint8_t *)w;

	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return true;
	return b[0] == 0xff && ((b[1] & 0x0f) == 1 || (b[1] & 0x0f) == 2);
}

/* Connected?  A raw or ping socket connected with no port says no, as to CRIU. */
static bool has_peer(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	return !getpeername(fd, (struct sockaddr *)&ss, &len);
}

/*
 * The state as inet_diag would give it: a TCP socket's own; a datagram
 * or raw socket is "established" once connected.  A listener's backlog
 * and its connections not yet accepted come with TCP_INFO.
 */
static int read_state(const struct file_parms *p, InetSkEntry *ie, bool connected,
		      uint32_t *pending)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	*pending = 0;
	if (ie->proto != IPPROTO_TCP || ie->type != SOCK_STREAM) {
		ie->state = connected ? TCP_ESTABLISHED : TCP_CLOSE;
		return 0;
	}
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(p->lfd, SOL_TCP, TCP_INFO, &ti, &len)) {
		pr_perror("pid %d fd %d: TCP_INFO", p->pid, p->fd);
		return -errno;
	}
	ie->state = ti.tcpi_state;
	if (ie->state == TCP_LISTEN) {
		/* For a listener, these two say how many wait and how many may. */
		ie->backlog = ti.tcpi_sacked;
		*pending = ti.tcpi_unacked;
	}
	return 0;
}

/*
 * The shutdown flags: from sock_diag when it lists the socket; one in no
 * table (never bound) shows a closed reading side in poll() alone.
 */
static int read_shutdown(struct dump_ctx *ctx, const struct file_parms *p, InetSkEntry *ie,
			 const struct inet_diag_seen **seen)
{
	struct pollfd pfd = { .fd = p->lfd, .events = POLLRDHUP };
	uint8_t how = 0;
	int ret;

	*seen = NULL;
	if (ie->type == SOCK_RAW || ie->proto == IPPROTO_ICMP || ie->proto == IPPROTO_ICMPV6)
		return 0;
	ret = diag_find(ctx, ie->family, ie->proto, p->st.st_ino, seen);
	if (ret)
		return ret;
	if (*seen && (*seen)->has_shutdown)
		how = (*seen)->shutdown & SK_SHUTDOWN__BOTH;
	else if (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLRDHUP))
		how = SK_SHUTDOWN__READ;
	/* Written only when set: CRIU would shutdown() with no direction. */
	ie->has_shutdown = how != 0;
	ie->shutdown = how;
	return 0;
}

/* The name of interface @index in the tree's net namespace (not stasis's). */
static int ifname_of(unsigned int index, char *name)
{
	struct ifreq ifr = { .ifr_ifindex = index };
	int sk = ns_net_socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = 0;

	if (sk < 0)
		return -errno;
	if (ioctl(sk, SIOCGIFNAME, &ifr))
		ret = -errno;
	else
		snprintf(name, IFNAMSIZ, "%s", ifr.ifr_name);
	close(sk);
	return ret;
}

static int fill_addrs(const struct file_parms *p, InetSkEntry *ie, uint32_t *src, uint32_t *dst,
		      char *ifname)
{
	struct inet_addr s = { 0 }, d = { 0 };
	size_t n = ie->family == AF_INET6 ? 4 : 1;
	int ret = read_addrs(p, ie->family, &s, &d);

	if (ret)
		return ret;
	ie->src_port = s.port;
	ie->dst_port = d.port;
	memcpy(src, s.words, n * 4);
	memcpy(dst, d.words, n * 4);
	ie->n_src_addr = ie->n_dst_addr = n;
	ie->src_addr = src;
	ie->dst_addr = dst;
	if (n == 4 && s.scope && needs_scope(s.words)) {
		ret = ifname_of(s.scope, ifname);
		if (ret) {
			pr_err("pid %d fd %d: no name for interface %u of its address: %s", p->pid,
			       p->fd, s.scope, strerror(-ret));
			return ret;
		}
		ie->ifname = ifname;
	}
	return 0;
}

/* IP_* and IPV6_* options, as CRIU keeps them: the ones set, mostly. */
static void dump_ip_opts(int fd, const InetSkEntry *ie, IpOptsEntry *o)
{
	int v;

	if (ie->family == AF_INET6) {
		/* Older kernels have no IPV6_FREEBIND: the same flag is IP_FREEBIND. */
		if (get_int(fd, SOL_IPV6, IPV6_FREEBIND, &v) && ie->type != SOCK_RAW)
			get_int(fd, SOL_IP, IP_FREEBIND, &v);
		o->freebind = v;
		get_int(fd, SOL_IPV6, IPV6_RECVPKTINFO, &v);
		o->pktinfo = v;
	} else {
		get_int(fd, SOL_IP, IP_FREEBIND, &v);
		o->freebind = v;
		get_int(fd, SOL_IP, IP_PKTINFO, &v);
		o->pktinfo = v;
		get_int(fd, SOL_IP, IP_TOS, &v);
		o->tos = v;
		get_int(fd, SOL_IP, IP_TTL, &v);
		o->ttl = v;
	}
	o->has_freebind = o->freebind;
	o->has_pktinfo = o->pktinfo;
	o->has_tos = o->tos;
	o->has_ttl = o->ttl;
}

#ifndef IPV6_HDRINCL
#define IPV6_HDRINCL	36
#endif
#define ICMP_FILTER_OPT		1	/* SOL_RAW ICMP_FILTER */
#define ICMPV6_FILTER_OPT	1	/* SOL_ICMPV6 ICMPV6_FILTER */

/* A raw socket's own: header included, no defragmenting, ICMP type filter. */
static int dump_raw_opts(int fd, const InetSkEntry *ie, IpOptsRawEntry *r, uint32_t *filter)
{
	bool v6 = ie->family == AF_INET6;
	socklen_t len = (v6 ? 8 : 1) * sizeof(uint32_t);
	int v;

	get_int(fd, v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_HDRINCL : IP_HDRINCL, &v);
	r->has_hdrincl = r->hdrincl = !!v;
	if (!v6) {
		get_int(fd, SOL_IP, IP_NODEFRAG, &v);
		r->has_nodefrag = r->nodefrag = !!v;
	}
	if (ie->proto != (v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP))
		return 0;
	memset(filter, 0, len);
	if (getsockopt(fd, v6 ? SOL_ICMPV6 : SOL_RAW, v6 ? ICMPV6_FILTER_OPT : ICMP_FILTER_OPT,
		       filter, &len)) {
		pr_perror("raw socket: cannot read its ICMP filter");
		return -errno;
	}
	r->icmpv_filter = filter;
	r->n_icmpv_filter = v6 ? 8 : 1;
	return 0;
}

static void dump_tcp_opts(int fd, TcpOptsEntry *t)
{
	int v;

	get_int(fd, SOL_TCP, TCP_NODELAY, &v);
	t->has_nodelay = t->nodelay = !!v;
	get_int(fd, SOL_TCP, TCP_CORK, &v);
	t->has_cork = t->cork = !!v;
	get_int(fd, SOL_TCP, TCP_KEEPCNT, &v);
	t->has_keepcnt = !!(t->keepcnt = v);
	get_int(fd, SOL_TCP, TCP_KEEPIDLE, &v);
	t->has_keepidle = !!(t->keepidle = v);
	get_int(fd, SOL_TCP, TCP_KEEPINTVL, &v);
	t->has_keepintvl = !!(t->keepintvl = v);
}

/* What the socket's state lets us keep, by TCP's rules and CRIU's. */
static int check_state(struct dump_ctx *ctx, const struct file_parms *p, InetSkEntry *ie,
		       uint32_t pending)
{
	int cork;

	if (ie->state == TCP_LISTEN && pending) {
		if (!ctx->opts->skip_in_flight) {
			pr_err("unsupported: pid %d fd %d is a listening TCP socket with %u "
			       "connections not yet accepted (--skip-in-flight drops them)",
			       p->pid, p->fd, pending);
			return -ENOTSUP;
		}
		pr_info("pid %d fd %d: %u connections not yet accepted are dropped", p->pid,
			p->fd, pending);
	}
	if (inet_tcp_connection(ie))
		return ctx->opts->tcp_close ? 0 : inet_tcp_dump_connection(ctx, p, ie);
	if (ie->proto != IPPROTO_UDP && ie->proto != IPPROTO_UDPLITE)
		return 0;
	if (!get_int(p->lfd, SOL_UDP, UDP_CORK, &cork) && cork) {
		pr_err("unsupported: pid %d fd %d is a corked UDP socket (what it holds back "
		       "cannot be kept)", p->pid, p->fd);
		return -ENOTSUP;
	}
	return 0;
}

/* Held in the image by pointers: what one entry needs besides itself. */
struct inet_parts {
	SkOptsEntry opts;
	IpOptsEntry ip;
	IpOptsRawEntry raw;
	TcpOptsEntry tcp;
	uint32_t src[4], dst[4], icmp_filter[8];
	char ifname[IF_NAMESIZE];
};

static int fill_opts(const struct file_parms *p, InetSkEntry *ie, struct inet_parts *pt)
{
	int v, ret;

	if (ie->family == AF_INET6) {
		ret = get_int(p->lfd, SOL_IPV6, IPV6_V6ONLY, &v);
		if (ret)
			return ret;
		ie->has_v6only = true;
		ie->v6only = v;
	}
	dump_ip_opts(p->lfd, ie, &pt->ip);
	ie->ip_opts = &pt->ip;
	if (ie->type == SOCK_RAW) {
		ret = dump_raw_opts(p->lfd, ie, &pt->raw, pt->icmp_filter);
		if (ret)
			return ret;
		pt->ip.raw = &pt->raw;
	}
	if (ie->proto == IPPROTO_TCP && ie->type == SOCK_STREAM) {
		dump_tcp_opts(p->lfd, &pt->tcp);
		ie->tcp_opts = &pt->tcp;
	}
	ret = sockopts_dump(p->lfd, ie->family, &pt->opts);
	ie->opts = &pt->opts;
	return ret;
}

static void warn_queues(const struct file_parms *p, const InetSkEntry *ie,
			const struct inet_diag_seen *seen)
{
	if (!seen || ie->type != SOCK_DGRAM)
		return;
	if (seen->rqueue)
		pr_warn("pid %d fd %d: the %u bytes of datagrams waiting to be read are not kept",
			p->pid, p->fd, seen->rqueue);
	if (seen->wqueue)
		pr_warn("pid %d fd %d: %u bytes not yet sent", p->pid, p->fd, seen->wqueue);
}

static int inet_dump(struct dump_ctx *ctx, struct file_parms *p, uint32_t id)
{
	InetSkEntry ie = INET_SK_ENTRY__INIT;
	FileEntry fe = FILE_ENTRY__INIT;
	const struct inet_diag_seen *seen;
	struct inet_parts pt = { .opts = SK_OPTS_ENTRY__INIT, .ip = IP_OPTS_ENTRY__INIT,
				 .raw = IP_OPTS_RAW_ENTRY__INIT, .tcp = TCP_OPTS_ENTRY__INIT };
	uint32_t pending;
	int v, ret;

	ie.id = id;
	ie.ino = p->st.st_ino;
	ie.flags = p->flags;
	ie.fown = &p->fown;
	ie.has_ns_id = p->net_ns_id != 0;
	ie.ns_id = p->net_ns_id;
	ret = get_int(p->lfd, SOL_SOCKET, SO_DOMAIN, &v);
	ie.family = v;
	ret = ret ?: get_int(p->lfd, SOL_SOCKET, SO_TYPE, &v);
	ie.type = v;
	ret = ret ?: get_int(p->lfd, SOL_SOCKET, SO_PROTOCOL, &v);
	ie.proto = v;
	if (ret) {
		pr_err("pid %d fd %d: cannot tell what socket it is: %s", p->pid, p->fd,
		       strerror(-ret));
		return ret;
	}
	ret = check_kind(p, &ie) ?: check_netns(ctx, p);
	ret = ret ?: fill_addrs(p, &ie, pt.src, pt.dst, pt.ifname);
	ret = ret ?: read_state(p, &ie, has_peer(p->lfd), &pending);
	ret = ret ?: read_shutdown(ctx, p, &ie, &seen);
	ret = ret ?: check_state(ctx, p, &ie, pending);
	if (ret)
		return ret;
	warn_queues(p, &ie, seen);
	ret = fill_opts(p, &ie, &pt);
	if (ret) {
		pr_err("pid %d fd %d: its socket options cannot be kept", p->pid, p->fd);
		return ret;
	}
	fe.type = FD_TYPES__INETSK;
	fe.id = id;
	fe.isk = &ie;
	ret = img_write_msg(ctx->files_img, &fe.base);
	sockopts_free(&pt.opts);
	return ret;
}

static void inet_dump_cleanup(struct dump_ctx *ctx)
{
	struct files_priv *priv = ctx->files_priv;
	struct inet_dump *id = priv ? priv->inet_priv : NULL;

	inet_tcp_dump_cleanup(ctx);
	if (!id)
		return;
	for (size_t i = 0; i < id->nr_lists; i++)
		free(id->lists[i].socks);
	free(id);
	priv->inet_priv = NULL;
}

static const void *inet_part(const FileEntry *fe)
{
	return fe->isk;
}

static uint32_t inet_net_ns(const FileEntry *fe)
{
	return fe->isk->has_ns_id ? fe->isk->ns_id : 0;
}

static const FownEntry *inet_fown(struct rst_ctx *ctx, const FileEntry *fe)
{
	(void)ctx;
	return fe->isk->fown;
}

const struct fd_kind inet_fd_kind = {
	.name = "inet socket",
	.type = FD_TYPES__INETSK,
	.match = inet_match,
	.dump = inet_dump,
	.dump_finish = inet_tcp_dump_finish,
	.dump_undo = inet_tcp_dump_undo,
	.dump_cleanup = inet_dump_cleanup,
	.part = inet_part,
	.fown = inet_fown,
	.net_ns = inet_net_ns,
	.open = inet_restore_open,
	.prepared = inet_restore_prepared,
	.arm = inet_tcp_restore_arm,
	.restore_cleanup = inet_tcp_restore_cleanup,
};
