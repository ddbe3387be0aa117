/*
 * net.h - what the two halves of a net namespace share: net.c (the
 * links, the namespace itself) and net-conf.c (its sysctls, and what the
 * tools keep of addresses, routes, rules and firewall).
 */
#ifndef STASIS_NS_NET_H
#define STASIS_NS_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "netdev.pb-c.h"

struct dump_ctx;
struct rst_ctx;

/* --- rtnetlink (net.c) --- */

/* One request about a link: its ifinfomsg, then attributes. */
struct nlreq {
	struct nlmsghdr h;
	struct ifinfomsg i;
	char buf[1024];
};

typedef int (*nl_fn)(struct nlmsghdr *h, void *arg);

/* Attribute @type of @len bytes at the end of @q: 0 or -E2BIG. */
int nl_put(struct nlreq *q, int type, const void *data, size_t len);
/* Open attribute @type; nl_end() closes it around what was put since.  NULL: no room. */
struct rtattr *nl_nest(struct nlreq *q, int type);
void nl_end(struct nlreq *q, struct rtattr *a);
/* Send @h on @sk, read the answer to its end (other messages to @fn): 0 or -errno. */
int nl_talk(int sk, struct nlmsghdr *h, nl_fn fn, void *arg);
/* An rtnetlink socket in the current net namespace, or in the one of fd @ns (-1: current). */
int nl_open(int ns);
/* The index of link @name as @sk's namespace sees it, or -errno. */
int nl_index(int sk, const char *name);

/* --- links (net-link.c: a table of kinds) --- */

/* A link as the dump reads it (RTM_GETLINK). */
struct link {
	int index, arphrd;
	unsigned int flags, mtu;
	int peer, peer_nsid, master;	/* IFLA_LINK, IFLA_LINK_NETNSID, IFLA_MASTER; -1 none */
	char name[IFNAMSIZ], kind[32];
	uint8_t addr[32];
	size_t addr_len;
	uint8_t data[256];		/* IFLA_INFO_DATA's attributes */
	size_t data_len;
	MacvlanLinkEntry macvlan;	/* filled by its kind */
	TunLinkEntry tun;
};

/* The restore of one namespace's links (net.c's links_restore). */
struct link_rst {
	struct rst_ctx *ctx;
	uint32_t id;
	int sk;			/* rtnetlink in the new namespace */
	int own_sk;		/* rtnetlink in stasis's own namespace */
	int own;		/* stasis's own namespace: outside peers, macvlan parents */
	int self;		/* the new namespace: where links made outside go */
	NetDeviceEntry **l;	/* netdev-ID.img */
	size_t n;
	bool *made;
};

struct link_kind {
	const char *name;	/* IFLA_INFO_KIND, or "loopback" */
	NdType type;
	/* Dump (optional): what of link @k beyond the common fields goes into @e. */
	int (*dump)(int sk, struct link *k, NetDeviceEntry *e, uint32_t id);
	/* Restore link @i of @r (r->made[i] set by the caller; a kind may set a peer's). */
	int (*restore)(struct link_rst *r, size_t i);
};

/* Link @e, made already, given its flags, MTU and address: 0 or -errno (said). */
int net_link_set(struct link_rst *r, const NetDeviceEntry *e);

/* files/tun.c: the tun (and tap) kind of link. */
int tun_link_dump(int sk, struct link *k, NetDeviceEntry *e, uint32_t id);
int tun_link_restore(struct link_rst *r, size_t i);

/* The kind of link @k (dump), refused (said) if none: NULL. */
const struct link_kind *link_kind_of(const struct link *k);
/* The kind of image type @type (restore), NULL if none. */
const struct link_kind *link_kind_by_type(NdType type);

/* Link @e's (by its name) ipv4 and ipv6 sysctls into @e: 0 or -ENOMEM. */
int net_link_conf_dump(NetDeviceEntry *e);
void net_link_conf_free(NetDeviceEntry *e);
/* Back into the made link, but those equal to @ns's defaults (which it took). */
int net_link_conf_restore(const NetDeviceEntry *e, const NetnsEntry *ns);

/* netns-ID.img: the namespace's sysctls, or the key alone of an external one. */
int net_netns_dump(struct dump_ctx *ctx, uint32_t id, const char *ext_key);
/* Its sysctls back, before any link is made; @e may be NULL (none kept). */
int net_netns_restore(const NetnsEntry *e);

/* The raw images of ip, iptables and nft. */
int net_tools_dump(struct dump_ctx *ctx, uint32_t id);
/* Fed back to them, once the links are there: addresses, routes, rules. */
int net_tools_restore(struct rst_ctx *ctx, uint32_t id);
/* The firewall: iptables' and nft's rules. */
int net_firewall_restore(struct rst_ctx *ctx, uint32_t id);

/* One namespace's own images (links, the tools', netns-ID.img), stasis in it. */
int net_dump_one(struct dump_ctx *ctx, uint32_t id);
/* Those put back, the controller in the namespace made for them. */
int net_restore_one(struct rst_ctx *ctx, uint32_t id, const NetnsEntry *ns);

/* --- the tree's other net namespaces than the root's (net-sub.c) --- */

/* Dump: each of them, stasis in the root's (@root_id). */
int net_sub_dump(struct dump_ctx *ctx, uint32_t root_id);
/*
 * Dump, stasis in namespace @id: the id of the tree's namespace that @id
 * knows by nsid @nsid (IFLA_LINK_NETNSID), 0 when it is none of the tree's.
 */
uint32_t net_sub_peer_id(int sk, int nsid, uint32_t id);
/* Restore: each made empty before the root's links, the controller left in the root's. */
int net_sub_make(struct rst_ctx *ctx, uint32_t root_id);
/* Then each filled after the root's, the controller back in the root's after. */
int net_sub_restore(struct rst_ctx *ctx, uint32_t root_id);
/* Namespace @id of the tree as made (an fd not the caller's), or -1. */
int net_sub_fd(uint32_t id);
/* Has link @ifindex of namespace @id been made already, with its peer elsewhere? */
bool net_sub_link_made(uint32_t id, int ifindex);
int net_sub_link_mark(uint32_t id, int ifindex);
/* In task @t, before its children: into its own, when it is not its parent's. */
struct rst_task;
int net_restore_task(struct rst_ctx *ctx, struct rst_task *t);

#endif
