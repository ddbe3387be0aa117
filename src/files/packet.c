/*
 * packet.c - AF_PACKET sockets: SOCK_RAW, SOCK_DGRAM and the old
 * SOCK_PACKET.
 *
 * Dump.  sock_diag's packet half (packet_diag) answers only whole dumps:
 * the packet sockets of our network namespace are listed and ours is
 * found by its inode.  It gives the type, the protocol, the bound
 * interface, the options (version, reserve, copy threshold, timestamp
 * source, auxdata, origdev, vnet_hdr, loss), the memberships (each with
 * its count), the rings' geometry and whether it is in a fanout group,
 * whose flags only getsockopt() tells.  The packets in its queues are not
 * kept, as CRIU does not keep them: to the task they were lost on the
 * wire.
 *
 * A ring the task mapped is an area of status VMA_AREA_SOCKET whose
 * shmid is the socket's files.img id (mem-layout.c, fd-dump.c); at
 * restore the area is mapped again from the socket (mem-restore.c), with
 * the ring's geometry already set, at the same address.  The frames in it
 * are not kept: the new ring starts empty.
 *
 * Restore.  The socket is made in the controller and bound to the same
 * interface (which must exist, with the same index), then its options
 * set in the order the kernel accepts them: version and reserve before
 * the rings, the rings before the fanout group.
 */
#include <errno.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/packet_diag.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "files/files.h"
#include "files/kind.h"
#include "files/sockdiag.h"
#include "files/sockopts.h"
#include "fdinfo.pb-c.h"
#include "log.h"
#include "packet-sock.pb-c.h"

#define PK_MCLIST_MAX	1024	/* memberships of one socket kept */
#define PK_ADDR_MAX	32	/* the kernel's MAX_ADDR_LEN */

#ifndef PACKET_FANOUT_FLAG_UNIQUEID
#define PACKET_FANOUT_FLAG_UNIQUEID	0x2000
#endif

/* What packet_diag says of one socket. */
struct pk_info {
	uint8_t type;
	uint16_t num;			/* protocol, host order */
	bool has_info, has_fanout;
	struct packet_diag_info info;
	struct packet_diag_ring rx, tx;
	bool has_rx, has_tx;
	struct packet_diag_mclist *mc;
	size_t nr_mc;
};

static int pk_mclist(struct pk_info *pi, const void *d, size_t len)
{
	size_t n = len / sizeof(struct packet_diag_mclist);

	if (n > PK_MCLIST_MAX)
		return -E2BIG;
	pi->mc = malloc(n ? len : 1);
	if (!pi->mc)
		return -ENOMEM;
	memcpy(pi->mc, d, n * sizeof(*pi->mc));
	pi->nr_mc = n;
	return 0;
}

static void pk_copy(void *dst, size_t size, const struct rtattr *a, bool *has)
{
	memset(dst, 0, size);
	memcpy(dst, RTA_DATA(a), RTA_PAYLOAD(a) < size ? RTA_PAYLOAD(a) : size);
	if (has)
		*has = true;
}

static int pk_attrs(struct pk_info *pi, struct rtattr *a, int len)
{
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		switch (a->rta_type) {
		case PACKET_DIAG_INFO:
			pk_copy(&pi->info, sizeof(pi->info), a, &pi->has_info);
			break;
		case PACKET_DIAG_RX_RING:
			pk_copy(&pi->rx, sizeof(pi->rx), a, &pi->has_rx);
			break;
		case PACKET_DIAG_TX_RING:
			pk_copy(&pi->tx, sizeof(pi->tx), a, &pi->has_tx);
			break;
		case PACKET_DIAG_FANOUT:
			pi->has_fanout = true;
			break;
		case PACKET_DIAG_MCLIST:
			if (!pi->mc) {
				int ret = pk_mclist(pi, RTA_DATA(a), RTA_PAYLOAD(a));

				if (ret)
					return ret;
			}
			break;
		}
	}
	return 0;
}

/* The socket sought in a packet_diag dump, and what is learnt of it. */
struct pk_query {
	uint32_t ino;
	struct pk_info *pi;
};

/* One reply of the dump: 1 when it is the socket sought, filled in. */
static int pk_reply(struct nlmsghdr *h, void *arg)
{
	struct packet_diag_msg *m = NLMSG_DATA(h);
	struct pk_query *pq = arg;
	int ret;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)) || m->pdiag_ino != pq->ino)
		return 0;
	pq->pi->type = m->pdiag_type;
	pq->pi->num = m->pdiag_num;
	ret = pk_attrs(pq->pi, (struct rtattr *)(m + 1),
		       h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
	return ret ?: 1;
}

static int pk_diag(uint32_t ino, struct pk_info *pi)
{
	struct {
		struct nlmsghdr nlh;
		struct packet_diag_req req;
	} q = {
		.nlh = { sizeof(q), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, 1, 0 },
		.req = { .sdiag_family = AF_PACKET,
			 .pdiag_show = PACKET_SHOW_INFO | PACKET_SHOW_MCLIST |
				       PACKET_SHOW_RING_CFG | PACKET_SHOW_FANOUT },
	};
	struct pk_query pq = { ino, pi };
	int ret = sockdiag_dump(&q, sizeof(q), pk_reply, &pq);

	if (ret < 0)
		pr_err("packet socket %u: sock_diag: %s", ino, strerror(-ret));
	return ret;
}

static int pk_match(struct dump_ctx *ctx, struct file_parms *p)
{
	int family = files_socket_family(p);

	(void)ctx;
	return family == AF_PACKET;
}

/* One membership, once per time it was added (the kernel counts them). */
static int dump_mc(PacketSockEntry *pe, const struct packet_diag_mclist *m, PacketMclist *slots,
		   size_t *used)
{
	if (m->pdmc_alen > PK_ADDR_MAX || m->pdmc_count > PK_MCLIST_MAX ||
	    *used + m->pdmc_count > PK_MCLIST_MAX) {
		pr_err("packet socket: a membership of %u bytes added %u times", m->pdmc_alen,
		       m->pdmc_count);
		return -E2BIG;
	}
	for (uint32_t k = 0; k < m->pdmc_count; k++) {
		PacketMclist *e = &slots[(*used)++];

		packet_mclist__init(e);
		e->index = m->pdmc_index;
		e->type = m->pdmc_type;
		e->addr.len = m->pdmc_alen;
		e->addr.data = (uint8_t *)m->pdmc_addr;
		pe->mclist[pe->n_mclist++] = e;
	}
	return 0;
}

static void fill_ring(PacketRing *r, const struct packet_diag_ring *d)
{
	packet_ring__init(r);
	r->block_size = d->pdr_block_size;
	r->block_nr = d->pdr_block_nr;
	r->frame_size = d->pdr_frame_size;
	r->frame_nr = d->pdr_frame_nr;
	r->retire_tmo = d->pdr_retire_tmo;
	r->sizeof_priv = d->pdr_sizeof_priv;
	r->features = d->pdr_features;
}

/* What is kept beside the entry while it is written. */
struct pk_dump {
	struct pk_info pi;
	PacketRing rx, tx;
	PacketMclist *slots;
	PacketMclist **ptrs;
	SkOptsEntry opts;
};

static int fill_mclist(PacketSockEntry *pe, struct pk_dump *d)
{
	size_t total = 0, used = 0;
	int ret = 0;

	for (size_t i = 0; i < d->pi.nr_mc; i++)
		total += d->pi.mc[i].pdmc_count;
	if (!total)
		return 0;
	if (total > PK_MCLIST_MAX) {
		pr_err("packet socket: %zu memberships", total);
		return -E2BIG;
	}
	d->slots = calloc(total, sizeof(*d->slots));
	d->ptrs = calloc(total, sizeof(*d->ptrs));
	if (!d->slots || !d->ptrs)
		return -ENOMEM;
	pe->mclist = d->ptrs;
	for (size_t i = 0; !ret && i < d->pi.nr_mc; i++)
		ret = dump_mc(pe, &d->pi.mc[i], d->slots, &used);
	return ret;
}

/* The fanout group's id, type and flags: only getsockopt() has the flags. */
static int dump_fanout(const struct file_parms *p, PacketSockEntry *pe)
{
	socklen_t len = sizeof(int);
	int v;

	if (getsockopt(p->lfd, SOL_PACKET, PACKET_FANOUT, &v, &len)) {
		pr_perror("pid %d fd %d: PACKET_FANOUT", p->pid, p->fd);
		return -errno;
	}
	/* The program that spreads the packets (PACKET_FANOUT_DATA) cannot be read back. */
	if (((v >> 16) & 0xff) == PACKET_FANOUT_CBPF || ((v >> 16) & 0xff) == PACKET_FANOUT_EBPF) {
		pr_err("unsupported: pid %d fd %d is a packet socket in a fanout group steered "
		       "by a BPF program", p->pid, p->fd);
		return -ENOTSUP;
	}
	pe->has_fanout = true;
	pe->fanout = v;
	return 0;
}

static int pk_fill(const struct file_parms *p, PacketSockEntry *pe, struct pk_dump *d)
{
	const struct packet_diag_info *in = &d->pi.info;
	int ret = pk_diag(p->st.st_ino, &d->pi);

	if (!ret || (ret > 0 && !d->pi.has_info)) {
		pr_err("unsupported: pid %d fd %d is a packet socket sock_diag does not show "
		       "(of another network namespace?)", p->pid, p->fd);
		return -ENOTSUP;
	}
	if (ret < 0)
		return ret;
	pe->type = d->pi.type;
	pe->protocol = htons(d->pi.num);
	pe->ifindex = in->pdi_index;
	pe->version = in->pdi_version;
	pe->reserve = in->pdi_reserve;
	pe->timestamp = in->pdi_tstamp;
	pe->copy_thresh = in->pdi_copy_thresh;
	pe->aux_data = in->pdi_flags & PDI_AUXDATA;
	pe->orig_dev = in->pdi_flags & PDI_ORIGDEV;
	pe->vnet_hdr = in->pdi_flags & PDI_VNETHDR;
	pe->loss = in->pdi_flags & PDI_LOSS;
	if (d->pi.has_rx) {
		fill_ring(&d->rx, &d->pi.rx);
		pe->rx_ring = &d->rx;
	}
	if (d->pi.has_tx) {
		fill_ring(&d->tx, &d->pi.tx);
		pe->tx_ring = &d->tx;
	}
	ret = fill_mclist(pe, d);
	if (!ret && d->pi.has_fanout)
		ret = dump_fanout(p, pe);
	return ret;
}

static int pk_dump(struct dump_ctx *ctx, struct file_parms *p, uint32_t id)
{
	PacketSockEntry pe = PACKET_SOCK_ENTRY__INIT;
	FileEntry fe = FILE_ENTRY__INIT;
	struct pk_dump *d;
	char what[64];
	int ret;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	sk_opts_entry__init(&d->opts);
	snprintf(what, sizeof(what), "pid %d fd %d", p->pid, p->fd);
	ret = pk_fill(p, &pe, d) ?: sockopts_dump(p->lfd, AF_PACKET, &d->opts);
	if (ret)
		goto out;
	pe.id = id;
	pe.flags = p->flags;
	pe.fown = &p->fown;
	pe.opts = &d->opts;
	fe.type = FD_TYPES__PACKETSK;
	fe.id = id;
	fe.psk = &pe;
	ret = img_write_msg(ctx->files_img, &fe.base);
out:
	sockopts_free(&d->opts);
	free(d->pi.mc);
	free(d->slots);
	free(d->ptrs);
	free(d);
	return ret;
}

/* --- restore --- */

static int set_opt(int fd, int opt, const void *v, socklen_t len, const PacketSockEntry *pe,
		   const char *name)
{
	if (!setsockopt(fd, SOL_PACKET, opt, v, len))
		return 0;
	pr_perror("packet socket id %u: cannot set %s", pe->id, name);
	return -errno;
}

static int set_u32(int fd, int opt, uint32_t v, const PacketSockEntry *pe, const char *name)
{
	return set_opt(fd, opt, &v, sizeof(v), pe, name);
}

/* A boolean option, set only when on: off is what a new socket has. */
static int set_flag(int fd, int opt, bool on, const PacketSockEntry *pe, const char *name)
{
	return on ? set_u32(fd, opt, 1, pe, name) : 0;
}

/* SOCK_PACKET is bound by the interface's name. */
static int bind_spkt(int fd, const PacketSockEntry *pe)
{
	struct sockaddr sa = { .sa_family = AF_PACKET };
	struct ifreq ifr = { .ifr_ifindex = pe->ifindex };

	if (ioctl(fd, SIOCGIFNAME, &ifr)) {
		pr_perror("packet socket id %u: no interface of index %u here", pe->id,
			  pe->ifindex);
		return -errno;
	}
	/* The kernel reads at most the 14 bytes of sa_data. */
	if (strnlen(ifr.ifr_name, IFNAMSIZ) > sizeof(sa.sa_data)) {
		pr_err("packet socket id %u: interface %s has too long a name to bind SOCK_PACKET "
		       "to", pe->id, ifr.ifr_name);
		return -EINVAL;
	}
	memcpy(sa.sa_data, ifr.ifr_name, strnlen(ifr.ifr_name, sizeof(sa.sa_data)));
	if (!bind(fd, &sa, sizeof(sa)))
		return 0;
	pr_perror("packet socket id %u: cannot bind it to %s", pe->id, sa.sa_data);
	return -errno;
}

static int pk_bind(int fd, const PacketSockEntry *pe)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = pe->ifindex };

	if (!pe->ifindex)
		return 0;
	if (pe->type == SOCK_PACKET)
		return bind_spkt(fd, pe);
	/* Protocol 0: the one the socket has. */
	if (!bind(fd, (struct sockaddr *)&sll, sizeof(sll)))
		return 0;
	pr_perror("packet socket id %u: cannot bind it to the interface of index %u", pe->id,
		  pe->ifindex);
	return -errno;
}

static int add_memberships(int fd, const PacketSockEntry *pe)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < pe->n_mclist; i++) {
		const PacketMclist *m = pe->mclist[i];
		struct packet_mreq mr = { .mr_ifindex = m->index, .mr_type = m->type };
		/* packet_mreq's address is 8 bytes; the kernel reads up to MAX_ADDR_LEN. */
		struct {
			struct packet_mreq mr;
			uint8_t more[PK_ADDR_MAX - sizeof(mr.mr_address)];
		} big = { 0 };

		if (m->addr.len > PK_ADDR_MAX) {
			pr_err("packet socket id %u: a membership address of %zu bytes", pe->id,
			       m->addr.len);
			return -EINVAL;
		}
		mr.mr_alen = m->addr.len;
		big.mr = mr;
		memcpy(big.mr.mr_address, m->addr.data, m->addr.len);
		ret = set_opt(fd, PACKET_ADD_MEMBERSHIP, &big, sizeof(big), pe, "a membership");
	}
	return ret;
}

static int set_ring(int fd, int opt, const PacketRing *r, const PacketSockEntry *pe)
{
	struct tpacket_req3 req = {
		.tp_block_size = r->block_size, .tp_block_nr = r->block_nr,
		.tp_frame_size = r->frame_size, .tp_frame_nr = r->frame_nr,
		.tp_retire_blk_tov = r->retire_tmo, .tp_sizeof_priv = r->sizeof_priv,
		.tp_feature_req_word = r->features,
	};

	return set_opt(fd, opt, &req, sizeof(req), pe,
		       opt == PACKET_RX_RING ? "its receive ring" : "its transmit ring");
}

/*
 * A group made with a unique id is joined again by its id: the kernel
 * refuses an id with that flag.
 */
static int set_fanout(int fd, const PacketSockEntry *pe)
{
	uint32_t v = pe->fanout & ~(PACKET_FANOUT_FLAG_UNIQUEID << 16);

	return pe->has_fanout ? set_u32(fd, PACKET_FANOUT, v, pe, "its fanout group") : 0;
}

static int pk_options(int fd, const PacketSockEntry *pe)
{
	return set_u32(fd, PACKET_VERSION, pe->version, pe, "PACKET_VERSION") ?:
	       set_u32(fd, PACKET_RESERVE, pe->reserve, pe, "PACKET_RESERVE") ?:
	       set_u32(fd, PACKET_TIMESTAMP, pe->timestamp, pe, "PACKET_TIMESTAMP") ?:
	       set_u32(fd, PACKET_COPY_THRESH, pe->copy_thresh, pe, "PACKET_COPY_THRESH") ?:
	       set_flag(fd, PACKET_AUXDATA, pe->aux_data, pe, "PACKET_AUXDATA") ?:
	       set_flag(fd, PACKET_ORIGDEV, pe->orig_dev, pe, "PACKET_ORIGDEV") ?:
	       set_flag(fd, PACKET_VNET_HDR, pe->vnet_hdr, pe, "PACKET_VNET_HDR") ?:
	       set_flag(fd, PACKET_LOSS, pe->loss, pe, "PACKET_LOSS") ?:
	       add_memberships(fd, pe) ?:
	       (pe->rx_ring ? set_ring(fd, PACKET_RX_RING, pe->rx_ring, pe) : 0) ?:
	       (pe->tx_ring ? set_ring(fd, PACKET_TX_RING, pe->tx_ring, pe) : 0) ?:
	       set_fanout(fd, pe);
}

static int pk_setup(int fd, const PacketSockEntry *pe)
{
	char what[48];
	int ret;

	snprintf(what, sizeof(what), "packet socket id %u", pe->id);
	ret = pk_bind(fd, pe);
	/* SOCK_PACKET has none of the SOL_PACKET options. */
	if (!ret && pe->type != SOCK_PACKET)
		ret = pk_options(fd, pe);
	ret = ret ?: sockopts_restore(fd, pe->opts) ?: sockopts_restore_reuse(fd, pe->opts);
	if (!ret && fcntl(fd, F_SETFL, pe->flags & RST_SETFL_MASK)) {
		pr_perror("%s: cannot set its flags", what);
		ret = -errno;
	}
	return ret;
}

static int pk_restore_open(struct rst_ctx *ctx, struct rst_file *f)
{
	const PacketSockEntry *pe = f->fe->psk;
	int fd, ret;

	if (pe->type != SOCK_RAW && pe->type != SOCK_DGRAM && pe->type != SOCK_PACKET) {
		pr_err("packet socket id %u: of type %u", pe->id, pe->type);
		return -EINVAL;
	}
	fd = socket(AF_PACKET, pe->type | SOCK_CLOEXEC, pe->protocol);
	if (fd < 0) {
		pr_perror("packet socket id %u: cannot create one of protocol %#x", pe->id,
			  ntohs(pe->protocol));
		return -errno;
	}
	ret = pk_setup(fd, pe);
	if (ret) {
		close(fd);
		return ret;
	}
	return rst_pool_add(ctx, fd);
}

static const void *pk_part(const FileEntry *fe)
{
	return fe->psk;
}

static const FownEntry *pk_fown(struct rst_ctx *ctx, const FileEntry *fe)
{
	(void)ctx;
	return fe->psk->fown;
}

const struct fd_kind packet_fd_kind = {
	.name = "packet socket",
	.type = FD_TYPES__PACKETSK,
	.match = pk_match,
	.dump = pk_dump,
	.part = pk_part,
	.fown = pk_fown,
	.open = pk_restore_open,
};
