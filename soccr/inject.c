/*
 * inject.c - a TCP segment from the peer's address to our end, built by
 * hand and sent through a raw socket: the only way to put the peer's FIN
 * (or its ACK of ours) back into a repaired socket, since repair mode
 * queues data but no flags.  Marked SOCCR_MARK so that a network lock
 * that lets CRIU's mark by lets ours by too.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "internal.h"

/* Both IP headers are whole words: no padding before the TCP header. */
struct seg4 {
	struct iphdr ip;
	struct tcphdr tcp;
};
_Static_assert(sizeof(struct seg4) == 40, "IPv4 segment layout");

struct seg6 {
	struct ip6_hdr ip;
	struct tcphdr tcp;
};
_Static_assert(sizeof(struct seg6) == 60, "IPv6 segment layout");

static uint32_t sum16(const void *p, size_t len, uint32_t sum)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* The TCP checksum over the pseudo header of either family. */
static uint16_t tcp_csum(const void *src, const void *dst, size_t alen,
			 const struct tcphdr *th)
{
	uint32_t sum;

	sum = sum16(src, alen, 0);
	sum = sum16(dst, alen, sum);
	sum += IPPROTO_TCP + sizeof(*th);
	return fold(sum16(th, sizeof(*th), sum));
}

/* The header as the peer would send it: its port to ours. */
static void fill_tcp(struct tcphdr *th, const struct soccr_conn *c, uint32_t seq,
		     uint32_t ack, uint8_t flags)
{
	uint32_t wnd = c->st.snd_wnd;

	/* The window we had from the peer, in the peer's scale, unchanged. */
	if (c->st.opt_mask & TCPI_OPT_WSCALE)
		wnd >>= c->st.snd_wscale;
	memset(th, 0, sizeof(*th));
	th->source = c->peer.v4.sin_port;	/* same place in sockaddr_in6 */
	th->dest = c->local.v4.sin_port;
	th->seq = htonl(seq);
	th->ack_seq = htonl(ack);
	th->doff = sizeof(*th) / 4;
	th->th_flags = flags;
	th->window = htons(wnd > 0xffff ? 0xffff : wnd);
}

static int send_raw(int family, const void *seg, size_t len, const union soccr_addr *to)
{
	int fd, mark = SOCCR_MARK, ret = 0;
	union soccr_addr dst = *to;

	/* IPPROTO_RAW: we write the IP header ourselves, in both families. */
	fd = socket(family, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0) {
		soccr_err("soccr: raw socket: %s", strerror(errno));
		return -errno;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark))) {
		ret = -errno;
		soccr_err("soccr: SO_MARK: %s", strerror(errno));
		goto out;
	}
	dst.v4.sin_port = 0;
	if (sendto(fd, seg, len, 0, &dst.sa, family == AF_INET ? sizeof(dst.v4) :
		   sizeof(dst.v6)) != (ssize_t)len) {
		ret = -errno;
		soccr_err("soccr: injecting a segment: %s", strerror(errno));
	}
out:
	close(fd);
	return ret;
}

static int inject4(const struct soccr_conn *c, struct in_addr src, struct in_addr dst,
		   uint32_t seq, uint32_t ack, uint8_t flags)
{
	union soccr_addr to = { .v4 = { .sin_family = AF_INET, .sin_addr = dst } };
	struct seg4 s;

	memset(&s, 0, sizeof(s));
	s.ip.version = 4;
	s.ip.ihl = sizeof(s.ip) / 4;
	s.ip.tot_len = htons(sizeof(s));
	s.ip.frag_off = htons(IP_DF);
	s.ip.ttl = 64;
	s.ip.protocol = IPPROTO_TCP;
	s.ip.saddr = src.s_addr;
	s.ip.daddr = dst.s_addr;	/* the kernel fills the id and the checksum */
	fill_tcp(&s.tcp, c, seq, ack, flags);
	s.tcp.check = tcp_csum(&src, &dst, sizeof(src), &s.tcp);
	return send_raw(AF_INET, &s, sizeof(s), &to);
}

static int inject6(const struct soccr_conn *c, uint32_t seq, uint32_t ack, uint8_t flags)
{
	struct seg6 s;

	memset(&s, 0, sizeof(s));
	s.ip.ip6_flow = htonl(6u << 28);
	s.ip.ip6_plen = htons(sizeof(s.tcp));
	s.ip.ip6_nxt = IPPROTO_TCP;
	s.ip.ip6_hlim = 64;
	s.ip.ip6_src = c->peer.v6.sin6_addr;
	s.ip.ip6_dst = c->local.v6.sin6_addr;
	fill_tcp(&s.tcp, c, seq, ack, flags);
	s.tcp.check = tcp_csum(&s.ip.ip6_src, &s.ip.ip6_dst, sizeof(s.ip.ip6_src), &s.tcp);
	return send_raw(AF_INET6, &s, sizeof(s), &c->local);
}

int soccr_inject(const struct soccr_conn *c, uint32_t seq, uint32_t ack, uint8_t flags)
{
	struct in_addr src, dst;

	soccr_dbg("soccr: injecting flags %#x seq %u ack %u", flags, seq, ack);
	if (c->local.sa.sa_family == AF_INET)
		return inject4(c, c->peer.v4.sin_addr, c->local.v4.sin_addr, seq, ack, flags);
	/* An IPv6 socket talking IPv4 (v4-mapped): the wire is IPv4. */
	if (IN6_IS_ADDR_V4MAPPED(&c->local.v6.sin6_addr)) {
		memcpy(&src, &c->peer.v6.sin6_addr.s6_addr[12], sizeof(src));
		memcpy(&dst, &c->local.v6.sin6_addr.s6_addr[12], sizeof(dst));
		return inject4(c, src, dst, seq, ack, flags);
	}
	return inject6(c, seq, ack, flags);
}
