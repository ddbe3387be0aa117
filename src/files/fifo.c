/*
 * fifo.c - named pipes.
 *
 * A FIFO is opened by its path, so its entry points at a REG entry of its
 * own (regf_id) that carries path, flags and mode; the bytes it holds go
 * to fifo-data.img the way a pipe's go to pipes-data.img.
 */
#include "files/files.h"
#include "fdinfo.pb-c.h"
#include "fifo.pb-c.h"
#include "log.h"

int fifo_dump(struct dump_ctx *ctx, struct file_parms *p, uint32_t id)
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
