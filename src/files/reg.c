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
#include "files/kind.h"
#include "fdinfo.pb-c.h"
#include "ghost-file.pb-c.h"
#include "regfile.pb-c.h"
#include "remap-file-path.pb-c.h"
#include "log.h"

/* As CRIU: the build-id note is looked for in the first MiB of the file. */
#define BUILD_ID_SCAN	(1u << 20)
#define BUILD_ID_MAX	512


#define DELETED_SUFFIX	" (deleted)"

bool reg_strip_deleted(char *name)
{
	size_t len = strlen(name), slen = strlen(DELETED_SUFFIX);

	if (len <= slen || strcmp(name + len - slen, DELETED_SUFFIX))
		return false;
	name[len - slen] = '\0';
	return true;
}

/* --- ELF build-id --- */

/*
 * The first @len bytes of a file (at most BUILD_ID_SCAN), read only where
 * the search looks: the ELF header, program headers, note headers and the
 * id itself go to their places in @buf, which is never touched elsewhere.
 * Reading the whole MiB cost a fresh page fault a page (3.7 ms for libc on
 * a virtual machine) for a few hundred bytes.
 */
struct elf_scan {
	int fd;
	uint8_t *buf;
	size_t len;
	int err;	/* a read's errno */
};

/* @n bytes at @off (within len, as the caller checked), or NULL. */
static const uint8_t *scan_at(struct elf_scan *s, uint64_t off, size_t n)
{
	ssize_t r = reg_pread_full(s->fd, s->buf + off, n, off);

	if (r == (ssize_t)n)
		return s->buf + off;
	if (r < 0)
		s->err = -r;
	return NULL;
}

/* The program header fields we need, for either ELF class. */
struct phdr {
	uint32_t type;
	uint64_t offset, filesz;
};

static void read_phdr(const uint8_t *buf, bool is64, struct phdr *ph)
{
	if (is64) {
		Elf64_Phdr p;

		memcpy(&p, buf, sizeof(p));
		*ph = (struct phdr){ p.p_type, p.p_offset, p.p_filesz };
	} else {
		Elf32_Phdr p;

		memcpy(&p, buf, sizeof(p));
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
static uint64_t find_build_id_note(struct elf_scan *s, const struct phdr *ph)
{
	uint64_t off = ph->offset, last;
	const uint8_t *at;
	Elf64_Nhdr nh;

	if (!off || s->len < sizeof(nh))
		return 0;
	last = s->len - sizeof(nh);
	if (off > last)
		return 0;
	if (ph->filesz < last - off)
		last = off + ph->filesz;
	while (off <= last) {
		at = scan_at(s, off, sizeof(nh));
		if (!at)
			return 0;
		memcpy(&nh, at, sizeof(nh));
		if (nh.n_type == NT_GNU_BUILD_ID)
			return off;
		off += sizeof(nh) + (uint64_t)align4(nh.n_namesz) + align4(nh.n_descsz);
	}
	return 0;
}

/* The build-id in the file's first @s->len bytes, as u32 words; 0 if none. */
static int parse_build_id(struct elf_scan *s, uint8_t class, RegFileEntry *rfe)
{
	bool is64 = class == ELFCLASS64;
	size_t ehsize = is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	size_t phsize = is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	uint64_t phoff, noff = 0, desc, nr;
	const uint8_t *at;
	unsigned int phnum, i;
	struct phdr ph;
	Elf64_Nhdr nh;

	if (class != ELFCLASS64 && class != ELFCLASS32)
		return 0;
	if (s->len < ehsize || !(at = scan_at(s, 0, ehsize)))
		return 0;
	if (is64) {
		Elf64_Ehdr eh;

		memcpy(&eh, at, sizeof(eh));
		phoff = eh.e_phoff;
		phnum = eh.e_phnum;
	} else {
		Elf32_Ehdr eh;

		memcpy(&eh, at, sizeof(eh));
		phoff = eh.e_phoff;
		phnum = eh.e_phnum;
	}
	if (!phnum || !phoff || s->len < phsize || phoff > s->len - phsize)
		return 0;
	/* Headers are read while they lie wholly in the scanned part: all at once. */
	nr = (s->len - phsize - phoff) / phsize + 1;
	if (nr > phnum)
		nr = phnum;
	if (!scan_at(s, phoff, nr * phsize))
		return 0;
	for (i = 0; i < nr && !noff; i++) {
		read_phdr(s->buf + phoff + (uint64_t)i * phsize, is64, &ph);
		if (ph.type == PT_NOTE)
			noff = find_build_id_note(s, &ph);
	}
	if (!noff)
		return 0;

	memcpy(&nh, s->buf + noff, sizeof(nh));
	if (!nh.n_descsz || nh.n_descsz > BUILD_ID_MAX)
		return 0;
	desc = noff + sizeof(nh) + align4(nh.n_namesz);
	if (s->len < nh.n_descsz || desc > s->len - nh.n_descsz ||
	    !(at = scan_at(s, desc, nh.n_descsz)))
		return 0;

	rfe->n_build_id = align4(nh.n_descsz) / sizeof(uint32_t);
	rfe->build_id = calloc(rfe->n_build_id, sizeof(uint32_t));
	if (!rfe->build_id) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	memcpy(rfe->build_id, at, nh.n_descsz);
	return 0;
}

/* Open @p's file again for reading, whatever it was opened for (or O_PATH). */
int reg_reopen_ro(const struct file_parms *p)
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
ssize_t reg_pread_full(int fd, void *buf, size_t len, off_t off)
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
	struct elf_scan s = { .fd = fd, .len = size < BUILD_ID_SCAN ? size : BUILD_ID_SCAN };
	uint8_t magic[EI_NIDENT];
	ssize_t n;
	int ret;

	*read_err = 0;
	if (size < SELFMAG + 1)
		return 0;
	/* Most files are not ELF: look before anything else. */
	n = reg_pread_full(fd, magic, SELFMAG + 1, 0);
	if (n < SELFMAG + 1 || memcmp(magic, ELFMAG, SELFMAG))
		return 0;
	/* Address space only: the pages the scan reads into are the only ones touched. */
	s.buf = malloc(s.len);
	if (!s.buf) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	ret = parse_build_id(&s, magic[EI_CLASS], rfe);
	*read_err = s.err;
	free(s.buf);
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
	fd = reg_reopen_ro(p);
	if (fd < 0)
		return fd;
	ret = read_build_id(fd, p->st.st_size, rfe, &read_err);
	if (read_err)
		pr_warn("pid %d: cannot read %s for its build-id: %s", p->pid, p->link,
			strerror(read_err));
	close(fd);
	return ret;
}

/* --- the path --- */

/*
 * Will the path in @p->link open this very file on restore?  Unlinked
 * files become ghost files; anything else that does not hold we refuse
 * rather than restore some other file.
 */
static int check_path(struct dump_ctx *ctx, struct file_parms *p, uint32_t id)
{
	struct stat pst;

	if (p->fs_type == PROC_SUPER_MAGIC)
		return procpath_dump(ctx, p, id);
	if (p->fs_type == DEVPTS_SUPER_MAGIC) {
		reg_strip_deleted(p->link);
		return 0;
	}
	if (p->st.st_nlink == 0) {
		reg_strip_deleted(p->link);
		return ghost_dump(ctx, p, id);
	}
	if (files_stat_file(ctx, p, &pst)) {
		if (errno == ENOENT)
			return linkremap_dump(ctx, p, id);
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
	/* As CRIU: the mount it is on, where the tree has a mount namespace of its own. */
	if (!files_in_my_mntns(p->pid)) {
		int at;

		rfe.has_mnt_id = true;
		rfe.mnt_id = files_fd_mnt_id(p->lfd);
		at = p->st.st_nlink ? files_path_mnt_id(p->pid, p->link) : -1;

		/*
		 * Its path would open it through another mount: the one over its
		 * own.  (A file of a mount outside the namespace, opened before the
		 * task entered it, is opened by its path in the tree.)
		 */
		if (at >= 0 && at != rfe.mnt_id && files_mnt_in_ns(p->pid, rfe.mnt_id)) {
			pr_err("unsupported: pid %d: %s is open on mount %d, which another mount "
			       "covers", p->pid, p->link, rfe.mnt_id);
			return -ENOTSUP;
		}
		/*
		 * On a mount of none of the tree's namespaces (mapped before the
		 * task moved into its own): no mnt_id, as CRIU reads it, so that a
		 * restore looks its path up in the root task's.
		 */
		if (at != rfe.mnt_id && files_file_root(ctx, p) == files_ns_root(p->pid) &&
		    !files_mnt_in_ns(p->pid, rfe.mnt_id)) {
			pr_info("pid %d: %s is on mount %d, outside the tree's namespaces", p->pid,
				p->link, rfe.mnt_id);
			rfe.has_mnt_id = false;
		}
	}
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
		if (priv->remaps[i].type == REMAP_TYPE__PROCFS && !ret)
			ret = procpath_note_dead(priv, e->remap_id);
	}
	if (ret) {
		files_msgs_free(msgs, nr);
		return ret;
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
	if (rm && rm->type == REMAP_TYPE__PROCFS)
		rm = NULL;	/* a path like any other, with its pid's helper */
	if (rm && rm->type == REMAP_TYPE__LINKED)
		return linkremap_open(ctx, rfe, rm->remap_id, flags);
	if (rm && rm->type != REMAP_TYPE__GHOST) {
		pr_err("unsupported: file id %u (%s) is remapped as %s", id, rfe->name,
		       remap_type_name(rm->type));
		return -ENOTSUP;
	}
	if (rm)
		return ghost_open(ctx, rm->remap_id, rfe, flags);
	if (procpath_is_dead(priv, rfe->name))
		return procpath_open_dead(priv, rfe->name, flags);
	fd = files_open_on(rfe, flags);
	if (fd < 0) {
		pr_perror("cannot open %s (flags %#o)", rfe->name, flags);
		return -errno;
	}
	return fd;
}

/*
 * The ghost file that inode @ino of kernel device @kdev became, made if
 * no entry has made it yet (under the name of an entry remapped to it):
 * its pool fd, or -ENOENT when the inode was no ghost.  An inotify watch
 * or fanotify mark on an unlinked file the tree keeps open is on that
 * file, which the handle the dump saw no longer finds.
 */
int reg_restore_ghost_of(struct rst_ctx *ctx, uint32_t kdev, uint64_t ino)
{
	struct files_rst_priv *priv = files_rst_priv(ctx);

	if (!priv)
		return -ENOMEM;
	for (size_t i = 0; i < priv->nr_remaps; i++) {
		const struct rst_remap *rm = &priv->remaps[i];
		struct rst_file *f;
		int ret;

		if (rm->type != REMAP_TYPE__GHOST)
			continue;
		f = rst_file_by_id(ctx, rm->orig_id);
		if (!f || f->fe->type != FD_TYPES__REG || !f->fe->reg || !f->fe->reg->name) {
			pr_err("remap-fpath.img: ghost file %#x is the remap of file id %u, which is no path entry",
			       rm->remap_id, rm->orig_id);
			return -EINVAL;
		}
		ret = ghost_is(ctx, rm->remap_id, kdev, ino);
		if (ret < 0)
			return ret;
		if (ret)
			return ghost_get(ctx, rm->remap_id, f->fe->reg->name);
	}
	return -ENOENT;
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

int reg_restore_file(struct rst_ctx *ctx, struct rst_file *f)
{
	const RegFileEntry *rfe = f->fe->reg;
	int fd;

	fd = reg_open_checked(ctx, rfe, f->fe->id, rfe->flags);
	if (fd < 0)
		return fd;
	/* A fresh open is at 0; (u64)-1 is "no position" (/dev/kmsg written to). */
	if (!(rfe->flags & O_PATH) && rfe->pos && rfe->pos != UINT64_MAX &&
	    lseek(fd, rfe->pos, SEEK_SET) != (off_t)rfe->pos) {
		int err = -errno;

		pr_perror("cannot seek %s to %llu", rfe->name, (unsigned long long)rfe->pos);
		close(fd);
		return err;
	}
	return fd;
}

static int reg_restore_open(struct rst_ctx *ctx, struct rst_file *f)
{
	int fd;

	if (procpath_in_tree(ctx, f->fe->reg->name))
		return procpath_defer(ctx, f);
	fd = reg_restore_file(ctx, f);
	return fd < 0 ? fd : rst_pool_add(ctx, fd);
}

static void reg_restore_cleanup(struct rst_ctx *ctx)
{
	struct files_rst_priv *priv = ctx->files_priv;

	if (!priv)
		return;
	ghost_restore_cleanup(priv);
	procpath_restore_cleanup(priv);
	linkremap_restore_cleanup(priv);
	free(priv->remaps);
	priv->remaps = NULL;
	priv->nr_remaps = 0;
}

#define MEM_MAJOR	1
#define KMSG_MINOR	11
#define MISC_MAJOR	10
#define AUTOFS_MINOR	235

/*
 * Character devices of memory (/dev/null, /dev/zero, /dev/kmsg...) and
 * autofs's are kept as REG, as CRIU keeps them; so are files, directories
 * and symlinks with a path that are not shmem (memfd.c took those).
 */
static int reg_match(struct dump_ctx *ctx, struct file_parms *p)
{
	mode_t m = p->st.st_mode;
	int ret;

	if (S_ISCHR(m)) {
		unsigned int maj = major(p->st.st_rdev), min = minor(p->st.st_rdev);

		/* The kernel refuses to seek /dev/kmsg opened for writing: no position. */
		if (maj == MEM_MAJOR && min == KMSG_MINOR && (p->flags & O_ACCMODE) == O_WRONLY &&
		    !p->pos)
			p->pos = -1ULL;
		return maj == MEM_MAJOR || (maj == MISC_MAJOR && min == AUTOFS_MINOR);
	}
	if (!S_ISREG(m) && !S_ISDIR(m) && !S_ISLNK(m))
		return 0;
	ret = files_is_shmem(ctx, p);
	if (ret)
		return ret < 0 ? ret : 0;
	return p->link[0] == '/';
}

static const void *reg_part(const FileEntry *fe)
{
	return fe->reg;
}

static const FownEntry *reg_fown(struct rst_ctx *ctx, const FileEntry *fe)
{
	(void)ctx;
	return fe->reg->fown;
}

const struct fd_kind reg_fd_kind = {
	.name = "regular file",
	.type = FD_TYPES__REG,
	.match = reg_match,
	.dump = reg_dump,
	.part = reg_part,
	.fown = reg_fown,
	.open = reg_restore_open,
	.open_late = reg_restore_file,
	.restore_cleanup = reg_restore_cleanup,
};
