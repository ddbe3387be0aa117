/*
 * netlock.h - the network lock of TCP connections kept with TCP_REPAIR:
 * while a connection is saved and until the restore has made it again,
 * its packets are dropped both ways (all but libsoccr's own, marked
 * SOCCR_MARK), so that the peer's retransmissions meet no socket that
 * would answer them with a reset.
 *
 * As CRIU does for a tree in the host's net namespace with
 * --network-lock nftables: a table "inet CRIU-<dump id>" of our own, its
 * input and output chains dropping the 4-tuples listed in its sets
 * conns4 and conns6.  The dump makes it, before it pauses the first
 * connection, and leaves it when the tree is killed; the restore, which
 * finds the name in the inventory, adds its connections (making the
 * table if the dump's is gone) and deletes it just before its connections
 * leave repair mode, the tree about to run.
 */
#ifndef STASIS_FILES_NETLOCK_H
#define STASIS_FILES_NETLOCK_H

#include <stdbool.h>

#include "sk-inet.pb-c.h"

struct netlock {
	unsigned int method;		/* NETWORK_LOCK_* (opts.h) */
	char table[64];			/* "inet CRIU-<id>" */
	bool held;			/* the table is there, and ours to delete */
};

/* Name lock @nl after dump or restore id @run_id. */
void netlock_init(struct netlock *nl, unsigned int method, const char *run_id);
/*
 * Lock connection @ie (both ways): the table is made on the first call.
 * At restore (@restore) a table already there is the dump's, taken over.
 * 0 or -errno (said why); -ENOTSUP for a method stasis lacks.
 */
int netlock_add(struct netlock *nl, const InetSkEntry *ie, bool restore);
/* Is @nl's table there (left by a dump)? */
bool netlock_there(const struct netlock *nl);
/* Unlock every connection: the table goes.  Quiet when none was made. */
int netlock_remove(struct netlock *nl);

#endif
