/*
 * soccr.c - libsoccr's log, repair mode on and off, and the dump side:
 * read a paused connection without changing it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/tcp.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>

#include "internal.h"

static soccr_log_fn log_fn;
static void *log_arg;
static int log_level = SOCCR_LOG_ERROR;

void soccr_set_log(soccr_log_fn fn, void *arg, int level)
{
	log_fn = fn;
	log_arg = arg;
	log_level = level;
}

void soccr_log(int level, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (!log_fn || level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_fn(level, buf, log_arg);
}

int soccr_tcp_set(int fd, int opt, int val, const char *what)
{
	if (setsockopt(fd, SOL_TCP, opt, &val, sizeof(val)) == 0)
		return 0;
	soccr_err("soccr: fd %d: %s (%d): %s", fd, what, val, strerror(errno));
	return -errno;
}

int soccr_set_queue(int fd, int queue)
{
	return soccr_tcp_set(fd, TCP_REPAIR_QUEUE, queue, "TCP_REPAIR_QUEUE");
}

int soccr_pause(int fd, struct soccr_sk **skp)
{
	socklen_t len = sizeof(int);
	struct soccr_sk *sk;
	int ret;

	sk = calloc(1, sizeof(*sk));
	if (!sk)
		return -ENOMEM;
	sk->fd = fd;
	/* Repair mode forces address reuse on, and off when it ends. */
	if (getsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &sk->reuseaddr, &len)) {
		ret = -errno;
		soccr_err("soccr: fd %d: SO_REUSEADDR: %s", fd, strerror(errno));
		goto fail;
	}
	ret = soccr_tcp_set(fd, TCP_REPAIR, TCP_REPAIR_ON, "TCP_REPAIR on");
	if (ret)
		goto fail;
	*skp = sk;
	return 0;
fail:
	free(sk);
	return ret;
}

int soccr_resume(struct soccr_sk *sk)
{
	int ret;

	/* The window probe tells a peer that waited on a closed window to send. */
	ret = soccr_tcp_set(sk->fd, TCP_REPAIR, TCP_REPAIR_OFF, "TCP_REPAIR off");
	if (!ret && sk->reuseaddr &&
	    setsockopt(sk->fd, SOL_SOCKET, SO_REUSEADDR, &sk->reuseaddr, sizeof(int))) {
		ret = -errno;
		soccr_err("soccr: fd %d: SO_REUSEADDR back: %s", sk->fd, strerror(errno));
	}
	free(sk);
	return ret;
}

void soccr_release(struct soccr_sk *sk)
{
	free(sk);
}

void soccr_conn_free(struct soccr_conn *conn)
{
	free(conn->inq);
	free(conn->outq);
	conn->inq = NULL;
	conn->outq = NULL;
}

static int ioctl_int(int fd, unsigned long req, uint32_t *val, const char *what)
{
	int v;

	if (ioctl(fd, req, &v)) {
		soccr_err("soccr: fd %d: %s: %s", fd, what, strerror(errno));
		return -errno;
	}
	*val = v;
	return 0;
}

/* The state, the options negotiated at the handshake, the queues' lengths. */
static int save_info(int fd, struct soccr_state *st)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	int ret;

	if (getsockopt(fd, SOL_TCP, TCP_INFO, &ti, &len)) {
		soccr_err("soccr: fd %d: TCP_INFO: %s", fd, strerror(errno));
		return -errno;
	}
	st->state = ti.tcpi_state;
	if (!(SOCCR_BIT(st->state) & SOCCR_STATES)) {
		soccr_err("soccr: fd %d: TCP state %u is not one we save", fd, st->state);
		return -EOPNOTSUPP;
	}
	st->opt_mask = ti.tcpi_options;
	if (ti.tcpi_options & TCPI_OPT_WSCALE) {
		st->snd_wscale = ti.tcpi_snd_wscale;
		st->rcv_wscale = ti.tcpi_rcv_wscale;
	}
	ret = ioctl_int(fd, SIOCOUTQ, &st->outq_len, "SIOCOUTQ");
	if (!ret)
		ret = ioctl_int(fd, SIOCOUTQNSD, &st->unsq_len, "SIOCOUTQNSD");
	if (!ret)
		ret = ioctl_int(fd, SIOCINQ, &st->inq_len, "SIOCINQ");
	return ret;
}

/*
 * SIOCOUTQ and SIOCOUTQNSD count our FIN while it is unacknowledged or
 * unsent; the lengths are of data.  (SIOCINQ already leaves the peer's out.)
 */
static void uncount_fin(struct soccr_state *st)
{
	if (st->state == TCP_CLOSE) {
		/* Both FINs acknowledged: what is left unacked was reset away. */
		st->outq_len = 0;
		st->unsq_len = 0;
		return;
	}
	if (!(SOCCR_BIT(st->state) & SOCCR_OUR_FIN))
		return;
	if (st->outq_len)
		st->outq_len--;
	if (st->unsq_len)
		st->unsq_len--;
}

static int sockopt_u32(int fd, int opt, uint32_t *val, const char *what)
{
	socklen_t len = sizeof(*val);

	if (getsockopt(fd, SOL_TCP, opt, val, &len) == 0)
		return 0;
	soccr_err("soccr: fd %d: %s: %s", fd, what, strerror(errno));
	return -errno;
}

static int save_options(int fd, struct soccr_state *st)
{
	struct tcp_repair_window w;
	socklen_t len = sizeof(w);
	int ret;

	/* Under repair TCP_MAXSEG answers the clamp, not the current MSS. */
	ret = sockopt_u32(fd, TCP_MAXSEG, &st->mss_clamp, "TCP_MAXSEG");
	if (!ret && (st->opt_mask & TCPI_OPT_TIMESTAMPS))
		ret = sockopt_u32(fd, TCP_TIMESTAMP, &st->timestamp, "TCP_TIMESTAMP");
	if (ret)
		return ret;
	if (getsockopt(fd, SOL_TCP, TCP_REPAIR_WINDOW, &w, &len)) {
		soccr_err("soccr: fd %d: TCP_REPAIR_WINDOW: %s", fd, strerror(errno));
		return -errno;
	}
	st->flags |= SOCCR_HAS_WINDOW;
	st->snd_wl1 = w.snd_wl1;
	st->snd_wnd = w.snd_wnd;
	st->max_window = w.max_window;
	st->rcv_wnd = w.rcv_wnd;
	st->rcv_wup = w.rcv_wup;
	return 0;
}

/* Our address and the peer's; a closed or connecting socket keeps the caller's peer. */
static int save_addrs(int fd, struct soccr_conn *c)
{
	socklen_t len = sizeof(c->local);

	if (getsockname(fd, &c->local.sa, &len)) {
		soccr_err("soccr: fd %d: getsockname: %s", fd, strerror(errno));
		return -errno;
	}
	len = sizeof(c->peer);
	if (getpeername(fd, &c->peer.sa, &len) == 0)
		return 0;
	if (errno == ENOTCONN && (c->st.state == TCP_CLOSE || c->st.state == TCP_SYN_SENT) &&
	    c->peer.sa.sa_family == c->local.sa.sa_family)
		return 0;
	soccr_err("soccr: fd %d: getpeername: %s", fd, strerror(errno));
	return -errno;
}

/* Select @queue, read its sequence number and peek its @len bytes. */
static int save_queue(int fd, int queue, uint32_t *seq, uint32_t len, void **bufp)
{
	char *buf;
	ssize_t n;
	int ret;

	ret = soccr_set_queue(fd, queue);
	if (!ret)
		ret = sockopt_u32(fd, TCP_QUEUE_SEQ, seq, "TCP_QUEUE_SEQ");
	if (ret || !len)
		return ret;
	/* One byte more than counted: a longer queue than counted is an error. */
	buf = malloc((size_t)len + 1);
	if (!buf)
		return -ENOMEM;
	n = recv(fd, buf, (size_t)len + 1, MSG_PEEK | MSG_DONTWAIT);
	if (n != (ssize_t)len) {
		ret = n < 0 ? -errno : -EIO;
		soccr_err("soccr: fd %d: queue %d: peeked %zd bytes of %u: %s",
			  fd, queue, n, len, n < 0 ? strerror(errno) : "wrong size");
		free(buf);
		return ret;
	}
	*bufp = buf;
	return 0;
}

static int save_queues(int fd, struct soccr_conn *c)
{
	struct soccr_state *st = &c->st;
	int ret;

	ret = save_queue(fd, TCP_RECV_QUEUE, &st->inq_seq, st->inq_len, &c->inq);
	if (!ret)
		ret = save_queue(fd, TCP_SEND_QUEUE, &st->outq_seq, st->outq_len, &c->outq);
	/* Leave no queue selected, as soccr_pause() found it. */
	if (soccr_set_queue(fd, TCP_NO_QUEUE) && !ret)
		ret = -EIO;
	if (ret)
		soccr_conn_free(c);
	return ret;
}

int soccr_save(struct soccr_sk *sk, struct soccr_conn *conn)
{
	union soccr_addr peer = conn->peer;
	int ret;

	memset(conn, 0, sizeof(*conn));
	conn->peer = peer;
	ret = save_info(sk->fd, &conn->st);
	if (!ret)
		ret = save_options(sk->fd, &conn->st);
	if (!ret)
		ret = save_addrs(sk->fd, conn);
	if (ret)
		return ret;
	uncount_fin(&conn->st);
	ret = save_queues(sk->fd, conn);
	if (ret)
		return ret;
	soccr_dbg("soccr: fd %d: state %u in %u@%u out %u@%u (unsent %u) opts %#x",
		  sk->fd, conn->st.state, conn->st.inq_len, conn->st.inq_seq,
		  conn->st.outq_len, conn->st.outq_seq, conn->st.unsq_len,
		  conn->st.opt_mask);
	return 0;
}
