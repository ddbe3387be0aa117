/*
 * reg.c - files reached by a path: regular files, directories, symlinks,
 * memory devices.  One REG entry in files.img each.
 *
 * The entry is what a restore needs to open the file again: its path,
 * open flags and position, and enough to notice that the file at that
 * path is no longer the one that was open (mode; for regular files the
 * size and, for ELF files, the GNU build-id).  A file nobody can reach by
 * a path any more (unlinked while open) is copied whole into a ghost
 * file image, and remap-fpath.img sends its REG entry there.
 */
#include <elf.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "files/files.h"
#include "fdinfo.pb-c.h"
#include "ghost-file.pb-c.h"
#include "regfile.pb-c.h"
#include "remap-file-path.pb-c.h"
#include "log.h"

/* As CRIU: the build-id note is looked for in the first MiB of the file. */
#define BUILD_ID_SCAN	(1u << 20)
#define BUILD_ID_MAX	512

/* CRIU's default --ghost-limit, in allocated bytes. */
/* From this size on, ghost contents are stored as data runs (holes skipped). */
#define GHOST_CHUNKS_MIN	(3 * 4096)

#define DELETED_SUFFIX	" (deleted)"

struct ghost_file {
	dev_t dev;
	ino_t ino;
	uint32_t id;
};

/* Drop the " (deleted)" /proc appends to the path of an unlinked file. */
static void strip_deleted(char *name)
{
	size_t len = strlen(name), slen = strlen(DELETED_SUFFIX);

	if (len > slen && !strcmp(name + len - slen, DELETED_SUFFIX))
		name[len - slen] = '\0';
}

/* --- ELF build-id --- */

/* The program header fields we need, for either ELF class. */
struct phdr {
	uint32_t type;
	uint64_t offset, filesz;
};

static void read_phdr(const uint8_t *buf, uint64_t off, bool is64, struct phdr *ph)
{
	if (is64) {
		Elf64_Phdr p;

		memcpy(&p, buf + off, sizeof(p));
		*ph = (struct phdr){ p.p_type, p.p_offset, p.p_filesz };
	} else {
		Elf32_Phdr p;

		memcpy(&p, buf + off, sizeof(p));
		*ph = (struct phdr){ p.p_type, p.p_offset, p.p_filesz };
	}
}

static uint32_t align4(uint32_t v)
{
	return (v + 3) & ~3u;
}

/*
 * Walk the notes of one PT_NOTE segment for NT_GNU_BUILD_ID; the offset of
 * its header, or 0.  The walk bounds are CRIU's, note for note, so that
 * both tools find the same id in odd files too: a note header may start
 * anywhere up to the segment's end, as long as it lies in the scanned part.
 */
static uint64_t find_build_id_note(const uint8_t *buf, size_t len, const struct phdr *ph)
{
	uint64_t off = ph->offset, last;
	Elf64_Nhdr nh;

	if (!off || len < sizeof(nh))
		return 0;
	last = len - sizeof(nh);
	if (off > last)
		return 0;
	if (ph->filesz < last - off)
		last = off + ph->filesz;
	while (off <= last) {
		memcpy(&nh, buf + off, sizeof(nh));
		if (nh.n_type == NT_GNU_BUILD_ID)
			return off;
		off += sizeof(nh) + (uint64_t)align4(nh.n_namesz) + align4(nh.n_descsz);
	}
	return 0;
}

/* The build-id in @buf (the file's first @len bytes), as u32 words; 0 if none. */
static int parse_build_id(const uint8_t *buf, size_t len, RegFileEntry *rfe)
{
	bool is64 = buf[EI_CLASS] == ELFCLASS64;
	size_t ehsize = is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	size_t phsize = is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	uint64_t phoff, noff = 0, desc;
	unsigned int phnum, i;
	struct phdr ph;
	Elf64_Nhdr nh;

	if (buf[EI_CLASS] != ELFCLASS64 && buf[EI_CLASS] != ELFCLASS32)
		return 0;
	if (len < ehsize)
		return 0;
	if (is64) {
		Elf64_Ehdr eh;

		memcpy(&eh, buf, sizeof(eh));
		phoff = eh.e_phoff;
		phnum = eh.e_phnum;
	} else {
		Elf32_Ehdr eh;

		memcpy(&eh, buf, sizeof(eh));
		phoff = eh.e_phoff;
		phnum = eh.e_phnum;
	}
	if (!phnum || !phoff || len < phsize)
		return 0;
	/* Headers are read while they lie wholly in the scanned part. */
	for (i = 0; i < phnum && !noff; i++) {
		uint64_t off = phoff + (uint64_t)i * phsize;

		if (phoff > len || off > len - phsize)
			break;
		read_phdr(buf, off, is64, &ph);
		if (ph.type == PT_NOTE)
			noff = find_build_id_note(buf, len, &ph);
	}
	if (!noff)
		return 0;

	memcpy(&nh, buf + noff, sizeof(nh));
	if (!nh.n_descsz || nh.n_descsz > BUILD_ID_MAX)
		return 0;
	desc = noff + sizeof(nh) + align4(nh.n_namesz);
	if (len < nh.n_descsz || desc > len - nh.n_descsz)
		return 0;

	rfe->n_build_id = align4(nh.n_descsz) / sizeof(uint32_t);
	rfe->build_id = calloc(rfe->n_build_id, sizeof(uint32_t));
	if (!rfe->build_id) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	memcpy(rfe->build_id, buf + desc, nh.n_descsz);
	return 0;
}

/* Open @p's file again for reading, whatever it was opened for (or O_PATH). */
static int reopen_ro(const struct file_parms *p)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", p->lfd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("pid %d: cannot reopen %s for reading", p->pid, p->link);
		return -errno;
	}
	return fd;
}

/* Read up to @len bytes at @off; the count read, or -errno. */
static ssize_t pread_full(int fd, void *buf, size_t len, off_t off)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = pread(fd, (char *)buf + done, len - done, off + done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += n;
	}
	return done;
}

/*
 * The build-id of the file open for reading as @fd, @size bytes long, into
 * @rfe when it has one.  *@read_err is the errno of a failed read (not
 * logged: a dump goes on without the id, a restore cannot check it).
 */
static int read_build_id(int fd, off_t size, RegFileEntry *rfe, int *read_err)
{
	size_t len = size < BUILD_ID_SCAN ? size : BUILD_ID_SCAN;
	uint8_t magic[EI_NIDENT], *buf;
	ssize_t n;
	int ret = 0;

	*read_err = 0;
	if (size < SELFMAG + 1)
		return 0;
	/* Most files are not ELF: look before reading a whole MiB. */
	n = pread_full(fd, magic, SELFMAG + 1, 0);
	if (n < SELFMAG + 1 || memcmp(magic, ELFMAG, SELFMAG))
		return 0;
	buf = malloc(len);
	if (!buf) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	n = pread_full(fd, buf, len, 0);
	if (n < 0)
		*read_err = -n;
	else if ((size_t)n > SELFMAG)
		ret = parse_build_id(buf, n, rfe);
	free(buf);
	return ret;
}

/*
 * The ELF build-id, when the file has one, so that restore can tell a
 * rebuilt binary from the one that ran.  A file we cannot read is no
 * error (CRIU keeps just the size then), one we cannot open is.
 */
static int store_build_id(const struct file_parms *p, RegFileEntry *rfe)
{
	int fd, ret, read_err;

	if (p->st.st_size < SELFMAG + 1)
		return 0;
	fd = reopen_ro(p);
	if (fd < 0)
		return fd;
	ret = read_build_id(fd, p->st.st_size, rfe, &read_err);
	if (read_err)
		pr_warn("pid %d: cannot read %s for its build-id: %s", p->pid, p->link,
			strerror(read_err));
	close(fd);
	return ret;
}

/* --- ghost files --- */

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
		n = pread_full(fd, buf, len < sizeof(buf) ? len : sizeof(buf), off);
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

	gfe.uid = st->st_uid;
	gfe.gid = st->st_gid;
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
		fd = reopen_ro(p);
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
static int ghost_dump(struct dump_ctx *ctx, const struct file_parms *p, uint32_t id)
{
	RemapFilePathEntry rpe = REMAP_FILE_PATH_ENTRY__INIT;
	struct files_priv *priv = files_priv(ctx);
	struct ghost_file *gf = NULL;
	uint32_t gid;
	size_t i;
	int ret;

	if (!priv)
		return -ENOMEM;
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

/* --- the path --- */

/* Is there a process /proc/<pid>/... of @path refers to? */
static bool proc_path_alive(const char *path)
{
	char dir[64];
	const char *end;
	long pid;

	if (strncmp(path, "/proc/", 6))
		return true;
	pid = strtol(path + 6, (char **)&end, 10);
	if (end == path + 6 || pid <= 0)
		return true;	/* /proc/self, /proc/kmsg, ...: nothing to lose */
	snprintf(dir, sizeof(dir), "/proc/%ld", pid);
	return !strstr(path, DELETED_SUFFIX) && access(dir, F_OK) == 0;
}

/*
 * Will the path in @p->link open this very file on restore?  Unlinked
 * files become ghost files; anything else that does not hold we refuse
 * rather than restore some other file.
 */
static int check_path(struct dump_ctx *ctx, struct file_parms *p, uint32_t id)
{
	struct stat pst;

	if (p->fs_type == PROC_SUPER_MAGIC) {
		if (proc_path_alive(p->link))
			return 0;
		pr_err("unsupported: pid %d: %s belongs to a process that is gone", p->pid, p->link);
		return -ENOTSUP;
	}
	if (p->fs_type == DEVPTS_SUPER_MAGIC) {
		strip_deleted(p->link);
		return 0;
	}
	if (p->st.st_nlink == 0) {
		strip_deleted(p->link);
		return ghost_dump(ctx, p, id);
	}
	if (fstatat(AT_FDCWD, p->link, &pst, S_ISLNK(p->st.st_mode) ? AT_SYMLINK_NOFOLLOW : 0)) {
		if (errno == ENOENT) {
			pr_err("unsupported: pid %d: %s was unlinked but has other links (a link remap is not implemented)",
			       p->pid, p->link);
			return -ENOTSUP;
		}
		pr_perror("pid %d: cannot stat %s", p->pid, p->link);
		return -errno;
	}
	if (pst.st_dev != p->st.st_dev || pst.st_ino != p->st.st_ino) {
		pr_err("unsupported: pid %d: the open file %s is not the file at that path now",
		       p->pid, p->link);
		return -ENOTSUP;
	}
	return 0;
}

/* Files opened write-only for appending (logs) grow as they like: no size check. */
static bool records_size(const struct file_parms *p)
{
	if (!S_ISREG(p->st.st_mode))
		return false;
	return !((p->flags & O_ACCMODE) == O_WRONLY && (p->flags & O_APPEND));
}

int reg_dump(struct dump_ctx *ctx, struct file_parms *p, uint32_t id)
{
	RegFileEntry rfe = REG_FILE_ENTRY__INIT;
	FileEntry fe = FILE_ENTRY__INIT;
	int ret;

	if (p->link[0] != '/') {
		pr_err("unsupported: pid %d: %s is not a path", p->pid, p->link);
		return -ENOTSUP;
	}
	ret = check_path(ctx, p, id);
	if (ret)
		return ret;

	rfe.id = id;
	rfe.flags = p->flags;
	rfe.pos = p->pos;
	rfe.fown = &p->fown;
	rfe.name = p->link;
	rfe.has_mode = true;
	rfe.mode = p->st.st_mode;
	if (records_size(p)) {
		rfe.has_size = true;
		rfe.size = p->st.st_size;
		ret = store_build_id(p, &rfe);
		if (ret)
			return ret;
	}

	fe.type = FD_TYPES__REG;
	fe.id = id;
	fe.reg = &rfe;
	ret = img_write_msg(ctx->files_img, &fe.base);
	free(rfe.build_id);
	return ret;
}

/*
 * --- restore ---
 *
 * The path is opened with the recorded flags and checked against the
 * entry before anything uses it.  A ghost file is made again once, under
 * its old name, deleted at once and kept open; each entry of it opens it
 * again through /proc, so all of them share the one inode.
 */

/* A remap-fpath.img entry: REG entry @orig_id is not to be opened by its path. */
struct rst_remap {
	uint32_t orig_id, remap_id;
	RemapType type;
};

/* A ghost file made again: deleted, kept open as @fd (a pool fd). */
struct rst_ghost {
	uint32_t id;
	int fd;
};

static int cmp_remap(const void *a, const void *b)
{
	uint32_t x = ((const struct rst_remap *)a)->orig_id;
	uint32_t y = ((const struct rst_remap *)b)->orig_id;

	return (x > y) - (x < y);
}

int reg_restore_prepare(struct rst_ctx *ctx)
{
	struct files_rst_priv *priv = files_rst_priv(ctx);
	void **msgs;
	size_t nr;
	int ret;

	if (!priv)
		return -ENOMEM;
	ret = files_img_read_all(ctx, IMG_REMAP_FPATH, 0, &remap_file_path_entry__descriptor,
				 &msgs, &nr);
	if (ret == -ENOENT)
		return 0;
	if (ret)
		return ret;
	priv->remaps = calloc(nr ? nr : 1, sizeof(*priv->remaps));
	if (!priv->remaps) {
		pr_err("out of memory");
		files_msgs_free(msgs, nr);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nr; i++) {
		const RemapFilePathEntry *e = msgs[i];

		/* Without a type, CRIU reads the entry as a linked remap. */
		priv->remaps[i] = (struct rst_remap){
			.orig_id = e->orig_id, .remap_id = e->remap_id,
			.type = e->has_remap_type ? e->remap_type : REMAP_TYPE__LINKED,
		};
	}
	priv->nr_remaps = nr;
	files_msgs_free(msgs, nr);
	qsort(priv->remaps, nr, sizeof(*priv->remaps), cmp_remap);
	return 0;
}

static const struct rst_remap *remap_of(struct files_rst_priv *priv, uint32_t id)
{
	struct rst_remap key = { .orig_id = id };

	if (!priv->nr_remaps)
		return NULL;
	return bsearch(&key, priv->remaps, priv->nr_remaps, sizeof(key), cmp_remap);
}

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

/* Owner, permissions and times, set by the path while it still has one. */
static int ghost_attrs(const GhostFileEntry *g, const char *at)
{
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };

	if (fchownat(AT_FDCWD, at, g->uid, g->gid, AT_SYMLINK_NOFOLLOW)) {
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

/* Make ghost file @gid again, named @path while it is made; an fd on it, deleted. */
static int ghost_make(struct rst_ctx *ctx, uint32_t gid, const char *path)
{
	ProtobufCMessage *msg = NULL;
	const GhostFileEntry *g;
	struct img *img;
	char at[PATH_MAX];
	int fd = -1, ret;

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
	ret = ghost_create(g, gid, path, at, sizeof(at));
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
	if ((S_ISDIR(g->mode) ? rmdir(at) : unlink(at)) && ret >= 0) {
		pr_perror("ghost file %s: cannot delete it", at);
		ret = -errno;
	}
	if (ret >= 0) {
		pr_info("ghost file %#x: made again as %s, deleted", gid, at);
		ret = fd;
	}
out:
	if (ret < 0 && fd >= 0)
		close(fd);
	img_free_msg(msg);
	img_close(img);
	return ret;
}

/* The pool fd that keeps ghost file @gid, made the first time it is asked for. */
static int ghost_get(struct rst_ctx *ctx, uint32_t gid, const char *path)
{
	struct files_rst_priv *priv = files_rst_priv(ctx);
	int fd, ret;

	if (!priv)
		return -ENOMEM;
	for (size_t i = 0; i < priv->nr_ghosts; i++)
		if (priv->ghosts[i].id == gid)
			return priv->ghosts[i].fd;
	ret = files_grow(&priv->ghosts, &priv->cap_ghosts, priv->nr_ghosts,
			 sizeof(*priv->ghosts));
	if (ret)
		return ret;
	fd = ghost_make(ctx, gid, path);
	if (fd < 0)
		return fd;
	fd = rst_pool_add(ctx, fd);
	if (fd < 0)
		return fd;
	priv->ghosts[priv->nr_ghosts++] = (struct rst_ghost){ .id = gid, .fd = fd };
	return fd;
}

static const char *remap_type_name(RemapType type)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&remap_type__descriptor,
									   type);

	return v ? v->name : "unknown";
}

/* Open the file of REG entry @id by its path, or by its ghost. */
static int reg_open(struct rst_ctx *ctx, const RegFileEntry *rfe, uint32_t id, int flags)
{
	struct files_rst_priv *priv = files_rst_priv(ctx);
	const struct rst_remap *rm;
	int fd;

	if (!priv)
		return -ENOMEM;
	if (rfe->has_mode && S_ISDIR(rfe->mode))
		flags |= O_DIRECTORY;
	rm = remap_of(priv, id);
	if (rm && rm->type != REMAP_TYPE__GHOST) {
		pr_err("unsupported: file id %u (%s) is remapped as %s", id, rfe->name,
		       remap_type_name(rm->type));
		return -ENOTSUP;
	}
	if (rm) {
		fd = ghost_get(ctx, rm->remap_id, rfe->name);
		if (fd < 0)
			return fd;
		return files_reopen(fd, flags & ~O_NOFOLLOW, rfe->name);
	}
	fd = open(rfe->name, (flags & RST_OPEN_MASK) | O_NOCTTY);
	if (fd < 0) {
		pr_perror("cannot open %s (flags %#o)", rfe->name, flags);
		return -errno;
	}
	return fd;
}

static void build_id_hex(const uint32_t *words, size_t n, char *buf, size_t size)
{
	const uint8_t *b = (const uint8_t *)words;
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n * sizeof(*words) && len + 3 <= size; i++)
		len += snprintf(buf + len, size - len, "%02x", b[i]);
	if (!n)
		snprintf(buf, size, "none");
}

/* The build-id of the file open as @fd (with @flags) against the recorded one. */
static int check_build_id(int fd, int flags, const RegFileEntry *rfe, off_t size)
{
	RegFileEntry now = REG_FILE_ENTRY__INIT;
	char have[BUILD_ID_MAX * 2 + 1], want[BUILD_ID_MAX * 2 + 1];
	int rfd = fd, ret, read_err;

	if ((flags & O_PATH) || (flags & O_ACCMODE) == O_WRONLY) {
		rfd = files_reopen(fd, O_RDONLY, rfe->name);
		if (rfd < 0)
			return rfd;
	}
	ret = read_build_id(rfd, size, &now, &read_err);
	if (read_err) {
		pr_err("cannot read %s for its build-id: %s", rfe->name, strerror(read_err));
		ret = -read_err;
	} else if (!ret && (now.n_build_id != rfe->n_build_id ||
			    memcmp(now.build_id, rfe->build_id, now.n_build_id * sizeof(uint32_t)))) {
		build_id_hex(now.build_id, now.n_build_id, have, sizeof(have));
		build_id_hex(rfe->build_id, rfe->n_build_id, want, sizeof(want));
		pr_err("file %s changed: build-id %s, expected %s", rfe->name, have, want);
		ret = -EINVAL;
	}
	free(now.build_id);
	if (rfd != fd)
		close(rfd);
	return ret;
}

/* Is the file open as @fd still the one recorded: its type, size and build-id? */
static int reg_check(int fd, int flags, const RegFileEntry *rfe)
{
	struct stat st;

	if (fstat(fd, &st)) {
		pr_perror("cannot stat %s", rfe->name);
		return -errno;
	}
	if (rfe->has_mode && (st.st_mode & S_IFMT) != (rfe->mode & S_IFMT)) {
		pr_err("file %s changed: mode %#o, expected %#o", rfe->name, st.st_mode, rfe->mode);
		return -EINVAL;
	}
	if (rfe->has_size && (uint64_t)st.st_size != rfe->size) {
		pr_err("file %s changed: size %lld, expected %llu", rfe->name,
		       (long long)st.st_size, (unsigned long long)rfe->size);
		return -EINVAL;
	}
	if (rfe->n_build_id)
		return check_build_id(fd, flags, rfe, st.st_size);
	return 0;
}

/* The REG entry @id opened with @flags and checked, not positioned. */
static int reg_open_checked(struct rst_ctx *ctx, const RegFileEntry *rfe, uint32_t id, int flags)
{
	int fd, ret;

	if (rfe->has_ext && rfe->ext) {
		pr_err("unsupported: file id %u (%s) is on an external mount", id, rfe->name);
		return -ENOTSUP;
	}
	fd = reg_open(ctx, rfe, id, flags);
	if (fd < 0)
		return fd;
	ret = reg_check(fd, flags, rfe);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

int reg_restore_path(struct rst_ctx *ctx, uint32_t regf_id, int flags)
{
	struct rst_file *f = rst_file_by_id(ctx, regf_id);

	if (!f || f->fe->type != FD_TYPES__REG || !f->fe->reg) {
		pr_err("file id %u: no such path entry in files.img", regf_id);
		return -EINVAL;
	}
	return reg_open_checked(ctx, f->fe->reg, regf_id, flags);
}

int reg_restore_open(struct rst_ctx *ctx, struct rst_file *f)
{
	const RegFileEntry *rfe = f->fe->reg;
	int fd;

	fd = reg_open_checked(ctx, rfe, f->fe->id, rfe->flags);
	if (fd < 0)
		return fd;
	/* A fresh open is at 0; (u64)-1 is "no position" (/dev/kmsg written to). */
	if (!(rfe->flags & O_PATH) && rfe->pos && rfe->pos != UINT64_MAX &&
	    lseek(fd, rfe->pos, SEEK_SET) != (off_t)rfe->pos) {
		pr_perror("cannot seek %s to %llu", rfe->name, (unsigned long long)rfe->pos);
		close(fd);
		return -errno;
	}
	return rst_pool_add(ctx, fd);
}

void reg_restore_cleanup(struct files_rst_priv *priv)
{
	for (size_t i = 0; i < priv->nr_ghosts; i++)
		close(priv->ghosts[i].fd);
	free(priv->ghosts);
	priv->ghosts = NULL;
	priv->nr_ghosts = priv->cap_ghosts = 0;
	free(priv->remaps);
	priv->remaps = NULL;
	priv->nr_remaps = 0;
}
