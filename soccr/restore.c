/*
 * restore.c - libsoccr's restore side: make a new socket in repair mode
 * the connection a soccr_conn describes.
 *
 * The order is the kernel's: sequence numbers only while the socket is
 * closed; connect() in repair mode sends nothing and lands in
 * ESTABLISHED; options only then and before any byte is queued; the
 * queues; the window; the FINs last, since each moves the state on.
 * A connection still waiting for the peer's SYN-ACK (SYN_SENT) is
 * connected out of repair mode, its SYN numbered as the first one was:
 * it is sent again, and the handshake goes on once the tree runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "internal.h"

/* Sent to the receive queue at a time: a big one may need more memory at once. */
#define CHUNK_MAX	(256u << 10)
#define CHUNK_MIN	4096u

static socklen_t addr_len(const union soccr_addr *a)
{
	if (a->sa.sa_family == AF_INET)
		return sizeof(a->v4);
	if (a->sa.sa_family == AF_INET6)
		return sizeof(a->v6);
	return 0;
}

static int check_conn(const struct soccr_conn *c)
{
	const struct soccr_state *st = &c->st;

	if (st->state >= 32 || !(SOCCR_BIT(st->state) & SOCCR_STATES)) {
		soccr_err("soccr: TCP state %u is not one we restore", st->state);
		return -EOPNOTSUPP;
	}
	if (!addr_len(&c->local) || c->local.sa.sa_family != c->peer.sa.sa_family) {
		soccr_err("soccr: addresses of families %d and %d", c->local.sa.sa_family,
			  c->peer.sa.sa_family);
		return -EINVAL;
	}
	if (st->unsq_len > st->outq_len || (st->inq_len && !c->inq) ||
	    (st->outq_len && !c->outq)) {
		soccr_err("soccr: queues do not add up (in %u, out %u, unsent %u)",
			  st->inq_len, st->outq_len, st->unsq_len);
		return -EINVAL;
	}
	return 0;
}

/* The first byte of each queue: where the kernel's counters must start. */
static uint32_t rcv_start(const struct soccr_state *st)
{
	uint32_t fin = !!(SOCCR_BIT(st->state) & SOCCR_PEER_FIN);

	return st->inq_seq - st->inq_len - fin;
}

static uint32_t snd_una(const struct soccr_state *st)
{
	uint32_t fin = !!(SOCCR_BIT(st->state) & SOCCR_OUR_FIN);

	return st->outq_seq - st->outq_len - fin;
}

static int set_seq(int fd, int queue, uint32_t seq)
{
	int ret = soccr_set_queue(fd, queue);

	return ret ? ret : soccr_tcp_set(fd, TCP_QUEUE_SEQ, (int)seq, "TCP_QUEUE_SEQ");
}

static int connect_quietly(int fd, const struct soccr_conn *c)
{
	int ret;

	if (bind(fd, &c->local.sa, addr_len(&c->local))) {
		soccr_err("soccr: fd %d: bind: %s", fd, strerror(errno));
		return -errno;
	}
	ret = set_seq(fd, TCP_RECV_QUEUE, rcv_start(&c->st));
	if (!ret)
		ret = set_seq(fd, TCP_SEND_QUEUE, snd_una(&c->st));
	if (ret)
		return ret;
	if (connect(fd, &c->peer.sa, addr_len(&c->peer))) {
		soccr_err("soccr: fd %d: connect: %s", fd, strerror(errno));
		return -errno;
	}
	return 0;
}

/* SYN_SENT: the SYN, numbered outq_seq - 1, sent by a non-blocking connect(). */
static int connect_syn(int fd, const struct soccr_conn *c)
{
	int fl = fcntl(fd, F_GETFL), ret;

	if (bind(fd, &c->local.sa, addr_len(&c->local))) {
		soccr_err("soccr: fd %d: bind: %s", fd, strerror(errno));
		return -errno;
	}
	ret = set_seq(fd, TCP_SEND_QUEUE, c->st.outq_seq - 1);
	ret = ret ?: soccr_tcp_set(fd, TCP_REPAIR, TCP_REPAIR_OFF_NO_WP, "TCP_REPAIR off");
	if (ret || fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK))
		return ret ?: -errno;
	if (connect(fd, &c->peer.sa, addr_len(&c->peer)) && errno != EINPROGRESS) {
		ret = -errno;
		soccr_err("soccr: fd %d: connect: %s", fd, strerror(errno));
	}
	if (fcntl(fd, F_SETFL, fl) && !ret)
		ret = -errno;
	if (soccr_tcp_set(fd, TCP_REPAIR, TCP_REPAIR_ON, "TCP_REPAIR on") && !ret)
		ret = -EIO;
	return ret;
}

static int set_options(int fd, const struct soccr_state *st)
{
	struct tcp_repair_opt opts[4];
	int n = 0;

	if (st->opt_mask & TCPI_OPT_SACK)
		opts[n++] = (struct tcp_repair_opt){ TCPOPT_SACK_PERMITTED, 0 };
	if (st->opt_mask & TCPI_OPT_WSCALE)
		opts[n++] = (struct tcp_repair_opt){ TCPOPT_WINDOW,
						     st->snd_wscale | st->rcv_wscale << 16 };
	if (st->opt_mask & TCPI_OPT_TIMESTAMPS)
		opts[n++] = (struct tcp_repair_opt){ TCPOPT_TIMESTAMP, 0 };
	opts[n++] = (struct tcp_repair_opt){ TCPOPT_MAXSEG, st->mss_clamp };
	if (setsockopt(fd, SOL_TCP, TCP_REPAIR_OPTIONS, opts, n * sizeof(opts[0]))) {
		soccr_err("soccr: fd %d: TCP_REPAIR_OPTIONS: %s", fd, strerror(errno));
		return -errno;
	}
	if (!(st->opt_mask & TCPI_OPT_TIMESTAMPS))
		return 0;
	return soccr_tcp_set(fd, TCP_TIMESTAMP, (int)st->timestamp, "TCP_TIMESTAMP");
}

/*
 * Queue @len bytes.  Never blocks: nothing is acknowledged while the
 * network is locked, so a wait for room would be for ever.
 */
static int send_all(int fd, const char *buf, uint32_t len, const char *what)
{
	size_t chunk = CHUNK_MAX;
	ssize_t n;

	while (len) {
		n = send(fd, buf, len < chunk ? len : chunk, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == ENOMEM && chunk > CHUNK_MIN) {
			chunk /= 2;
			continue;
		}
		if (n <= 0) {
			soccr_err("soccr: fd %d: %s: %u bytes left: %s%s", fd, what, len,
				  n < 0 ? strerror(errno) : "nothing sent",
				  n < 0 && errno == EAGAIN ? " (raise SO_SNDBUF)" : "");
			return n < 0 && errno != EAGAIN ? -errno : -ENOBUFS;
		}
		buf += n;
		len -= n;
	}
	return 0;
}

static int fill_queues(int fd, const struct soccr_conn *c)
{
	uint32_t sent = c->st.outq_len - c->st.unsq_len;
	int ret;

	ret = soccr_set_queue(fd, TCP_RECV_QUEUE);
	if (!ret)
		ret = send_all(fd, c->inq, c->st.inq_len, "receive queue");
	/* Sent bytes go in marked sent: nothing leaves, the timer resends them. */
	if (!ret)
		ret = soccr_set_queue(fd, TCP_SEND_QUEUE);
	if (!ret)
		ret = send_all(fd, c->outq, sent, "send queue");
	if (ret || !c->st.unsq_len)
		return ret;
	/* Never sent: they are queued as by any write(), out of repair mode. */
	ret = soccr_tcp_set(fd, TCP_REPAIR, TCP_REPAIR_OFF_NO_WP, "TCP_REPAIR off");
	if (!ret)
		ret = send_all(fd, (const char *)c->outq + sent, c->st.unsq_len, "unsent data");
	if (soccr_tcp_set(fd, TCP_REPAIR, TCP_REPAIR_ON, "TCP_REPAIR on") && !ret)
		ret = -EIO;
	return ret;
}

static int set_window(int fd, const struct soccr_state *st)
{
	struct tcp_repair_window w = {
		.snd_wl1 = st->snd_wl1, .snd_wnd = st->snd_wnd, .max_window = st->max_window,
		.rcv_wnd = st->rcv_wnd, .rcv_wup = st->rcv_wup,
	};
	uint32_t rcv_nxt = rcv_start(st) + st->inq_len;

	if (!(st->flags & SOCCR_HAS_WINDOW))
		return 0;
	/*
	 * The peer's FIN is not back yet: a window announced past it would
	 * start beyond rcv_nxt, which the kernel refuses.  Same right edge.
	 */
	if ((int32_t)(w.rcv_wup - rcv_nxt) > 0) {
		w.rcv_wnd += w.rcv_wup - rcv_nxt;
		w.rcv_wup = rcv_nxt;
	}
	if (setsockopt(fd, SOL_TCP, TCP_REPAIR_WINDOW, &w, sizeof(w))) {
		soccr_err("soccr: fd %d: TCP_REPAIR_WINDOW: %s", fd, strerror(errno));
		return -errno;
	}
	return 0;
}

static int tcp_state(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, SOL_TCP, TCP_INFO, &ti, &len))
		return -errno;
	return ti.tcpi_state;
}

/* An injected segment is handled in softirq: wait until it has been. */
static int wait_state(int fd, int want)
{
	int i, state = 0;

	for (i = 0; i < 1000; i++) {
		state = tcp_state(fd);
		if (state == want || state < 0)
			break;
		poll(NULL, 0, 1);
	}
	if (state == want)
		return 0;
	soccr_err("soccr: fd %d: state %d, not %d, after an injected segment", fd, state, want);
	return state < 0 ? state : -ETIMEDOUT;
}

/*
 * Our FIN, by shutdown().  Acknowledged: it goes in marked sent, nothing
 * leaves, and the peer's ACK is injected after.  Not: it is sent again,
 * which a peer that had it answers with a duplicate ACK.
 */
static int our_fin(int fd, bool acked)
{
	int ret = 0;

	if (acked)
		ret = soccr_set_queue(fd, TCP_SEND_QUEUE);
	if (!ret && shutdown(fd, SHUT_WR)) {
		ret = -errno;
		soccr_err("soccr: fd %d: shutdown: %s", fd, strerror(errno));
	}
	if (soccr_set_queue(fd, TCP_NO_QUEUE) && !ret)
		ret = -EIO;
	return ret;
}

/* The peer's FIN, injected; it acknowledges no more than the peer had. */
static int peer_fin(int fd, const struct soccr_conn *c, int want)
{
	const struct soccr_state *st = &c->st;
	int ret;

	ret = soccr_inject(c, st->inq_seq - 1, snd_una(st), TH_FIN | TH_ACK);
	return ret ? ret : wait_state(fd, want);
}

static int put_fins(int fd, const struct soccr_conn *c)
{
	uint32_t bit = SOCCR_BIT(c->st.state);
	bool acked = bit & SOCCR_OUR_FIN_ACKED;
	bool second = bit & (SOCCR_BIT(TCP_LAST_ACK) | SOCCR_BIT(TCP_CLOSE));
	int ret = 0;

	/* FIN_WAIT1, FIN_WAIT2, CLOSING: ours went first. */
	if ((bit & SOCCR_OUR_FIN) && !second)
		ret = our_fin(fd, acked);
	if (!ret && (bit & SOCCR_PEER_FIN))
		ret = peer_fin(fd, c, second ? TCP_CLOSE_WAIT : (int)c->st.state);
	/* LAST_ACK, CLOSE: ours answered the peer's. */
	if (!ret && second)
		ret = our_fin(fd, acked);
	if (!ret && acked)
		ret = soccr_inject(c, c->st.inq_seq, c->st.outq_seq, TH_ACK);
	if (!ret && (acked || second))
		ret = wait_state(fd, c->st.state);
	return ret;
}

int soccr_restore(struct soccr_sk *sk, const struct soccr_conn *conn)
{
	int ret;

	ret = check_conn(conn);
	if (!ret && conn->st.state == TCP_SYN_SENT) {
		ret = connect_syn(sk->fd, conn);
		if (!ret && (conn->st.opt_mask & TCPI_OPT_TIMESTAMPS))
			ret = soccr_tcp_set(sk->fd, TCP_TIMESTAMP, (int)conn->st.timestamp,
					    "TCP_TIMESTAMP");
		return ret;
	}
	if (!ret)
		ret = connect_quietly(sk->fd, conn);
	if (!ret)
		ret = set_options(sk->fd, &conn->st);
	if (!ret)
		ret = fill_queues(sk->fd, conn);
	if (!ret)
		ret = set_window(sk->fd, &conn->st);
	if (!ret)
		ret = put_fins(sk->fd, conn);
	if (!ret)
		soccr_dbg("soccr: fd %d: restored in state %u", sk->fd, conn->st.state);
	return ret;
}
