/*
 * netlock.h - the network lock of TCP connections kept with TCP_REPAIR:
 * while a connection is saved and until the restore has made it again,
 * its packets are dropped both ways (all but libsoccr's own, marked
 * SOCCR_MARK), so that the peer's retransmissions meet no socket that
 * would answer them with a reset.
 *
 * As CRIU does for a tree in the host's net namespace.  With
 * --network-lock nftables (the default): a table "inet CRIU-<dump id>" of our own, its
 * input and output chains dropping the 4-tuples listed in its sets
 * conns4 and conns6.  The dump makes it, before it pauses the first
 * connection, and leaves it when the tree is killed; the restore, which
 * finds the name in the inventory, adds its connections (making the
 * table if the dump's is gone) and deletes it just before its connections
 * leave repair mode, the tree about to run.  With --network-lock iptables:
 * two rules per connection in the filter table's INPUT and OUTPUT chains
 * (iptables, or ip6tables), inserted by the dump and deleted by the
 * restore; the restore takes the method from the inventory.
 *
 * A tree in a net namespace of its own has the whole namespace locked
 * instead, as CRIU does there: from before its tasks are dumped, with or
 * without connections, all but libsoccr's packets dropped both ways (the
 * table's chains drop by policy; with iptables, CRIU's chain "CRIU" jumped
 * to from INPUT and OUTPUT).  A killed tree's namespace goes with its lock;
 * one that outlives it (given from outside) keeps it until the restore.
 */
#ifndef STASIS_FILES_NETLOCK_H
#define STASIS_FILES_NETLOCK_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "sk-inet.pb-c.h"

/* One connection's ends, as nft and iptables write them. */
struct netlock_conn {
	int family;			/* AF_INET (v4-mapped too) or AF_INET6 */
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	unsigned int sport, dport;
};

/* The table's name, "inet CRIU-<dump id>", as long as CRIU's (its NUL in) at most. */
#define NETLOCK_TABLE_LEN	32

struct netlock {
	unsigned int method;		/* NETWORK_LOCK_* (opts.h) */
	char table[64];			/* nftables: "inet CRIU-<id>", cut as CRIU's */
	bool held;			/* a lock is there, and ours to remove */
	bool whole;			/* the tree's own net namespace, locked whole */
	struct netlock_conn *conns;	/* iptables: the connections whose rules we hold */
	size_t nr, cap;
};

/* Name lock @nl after dump or restore id @run_id. */
void netlock_init(struct netlock *nl, unsigned int method, const char *run_id);
/*
 * Lock connection @ie (both ways): the table is made on the first call.
 * At restore (@restore) a table already there is the dump's, taken over.
 * 0 or -errno (said why); -ENOTSUP for a method stasis lacks.
 */
int netlock_add(struct netlock *nl, const InetSkEntry *ie, bool restore);
/*
 * Take over the lock a dump left on connection @ie, if it is there, so
 * that netlock_remove() removes it (a restore that made no connection).
 */
int netlock_adopt(struct netlock *nl, const InetSkEntry *ie);
/* The tree's own net namespace locked whole now (nothing when it is stasis's). */
int netlock_netns(struct netlock *nl);
/* At restore: take over a whole-namespace lock left there (a namespace given). */
void netlock_adopt_netns(struct netlock *nl);
/* Unlock every connection: the table goes.  Quiet when none was made. */
int netlock_remove(struct netlock *nl);

#endif
