/*
 * internal.h - what the files of libsoccr share, not exported.
 */
#ifndef STASIS_SOCCR_INTERNAL_H
#define STASIS_SOCCR_INTERNAL_H

#include <stdbool.h>

#include "stasis/soccr.h"

#define SOCCR_HIDDEN	__attribute__((visibility("hidden")))

struct soccr_sk {
	int fd;
	int reuseaddr;		/* SO_REUSEADDR as soccr_pause() found it */
};

/* TCP_* states as bits, to test a state against a set of them. */
#define SOCCR_BIT(state)	(1u << (state))

/* The states whose send queue ends with our FIN (in outq_seq and the lengths). */
#define SOCCR_OUR_FIN	(SOCCR_BIT(TCP_FIN_WAIT1) | SOCCR_BIT(TCP_FIN_WAIT2) | \
			 SOCCR_BIT(TCP_CLOSING) | SOCCR_BIT(TCP_LAST_ACK) | \
			 SOCCR_BIT(TCP_CLOSE))
/* ... and where the peer has acknowledged it. */
#define SOCCR_OUR_FIN_ACKED	(SOCCR_BIT(TCP_FIN_WAIT2) | SOCCR_BIT(TCP_CLOSE))
/* The states that received the peer's FIN (counted in inq_seq). */
#define SOCCR_PEER_FIN	(SOCCR_BIT(TCP_CLOSE_WAIT) | SOCCR_BIT(TCP_LAST_ACK) | \
			 SOCCR_BIT(TCP_CLOSING) | SOCCR_BIT(TCP_CLOSE))
/* Every state we save and restore. */
#define SOCCR_STATES	(SOCCR_BIT(TCP_ESTABLISHED) | SOCCR_BIT(TCP_SYN_SENT) | \
			 SOCCR_OUR_FIN | SOCCR_PEER_FIN)

SOCCR_HIDDEN void soccr_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
#define soccr_err(...)	soccr_log(SOCCR_LOG_ERROR, __VA_ARGS__)
#define soccr_dbg(...)	soccr_log(SOCCR_LOG_DEBUG, __VA_ARGS__)

/* setsockopt at SOL_TCP of an int; 0 or -errno, logged as @what. */
SOCCR_HIDDEN int soccr_tcp_set(int fd, int opt, int val, const char *what);
SOCCR_HIDDEN int soccr_set_queue(int fd, int queue);

/* Inject a segment from @c's peer to its local end (seq, ack, TCP flags). */
SOCCR_HIDDEN int soccr_inject(const struct soccr_conn *c, uint32_t seq, uint32_t ack,
			      uint8_t flags);

#endif
