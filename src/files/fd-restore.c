/*
 * fd-restore.c - the open files of the tree at restore.
 *
 * The controller reads files.img and each task's fdinfo image, and opens
 * every entry a task uses once, in the pool (restore.h), through the
 * entry's kind (kinds.c); each restored task then dups the pool fds to
 * its own numbers, drops what it inherited and did not have, and takes
 * its cwd, root and umask.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "files/files.h"
#include "files/kind.h"
#include "fdinfo.pb-c.h"
#include "fs.pb-c.h"
#include "log.h"
#include "ns/ns.h"
#include "opts.h"

struct files_rst_priv *files_rst_priv(struct rst_ctx *ctx)
{
	struct files_rst_priv *priv = ctx->files_priv;

	if (priv)
		return priv;
	priv = calloc(1, sizeof(*priv));
	if (!priv) {
		pr_err("out of memory");
		return NULL;
	}
	priv->pipes_data.type = IMG_PIPES_DATA;
	priv->fifos_data.type = IMG_FIFO_DATA;
	ctx->files_priv = priv;
	return priv;
}

static const char *fd_type_name(int type)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&fd_types__descriptor, type);

	return v ? v->name : "file of an unknown type";
}

/* Entry @f opened by its kind, as a pool fd; -errno. */
static int open_by_kind(struct rst_ctx *ctx, struct rst_file *f, const struct fd_kind **kindp)
{
	const FileEntry *fe = f->fe;
	const struct fd_kind *kind = fd_kind_by_type(fe->type);
	int moved, ret;

	if (!kind) {
		pr_err("unsupported: file id %u is a %s", fe->id, fd_type_name(fe->type));
		return -ENOTSUP;
	}
	if (!kind->part(fe)) {
		pr_err("files.img: file id %u is a %s with no %s entry", fe->id,
		       fd_type_name(fe->type), kind->name);
		return -EINVAL;
	}
	*kindp = kind;
	if (!kind->net_ns)
		return kind->open(ctx, f);
	/* A socket is made in its own net namespace, the controller back in the root's after. */
	moved = ns_net_id_enter(kind->net_ns(fe));
	if (moved < 0)
		return moved;
	ret = kind->open(ctx, f);
	return moved ? ns_net_id_leave() ?: ret : ret;
}

/*
 * Entry @f as the fd --inherit-fd gave for its key, as a pool fd; -ENOENT
 * when it has none.  The file is the caller's: its flags and owner stay.
 */
static int open_inherited(struct rst_ctx *ctx, struct rst_file *f)
{
	const struct fd_kind *kind = fd_kind_by_type(f->fe->type);
	char key[PATH_MAX];
	int fd;

	if (!ctx->opts || !ctx->opts->nr_inherit_fds || !kind || !kind->inherit_key ||
	    !kind->part(f->fe) || kind->inherit_key(ctx, f->fe, key, sizeof(key)))
		return -ENOENT;
	fd = opts_inherited_fd(ctx->opts, key);
	if (fd < 0)
		return -ENOENT;
	pr_info("file id %u (%s): our fd %d, given for it by --inherit-fd", f->fe->id, key, fd);
	fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0) {
		pr_perror("file id %u: cannot dup the fd given for %s", f->fe->id, key);
		return -errno;
	}
	return rst_pool_add(ctx, fd);
}

int files_restore_open(struct rst_ctx *ctx, uint32_t id)
{
	struct rst_file *f = rst_file_by_id(ctx, id);
	const struct fd_kind *kind = NULL;
	const FownEntry *fown;
	int fd, err;

	if (!f) {
		pr_err("file id %u: not in files.img", id);
		return -ENOENT;
	}
	if (f->fd >= 0)
		return f->fd;
	fd = open_inherited(ctx, f);
	if (fd == -ENOENT)
		fd = open_by_kind(ctx, f, &kind);
	if (fd < 0)
		return fd;
	/* The signal belongs to the file: set once here, for every task. */
	fown = kind && kind->fown ? kind->fown(ctx, f->fe) : NULL;
	if (fown && fown->signum && fcntl(fd, F_SETSIG, fown->signum)) {
		err = errno;
		pr_perror("file id %u: cannot set its signal to %u", id, fown->signum);
		close(fd);
		return -err;
	}
	pr_debug("file id %u (%s): pool fd %d", id, fd_type_name(f->fe->type), fd);
	f->fd = fd;
	return fd;
}

static int cmp_rst_file(const void *a, const void *b)
{
	uint32_t x = ((const struct rst_file *)a)->fe->id;
	uint32_t y = ((const struct rst_file *)b)->fe->id;

	return (x > y) - (x < y);
}

/*
 * A tun file has a REG entry of the same id besides its own (CRIU's
 * layout): one entry is kept, of the tun file's type, with the REG's
 * part (its path and flags) in it.
 */
static void merge_twins(struct rst_ctx *ctx)
{
	size_t i, n = 0;

	for (i = 0; i < ctx->nr_files; i++) {
		FileEntry *fe = ctx->files[i].fe, *prev = n ? ctx->files[n - 1].fe : NULL;

		if (prev && prev->id == fe->id && (prev->type == FD_TYPES__TUNF) !=
		    (fe->type == FD_TYPES__TUNF) && (prev->reg || fe->reg)) {
			FileEntry *tun = fe->type == FD_TYPES__TUNF ? fe : prev;
			FileEntry *reg = tun == fe ? prev : fe;

			if (!tun->reg && reg->type == FD_TYPES__REG) {
				tun->reg = reg->reg;
				reg->reg = NULL;
				ctx->files[n - 1].fe = tun;
				img_free_msg(&reg->base);
				continue;
			}
		}
		ctx->files[n++] = ctx->files[i];
	}
	ctx->nr_files = n;
}

static int read_files_img(struct rst_ctx *ctx)
{
	void **msgs;
	size_t nr, i;
	int ret;

	ret = files_img_read_all(ctx, IMG_FILES, 0, &file_entry__descriptor, &msgs, &nr);
	if (ret == -ENOENT)
		pr_err("files.img: missing");
	if (ret)
		return ret;
	ctx->files = calloc(nr ? nr : 1, sizeof(*ctx->files));
	if (!ctx->files) {
		pr_err("out of memory");
		files_msgs_free(msgs, nr);
		return -ENOMEM;
	}
	for (i = 0; i < nr; i++)
		ctx->files[i] = (struct rst_file){ .fe = msgs[i], .fd = -1 };
	ctx->nr_files = nr;
	free(msgs);
	qsort(ctx->files, nr, sizeof(*ctx->files), cmp_rst_file);
	merge_twins(ctx);
	nr = ctx->nr_files;
	for (i = 1; i < nr; i++) {
		if (ctx->files[i].fe->id == ctx->files[i - 1].fe->id) {
			pr_err("files.img: file id %u appears twice", ctx->files[i].fe->id);
			return -EINVAL;
		}
	}
	return 0;
}

static int cmp_fdinfo(const void *a, const void *b)
{
	const FdinfoEntry *x = *(FdinfoEntry *const *)a, *y = *(FdinfoEntry *const *)b;

	return (x->fd > y->fd) - (x->fd < y->fd);
}

/* Every fd once, on a file files.img has, of the kind it says. */
static int check_task_fds(struct rst_ctx *ctx, struct rst_task *t)
{
	for (size_t i = 0; i < t->nr_fds; i++) {
		const FdinfoEntry *e = t->fds[i];
		struct rst_file *f = rst_file_by_id(ctx, e->id);

		if (i && e->fd == t->fds[i - 1]->fd) {
			pr_err("fdinfo-%u.img: fd %u appears twice", t->ids->files_id, e->fd);
			return -EINVAL;
		}
		if (!f) {
			pr_err("pid %d fd %u: file id %u is not in files.img", t->pid, e->fd, e->id);
			return -EINVAL;
		}
		if (f->fe->type != e->type) {
			pr_err("pid %d fd %u: a %s in fdinfo-%u.img, but file id %u is a %s",
			       t->pid, e->fd, fd_type_name(e->type), t->ids->files_id, e->id,
			       fd_type_name(f->fe->type));
			return -EINVAL;
		}
	}
	return 0;
}

/* fdinfo-<files_id>.img (absent: no fds) and fs-<pid>.img; zombies have neither. */
static int read_task_files(struct rst_ctx *ctx, struct rst_task *t)
{
	void **msgs;
	size_t nr;
	int ret;

	if (t->zombie)
		return 0;
	if (!t->ids) {
		pr_err("pid %d: no ids entry, so no fd table", t->pid);
		return -EINVAL;
	}
	ret = files_img_read_all(ctx, IMG_FDINFO, t->ids->files_id, &fdinfo_entry__descriptor,
				 &msgs, &nr);
	if (ret && ret != -ENOENT)
		return ret;
	t->fds = (FdinfoEntry **)msgs;
	t->nr_fds = nr;
	qsort(t->fds, t->nr_fds, sizeof(*t->fds), cmp_fdinfo);
	ret = check_task_fds(ctx, t);
	if (!ret)
		ret = fs_restore_read(ctx, t);
	return ret;
}

static int open_task_files(struct rst_ctx *ctx, struct rst_task *t)
{
	int ret;

	for (size_t i = 0; i < t->nr_fds; i++) {
		ret = files_restore_open(ctx, t->fds[i]->id);
		if (ret < 0) {
			pr_err("pid %d fd %u: cannot be restored", t->pid, t->fds[i]->fd);
			return ret;
		}
	}
	if (!t->fs)
		return 0;
	ret = files_restore_open(ctx, t->fs->cwd_id);
	if (ret >= 0)
		ret = files_restore_open(ctx, t->fs->root_id);
	if (ret < 0) {
		pr_err("pid %d: its cwd or root cannot be restored", t->pid);
		return ret;
	}
	return 0;
}

int files_restore_read(struct rst_ctx *ctx)
{
	int ret;

	if (!files_rst_priv(ctx))
		return -ENOMEM;
	ret = read_files_img(ctx);
	if (!ret)
		ret = reg_restore_prepare(ctx);
	if (!ret)
		ret = locks_restore_read(ctx);
	for (size_t i = 0; !ret && i < ctx->nr_tasks; i++)
		ret = read_task_files(ctx, &ctx->tasks[i]);
	return ret;
}

int files_restore_prepare(struct rst_ctx *ctx)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < ctx->nr_tasks; i++)
		ret = open_task_files(ctx, &ctx->tasks[i]);
	for (size_t i = 0; !ret && i < nr_fd_kinds; i++)
		if (fd_kinds[i]->prepared)
			ret = fd_kinds[i]->prepared(ctx);
	return ret;
}

/* The pool fd of @id, which prepare must have opened: a task opens nothing itself. */
static int pool_fd(struct rst_ctx *ctx, uint32_t id)
{
	struct rst_file *f = rst_file_by_id(ctx, id);

	if (!f || f->fd < 0) {
		pr_err("file id %u: not opened before the fork", id);
		return -ENOENT;
	}
	return f->deferred ? procpath_receive(ctx, f) : f->fd;
}

static int set_owner(struct rst_ctx *ctx, struct rst_task *t, const FdinfoEntry *e)
{
	const FileEntry *fe = rst_file_by_id(ctx, e->id)->fe;
	const struct fd_kind *kind = fd_kind_by_type(fe->type);
	const FownEntry *fown = kind && kind->fown ? kind->fown(ctx, fe) : NULL;
	struct f_owner_ex owner;

	if (!fown || !fown->pid)
		return 0;
	owner.type = fown->pid_type;
	owner.pid = fown->pid;
	if (fcntl(e->fd, F_SETOWN_EX, &owner)) {
		pr_perror("pid %d fd %u: cannot send its signals to %d (owner type %u)",
			  t->pid, e->fd, fown->pid, fown->pid_type);
		return -errno;
	}
	return 0;
}

/*
 * The fds of @t's table: first all but the late ones (paths of fds,
 * procpath.c), then those, which need the others in place first.
 */
static int install_fds(struct rst_ctx *ctx, struct rst_task *t, bool late)
{
	for (size_t i = 0; i < t->nr_fds; i++) {
		const FdinfoEntry *e = t->fds[i];
		int pfd, ret;

		if (procpath_is_late(ctx, rst_file_by_id(ctx, e->id)) != late)
			continue;
		pfd = pool_fd(ctx, e->id);
		if (pfd < 0)
			return pfd;
		if (dup3(pfd, e->fd, (e->flags & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0) {
			pr_perror("pid %d: cannot put file id %u at fd %u", t->pid, e->id, e->fd);
			return -errno;
		}
		ret = set_owner(ctx, t, e);
		if (ret)
			return ret;
	}
	return 0;
}

static int close_fds(struct rst_task *t, unsigned int lo, unsigned int hi)
{
	if (lo > hi)
		return 0;
	if (close_range(lo, hi, 0)) {
		pr_perror("pid %d: cannot close fds %u-%u", t->pid, lo, hi);
		return -errno;
	}
	return 0;
}

/* What the task got from the controller below the service fds and did not have. */
static int close_others(struct rst_ctx *ctx, struct rst_task *t)
{
	unsigned int lo = 0;
	int ret;

	for (size_t i = 0; i < t->nr_fds; i++) {
		if (t->fds[i]->fd > lo) {
			ret = close_fds(t, lo, t->fds[i]->fd - 1);
			if (ret)
				return ret;
		}
		lo = t->fds[i]->fd + 1;
	}
	return close_fds(t, lo, ctx->svc_base - 1);
}

/* What kinds do once every fd of @t's table is in place (epoll registrations). */
static int kinds_installed(struct rst_ctx *ctx, struct rst_task *t)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < nr_fd_kinds; i++)
		if (fd_kinds[i]->installed)
			ret = fd_kinds[i]->installed(ctx, t);
	return ret;
}

int files_restore_task(struct rst_ctx *ctx, struct rst_task *t)
{
	int ret;

	if (!fdt_restore_owns(t))
		return fdt_restore_join(ctx, t);
	fdt_restore_gather(ctx, t);
	ret = install_fds(ctx, t, false) ?: procpath_restore_own(ctx, t) ?:
	      install_fds(ctx, t, true) ?: close_others(ctx, t) ?: kinds_installed(ctx, t) ?:
	      locks_restore_task(ctx, t);
	if (!ret)
		fdt_restore_done(ctx, t);
	return ret;
}

int files_restore_arm(struct rst_ctx *ctx)
{
	for (size_t i = 0; i < ctx->nr_files; i++) {
		struct rst_file *f = &ctx->files[i];
		const struct fd_kind *kind = fd_kind_by_type(f->fe->type);
		int ret;

		if (f->fd < 0 || !kind || !kind->arm)
			continue;
		ret = kind->arm(ctx, f);
		if (ret)
			return ret;
	}
	return 0;
}

/* Frees the images read and closes every pool fd opened here. */
void files_restore_cleanup(struct rst_ctx *ctx)
{
	struct files_rst_priv *priv = ctx->files_priv;
	size_t i;

	for (i = 0; i < nr_fd_kinds; i++)
		if (fd_kinds[i]->restore_cleanup)
			fd_kinds[i]->restore_cleanup(ctx);
	for (i = 0; i < ctx->nr_tasks; i++) {
		struct rst_task *t = &ctx->tasks[i];

		files_msgs_free((void **)t->fds, t->nr_fds);
		t->fds = NULL;
		t->nr_fds = 0;
		if (t->fs)
			img_free_msg(&t->fs->base);
		t->fs = NULL;
	}
	for (i = 0; i < ctx->nr_files; i++) {
		if (ctx->files[i].fd >= 0)
			close(ctx->files[i].fd);
		img_free_msg(&ctx->files[i].fe->base);
	}
	free(ctx->files);
	ctx->files = NULL;
	ctx->nr_files = 0;
	if (!priv)
		return;
	locks_restore_cleanup(priv);
	free(priv);
	ctx->files_priv = NULL;
}
