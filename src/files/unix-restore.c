/*
 * unix-restore.c - AF_UNIX sockets made again (unix.c says what of them
 * is dumped, and how).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "files/files.h"
#include "files/sockopts.h"
#include "files/unix.h"
#include "fdinfo.pb-c.h"
#include "log.h"
#include "ns/ns.h"
#include "sk-packet.pb-c.h"
#include "sk-unix.pb-c.h"



struct unix_packet {
	uint32_t id_for;
	uint32_t len;
	uint8_t *data;
	uint32_t *rights;		/* files.img ids sent with it (SCM_RIGHTS) */
	size_t nr_rights;
};


/* The file of a removed socket, bound again: removed once all are made. */
struct unix_removal {
	char *path;			/* absolute */
	char *aside;			/* what held the path meanwhile, or NULL */
	char *top;			/* the highest directory we made for it, or NULL */
};

struct unix_rst {
	struct rst_ctx *ctx;
	struct unix_removal *rm;
	size_t nr_rm, cap_rm;
	struct unix_packet *pkts;	/* sk-queues.img, in order */
	size_t nr, cap;
	bool loaded;
	uint32_t *opening;		/* inodes whose open is under way */
	size_t nr_opening, cap_opening;
	uint32_t held;			/* removed socket a connect waits for */
	uint32_t lst_ino;		/* removed listener making its accepted ones */
	int lst_fd;			/* ... and its fd, not in the pool yet */
};

static struct unix_rst *rst_state(struct rst_ctx *ctx)
{
	struct files_rst_priv *priv = files_rst_priv(ctx);

	struct unix_rst *ur;

	if (priv && !priv->unix_priv)
		priv->unix_priv = calloc(1, sizeof(struct unix_rst));
	ur = priv ? priv->unix_priv : NULL;
	if (ur)
		ur->ctx = ctx;
	return ur;
}

static int copy_rights(const SkPacketEntry *e, struct unix_packet *pk)
{
	for (size_t k = 0; k < e->n_scm; k++) {
		const ScmEntry *c = e->scm[k];

		if (c->type != SCM_RIGHTS || !c->n_rights)
			continue;
		if (pk->nr_rights + c->n_rights > SCM_MAX_FDS) {
			pr_err("a queued message of socket id %u carries over %d files", e->id_for,
			       SCM_MAX_FDS);
			return -EINVAL;
		}
		pk->rights = realloc(pk->rights, (pk->nr_rights + c->n_rights) * sizeof(uint32_t));
		if (!pk->rights)
			return -ENOMEM;
		memcpy(pk->rights + pk->nr_rights, c->rights, c->n_rights * sizeof(uint32_t));
		pk->nr_rights += c->n_rights;
	}
	return 0;
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
			*pk = (struct unix_packet){ e->id_for, e->length, NULL, NULL, 0 };
			ret = img_read_alloc(img, e->length, &pk->data) ?: copy_rights(e, pk);
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

/*
 * A relative name is bound and reached from the directory it was bound
 * in: the controller works there meanwhile.  The old directory, or -1.
 */
static int enter_dir(const UnixSkEntry *u, int *old)
{
	int err;

	*old = -1;
	if (!u->name_dir || !u->name.len || u->name.data[0] == '/' || !u->name.data[0])
		return 0;
	*old = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*old < 0 || chdir(u->name_dir)) {
		err = -errno;	/* before close() may change it */
		pr_perror("unix socket %u: cannot work in %s", u->ino, u->name_dir);
		if (*old >= 0)
			close(*old);
		*old = -1;
		return err;
	}
	return 0;
}

/*
 * Where a named socket's path is looked up at restore: in the mount
 * namespace of its mount, and, when another mount covers its directory
 * now, inside a copy of its mount alone (a chroot there for the while).
 */
struct sk_at {
	int in;			/* moved into another mount namespace */
	int root, cwd;		/* the controller's own, while chrooted */
};

static int at_leave(struct sk_at *a)
{
	int ret = 0;

	if (a->root >= 0 && (fchdir(a->root) || chroot(".") || fchdir(a->cwd))) {
		pr_perror("cannot return to the controller's root");
		ret = -errno;
	}
	if (a->root >= 0)
		close(a->root);
	if (a->cwd >= 0)
		close(a->cwd);
	a->root = a->cwd = -1;
	if (a->in)
		ret = mntns_back() ?: ret;
	a->in = 0;
	return ret;
}

static int at_enter(const UnixSkEntry *u, struct sk_at *a)
{
	char path[PATH_MAX + sizeof(((struct sockaddr_un *)0)->sun_path)];
	int flat;

	*a = (struct sk_at){ 0, -1, -1 };
	if (!u->has_mnt_id || u->mnt_id < 0 || !u->name.len || !u->name.data[0])
		return 0;
	a->in = mntns_enter_of(u->mnt_id);
	if (a->in < 0)
		return a->in;
	/* A relative name is of its directory (enter_dir() goes there, inside). */
	if (snprintf(path, sizeof(path), "%s%s%.*s", u->name.data[0] == '/' ? "" : u->name_dir ?: "",
		     u->name.data[0] == '/' ? "" : "/", (int)u->name.len, u->name.data) >=
	    (int)sizeof(path) || path[0] != '/')
		return 0;
	flat = mntns_flat_if_covered(u->mnt_id, path);
	if (flat < 0)
		return 0;
	a->root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	a->cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (a->root < 0 || a->cwd < 0 || fchdir(flat) || chroot(".")) {
		pr_perror("unix socket %u: cannot reach %s under the mount over it", u->ino, path);
		close(flat);
		at_leave(a);
		return -EIO;
	}
	close(flat);
	pr_info("unix socket %u: %s reached under the mount over its directory", u->ino, path);
	return 0;
}

static void leave_dir(int old)
{
	if (old >= 0 && fchdir(old))
		pr_perror("cannot go back to the working directory");
	if (old >= 0)
		close(old);
}

/* Make the missing directories above @path; the highest made, or NULL. */
static char *make_dirs(const char *path)
{
	char *dup = strdup(path), *top = NULL;

	for (char *sl = dup ? strchr(dup + 1, '/') : NULL; sl; sl = strchr(sl + 1, '/')) {
		*sl = 0;
		if (!mkdir(dup, 0755) && !top)
			top = strdup(dup);
		*sl = '/';
	}
	free(dup);
	return top;
}

/* Remove the directories make_dirs() made above @path, deepest first. */
static void remove_dirs(const char *path, const char *top)
{
	char *dup = strdup(path), *sl;

	while (dup && (sl = strrchr(dup, '/')) && sl != dup) {
		*sl = 0;
		if (strlen(dup) < strlen(top) || rmdir(dup) || !strcmp(dup, top))
			break;
	}
	free(dup);
}

static void do_removal(struct unix_removal *r)
{
	unlink(r->path);
	if (r->aside && rename(r->aside, r->path))
		pr_perror("cannot put %s back", r->path);
	if (r->top)
		remove_dirs(r->path, r->top);
	free(r->path);
	free(r->aside);
	free(r->top);
}

/*
 * A socket whose file was removed is bound where it was, its directories
 * made if they are gone too; a file that took the path steps aside.  The
 * file goes again once every socket exists (others may connect to it).
 */
static int bind_deleted(struct unix_rst *ur, int fd, const UnixSkEntry *u,
			struct sockaddr_un *sa, socklen_t len)
{
	struct unix_removal r = { NULL, NULL, NULL };
	char full[PATH_MAX + sizeof(sa->sun_path)];

	if (sa->sun_path[0] != '/' && u->name_dir)
		snprintf(full, sizeof(full), "%s/%s", u->name_dir, sa->sun_path);
	else
		snprintf(full, sizeof(full), "%s", sa->sun_path);
	if (files_grow(&ur->rm, &ur->cap_rm, ur->nr_rm, sizeof(*ur->rm)) ||
	    !(r.path = strdup(full)))
		return -ENOMEM;
	if (!access(full, F_OK)) {
		if (asprintf(&r.aside, "%s.stasis-aside", full) < 0 || rename(full, r.aside)) {
			pr_perror("unix socket %u: cannot move %s aside", u->ino, full);
			free(r.path);
			return -EIO;
		}
	}
	if (bind(fd, (struct sockaddr *)sa, len) && errno == ENOENT) {
		r.top = make_dirs(full);
		bind(fd, (struct sockaddr *)sa, len);
	}
	ur->rm[ur->nr_rm++] = r;
	if (access(full, F_OK)) {
		pr_perror("unix socket %u: cannot bind it to %s", u->ino, full);
		return -EIO;
	}
	return 0;
}

static void do_removals(struct unix_rst *ur)
{
	while (ur->nr_rm)
		do_removal(&ur->rm[--ur->nr_rm]);
}

int unix_restore_prepared(struct rst_ctx *ctx)
{
	struct files_rst_priv *priv = ctx->files_priv;

	if (priv && priv->unix_priv)
		do_removals(priv->unix_priv);
	return 0;
}

/* Bind @fd to @u's name; a stale socket file at its path goes first. */
static int bind_name(struct unix_rst *ur, int fd, const UnixSkEntry *u)
{
	struct sockaddr_un sa;
	socklen_t len = make_addr(u, &sa);
	bool path = sa.sun_path[0];
	struct stat st;
	struct sk_at at;
	int old, ret;

	ret = at_enter(u, &at);
	if (ret)
		return ret;
	ret = enter_dir(u, &old);
	if (ret) {
		at_leave(&at);
		return ret;
	}
	if (path && u->deleted) {
		ret = bind_deleted(ur, fd, u, &sa, len);
		goto out;
	}
	if (path && !lstat(sa.sun_path, &st) && S_ISSOCK(st.st_mode))
		unlink(sa.sun_path);
	if (bind(fd, (struct sockaddr *)&sa, len)) {
		pr_perror("unix socket %u: cannot bind it to %s%s", u->ino, path ? "" : "@",
			  sa.sun_path + !path);
		ret = -errno;
		goto out;
	}
	if (path && u->file_perms &&
	    (chmod(sa.sun_path, u->file_perms->mode & 07777) ||
	     lchown(sa.sun_path, userns_host_uid(u->file_perms->uid),
		    userns_host_gid(u->file_perms->gid)))) {
		pr_perror("unix socket %u: cannot give %s its owner and mode", u->ino,
			  sa.sun_path);
		ret = -errno;
	}
out:
	leave_dir(old);
	return at_leave(&at) ?: ret;
}

static int set_int(int fd, int opt, int v)
{
	return setsockopt(fd, SOL_SOCKET, opt, &v, sizeof(v));
}

/* One message again, with the files it carried, opened as the images say. */
static int send_packet(struct unix_rst *ur, const struct unix_packet *pk, int from,
		       const struct sockaddr_un *sa, socklen_t salen)
{
	char cbuf[CMSG_SPACE(sizeof(int) * SCM_MAX_FDS)] __attribute__((aligned(8)));
	struct iovec iov = { pk->data, pk->len };
	struct msghdr mh = { .msg_name = (void *)sa, .msg_namelen = sa ? salen : 0,
			     .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	ssize_t n;

	if (pk->nr_rights) {
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * pk->nr_rights);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * pk->nr_rights);
		for (size_t i = 0; i < pk->nr_rights; i++) {
			int fd = files_restore_open(ur->ctx, pk->rights[i]);

			if (fd < 0)
				return fd;
			memcpy(CMSG_DATA(c) + i * sizeof(int), &fd, sizeof(int));
		}
	}
	n = sendmsg(from, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0)
		return -errno;
	return n == (ssize_t)pk->len ? 0 : -EIO;
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
		int ret;

		if (ur->pkts[i].id_for != to->id)
			continue;
		ret = send_packet(ur, &ur->pkts[i], from, sa, salen);
		if (ret) {
			pr_err("unix socket %u: cannot queue %u bytes again", to->ino,
			       ur->pkts[i].len);
			return ret;
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
	if (!ret && u->opts)
		ret = sockopts_restore(fd, u->opts);
	if (!ret && fcntl(fd, F_SETFL, u->flags & (O_NONBLOCK | O_ASYNC))) {
		pr_perror("unix socket %u: cannot set its flags", u->ino);
		ret = -errno;
	}
	return ret;
}

static int connect_dependents(struct rst_ctx *ctx, struct unix_rst *ur, const UnixSkEntry *u);

/*
 * One end of a datagram pair that took a name after it was made: bound
 * now.  A name since removed is bound, the sockets connected to it are
 * made, and it goes again before the other end may bind the same path.
 */
static int name_pair_end(struct rst_ctx *ctx, struct unix_rst *ur, int fd, const UnixSkEntry *u)
{
	size_t rm_mark = ur->nr_rm;
	int ret;

	if (!u->name.len)
		return 0;
	ret = bind_name(ur, fd, u);
	if (!ret && u->deleted && u->name.data[0])
		ret = connect_dependents(ctx, ur, u);
	while (ur->nr_rm > rm_mark)
		do_removal(&ur->rm[--ur->nr_rm]);
	return ret;
}

static int name_pair(struct rst_ctx *ctx, struct unix_rst *ur, const int sv[2],
		     const UnixSkEntry *u, const UnixSkEntry *pu)
{
	int ret;

	if (!u->name.len && !pu->name.len)
		return 0;
	if (files_grow(&ur->opening, &ur->cap_opening, ur->nr_opening + 1, sizeof(uint32_t)))
		return -ENOMEM;
	ur->opening[ur->nr_opening++] = u->ino;
	ur->opening[ur->nr_opening++] = pu->ino;
	ret = name_pair_end(ctx, ur, sv[0], u) ?: name_pair_end(ctx, ur, sv[1], pu);
	ur->nr_opening -= 2;
	return ret;
}

/*
 * A connected pair: a socketpair, the peer's end kept for it.  Datagram
 * ends with names were bound after they connected, as socketpair() and
 * bind() do (connecting by name could reach the wrong one, as both may
 * have had the same path one after the other).
 */
static int open_pair(struct rst_ctx *ctx, struct unix_rst *ur, struct rst_file *f,
		     struct rst_file *pf)
{
	const UnixSkEntry *u = f->fe->usk, *pu = pf->fe->usk;
	int sv[2], ret, mine, theirs;

	if (socketpair(AF_UNIX, u->type | SOCK_CLOEXEC, 0, sv)) {
		pr_perror("unix socket %u: socketpair", u->ino);
		return -errno;
	}
	ret = name_pair(ctx, ur, sv, u, pu);
	if (ret) {
		close(sv[0]);
		close(sv[1]);
		return ret;
	}
	/*
	 * Both ends are known before their queues are refilled: one may be
	 * in flight there (a socket sent over itself, or over its peer).
	 */
	mine = rst_pool_add(ctx, sv[0]);
	theirs = mine < 0 ? (close(sv[1]), mine) : rst_pool_add(ctx, sv[1]);
	if (theirs < 0)
		return theirs;
	f->fd = mine;
	pf->fd = theirs;
	ret = send_queue(ur, u, theirs, NULL, 0) ?: send_queue(ur, pu, mine, NULL, 0);
	if (!ret)
		ret = finish_socket(mine, u) ?: finish_socket(theirs, pu);
	if (!ret && pu->fown && pu->fown->signum && fcntl(theirs, F_SETSIG, pu->fown->signum))
		ret = -errno;
	if (ret) {
		close(mine);
		close(theirs);
		f->fd = -1;
		pf->fd = -1;
		return ret;
	}
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
	size_t rm_mark = ur->nr_rm;
	struct sockaddr_un sa;
	uint32_t held;
	socklen_t len;
	struct sk_at at;
	int ret, old;

	if (pf->fe->usk->uflags & USK_EXTERN) {
		if (!ctx->opts->ext_unix_sk) {
			pr_err("unix socket %u: connected to a socket outside the tree; restore "
			       "with --ext-unix-sk to connect it to %.*s again", u->ino,
			       (int)pf->fe->usk->name.len, (const char *)pf->fe->usk->name.data);
			return -ENOTSUP;
		}
	} else if (!pf->fe->usk->name.len) {
		pr_err("unix socket %u: connected to socket %u, which has no name", u->ino,
		       pf->fe->usk->ino);
		return -EINVAL;
	}
	if (!opening(ur, pf->fe->usk->ino) && !(pf->fe->usk->uflags & USK_EXTERN)) {
		/*
		 * A peer whose file was removed keeps its name until we are
		 * connected: the file that had the path may come back then.
		 */
		held = ur->held;
		ur->held = pf->fe->usk->ino;
		ret = files_restore_open(ctx, pf->fe->id);
		ur->held = held;
		if (ret < 0)
			goto out;
	}
	len = make_addr(pf->fe->usk, &sa);
	ret = at_enter(pf->fe->usk, &at);
	if (ret)
		goto out;
	ret = enter_dir(pf->fe->usk, &old);
	if (!ret && connect(fd, (struct sockaddr *)&sa, len)) {
		pr_perror("unix socket %u: cannot connect it to socket %u", u->ino,
			  pf->fe->usk->ino);
		ret = -errno;
	}
	leave_dir(old);
	ret = at_leave(&at) ?: ret;
out:
	while (ur->nr_rm > rm_mark)
		do_removal(&ur->rm[--ur->nr_rm]);
	return ret;
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
	int from, ret, old;

	if (!has_queue(ur, u->id))
		return 0;
	from = socket(AF_UNIX, u->type | SOCK_CLOEXEC, 0);
	if (from < 0)
		return -errno;
	ret = enter_dir(u, &old) ?: send_queue(ur, u, from, &sa, len);
	leave_dir(old);
	close(from);
	return ret;
}

/* Open every unix socket of the images not opened yet that @match picks. */
static int open_matching(struct rst_ctx *ctx, struct unix_rst *ur,
			 bool (*match)(const UnixSkEntry *e, const UnixSkEntry *u),
			 const UnixSkEntry *u)
{
	for (size_t i = 0; i < ctx->nr_files; i++) {
		const FileEntry *fe = ctx->files[i].fe;
		int ret;

		if (fe->type != FD_TYPES__UNIXSK || !fe->usk || ctx->files[i].fd >= 0 ||
		    opening(ur, fe->usk->ino) || !match(fe->usk, u))
			continue;
		ret = files_restore_open(ctx, fe->id);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static bool connected_to(const UnixSkEntry *e, const UnixSkEntry *u)
{
	return e->peer == u->ino;
}

/*
 * The sockets connected to removed socket @u, connected while its file
 * is back: another socket may take its name as soon as it goes again.
 */
static int connect_dependents(struct rst_ctx *ctx, struct unix_rst *ur, const UnixSkEntry *u)
{
	return open_matching(ctx, ur, connected_to, u);
}

static bool same_name(const UnixSkEntry *a, const UnixSkEntry *b);

static bool accepted_from(const UnixSkEntry *e, const UnixSkEntry *l)
{
	return e->state == TCP_ESTABLISHED && e->type != SOCK_DGRAM && e->peer && same_name(e, l);
}

/*
 * Before a connection waits in listener @l's queue again, every connection
 * it accepted is made again through it: each accept must find its own.
 */
static int accepted_first(struct rst_ctx *ctx, struct unix_rst *ur, const UnixSkEntry *l)
{
	return open_matching(ctx, ur, accepted_from, l);
}

static int open_single(struct rst_ctx *ctx, struct unix_rst *ur, struct rst_file *f,
		       struct rst_file *pf)
{
	const UnixSkEntry *u = f->fe->usk;
	bool removed = u->deleted && u->name.len && u->name.data[0];
	size_t rm_mark = ur->nr_rm;
	int fd, ret = 0;

	fd = socket(AF_UNIX, u->type | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		pr_perror("unix socket %u: socket", u->ino);
		return -errno;
	}
	if (u->name.len)
		ret = bind_name(ur, fd, u);
	if (!ret && u->state == TCP_LISTEN && listen(fd, u->backlog)) {
		pr_perror("unix socket %u: listen", u->ino);
		ret = -errno;
	}
	if (!ret && pf && pf->fe->usk->state == TCP_LISTEN)
		ret = accepted_first(ctx, ur, pf->fe->usk);
	if (!ret && pf)
		ret = connect_peer(ctx, ur, fd, u, pf);
	if (!ret && pf == f)
		ret = send_queue(ur, u, fd, NULL, 0);	/* connected to itself: only it may */
	else if (!ret && u->name.len)
		ret = refill_named(ur, u);
	else if (!ret && has_queue(ur, u->id)) {
		pr_err("unix socket %u: has messages queued but neither a name nor a peer "
		       "to send them again from", u->ino);
		ret = -ENOTSUP;
	}
	if (!ret && removed)
		ret = connect_dependents(ctx, ur, u);
	if (!ret && removed && u->state == TCP_LISTEN) {
		/* Its name goes with it: what it accepted connects through it now. */
		ur->lst_ino = u->ino;
		ur->lst_fd = fd;
		ret = accepted_first(ctx, ur, u);
		ur->lst_ino = 0;
	}
	if (removed && ur->nr_rm > rm_mark && ur->held != u->ino)
		do_removal(&ur->rm[--ur->nr_rm]);
	if (!ret)
		ret = finish_socket(fd, u);
	if (ret) {
		close(fd);
		return ret;
	}
	return rst_pool_add(ctx, fd);
}

/*
 * An unnamed socket whose peer is gone (a stream reads its data, then its
 * end) or whose messages came from no socket of the tree: one end of a
 * pair whose other end sends the messages and is closed.
 */
static int open_orphan(struct rst_ctx *ctx, struct unix_rst *ur, struct rst_file *f)
{
	const UnixSkEntry *u = f->fe->usk;
	int sv[2], ret;

	if (socketpair(AF_UNIX, u->type | SOCK_CLOEXEC, 0, sv)) {
		pr_perror("unix socket %u: socketpair", u->ino);
		return -errno;
	}
	ret = send_queue(ur, u, sv[1], NULL, 0);
	close(sv[1]);
	if (!ret)
		ret = finish_socket(sv[0], u);
	if (ret) {
		close(sv[0]);
		return ret;
	}
	return rst_pool_add(ctx, sv[0]);
}

static bool same_name(const UnixSkEntry *a, const UnixSkEntry *b)
{
	return a->name.len == b->name.len && !memcmp(a->name.data, b->name.data, a->name.len) &&
	       !strcmp(a->name_dir ?: "", b->name_dir ?: "");
}

/* The listening socket of the images bound to @u's name, or NULL. */
static struct rst_file *listener_of(struct rst_ctx *ctx, const UnixSkEntry *u)
{
	for (size_t i = 0; u->name.len && i < ctx->nr_files; i++) {
		const FileEntry *fe = ctx->files[i].fe;

		if (fe->type == FD_TYPES__UNIXSK && fe->usk && fe->usk->state == TCP_LISTEN &&
		    same_name(fe->usk, u))
			return &ctx->files[i];
	}
	return NULL;
}

/*
 * A listener of our own at @u's name, for as long as one connection takes;
 * a file that holds the path steps aside meanwhile (@aside).
 */
static int temp_listener(const UnixSkEntry *u, char *aside, size_t size)
{
	struct sockaddr_un sa;
	socklen_t len = make_addr(u, &sa);
	int l = socket(AF_UNIX, u->type | SOCK_CLOEXEC, 0);

	*aside = 0;
	if (l < 0)
		return -errno;
	if (sa.sun_path[0] && !access(sa.sun_path, F_OK)) {
		snprintf(aside, size, "%s.stasis-aside", sa.sun_path);
		if (rename(sa.sun_path, aside))
			*aside = 0;
	}
	if (bind(l, (struct sockaddr *)&sa, len) || listen(l, 1)) {
		int err = -errno;

		pr_perror("unix socket %u: cannot listen on its name to connect it again", u->ino);
		close(l);
		return err;
	}
	return l;
}

static void temp_listener_end(const UnixSkEntry *u, int l, const char *aside)
{
	struct sockaddr_un sa;

	make_addr(u, &sa);
	close(l);
	if (sa.sun_path[0])
		unlink(sa.sun_path);
	if (*aside && rename(aside, sa.sun_path))
		pr_perror("cannot put %s back", sa.sun_path);
}

/*
 * @s (accepted from a listener, so named as it) and @c connected: @c
 * connects to that name again and @s is accepted, from the listener of the
 * images if it has one, else from one of our own.
 */
static int connect_accept(struct rst_ctx *ctx, struct unix_rst *ur, const UnixSkEntry *su,
			  const UnixSkEntry *cu, int *s, int *c)
{
	struct rst_file *lf = listener_of(ctx, su);
	char aside[sizeof(((struct sockaddr_un *)0)->sun_path) + 32];
	struct sockaddr_un sa;
	socklen_t len = make_addr(su, &sa);
	struct sk_at at;
	int l, old, ret;

	*s = -1;
	*c = socket(AF_UNIX, cu->type | SOCK_CLOEXEC, 0);
	if (*c < 0)
		return -errno;
	ret = cu->name.len ? bind_name(ur, *c, cu) : 0;
	if (ret)
		return ret;
	ret = at_enter(su, &at);
	if (ret)
		return ret;
	ret = enter_dir(su, &old);
	if (ret) {
		at_leave(&at);
		return ret;
	}
	if (lf && lf->fe->usk->ino == ur->lst_ino)
		l = ur->lst_fd;
	else
		l = lf ? files_restore_open(ctx, lf->fe->id) : temp_listener(su, aside, sizeof(aside));
	if (l >= 0 && !connect(*c, (struct sockaddr *)&sa, len))
		*s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (l >= 0 && *s < 0)
		pr_perror("unix socket %u: cannot connect it again to %u", cu->ino, su->ino);
	ret = l < 0 ? l : *s < 0 ? -errno : 0;
	if (!lf && l >= 0)
		temp_listener_end(su, l, aside);
	leave_dir(old);
	return at_leave(&at) ?: ret;
}

/* A connected stream pair of which one end has a name: accepted from a listener. */
static int open_accepted(struct rst_ctx *ctx, struct unix_rst *ur, struct rst_file *f,
			 struct rst_file *pf)
{
	const UnixSkEntry *u = f->fe->usk, *pu = pf->fe->usk;
	bool f_is_server = u->name.len && (!pu->name.len || listener_of(ctx, u));
	const UnixSkEntry *su = f_is_server ? u : pu, *cu = f_is_server ? pu : u;
	struct rst_file *lf = listener_of(ctx, su);
	int s, c, ret, mine, theirs;

	/*
	 * A listener whose name was removed makes what it accepted while its
	 * name is back: this pair among them.
	 */
	if (lf && lf->fd < 0 && lf->fe->usk->deleted && !opening(ur, lf->fe->usk->ino)) {
		ret = files_restore_open(ctx, lf->fe->id);
		if (ret < 0 || f->fd >= 0)
			return ret < 0 ? ret : f->fd;
	}

	ret = connect_accept(ctx, ur, su, cu, &s, &c);
	if (!ret)
		ret = send_queue(ur, su, c, NULL, 0) ?: send_queue(ur, cu, s, NULL, 0);
	if (!ret)
		ret = finish_socket(s, su) ?: finish_socket(c, cu);
	if (!ret && pu->fown && pu->fown->signum &&
	    fcntl(f_is_server ? c : s, F_SETSIG, pu->fown->signum))
		ret = -errno;
	if (ret) {
		if (s >= 0)
			close(s);
		if (c >= 0)
			close(c);
		return ret;
	}
	mine = rst_pool_add(ctx, f_is_server ? s : c);
	theirs = mine < 0 ? (close(f_is_server ? c : s), mine) :
			    rst_pool_add(ctx, f_is_server ? c : s);
	if (theirs < 0)
		return theirs;
	pf->fd = theirs;
	return mine;
}

int unix_restore_open(struct rst_ctx *ctx, struct rst_file *f)
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
	if (opening(ur, u->ino)) {
		pr_err("unix socket %u: its sockets depend on each other in a loop", u->ino);
		return -ELOOP;
	}
	if (u->peer && !(pf = file_by_ino(ctx, u->peer))) {
		pr_err("unix socket %u: its peer %u is not in the images", u->ino, u->peer);
		return -EINVAL;
	}
	/* (A datagram socket may be connected to itself: not a pair.) */
	if (pf && pf != f && pf->fe->usk->peer == u->ino &&
	    (u->type == SOCK_DGRAM || (!u->name.len && !pf->fe->usk->name.len)))
		return open_pair(ctx, ur, f, pf);
	if (pf && pf->fe->usk->peer == u->ino && u->type != SOCK_DGRAM)
		return open_accepted(ctx, ur, f, pf);
	if (!pf && !u->name.len &&
	    (has_queue(ur, u->id) || (u->type != SOCK_DGRAM && u->state == TCP_ESTABLISHED)))
		return open_orphan(ctx, ur, f);
	if (files_grow(&ur->opening, &ur->cap_opening, ur->nr_opening, sizeof(uint32_t)))
		return -ENOMEM;
	ur->opening[ur->nr_opening++] = u->ino;
	ret = open_single(ctx, ur, f, pf);
	ur->nr_opening--;
	return ret;
}

void unix_restore_cleanup(struct rst_ctx *ctx)
{
	struct files_rst_priv *priv = ctx->files_priv;
	struct unix_rst *ur = priv ? priv->unix_priv : NULL;

	if (!ur)
		return;
	do_removals(ur);
	free(ur->rm);
	for (size_t i = 0; i < ur->nr; i++) {
		free(ur->pkts[i].data);
		free(ur->pkts[i].rights);
	}
	free(ur->pkts);
	free(ur->opening);
	free(ur);
	priv->unix_priv = NULL;
}

