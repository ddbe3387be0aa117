/*
 * fs.c - what CRIU keeps of a task's fs_struct in fs-PID.img: its cwd and
 * root, as path entries of files.img, and its umask.
 *
 * Restore opens both directories in the controller like any file; the
 * task moves into them last, after everything that still reads paths
 * of the controller's root (/proc/self/maps for the restorer's room).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files/files.h"
#include "fs.pb-c.h"
#include "log.h"
#include "parts.h"

static int read_umask(pid_t pid, uint32_t *umask)
{
	char path[64], line[256];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f) {
		pr_perror("%s: cannot open", path);
		return -errno;
	}
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "Umask: %o", umask) == 1;
	fclose(f);
	if (!found) {
		pr_err("%s: no Umask", path);
		return -EINVAL;
	}
	return 0;
}

/* fs-PID.img: cwd and root as files.img entries, and the umask. */
int fs_dump_task(struct dump_ctx *ctx, struct dump_task *t)
{
	FsEntry fe = FS_ENTRY__INIT;
	struct img *img;
	char link[64];
	int ret, err;

	snprintf(link, sizeof(link), "/proc/%d/cwd", t->pid);
	ret = files_dump_path(ctx, t, link, 0, &fe.cwd_id);
	if (ret)
		return ret;
	snprintf(link, sizeof(link), "/proc/%d/root", t->pid);
	ret = files_dump_path(ctx, t, link, 0, &fe.root_id);
	if (ret)
		return ret;
	/* Read with the leader's credentials (core.c) unless that found none. */
	fe.umask = t->umask;
	ret = t->has_umask ? 0 : read_umask(t->pid, &fe.umask);
	if (ret)
		return ret;
	fe.has_umask = true;

	ret = img_open(&img, ctx->dirfd, IMG_FS, t->vpid, O_WRONLY);
	if (ret)
		return ret;
	ret = img_write_msg(img, &fe.base);
	err = img_close(img);
	return ret ? ret : err;
}


/* --- restore --- */

static bool is_path(struct rst_ctx *ctx, uint32_t id)
{
	struct rst_file *f = rst_file_by_id(ctx, id);

	return f && f->fe->type == FD_TYPES__REG && f->fe->reg;
}

int fs_restore_read(struct rst_ctx *ctx, struct rst_task *t)
{
	void **msgs;
	size_t nr;
	int ret;

	ret = files_img_read_all(ctx, IMG_FS, t->pid, &fs_entry__descriptor, &msgs, &nr);
	if (ret == -ENOENT)
		pr_err("fs-%d.img: missing", t->pid);
	if (ret)
		return ret;
	if (nr != 1) {
		pr_err("fs-%d.img: %zu entries, expected one", t->pid, nr);
		files_msgs_free(msgs, nr);
		return -EINVAL;
	}
	t->fs = msgs[0];
	free(msgs);
	if (!is_path(ctx, t->fs->cwd_id) || !is_path(ctx, t->fs->root_id)) {
		pr_err("fs-%d.img: cwd id %u or root id %u is no path entry of files.img", t->pid,
		       t->fs->cwd_id, t->fs->root_id);
		return -EINVAL;
	}
	return 0;
}

static bool is_slash(struct rst_ctx *ctx, uint32_t id)
{
	return !strcmp(rst_file_by_id(ctx, id)->fe->reg->name, "/");
}

int fs_restore_task(struct rst_ctx *ctx, struct rst_task *t)
{
	struct rst_file *cwd, *root;

	if (!t->fs)
		return 0;
	cwd = rst_file_by_id(ctx, t->fs->cwd_id);
	root = rst_file_by_id(ctx, t->fs->root_id);
	if (!cwd || !root || cwd->fd < 0 || root->fd < 0) {
		pr_err("pid %d: its cwd or root was not opened before the fork", t->pid);
		return -ENOENT;
	}
	/* /proc/PID of a task of the tree: it comes once the tree exists. */
	if ((cwd->deferred && procpath_receive(ctx, cwd) < 0) ||
	    (root->deferred && procpath_receive(ctx, root) < 0))
		return -EIO;
	if (!is_slash(ctx, t->fs->root_id) && (fchdir(root->fd) || chroot("."))) {
		pr_perror("pid %d: cannot change its root to %s", t->pid,
			  root->fe->reg->name);
		return -errno;
	}
	if (fchdir(cwd->fd)) {
		pr_perror("pid %d: cannot change its cwd", t->pid);
		return -errno;
	}
	if (t->fs->has_umask)
		umask(t->fs->umask & 0777);
	return 0;
}

/* Last in a task: once it is in its root, nothing more is opened by path. */
const struct task_part_ops fs_part = {
	.name = "fs",
	.fail = "move into its root and cwd",
	.last = fs_restore_task,
};
