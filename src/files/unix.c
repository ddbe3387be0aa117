/*
 * unix.c - AF_UNIX sockets: stream, seqpacket and datagram.
 *
 * Dump.  Our copy of the socket (pidfd_getfd) answers getsockopt(); the
 * rest comes from sock_diag, asked about this one inode: its state, its
 * peer's inode, its name, its shutdown flags, what waits in its queues.
 * The bytes in its receive queue are peeked on our copy, message by
 * message (SO_PEEK_OFF moves past each), into sk-queues.img, each entry
 * naming the socket that receives it.  A peer must be a socket of the
 * tree: checked once every task is dumped.
 *
 * Restore.  A connected pair that has no name comes back as a socketpair();
 * a socket with a name is bound to it again (a stale socket file at its
 * path is replaced), a listening one listens again, a datagram socket
 * connected to a named one connects to that name once it exists.  The
 * queued messages are sent again from the peer, or from a socket of our
 * own when the receiver has a name, then the shutdown flags are set.
 *
 * Not yet, each a clear "unsupported:" at dump: a listener with
 * connections not accepted, a connected stream socket with a name (one
 * accepted from a listener), names relative to a directory, file
 * descriptors in flight in a queue (SCM_RIGHTS), peers outside the tree.
 */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "files/files.h"
#include "files/kind.h"
#include "fdinfo.pb-c.h"
#include "log.h"
#include "sk-packet.pb-c.h"
#include "sk-unix.pb-c.h"

#ifndef SO_BUF_LOCK
#define SO_BUF_LOCK	72
#endif

#define QUEUE_MSG_MAX	(1 << 20)	/* the largest message peeked at once */

/* What sock_diag says of one unix socket. */
struct unix_diag_info {
	uint32_t type, state, peer, backlog, rqlen, nr_icons;
	uint32_t vfs_ino, vfs_dev;
	bool has_vfs;
	uint8_t shutdown;
	char name[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];	/* NUL-terminated */
	size_t name_len;
};

/* dump: every socket seen, to check the peers once all tasks are dumped. */
struct unix_seen {
	uint32_t ino, peer;
	pid_t pid;
	int fd;
};

struct unix_dump {
	struct unix_seen *seen;
	size_t nr, cap;
	struct img *queues;		/* sk-queues.img */
};

static void diag_attrs(struct unix_diag_info *ui, struct rtattr *a, int len)
{
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		void *d = RTA_DATA(a);
		size_t n = RTA_PAYLOAD(a);

		switch (a->rta_type) {
		case UNIX_DIAG_NAME:
			ui->name_len = n < sizeof(ui->name) ? n : sizeof(ui->name) - 1;
			memcpy(ui->name, d, ui->name_len);
			break;
		case UNIX_DIAG_VFS:
			if (n >= sizeof(struct unix_diag_vfs)) {
				ui->vfs_ino = ((struct unix_diag_vfs *)d)->udiag_vfs_ino;
				ui->vfs_dev = ((struct unix_diag_vfs *)d)->udiag_vfs_dev;
				ui->has_vfs = true;
			}
			break;
		case UNIX_DIAG_PEER:
			if (n >= 4)
				memcpy(&ui->peer, d, 4);
			break;
		case UNIX_DIAG_ICONS:
			ui->nr_icons = n / 4;
			break;
		case UNIX_DIAG_RQLEN:
			if (n >= sizeof(struct unix_diag_rqlen)) {
				ui->rqlen = ((struct unix_diag_rqlen *)d)->udiag_rqueue;
				ui->backlog = ((struct unix_diag_rqlen *)d)->udiag_wqueue;
			}
			break;
		case UNIX_DIAG_SHUTDOWN:
			if (n >= 1)
				ui->shutdown = *(uint8_t *)d;
			break;
		}
	}
}

/* Ask sock_diag about the unix socket of inode @ino. */
static int unix_diag(uint32_t ino, struct unix_diag_info *ui)
{
	struct {
		struct nlmsghdr nlh;
		struct unix_diag_req req;
	} q = {
		.nlh = { sizeof(q), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, 1, 0 },
		.req = { .sdiag_family = AF_UNIX, .udiag_states = ~0U, .udiag_ino = ino,
			 .udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_PEER |
				       UDIAG_SHOW_ICONS | UDIAG_SHOW_RQLEN,
			 .udiag_cookie = { ~0U, ~0U } },
	};
	char buf[16384] __attribute__((aligned(8)));
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	struct unix_diag_msg *m;
	int nl, n, err = 0;

	nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl < 0 || send(nl, &q, sizeof(q), 0) != sizeof(q))
		err = -errno;
	n = err ? 0 : recv(nl, buf, sizeof(buf), 0);
	if (nl >= 0)
		close(nl);
	if (!err && (n < 0 || !NLMSG_OK(h, (unsigned)n)))
		err = n < 0 ? -errno : -EIO;
	if (!err && h->nlmsg_type == NLMSG_ERROR)
		err = ((struct nlmsgerr *)NLMSG_DATA(h))->error ?: -EIO;
	if (err) {
		pr_err("unix socket %u: sock_diag: %s", ino, strerror(-err));
		return err;
	}
	m = NLMSG_DATA(h);
	memset(ui, 0, sizeof(*ui));
	ui->type = m->udiag_type;
	ui->state = m->udiag_state;
	diag_attrs(ui, (struct rtattr *)(m + 1),
		   h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
	return 0;
}

static struct unix_dump *dump_state(struct dump_ctx *ctx)
{
	struct files_priv *priv = files_priv(ctx);

	if (priv && !priv->unix_priv)
		priv->unix_priv = calloc(1, sizeof(struct unix_dump));
	return priv ? priv->unix_priv : NULL;
}

static void dump_opts(int fd, SkOptsEntry *o)
{
	struct timeval tv;
	socklen_t len;
	int v;

#define GET(opt, dst)	(len = sizeof(dst), !getsockopt(fd, SOL_SOCKET, opt, &(dst), &len))
	if (GET(SO_SNDBUF, v))
		o->so_sndbuf = v;
	if (GET(SO_RCVBUF, v))
		o->so_rcvbuf = v;
	if (GET(SO_SNDTIMEO, tv)) {
		o->so_snd_tmo_sec = tv.tv_sec;
		o->so_snd_tmo_usec = tv.tv_usec;
	}
	if (GET(SO_RCVTIMEO, tv)) {
		o->so_rcv_tmo_sec = tv.tv_sec;
		o->so_rcv_tmo_usec = tv.tv_usec;
	}
	o->has_so_passcred = GET(SO_PASSCRED, v);
	o->so_passcred = o->has_so_passcred && v;
	o->has_so_passsec = GET(SO_PASSSEC, v);
	o->so_passsec = o->has_so_passsec && v;
	o->has_so_priority = GET(SO_PRIORITY, v);
	o->so_priority = v;
	o->has_so_rcvlowat = GET(SO_RCVLOWAT, v);
	o->so_rcvlowat = v;
	o->has_so_mark = GET(SO_MARK, v) && v;
	o->so_mark = v;
	o->has_so_buf_lock = GET(SO_BUF_LOCK, v);
	o->so_buf_lock = v;
#undef GET
}

/* The next message of @p's receive queue, peeked: its length, -EAGAIN at the end. */
static ssize_t peek_next(const struct file_parms *p, uint8_t *buf)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 64)];
	struct iovec iov = { buf, QUEUE_MSG_MAX };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	ssize_t n;

	n = recvmsg(p->lfd, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
			close(((int *)CMSG_DATA(c))[i]);
		pr_err("unsupported: pid %d fd %d is a unix socket with file descriptors in flight",
		       p->pid, p->fd);
		return -ENOTSUP;
	}
	if (mh.msg_flags & MSG_TRUNC) {
		pr_err("unsupported: pid %d fd %d holds a message over %d bytes", p->pid, p->fd,
		       QUEUE_MSG_MAX);
		return -ENOTSUP;
	}
	return n;
}

static int write_packet(struct dump_ctx *ctx, struct unix_dump *ud, uint32_t id,
			const uint8_t *buf, size_t len)
{
	SkPacketEntry e = SK_PACKET_ENTRY__INIT;
	int ret = files_img_lazy(ctx, &ud->queues, IMG_SK_QUEUES, 0);

	e.id_for = id;
	e.length = len;
	if (!ret)
		ret = img_write_msg(ud->queues, &e.base);
	return ret ?: img_write_raw(ud->queues, buf, len);
}

/*
 * Peek the receive queue from its first message to its last.  A stream
 * reads 0 bytes at its end; so does a datagram socket shut down for
 * reading, whose empty messages cannot be told from that end.
 */
static int dump_queue(struct dump_ctx *ctx, struct file_parms *p, uint32_t id,
		      const struct unix_diag_info *ui)
{
	struct unix_dump *ud = dump_state(ctx);
	socklen_t len = sizeof(int);
	int old = -1, zero = 0, ret = 0;
	uint8_t *buf;

	if (!ud || !(buf = malloc(QUEUE_MSG_MAX)))
		return -ENOMEM;
	getsockopt(p->lfd, SOL_SOCKET, SO_PEEK_OFF, &old, &len);
	if (setsockopt(p->lfd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero))) {
		ret = -errno;
		pr_perror("pid %d fd %d: SO_PEEK_OFF", p->pid, p->fd);
	}
	for (long i = 0; !ret && i < (1L << 24); i++) {
		ssize_t n = peek_next(p, buf);

		if (n == -EAGAIN || (n == 0 && (ui->type == SOCK_STREAM || ui->shutdown & 1)))
			break;
		ret = n < 0 ? (int)n : write_packet(ctx, ud, id, buf, n);
	}
	setsockopt(p->lfd, SOL_SOCKET, SO_PEEK_OFF, &old, sizeof(old));
	free(buf);
	return ret;
}

static int unix_match(struct dump_ctx *ctx, struct file_parms *p)
{
	socklen_t len = sizeof(int);
	int domain;

	(void)ctx;
	if (strncmp(p->link, "socket:[", 8) || p->lfd < 0 ||
	    getsockopt(p->lfd, SOL_SOCKET, SO_DOMAIN, &domain, &len))
		return 0;
	return domain == AF_UNIX;
}

static bool has_path(const struct unix_diag_info *ui)
{
	return ui->name_len && ui->name[0];
}

/* What this file cannot bring back yet, said in words. */
static int check_supported(const struct file_parms *p, const struct unix_diag_info *ui)
{
	const char *why = NULL;

	if (ui->state == TCP_LISTEN && ui->nr_icons)
		why = "listening, with connections not yet accepted";
	else if (has_path(ui) && ui->name[0] != '/')
		why = "bound to a path relative to a directory";
	else if (ui->state == TCP_ESTABLISHED && ui->type != SOCK_DGRAM && ui->name_len)
		why = "connected and named (accepted from a listener)";
	else if (ui->type != SOCK_STREAM && ui->type != SOCK_DGRAM && ui->type != SOCK_SEQPACKET)
		why = "of an unknown type";
	if (!why)
		return 0;
	pr_err("unsupported: pid %d fd %d is a unix socket %s", p->pid, p->fd, why);
	return -ENOTSUP;
}

/* Its socket file's owner and mode; gone if the path holds another file now. */
static void dump_path(const struct unix_diag_info *ui, UnixSkEntry *ue, FilePermsEntry *perms)
{
	struct stat st;

	if (!stat(ui->name, &st) && S_ISSOCK(st.st_mode) && ui->has_vfs &&
	    st.st_ino == ui->vfs_ino) {
		perms->mode = st.st_mode;
		perms->uid = st.st_uid;
		perms->gid = st.st_gid;
		ue->file_perms = perms;
		return;
	}
	ue->has_deleted = ue->deleted = 1;
}

static int remember(struct dump_ctx *ctx, const struct file_parms *p, uint32_t peer)
{
	struct unix_dump *ud = dump_state(ctx);

	if (!ud || files_grow(&ud->seen, &ud->cap, ud->nr, sizeof(*ud->seen)))
		return -ENOMEM;
	ud->seen[ud->nr++] = (struct unix_seen){ p->st.st_ino, peer, p->pid, p->fd };
	return 0;
}

static int unix_dump(struct dump_ctx *ctx, struct file_parms *p, uint32_t id)
{
	UnixSkEntry ue = UNIX_SK_ENTRY__INIT;
	SkOptsEntry opts = SK_OPTS_ENTRY__INIT;
	FilePermsEntry perms = FILE_PERMS_ENTRY__INIT;
	FileEntry fe = FILE_ENTRY__INIT;
	struct unix_diag_info ui;
	int ret;

	ret = unix_diag(p->st.st_ino, &ui) ?: check_supported(p, &ui);
	if (ret)
		return ret;
	ue.id = id;
	ue.ino = p->st.st_ino;
	ue.type = ui.type;
	ue.state = ui.state;
	ue.flags = p->flags;
	ue.backlog = ui.state == TCP_LISTEN ? ui.backlog : 0;
	ue.peer = ui.peer;
	ue.fown = &p->fown;
	dump_opts(p->lfd, &opts);
	ue.opts = &opts;
	ue.name.data = (uint8_t *)ui.name;
	ue.name.len = ui.name_len;
	if (ui.shutdown & 3) {
		ue.has_shutdown = 1;
		ue.shutdown = ui.shutdown & 3;
	}
	if (has_path(&ui))
		dump_path(&ui, &ue, &perms);
	if (ue.deleted) {
		pr_err("unsupported: pid %d fd %d is a unix socket bound to %s, since removed",
		       p->pid, p->fd, ui.name);
		return -ENOTSUP;
	}
	ret = remember(ctx, p, ui.peer);
	/* A datagram socket's queue length counts only its first message. */
	if (!ret && ui.state != TCP_LISTEN && (ui.rqlen || ui.type == SOCK_DGRAM))
		ret = dump_queue(ctx, p, id, &ui);
	fe.type = FD_TYPES__UNIXSK;
	fe.id = id;
	fe.usk = &ue;
	return ret ?: img_write_msg(ctx->files_img, &fe.base);
}

/* Every peer must be a socket of the tree. */
static int unix_dump_finish(struct dump_ctx *ctx)
{
	struct files_priv *priv = ctx->files_priv;
	struct unix_dump *ud = priv ? priv->unix_priv : NULL;
	int ret = 0;

	for (size_t i = 0; ud && !ret && i < ud->nr; i++) {
		const struct unix_seen *s = &ud->seen[i];
		bool found = !s->peer;

		for (size_t k = 0; !found && k < ud->nr; k++)
			found = ud->seen[k].ino == s->peer;
		if (!found) {
			pr_err("unsupported: pid %d fd %d is a unix socket connected to socket %u, "
			       "outside the tree", s->pid, s->fd, s->peer);
			ret = -ENOTSUP;
		}
	}
	if (ud) {
		int err = img_close(ud->queues);

		ud->queues = NULL;
		ret = ret ?: err;
	}
	return ret;
}

static void unix_dump_cleanup(struct dump_ctx *ctx)
{
	struct files_priv *priv = ctx->files_priv;
	struct unix_dump *ud = priv ? priv->unix_priv : NULL;

	if (!ud)
		return;
	img_close(ud->queues);
	free(ud->seen);
	free(ud);
	priv->unix_priv = NULL;
}

/* --- restore --- */

struct unix_packet {
	uint32_t id_for;
	uint32_t len;
	uint8_t *data;
};

struct unix_rst {
	struct unix_packet *pkts;	/* sk-queues.img, in order */
	size_t nr, cap;
	bool loaded;
	uint32_t *opening;		/* inodes whose open is under way */
	size_t nr_opening, cap_opening;
};

static struct unix_rst *rst_state(struct rst_ctx *ctx)
{
	struct files_rst_priv *priv = files_rst_priv(ctx);

	if (priv && !priv->unix_priv)
		priv->unix_priv = calloc(1, sizeof(struct unix_rst));
	return priv ? priv->unix_priv : NULL;
}

static int load_queues(struct rst_ctx *ctx, struct unix_rst *ur)
{
	SkPacketEntry *e;
	struct img *img;
	int ret;

	if (ur->loaded)
		return 0;
	ur->loaded = true;
	ret = img_open(&img, ctx->dirfd, IMG_SK_QUEUES, 0, O_RDONLY);
	if (ret == -ENOENT)
		return 0;
	while (!ret && (ret = img_read_msg(img, &sk_packet_entry__descriptor,
					   (ProtobufCMessage **)&e)) == 1) {
		struct unix_packet *pk;

		ret = files_grow(&ur->pkts, &ur->cap, ur->nr, sizeof(*ur->pkts));
		if (!ret) {
			pk = &ur->pkts[ur->nr];
			*pk = (struct unix_packet){ e->id_for, e->length, NULL };
			ret = img_read_alloc(img, e->length, &pk->data);
			if (!ret)
				ur->nr++;
		}
		img_free_msg(&e->base);
	}
	img_close(img);
	return ret;
}

static struct rst_file *file_by_ino(struct rst_ctx *ctx, uint32_t ino)
{
	for (size_t i = 0; i < ctx->nr_files; i++) {
		const FileEntry *fe = ctx->files[i].fe;

		if (fe->type == FD_TYPES__UNIXSK && fe->usk && fe->usk->ino == ino)
			return &ctx->files[i];
	}
	return NULL;
}

static socklen_t make_addr(const UnixSkEntry *u, struct sockaddr_un *sa)
{
	size_t len = u->name.len < sizeof(sa->sun_path) ? u->name.len : sizeof(sa->sun_path);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, u->name.data, len);
	return offsetof(struct sockaddr_un, sun_path) + len;
}

/* Bind @fd to @u's name; a stale socket file at its path goes first. */
static int bind_name(int fd, const UnixSkEntry *u)
{
	struct sockaddr_un sa;
	socklen_t len = make_addr(u, &sa);
	bool path = sa.sun_path[0];
	struct stat st;

	if (path && !lstat(sa.sun_path, &st) && S_ISSOCK(st.st_mode))
		unlink(sa.sun_path);
	if (bind(fd, (struct sockaddr *)&sa, len)) {
		pr_perror("unix socket %u: cannot bind it to %s%s", u->ino, path ? "" : "@",
			  sa.sun_path + !path);
		return -errno;
	}
	if (path && u->file_perms &&
	    (chmod(sa.sun_path, u->file_perms->mode & 07777) ||
	     lchown(sa.sun_path, u->file_perms->uid, u->file_perms->gid))) {
		pr_perror("unix socket %u: cannot give %s its owner and mode", u->ino,
			  sa.sun_path);
		return -errno;
	}
	return 0;
}

static int set_int(int fd, int opt, int v)
{
	return setsockopt(fd, SOL_SOCKET, opt, &v, sizeof(v));
}

/* The buffers are read doubled, and set halved; the lock mask last. */
static int restore_opts(int fd, const SkOptsEntry *o)
{
	struct timeval snd = { o->so_snd_tmo_sec, o->so_snd_tmo_usec };
	struct timeval rcv = { o->so_rcv_tmo_sec, o->so_rcv_tmo_usec };
	int ret = 0;

	ret |= set_int(fd, SO_SNDBUFFORCE, o->so_sndbuf / 2);
	ret |= set_int(fd, SO_RCVBUFFORCE, o->so_rcvbuf / 2);
	ret |= setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &snd, sizeof(snd));
	ret |= setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rcv, sizeof(rcv));
	if (o->has_so_passcred)
		ret |= set_int(fd, SO_PASSCRED, o->so_passcred);
	if (o->has_so_passsec)
		ret |= set_int(fd, SO_PASSSEC, o->so_passsec);
	if (o->has_so_priority)
		ret |= set_int(fd, SO_PRIORITY, o->so_priority);
	if (o->has_so_rcvlowat)
		ret |= set_int(fd, SO_RCVLOWAT, o->so_rcvlowat);
	if (o->has_so_mark)
		ret |= set_int(fd, SO_MARK, o->so_mark);
	if (o->has_so_buf_lock)
		ret |= set_int(fd, SO_BUF_LOCK, o->so_buf_lock);
	if (ret)
		pr_perror("cannot restore the options of a unix socket");
	return ret ? -EINVAL : 0;
}

/*
 * Send @to's queued messages again from @from (connected to it, or not
 * connected and @to named @sa).  The sender's buffer grows first: queued
 * bytes count against it until they are read.
 */
static int send_queue(struct unix_rst *ur, const UnixSkEntry *to, int from,
		      const struct sockaddr_un *sa, socklen_t salen)
{
	size_t total = 0;

	for (size_t i = 0; i < ur->nr; i++)
		total += ur->pkts[i].id_for == to->id ? ur->pkts[i].len + 1024 : 0;
	if (!total)
		return 0;
	set_int(from, SO_SNDBUFFORCE, total > (1u << 30) ? 1 << 30 : (int)total);
	for (size_t i = 0; i < ur->nr; i++) {
		const struct unix_packet *pk = &ur->pkts[i];
		ssize_t n;

		if (pk->id_for != to->id)
			continue;
		n = sendto(from, pk->data, pk->len, MSG_DONTWAIT | MSG_NOSIGNAL,
			   (const struct sockaddr *)sa, sa ? salen : 0);
		if (n != (ssize_t)pk->len) {
			pr_perror("unix socket %u: cannot queue %u bytes again", to->ino, pk->len);
			return n < 0 ? -errno : -EIO;
		}
	}
	return 0;
}

/* After the data: shutdown flags, options, file flags. */
static int finish_socket(int fd, const UnixSkEntry *u)
{
	int ret = 0;

	if (u->has_shutdown && u->shutdown >= SK_SHUTDOWN__READ && u->shutdown <= SK_SHUTDOWN__BOTH &&
	    shutdown(fd, u->shutdown - 1)) {
		pr_perror("unix socket %u: shutdown", u->ino);
		ret = -errno;
	}
	if (!ret)
		ret = restore_opts(fd, u->opts);
	if (!ret && fcntl(fd, F_SETFL, u->flags & (O_NONBLOCK | O_ASYNC))) {
		pr_perror("unix socket %u: cannot set its flags", u->ino);
		ret = -errno;
	}
	return ret;
}

/* A connected pair with no name: a socketpair, the peer's end kept for it. */
static int open_pair(struct rst_ctx *ctx, struct unix_rst *ur, struct rst_file *f,
		     struct rst_file *pf)
{
	const UnixSkEntry *u = f->fe->usk, *pu = pf->fe->usk;
	int sv[2], ret, mine, theirs;

	if (socketpair(AF_UNIX, u->type | SOCK_CLOEXEC, 0, sv)) {
		pr_perror("unix socket %u: socketpair", u->ino);
		return -errno;
	}
	ret = send_queue(ur, u, sv[1], NULL, 0) ?: send_queue(ur, pu, sv[0], NULL, 0);
	if (!ret)
		ret = finish_socket(sv[0], u) ?: finish_socket(sv[1], pu);
	if (!ret && pu->fown && pu->fown->signum && fcntl(sv[1], F_SETSIG, pu->fown->signum))
		ret = -errno;
	if (ret) {
		close(sv[0]);
		close(sv[1]);
		return ret;
	}
	mine = rst_pool_add(ctx, sv[0]);
	theirs = mine < 0 ? (close(sv[1]), mine) : rst_pool_add(ctx, sv[1]);
	if (theirs < 0)
		return theirs;
	pf->fd = theirs;
	return mine;
}

static bool opening(struct unix_rst *ur, uint32_t ino)
{
	for (size_t i = 0; i < ur->nr_opening; i++)
		if (ur->opening[i] == ino)
			return true;
	return false;
}

/* A datagram socket connected to a named one: that one is bound first. */
static int connect_peer(struct rst_ctx *ctx, struct unix_rst *ur, int fd, const UnixSkEntry *u,
			struct rst_file *pf)
{
	struct sockaddr_un sa;
	socklen_t len;
	int ret;

	if (!pf->fe->usk->name.len) {
		pr_err("unix socket %u: connected to socket %u, which has no name", u->ino,
		       pf->fe->usk->ino);
		return -EINVAL;
	}
	if (!opening(ur, pf->fe->usk->ino)) {
		ret = files_restore_open(ctx, pf->fe->id);
		if (ret < 0)
			return ret;
	}
	len = make_addr(pf->fe->usk, &sa);
	if (connect(fd, (struct sockaddr *)&sa, len)) {
		pr_perror("unix socket %u: cannot connect it to socket %u", u->ino,
			  pf->fe->usk->ino);
		return -errno;
	}
	return 0;
}

static bool has_queue(const struct unix_rst *ur, uint32_t id)
{
	for (size_t i = 0; i < ur->nr; i++)
		if (ur->pkts[i].id_for == id)
			return true;
	return false;
}

/* A named receiver's queue, sent again from a socket of our own. */
static int refill_named(struct unix_rst *ur, const UnixSkEntry *u)
{
	struct sockaddr_un sa;
	socklen_t len = make_addr(u, &sa);
	int from, ret;

	from = socket(AF_UNIX, u->type | SOCK_CLOEXEC, 0);
	if (from < 0)
		return -errno;
	ret = send_queue(ur, u, from, &sa, len);
	close(from);
	return ret;
}

static int open_single(struct rst_ctx *ctx, struct unix_rst *ur, struct rst_file *f,
		       struct rst_file *pf)
{
	const UnixSkEntry *u = f->fe->usk;
	int fd, ret = 0;

	fd = socket(AF_UNIX, u->type | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		pr_perror("unix socket %u: socket", u->ino);
		return -errno;
	}
	if (u->name.len)
		ret = bind_name(fd, u);
	if (!ret && u->state == TCP_LISTEN && listen(fd, u->backlog)) {
		pr_perror("unix socket %u: listen", u->ino);
		ret = -errno;
	}
	if (!ret && pf)
		ret = connect_peer(ctx, ur, fd, u, pf);
	if (!ret && u->name.len)
		ret = refill_named(ur, u);
	else if (!ret && has_queue(ur, u->id)) {
		pr_err("unix socket %u: has messages queued but neither a name nor a peer "
		       "to send them again from", u->ino);
		ret = -ENOTSUP;
	}
	if (!ret)
		ret = finish_socket(fd, u);
	if (ret) {
		close(fd);
		return ret;
	}
	return rst_pool_add(ctx, fd);
}

static int unix_open(struct rst_ctx *ctx, struct rst_file *f)
{
	const UnixSkEntry *u = f->fe->usk;
	struct unix_rst *ur = rst_state(ctx);
	struct rst_file *pf = NULL;
	int ret;

	if (!ur)
		return -ENOMEM;
	ret = load_queues(ctx, ur);
	if (ret)
		return ret;
	if (u->peer && !(pf = file_by_ino(ctx, u->peer))) {
		pr_err("unix socket %u: its peer %u is not in the images", u->ino, u->peer);
		return -EINVAL;
	}
	if (pf && pf->fe->usk->peer == u->ino && !u->name.len && !pf->fe->usk->name.len)
		return open_pair(ctx, ur, f, pf);
	if (files_grow(&ur->opening, &ur->cap_opening, ur->nr_opening, sizeof(uint32_t)))
		return -ENOMEM;
	ur->opening[ur->nr_opening++] = u->ino;
	ret = open_single(ctx, ur, f, pf);
	ur->nr_opening--;
	return ret;
}

static void unix_restore_cleanup(struct rst_ctx *ctx)
{
	struct files_rst_priv *priv = ctx->files_priv;
	struct unix_rst *ur = priv ? priv->unix_priv : NULL;

	if (!ur)
		return;
	for (size_t i = 0; i < ur->nr; i++)
		free(ur->pkts[i].data);
	free(ur->pkts);
	free(ur->opening);
	free(ur);
	priv->unix_priv = NULL;
}

static const void *unix_part(const FileEntry *fe)
{
	return fe->usk;
}

static const FownEntry *unix_fown(struct rst_ctx *ctx, const FileEntry *fe)
{
	(void)ctx;
	return fe->usk->fown;
}

const struct fd_kind unix_fd_kind = {
	.name = "unix socket",
	.type = FD_TYPES__UNIXSK,
	.match = unix_match,
	.dump = unix_dump,
	.dump_finish = unix_dump_finish,
	.dump_cleanup = unix_dump_cleanup,
	.part = unix_part,
	.fown = unix_fown,
	.open = unix_open,
	.restore_cleanup = unix_restore_cleanup,
};
