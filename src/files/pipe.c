/*
 * pipe.c - anonymous pipes: a PIPE entry per open end, and the bytes the
 * pipe holds (shared with fifo.c).
 *
 * Both ends of a pipe share its inode number, which CRIU calls pipe_id;
 * restore pairs the ends up by it.  The data is peeked with tee(2) from
 * our own copy of a reading end, so the task finds its pipe as it left it.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "files/files.h"
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
