/*
 * net.c - a net namespace: its links, their flags, MTU and MAC address
 * (netdev-ID.img), as CRIU keeps them; net-conf.c keeps the rest (the
 * sysctls, and what ip, iptables and nft print of addresses, routes,
 * rules and firewall).
 *
 * Links: each kind in net-link.c's table (loopback, veth, bridge,
 * macvlan); any other kind is refused by name.  A port of a bridge joins
 * its master once every link is made.

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
#include <unistd.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "dump.h"
#include "log.h"
#include "netdev.pb-c.h"
#include "ns/net.h"
#include "ns/ns.h"
#include "restore.h"

/* --- rtnetlink --- */

int nl_put(struct nlreq *q, int type, const void *data, size_t len)
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

struct rtattr *nl_nest(struct nlreq *q, int type)
{
	struct rtattr *a = (struct rtattr *)((char *)q + NLMSG_ALIGN(q->h.nlmsg_len));

	return nl_put(q, type, NULL, 0) ? NULL : a;
}

void nl_end(struct nlreq *q, struct rtattr *a)
{
	a->rta_len = (char *)q + q->h.nlmsg_len - (char *)a;
}

/*
 * Send @h on rtnetlink socket @sk and read the answer to its end: the
 * dump's last message, or the acknowledgement.  Every other message goes
 * to @fn.  0, or -errno: the kernel's refusal or @fn's.
 */
int nl_talk(int sk, struct nlmsghdr *h, nl_fn fn, void *arg)
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

int nl_open(int ns)
{
	int sk, own = -1, err = 0;

	if (ns >= 0) {
		own = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		if (own < 0 || setns(ns, CLONE_NEWNET)) {
			pr_perror("net namespace: cannot enter one for an rtnetlink socket");
			if (own >= 0)
				close(own);
			return -errno;
		}
	}
	sk = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (sk < 0)
		err = -errno;
	if (own >= 0 && setns(own, CLONE_NEWNET)) {
		/* Nothing more is safe in the wrong namespace. */
		pr_perror("net namespace: cannot come back from another one");
		err = -errno;
		if (sk >= 0)
			close(sk);
	}
	if (own >= 0)
		close(own);
	if (sk < 0 || err)
		pr_err("net namespace: cannot open an rtnetlink socket: %s", strerror(-err));
	return err ?: sk;
}

static int index_fn(struct nlmsghdr *h, void *arg)
{
	struct ifinfomsg *ifi = NLMSG_DATA(h);

	if (h->nlmsg_type == RTM_NEWLINK && h->nlmsg_len >= NLMSG_LENGTH(sizeof(*ifi)))
		*(int *)arg = ifi->ifi_index;
	return 0;
}

int nl_index(int sk, const char *name)
{
	struct nlreq q = {
		.h = { NLMSG_LENGTH(sizeof(struct ifinfomsg)), RTM_GETLINK, NLM_F_REQUEST, 0, 0 },
		.i = { .ifi_family = AF_UNSPEC },
	};
	int index = 0, ret;

	ret = nl_put(&q, IFLA_IFNAME, name, strlen(name) + 1) ?:
	      nl_talk(sk, &q.h, index_fn, &index);
	return ret ?: (index > 0 ? index : -ENODEV);
}

/* --- dump --- */

struct links {
	struct link *l;
	size_t nr;
};

static void link_info(struct link *k, struct rtattr *a, int len)
{
	for (a = RTA_DATA(a); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		size_t n = RTA_PAYLOAD(a);

		if (a->rta_type == IFLA_INFO_KIND)
			snprintf(k->kind, sizeof(k->kind), "%.*s", (int)n, (char *)RTA_DATA(a));
		else if (a->rta_type == IFLA_INFO_DATA && n <= sizeof(k->data)) {
			memcpy(k->data, RTA_DATA(a), n);
			k->data_len = n;
		}
	}
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

static int link_dump(struct img *img, int sk, struct link *k, uint32_t id)
{
	const struct link_kind *kind = link_kind_of(k);
	NetDeviceEntry e = NET_DEVICE_ENTRY__INIT;
	int ret;

	if (!kind)
		return -ENOTSUP;
	e.type = kind->type;
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
	} else {
		/* A peer in another namespace of the tree is named by its id; outside, by none. */
		e.peer_nsid = net_sub_peer_id(sk, k->peer_nsid, id);
		e.has_peer_nsid = e.peer_nsid != 0;
	}
	if (k->master >= 0) {
		e.has_master = true;
		e.master = k->master;
	}
	if (e.type != ND_TYPE__LOOPBACK && k->addr_len) {
		e.has_address = true;
		e.address.data = (uint8_t *)k->addr;
		e.address.len = k->addr_len;
	}
	ret = kind->dump ? kind->dump(sk, k, &e, id) : 0;
	ret = ret ?: net_link_conf_dump(&e) ?: img_write_msg(img, &e.base);
	pr_info("net namespace %u: link %d %s, %s, flags %#x, mtu %u%s", id, k->index, k->name,
		kind->name, k->flags, k->mtu, k->master >= 0 ? ", a port" : "");
	net_link_conf_free(&e);
	return ret;
}

static int links_dump(struct dump_ctx *ctx, uint32_t id)
{
	struct links ls = { NULL, 0 };
	struct img *img = NULL;
	int sk, ret;

	sk = nl_open(-1);
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

int net_dump_one(struct dump_ctx *ctx, uint32_t id)
{
	return links_dump(ctx, id) ?: net_tools_dump(ctx, id) ?: net_netns_dump(ctx, id, NULL);
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
	ret = net_dump_one(ctx, id) ?: net_sub_dump(ctx, id);
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
	int own;		/* stasis's own namespace: outside peers, macvlan parents */
	bool empty;		/* --empty-ns net */
	bool late;		/* the firewall is left for net_restore_late() */
} rst = { NULL, -1, false, -1, false, false };

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

/* Each port into its bridge, once both are made (as CRIU, after the links). */
static int link_master(struct link_rst *r, const NetDeviceEntry *e)
{
	struct nlreq q = {
		.h = { NLMSG_LENGTH(sizeof(struct ifinfomsg)), RTM_NEWLINK,
		       NLM_F_REQUEST | NLM_F_ACK, 0, 0 },
		.i = { .ifi_family = AF_UNSPEC, .ifi_index = e->ifindex },
	};
	int32_t master = e->master;
	int ret;

	ret = nl_put(&q, IFLA_MASTER, &master, sizeof(master)) ?: nl_talk(r->sk, &q.h, NULL, NULL);
	if (ret)
		pr_err("net namespace: cannot make link %s a port of link %u: %s", e->name,
		       e->master, strerror(-ret));
	return ret;
}

static int link_restore(struct link_rst *r, size_t i)
{
	const NetDeviceEntry *e = r->l[i];
	const struct link_kind *kind = link_kind_by_type(e->type);
	int ret;

	if (r->made[i])
		return 0;	/* the peer of one made before */
	if (!kind) {
		pr_err("unsupported: net namespace link %u (%s) of type %d", e->ifindex, e->name,
		       e->type);
		return -ENOTSUP;
	}
	ret = kind->restore(r, i);
	r->made[i] = !ret;
	return ret;
}

static int links_make(struct link_rst *r)
{
	int ret = 0;

	r->made = calloc(r->n + 1, sizeof(*r->made));
	r->sk = nl_open(-1);
	r->own_sk = nl_open(rst.own);
	r->self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (!r->made)
		ret = -ENOMEM;
	else if (r->sk < 0 || r->own_sk < 0)
		ret = r->sk < 0 ? r->sk : r->own_sk;
	else if (r->self < 0)
		ret = -errno;
	for (size_t i = 0; !ret && i < r->n; i++)
		ret = link_restore(r, i);
	for (size_t i = 0; !ret && i < r->n; i++)
		if (r->l[i]->has_master)
			ret = link_master(r, r->l[i]);
	return ret;
}

/* Links, then their sysctls (a new device took the namespace's defaults). */
static int links_restore(struct rst_ctx *ctx, uint32_t id, const NetnsEntry *ns)
{
	struct link_rst r = { .ctx = ctx, .id = id, .sk = -1, .own_sk = -1, .own = rst.own,
			      .self = -1 };
	int ret;

	ret = links_read(ctx, id, &r.l, &r.n) ?: links_make(&r);
	for (size_t i = 0; !ret && i < r.n; i++)
		ret = net_link_conf_restore(r.l[i], ns);
	for (size_t i = 0; i < r.n; i++)
		img_free_msg(&r.l[i]->base);
	free(r.l);
	free(r.made);
	if (r.sk >= 0)
		close(r.sk);
	if (r.own_sk >= 0)
		close(r.own_sk);
	if (r.self >= 0)
		close(r.self);
	return ret;
}

int net_restore_one(struct rst_ctx *ctx, uint32_t id, const NetnsEntry *ns)
{
	return net_netns_restore(ns) ?: links_restore(ctx, id, ns) ?: net_tools_restore(ctx, id);
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
	/* The others made first (empty): a veth of this one may have its peer there. */
	ret = net_sub_make(ctx, id) ?: net_restore_one(ctx, id, rst.ns);
	/*
	 * Under an nft lock the tree's own rules go in after its sockets
	 * (net_restore_late()): a drop of theirs would take the segments
	 * libsoccr injects, which the lock's own table lets by, and nft has
	 * no accept that overrides another table's drop.  An iptables lock
	 * jumps to its chain first: the rules go in now, as CRIU does.
	 */
	rst.late = ctx->network_lock == NETWORK_LOCK_NFTABLES;
	if (!ret && !rst.late)
		ret = net_firewall_restore(ctx, id);
	/* The tree's other namespaces, made from here; the controller comes back to this one. */
	ret = ret ?: net_sub_restore(ctx, id);
	if (rst.own >= 0)
		close(rst.own);
	rst.own = -1;
	return ret;
}

static int net_restore_late(struct rst_ctx *ctx, uint32_t id)
{
	bool late = rst.late;

	rst.late = false;
	return late ? net_firewall_restore(ctx, id) : 0;
}

const struct ns_operations net_ns_ops = {
	.name = "net",
	.cflag = CLONE_NEWNET,
	.dump = net_dump,
	.prepare = net_prepare,
	.restore = net_restore,
	.restore_late = net_restore_late,
	.per_task = true,
	.restore_task = net_restore_task,
};
