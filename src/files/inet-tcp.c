/*
 * inet-tcp.c - the one place a TCP connection goes through, at dump and
 * at restore, unless --tcp-close drops it.
 *
 * A connection is kept with TCP_REPAIR by libsoccr (include/stasis/
 * soccr.h), with --tcp-established only, as CRIU does, its packets held
 * by the network lock (netlock.h) from before it is paused until the
 * restored tree runs.
 *
 * Dump: the connection is locked, paused on a copy of our own of the
 * socket, saved into tcp-stream-INO.img (TcpStreamEntry, then the bytes
 * of the in-queue and of the out-queue).  It stays paused to the end:
 * resumed and unlocked if the dump fails, or with -R once all are
 * saved, before the tree runs again (a task on a socket in repair mode
 * could not send); released, still in repair mode, when the tree is
 * killed, so that its last close sends nothing to the peer, and the
 * lock kept for the restore.
 *
 * Restore: the socket is made the connection in repair mode, and left
 * so until the tree is about to run (arm): a connection running before
 * its tree could take in bytes nobody would read in order, or time out.
 * The lock goes then, just before the first connection leaves repair
 * mode, as CRIU orders it; or when the restore failed (restore_cleanup).
 */
#include <errno.h>
#include <net/if.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stasis/soccr.h>

#include "files/inet.h"
#include "files/netlock.h"
#include "files/sockopts.h"
#include "log.h"
#include "tcp-stream.pb-c.h"

/* One connection paused, at dump or at restore. */
struct tcp_paused {
	struct soccr_sk *sk;
	int fd;				/* dump: our copy of the socket */
	uint32_t ino;			/* restore: its entry's */
};

struct tcp_state {
	struct netlock lock;
	struct tcp_paused *conns;
	size_t nr, cap;
};

static const char *tcp_state_name(unsigned int state)
{
	static const char *const names[] = {
		[TCP_ESTABLISHED] = "established", [TCP_SYN_SENT] = "SYN_SENT",
		[TCP_SYN_RECV] = "SYN_RECV", [TCP_FIN_WAIT1] = "FIN_WAIT1",
		[TCP_FIN_WAIT2] = "FIN_WAIT2", [TCP_TIME_WAIT] = "TIME_WAIT",
		[TCP_CLOSE] = "closed", [TCP_CLOSE_WAIT] = "CLOSE_WAIT",
		[TCP_LAST_ACK] = "LAST_ACK", [TCP_LISTEN] = "listening",
		[TCP_CLOSING] = "CLOSING",
	};

	return state < sizeof(names) / sizeof(names[0]) && names[state] ? names[state] : "unknown";
}

static void soccr_log(int level, const char *msg, void *arg)
{
	(void)arg;
	if (level <= SOCCR_LOG_ERROR)
		pr_err("libsoccr: %s", msg);
	else if (level == SOCCR_LOG_WARN)
		pr_warn("libsoccr: %s", msg);
	else
		pr_debug("libsoccr: %s", msg);
}

static struct tcp_state *tcp_state_new(void **slot, unsigned int method, const char *run_id)
{
	struct tcp_state *ts = *slot;

	if (ts)
		return ts;
	ts = calloc(1, sizeof(*ts));
	if (!ts)
		return NULL;
	netlock_init(&ts->lock, method, run_id);
	soccr_set_log(soccr_log, NULL, SOCCR_LOG_DEBUG);
	*slot = ts;
	return ts;
}

static struct tcp_paused *tcp_add(struct tcp_state *ts)
{
	if (files_grow(&ts->conns, &ts->cap, ts->nr, sizeof(*ts->conns)))
		return NULL;
	ts->conns[ts->nr] = (struct tcp_paused){ .fd = -1 };
	return &ts->conns[ts->nr++];
}

/* The address of one side of @ie, as libsoccr takes it. */
static void soccr_addr(const InetSkEntry *ie, bool peer, union soccr_addr *a)
{
	const uint32_t *w = peer ? ie->dst_addr : ie->src_addr;
	uint16_t port = htons(peer ? ie->dst_port : ie->src_port);

	memset(a, 0, sizeof(*a));
	if (ie->family == AF_INET) {
		a->v4.sin_family = AF_INET;
		a->v4.sin_port = port;
		memcpy(&a->v4.sin_addr, w, 4);
	} else {
		a->v6.sin6_family = AF_INET6;
		a->v6.sin6_port = port;
		memcpy(&a->v6.sin6_addr, w, 16);
	}
}

/* --- dump --- */

static int write_stream(struct dump_ctx *ctx, uint32_t ino, const struct soccr_conn *c)
{
	TcpStreamEntry e = TCP_STREAM_ENTRY__INIT;
	const struct soccr_state *st = &c->st;
	struct img *img;
	int ret, err;

	e.inq_len = st->inq_len;
	e.inq_seq = st->inq_seq;
	e.outq_len = st->outq_len;
	e.outq_seq = st->outq_seq;
	e.opt_mask = st->opt_mask;
	e.snd_wscale = st->snd_wscale;
	e.mss_clamp = st->mss_clamp;
	e.has_rcv_wscale = true;
	e.rcv_wscale = st->rcv_wscale;
	e.has_timestamp = true;
	e.timestamp = st->timestamp;
	e.has_unsq_len = true;
	e.unsq_len = st->unsq_len;
	if (st->flags & SOCCR_HAS_WINDOW) {
		e.has_snd_wl1 = e.has_snd_wnd = e.has_max_window = true;
		e.has_rcv_wnd = e.has_rcv_wup = true;
		e.snd_wl1 = st->snd_wl1;
		e.snd_wnd = st->snd_wnd;
		e.max_window = st->max_window;
		e.rcv_wnd = st->rcv_wnd;
		e.rcv_wup = st->rcv_wup;
	}
	ret = img_open(&img, ctx->dirfd, IMG_TCP_STREAM, ino, O_WRONLY);
	if (ret)
		return ret;
	ret = img_write_msg(img, &e.base);
	if (!ret && st->inq_len)
		ret = img_write_raw(img, c->inq, st->inq_len);
	if (!ret && st->outq_len)
		ret = img_write_raw(img, c->outq, st->outq_len);
	err = img_close(img);
	return ret ?: err;
}

/* Pause the connection on our own copy, kept to the end of the dump. */
static int pause_conn(struct tcp_state *ts, const struct file_parms *p, struct soccr_sk **sk)
{
	struct tcp_paused *tp = tcp_add(ts);
	int ret;

	if (!tp)
		return -ENOMEM;
	tp->fd = fcntl(p->lfd, F_DUPFD_CLOEXEC, 0);
	if (tp->fd < 0) {
		ret = -errno;
		ts->nr--;
		return ret;
	}
	ret = soccr_pause(tp->fd, &tp->sk);
	if (ret) {
		close(tp->fd);
		ts->nr--;
		return ret;
	}
	*sk = tp->sk;
	return 0;
}

int inet_tcp_dump_connection(struct dump_ctx *ctx, const struct file_parms *p, InetSkEntry *ie)
{
	struct files_priv *priv = files_priv(ctx);
	struct soccr_conn conn = { 0 };
	struct tcp_state *ts;
	struct soccr_sk *sk = NULL;
	int ret;

	if (!ctx->opts->tcp_established) {
		pr_err("unsupported: pid %d fd %d is a TCP connection (%s, port %u to %u); dump it "
		       "with --tcp-established, or with --tcp-close to restore it closed",
		       p->pid, p->fd, tcp_state_name(ie->state), ie->src_port, ie->dst_port);
		return -ENOTSUP;
	}
	ts = priv ? tcp_state_new(&priv->tcp_priv, ctx->opts->network_lock, ctx->run_id) : NULL;
	if (!ts)
		return -ENOMEM;
	/* Locked before paused: nothing the peer sends meanwhile gets an answer. */
	ret = netlock_add(&ts->lock, ie, false) ?: pause_conn(ts, p, &sk);
	if (ret)
		goto err;
	/* A closed socket names its peer only through us (SO_PEERNAME). */
	soccr_addr(ie, true, &conn.peer);
	ret = soccr_save(sk, &conn);
	if (!ret)
		ret = write_stream(ctx, ie->ino, &conn);
	soccr_conn_free(&conn);
	if (!ret) {
		pr_info("pid %d fd %d: TCP connection %s, port %u to %u, saved (%u bytes in, %u out)",
			p->pid, p->fd, tcp_state_name(conn.st.state), ie->src_port, ie->dst_port,
			conn.st.inq_len, conn.st.outq_len);
		return 0;
	}
err:
	pr_err("pid %d fd %d: TCP connection %s, port %u to %u, not saved", p->pid, p->fd,
	       tcp_state_name(ie->state), ie->src_port, ie->dst_port);
	return ret;
}

/* Every connection runs again as it was, and the network is unlocked. */
static void resume_all(struct tcp_state *ts)
{
	for (size_t i = 0; i < ts->nr; i++) {
		if (ts->conns[i].sk && soccr_resume(ts->conns[i].sk))
			pr_warn("a TCP connection could not leave repair mode");
		ts->conns[i].sk = NULL;
	}
	netlock_remove(&ts->lock);
}

int files_dump_netns_lock(struct dump_ctx *ctx)
{
	struct files_priv *priv = files_priv(ctx);
	struct tcp_state *ts;

	ts = priv ? tcp_state_new(&priv->tcp_priv, ctx->opts->network_lock, ctx->run_id) : NULL;
	return ts ? netlock_netns(&ts->lock) : -ENOMEM;
}

/*
 * Every connection saved: with -R they run again now, before the tree:
 * a task resumed on a socket still in repair mode would fail to send.
 */
int inet_tcp_dump_finish(struct dump_ctx *ctx)
{
	struct files_priv *priv = ctx->files_priv;

	if (ctx->opts->leave_running && priv && priv->tcp_priv)
		resume_all(priv->tcp_priv);
	return 0;
}

void inet_tcp_dump_undo(struct dump_ctx *ctx)
{
	struct files_priv *priv = ctx->files_priv;

	if (priv && priv->tcp_priv)
		resume_all(priv->tcp_priv);
}

/*
 * After the tree was released (with -R its connections were resumed
 * before it): killed, they go without a word to their peers, which the
 * lock keeps waiting.
 */
void inet_tcp_dump_cleanup(struct dump_ctx *ctx)
{
	struct files_priv *priv = ctx->files_priv;
	struct tcp_state *ts = priv ? priv->tcp_priv : NULL;

	if (!ts)
		return;
	for (size_t i = 0; i < ts->nr; i++) {
		if (ts->conns[i].sk)
			soccr_release(ts->conns[i].sk);
		close(ts->conns[i].fd);
	}
	if (ts->lock.held)
		pr_info("network left locked (table %s) for the restore", ts->lock.table);
	free(ts->conns);
	free(ts);
	priv->tcp_priv = NULL;
}

/* --- restore --- */

/* The connection's numbers and queues from tcp-stream-INO.img. */
static int read_stream(struct rst_ctx *ctx, const InetSkEntry *ie, struct soccr_conn *c)
{
	TcpStreamEntry *e = NULL;
	struct img *img;
	int ret;

	ret = img_open(&img, ctx->dirfd, IMG_TCP_STREAM, ie->ino, O_RDONLY);
	if (ret) {
		pr_err("inet socket %u: no tcp-stream image: %s", ie->ino, strerror(-ret));
		return ret;
	}
	ret = img_read_msg(img, &tcp_stream_entry__descriptor, (ProtobufCMessage **)&e);
	if (ret == 0)
		ret = -EINVAL;
	if (ret < 0)
		goto out;
	ret = -EINVAL;
	if (!e->has_unsq_len || e->unsq_len > e->outq_len) {
		pr_err("inet socket %u: a tcp-stream entry without a valid unsent length", ie->ino);
		goto out;
	}
	c->st = (struct soccr_state){
		.state = ie->state, .inq_len = e->inq_len, .inq_seq = e->inq_seq,
		.outq_len = e->outq_len, .outq_seq = e->outq_seq, .unsq_len = e->unsq_len,
		.opt_mask = e->opt_mask, .snd_wscale = e->snd_wscale,
		.rcv_wscale = e->rcv_wscale, .mss_clamp = e->mss_clamp,
		.timestamp = e->timestamp,
	};
	if (e->has_snd_wnd) {
		c->st.flags |= SOCCR_HAS_WINDOW;
		c->st.snd_wl1 = e->snd_wl1;
		c->st.snd_wnd = e->snd_wnd;
		c->st.max_window = e->max_window;
		c->st.rcv_wnd = e->rcv_wnd;
		c->st.rcv_wup = e->rcv_wup;
	}
	ret = e->inq_len ? img_read_alloc(img, e->inq_len, (uint8_t **)&c->inq) : 0;
	if (!ret && e->outq_len)
		ret = img_read_alloc(img, e->outq_len, (uint8_t **)&c->outq);
out:
	if (e)
		img_free_msg(&e->base);
	img_close(img);
	return ret;
}

/* Room for the queues before they go in; the image's own sizes follow. */
static int size_buffers(int fd, const InetSkEntry *ie, const struct soccr_conn *c)
{
	int snd = 2 * c->st.outq_len + 65536, rcv = 2 * c->st.inq_len + 65536;

	if (ie->opts->so_sndbuf > (uint32_t)snd)
		snd = ie->opts->so_sndbuf;
	if (ie->opts->so_rcvbuf > (uint32_t)rcv)
		rcv = ie->opts->so_rcvbuf;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof(snd)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv))) {
		pr_perror("inet socket %u: cannot make its buffers hold its queues", ie->ino);
		return -errno;
	}
	return 0;
}

static int make_conn(struct tcp_state *ts, int fd, const InetSkEntry *ie, struct soccr_conn *c)
{
	struct tcp_paused *tp = tcp_add(ts);
	int ret;

	if (!tp)
		return -ENOMEM;
	tp->ino = ie->ino;
	soccr_addr(ie, false, &c->local);
	soccr_addr(ie, true, &c->peer);
	/* A link-local address is bound on its interface, as at dump. */
	if (ie->family == AF_INET6 && ie->ifname) {
		c->local.v6.sin6_scope_id = if_nametoindex(ie->ifname);
		c->peer.v6.sin6_scope_id = c->local.v6.sin6_scope_id;
	}
	ret = size_buffers(fd, ie, c) ?: soccr_pause(fd, &tp->sk);
	if (ret) {
		ts->nr--;
		return ret;
	}
	/* Left paused on failure: the cleanup closes it in repair mode. */
	return soccr_restore(tp->sk, c);
}

int inet_tcp_restore_connection(struct rst_ctx *ctx, int fd, const InetSkEntry *ie)
{
	struct files_rst_priv *priv = files_rst_priv(ctx);
	struct soccr_conn conn = { 0 };
	struct tcp_state *ts;
	int ret;

	if (!ctx->opts->tcp_established) {
		pr_err("inet socket %u is a TCP connection (%s, port %u to %u): restore it with "
		       "--tcp-established, or with --tcp-close to have it closed", ie->ino,
		       tcp_state_name(ie->state), ie->src_port, ie->dst_port);
		return -ENOTSUP;
	}
	ts = priv ? tcp_state_new(&priv->tcp_priv, ctx->network_lock, ctx->run_id) : NULL;
	if (!ts)
		return -ENOMEM;
	ret = read_stream(ctx, ie, &conn);
	ret = ret ?: netlock_add(&ts->lock, ie, true);
	ret = ret ?: make_conn(ts, fd, ie, &conn);
	free(conn.inq);
	free(conn.outq);
	if (ret)
		pr_err("inet socket %u: TCP connection %s, port %u to %u, not made again", ie->ino,
		       tcp_state_name(ie->state), ie->src_port, ie->dst_port);
	return ret;
}

/* Just before the tree runs: the connection runs too. */
int inet_tcp_restore_arm(struct rst_ctx *ctx, struct rst_file *f)
{
	struct files_rst_priv *priv = ctx->files_priv;
	struct tcp_state *ts = priv ? priv->tcp_priv : NULL;
	const InetSkEntry *ie = f->fe->isk;
	struct soccr_sk *sk;
	int ret;

	for (size_t i = 0; ts && i < ts->nr; i++) {
		if (ts->conns[i].ino != ie->ino || !ts->conns[i].sk)
			continue;
		/*
		 * Unlocked first, as CRIU does: leaving repair mode sends a
		 * window probe, and what it brings back (a reset from a peer
		 * gone while the tree was away) must reach the socket before
		 * the tree runs.  Until then the socket ignores what comes.
		 */
		ret = netlock_remove(&ts->lock);
		if (ret)
			return ret;
		/*
		 * The handle names the fd the socket was made on, since moved
		 * into the pool: it is taken again on the pool's fd, which
		 * finds the socket as the restore left it, in repair mode.
		 */
		soccr_release(ts->conns[i].sk);
		ts->conns[i].sk = NULL;
		ret = soccr_pause(f->fd, &sk) ?: soccr_resume(sk);
		/* Leaving repair mode gave SO_REUSEADDR the value it had when made. */
		return ret ?: sockopts_restore_reuse(f->fd, ie->opts);
	}
	return 0;
}

/* Whatever the restore ends like: connections not resumed released, the lock gone. */
void inet_tcp_restore_cleanup(struct rst_ctx *ctx)
{
	struct files_rst_priv *priv = ctx->files_priv;
	struct tcp_state *ts = priv ? priv->tcp_priv : NULL;
	struct netlock lock;

	if (!ts) {
		/*
		 * No connection made (--tcp-close, or a restore failed before):
		 * the lock a dump left goes all the same, as CRIU's restore
		 * unlocks whatever it restores.
		 */
		netlock_init(&lock, ctx->network_lock, ctx->run_id);
		netlock_adopt_netns(&lock);
		for (size_t i = 0; i < ctx->nr_files; i++) {
			const FileEntry *fe = ctx->files[i].fe;

			if (fe->type == FD_TYPES__INETSK && fe->isk && inet_tcp_connection(fe->isk))
				netlock_adopt(&lock, fe->isk);
		}
		netlock_remove(&lock);
		return;
	}
	for (size_t i = 0; i < ts->nr; i++)
		if (ts->conns[i].sk)
			soccr_release(ts->conns[i].sk);
	netlock_remove(&ts->lock);
	free(ts->conns);
	free(ts);
	priv->tcp_priv = NULL;
}
