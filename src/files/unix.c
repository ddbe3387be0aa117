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
 * Restore (unix-restore.c).  A connected pair that has no name comes back as a socketpair();
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
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/openat2.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "files/files.h"
#include "files/kind.h"
#include "files/sockopts.h"
#include "files/unix.h"
#include "fdinfo.pb-c.h"
#include "log.h"
#include "ns/ns.h"
#include "sk-packet.pb-c.h"
#include "sk-unix.pb-c.h"


#define QUEUE_MSG_MAX	(1 << 20)	/* the largest message peeked at once */

/* What sock_diag says of one unix socket. */
struct unix_diag_info {
	uint32_t ino;
	uint32_t type, state, peer, rqlen, nr_icons;
	uint32_t wqlen;			/* a listener's: its backlog */
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
	int type;
};

/* A connection not yet accepted: the client's inode and its listener's. */
struct unix_icon {
	uint32_t client, listener;
};

/* An entry not written yet: it waits for its peer's (see unix_put()). */
struct unix_held {
	uint32_t ino, peer;
	uint8_t *buf;			/* the FileEntry packed, NULL once written */
	size_t len;
};

struct unix_dump {
	struct unix_seen *seen;
	size_t nr, cap;
	struct unix_held *held;
	size_t nr_held, cap_held;
	uint32_t *externs;		/* peers outside the tree given an entry */
	size_t nr_externs, cap_externs;
	uint32_t dumping[8];		/* inodes whose queue is being peeked */
	size_t nr_dumping;
	struct unix_icon *icons;	/* of every listener, read once */
	size_t nr_icons, cap_icons;
	bool icons_read;
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
				ui->wqlen = ((struct unix_diag_rqlen *)d)->udiag_wqueue;
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

	nl = ns_net_socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl < 0 || send(nl, &q, sizeof(q), 0) != sizeof(q))
		err = -errno;
	n = err ? 0 : recv(nl, buf, sizeof(buf), 0);
	if (!err && (n < 0 || !NLMSG_OK(h, (unsigned)n)))
		err = n < 0 ? -errno : -EIO;	/* before close() may change it */
	if (nl >= 0)
		close(nl);
	if (!err && h->nlmsg_type == NLMSG_ERROR)
		err = ((struct nlmsgerr *)NLMSG_DATA(h))->error ?: -EIO;
	if (err) {
		pr_err("unix socket %u: sock_diag: %s", ino, strerror(-err));
		return err;
	}
	m = NLMSG_DATA(h);
	memset(ui, 0, sizeof(*ui));
	ui->ino = m->udiag_ino;
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

/* The pending connections of one listener, from a sock_diag dump reply. */
static int add_icons(struct unix_dump *ud, const struct unix_diag_msg *m, struct rtattr *a, int len)
{
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		const uint32_t *ino = RTA_DATA(a);

		if (a->rta_type != UNIX_DIAG_ICONS)
			continue;
		for (size_t i = 0; i < RTA_PAYLOAD(a) / 4; i++) {
			if (files_grow(&ud->icons, &ud->cap_icons, ud->nr_icons, sizeof(*ud->icons)))
				return -ENOMEM;
			ud->icons[ud->nr_icons++] = (struct unix_icon){ ino[i], m->udiag_ino };
		}
	}
	return 0;
}

/*
 * Every listening unix socket's connections not yet accepted, by their
 * client's inode: a client's peer is a socket no one holds yet, which
 * sock_diag shows as none.
 */
static int read_icons(struct unix_dump *ud)
{
	struct {
		struct nlmsghdr nlh;
		struct unix_diag_req req;
	} q = {
		.nlh = { sizeof(q), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, 1, 0 },
		.req = { .sdiag_family = AF_UNIX, .udiag_states = 1 << TCP_LISTEN,
			 .udiag_show = UDIAG_SHOW_ICONS },
	};
	char buf[32768] __attribute__((aligned(8)));
	int nl, n, ret = 0;
	bool done = false;

	ud->icons_read = true;
	nl = ns_net_socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl < 0 || send(nl, &q, sizeof(q), 0) != sizeof(q))
		ret = -errno;
	while (!ret && !done && (n = recv(nl, buf, sizeof(buf), 0)) > 0) {
		for (struct nlmsghdr *h = (void *)buf; !ret && NLMSG_OK(h, (unsigned)n);
		     h = NLMSG_NEXT(h, n)) {
			struct unix_diag_msg *m = NLMSG_DATA(h);

			if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
				done = true;
				break;
			}
			ret = add_icons(ud, m, (struct rtattr *)(m + 1),
					h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
		}
	}
	if (nl >= 0)
		close(nl);
	if (ret)
		pr_err("cannot list the pending unix connections: %s", strerror(-ret));
	return ret;
}

/* The dump's state, with every listener's pending connections read once. */
static int with_icons(struct dump_ctx *ctx, struct unix_dump **ud)
{
	*ud = dump_state(ctx);
	if (!*ud)
		return -ENOMEM;
	return (*ud)->icons_read ? 0 : read_icons(*ud);
}

/*
 * A listener's waiting connections are made again by their clients: one
 * whose client is closed already (inode 0) cannot be, nor what it sent.
 */
static int check_pending(struct dump_ctx *ctx, const struct file_parms *p)
{
	struct unix_dump *ud;
	int ret = with_icons(ctx, &ud);

	for (size_t i = 0; !ret && i < ud->nr_icons; i++)
		if (ud->icons[i].listener == p->st.st_ino && !ud->icons[i].client) {
			pr_err("unsupported: pid %d fd %d is a listening unix socket with a "
			       "connection whose client is closed", p->pid, p->fd);
			ret = -ENOTSUP;
		}
	return ret;
}

/*
 * A connected stream socket with no peer: its peer was closed (it reads
 * the rest, then the end), or it waits to be accepted by a listener,
 * whose inode then stands for its peer: the restore connects to it again.
 */
static int pending_peer(struct dump_ctx *ctx, const struct file_parms *p,
			const struct unix_diag_info *ui, uint32_t *peer)
{
	struct unix_dump *ud;
	int ret = with_icons(ctx, &ud);

	for (size_t i = 0; !ret && i < ud->nr_icons; i++) {
		if (ud->icons[i].client != p->st.st_ino)
			continue;
		if (ui->wqlen) {
			pr_err("unsupported: pid %d fd %d is a unix socket that sent data on a "
			       "connection not yet accepted", p->pid, p->fd);
			return -ENOTSUP;
		}
		*peer = ud->icons[i].listener;
		break;
	}
	return ret;
}

/* A message peeked: its bytes, and the files sent with it. */
struct peeked {
	ssize_t len;
	uint32_t ids[SCM_MAX_FDS];
	size_t nr_ids;
};

/* The files in flight with a message, each dumped as a file of its own. */
static int dump_rights(struct dump_ctx *ctx, const struct file_parms *p, struct msghdr *mh,
		       struct peeked *pk)
{
	int ret = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *fds = (int *)CMSG_DATA(c);

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < n; i++) {
			if (ret || pk->nr_ids == SCM_MAX_FDS) {
				close(fds[i]);
				continue;
			}
			ret = files_dump_inflight(ctx, fds[i], p->pid, &pk->ids[pk->nr_ids++]);
		}
	}
	if (ret)
		pr_err("pid %d fd %d: cannot dump the files in flight in its queue", p->pid, p->fd);
	return ret;
}

/* The next message of @p's receive queue, peeked; -EAGAIN at the end. */
static int peek_next(struct dump_ctx *ctx, const struct file_parms *p, uint8_t *buf,
		     struct peeked *pk)
{
	char cbuf[CMSG_SPACE(sizeof(int) * SCM_MAX_FDS)];
	struct iovec iov = { buf, QUEUE_MSG_MAX };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };

	pk->nr_ids = 0;
	pk->len = recvmsg(p->lfd, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (pk->len < 0)
		return -errno;
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		pr_err("unsupported: pid %d fd %d holds a message over %d bytes or with too "
		       "many files", p->pid, p->fd, QUEUE_MSG_MAX);
		return -ENOTSUP;
	}
	return dump_rights(ctx, p, &mh, pk);
}

static int write_packet(struct dump_ctx *ctx, struct unix_dump *ud, uint32_t id,
			const uint8_t *buf, const struct peeked *pk)
{
	SkPacketEntry e = SK_PACKET_ENTRY__INIT;
	ScmEntry scm = SCM_ENTRY__INIT, *scms[1] = { &scm };
	int ret = files_img_lazy(ctx, &ud->queues, IMG_SK_QUEUES, 0);

	e.id_for = id;
	e.length = pk->len;
	if (pk->nr_ids) {
		scm.type = SCM_RIGHTS;
		scm.n_rights = pk->nr_ids;
		scm.rights = (uint32_t *)pk->ids;
		e.n_scm = 1;
		e.scm = scms;
	}
	if (!ret)
		ret = img_write_msg(ud->queues, &e.base);
	return ret ?: img_write_raw(ud->queues, buf, pk->len);
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

	if (!ud)
		return -ENOMEM;
	/* Files in flight are dumped as they are peeked: sockets among them too. */
	for (size_t i = 0; i < ud->nr_dumping; i++)
		if (ud->dumping[i] == ui->ino || ud->nr_dumping == 8) {
			pr_err("unsupported: pid %d fd %d is a unix socket in flight in its own "
			       "queue, or too deep in others'", p->pid, p->fd);
			return -ENOTSUP;
		}
	if (!(buf = malloc(QUEUE_MSG_MAX)))
		return -ENOMEM;
	ud->dumping[ud->nr_dumping++] = ui->ino;
	getsockopt(p->lfd, SOL_SOCKET, SO_PEEK_OFF, &old, &len);
	if (setsockopt(p->lfd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero))) {
		ret = -errno;
		pr_perror("pid %d fd %d: SO_PEEK_OFF", p->pid, p->fd);
	}
	for (long i = 0; !ret && i < (1L << 24); i++) {
		struct peeked pk;

		ret = peek_next(ctx, p, buf, &pk);
		if (ret == -EAGAIN ||
		    (!ret && !pk.len && !pk.nr_ids && (ui->type == SOCK_STREAM || ui->shutdown & 1))) {
			ret = 0;
			break;
		}
		if (!ret)
			ret = write_packet(ctx, ud, id, buf, &pk);
	}
	setsockopt(p->lfd, SOL_SOCKET, SO_PEEK_OFF, &old, sizeof(old));
	ud->nr_dumping--;
	free(buf);
	return ret;
}

static int unix_match(struct dump_ctx *ctx, struct file_parms *p)
{
	int family = files_socket_family(p);

	(void)ctx;
	return family == AF_UNIX;
}

static bool has_path(const struct unix_diag_info *ui)
{
	return ui->name_len && ui->name[0];
}

/* What this file cannot bring back yet, said in words. */
static int check_supported(const struct file_parms *p, const struct unix_diag_info *ui)
{
	const char *why = NULL;

	if (ui->type != SOCK_STREAM && ui->type != SOCK_DGRAM && ui->type != SOCK_SEQPACKET)
		why = "of an unknown type";
	if (!why)
		return 0;
	pr_err("unsupported: pid %d fd %d is a unix socket %s", p->pid, p->fd, why);
	return -ENOTSUP;
}

/*
 * Its socket file's owner and mode; "deleted" if its path holds another
 * file now.  A relative name was bound in the task's working directory
 * (name_dir): the file is looked for there, and if it is gone, that is
 * where it was.
 */
/*
 * Is the socket file at @path (absolute, in task @p->pid's namespace, not
 * stasis's) on the namespace's root mount, under a mount that now covers
 * its directory?  Then @st is its stat.
 */
static bool under_mounts(const struct file_parms *p, const char *path,
			 const struct unix_diag_info *ui, struct stat *st)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC | O_NOFOLLOW,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int flat, fd;
	bool found;

	if (files_in_my_mntns(p->pid))
		return false;
	flat = files_ns_flat_root(p->pid);
	fd = flat < 0 ? -1 : syscall(SYS_openat2, flat, path, &how, sizeof(how));
	found = fd >= 0 && !fstat(fd, st) && S_ISSOCK(st->st_mode) && st->st_ino == ui->vfs_ino;
	if (fd >= 0)
		close(fd);
	return found;
}

static int dump_path(const struct file_parms *p, const struct unix_diag_info *ui,
		     UnixSkEntry *ue, FilePermsEntry *perms, char *dir, size_t dirlen)
{
	bool rel = ui->name[0] != '/', found;
	char path[PATH_MAX], full[2 * PATH_MAX];
	struct stat st;
	ssize_t n;

	if (rel) {
		/* A relative one is of its working directory, still. */
		snprintf(path, sizeof(path), "/proc/%d/cwd", p->pid);
		n = readlink(path, dir, dirlen - 1);
		if (n <= 0) {
			pr_perror("pid %d: cannot read its working directory", p->pid);
			return -errno;
		}
		dir[n] = 0;
		ue->name_dir = dir;
		snprintf(path, sizeof(path), "/proc/%d/cwd/%s", p->pid, ui->name);
		snprintf(full, sizeof(full), "%s/%s", dir, ui->name);
	} else {
		snprintf(path, sizeof(path), "%s", ui->name);
		snprintf(full, sizeof(full), "%s", ui->name);
	}
	found = !(rel ? stat(path, &st) : files_stat_at_task(p->pid, path, &st, false)) &&
		S_ISSOCK(st.st_mode) && ui->has_vfs && st.st_ino == ui->vfs_ino;
	if (!found && ui->has_vfs && full[0] == '/' && under_mounts(p, full, ui, &st)) {
		/* Its file is on the namespace's root mount, under a mount that covers it now. */
		ue->has_mnt_id = true;
		ue->mnt_id = files_fd_mnt_id(files_ns_root(p->pid));
		pr_info("pid %d: the unix socket on %s is under a mount over its directory", p->pid,
			full);
	} else if (!found) {
		ue->has_deleted = ue->deleted = 1;
		return 0;
	} else if (!rel && !files_in_my_mntns(p->pid)) {
		/* As CRIU: the mount it is on, so that it is bound again in its namespace. */
		ue->has_mnt_id = true;
		ue->mnt_id = files_path_mnt_id(p->pid, path);
	}
	perms->mode = st.st_mode;
	perms->uid = userns_dump_uid(st.st_uid);
	perms->gid = userns_dump_gid(st.st_gid);
	ue->file_perms = perms;
	return 0;
}

static int remember(struct dump_ctx *ctx, const struct file_parms *p, uint32_t peer, int type)
{
	struct unix_dump *ud = dump_state(ctx);

	if (!ud || files_grow(&ud->seen, &ud->cap, ud->nr, sizeof(*ud->seen)))
		return -ENOMEM;
	ud->seen[ud->nr++] = (struct unix_seen){ p->st.st_ino, peer, p->pid, p->fd, type };
	return 0;
}

static struct unix_held *held_of(struct unix_dump *ud, uint32_t ino)
{
	for (size_t i = 0; i < ud->nr_held; i++)
		if (ud->held[i].buf && ud->held[i].ino == ino)
			return &ud->held[i];
	return NULL;
}

static bool seen(const struct unix_dump *ud, uint32_t ino);
static int release_waiting(struct dump_ctx *ctx, struct unix_dump *ud, uint32_t ino);

/* Write @h's entry, then those that waited for it. */
static int release(struct dump_ctx *ctx, struct unix_dump *ud, struct unix_held *h)
{
	uint32_t len = h->len, ino = h->ino;
	int ret;

	ret = img_write_raw(ctx->files_img, &len, sizeof(len)) ?:
	      img_write_raw(ctx->files_img, h->buf, h->len);
	free(h->buf);
	h->buf = NULL;
	return ret ?: release_waiting(ctx, ud, ino);
}

/* The entries that waited for socket @ino's, now written. */
static int release_waiting(struct dump_ctx *ctx, struct unix_dump *ud, uint32_t ino)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < ud->nr_held; i++)
		if (ud->held[i].buf && ud->held[i].peer == ino)
			ret = release(ctx, ud, &ud->held[i]);
	return ret;
}

/*
 * CRIU 4.2 finds a socket's peer at restore only among the entries read
 * before it (a pair that names each other excepted), as it writes them:
 * an entry whose peer's is not written yet waits for it.  Peers outside
 * the tree get theirs at the end (dump_external()), then their clients.
 */
static int unix_put(struct dump_ctx *ctx, struct unix_dump *ud, FileEntry *fe)
{
	uint32_t ino = fe->usk->ino, peer = fe->usk->peer;
	struct unix_held *h = peer && peer != ino ? held_of(ud, peer) : NULL;
	int ret;

	if (peer && peer != ino && (h ? h->peer != ino : !seen(ud, peer))) {
		if (files_grow(&ud->held, &ud->cap_held, ud->nr_held, sizeof(*ud->held)))
			return -ENOMEM;
		h = &ud->held[ud->nr_held];
		h->len = protobuf_c_message_get_packed_size(&fe->base);
		h->buf = malloc(h->len ?: 1);
		if (!h->buf)
			return -ENOMEM;
		protobuf_c_message_pack(&fe->base, h->buf);
		h->ino = ino;
		h->peer = peer;
		ud->nr_held++;
		return 0;
	}
	ret = img_write_msg(ctx->files_img, &fe->base);
	return ret ?: release_waiting(ctx, ud, ino);
}

static int unix_dump(struct dump_ctx *ctx, struct file_parms *p, uint32_t id)
{
	UnixSkEntry ue = UNIX_SK_ENTRY__INIT;
	SkOptsEntry opts = SK_OPTS_ENTRY__INIT;
	FilePermsEntry perms = FILE_PERMS_ENTRY__INIT;
	FileEntry fe = FILE_ENTRY__INIT;
	struct unix_diag_info ui;
	char dir[PATH_MAX];
	int ret;

	ret = unix_diag(p->st.st_ino, &ui) ?: check_supported(p, &ui);
	if (ret)
		return ret;
	ue.id = id;
	ue.ino = p->st.st_ino;
	ue.type = ui.type;
	ue.state = ui.state;
	ue.flags = p->flags;
	ue.backlog = ui.state == TCP_LISTEN ? ui.wqlen : 0;
	ue.has_ns_id = p->net_ns_id != 0;
	ue.ns_id = p->net_ns_id;
	ue.peer = ui.peer;
	if (ui.state == TCP_ESTABLISHED && ui.type != SOCK_DGRAM && !ui.peer)
		ret = pending_peer(ctx, p, &ui, &ue.peer);
	if (!ret && ui.state == TCP_LISTEN && ui.nr_icons)
		ret = check_pending(ctx, p);
	if (ret)
		return ret;
	ue.fown = &p->fown;
	ret = sockopts_dump(p->lfd, AF_UNIX, &opts);
	if (ret) {
		pr_err("pid %d fd %d: its socket options cannot be kept", p->pid, p->fd);
		return ret;
	}
	ue.opts = &opts;
	ue.name.data = (uint8_t *)ui.name;
	ue.name.len = ui.name_len;
	if (ui.shutdown & 3) {
		ue.has_shutdown = 1;
		ue.shutdown = ui.shutdown & 3;
	}
	if (has_path(&ui))
		ret = dump_path(p, &ui, &ue, &perms, dir, sizeof(dir));
	if (!ret)
		ret = remember(ctx, p, ui.peer, ui.type);
	/* A datagram socket's queue length counts only its first message. */
	if (!ret && ui.state != TCP_LISTEN && (ui.rqlen || ui.type == SOCK_DGRAM))
		ret = dump_queue(ctx, p, id, &ui);
	fe.type = FD_TYPES__UNIXSK;
	fe.id = id;
	fe.usk = &ue;
	ret = ret ?: unix_put(ctx, dump_state(ctx), &fe);
	sockopts_free(&opts);
	return ret;
}

static bool seen(const struct unix_dump *ud, uint32_t ino)
{
	for (size_t k = 0; k < ud->nr; k++)
		if (ud->seen[k].ino == ino)
			return true;
	return false;
}

/*
 * A datagram socket connected to a named one outside the tree (syslog's
 * /dev/log): with --ext-unix-sk, the peer gets an entry of its own, as
 * CRIU writes it (USK_EXTERN, its name), once; the restore connects to
 * that name again.  Without it, or for a stream, refused.
 */
static int dump_external(struct dump_ctx *ctx, struct unix_dump *ud, const struct unix_seen *s)
{
	UnixSkEntry ue = UNIX_SK_ENTRY__INIT;
	SkOptsEntry opts = SK_OPTS_ENTRY__INIT;
	FownEntry fown = FOWN_ENTRY__INIT;
	FileEntry fe = FILE_ENTRY__INIT;
	struct unix_diag_info pi;
	int ret;

	if (s->type != SOCK_DGRAM || !ctx->opts->ext_unix_sk) {
		pr_err("unsupported: pid %d fd %d is a unix socket connected to socket %u, "
		       "outside the tree%s", s->pid, s->fd, s->peer,
		       s->type == SOCK_DGRAM ? " (--ext-unix-sk reconnects it by name)" : "");
		return -ENOTSUP;
	}
	for (size_t i = 0; i < ud->nr_externs; i++)
		if (ud->externs[i] == s->peer)
			return 0;
	ret = unix_diag(s->peer, &pi);
	if (ret)
		return ret;
	if (!pi.name_len || !pi.name[0] || pi.name[0] != '/') {
		pr_err("unsupported: pid %d fd %d is connected to socket %u outside the tree, "
		       "which has no absolute path to connect to again", s->pid, s->fd, s->peer);
		return -ENOTSUP;
	}
	if (files_grow(&ud->externs, &ud->cap_externs, ud->nr_externs, sizeof(uint32_t)))
		return -ENOMEM;
	ud->externs[ud->nr_externs++] = s->peer;
	ue.id = dump_next_file_id(ctx);
	ue.ino = s->peer;
	ue.type = SOCK_DGRAM;
	ue.state = TCP_LISTEN;
	ue.uflags = USK_EXTERN;
	ue.fown = &fown;
	ue.opts = &opts;
	ue.name.data = (uint8_t *)pi.name;
	ue.name.len = pi.name_len;
	fe.type = FD_TYPES__UNIXSK;
	fe.id = ue.id;
	fe.usk = &ue;
	pr_info("unix socket %u outside the tree, %s: connected to again by name", s->peer,
		pi.name);
	return img_write_msg(ctx->files_img, &fe.base) ?: release_waiting(ctx, ud, s->peer);
}

/*
 * Every peer must be a socket of the tree.  A client outside it waiting
 * on a listener of the tree is dropped, as if the listener had been reset.
 */
static int unix_dump_finish(struct dump_ctx *ctx)
{
	struct files_priv *priv = ctx->files_priv;
	struct unix_dump *ud = priv ? priv->unix_priv : NULL;
	int ret = 0;

	for (size_t i = 0; ud && i < ud->nr_icons; i++)
		if (seen(ud, ud->icons[i].listener) && !seen(ud, ud->icons[i].client))
			pr_warn("unix socket %u: its connection not yet accepted from socket %u, "
				"outside the tree, is not restored", ud->icons[i].listener,
				ud->icons[i].client);
	for (size_t i = 0; ud && !ret && i < ud->nr; i++) {
		const struct unix_seen *s = &ud->seen[i];

		if (s->peer && !seen(ud, s->peer))
			ret = dump_external(ctx, ud, s);
	}
	/* A ring of datagram sockets each waiting for the next: as they come. */
	for (size_t i = 0; ud && !ret && i < ud->nr_held; i++)
		if (ud->held[i].buf)
			ret = release(ctx, ud, &ud->held[i]);
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
	for (size_t i = 0; i < ud->nr_held; i++)
		free(ud->held[i].buf);
	free(ud->held);
	free(ud->icons);
	free(ud->externs);
	free(ud->seen);
	free(ud);
	priv->unix_priv = NULL;
}

static const void *unix_part(const FileEntry *fe)
{
	return fe->usk;
}

static uint32_t unix_net_ns(const FileEntry *fe)
{
	return fe->usk->has_ns_id ? fe->usk->ns_id : 0;
}

static const FownEntry *unix_fown(struct rst_ctx *ctx, const FileEntry *fe)
{
	(void)ctx;
	return fe->usk->fown;
}

static int unix_inherit_key(struct rst_ctx *ctx, const FileEntry *fe, char *buf, size_t size)
{
	(void)ctx;
	snprintf(buf, size, "socket:[%u]", fe->usk->ino);
	return 0;
}

const struct fd_kind unix_fd_kind = {
	.name = "unix socket",
	.type = FD_TYPES__UNIXSK,
	.match = unix_match,
	.dump = unix_dump,
	.dump_finish = unix_dump_finish,
	.dump_cleanup = unix_dump_cleanup,
	.part = unix_part,
	.inherit_key = unix_inherit_key,
	.fown = unix_fown,
	.net_ns = unix_net_ns,
	.open = unix_restore_open,
	.prepared = unix_restore_prepared,
	.restore_cleanup = unix_restore_cleanup,
};
