/*
 * fanotify.c - fanotify groups and their marks.
 *
 * fdinfo gives the group's fanotify_init() flags and event flags, and
 * each mark: on an inode (found again by its file handle, fhandle.c) or
 * on a mount (by its mount id, kept with its mount point's path), with
 * its mark flags, mask and ignored mask.  Filesystem marks have no place
 * in CRIU's images and are refused.  Events queued and not read are not
 * kept, as CRIU does not keep them.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <unistd.h>

#include "files/files.h"
#include "files/kind.h"
#include "fdinfo.pb-c.h"
#include "fh.pb-c.h"
#include "fsnotify.pb-c.h"
#include "log.h"
#include "ns/ns.h"

static void free_marks(FanotifyFileEntry *e)
{
	for (size_t i = 0; i < e->n_mark; i++) {
		FanotifyMarkEntry *m = e->mark[i];

		if (m->ie) {
			if (m->ie->f_handle) {
				free(m->ie->f_handle->handle);
				free(m->ie->f_handle->path);
			}
			free(m->ie->f_handle);
			free(m->ie);
		}
		if (m->me) {
			free(m->me->path);
			free(m->me);
		}
		free(m);
	}
	free(e->mark);
}

/* The mount point of mount @mnt_id in @pid's mount table, or NULL. */
static char *mount_point(pid_t pid, unsigned int mnt_id)
{
	char path[64], line[4096], mnt[PATH_MAX];
	char *found = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/mountinfo", pid);
	f = fopen(path, "re");
	if (!f)
		return NULL;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned int id;

		if (sscanf(line, "%u %*d %*u:%*u %*s %4095s", &id, mnt) == 2 && id == mnt_id)
			found = strdup(mnt);
	}
	fclose(f);
	return found;
}

static FanotifyMarkEntry *new_mark(FanotifyFileEntry *e)
{
	FanotifyMarkEntry **arr = realloc(e->mark, (e->n_mark + 1) * sizeof(*arr));
	FanotifyMarkEntry *m;

	if (!arr)
		return NULL;
	e->mark = arr;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	fanotify_mark_entry__init(m);
	m->id = e->id;
	e->mark[e->n_mark++] = m;
	return m;
}

static int parse_inode_mark(const struct file_parms *p, FanotifyFileEntry *e, const char *line)
{
	unsigned int sdev, mflags, mask, ign, bytes, type;
	unsigned long long ino;
	FanotifyMarkEntry *m;
	const char *hex = strstr(line, "f_handle:");
	int fd;

	if (sscanf(line, "fanotify ino:%llx sdev:%x mflags:%x mask:%x ignored_mask:%x fhandle-bytes:%x fhandle-type:%x",
		   &ino, &sdev, &mflags, &mask, &ign, &bytes, &type) != 7 || !hex)
		return -EINVAL;
	m = new_mark(e);
	if (!m || !(m->ie = calloc(1, sizeof(*m->ie))))
		return -ENOMEM;
	fanotify_inode_mark_entry__init(m->ie);
	m->ie->f_handle = calloc(1, sizeof(*m->ie->f_handle));
	if (!m->ie->f_handle)
		return -ENOMEM;
	fh_entry__init(m->ie->f_handle);
	m->type = MARK_TYPE__INODE;
	m->mflags = mflags;
	m->mask = mask;
	m->ignored_mask = ign;
	m->s_dev = sdev;
	m->ie->i_ino = ino;
	m->ie->f_handle->type = type;
	if (fh_parse(hex + strlen("f_handle:"), bytes, m->ie->f_handle))
		return -EINVAL;
	fd = fh_open(p->pid, sdev, m->ie->f_handle);
	if (fd < 0) {
		pr_err("unsupported: pid %d fd %d is a fanotify marking inode %#llx of device %#x, which its file handle does not find",
		       p->pid, p->fd, ino, sdev);
		return -ENOTSUP;
	}
	m->ie->f_handle->path = fh_path(p->pid, fd);
	close(fd);
	return 0;
}

static int parse_mount_mark(const struct file_parms *p, FanotifyFileEntry *e, const char *line)
{
	unsigned int mnt_id, mflags, mask, ign;
	FanotifyMarkEntry *m;

	if (sscanf(line, "fanotify mnt_id:%x mflags:%x mask:%x ignored_mask:%x", &mnt_id, &mflags,
		   &mask, &ign) != 4)
		return -EINVAL;
	m = new_mark(e);
	if (!m || !(m->me = calloc(1, sizeof(*m->me))))
		return -ENOMEM;
	fanotify_mount_mark_entry__init(m->me);
	m->type = MARK_TYPE__MOUNT;
	m->mflags = mflags;
	m->mask = mask;
	m->ignored_mask = ign;
	m->me->mnt_id = mnt_id;
	m->me->path = mount_point(p->pid, mnt_id);
	if (!m->me->path) {
		pr_err("pid %d fd %d: a fanotify mark on mount %u, which is not in its mount table",
		       p->pid, p->fd, mnt_id);
		return -ENOENT;
	}
	return 0;
}

struct mark_walk {
	const struct file_parms *p;
	FanotifyFileEntry *e;
};

static int parse_line(const char *line, void *arg)
{
	const struct mark_walk *w = arg;
	const struct file_parms *p = w->p;
	FanotifyFileEntry *e = w->e;
	unsigned int flags, evflags;

	if (sscanf(line, "fanotify flags:%x event-flags:%x", &flags, &evflags) == 2) {
		e->faflags = flags;
		e->evflags = evflags;
		return 0;
	}
	if (!strncmp(line, "fanotify ino:", 13))
		return parse_inode_mark(p, e, line);
	if (!strncmp(line, "fanotify mnt_id:", 16))
		return parse_mount_mark(p, e, line);
	if (!strncmp(line, "fanotify sdev:", 14)) {
		pr_err("unsupported: pid %d fd %d is a fanotify with a filesystem mark", p->pid, p->fd);
		return -ENOTSUP;
	}
	return 0;
}

static int fanotify_dump(struct dump_ctx *ctx, struct file_parms *p, uint32_t id)
{
	FanotifyFileEntry ffe = FANOTIFY_FILE_ENTRY__INIT;
	FileEntry fe = FILE_ENTRY__INIT;
	struct mark_walk w = { p, &ffe };
	int ret;

	ffe.id = id;
	ffe.flags = p->flags;
	ffe.fown = &p->fown;
	ret = files_fdinfo_lines(p, "fanotify ", parse_line, &w);
	if (!ret) {
		fe.type = FD_TYPES__FANOTIFY;
		fe.id = id;
		fe.ffy = &ffe;
		ret = img_write_msg(ctx->files_img, &fe.base);
	}
	free_marks(&ffe);
	return ret;
}

/* One call of fanotify_mark() for @mask (ignored with FAN_MARK_IGNORED_MASK). */
static int add_mark(int fd, const FanotifyMarkEntry *m, unsigned int flags, uint64_t mask,
		    const char *path, uint32_t id)
{
	if (!mask)
		return 0;
	if (fanotify_mark(fd, FAN_MARK_ADD | flags | m->mflags, mask, AT_FDCWD, path)) {
		pr_perror("fanotify id %u: cannot mark %s again (mask %#" PRIx64 ")", id, path,
			  (uint64_t)mask);
		return -errno;
	}
	return 0;
}

static int restore_mark(struct rst_ctx *ctx, int fd, const FanotifyMarkEntry *m, uint32_t id)
{
	char buf[64];
	const char *path;
	unsigned int flags = 0;
	int tfd = -1, ret;

	if (m->type == MARK_TYPE__MOUNT && m->me && m->me->path) {
		path = m->me->path;
		flags = FAN_MARK_MOUNT;
	} else if (m->type == MARK_TYPE__MOUNT && m->me) {
		/* CRIU 4.2 names a mount of a namespace it dumped by its id alone. */
		tfd = mntns_open_mount(m->me->mnt_id);
		if (tfd < 0) {
			pr_err("fanotify id %u: a mark on mount %u, which the images have no path or mount of",
			       id, m->me->mnt_id);
			return -ENOENT;
		}
		snprintf(buf, sizeof(buf), "/proc/self/fd/%d", tfd);
		path = buf;
		flags = FAN_MARK_MOUNT;
	} else if (m->type == MARK_TYPE__INODE && m->ie && m->ie->f_handle) {
		tfd = fh_restore_open(ctx, m->s_dev, m->ie->i_ino, m->ie->f_handle);
		if (tfd < 0) {
			pr_err("fanotify id %u: inode %#llx of device %#x not found by its handle", id,
			       (unsigned long long)m->ie->i_ino, m->s_dev);
			return tfd;
		}
		snprintf(buf, sizeof(buf), "/proc/self/fd/%d", tfd);
		path = buf;
	} else {
		pr_err("fanotify id %u: a mark of unknown kind %d", id, m->type);
		return -EINVAL;
	}
	ret = add_mark(fd, m, flags, m->mask, path, id) ?:
	      add_mark(fd, m, flags | FAN_MARK_IGNORED_MASK, m->ignored_mask, path, id);
	if (tfd >= 0)
		close(tfd);
	return ret;
}

static int fanotify_restore_open(struct rst_ctx *ctx, struct rst_file *f)
{
	const FanotifyFileEntry *ffe = f->fe->ffy;
	int fd, ret;

	fd = fanotify_init(ffe->faflags, ffe->evflags);
	if (fd < 0) {
		pr_perror("fanotify id %u: cannot create it (flags %#x, event flags %#x)", f->fe->id,
			  ffe->faflags, ffe->evflags);
		return -errno;
	}
	for (size_t i = 0; i < ffe->n_mark; i++) {
		ret = restore_mark(ctx, fd, ffe->mark[i], f->fe->id);
		if (ret) {
			close(fd);
			return ret;
		}
	}
	return rst_pool_add(ctx, fd);
}

static int fanotify_match(struct dump_ctx *ctx, struct file_parms *p)
{
	(void)ctx;
	return files_anon_is(p, "anon_inode:[fanotify]");
}

static const void *fanotify_part(const FileEntry *fe)
{
	return fe->ffy;
}

static const FownEntry *fanotify_fown(struct rst_ctx *ctx, const FileEntry *fe)
{
	(void)ctx;
	return fe->ffy->fown;
}

const struct fd_kind fanotify_fd_kind = {
	.name = "fanotify",
	.type = FD_TYPES__FANOTIFY,
	.match = fanotify_match,
	.dump = fanotify_dump,
	.part = fanotify_part,
	.fown = fanotify_fown,
	.open = fanotify_restore_open,
};
