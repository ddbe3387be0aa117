/*
 * inet.h - AF_INET and AF_INET6 sockets: inet.c dumps them and holds
 * their kind, inet-restore.c makes them again, inet-tcp.c is where a TCP
 * connection goes either way.
 */
#ifndef STASIS_FILES_INET_H
#define STASIS_FILES_INET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "files/files.h"
#include "sk-inet.pb-c.h"

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND	78	/* Linux 4.15 */
#endif
#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP	262
#endif

/*
 * A TCP socket with a peer (connected, half-closed, or closed after a
 * connection), as CRIU tells it at restore: such an entry is made again
 * by the connection's own code, or closed with --tcp-close.
 */
static inline bool inet_tcp_connection(const InetSkEntry *ie)
{
	return ie->proto == IPPROTO_TCP && ie->type == SOCK_STREAM && ie->dst_port;
}

/*
 * inet-tcp.c.  Dump: TCP connection @ie of @p (its addresses and state
 * filled in, its options not yet), without --tcp-close: what it takes to
 * make it again (the TCP_REPAIR state, libsoccr's, in tcp-stream-INO.img).
 * It must leave the connection as it was if the dump fails.  0 or -errno
 * (said why).
 */
int inet_tcp_dump_connection(struct dump_ctx *ctx, const struct file_parms *p, InetSkEntry *ie);
/*
 * Restore: make connection @ie again on fresh socket @fd (IPV6_V6ONLY,
 * SO_REUSEADDR and SO_REUSEPORT set, nothing else yet), without
 * --tcp-close; its options, shutdown flags and file flags follow.
 * 0 or -errno (said why).
 */
int inet_tcp_restore_connection(struct rst_ctx *ctx, int fd, const InetSkEntry *ie);
/* Every connection saved: with -R they run again, unlocked, before the tree. */
int inet_tcp_dump_finish(struct dump_ctx *ctx);
/* The dump failed: every connection paused runs again, the network unlocked. */
void inet_tcp_dump_undo(struct dump_ctx *ctx);
/* After the tree is released: killed, its connections go silently, locked. */
void inet_tcp_dump_cleanup(struct dump_ctx *ctx);
/* The connection of entry @f leaves repair mode: the tree is about to run. */
int inet_tcp_restore_arm(struct rst_ctx *ctx, struct rst_file *f);
/* Whatever the restore ends like: connections not resumed released, the lock gone. */
void inet_tcp_restore_cleanup(struct rst_ctx *ctx);

/* inet-restore.c */
int inet_restore_open(struct rst_ctx *ctx, struct rst_file *f);
/* Once every socket is bound: SO_REUSEADDR and SO_REUSEPORT as they were. */
int inet_restore_prepared(struct rst_ctx *ctx);

#endif
