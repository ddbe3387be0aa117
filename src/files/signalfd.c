/*
 * signalfd.c - signalfd files.
 *
 * A signalfd holds nothing but the set of signals it accepts; which
 * signals are pending belongs to the task that reads it, and comes back
 * with the task's own signal state.  /proc shows the set in fdinfo.
 */
#include <stdlib.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "files/files.h"
#include "files/kind.h"
#include "signalfd.pb-c.h"
#include "fdinfo.pb-c.h"
#include "log.h"

static int signalfd_dump(struct dump_ctx *ctx, struct file_parms *p, uint32_t id)
{
	SignalfdEntry sfe = SIGNALFD_ENTRY__INIT;
	FileEntry fe = FILE_ENTRY__INIT;
	char fdinfo[1024];
	int ret;

	ret = files_read_fdinfo(p->pid, p->fd, fdinfo, sizeof(fdinfo)) ?:
	      files_fdinfo_u64(fdinfo, "sigmask", 16, &sfe.sigmask, p->pid, p->fd);
	if (ret)
		return ret;

	sfe.id = id;
	sfe.flags = p->flags;
	sfe.fown = &p->fown;
	fe.type = FD_TYPES__SIGNALFD;
	fe.id = id;
	fe.sgfd = &sfe;
	return img_write_msg(ctx->files_img, &fe.base);
}

static int signalfd_restore_open(struct rst_ctx *ctx, struct rst_file *f)
{
	const SignalfdEntry *sfe = f->fe->sgfd;
	uint64_t mask = sfe->sigmask;
	int fd;

	/*
	 * The kernel's mask is the image's as it is (bit N-1 is signal N);
	 * glibc's sigaddset() would refuse the two signals it keeps for
	 * itself, which a program may still have asked for.
	 */
	fd = syscall(SYS_signalfd4, -1, &mask, sizeof(mask),
		     (sfe->flags & O_NONBLOCK) ? SFD_NONBLOCK : 0);
	if (fd < 0) {
		pr_perror("signalfd id %u: cannot create it", f->fe->id);
		return -errno;
	}
	return rst_pool_add(ctx, fd);
}

static int signalfd_match(struct dump_ctx *ctx, struct file_parms *p)
{
	(void)ctx;
	return files_anon_is(p, "anon_inode:[signalfd]");
}

static const void *signalfd_part(const FileEntry *fe)
{
	return fe->sgfd;
}

static const FownEntry *signalfd_fown(struct rst_ctx *ctx, const FileEntry *fe)
{
	(void)ctx;
	return fe->sgfd->fown;
}

const struct fd_kind signalfd_fd_kind = {
	.name = "signalfd",
	.type = FD_TYPES__SIGNALFD,
	.match = signalfd_match,
	.dump = signalfd_dump,
	.part = signalfd_part,
	.fown = signalfd_fown,
	.open = signalfd_restore_open,
};
