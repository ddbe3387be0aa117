/*
 * netlink.c - AF_NETLINK sockets.
 *
 * Dump.  sock_diag's netlink half (netlink_diag) answers only whole
 * dumps, by protocol: the sockets of our socket's protocol are listed
 * and ours is found by its inode.  It gives the bound port id, the
 * multicast groups (a bitmap of any size), the connected destination.
 * A socket neither bound nor subscribed is not listed: it has nothing
 * but its protocol and options.  As CRIU, messages waiting in the
 * receive queue are not kept: a socket with any is refused, and the
 * netlink-level flags (NETLINK_PKTINFO, NETLINK_NO_ENOBUFS, ...) have no
 * place in the image.
 *
 * Restore.  The socket is made in the controller, bound to its port id
 * again (or, if another socket holds it now, to one the kernel picks, as
 * CRIU does, with a warning), subscribed to its groups (the first 32 by
 * bind(), the others with NETLINK_ADD_MEMBERSHIP, which CRIU refuses),
 * connected, and its options set.
 */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/netlink_diag.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "files/files.h"
#include "files/kind.h"
#include "files/sockdiag.h"
#include "files/sockopts.h"
#include "fdinfo.pb-c.h"
#include "log.h"
#include "sk-netlink.pb-c.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK	270
#endif

#define NL_GROUP_WORDS	64	/* 2048 groups: more than any family registers */
#define NL_CONNECTED	1	/* the kernel's NETLINK_CONNECTED state */

/* What netlink_diag says of one socket. */
struct nl_info {
	uint32_t portid, dst_portid, dst_group;
	uint8_t state;
	uint32_t groups[NL_GROUP_WORDS];
	size_t nr_groups;		/* words, trailing empty ones dropped */
};

static int nl_attrs(struct nl_info *ni, struct rtattr *a, int len)
{
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		size_t n = RTA_PAYLOAD(a) / sizeof(uint32_t);

		if (a->rta_type != NETLINK_DIAG_GROUPS)
			continue;
		if (n > NL_GROUP_WORDS) {
			pr_err("a netlink socket's group bitmap of %zu words", n);
			return -E2BIG;
		}
		/* Whole longs of bits: on a little-endian machine, words in order. */
		memcpy(ni->groups, RTA_DATA(a), n * sizeof(uint32_t));
		while (n && !ni->groups[n - 1])
			n--;
		ni->nr_groups = n;
	}
	return 0;
}

/* The socket sought in a netlink_diag dump, and what is learnt of it. */
struct nl_query {
	uint32_t ino;
	struct nl_info *ni;
};

/* One reply of the dump: 1 when it is the socket sought, filled in. */
static int nl_reply(struct nlmsghdr *h, void *arg)
{
	struct netlink_diag_msg *m = NLMSG_DATA(h);
	struct nl_query *nq = arg;
	struct nl_info *ni = nq->ni;
	int ret;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)) || m->ndiag_ino != nq->ino)
		return 0;
	memset(ni, 0, sizeof(*ni));
	ni->portid = m->ndiag_portid;
	ni->dst_portid = m->ndiag_dst_portid;
	ni->dst_group = m->ndiag_dst_group;
	ni->state = m->ndiag_state;
	ret = nl_attrs(ni, (struct rtattr *)(m + 1), h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
	return ret ?: 1;
}

/* Ask netlink_diag about socket @ino of protocol @proto. */
static int nl_diag(uint32_t ino, int proto, struct nl_info *ni)
{
	struct {
		struct nlmsghdr nlh;
		struct netlink_diag_req req;
	} q = {
		.nlh = { sizeof(q), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, 1, 0 },
		.req = { .sdiag_family = AF_NETLINK, .sdiag_protocol = proto,
			 .ndiag_show = NDIAG_SHOW_GROUPS },
	};
	struct nl_query nq = { ino, ni };
	int ret = sockdiag_dump(&q, sizeof(q), nl_reply, &nq);

	if (ret < 0)
		pr_err("netlink socket %u: sock_diag: %s", ino, strerror(-ret));
	return ret;
}

static int nl_match(struct dump_ctx *ctx, struct file_parms *p)
{
	int family = files_socket_family(p);

	(void)ctx;
	return family == AF_NETLINK;
}

/* A message waiting would be lost: refused, as CRIU does. */
static int check_empty(const struct file_parms *p)
{
	struct pollfd pfd = { .fd = p->lfd, .events = POLLIN };
	int n = poll(&pfd, 1, 0);

	if (n < 0) {
		pr_perror("pid %d fd %d: poll", p->pid, p->fd);
		return -errno;
	}
	if (n && (pfd.revents & POLLIN)) {
		pr_err("unsupported: pid %d fd %d is a netlink socket with messages waiting "
		       "to be read", p->pid, p->fd);
		return -ENOTSUP;
	}
	return 0;
}

/*
 * Not listed: neither bound nor subscribed, or in another network
 * namespace, where sock_diag does not look; a bound name tells them apart.
 */
static int check_unlisted(const struct file_parms *p)
{
	struct sockaddr_nl sa = { 0 };
	socklen_t len = sizeof(sa);

	if (getsockname(p->lfd, (struct sockaddr *)&sa, &len)) {
		pr_perror("pid %d fd %d: getsockname", p->pid, p->fd);
		return -errno;
	}
	if (!sa.nl_pid && !sa.nl_groups)
		return 0;
	pr_err("unsupported: pid %d fd %d is a netlink socket of another network namespace",
	       p->pid, p->fd);
	return -ENOTSUP;
}

static int nl_fill(const struct file_parms *p, NetlinkSkEntry *ne, struct nl_info *ni)
{
	socklen_t len = sizeof(int);
	int proto, ret;

	if (getsockopt(p->lfd, SOL_SOCKET, SO_PROTOCOL, &proto, &len)) {
		pr_perror("pid %d fd %d: SO_PROTOCOL", p->pid, p->fd);
		return -errno;
	}
	ne->protocol = proto;
	ret = nl_diag(p->st.st_ino, proto, ni);
	if (ret <= 0)
		return ret ?: check_unlisted(p);
	ne->portid = ni->portid;
	ne->state = ni->state;
	ne->dst_portid = ni->dst_portid;
	ne->dst_group = ni->dst_group;
	ne->n_groups = ni->nr_groups;
	ne->groups = ni->groups;
	if (ni->state == NL_CONNECTED && ni->dst_group > 32) {
		pr_err("unsupported: pid %d fd %d is a netlink socket connected to group %u",
		       p->pid, p->fd, ni->dst_group);
		return -ENOTSUP;
	}
	return 0;
}

static int nl_dump(struct dump_ctx *ctx, struct file_parms *p, uint32_t id)
{
	NetlinkSkEntry ne = NETLINK_SK_ENTRY__INIT;
	SkOptsEntry opts = SK_OPTS_ENTRY__INIT;
	FileEntry fe = FILE_ENTRY__INIT;
	char what[64];
	struct nl_info *ni;
	int ret;

	ni = calloc(1, sizeof(*ni));
	if (!ni)
		return -ENOMEM;
	snprintf(what, sizeof(what), "pid %d fd %d", p->pid, p->fd);
	ret = check_empty(p) ?: nl_fill(p, &ne, ni) ?:
	      sockopts_dump(p->lfd, AF_NETLINK, &opts);
	if (ret)
		goto out;
	ne.id = id;
	ne.ino = p->st.st_ino;
	ne.flags = p->flags;
	ne.fown = &p->fown;
	ne.opts = &opts;
	fe.type = FD_TYPES__NETLINKSK;
	fe.id = id;
	fe.nlsk = &ne;
	ret = img_write_msg(ctx->files_img, &fe.base);
out:
	sockopts_free(&opts);
	free(ni);
	return ret;
}

/* --- restore --- */

static int add_group(int fd, unsigned int group, const NetlinkSkEntry *ne)
{
	if (!setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)))
		return 0;
	pr_perror("netlink socket id %u: cannot join group %u", ne->id, group);
	return -errno;
}

/* The groups bind() cannot give: from word @from of the bitmap on. */
static int add_groups(int fd, const NetlinkSkEntry *ne, size_t from)
{
	int ret = 0;

	if (ne->n_groups > NL_GROUP_WORDS) {
		pr_err("netlink socket id %u: a group bitmap of %zu words", ne->id, ne->n_groups);
		return -EINVAL;
	}
	for (size_t w = from; !ret && w < ne->n_groups; w++)
		for (unsigned int b = 0; !ret && b < 32; b++)
			if (ne->groups[w] & (1u << b))
				ret = add_group(fd, w * 32 + b + 1, ne);
	return ret;
}

/*
 * The port id again.  Another socket may have taken it since (an
 * autobound port id is the pid of whoever bound first): the kernel picks
 * one then, as CRIU does.
 */
static int nl_bind(int fd, const NetlinkSkEntry *ne)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_pid = ne->portid };

	if (ne->n_groups)
		sa.nl_groups = ne->groups[0];
	if (!bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
		return 0;
	if (errno == EADDRINUSE) {
		pr_warn("netlink socket id %u: port id %u is taken, the kernel picks another",
			ne->id, ne->portid);
		sa.nl_pid = 0;
		if (!bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
			return 0;
	}
	pr_perror("netlink socket id %u: cannot bind it to port id %u", ne->id, ne->portid);
	return -errno;
}

static int nl_connect(int fd, const NetlinkSkEntry *ne)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_pid = ne->dst_portid };

	if (ne->state != NL_CONNECTED)
		return 0;
	if (ne->dst_group > 32) {
		pr_err("netlink socket id %u: connected to group %u", ne->id, ne->dst_group);
		return -EINVAL;
	}
	if (ne->dst_group)
		sa.nl_groups = 1u << (ne->dst_group - 1);
	if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		return 0;
	pr_perror("netlink socket id %u: cannot connect it to %u", ne->id, ne->dst_portid);
	return -errno;
}

static int nl_setup(int fd, const NetlinkSkEntry *ne)
{
	char what[48];
	int ret;

	snprintf(what, sizeof(what), "netlink socket id %u", ne->id);
	if (ne->portid)
		ret = nl_bind(fd, ne) ?: add_groups(fd, ne, 1);
	else
		ret = add_groups(fd, ne, 0);
	ret = ret ?: nl_connect(fd, ne) ?: sockopts_restore(fd, ne->opts) ?:
	      sockopts_restore_reuse(fd, ne->opts);
	if (!ret && fcntl(fd, F_SETFL, ne->flags & RST_SETFL_MASK)) {
		pr_perror("%s: cannot set its flags", what);
		ret = -errno;
	}
	return ret;
}

static int nl_restore_open(struct rst_ctx *ctx, struct rst_file *f)
{
	const NetlinkSkEntry *ne = f->fe->nlsk;
	int fd, ret;

	if (!ne->opts) {
		pr_err("netlink socket id %u: its entry has no options", ne->id);
		return -EINVAL;
	}
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, ne->protocol);
	if (fd < 0) {
		pr_perror("netlink socket id %u: cannot create one of protocol %u", ne->id,
			  ne->protocol);
		return -errno;
	}
	ret = nl_setup(fd, ne);
	if (ret) {
		close(fd);
		return ret;
	}
	return rst_pool_add(ctx, fd);
}

static const void *nl_part(const FileEntry *fe)
{
	return fe->nlsk;
}

static const FownEntry *nl_fown(struct rst_ctx *ctx, const FileEntry *fe)
{
	(void)ctx;
	return fe->nlsk->fown;
}

const struct fd_kind netlink_fd_kind = {
	.name = "netlink socket",
	.type = FD_TYPES__NETLINKSK,
	.match = nl_match,
	.dump = nl_dump,
	.part = nl_part,
	.fown = nl_fown,
	.open = nl_restore_open,
};
