/*
 * ghost.c - files that were unlinked while open: "ghost files".
 *
 * Nobody can reach such a file by a path any more, so the dump copies
 * it whole (contents, mode, owner, times) into ghost-file-<id>.img, once
 * per inode, and remap-fpath.img sends each REG entry of it there.
 * Restore makes the inode again under its old name, fills it, deletes
 * the name at once and keeps an fd on it; every entry of the file opens
 * that fd again, so all of them share the one inode, as before.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "files/files.h"
#include "ghost-file.pb-c.h"
#include "remap-file-path.pb-c.h"
#include "log.h"
#include "ns/ns.h"

/* From this size on, ghost contents are stored as data runs (holes skipped). */
#define GHOST_CHUNKS_MIN	(3 * 4096)

struct ghost_file {
	dev_t dev;
	ino_t ino;
	uint32_t id;
};


/* The kernel's dev_t encoding, which CRIU stores in ghost_file_entry.dev. */
static uint32_t kdev(dev_t dev)
{
	return (major(dev) << 20) | minor(dev);
}

static int ghost_copy_range(int fd, struct img *img, off_t off, size_t len)
{
	char buf[65536];
	ssize_t n;
	int ret;

	while (len) {
		n = reg_pread_full(fd, buf, len < sizeof(buf) ? len : sizeof(buf), off);
		if (n < 0) {
			pr_err("ghost file: read at %lld: %s", (long long)off, strerror(-n));
			return n;
		}
		if (n == 0) {
			pr_err("ghost file: ends early at %lld", (long long)off);
			return -EIO;
		}
		ret = img_write_raw(img, buf, n);
		if (ret)
			return ret;
		off += n;
		len -= n;
	}
	return 0;
}

/* Large contents go as data runs: a chunk entry, then its bytes, per run. */
static int ghost_copy_chunks(int fd, struct img *img, off_t size)
{
	GhostChunkEntry ce = GHOST_CHUNK_ENTRY__INIT;
	off_t data, hole = 0;
	int ret;

	while (hole < size) {
		data = lseek(fd, hole, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			break;		/* only a hole is left */
		if (data < 0 && hole == 0) {
			/* No SEEK_DATA here: one run, the whole file. */
			data = 0;
			hole = size;
		} else if (data < 0) {
			pr_perror("ghost file: SEEK_DATA");
			return -errno;
		} else {
			hole = lseek(fd, data, SEEK_HOLE);
			if (hole < 0) {
				pr_perror("ghost file: SEEK_HOLE");
				return -errno;
			}
		}
		if (hole > size)
			hole = size;
		ce.off = data;
		ce.len = hole - data;
		ret = img_write_msg(img, &ce.base);
		if (!ret)
			ret = ghost_copy_range(fd, img, ce.off, ce.len);
		if (ret)
			return ret;
	}
	return 0;
}

static int ghost_write(struct dump_ctx *ctx, const struct file_parms *p, uint32_t gid)
{
	GhostFileEntry gfe = GHOST_FILE_ENTRY__INIT;
	Timeval atim = TIMEVAL__INIT, mtim = TIMEVAL__INIT;
	const struct stat *st = &p->st;
	char target[PATH_MAX];
	struct img *img;
	ssize_t n;
	int fd, ret, err;

	gfe.uid = userns_dump_uid(st->st_uid);
	gfe.gid = userns_dump_gid(st->st_gid);
	gfe.mode = st->st_mode;
	atim.tv_sec = st->st_atim.tv_sec;
	atim.tv_usec = st->st_atim.tv_nsec / 1000;
	mtim.tv_sec = st->st_mtim.tv_sec;
	mtim.tv_usec = st->st_mtim.tv_nsec / 1000;
	gfe.atim = &atim;
	gfe.mtim = &mtim;
	gfe.has_dev = gfe.has_ino = true;
	gfe.dev = kdev(st->st_dev);
	gfe.ino = st->st_ino;
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
		gfe.has_rdev = true;
		gfe.rdev = st->st_rdev;
	}
	if (S_ISREG(st->st_mode) && st->st_size >= GHOST_CHUNKS_MIN) {
		gfe.has_chunks = gfe.chunks = true;
		gfe.has_size = true;
		gfe.size = st->st_size;
	}
	if (S_ISLNK(st->st_mode)) {
		n = readlinkat(p->lfd, "", target, sizeof(target) - 1);
		if (n < 0 || n != st->st_size) {
			pr_err("pid %d: cannot read the unlinked symlink %s", p->pid, p->link);
			return n < 0 ? -errno : -EIO;
		}
		target[n] = '\0';
		gfe.symlnk_target = target;
	}

	ret = img_open(&img, ctx->dirfd, IMG_GHOST_FILE, gid, O_WRONLY);
	if (ret)
		return ret;
	ret = img_write_msg(img, &gfe.base);
	if (!ret && S_ISREG(st->st_mode)) {
		fd = reg_reopen_ro(p);
		if (fd < 0) {
			ret = fd;
		} else {
			if (gfe.chunks)
				ret = ghost_copy_chunks(fd, img, st->st_size);
			else
				ret = ghost_copy_range(fd, img, 0, st->st_size);
			close(fd);
		}
	}
	err = img_close(img);
	return ret ? ret : err;
}

/*
 * An unlinked file: its contents go to ghost-file-<gid>.img (once per
 * inode) and remap-fpath.img points REG entry @id at it.
 */
int ghost_dump(struct dump_ctx *ctx, const struct file_parms *p, uint32_t id)
{
	RemapFilePathEntry rpe = REMAP_FILE_PATH_ENTRY__INIT;
	struct files_priv *priv = files_priv(ctx);
	struct ghost_file *gf = NULL;
	uint32_t gid;
	size_t i;
	int ret;

	if (!priv)
		return -ENOMEM;
	/* MAP_SHARED|MAP_ANONYMOUS|MAP_HUGETLB: shared memory, not a file to copy. */
	if (p->fs_type == HUGETLBFS_MAGIC && !strncmp(p->link, "/anon_hugepage", 14)) {
		pr_err("unsupported: pid %d: shared anonymous hugetlb memory (%s) is not supported yet",
		       p->pid, p->link);
		return -ENOTSUP;
	}
	for (i = 0; i < priv->nr_ghosts && !gf; i++)
		if (priv->ghosts[i].dev == p->st.st_dev && priv->ghosts[i].ino == p->st.st_ino)
			gf = &priv->ghosts[i];
	if (gf) {
		gid = gf->id;
	} else {
		if ((uint64_t)p->st.st_blocks * 512 > ctx->opts->ghost_limit) {
			pr_err("unsupported: pid %d: unlinked file %s holds %llu bytes, over the %llu-byte ghost limit (--ghost-limit)",
			       p->pid, p->link, (unsigned long long)p->st.st_blocks * 512,
			       (unsigned long long)ctx->opts->ghost_limit);
			return -ENOTSUP;
		}
		gid = ++priv->last_ghost_id;
		pr_info("pid %d: %s is unlinked, contents in ghost file %#x", p->pid, p->link, gid);
		ret = ghost_write(ctx, p, gid);
		if (ret)
			return ret;
		ret = files_grow(&priv->ghosts, &priv->cap_ghosts, priv->nr_ghosts,
				 sizeof(*priv->ghosts));
		if (ret)
			return ret;
		priv->ghosts[priv->nr_ghosts++] = (struct ghost_file){
			.dev = p->st.st_dev, .ino = p->st.st_ino, .id = gid,
		};
	}

	ret = files_img_lazy(ctx, &priv->remap_img, IMG_REMAP_FPATH, 0);
	if (ret)
		return ret;
	rpe.orig_id = id;
	rpe.remap_id = gid;
	rpe.has_remap_type = true;
	rpe.remap_type = REMAP_TYPE__GHOST;
	return img_write_msg(priv->remap_img, &rpe.base);
}

/* --- restore --- */

/* A ghost file made again: deleted, kept open as @fd (a pool fd). */
struct rst_ghost {
	uint32_t id;
	int fd;
	int64_t mnt_id;		/* the mount it was made on (as dumped), or -1 */
};


static int pwrite_full(int fd, const void *buf, size_t len, off_t off)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = pwrite(fd, (const char *)buf + done, len - done, off + done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += n;
	}
	return 0;
}

/* @len bytes of the ghost image to offset @off of the file. */
static int ghost_fill_range(struct img *img, int fd, uint64_t off, uint64_t len,
			    const char *path)
{
	char buf[65536];
	int ret;

	while (len) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);

		ret = img_read_raw(img, buf, n);
		if (ret)
			return ret;
		ret = pwrite_full(fd, buf, n, off);
		if (ret) {
			pr_err("ghost file %s: cannot write at %llu: %s", path,
			       (unsigned long long)off, strerror(-ret));
			return ret;
		}
		off += n;
		len -= n;
	}
	return 0;
}

/* The contents: data runs (ghost_copy_chunks()) or the whole rest of the image. */
static int ghost_fill(struct img *img, const GhostFileEntry *g, int fd, const char *path)
{
	ProtobufCMessage *msg;
	uint8_t *data;
	size_t len;
	int ret;

	if (!g->chunks) {
		ret = img_read_rest(img, &data, &len);
		if (ret)
			return ret;
		ret = pwrite_full(fd, data, len, 0);
		free(data);
		if (ret)
			pr_err("ghost file %s: cannot write it: %s", path, strerror(-ret));
		return ret;
	}
	while ((ret = img_read_msg(img, &ghost_chunk_entry__descriptor, &msg)) == 1) {
		const GhostChunkEntry *ce = (const GhostChunkEntry *)msg;

		ret = ghost_fill_range(img, fd, ce->off, ce->len, path);
		img_free_msg(msg);
		if (ret)
			return ret;
	}
	if (ret < 0)
		return ret;
	if (g->has_size && ftruncate(fd, g->size)) {
		pr_perror("ghost file %s: cannot make it %llu bytes long", path,
			  (unsigned long long)g->size);
		return -errno;
	}
	return 0;
}

/* Make the inode at @path; for a regular file, the fd it is open as (O_RDWR). */
static int ghost_node(const GhostFileEntry *g, const char *path)
{
	mode_t type = g->mode & S_IFMT;
	int fd;

	switch (type) {
	case S_IFREG:
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		return fd < 0 ? -errno : fd;
	case S_IFDIR:
		return mkdir(path, 0700) ? -errno : 0;
	case S_IFLNK:
		if (!g->symlnk_target)
			return -EINVAL;
		return symlink(g->symlnk_target, path) ? -errno : 0;
	case S_IFIFO:
	case S_IFCHR:
	case S_IFBLK:
		return mknod(path, type | 0600, g->has_rdev ? (dev_t)g->rdev : 0) ? -errno : 0;
	default:
		return -ENOTSUP;
	}
}

/*
 * Make the inode at @path, or, when something is there already, at a
 * name of our own in the same directory (@at gets the name used).
 */
static int ghost_create(const GhostFileEntry *g, uint32_t gid, const char *path, char *at,
			size_t size)
{
	const char *slash = strrchr(path, '/');
	int ret, dlen = slash ? (int)(slash - path) : 0;

	snprintf(at, size, "%s", path);
	ret = ghost_node(g, at);
	for (int i = 0; ret == -EEXIST && i < 100; i++) {
		if (snprintf(at, size, "%.*s/.stasis-ghost-%x-%d-%d", dlen, path, gid, getpid(),
			     i) >= (int)size)
			return -ENAMETOOLONG;
		ret = ghost_node(g, at);
	}
	if (ret == -EINVAL)
		pr_err("ghost file %#x (%s): a symlink without its target", gid, path);
	else if (ret == -ENOTSUP)
		pr_err("unsupported: ghost file %#x (%s) has mode %#o", gid, path, g->mode);
	else if (ret < 0)
		pr_err("ghost file %#x: cannot create %s: %s", gid, at, strerror(-ret));
	return ret;
}

/*
 * An open directory may have lost its parents too (rmdir of a whole
 * tree): the ghost needs them back while it is made.  Makes what is
 * missing above @path; *@kept is the length of the part that was there.
 */
static int ghost_parents(const char *path, size_t *kept)
{
	const char *last = strrchr(path, '/');
	size_t end = last ? (size_t)(last - path) : 0;
	char dir[PATH_MAX];
	struct stat st;
	char *s;

	*kept = end;
	if (end == 0 || end >= sizeof(dir))
		return 0;
	memcpy(dir, path, end);
	dir[end] = '\0';
	while (lstat(dir, &st) && errno == ENOENT) {
		s = strrchr(dir, '/');
		if (!s || s == dir)
			break;
		*s = '\0';
	}
	*kept = strlen(dir);
	for (size_t i = *kept + 1; i <= end; i++) {
		if (i < end && path[i] != '/')
			continue;
		memcpy(dir, path, i);
		dir[i] = '\0';
		if (mkdir(dir, 0700) && errno != EEXIST) {
			pr_perror("ghost file %s: cannot make its directory %s", path, dir);
			return -errno;
		}
	}
	if (*kept < end)
		pr_info("ghost file %s: made the directories above it from %.*s on", path,
			(int)*kept, path);
	return 0;
}

/* Remove what ghost_parents() made above @path, deepest first. */
static void ghost_parents_remove(const char *path, size_t kept)
{
	char dir[PATH_MAX];
	char *s;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return;
	while ((s = strrchr(dir, '/')) && (size_t)(s - dir) > kept) {
		*s = '\0';
		if (rmdir(dir))
			pr_warn("ghost file %s: cannot remove the directory %s made for it: %s",
				path, dir, strerror(errno));
	}
}

/* Owner, permissions and times, set by the path while it still has one. */
static int ghost_attrs(const GhostFileEntry *g, const char *at)
{
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };

	if (fchownat(AT_FDCWD, at, userns_host_uid(g->uid), userns_host_gid(g->gid),
		     AT_SYMLINK_NOFOLLOW)) {
		pr_perror("ghost file %s: cannot give it to %u:%u", at, g->uid, g->gid);
		return -errno;
	}
	if (!S_ISLNK(g->mode) && chmod(at, g->mode & 07777)) {
		pr_perror("ghost file %s: cannot set its mode to %#o", at, g->mode & 07777);
		return -errno;
	}
	if (g->atim)
		ts[0] = (struct timespec){ g->atim->tv_sec, g->atim->tv_usec * 1000 };
	if (g->mtim)
		ts[1] = (struct timespec){ g->mtim->tv_sec, g->mtim->tv_usec * 1000 };
	if (utimensat(AT_FDCWD, at, ts, AT_SYMLINK_NOFOLLOW)) {
		pr_perror("ghost file %s: cannot set its times", at);
		return -errno;
	}
	return 0;
}

/* What keeps a ghost that is not a regular file alive once it has no name. */
static int ghost_keeper(const GhostFileEntry *g, const char *at)
{
	int flags = O_PATH | O_CLOEXEC, fd;

	if (S_ISDIR(g->mode))
		flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
	fd = open(at, flags | O_NOFOLLOW);
	if (fd < 0) {
		pr_perror("ghost file %s: cannot open it", at);
		return -errno;
	}
	return fd;
}

/*
 * A ghost on a read-only mount (of a writable superblock) is made through
 * a writable copy of its directory, a detached bind: @alt names @path
 * there.  The copy's fd, or -1 where @path's mount is writable.
 */
static int rw_dir(const char *path, char *alt, size_t size)
{
	struct mount_attr a = { .attr_clr = MOUNT_ATTR_RDONLY };
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	struct statvfs sv;
	int fd;

	if (!slash || slash - path >= PATH_MAX)
		return -1;
	snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	if (statvfs(dir, &sv) || !(sv.f_flag & ST_RDONLY))
		return -1;
	fd = open_tree(AT_FDCWD, dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (fd >= 0 && mount_setattr(fd, "", AT_EMPTY_PATH, &a, sizeof(a))) {
		close(fd);
		fd = -1;
	}
	if (fd >= 0)
		snprintf(alt, size, "/proc/self/fd/%d%s", fd, slash);
	return fd;
}

/* The fd a ghost made through a writable copy is kept by: on the mount itself. */
static int ghost_on_mount(const char *path, const char *at, int fd)
{
	const char *slash = strrchr(path, '/'), *name = strrchr(at, '/');
	char real[PATH_MAX];
	int pfd;

	snprintf(real, sizeof(real), "%.*s%s", (int)(slash - path), path, name);
	pfd = open(real, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0) {
		pr_perror("ghost file %s: cannot open it on its mount", real);
		pfd = -errno;
	}
	if (fd >= 0)
		close(fd);
	return pfd;
}

/* Make ghost file @gid again, named @path while it is made; an fd on it, deleted. */
static int ghost_make(struct rst_ctx *ctx, uint32_t gid, const char *path)
{
	ProtobufCMessage *msg = NULL;
	const GhostFileEntry *g;
	struct img *img;
	char at[PATH_MAX], alt[PATH_MAX];
	size_t kept = SIZE_MAX;
	int fd = -1, rw = -1, ret;

	ret = img_open(&img, ctx->dirfd, IMG_GHOST_FILE, gid, O_RDONLY);
	if (ret == -ENOENT)
		pr_err("ghost-file-%x.img: missing, and %s was deleted", gid, path);
	if (ret)
		return ret;
	ret = img_read_msg(img, &ghost_file_entry__descriptor, &msg);
	if (ret == 0) {
		pr_err("ghost-file-%x.img: empty", gid);
		ret = -EINVAL;
	}
	if (ret < 0)
		goto out;
	g = (const GhostFileEntry *)msg;
	ret = ghost_parents(path, &kept);
	if (ret < 0)
		goto out;
	rw = rw_dir(path, alt, sizeof(alt));
	ret = ghost_create(g, gid, rw >= 0 ? alt : path, at, sizeof(at));
	if (ret < 0)
		goto out;
	if (S_ISREG(g->mode)) {
		fd = ret;
		ret = ghost_fill(img, g, fd, at);
	}
	if (!ret)
		ret = ghost_attrs(g, at);
	if (!ret && !S_ISREG(g->mode))
		ret = fd = ghost_keeper(g, at);
	/* The tree had it on the read-only mount: kept there, not on the copy. */
	if (ret >= 0 && rw >= 0)
		ret = fd = ghost_on_mount(path, at, fd);
	if ((S_ISDIR(g->mode) ? rmdir(at) : unlink(at)) && ret >= 0) {
		pr_perror("ghost file %s: cannot delete it", at);
		ret = -errno;
	}
	if (ret >= 0) {
		pr_info("ghost file %#x: made again as %s, deleted", gid, at);
		ret = fd;
	}
out:
	if (kept != SIZE_MAX)
		ghost_parents_remove(path, kept);
	if (ret < 0 && fd >= 0)
		close(fd);
	if (rw >= 0)
		close(rw);
	img_free_msg(msg);
	img_close(img);
	return ret;
}

/*
 * Is ghost file @gid the inode @ino of kernel device @kdev it was at dump
 * time?  1 or 0 from its image's header, -errno.
 */
int ghost_is(struct rst_ctx *ctx, uint32_t gid, uint32_t kdev, uint64_t ino)
{
	ProtobufCMessage *msg = NULL;
	const GhostFileEntry *g;
	struct img *img;
	int ret;

	ret = img_open(&img, ctx->dirfd, IMG_GHOST_FILE, gid, O_RDONLY);
	if (ret)
		return ret;
	ret = img_read_msg(img, &ghost_file_entry__descriptor, &msg);
	if (ret == 1) {
		g = (const GhostFileEntry *)msg;
		ret = g->has_dev && g->has_ino && g->dev == kdev && g->ino == ino;
	} else if (ret == 0) {
		pr_err("ghost-file-%x.img: empty", gid);
		ret = -EINVAL;
	}
	img_free_msg(msg);
	img_close(img);
	return ret;
}

/* The pool fd that keeps ghost file @gid, made the first time it is asked for. */
static struct rst_ghost *ghost_find(struct files_rst_priv *priv, uint32_t gid)
{
	for (size_t i = 0; i < priv->nr_ghosts; i++)
		if (priv->ghosts[i].id == gid)
			return &priv->ghosts[i];
	return NULL;
}

/*
 * Ghost @gid made at @path on mount @mnt_id (-1: none recorded), in that
 * mount's namespace when it is not the root task's.
 */
static int ghost_get_on(struct rst_ctx *ctx, uint32_t gid, const char *path, int64_t mnt_id)
{
	struct files_rst_priv *priv = files_rst_priv(ctx);
	struct rst_ghost *g;
	int fd, ret, in;

	if (!priv)
		return -ENOMEM;
	g = ghost_find(priv, gid);
	if (g)
		return g->fd;
	ret = files_grow(&priv->ghosts, &priv->cap_ghosts, priv->nr_ghosts,
			 sizeof(*priv->ghosts));
	if (ret)
		return ret;
	in = mnt_id >= 0 ? mntns_enter_of(mnt_id) : 0;
	if (in < 0)
		return in;
	fd = ghost_make(ctx, gid, path);
	if (in && mntns_back() && fd >= 0) {
		close(fd);
		return -EIO;
	}
	if (fd < 0)
		return fd;
	fd = rst_pool_add(ctx, fd);
	if (fd < 0)
		return fd;
	priv->ghosts[priv->nr_ghosts++] = (struct rst_ghost){ .id = gid, .fd = fd, .mnt_id = mnt_id };
	return fd;
}

int ghost_get(struct rst_ctx *ctx, uint32_t gid, const char *path)
{
	return ghost_get_on(ctx, gid, path, -1);
}

/* The open ghost @fd again, on the restored mount @mnt_id (by its handle there). */
static int reopen_on(int fd, uint32_t mnt_id, int flags, const char *path)
{
	struct {
		struct file_handle h;
		unsigned char b[MAX_HANDLE_SZ];
	} fh = { .h.handle_bytes = MAX_HANDLE_SZ };
	int mfd, nfd, id;

	mfd = mntns_open_mount(mnt_id);
	if (mfd < 0)
		return files_reopen(fd, flags, path);	/* not a mount of the tree's */
	if (name_to_handle_at(fd, "", &fh.h, &id, AT_EMPTY_PATH)) {
		pr_perror("ghost file %s: no handle", path);
		close(mfd);
		return -errno;
	}
	nfd = open_by_handle_at(mfd, &fh.h, rst_open_flags(flags));
	if (nfd < 0)
		pr_perror("ghost file %s: cannot open it on mount %u", path, mnt_id);
	close(mfd);
	return nfd < 0 ? -errno : nfd;
}

int ghost_open(struct rst_ctx *ctx, uint32_t gid, const RegFileEntry *rfe, int flags)
{
	int64_t mnt_id = rfe->has_mnt_id ? rfe->mnt_id : -1;
	int fd = ghost_get_on(ctx, gid, rfe->name, mnt_id);
	struct rst_ghost *g;

	if (fd < 0)
		return fd;
	g = ghost_find(files_rst_priv(ctx), gid);
	/* One inode seen through two mounts: each entry's file is on its own. */
	if (g && g->mnt_id >= 0 && mnt_id >= 0 && g->mnt_id != mnt_id)
		return reopen_on(fd, mnt_id, flags & ~O_NOFOLLOW, rfe->name);
	return files_reopen(fd, flags & ~O_NOFOLLOW, rfe->name);
}


void ghost_restore_cleanup(struct files_rst_priv *priv)
{
	for (size_t i = 0; i < priv->nr_ghosts; i++)
		close(priv->ghosts[i].fd);
	free(priv->ghosts);
	priv->ghosts = NULL;
	priv->nr_ghosts = priv->cap_ghosts = 0;
}
