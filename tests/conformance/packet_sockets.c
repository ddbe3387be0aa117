/*
 * packet_sockets.c - packet sockets bound to lo:
 *
 *   cap     SOCK_RAW, ETH_P_ALL, bound to lo; TPACKET_V2, PACKET_AUXDATA,
 *           a multicast membership on lo added twice, a classic socket
 *           filter (accept all), a receive ring mapped shared into memory
 *   dgram   SOCK_DGRAM, ETH_P_IP, bound to lo; PACKET_RESERVE,
 *           PACKET_ORIGDEV, in a fanout group of its own (hash, with the
 *           rollover flag)
 *   spkt    SOCK_PACKET bound to lo by name
 *
 * Afterwards the options, bindings, group and filter must be the same,
 * the membership still there twice (dropped twice, not a third time),
 * the ring mapped at the same address from the same socket, and a UDP
 * datagram sent on lo after the restore must show up in the ring.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "stasis_test.h"

#define BLOCK_SIZE	16384
#define BLOCK_NR	4
#define FRAME_SIZE	2048
#define FRAME_NR	(BLOCK_SIZE / FRAME_SIZE * BLOCK_NR)
#define RING_LEN	(BLOCK_SIZE * BLOCK_NR)
#define RESERVE		64

static int bad;

#define check(cond, ...)	do { if (!(cond)) { bad++; fail(__VA_ARGS__); } } while (0)

/* A multicast address of this test's own: the last bytes are its pid's. */
static uint8_t mc_addr[ETH_ALEN] = { 0x01, 0x00, 0x5e, 0x7f, 0x00, 0x00 };

struct socks {
	int cap, dgram, spkt;
	int lo;
	uint32_t fanout;
	uint8_t *ring;
};

static int getint(int fd, int level, int opt)
{
	socklen_t len = sizeof(int);
	int v = -1;

	if (getsockopt(fd, level, opt, &v, &len))
		return -1;
	return v;
}

static int setint(int fd, int opt, int v)
{
	return setsockopt(fd, SOL_PACKET, opt, &v, sizeof(v));
}

static int membership(int fd, int lo, int opt)
{
	struct packet_mreq mr = { .mr_ifindex = lo, .mr_type = PACKET_MR_MULTICAST,
				  .mr_alen = ETH_ALEN };

	memcpy(mr.mr_address, mc_addr, ETH_ALEN);
	return setsockopt(fd, SOL_PACKET, opt, &mr, sizeof(mr));
}

static int bind_ll(int fd, int ifindex)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = ifindex };

	return bind(fd, (struct sockaddr *)&sll, sizeof(sll));
}

static int setup_cap(struct socks *s)
{
	struct sock_filter all[] = { BPF_STMT(BPF_RET | BPF_K, 0x40000) };
	struct sock_fprog prog = { .len = 1, .filter = all };
	struct tpacket_req req = { BLOCK_SIZE, BLOCK_NR, FRAME_SIZE, FRAME_NR };

	s->cap = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	if (s->cap < 0 || bind_ll(s->cap, s->lo) || setint(s->cap, PACKET_VERSION, TPACKET_V2) ||
	    setint(s->cap, PACKET_AUXDATA, 1) || membership(s->cap, s->lo, PACKET_ADD_MEMBERSHIP) ||
	    membership(s->cap, s->lo, PACKET_ADD_MEMBERSHIP) ||
	    setsockopt(s->cap, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) ||
	    setsockopt(s->cap, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)))
		return -1;
	s->ring = mmap(NULL, RING_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, s->cap, 0);
	return s->ring == MAP_FAILED ? -1 : 0;
}

static int setup(struct socks *s)
{
	struct sockaddr spkt = { .sa_family = AF_PACKET, .sa_data = "lo" };

	mc_addr[4] = getpid() >> 8;
	mc_addr[5] = getpid();
	s->lo = if_nametoindex("lo");
	if (!s->lo || setup_cap(s))
		return -1;
	s->dgram = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_IP));
	s->fanout = (getpid() & 0xffff) | (PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_ROLLOVER) << 16;
	if (s->dgram < 0 || bind_ll(s->dgram, s->lo) || setint(s->dgram, PACKET_RESERVE, RESERVE) ||
	    setint(s->dgram, PACKET_ORIGDEV, 1) || setint(s->dgram, PACKET_FANOUT, s->fanout))
		return -1;
	s->spkt = socket(AF_PACKET, SOCK_PACKET, htons(ETH_P_ALL));
	if (s->spkt < 0 || bind(s->spkt, &spkt, sizeof(spkt)))
		return -1;
	return 0;
}

/* Is our multicast address on lo's list (/proc/net/dev_mcast)? */
static bool lo_has_addr(int lo)
{
	char line[256], want[2 * ETH_ALEN + 1], addr[64];
	bool found = false;
	FILE *f = fopen("/proc/net/dev_mcast", "r");
	int idx;

	for (int i = 0; i < ETH_ALEN; i++)
		snprintf(want + 2 * i, 3, "%02x", mc_addr[i]);
	while (f && !found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%d %*s %*d %*d %63s", &idx, addr) == 2 && idx == lo &&
			!strcmp(addr, want);
	if (f)
		fclose(f);
	return found;
}

/* The area at @ring is still mapped from socket @fd. */
static bool mapped_from(const void *ring, int fd)
{
	unsigned long start, ino;
	unsigned int maj, min;
	char line[512];
	struct stat st;
	bool found = false;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f || fstat(fd, &st))
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%lx-%*x %*s %*s %x:%x %lu", &start, &maj, &min, &ino) == 4 &&
			start == (unsigned long)ring && ino == st.st_ino &&
			makedev(maj, min) == st.st_dev;
	fclose(f);
	return found;
}

/* A frame the kernel handed over holds @magic: give every such frame back. */
static bool ring_has(uint8_t *ring, const char *magic)
{
	bool found = false;

	for (int i = 0; i < FRAME_NR; i++) {
		struct tpacket2_hdr *h = (void *)(ring + (size_t)i * FRAME_SIZE);

		if (!(__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
			continue;
		if (h->tp_mac + h->tp_snaplen <= FRAME_SIZE &&
		    memmem((uint8_t *)h + h->tp_mac, h->tp_snaplen, magic, strlen(magic)))
			found = true;
		__atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
	}
	return found;
}

/* A datagram sent on lo now lands in the ring, within 5 s. */
static void check_capture(const struct socks *s)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char magic[64];
	bool found = false;
	int u = socket(AF_INET, SOCK_DGRAM, 0);

	snprintf(magic, sizeof(magic), "stasis-packet-%d-%ld", getpid(), (long)time(NULL));
	for (int tries = 0; u >= 0 && !found && tries < 50; tries++) {
		struct pollfd p = { .fd = s->cap, .events = POLLIN };

		if (tries % 10 == 0)
			sendto(u, magic, strlen(magic), 0, (struct sockaddr *)&to, sizeof(to));
		poll(&p, 1, 100);
		found = ring_has(s->ring, magic);
	}
	if (u >= 0)
		close(u);
	check(found, "cap: a datagram sent on lo never showed up in the ring");
}

static void check_cap(const struct socks *s)
{
	struct sock_filter f[4];
	struct sockaddr_ll sll = { 0 };
	socklen_t len = sizeof(sll);

	check(!getsockname(s->cap, (struct sockaddr *)&sll, &len) && sll.sll_ifindex == s->lo &&
	      sll.sll_protocol == htons(ETH_P_ALL), "cap: bound to %d proto %#x, not lo",
	      sll.sll_ifindex, ntohs(sll.sll_protocol));
	check(getint(s->cap, SOL_PACKET, PACKET_VERSION) == TPACKET_V2, "cap: version %d",
	      getint(s->cap, SOL_PACKET, PACKET_VERSION));
	check(getint(s->cap, SOL_PACKET, PACKET_AUXDATA) == 1, "cap: PACKET_AUXDATA lost");
	len = 4;
	check(!getsockopt(s->cap, SOL_SOCKET, SO_GET_FILTER, f, &len) && len == 1 &&
	      f[0].code == (BPF_RET | BPF_K) && f[0].k == 0x40000, "cap: the filter is gone (%u)",
	      (unsigned)len);
	/* Added twice, the address stays on lo until the second drop. */
	check(lo_has_addr(s->lo), "cap: the membership is gone");
	check(!membership(s->cap, s->lo, PACKET_DROP_MEMBERSHIP) && lo_has_addr(s->lo),
	      "cap: the membership was there once only");
	check(!membership(s->cap, s->lo, PACKET_DROP_MEMBERSHIP) && !lo_has_addr(s->lo),
	      "cap: the membership was there more than twice");
	check(mapped_from(s->ring, s->cap), "cap: the ring is not mapped from the socket at %p",
	      (void *)s->ring);
	check_capture(s);
}

static void check_others(const struct socks *s)
{
	struct sockaddr_ll sll = { 0 };
	struct sockaddr sa = { 0 };
	socklen_t len = sizeof(sll);

	check(!getsockname(s->dgram, (struct sockaddr *)&sll, &len) && sll.sll_ifindex == s->lo &&
	      sll.sll_protocol == htons(ETH_P_IP), "dgram: bound to %d proto %#x",
	      sll.sll_ifindex, ntohs(sll.sll_protocol));
	check(getint(s->dgram, SOL_SOCKET, SO_TYPE) == SOCK_DGRAM, "dgram: type %d",
	      getint(s->dgram, SOL_SOCKET, SO_TYPE));
	check(getint(s->dgram, SOL_PACKET, PACKET_RESERVE) == RESERVE, "dgram: reserve %d",
	      getint(s->dgram, SOL_PACKET, PACKET_RESERVE));
	check(getint(s->dgram, SOL_PACKET, PACKET_ORIGDEV) == 1, "dgram: PACKET_ORIGDEV lost");
	check((uint32_t)getint(s->dgram, SOL_PACKET, PACKET_FANOUT) == s->fanout,
	      "dgram: fanout %#x, not %#x", getint(s->dgram, SOL_PACKET, PACKET_FANOUT), s->fanout);
	len = sizeof(sa);
	check(!getsockname(s->spkt, &sa, &len) && !strcmp(sa.sa_data, "lo") &&
	      getint(s->spkt, SOL_SOCKET, SO_TYPE) == SOCK_PACKET, "spkt: bound to \"%.14s\"",
	      sa.sa_data);
}

int main(int argc, char **argv)
{
	struct socks s;

	test_init(argc, argv);
	if (setup(&s)) {
		fail("cannot set the packet sockets up: %m");
		return test_result();
	}
	test_ready();
	test_waitsig();
	check_cap(&s);
	check_others(&s);
	if (!bad)
		pass();
	return test_result();
}
