/*
 * net-link.c - the kinds of link a net namespace may hold, one entry each
 * in links[]: how the dump tells it (IFLA_INFO_KIND), what of it
 * netdev-ID.img keeps beyond the fields every link has (net.c), and how
 * the restore makes it again, with its dumped index, name and address.
 *
 *   loopback  made with the namespace: only its settings go back.
 *   veth      a pair inside comes back as a pair, and so does one whose
 *             peer is in another namespace of the tree.  A peer outside comes
 *             back in stasis's own namespace, named as --external
 *             veth[IN]:OUT[@BRIDGE] says (and made a port of BRIDGE there,
 *             up); or, by --external netdev[IN]:OUT, the existing device
 *             OUT of stasis's namespace is moved in as IN (as CRIU).
 *   bridge    made empty; its ports join it once every link is made (net.c).
 *   tun       a tun or tap device (files/tun.c, with the files on it).
 *   macvlan   its parent is outside: made from stasis's namespace on the
 *             device --external macvlan[IN]:PARENT names, straight into
 *             the new namespace (IFLA_NET_NS_FD).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <net/if_arp.h>
#include <linux/if_link.h>
#include <linux/veth.h>

#include "log.h"
#include "ns/net.h"
#include "opts.h"
#include "rst-ctx.h"

/* The request that makes (@create) or sets link @e: name, index, flags, MTU, address. */
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

/* IFLA_LINKINFO with IFLA_INFO_KIND @kind, left open for IFLA_INFO_DATA. */
static struct rtattr *link_info(struct nlreq *q, const char *kind)
{
	struct rtattr *info = nl_nest(q, IFLA_LINKINFO);

	if (!info || nl_put(q, IFLA_INFO_KIND, kind, strlen(kind)))
		return NULL;
	return info;
}

static int link_said(int ret, const NetDeviceEntry *e)
{
	if (ret)
		pr_err("net namespace: cannot restore link %u (%s): %s", e->ifindex, e->name,
		       strerror(-ret));
	return ret;
}

/* The value of --external KIND[NAME]:VALUE for link @e, or NULL. */
static const char *link_external(struct link_rst *r, const char *kind, const NetDeviceEntry *e)
{
	char key[IFNAMSIZ + 16];

	snprintf(key, sizeof(key), "%s[%s]", kind, e->name);
	return opts_external_value(r->ctx->opts, key);
}

/* --- loopback --- */

int net_link_set(struct link_rst *r, const NetDeviceEntry *e)
{
	struct nlreq q;

	return link_said(link_req(&q, e, RTM_NEWLINK, false) ?: nl_talk(r->sk, &q.h, NULL, NULL),
			 e);
}

static int lo_restore(struct link_rst *r, size_t i)
{
	return net_link_set(r, r->l[i]);
}

/* --- veth --- */

static int peer_name_fn(struct nlmsghdr *h, void *arg)
{
	struct ifinfomsg *ifi = NLMSG_DATA(h);
	char *name = arg;
	int len = IFLA_PAYLOAD(h);

	if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
		return 0;
	for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == IFLA_IFNAME)
			snprintf(name, IFNAMSIZ, "%.*s", (int)RTA_PAYLOAD(a), (char *)RTA_DATA(a));
	return 0;
}

/* Say how to get veth @k's peer, outside, back under its name. */
static int veth_dump(int sk, struct link *k, NetDeviceEntry *e, uint32_t id)
{
	struct nlreq q = {
		.h = { NLMSG_LENGTH(sizeof(struct ifinfomsg)), RTM_GETLINK, NLM_F_REQUEST, 0, 0 },
		.i = { .ifi_family = AF_UNSPEC, .ifi_index = k->peer },
	};
	int32_t nsid = k->peer_nsid;
	char peer[IFNAMSIZ] = "";

	(void)e;
	if (k->peer_nsid < 0)
		return 0;
	if (nl_put(&q, IFLA_TARGET_NETNSID, &nsid, sizeof(nsid)) ||
	    nl_talk(sk, &q.h, peer_name_fn, peer) || !peer[0])
		pr_info("net namespace %u: veth %s has its peer (ifindex %d) outside; restore it "
			"with --external veth[%s]:NAME", id, k->name, k->peer, k->name);
	else
		pr_info("net namespace %u: veth %s has its peer %s outside; restore it with "
			"--external veth[%s]:%s", id, k->name, peer, k->name, peer);
	return 0;
}

/*
 * The peer of veth @e, in the request's VETH_INFO_PEER: @peer inside, or
 * outside in stasis's namespace, named @out (NULL: the kernel names it).
 */
static int veth_peer(struct link_rst *r, struct nlreq *q, const NetDeviceEntry *peer,
		     const char *out)
{
	struct ifinfomsg pi = { .ifi_family = AF_UNSPEC };
	struct rtattr *info, *data, *pa;
	char name[IFNAMSIZ] = "";
	int ret;

	if (peer) {
		pi.ifi_index = peer->ifindex;
		snprintf(name, sizeof(name), "%s", peer->name);
	} else if (out) {
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(out, "@"), out);
	}
	info = link_info(q, "veth");
	data = info ? nl_nest(q, IFLA_INFO_DATA) : NULL;
	pa = data ? nl_nest(q, VETH_INFO_PEER) : NULL;
	/* The peer's ifinfomsg, then its attributes, all inside VETH_INFO_PEER. */
	if (!pa || q->h.nlmsg_len + NLMSG_ALIGN(sizeof(pi)) > sizeof(*q))
		return -E2BIG;
	memcpy(RTA_DATA(pa), &pi, sizeof(pi));
	q->h.nlmsg_len += NLMSG_ALIGN(sizeof(pi));
	ret = name[0] ? nl_put(q, IFLA_IFNAME, name, strlen(name) + 1) : 0;
	if (!ret && !peer)
		ret = nl_put(q, IFLA_NET_NS_FD, &r->own, sizeof(r->own));
	if (ret)
		return ret;
	nl_end(q, pa);
	nl_end(q, data);
	nl_end(q, info);
	return 0;
}

/*
 * Send @q for veth @e.  A peer outside may still have its name: the
 * kernel frees the dumped namespace, and the pair with it, some time after
 * the dumped tree is gone.  So a name taken is asked again for a while.
 */
static int veth_talk(int sk, struct nlreq *q, const NetDeviceEntry *e)
{
	const struct timespec pause = { 0, 10 * 1000 * 1000 };
	int ret, tries = 0;

	while ((ret = nl_talk(sk, &q->h, NULL, NULL)) == -EEXIST && ++tries < 300)
		nanosleep(&pause, NULL);
	if (tries)
		pr_info("veth %s: its name or its peer's was taken, %d times", e->name, tries);
	return ret;
}

/* OUT@BRIDGE: peer OUT, outside, made a port of BRIDGE there and up (as CRIU). */
static int veth_to_bridge(struct link_rst *r, const NetDeviceEntry *e, const char *out)
{
	const char *br = strchr(out, '@');
	char name[IFNAMSIZ];
	struct nlreq q;
	int32_t master;

	if (!br)
		return 0;
	snprintf(name, sizeof(name), "%.*s", (int)(br - out), out);
	master = nl_index(r->own_sk, br + 1);
	if (master < 0) {
		pr_err("veth %s: no bridge %s for its peer %s here", e->name, br + 1, name);
		return master;
	}
	memset(&q, 0, sizeof(q));
	q.h = (struct nlmsghdr){ NLMSG_LENGTH(sizeof(struct ifinfomsg)), RTM_NEWLINK,
				 NLM_F_REQUEST | NLM_F_ACK, 0, 0 };
	q.i = (struct ifinfomsg){ .ifi_family = AF_UNSPEC, .ifi_flags = IFF_UP,
				  .ifi_change = IFF_UP };
	return nl_put(&q, IFLA_IFNAME, name, strlen(name) + 1) ?:
	       nl_put(&q, IFLA_MASTER, &master, sizeof(master)) ?:
	       nl_talk(r->own_sk, &q.h, NULL, NULL);
}

/*
 * --external netdev[IN]:OUT: device OUT of stasis's namespace moved into
 * the new one as link @e, with its dumped index (IFLA_NEW_IFINDEX).
 */
static int link_move_in(struct link_rst *r, const NetDeviceEntry *e, const char *out)
{
	int32_t index = e->ifindex;
	struct nlreq q;
	int ret, from;

	from = nl_index(r->own_sk, out);
	if (from < 0) {
		pr_err("--external netdev[%s]:%s: no link %s here", e->name, out, out);
		return from;
	}
	ret = link_req(&q, e, RTM_NEWLINK, false);
	q.i.ifi_index = from;
	ret = ret ?: nl_put(&q, IFLA_NEW_IFINDEX, &index, sizeof(index)) ?:
		     nl_put(&q, IFLA_NET_NS_FD, &r->self, sizeof(r->self)) ?:
		     nl_talk(r->own_sk, &q.h, NULL, NULL);
	if (!ret)
		pr_info("link %s: %s moved in from stasis's namespace", e->name, out);
	return ret;
}

/*
 * Veth @e whose peer is in another namespace of the tree: the pair made
 * from the first of the two restored, the peer put straight into the
 * other (made already, empty), with its index: the kernel names it, and
 * the other, restored next, gives it its name, flags and address.
 */
static int veth_across(struct link_rst *r, const NetDeviceEntry *e)
{
	struct ifinfomsg pi = { .ifi_family = AF_UNSPEC, .ifi_index = e->peer_ifindex };
	int ns = net_sub_fd(e->peer_nsid);
	struct rtattr *info, *data, *pa;
	struct nlreq q;
	int ret;

	if (ns < 0) {
		pr_err("veth %s: its peer is in net namespace %u, which no task of the tree is in",
		       e->name, e->peer_nsid);
		return -EINVAL;
	}
	if (net_sub_link_made(r->id, e->ifindex)) {
		pr_info("veth %s: made with its peer %u in net namespace %u", e->name,
			e->peer_ifindex, e->peer_nsid);
		return link_req(&q, e, RTM_NEWLINK, false) ?: nl_talk(r->sk, &q.h, NULL, NULL);
	}
	ret = link_req(&q, e, RTM_NEWLINK, true);
	info = ret ? NULL : link_info(&q, "veth");
	data = info ? nl_nest(&q, IFLA_INFO_DATA) : NULL;
	pa = data ? nl_nest(&q, VETH_INFO_PEER) : NULL;
	if (ret || !pa || q.h.nlmsg_len + NLMSG_ALIGN(sizeof(pi)) > sizeof(q))
		return ret ?: -E2BIG;
	memcpy(RTA_DATA(pa), &pi, sizeof(pi));
	q.h.nlmsg_len += NLMSG_ALIGN(sizeof(pi));
	ret = nl_put(&q, IFLA_NET_NS_FD, &ns, sizeof(ns));
	if (ret)
		return ret;
	nl_end(&q, pa);
	nl_end(&q, data);
	nl_end(&q, info);
	return veth_talk(r->sk, &q, e) ?: net_sub_link_mark(e->peer_nsid, e->peer_ifindex);
}

static int veth_restore(struct link_rst *r, size_t i)
{
	const NetDeviceEntry *e = r->l[i], *peer = NULL;
	const char *out = link_external(r, "netdev", e);
	struct nlreq q;
	int ret;

	if (out)
		return link_said(link_move_in(r, e, out), e);
	if (e->has_peer_nsid && e->peer_nsid != r->id)
		return link_said(veth_across(r, e), e);
	for (size_t j = 0; e->has_peer_nsid && e->has_peer_ifindex && j < r->n; j++)
		if (r->l[j]->ifindex == e->peer_ifindex && j != i)
			peer = r->l[j];
	if (e->has_peer_nsid && e->has_peer_ifindex && !peer) {
		pr_err("veth %s: its peer %u is not in netdev-%u.img", e->name, e->peer_ifindex,
		       r->id);
		return -EINVAL;
	}
	out = peer ? NULL : link_external(r, "veth", e);
	if (!peer && !out)
		pr_warn("veth %s: no --external veth[%s]:NAME: the kernel names its peer outside",
			e->name, e->name);
	ret = link_req(&q, e, RTM_NEWLINK, true) ?: veth_peer(r, &q, peer, out) ?:
	      veth_talk(r->sk, &q, e) ?: (out ? veth_to_bridge(r, e, out) : 0);
	for (size_t j = 0; !ret && peer && j < r->n; j++)
		r->made[j] = r->made[j] || r->l[j] == peer;
	return link_said(ret, e);
}

/* --- bridge --- */

static int bridge_restore(struct link_rst *r, size_t i)
{
	struct rtattr *info;
	struct nlreq q;
	int ret;

	ret = link_req(&q, r->l[i], RTM_NEWLINK, true);
	info = ret ? NULL : link_info(&q, "bridge");
	if (!ret && !info)
		ret = -E2BIG;
	if (!ret) {
		nl_end(&q, info);
		ret = nl_talk(r->sk, &q.h, NULL, NULL);
	}
	return link_said(ret, r->l[i]);
}

/* --- macvlan --- */

static int macvlan_dump(int sk, struct link *k, NetDeviceEntry *e, uint32_t id)
{
	int len = k->data_len;
	bool mode = false;

	(void)sk;
	macvlan_link_entry__init(&k->macvlan);
	for (struct rtattr *a = (void *)k->data; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == IFLA_MACVLAN_MODE && RTA_PAYLOAD(a) >= 4) {
			k->macvlan.mode = *(uint32_t *)RTA_DATA(a);
			mode = true;
		} else if (a->rta_type == IFLA_MACVLAN_FLAGS && RTA_PAYLOAD(a) >= 2) {
			k->macvlan.flags = *(uint16_t *)RTA_DATA(a);
			k->macvlan.has_flags = true;
		}
	}
	if (!mode) {
		pr_err("net namespace %u: macvlan %s: the kernel gave no mode", id, k->name);
		return -EIO;
	}
	e->macvlan = &k->macvlan;
	pr_info("net namespace %u: macvlan %s has its parent outside; restore it with "
		"--external macvlan[%s]:PARENT", id, k->name, k->name);
	return 0;
}

static int macvlan_data(struct nlreq *q, const MacvlanLinkEntry *m)
{
	struct rtattr *info = link_info(q, "macvlan"), *data;
	uint16_t flags = m->flags;

	data = info ? nl_nest(q, IFLA_INFO_DATA) : NULL;
	if (!data || nl_put(q, IFLA_MACVLAN_MODE, &m->mode, sizeof(m->mode)) ||
	    (m->has_flags && nl_put(q, IFLA_MACVLAN_FLAGS, &flags, sizeof(flags))))
		return -E2BIG;
	nl_end(q, data);
	nl_end(q, info);
	return 0;
}

static int macvlan_restore(struct link_rst *r, size_t i)
{
	const NetDeviceEntry *e = r->l[i];
	const char *parent = link_external(r, "macvlan", e);
	struct nlreq q;
	int32_t link;
	int ret;

	if (!e->macvlan) {
		pr_err("netdev-%u.img: macvlan %s without its settings", r->id, e->name);
		return -EINVAL;
	}
	if (!parent) {
		pr_err("macvlan %s: its parent is outside: name it with --external "
		       "macvlan[%s]:PARENT", e->name, e->name);
		return -ENOENT;
	}
	link = nl_index(r->own_sk, parent);
	if (link < 0) {
		pr_err("macvlan %s: no parent link %s here", e->name, parent);
		return link;
	}
	/* Asked from stasis's namespace, where the parent is. */
	ret = link_req(&q, e, RTM_NEWLINK, true) ?: nl_put(&q, IFLA_LINK, &link, sizeof(link)) ?:
	      nl_put(&q, IFLA_NET_NS_FD, &r->self, sizeof(r->self)) ?:
	      macvlan_data(&q, e->macvlan) ?: nl_talk(r->own_sk, &q.h, NULL, NULL);
	return link_said(ret, e);
}

/* --- the table --- */

static const struct link_kind links[] = {
	{ "loopback", ND_TYPE__LOOPBACK, NULL, lo_restore },
	{ "veth", ND_TYPE__VETH, veth_dump, veth_restore },
	{ "bridge", ND_TYPE__BRIDGE, NULL, bridge_restore },
	{ "macvlan", ND_TYPE__MACVLAN, macvlan_dump, macvlan_restore },
	{ "tun", ND_TYPE__TUN, tun_link_dump, tun_link_restore },
};
#define NR_LINKS	(sizeof(links) / sizeof(links[0]))

const struct link_kind *link_kind_of(const struct link *k)
{
	const char *kind = k->arphrd == ARPHRD_LOOPBACK ? "loopback" : k->kind;

	for (size_t i = 0; kind[0] && i < NR_LINKS; i++)
		if (!strcmp(links[i].name, kind))
			return &links[i];
	if (kind[0])
		pr_err("unsupported: net namespace link %d (%s) is a %s", k->index, k->name,
		       kind);
	else
		pr_err("unsupported: net namespace link %d (%s) is a device of type %d", k->index,
		       k->name, k->arphrd);
	return NULL;
}

const struct link_kind *link_kind_by_type(NdType type)
{
	for (size_t i = 0; i < NR_LINKS; i++)
		if (links[i].type == type)
			return &links[i];
	return NULL;
}
