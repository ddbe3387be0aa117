/*
 * inotify.c - inotify instances and their watches.
 *
 * fdinfo lists each watch: its number (wd), mask, and the watched inode
 * as a file handle (name_to_handle_at's) with the device of its
 * filesystem.  The handle finds the inode again at restore through any
 * mount of that filesystem (open_by_handle_at), whatever path it has
 * now; a handle that finds nothing even at dump time (an inode of a
 * filesystem that cannot export handles) is refused by name.  A watch
 * on a file unlinked and kept open by the tree goes on the ghost file it
 * comes back as (fhandle.c).  Events queued and not read are not kept,
 * as CRIU does not keep them.
 *
 * Watch numbers are the program's: INOTIFY_IOC_SETNEXTWD gives each its
 * own, and without it watches are added and removed until the kernel's
 * counter reaches the number wanted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "files/files.h"
#include "files/kind.h"
#include "fsnotify.pb-c.h"
#include "fh.pb-c.h"
#include "fdinfo.pb-c.h"
#include "log.h"

#ifndef INOTIFY_IOC_SETNEXTWD
#define INOTIFY_IOC_SETNEXTWD	_IOW('I', 0, int32_t)
#endif

/* What fdinfo's mask may hold that inotify_add_watch() takes back. */
#define WATCH_FLAGS	(IN_ALL_EVENTS | IN_EXCL_UNLINK | IN_ONESHOT)

static void free_wds(InotifyFileEntry *e)
{
	for (size_t i = 0; i < e->n_wd; i++) {
		free(e->wd[i]->f_handle->handle);
		free(e->wd[i]->f_handle->path);
		free(e->wd[i]->f_handle);
		free(e->wd[i]);
	}
	free(e->wd);
}

static int parse_wd(InotifyFileEntry *e, const char *line)
{
	unsigned int wd, sdev, mask, ign, bytes, type;
	unsigned long long ino;
	InotifyWdEntry *w, **arr;
	const char *hex;
	FhEntry *fh;

	if (sscanf(line, "inotify wd:%x ino:%llx sdev:%x mask:%x ignored_mask:%x fhandle-bytes:%x fhandle-type:%x",
		   &wd, &ino, &sdev, &mask, &ign, &bytes, &type) != 7)
		return -EINVAL;
	hex = strstr(line, "f_handle:");
	if (!hex)
		return -EINVAL;
	arr = realloc(e->wd, (e->n_wd + 1) * sizeof(*arr));
	if (!arr)
		return -ENOMEM;
	e->wd = arr;
	w = calloc(1, sizeof(*w));
	fh = calloc(1, sizeof(*fh));
	if (!w || !fh) {
		free(w);
		free(fh);
		return -ENOMEM;
	}
	inotify_wd_entry__init(w);
	fh_entry__init(fh);
	w->f_handle = fh;
	e->wd[e->n_wd++] = w;
	w->id = e->id;
	w->wd = wd;
	w->i_ino = ino;
	w->s_dev = sdev;
	w->mask = mask;
	w->ignored_mask = ign;
	fh->type = type;
	return fh_parse(hex + strlen("f_handle:"), bytes, fh);
}

/*
 * The path of @fd, when it has one: an unlinked inode has none.
 */
static char *fd_path(int fd)
{
	char link[64], buf[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, sizeof(buf) - 1);
	if (n <= 0 || buf[0] != '/')
		return NULL;
	buf[n] = '\0';
	if (reg_strip_deleted(buf))
		return NULL;
	return strdup(buf);
}

/*
 * Each watch's inode must be found again from its handle.  Its path is
 * kept too where a handle would not do at restore: asked for with
 * --force-irmap, or on tmpfs, whose inodes are new at each mount; and
 * elsewhere where it still leads to the inode, for CRIU (fh_path()).
 */
static int check_wd(struct dump_ctx *ctx, const struct file_parms *p, InotifyWdEntry *w)
{
	int fd = fh_open(p->pid, w->s_dev, w->f_handle);
	struct statfs sfs;

	/* A mount of another mount namespace of the tree (a task's, made after the watch). */
	for (size_t i = 0; fd == -ENOENT && i < ctx->nr_tasks; i++)
		if (ctx->tasks[i].pid != p->pid && ctx->tasks[i].ct->state != COMPEL_TASK_ZOMBIE &&
		    !files_in_my_mntns(ctx->tasks[i].pid))
			fd = fh_open(ctx->tasks[i].pid, w->s_dev, w->f_handle);
	if (fd >= 0 && !files_in_my_mntns(p->pid)) {
		w->f_handle->has_mnt_id = true;
		w->f_handle->mnt_id = files_fd_mnt_id(fd);
	}

	if (fd < 0) {
		pr_err("unsupported: pid %d fd %d is an inotify watching inode %#llx of device %#x, which its file handle does not find (%s)",
		       p->pid, p->fd, (unsigned long long)w->i_ino, w->s_dev, strerror(-fd));
		return -ENOTSUP;
	}
	if (ctx->opts->force_irmap || (!fstatfs(fd, &sfs) && sfs.f_type == TMPFS_MAGIC))
		w->f_handle->path = fd_path(fd);
	else
		w->f_handle->path = fh_path(p->pid, fd);
	close(fd);
	return 0;
}

struct wd_walk {
	struct dump_ctx *ctx;
	const struct file_parms *p;
	InotifyFileEntry *ife;
};

static int wd_line(const char *line, void *arg)
{
	struct wd_walk *w = arg;

	return parse_wd(w->ife, line) ?: check_wd(w->ctx, w->p, w->ife->wd[w->ife->n_wd - 1]);
}

static int inotify_dump(struct dump_ctx *ctx, struct file_parms *p, uint32_t id)
{
	InotifyFileEntry ife = INOTIFY_FILE_ENTRY__INIT;
	FileEntry fe = FILE_ENTRY__INIT;
	struct wd_walk w = { ctx, p, &ife };
	int ret;

	ife.id = id;
	ife.flags = p->flags;
	ife.fown = &p->fown;
	ret = files_fdinfo_lines(p, "inotify wd:", wd_line, &w);
	if (!ret) {
		fe.type = FD_TYPES__INOTIFY;
		fe.id = id;
		fe.ify = &ife;
		ret = img_write_msg(ctx->files_img, &fe.base);
	}
	free_wds(&ife);
	return ret;
}

/* Add watch @w to @ifd under its own number. */
static int add_watch(struct rst_ctx *ctx, int ifd, const InotifyWdEntry *w, uint32_t id)
{
	char path[64];
	int tfd, wd, ret = 0;
	bool setnext;

	tfd = fh_restore_open(ctx, w->s_dev, w->i_ino, w->f_handle);
	if (tfd < 0) {
		pr_err("inotify id %u: watch %u: inode %#llx of device %#x (%s) not found: %s",
		       id, w->wd, (unsigned long long)w->i_ino, w->s_dev,
		       w->f_handle->path ?: "by its handle", strerror(-tfd));
		return tfd;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", tfd);
	setnext = !ioctl(ifd, INOTIFY_IOC_SETNEXTWD, (long)w->wd);
	/* Without setnextwd the counter only climbs: take numbers till ours. */
	for (;;) {
		wd = inotify_add_watch(ifd, path, w->mask & WATCH_FLAGS);
		if (wd < 0) {
			ret = -errno;
			pr_perror("inotify id %u: cannot add watch %u", id, w->wd);
			break;
		}
		if ((uint32_t)wd == w->wd)
			break;
		inotify_rm_watch(ifd, wd);
		if (setnext || (uint32_t)wd > w->wd) {
			pr_err("inotify id %u: watch %u came back as %d", id, w->wd, wd);
			ret = -EINVAL;
			break;
		}
	}
	close(tfd);
	return ret;
}

static int cmp_wd(const void *a, const void *b)
{
	uint32_t x = (*(InotifyWdEntry *const *)a)->wd, y = (*(InotifyWdEntry *const *)b)->wd;

	return (x > y) - (x < y);
}

/*
 * Events queued while the tree was restored are not the program's: the
 * IN_IGNORED of watches taken back to reach a number, what making a ghost
 * file again in a watched directory did.  Just before the tree runs the
 * queue is emptied; FIONREAD tells what is there without blocking, as a
 * read would on a blocking inotify.
 */
static int inotify_arm(struct rst_ctx *ctx, struct rst_file *f)
{
	char buf[4096];
	int n;

	(void)ctx;
	while (!ioctl(f->fd, FIONREAD, &n) && n > 0) {
		if (read(f->fd, buf, sizeof(buf)) <= 0) {
			pr_perror("inotify id %u: cannot empty its queue", f->fe->id);
			return -EIO;
		}
	}
	return 0;
}

static int inotify_restore_open(struct rst_ctx *ctx, struct rst_file *f)
{
	InotifyFileEntry *ife = f->fe->ify;
	int fd, ret;

	fd = inotify_init1(IN_NONBLOCK);
	if (fd < 0) {
		pr_perror("inotify id %u: cannot create it", f->fe->id);
		return -errno;
	}
	qsort(ife->wd, ife->n_wd, sizeof(*ife->wd), cmp_wd);
	for (size_t i = 0; i < ife->n_wd; i++) {
		ret = add_watch(ctx, fd, ife->wd[i], f->fe->id);
		if (ret)
			goto err;
	}
	if (!(ife->flags & O_NONBLOCK) && fcntl(fd, F_SETFL, 0)) {
		ret = -errno;
		pr_perror("inotify id %u: cannot make it blocking", f->fe->id);
		goto err;
	}
	return rst_pool_add(ctx, fd);
err:
	close(fd);
	return ret;
}

static int inotify_match(struct dump_ctx *ctx, struct file_parms *p)
{
	(void)ctx;
	return files_anon_is(p, "anon_inode:inotify");
}

static const void *inotify_part(const FileEntry *fe)
{
	return fe->ify;
}

static const FownEntry *inotify_fown(struct rst_ctx *ctx, const FileEntry *fe)
{
	(void)ctx;
	return fe->ify->fown;
}

const struct fd_kind inotify_fd_kind = {
	.name = "inotify",
	.type = FD_TYPES__INOTIFY,
	.match = inotify_match,
	.dump = inotify_dump,
	.part = inotify_part,
	.fown = inotify_fown,
	.open = inotify_restore_open,
	.arm = inotify_arm,
};
