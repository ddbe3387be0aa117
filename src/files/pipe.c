/*
 * pipe.c - anonymous pipes: a PIPE entry per open end, and the bytes the
 * pipe holds (shared with fifo.c).
 *
 * Both ends of a pipe share its inode number, which CRIU calls pipe_id;
 * restore pairs the ends up by it.  The data is peeked with tee(2) from
 * our own copy of a reading end, so the task finds its pipe as it left it.
 */
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "files/files.h"
#include "files/kind.h"
#include "fdinfo.pb-c.h"
#include "pipe.pb-c.h"
#include "pipe-data.pb-c.h"
#include "log.h"

static bool pipe_data_seen(const struct pipe_data_img *pd, uint32_t pipe_id)
{
	size_t i;

	for (i = 0; i < pd->nr; i++)
		if (pd->ids[i] == pipe_id)
			return true;
	return false;
}

/* Drain @len bytes from our pipe @fd into a buffer. */
static int read_steal_pipe(int fd, uint8_t *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = read(fd, buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			pr_perror("cannot read the copied pipe data");
			return n < 0 ? -errno : -EIO;
		}
		done += n;
	}
	return 0;
}

/*
 * Copy what the pipe holds into @buf (*@bytes of it) without consuming it:
 * tee(2) duplicates the buffers into a pipe of ours as large as the
 * task's, which can therefore take everything in one call.
 */
static int peek_pipe(const struct file_parms *p, int size, uint8_t **buf, int *bytes)
{
	int steal[2], avail, ret = 0;
	ssize_t n;

	*buf = NULL;
	*bytes = 0;
	if (ioctl(p->lfd, FIONREAD, &avail)) {
		pr_perror("pid %d fd %d: FIONREAD", p->pid, p->fd);
		return -errno;
	}
	if (pipe2(steal, O_CLOEXEC)) {
		pr_perror("cannot create a pipe");
		return -errno;
	}
	if (fcntl(steal[1], F_SETPIPE_SZ, size) < 0) {
		ret = -errno;
		pr_perror("cannot make a pipe of %d bytes for pid %d fd %d", size, p->pid, p->fd);
		goto out;
	}
	n = tee(p->lfd, steal[1], size, SPLICE_F_NONBLOCK);
	if (n < 0 && errno != EAGAIN) {
		ret = -errno;
		pr_perror("pid %d fd %d: tee", p->pid, p->fd);
		goto out;
	}
	if (n < 0)
		n = 0;		/* empty */
	if (n < avail) {
		pr_err("pid %d fd %d: pipe holds %d bytes, only %zd could be copied",
		       p->pid, p->fd, avail, n);
		ret = -EIO;
		goto out;
	}
	if (n) {
		*buf = malloc(n);
		if (!*buf) {
			pr_err("out of memory");
			ret = -ENOMEM;
			goto out;
		}
		ret = read_steal_pipe(steal[0], *buf, n);
	}
	*bytes = n;
out:
	close(steal[0]);
	close(steal[1]);
	if (ret) {
		free(*buf);
		*buf = NULL;
	}
	return ret;
}

/*
 * As CRIU: the data goes with the first end that can read it, and an empty
 * pipe gets an entry too (it carries the pipe's size).  A pipe whose
 * reading ends are all outside the tree has no data entry.
 */
int pipe_data_dump(struct dump_ctx *ctx, struct pipe_data_img *pd, struct file_parms *p)
{
	PipeDataEntry pde = PIPE_DATA_ENTRY__INIT;
	uint32_t pipe_id = p->st.st_ino;
	uint8_t *buf;
	int size, bytes, ret;

	if ((p->flags & O_ACCMODE) == O_WRONLY || pipe_data_seen(pd, pipe_id))
		return 0;
	size = fcntl(p->lfd, F_GETPIPE_SZ);
	if (size < 0) {
		pr_perror("pid %d fd %d: F_GETPIPE_SZ", p->pid, p->fd);
		return -errno;
	}
	ret = peek_pipe(p, size, &buf, &bytes);
	if (ret)
		return ret;
	pr_info("%s %u: %d bytes of data, size %d", pd->type == IMG_FIFO_DATA ? "fifo" : "pipe",
		pipe_id, bytes, size);

	ret = files_grow(&pd->ids, &pd->cap, pd->nr, sizeof(*pd->ids));
	if (!ret)
		ret = files_img_lazy(ctx, &pd->img, pd->type, 0);
	if (ret)
		goto out;
	pde.pipe_id = pipe_id;
	pde.bytes = bytes;
	pde.has_size = true;
	pde.size = size;
	ret = img_write_msg(pd->img, &pde.base);
	if (!ret)
		ret = img_write_raw(pd->img, buf, bytes);
	if (!ret)
		pd->ids[pd->nr++] = pipe_id;
out:
	free(buf);
	return ret;
}

int pipe_data_close(struct pipe_data_img *pd)
{
	int ret = img_close(pd->img);

	pd->img = NULL;
	return ret;
}

int pipe_dump(struct dump_ctx *ctx, struct file_parms *p, uint32_t id)
{
	struct files_priv *priv = files_priv(ctx);
	PipeEntry pe = PIPE_ENTRY__INIT;
	FileEntry fe = FILE_ENTRY__INIT;
	int ret;

	if (!priv)
		return -ENOMEM;
	/* A restore could not recreate packet mode faithfully: refuse, as CRIU. */
	if (p->flags & O_DIRECT) {
		pr_err("unsupported: pid %d fd %d is %s in packet mode (O_DIRECT)",
		       p->pid, p->fd, p->link);
		return -ENOTSUP;
	}
	pe.id = id;
	pe.pipe_id = p->st.st_ino;
	pe.flags = p->flags;
	pe.fown = &p->fown;
	fe.type = FD_TYPES__PIPE;
	fe.id = id;
	fe.pipe = &pe;
	ret = img_write_msg(ctx->files_img, &fe.base);
	if (ret)
		return ret;
	return pipe_data_dump(ctx, &priv->pipes, p);
}

/*
 * --- restore ---
 *
 * One pipe() per pipe_id, filled with its bytes before any entry takes an
 * end; the ends no entry took are closed once prepare is done, so that
 * readers see the end of file when the last real writer goes.
 */

/* One entry of pipes-data.img or fifo-data.img. */
struct rst_pipe_bytes {
	uint32_t pipe_id;
	bool has_size;
	uint32_t size;
	uint32_t bytes;
	uint8_t *data;		/* freed once put back */
};

/* A pipe made again: its two ends, pool fds until closed. */
struct rst_pipe {
	uint32_t pipe_id;
	int end[2];
	bool taken[2];		/* the end is a files.img entry's fd now */
};

static const char *pd_kind(const struct rst_pipe_data *pd)
{
	return pd->type == IMG_FIFO_DATA ? "fifo" : "pipe";
}

static int pipe_data_load(struct rst_ctx *ctx, struct rst_pipe_data *pd)
{
	ProtobufCMessage *msg;
	struct img *img;
	size_t cap = 0;
	int ret;

	if (pd->loaded)
		return 0;
	ret = img_open(&img, ctx->dirfd, pd->type, 0, O_RDONLY);
	if (ret == -ENOENT)
		goto done;
	if (ret)
		return ret;
	while ((ret = img_read_msg(img, &pipe_data_entry__descriptor, &msg)) == 1) {
		const PipeDataEntry *pde = (const PipeDataEntry *)msg;
		struct rst_pipe_bytes *e;

		ret = files_grow(&pd->ents, &cap, pd->nr, sizeof(*pd->ents));
		if (!ret) {
			e = &pd->ents[pd->nr];
			*e = (struct rst_pipe_bytes){
				.pipe_id = pde->pipe_id, .has_size = pde->has_size,
				.size = pde->size, .bytes = pde->bytes,
			};
			ret = img_read_alloc(img, pde->bytes, &e->data);
		}
		img_free_msg(msg);
		if (ret)
			break;
		pd->nr++;
	}
	img_close(img);
	if (ret < 0)
		return ret;
done:
	pd->loaded = true;
	return 0;
}

static int write_all(int fd, const uint8_t *buf, size_t len, size_t *done)
{
	ssize_t n;

	*done = 0;
	while (*done < len) {
		n = write(fd, buf + *done, len - *done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		*done += n;
	}
	return 0;
}

static int pipe_set_size(const struct rst_pipe_data *pd, const struct rst_pipe_bytes *e, int wfd)
{
	int cur = fcntl(wfd, F_GETPIPE_SZ);

	if (cur < 0) {
		pr_perror("%s %u: F_GETPIPE_SZ", pd_kind(pd), e->pipe_id);
		return -errno;
	}
	if ((uint32_t)cur == e->size)
		return 0;
	if (fcntl(wfd, F_SETPIPE_SZ, e->size) < 0) {
		pr_perror("%s %u: cannot make it %u bytes large", pd_kind(pd), e->pipe_id, e->size);
		return -errno;
	}
	return 0;
}

int pipe_data_restore(struct rst_ctx *ctx, struct rst_pipe_data *pd, uint32_t pipe_id, int wfd)
{
	struct rst_pipe_bytes *e = NULL;
	size_t done;
	int ret;

	ret = pipe_data_load(ctx, pd);
	if (ret)
		return ret;
	for (size_t i = 0; i < pd->nr && !e; i++)
		if (pd->ents[i].pipe_id == pipe_id)
			e = &pd->ents[i];
	if (!e)
		return 0;
	if (e->has_size) {
		ret = pipe_set_size(pd, e, wfd);
		if (ret)
			return ret;
	}
	ret = write_all(wfd, e->data, e->bytes, &done);
	if (ret) {
		pr_err("%s %u: only %zu of its %u bytes could be put back: %s", pd_kind(pd),
		       pipe_id, done, e->bytes, strerror(-ret));
		return ret;
	}
	pr_info("%s %u: %u bytes put back", pd_kind(pd), pipe_id, e->bytes);
	free(e->data);
	e->data = NULL;
	e->bytes = 0;
	return 0;
}

/* Both ends in the pool, non-blocking until an entry takes them, with their data. */
static int pipe_make(struct rst_ctx *ctx, struct files_rst_priv *priv, uint32_t pipe_id,
		     struct rst_pipe *p)
{
	int fds[2], ret;

	*p = (struct rst_pipe){ .pipe_id = pipe_id, .end = { -1, -1 } };
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC)) {
		pr_perror("pipe %u: cannot create it", pipe_id);
		return -errno;
	}
	ret = pipe_data_restore(ctx, &priv->pipes_data, pipe_id, fds[1]);
	if (ret) {
		close(fds[0]);
		close(fds[1]);
		return ret;
	}
	p->end[0] = rst_pool_add(ctx, fds[0]);
	if (p->end[0] < 0) {
		close(fds[1]);
		return p->end[0];
	}
	p->end[1] = rst_pool_add(ctx, fds[1]);
	return p->end[1] < 0 ? p->end[1] : 0;
}

static int pipe_get(struct rst_ctx *ctx, uint32_t pipe_id, struct rst_pipe **out)
{
	struct files_rst_priv *priv = files_rst_priv(ctx);
	struct rst_pipe *p;
	int ret;

	if (!priv)
		return -ENOMEM;
	for (size_t i = 0; i < priv->nr_pipes; i++) {
		if (priv->pipes[i].pipe_id == pipe_id) {
			*out = &priv->pipes[i];
			return 0;
		}
	}
	ret = files_grow(&priv->pipes, &priv->cap_pipes, priv->nr_pipes, sizeof(*priv->pipes));
	if (ret)
		return ret;
	p = &priv->pipes[priv->nr_pipes];
	ret = pipe_make(ctx, priv, pipe_id, p);
	/* Counted even when half made, so that cleanup closes what was opened. */
	priv->nr_pipes++;
	if (ret)
		return ret;
	*out = p;
	return 0;
}

/*
 * The first entry of each direction takes that end of the pipe itself;
 * others (the end opened again through /proc, or O_RDWR) get a new open
 * file description of the same pipe.
 */
static int pipe_restore_open(struct rst_ctx *ctx, struct rst_file *f)
{
	const PipeEntry *pe = f->fe->pipe;
	int acc = pe->flags & O_ACCMODE, d = acc == O_WRONLY, fd, ret;
	struct rst_pipe *p;
	char what[64];

	snprintf(what, sizeof(what), "pipe:[%u]", pe->pipe_id);
	ret = pipe_get(ctx, pe->pipe_id, &p);
	if (ret)
		return ret;
	if (p->end[d] < 0) {
		pr_err("%s: its ends are closed already, file id %u comes too late", what, f->fe->id);
		return -EINVAL;
	}
	if (acc != O_RDWR && !p->taken[d]) {
		p->taken[d] = true;
		fd = p->end[d];
	} else {
		fd = files_reopen(p->end[d], pe->flags | O_NONBLOCK, what);
		if (fd >= 0)
			fd = rst_pool_add(ctx, fd);
		if (fd < 0)
			return fd;
	}
	if (fcntl(fd, F_SETFL, pe->flags & RST_SETFL_MASK)) {
		ret = -errno;
		pr_perror("%s: cannot set the flags %#o of file id %u", what, pe->flags, f->fe->id);
		if (fd == p->end[d])
			p->taken[d] = false;	/* cleanup closes it */
		else
			close(fd);
		return ret;
	}
	return fd;
}

static void close_untaken(struct files_rst_priv *priv)
{
	for (size_t i = 0; i < priv->nr_pipes; i++) {
		struct rst_pipe *p = &priv->pipes[i];

		for (int d = 0; d < 2; d++) {
			if (!p->taken[d] && p->end[d] >= 0) {
				close(p->end[d]);
				p->end[d] = -1;
			}
		}
	}
}

/* Once every entry is open: the ends no entry took are closed. */
static int pipe_restore_prepared(struct rst_ctx *ctx)
{
	if (ctx->files_priv)
		close_untaken(ctx->files_priv);
	return 0;
}

static void pipe_data_free(struct rst_pipe_data *pd)
{
	for (size_t i = 0; i < pd->nr; i++)
		free(pd->ents[i].data);
	free(pd->ents);
	pd->ents = NULL;
	pd->nr = 0;
	pd->loaded = false;
}

/* The ends entries took are closed with the entries (files.c). */
static void pipe_restore_cleanup(struct rst_ctx *ctx)
{
	struct files_rst_priv *priv = ctx->files_priv;

	if (!priv)
		return;
	close_untaken(priv);
	free(priv->pipes);
	priv->pipes = NULL;
	priv->nr_pipes = priv->cap_pipes = 0;
	pipe_data_free(&priv->pipes_data);
	pipe_data_free(&priv->fifos_data);
}

static int pipe_match(struct dump_ctx *ctx, struct file_parms *p)
{
	(void)ctx;
	return S_ISFIFO(p->st.st_mode) && p->fs_type == PIPEFS_MAGIC;
}

static const void *pipe_part(const FileEntry *fe)
{
	return fe->pipe;
}

static const FownEntry *pipe_fown(struct rst_ctx *ctx, const FileEntry *fe)
{
	(void)ctx;
	return fe->pipe->fown;
}

static int pipe_inherit_key(struct rst_ctx *ctx, const FileEntry *fe, char *buf, size_t size)
{
	(void)ctx;
	snprintf(buf, size, "pipe:[%u]", fe->pipe->pipe_id);
	return 0;
}

const struct fd_kind pipe_fd_kind = {
	.name = "pipe",
	.type = FD_TYPES__PIPE,
	.match = pipe_match,
	.dump = pipe_dump,
	.part = pipe_part,
	.inherit_key = pipe_inherit_key,
	.fown = pipe_fown,
	.open = pipe_restore_open,
	.prepared = pipe_restore_prepared,
	.restore_cleanup = pipe_restore_cleanup,
};
