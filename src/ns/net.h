/*
 * net.h - what the two halves of a net namespace share: net.c (the
 * links, the namespace itself) and net-conf.c (its sysctls, and what the
 * tools keep of addresses, routes, rules and firewall).
 */
#ifndef STASIS_NS_NET_H
#define STASIS_NS_NET_H

#include <stdint.h>

#include "netdev.pb-c.h"

struct dump_ctx;
struct rst_ctx;

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
/* Fed back to them, once the links are there. */
int net_tools_restore(struct rst_ctx *ctx, uint32_t id);

#endif
