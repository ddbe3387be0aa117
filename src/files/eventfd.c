/*
 * eventfd.c - eventfd counters.
 *
 * The counter is read from /proc/PID/fdinfo/N, which shows it without
 * touching it (a read() would reset it).
 */
#include <stdlib.h>

#include "files/files.h"
#include "eventfd.pb-c.h"
#include "fdinfo.pb-c.h"
#include "log.h"

int eventfd_dump(struct dump_ctx *ctx, struct file_parms *p, uint32_t id)
{
	EventfdFileEntry efe = EVENTFD_FILE_ENTRY__INIT;
	FileEntry fe = FILE_ENTRY__INIT;
	const char *v;
	char fdinfo[1024], *end;
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
	v = files_fdinfo_field(fdinfo, "eventfd-count");
	if (!v) {
		pr_err("/proc/%d/fdinfo/%d: no eventfd-count", p->pid, p->fd);
		return -EINVAL;
	}
	errno = 0;
	efe.counter = strtoull(v, &end, 16);
	if (errno || end == v) {
		pr_err("/proc/%d/fdinfo/%d: bad eventfd-count", p->pid, p->fd);
		return -EINVAL;
	}

	efe.id = id;
	efe.flags = p->flags;
	efe.fown = &p->fown;
	fe.type = FD_TYPES__EVENTFD;
	fe.id = id;
	fe.efd = &efe;
	return img_write_msg(ctx->files_img, &fe.base);
}
