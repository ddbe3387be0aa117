/*
 * soccr.h - save and restore one TCP connection with TCP_REPAIR.  Part of
 * stasis; usable on its own (libsoccr, version 1).
 *
 * Dump, on a socket whose packets the caller keeps from moving (network
 * locked, e.g. an nftables rule dropping the connection's packets, all but
 * those marked SOCCR_MARK):
 *
 *	soccr_pause(fd, &sk)          repair mode on: the socket is frozen
 *	soccr_save(sk, &conn)         state, addresses, both queues into conn
 *	(write conn: tcp-stream-INO.img, see below)
 *	soccr_conn_free(&conn)        the queues' buffers freed
 *	then either
 *	  soccr_resume(sk)            the dump failed or the task runs on:
 *	                              repair off, the socket exactly as it was
 *	or
 *	  soccr_release(sk); close(fd)  the task is killed: a socket closed in
 *	                              repair mode goes without FIN or RST
 *
 * Restore, on a new socket of the same family, the calling thread in the
 * socket's network namespace (the segments the library injects are sent
 * from there), the original connection gone (its 4-tuple must be free),
 * the network still locked:
 *
 *	fd = socket(family, SOCK_STREAM, 0)   plus the caller's SO_RCVBUF,
 *	                              SO_SNDBUF (big enough for the queues)
 *	soccr_pause(fd, &sk)
 *	soccr_restore(sk, &conn)      bind, sequence numbers, connect (nothing
 *	                              goes out), options, timestamp, both
 *	                              queues, window, the FINs of its state
 *	soccr_resume(sk)              repair off: the connection runs
 *	(unlock the network)
 *
 * A soccr_conn is what CRIU's images hold: st.state goes into the
 * InetSkEntry (with the two addresses), the other st fields map one to one
 * onto TcpStreamEntry (inq_len, inq_seq, outq_len, outq_seq, opt_mask,
 * snd_wscale, mss_clamp, rcv_wscale, timestamp, unsq_len, and when
 * SOCCR_HAS_WINDOW the five window fields), and the image's data that
 * follows the entry is inq (inq_len bytes) then outq (outq_len bytes).
 *
 * States: ESTABLISHED, FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, LAST_ACK, CLOSING
 * and CLOSE (a connection both ends closed, with data still to read).  As
 * in CRIU's images, a FIN is counted in the sequence numbers (inq_seq
 * past the peer's FIN, outq_seq past ours) but not in the lengths, which
 * count bytes of data; restore puts it back: ours by shutdown() (sent again
 * while unacknowledged, marked sent when acknowledged), the peer's by a
 * segment injected from the peer's address through a raw socket, marked
 * SOCCR_MARK, as is the ACK of our FIN where it was acknowledged.  A
 * CLOSE socket has no peer address to read: the caller fills conn->peer
 * (from sock_diag or its own records) before soccr_save().
 *
 * Errors: functions return 0 or a negative errno and log the reason
 * through the callback set with soccr_set_log().  No failing soccr_save()
 * changes the connection; soccr_resume() after it gives it back as found.
 * A failed soccr_restore() leaves a half-made socket: close it in repair
 * mode (soccr_release(), close()).  Needs CAP_NET_ADMIN.
 *
 * Threading: a soccr_sk belongs to one thread at a time; the log callback
 * is global.
 */
#ifndef STASIS_SOCCR_H
#define STASIS_SOCCR_H

#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SOCCR_VERSION	1

/* The mark of our injected segments: the value CRIU's network lock lets by. */
#define SOCCR_MARK	0xC114

enum soccr_log_level {
	SOCCR_LOG_ERROR = 1,
	SOCCR_LOG_WARN = 2,
	SOCCR_LOG_INFO = 3,
	SOCCR_LOG_DEBUG = 4,
};

/* @fn gets every message at or below @level; NULL silences the library. */
typedef void (*soccr_log_fn)(int level, const char *msg, void *arg);
void soccr_set_log(soccr_log_fn fn, void *arg, int level);

/* st.flags */
enum {
	SOCCR_HAS_WINDOW = 1 << 0,	/* snd_wl1 .. rcv_wup are valid */
};

/*
 * The connection's numbers, as TcpStreamEntry names them.  Sequence
 * numbers: inq_seq is the next byte expected from the peer (rcv_nxt),
 * outq_seq the next byte we would queue (write_seq); each queue's data
 * ends there.
 */
struct soccr_state {
	uint32_t state;		/* TCP_ESTABLISHED, ... (netinet/tcp.h) */
	uint32_t inq_len;	/* received, not read */
	uint32_t inq_seq;
	uint32_t outq_len;	/* written, not acknowledged (sent or not) */
	uint32_t outq_seq;
	uint32_t unsq_len;	/* the part of outq never sent */
	uint32_t opt_mask;	/* TCPI_OPT_SACK, _WSCALE, _TIMESTAMPS */
	uint32_t snd_wscale;
	uint32_t rcv_wscale;
	uint32_t mss_clamp;
	uint32_t timestamp;	/* TCP_TIMESTAMP, when TCPI_OPT_TIMESTAMPS */
	uint32_t flags;		/* SOCCR_HAS_* */
	uint32_t snd_wl1;	/* struct tcp_repair_window */
	uint32_t snd_wnd;
	uint32_t max_window;
	uint32_t rcv_wnd;
	uint32_t rcv_wup;
};

union soccr_addr {
	struct sockaddr sa;
	struct sockaddr_in v4;
	struct sockaddr_in6 v6;
};

/*
 * A saved connection.  After soccr_save() inq and outq are the library's
 * (malloc), freed by soccr_conn_free(); for soccr_restore() they are the
 * caller's, only read.
 */
struct soccr_conn {
	struct soccr_state st;
	union soccr_addr local;
	union soccr_addr peer;
	void *inq;		/* st.inq_len bytes */
	void *outq;		/* st.outq_len bytes */
};

struct soccr_sk;

/*
 * Put TCP socket @fd in repair mode; *@sk is the handle the other calls
 * take.  @fd stays the caller's: the library never closes it.
 */
int soccr_pause(int fd, struct soccr_sk **sk);

/* Read the paused connection into @conn; the socket is left unchanged. */
int soccr_save(struct soccr_sk *sk, struct soccr_conn *conn);

/* Free the queues soccr_save() put in @conn; the rest is kept. */
void soccr_conn_free(struct soccr_conn *conn);

/* Make the paused, new, unbound socket the connection @conn describes. */
int soccr_restore(struct soccr_sk *sk, const struct soccr_conn *conn);

/*
 * Leave repair mode (SO_REUSEADDR back to what soccr_pause() found, since
 * repair mode overrides it) and free @sk.  The connection runs again: a
 * window probe goes out at once, and data restored as sent but not
 * acknowledged goes again when the retransmission timer fires (a second
 * on a restored socket, which has no round-trip time measured yet).
 */
int soccr_resume(struct soccr_sk *sk);

/* Free @sk and leave the socket in repair mode (a close() is then silent). */
void soccr_release(struct soccr_sk *sk);

#ifdef __cplusplus
}
#endif

#endif
