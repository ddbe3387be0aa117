/*
 * net.c - a net namespace: its links, their flags, MTU and MAC address
 * (netdev-ID.img), as CRIU keeps them; net-conf.c keeps the rest (the
 * sysctls, and what ip, iptables and nft print of addresses, routes,
 * rules and firewall).
 *
 * Links: the loopback, and veth devices.  A veth whose peer is outside is
 * recreated with its peer in stasis's own namespace, named as CRIU names
 * it, by --external veth[INSIDE]:OUTSIDE; a pair with both ends inside
 * comes back as a pair.  Any other kind of link is refused by name.
 *
 * The namespace itself may be the caller's (--external net[INO]:KEY at
 * dump: only the key is kept; --inherit-fd fd[N]:KEY at restore gives it
 * and the tree joins it) or left for the caller to fill (--empty-ns net).
 *
 * Both halves run inside the namespace: the dump with stasis moved into
 * it, the restore in the controller just moved into a new one, before the
 * pool of shared files (and sockets) is made there (ns.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "dump.h"
#include "log.h"
#include "netdev.pb-c.h"
#include "ns/net.h"
#include "ns/ns.h"
#include "restore.h"

/* --- rtnetlink --- */

struct nlreq {
	struct nlmsghdr h;
	struct ifinfomsg i;
	char buf[1024];
};

static int nl_put(struct nlreq *q, int type, const void *data, size_t len)
{
	struct nlmsghdr *h = &q->h;
	struct rtattr *a = (struct rtattr *)((char *)q + NLMSG_ALIGN(h->nlmsg_len));
	size_t end = NLMSG_ALIGN(h->nlmsg_len) + RTA_SPACE(len);

	if (end > sizeof(*q))
		return -E2BIG;
	a->rta_type = type;
	a->rta_len = RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(a), data, len);
	h->nlmsg_len = end;
	return 0;
}

/* Open attribute @type; nl_end() closes it around what was put since. */
static struct rtattr *nl_nest(struct nlreq *q, int type)
{
	struct rtattr *a = (struct rtattr *)((char *)q + NLMSG_ALIGN(q->h.nlmsg_len));

	return nl_put(q, type, NULL, 0) ? NULL : a;
}

static void nl_end(struct nlreq *q, struct rtattr *a)
{
	a->rta_len = (char *)q + q->h.nlmsg_len - (char *)a;
}

typedef int (*nl_fn)(struct nlmsghdr *h, void *arg);

/*
 * Send @h on rtnetlink socket @sk and read the answer to its end: the
 * dump's last message, or the acknowledgement.  Every other message goes
 * to @fn.  0, or -errno: the kernel's refusal or @fn's.
 */
static int nl_talk(int sk, struct nlmsghdr *h, nl_fn fn, void *arg)
{
	static uint32_t seq;
	char buf[32768] __attribute__((aligned(8)));
	/* NLM_F_DUMP is two bits; a NEWLINK's NLM_F_EXCL is one of them. */
	bool dump = (h->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
	ssize_t n;
	int ret = 0;

	h->nlmsg_seq = ++seq;
	if (send(sk, h, h->nlmsg_len, 0) != (ssize_t)h->nlmsg_len)
		return -errno;
	while ((n = recv(sk, buf, sizeof(buf), 0)) > 0) {
		int left = n;

		for (struct nlmsghdr *m = (void *)buf; NLMSG_OK(m, (unsigned)left);
		     m = NLMSG_NEXT(m, left)) {
			if (m->nlmsg_seq != seq)
				continue;
			if (m->nlmsg_type == NLMSG_DONE)
				return ret;
			if (m->nlmsg_type == NLMSG_ERROR) {
				int err = ((struct nlmsgerr *)NLMSG_DATA(m))->error;

				if (err || !dump)
					return err ?: ret;
				continue;
			}
			if (!ret && fn)
				ret = fn(m, arg);
			if (!dump && !(h->nlmsg_flags & NLM_F_ACK))
				return ret;
		}
	}
	return n < 0 ? -errno : -EIO;
}

static int nl_open(void)
{
	int sk = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (sk < 0)
		pr_perror("net namespace: cannot open an rtnetlink socket");
	return sk < 0 ? -errno : sk;
}

/* --- dump --- */

struct link {
	int index, arphrd;
	unsigned int flags, mtu;
	int peer, peer_nsid, master;	/* IFLA_LINK, IFLA_LINK_NETNSID, IFLA_MASTER; -1 none */
	char name[IFNAMSIZ], kind[32];
	uint8_t addr[32];
	size_t addr_len;
};

struct links {
	struct link *l;
	size_t nr;
};

static void link_info(struct link *k, struct rtattr *a, int len)
{
	for (a = RTA_DATA(a); RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == IFLA_INFO_KIND)
			snprintf(k->kind, sizeof(k->kind), "%.*s", (int)RTA_PAYLOAD(a),
				 (char *)RTA_DATA(a));
}

static void link_attrs(struct link *k, struct rtattr *a, int len)
{
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		void *d = RTA_DATA(a);
		size_t n = RTA_PAYLOAD(a);

		if (a->rta_type == IFLA_IFNAME)
			snprintf(k->name, sizeof(k->name), "%.*s", (int)n, (char *)d);
		else if (a->rta_type == IFLA_MTU && n >= 4)
			k->mtu = *(uint32_t *)d;
		else if (a->rta_type == IFLA_LINK && n >= 4)
			k->peer = *(int32_t *)d;
		else if (a->rta_type == IFLA_LINK_NETNSID && n >= 4)
			k->peer_nsid = *(int32_t *)d;
		else if (a->rta_type == IFLA_MASTER && n >= 4)
			k->master = *(int32_t *)d;
		else if (a->rta_type == IFLA_ADDRESS && n <= sizeof(k->addr)) {
			memcpy(k->addr, d, n);
			k->addr_len = n;
		} else if (a->rta_type == IFLA_LINKINFO)
			link_info(k, a, n);
	}
}

static int link_add(struct nlmsghdr *h, void *arg)
{
	struct links *ls = arg;
	struct ifinfomsg *ifi = NLMSG_DATA(h);
	struct link *k, *l;

	if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
		return 0;
	l = realloc(ls->l, (ls->nr + 1) * sizeof(*l));
	if (!l)
		return -ENOMEM;
	ls->l = l;
	k = &l[ls->nr++];
	*k = (struct link){ .index = ifi->ifi_index, .arphrd = ifi->ifi_type,
			    .flags = ifi->ifi_flags, .peer = -1, .peer_nsid = -1, .master = -1 };
	link_attrs(k, IFLA_RTA(ifi), IFLA_PAYLOAD(h));
	return 0;
}

static int links_list(int sk, struct links *ls)
{
	struct nlreq q = {
		.h = { NLMSG_LENGTH(sizeof(struct ifinfomsg)), RTM_GETLINK,
		       NLM_F_REQUEST | NLM_F_DUMP, 0, 0 },
		.i = { .ifi_family = AF_UNSPEC },
	};
	int ret = nl_talk(sk, &q.h, link_add, ls);

	if (ret)
		pr_err("net namespace: cannot list its links: %s", strerror(-ret));
	return ret;
}

static int peer_name_fn(struct nlmsghdr *h, void *arg)
{
	struct link *k = arg;
	struct ifinfomsg *ifi = NLMSG_DATA(h);

	if (h->nlmsg_type == RTM_NEWLINK && h->nlmsg_len >= NLMSG_LENGTH(sizeof(*ifi)))
		link_attrs(k, IFLA_RTA(ifi), IFLA_PAYLOAD(h));
	return 0;
}

/* Say how to get veth @k's peer, outside, back under its name. */
static void veth_hint(int sk, const struct link *k)
{
	struct link peer = { .peer = -1, .peer_nsid = -1, .master = -1 };
	struct nlreq q = {
		.h = { NLMSG_LENGTH(sizeof(struct ifinfomsg)), RTM_GETLINK, NLM_F_REQUEST, 0, 0 },
		.i = { .ifi_family = AF_UNSPEC, .ifi_index = k->peer },
	};
	int32_t nsid = k->peer_nsid;

	if (nl_put(&q, IFLA_TARGET_NETNSID, &nsid, sizeof(nsid)) ||
	    nl_talk(sk, &q.h, peer_name_fn, &peer) || !peer.name[0])
		pr_info("net namespace: veth %s has its peer (ifindex %d) outside; restore it "
			"with --external veth[%s]:NAME", k->name, k->peer, k->name);
	else
		pr_info("net namespace: veth %s has its peer %s outside; restore it with "
			"--external veth[%s]:%s", k->name, peer.name, k->name, peer.name);
}

/* What link @k is in netdev.proto's terms, or a refusal. */
static int link_type(const struct link *k, NdType *type)
{
	if (k->arphrd == ARPHRD_LOOPBACK) {
		*type = ND_TYPE__LOOPBACK;
		return 0;
	}
	if (k->master >= 0) {
		pr_err("unsupported: net namespace link %d (%s) is a port of link %d", k->index,
		       k->name, k->master);
		return -ENOTSUP;
	}
	if (!strcmp(k->kind, "veth")) {
		*type = ND_TYPE__VETH;
		return 0;
	}
	if (k->kind[0])
		pr_err("unsupported: net namespace link %d (%s) is a %s", k->index, k->name,
		       k->kind);
	else
		pr_err("unsupported: net namespace link %d (%s) is a device of type %d", k->index,
		       k->name, k->arphrd);
	return -ENOTSUP;
}

static int link_dump(struct img *img, int sk, const struct link *k, uint32_t id)
{
	NetDeviceEntry e = NET_DEVICE_ENTRY__INIT;
	int ret;

	ret = link_type(k, &e.type);
	if (ret)
		return ret;
	e.ifindex = k->index;
	e.mtu = k->mtu;
	e.flags = k->flags;
	e.name = (char *)k->name;
	/* As CRIU: a link with no peer elsewhere is its own peer, in here. */
	e.has_peer_ifindex = true;
	e.peer_ifindex = k->peer >= 0 ? k->peer : k->index;
	if (k->peer_nsid < 0) {
		e.has_peer_nsid = true;
		e.peer_nsid = id;
	} else if (e.type == ND_TYPE__VETH) {
		veth_hint(sk, k);
	}
	if (e.type != ND_TYPE__LOOPBACK && k->addr_len) {
		e.has_address = true;
		e.address.data = (uint8_t *)k->addr;
		e.address.len = k->addr_len;
	}
	ret = net_link_conf_dump(&e) ?: img_write_msg(img, &e.base);
	pr_info("net namespace %u: link %d %s, type %d, flags %#x, mtu %u", id, k->index, k->name,
		e.type, k->flags, k->mtu);
	net_link_conf_free(&e);
	return ret;
}

static int links_dump(struct dump_ctx *ctx, uint32_t id)
{
	struct links ls = { NULL, 0 };
	struct img *img = NULL;
	int sk, ret;

	sk = nl_open();
	if (sk < 0)
		return sk;
	ret = links_list(sk, &ls) ?: img_open(&img, ctx->dirfd, IMG_NETDEV, id, O_WRONLY);
	for (size_t i = 0; !ret && i < ls.nr; i++)
		ret = link_dump(img, sk, &ls.l[i], id);
	ret = img_close(img) ?: ret;
	close(sk);
	free(ls.l);
	return ret;
}

/* Run @argv with its output in the raw image @fmt (@id). */
static const char *ext_key(const struct opts *o)
{
	struct stat st;
	char key[40];

	if (stat("/proc/self/ns/net", &st))
		return NULL;
	snprintf(key, sizeof(key), "net[%lu]", (unsigned long)st.st_ino);
	return opts_external_value(o, key);
}

static int net_dump(struct dump_ctx *ctx, uint32_t id)
{
	const char *key = ext_key(ctx->opts);
	int ret;

	if (key) {
		pr_info("net namespace %u is external, key %s: only the key is kept", id, key);
		return net_netns_dump(ctx, id, key);
	}
	if (ctx->opts->empty_ns & CLONE_NEWNET) {
		struct img *img;

		/* As CRIU: netns-ID.img without an entry, the rest not written. */
		pr_info("net namespace %u: --empty-ns net: its contents are the caller's", id);
		ret = img_open(&img, ctx->dirfd, IMG_NETNS, id, O_WRONLY);
		return ret ?: img_close(img);
	}
	ret = links_dump(ctx, id) ?: net_tools_dump(ctx, id) ?: net_netns_dump(ctx, id, NULL);
	if (ret == -ENOMEM)
		pr_err("net namespace %u: out of memory", id);
	return ret;
}

/* --- restore --- */

/* Read by ->prepare, in stasis's own namespaces; used by ->restore in the new one. */
static struct {
	NetnsEntry *ns;		/* netns-ID.img; NULL: none (an --empty-ns dump) */
	int join;		/* the namespace to join (--inherit-fd's, --join-ns), or -1 */
	bool join_ours;		/* join is ours to close (--join-ns) */
	int own;		/* stasis's own namespace, where outside veth peers go */
	bool empty;		/* --empty-ns net */
} rst = { NULL, -1, false, -1, false };

static void rst_drop(void)
{
	if (rst.ns)
		img_free_msg(&rst.ns->base);
	if (rst.own >= 0)
		close(rst.own);
	rst.ns = NULL;
	if (rst.join >= 0 && rst.join_ours)
		close(rst.join);
	rst.own = rst.join = -1;
	rst.join_ours = false;
}

static int net_prepare(struct rst_ctx *ctx, uint32_t id)
{
	struct img *img;
	int ret;

	rst_drop();
	rst.empty = ctx->opts->empty_ns & CLONE_NEWNET;
	if (ctx->opts->join_ns_net) {
		/* What the images say of the namespace is not used: it is there. */
		rst.join = open(ctx->opts->join_ns_net, O_RDONLY | O_CLOEXEC);
		if (rst.join < 0) {
			pr_perror("--join-ns net:%s", ctx->opts->join_ns_net);
			return -errno;
		}
		rst.join_ours = true;
		pr_info("net namespace %u: the tree joins %s", id, ctx->opts->join_ns_net);
		return 0;
	}
	ret = img_open(&img, ctx->dirfd, IMG_NETNS, id, O_RDONLY);
	if (ret == -ENOENT)
		pr_err("netns-%u.img: missing, named by the root's ids", id);
	if (ret)
		return ret;
	/* No entry (0): a dump with --empty-ns net. */
	ret = img_read_msg(img, &netns_entry__descriptor, (ProtobufCMessage **)&rst.ns);
	img_close(img);
	if (ret < 0)
		return ret;
	if (rst.ns && rst.ns->ext_key) {
		rst.join = opts_inherited_fd(ctx->opts, rst.ns->ext_key);
		if (rst.join < 0) {
			pr_err("net namespace %u is external (key %s): give it with "
			       "--inherit-fd fd[N]:%s", id, rst.ns->ext_key, rst.ns->ext_key);
			return -ENOENT;
		}
		pr_info("net namespace %u: the root joins the one given for %s", id,
			rst.ns->ext_key);
		return 0;
	}
	rst.own = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (rst.own < 0) {
		pr_perror("cannot open stasis's own net namespace");
		return -errno;
	}
	return 0;
}

static NetDeviceEntry *link_by_index(NetDeviceEntry **l, size_t n, uint32_t index)
{
	for (size_t i = 0; i < n; i++)
		if (l[i]->ifindex == index)
			return l[i];
	return NULL;
}

/* The request that makes or sets link @e: name, index, flags, MTU, address. */
static int link_req(struct nlreq *q, const NetDeviceEntry *e, int type, bool create)
{
	memset(q, 0, sizeof(*q));
	q->h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
	q->h.nlmsg_type = type;
	q->h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (create ? NLM_F_CREATE | NLM_F_EXCL : 0);
	q->i.ifi_family = AF_UNSPEC;
	q->i.ifi_index = e->ifindex;
	q->i.ifi_flags = e->flags;
	q->i.ifi_change = ~0U;
	return nl_put(q, IFLA_IFNAME, e->name, strlen(e->name) + 1) ?:
	       nl_put(q, IFLA_MTU, &e->mtu, sizeof(e->mtu)) ?:
	       (e->has_address ? nl_put(q, IFLA_ADDRESS, e->address.data, e->address.len) : 0);
}

/*
 * The peer of veth @e, in the request's VETH_INFO_PEER: @peer inside, or
 * outside in stasis's namespace, named as --external veth[NAME]:OUTSIDE says.
 */
static int veth_peer(struct rst_ctx *ctx, struct nlreq *h, const NetDeviceEntry *e,
		     const NetDeviceEntry *peer)
{
	struct ifinfomsg pi = { .ifi_family = AF_UNSPEC };
	struct rtattr *info, *data, *pa;
	char key[IFNAMSIZ + 8], name[IFNAMSIZ] = "";
	const char *out;
	int ret;

	if (peer) {
		pi.ifi_index = peer->ifindex;
		snprintf(name, sizeof(name), "%s", peer->name);
	} else {
		snprintf(key, sizeof(key), "veth[%s]", e->name);
		out = opts_external_value(ctx->opts, key);
		if (out)
			snprintf(name, sizeof(name), "%.*s", (int)strcspn(out, "@"), out);
		else
			pr_warn("veth %s: no --external veth[%s]:NAME: the kernel names its peer "
				"outside", e->name, e->name);
	}
	info = nl_nest(h, IFLA_LINKINFO);
	if (!info || nl_put(h, IFLA_INFO_KIND, "veth", 4))
		return -E2BIG;
	data = nl_nest(h, IFLA_INFO_DATA);
	pa = data ? nl_nest(h, VETH_INFO_PEER) : NULL;
	if (!pa)
		return -E2BIG;
	/* The peer's ifinfomsg, then its attributes, all inside VETH_INFO_PEER. */
	if (h->h.nlmsg_len + NLMSG_ALIGN(sizeof(pi)) > sizeof(*h))
		return -E2BIG;
	memcpy(RTA_DATA(pa), &pi, sizeof(pi));
	h->h.nlmsg_len += NLMSG_ALIGN(sizeof(pi));
	ret = name[0] ? nl_put(h, IFLA_IFNAME, name, strlen(name) + 1) : 0;
	if (!ret && !peer)
		ret = nl_put(h, IFLA_NET_NS_FD, &rst.own, sizeof(rst.own));
	if (ret)
		return ret;
	nl_end(h, pa);
	nl_end(h, data);
	nl_end(h, info);
	return 0;
}

/*
 * Send @q for link @e.  A veth's peer outside may still have its name: the
 * kernel frees the dumped namespace, and the pair with it, some time after
 * the dumped tree is gone.  So a name taken is asked again for a while.
 */
static int link_talk(int sk, struct nlreq *q, const NetDeviceEntry *e)
{
	const struct timespec pause = { 0, 10 * 1000 * 1000 };
	int ret, tries = 0;

	while ((ret = nl_talk(sk, &q->h, NULL, NULL)) == -EEXIST && e->type == ND_TYPE__VETH &&
	       ++tries < 300)
		nanosleep(&pause, NULL);
	if (tries)
		pr_info("veth %s: its name or its peer's was taken, %d times", e->name, tries);
	return ret;
}

static int link_restore(struct rst_ctx *ctx, uint32_t id, int sk, NetDeviceEntry **l, size_t n,
			size_t i, bool *made)
{
	const NetDeviceEntry *e = l[i], *peer = NULL;
	struct nlreq q;
	int ret;

	if (made[i])
		return 0;	/* the peer of one made before */
	switch (e->type) {
	case ND_TYPE__LOOPBACK:
		ret = link_req(&q, e, RTM_NEWLINK, false);
		break;
	case ND_TYPE__VETH:
		if (e->has_peer_nsid && e->peer_nsid != id) {
			pr_err("unsupported: veth %s has its peer in net namespace %u, another "
			       "one of the dump", e->name, e->peer_nsid);
			return -ENOTSUP;
		}
		if (e->has_peer_nsid && e->has_peer_ifindex) {
			peer = link_by_index(l, n, e->peer_ifindex);
			if (!peer || peer == e) {
				pr_err("veth %s: its peer %u is not in netdev-%u.img", e->name,
				       e->peer_ifindex, id);
				return -EINVAL;
			}
		}
		ret = link_req(&q, e, RTM_NEWLINK, true) ?: veth_peer(ctx, &q, e, peer);
		break;
	default:
		pr_err("unsupported: net namespace link %u (%s) of type %d", e->ifindex, e->name,
		       e->type);
		return -ENOTSUP;
	}
	if (!ret)
		ret = link_talk(sk, &q, e);
	if (ret) {
		pr_err("net namespace: cannot restore link %u (%s): %s", e->ifindex, e->name,
		       strerror(-ret));
		return ret;
	}
	made[i] = true;
	for (size_t j = 0; peer && j < n; j++)
		made[j] = made[j] || l[j] == peer;
	return 0;
}

static int links_read(struct rst_ctx *ctx, uint32_t id, NetDeviceEntry ***out, size_t *n)
{
	NetDeviceEntry **l = NULL, *e;
	struct img *img;
	int ret;

	*out = NULL;
	*n = 0;
	ret = img_open(&img, ctx->dirfd, IMG_NETDEV, id, O_RDONLY);
	if (ret == -ENOENT)
		return 0;
	while (!ret && (ret = img_read_msg(img, &net_device_entry__descriptor,
					   (ProtobufCMessage **)&e)) == 1) {
		NetDeviceEntry **m = realloc(l, (*n + 1) * sizeof(*l));

		if (!m) {
			img_free_msg(&e->base);
			ret = -ENOMEM;
			break;
		}
		l = m;
		l[(*n)++] = e;
		ret = 0;
	}
	img_close(img);
	*out = l;
	return ret;
}

/* Links, then their sysctls (a new device took the namespace's defaults). */
static int links_restore(struct rst_ctx *ctx, uint32_t id)
{
	NetDeviceEntry **l;
	bool *made = NULL;
	size_t n;
	int sk, ret;

	ret = links_read(ctx, id, &l, &n);
	sk = ret ? -1 : nl_open();
	if (sk < 0)
		ret = ret ?: sk;
	made = ret ? NULL : calloc(n + 1, sizeof(*made));
	if (!ret && !made)
		ret = -ENOMEM;
	for (size_t i = 0; !ret && i < n; i++)
		ret = link_restore(ctx, id, sk, l, n, i, made);
	for (size_t i = 0; !ret && i < n; i++)
		ret = net_link_conf_restore(l[i], rst.ns);
	for (size_t i = 0; i < n; i++)
		img_free_msg(&l[i]->base);
	free(l);
	free(made);
	if (sk >= 0)
		close(sk);
	return ret;
}

static int net_restore(struct rst_ctx *ctx, uint32_t id)
{
	int ret;

	if (rst.join >= 0) {
		/* The one just made is dropped: the tree's is the caller's. */
		ret = setns(rst.join, CLONE_NEWNET) ? -errno : 0;
		if (ret)
			pr_perror("net namespace %u: cannot join the one given", id);
		if (rst.join_ours)
			close(rst.join);	/* --inherit-fd's is not ours to close */
		rst.join = -1;
		rst.join_ours = false;
		return ret;
	}
	if (rst.empty) {
		pr_info("net namespace %u: --empty-ns net: left for the caller to fill", id);
		return 0;
	}
	ret = net_netns_restore(rst.ns) ?: links_restore(ctx, id) ?: net_tools_restore(ctx, id);
	if (rst.own >= 0)
		close(rst.own);
	rst.own = -1;
	return ret;
}

const struct ns_operations net_ns_ops = {
	.name = "net",
	.cflag = CLONE_NEWNET,
	.dump = net_dump,
	.prepare = net_prepare,
	.restore = net_restore,
};
