/*
 * fifo.c - named pipes.
 *
 * A FIFO is opened by its path, so its entry points at a REG entry of its
 * own (regf_id) that carries path, flags and mode; the bytes it holds go
 * to fifo-data.img the way a pipe's go to pipes-data.img.
 */
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "files/files.h"
#include "files/kind.h"
#include "fdinfo.pb-c.h"
#include "fifo.pb-c.h"
#include "log.h"

static int fifo_dump(struct dump_ctx *ctx, struct file_parms *p, uint32_t id)
{
	struct files_priv *priv = files_priv(ctx);
	FifoEntry fie = FIFO_ENTRY__INIT;
	FileEntry fe = FILE_ENTRY__INIT;
	uint32_t regf_id;
	int ret;

	if (!priv)
		return -ENOMEM;
	/* The path entry takes the next id and is written first, as in CRIU. */
	regf_id = dump_next_file_id(ctx);
	ret = reg_dump(ctx, p, regf_id);
	if (ret)
		return ret;

	fie.id = id;
	fie.pipe_id = p->st.st_ino;
	fie.has_regf_id = true;
	fie.regf_id = regf_id;
	fe.type = FD_TYPES__FIFO;
	fe.id = id;
	fe.fifo = &fie;
	ret = img_write_msg(ctx->files_img, &fe.base);
	if (ret)
		return ret;
	return pipe_data_dump(ctx, &priv->fifos, p);
}

/* --- restore --- */

/*
 * A fifo is opened O_RDWR first, which never blocks; its data goes in
 * through that, and every entry opens it again through /proc, non-blocking
 * so that a lone writer is not refused.  The helper stays in the pool.
 */
struct rst_fifo {
	uint32_t pipe_id;
	int fd;
};

static int fifo_helper(struct rst_ctx *ctx, const FifoEntry *fie)
{
	struct files_rst_priv *priv = files_rst_priv(ctx);
	int fd, ret;

	if (!priv)
		return -ENOMEM;
	for (size_t i = 0; i < priv->nr_fifos; i++)
		if (priv->fifos[i].pipe_id == fie->pipe_id)
			return priv->fifos[i].fd;
	ret = files_grow(&priv->fifos, &priv->cap_fifos, priv->nr_fifos, sizeof(*priv->fifos));
	if (ret)
		return ret;
	fd = reg_restore_path(ctx, fie->regf_id, O_RDWR | O_NONBLOCK);
	if (fd < 0)
		return fd;
	ret = pipe_data_restore(ctx, &priv->fifos_data, fie->pipe_id, fd);
	if (ret) {
		close(fd);
		return ret;
	}
	fd = rst_pool_add(ctx, fd);
	if (fd < 0)
		return fd;
	priv->fifos[priv->nr_fifos++] = (struct rst_fifo){ .pipe_id = fie->pipe_id, .fd = fd };
	return fd;
}

static int fifo_restore_open(struct rst_ctx *ctx, struct rst_file *f)
{
	const FifoEntry *fie = f->fe->fifo;
	const RegFileEntry *rfe;
	struct rst_file *regf;
	int helper, fd, err;

	regf = fie->has_regf_id ? rst_file_by_id(ctx, fie->regf_id) : NULL;
	if (!regf || regf->fe->type != FD_TYPES__REG || !regf->fe->reg) {
		pr_err("file id %u: a fifo without its path entry in files.img", f->fe->id);
		return -EINVAL;
	}
	rfe = regf->fe->reg;
	helper = fifo_helper(ctx, fie);
	if (helper < 0)
		return helper;
	fd = files_reopen(helper, rfe->flags | O_NONBLOCK, rfe->name);
	if (fd < 0)
		return fd;
	if (fcntl(fd, F_SETFL, rfe->flags & RST_SETFL_MASK)) {
		err = errno;
		pr_perror("fifo %s: cannot set the flags %#o of file id %u", rfe->name, rfe->flags,
			  f->fe->id);
		close(fd);
		return -err;
	}
	return rst_pool_add(ctx, fd);
}

static void fifo_restore_cleanup(struct rst_ctx *ctx)
{
	struct files_rst_priv *priv = ctx->files_priv;

	if (!priv)
		return;
	for (size_t i = 0; i < priv->nr_fifos; i++)
		close(priv->fifos[i].fd);
	free(priv->fifos);
	priv->fifos = NULL;
	priv->nr_fifos = priv->cap_fifos = 0;
}

static int fifo_match(struct dump_ctx *ctx, struct file_parms *p)
{
	(void)ctx;
	return S_ISFIFO(p->st.st_mode) && p->fs_type != PIPEFS_MAGIC;
}

static const void *fifo_part(const FileEntry *fe)
{
	return fe->fifo;
}

/* A fifo's owner is kept in its path's REG entry. */
static const FownEntry *fifo_fown(struct rst_ctx *ctx, const FileEntry *fe)
{
	struct rst_file *regf;

	if (!fe->fifo->has_regf_id)
		return NULL;
	regf = rst_file_by_id(ctx, fe->fifo->regf_id);
	return regf && regf->fe->reg ? regf->fe->reg->fown : NULL;
}

const struct fd_kind fifo_fd_kind = {
	.name = "fifo",
	.type = FD_TYPES__FIFO,
	.match = fifo_match,
	.dump = fifo_dump,
	.part = fifo_part,
	.fown = fifo_fown,
	.open = fifo_restore_open,
	.restore_cleanup = fifo_restore_cleanup,
};
