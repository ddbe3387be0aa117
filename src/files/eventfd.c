/*
 * eventfd.c - eventfd counters.
 *
 * The counter is read from /proc/PID/fdinfo/N, which shows it without
 * touching it (a read() would reset it).
 */
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "files/files.h"
#include "files/kind.h"
#include "eventfd.pb-c.h"
#include "fdinfo.pb-c.h"
#include "log.h"

static int eventfd_dump(struct dump_ctx *ctx, struct file_parms *p, uint32_t id)
{
	EventfdFileEntry efe = EVENTFD_FILE_ENTRY__INIT;
	FileEntry fe = FILE_ENTRY__INIT;
	const char *v;
	char fdinfo[1024];
	int ret;

	ret = files_read_fdinfo(p->pid, p->fd, fdinfo, sizeof(fdinfo));
	if (ret)
		return ret;
	/*
	 * EFD_SEMAPHORE lives outside the file flags and the image has no
	 * place for it: a restore would quietly change how reads behave.
	 */
	v = files_fdinfo_field(fdinfo, "eventfd-semaphore");
	if (v && atoi(v)) {
		pr_err("unsupported: pid %d fd %d is an eventfd in semaphore mode", p->pid, p->fd);
		return -ENOTSUP;
	}
	ret = files_fdinfo_u64(fdinfo, "eventfd-count", 16, &efe.counter, p->pid, p->fd);
	if (ret)
		return ret;

	efe.id = id;
	efe.flags = p->flags;
	efe.fown = &p->fown;
	fe.type = FD_TYPES__EVENTFD;
	fe.id = id;
	fe.efd = &efe;
	return img_write_msg(ctx->files_img, &fe.base);
}

/*
 * The counter is written rather than given to eventfd(), whose initial
 * value is only an unsigned int.  A count below the maximum never blocks.
 */
static int eventfd_restore_open(struct rst_ctx *ctx, struct rst_file *f)
{
	const EventfdFileEntry *efe = f->fe->efd;
	uint64_t counter = efe->counter;
	int fd, err;

	fd = eventfd(0, (efe->flags & O_NONBLOCK) ? EFD_NONBLOCK : 0);
	if (fd < 0) {
		pr_perror("eventfd id %u: cannot create it", f->fe->id);
		return -errno;
	}
	if (counter && write(fd, &counter, sizeof(counter)) != sizeof(counter)) {
		err = errno;
		pr_perror("eventfd id %u: cannot set its counter to %llu", f->fe->id,
			  (unsigned long long)counter);
		close(fd);
		return -err;
	}
	return rst_pool_add(ctx, fd);
}

static int eventfd_match(struct dump_ctx *ctx, struct file_parms *p)
{
	(void)ctx;
	return files_anon_is(p, "anon_inode:[eventfd]");
}

static const void *eventfd_part(const FileEntry *fe)
{
	return fe->efd;
}

static const FownEntry *eventfd_fown(struct rst_ctx *ctx, const FileEntry *fe)
{
	(void)ctx;
	return fe->efd->fown;
}

const struct fd_kind eventfd_fd_kind = {
	.name = "eventfd",
	.type = FD_TYPES__EVENTFD,
	.match = eventfd_match,
	.dump = eventfd_dump,
	.part = eventfd_part,
	.fown = eventfd_fown,
	.open = eventfd_restore_open,
};
