/*
 * memfd.c - memfds, and the shmem objects behind shared anonymous memory,
 * which CRIU 4.2 keeps as memfds too (it restores them with memfd_create()
 * and maps that).
 *
 * An object is one memfd.img entry: its name, owner, mode, size, seals,
 * and the shmid its contents are kept under (shmem.c); a hugetlb object
 * (an MFD_HUGETLB memfd, shared anonymous MAP_HUGETLB memory) also its
 * hugetlb_flag, MFD_HUGETLB and its page size.  CRIU takes the
 * inode number for the shmid, unique among shmem objects, and so do we.
 * The entry and the contents are written when the object is first seen.
 *
 * Each open file description of the object is a MEMFD entry in files.img
 * naming it by inode_id; all mappings of it share one more such entry,
 * which their VmaEntry.shmid points at (as a mapped file's does).
 */
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <linux/magic.h>
#include <linux/memfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "files/files.h"
#include "files/kind.h"
#include "fdinfo.pb-c.h"
#include "log.h"
#include "ns/ns.h"
#include "mem-hugetlb.h"
#include "memfd.pb-c.h"
#include "shmem.h"

#define MEMFD_PREFIX	"/memfd:"
#define DELETED_SUFFIX	" (deleted)"

struct memfd_inode {
	dev_t dev;
	ino_t ino;
	uint32_t id;		/* memfd.img inode_id */
	uint32_t map_id;	/* files.img entry of its mappings; 0 until mapped */
};

/*
 * The name memfd_create() was given: /proc shows "/memfd:NAME (deleted)".
 * Shared anonymous memory shows "/dev/zero (deleted)" and keeps
 * "/dev/zero", as CRIU keeps it.
 */
static void memfd_name(const char *link, char *name, size_t size)
{
	size_t len, slen = strlen(DELETED_SUFFIX);

	if (!strncmp(link, MEMFD_PREFIX, strlen(MEMFD_PREFIX)))
		link += strlen(MEMFD_PREFIX);
	snprintf(name, size, "%s", link);
	len = strlen(name);
	if (len >= slen && !strcmp(name + len - slen, DELETED_SUFFIX))
		name[len - slen] = '\0';
}

/*
 * A hugetlb object's memfd_create() flags, as CRIU records them in
 * hugetlb_flag: MFD_HUGETLB and the page size's MFD_HUGE_* (its log2 above
 * MFD_HUGE_SHIFT).  0 for an object of shmem.
 */
static int hugetlb_flag(int fd, const char *link, const struct stat *st, uint32_t *flag)
{
	struct statfs sfs;
	int shift;

	*flag = 0;
	if (fstatfs(fd, &sfs)) {
		pr_perror("%s: cannot tell its file system", link);
		return -errno;
	}
	if (sfs.f_type != HUGETLBFS_MAGIC)
		return 0;
	shift = hugetlb_size_shift(st->st_blksize);
	if (shift < 0) {
		pr_err("%s: a hugetlb object with page size %ld", link, (long)st->st_blksize);
		return shift;
	}
	*flag = MFD_HUGETLB | (uint32_t)shift << MFD_HUGE_SHIFT;
	return 0;
}

/* memfd.img's entry for the object open as @fd (for reading), and its contents. */
static int dump_inode(struct dump_ctx *ctx, int fd, const char *link, const struct stat *st,
		      uint32_t inode_id)
{
	MemfdInodeEntry mie = MEMFD_INODE_ENTRY__INIT;
	struct files_priv *priv = files_priv(ctx);
	char name[PATH_MAX];
	int seals, ret;

	if (!priv)
		return -ENOMEM;
	/* Every shmem file has seals; one that never allowed sealing has F_SEAL_SEAL. */
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0) {
		pr_perror("%s: cannot read its seals", link);
		return -errno;
	}
	ret = hugetlb_flag(fd, link, st, &mie.hugetlb_flag);
	if (ret)
		return ret;
	mie.has_hugetlb_flag = mie.hugetlb_flag != 0;
	memfd_name(link, name, sizeof(name));
	pr_info("memfd %s: inode_id %u, shmid %#lx, %lld bytes, seals %#x, hugetlb %#x", name,
		inode_id, (unsigned long)st->st_ino, (long long)st->st_size, seals,
		mie.hugetlb_flag);

	ret = shmem_dump_contents(ctx, fd, st->st_ino, st->st_size);
	if (ret)
		return ret;
	mie.name = name;
	mie.uid = userns_dump_uid(st->st_uid);
	mie.gid = userns_dump_gid(st->st_gid);
	mie.size = st->st_size;
	mie.shmid = st->st_ino;
	mie.seals = seals;
	mie.inode_id = inode_id;
	mie.has_mode = true;
	mie.mode = st->st_mode;
	ret = files_img_lazy(ctx, &priv->memfd_img, IMG_MEMFD_INODE, 0);
	if (ret)
		return ret;
	return img_write_msg(priv->memfd_img, &mie.base);
}

/* The object open as @fd: found, or dumped now. */
static int get_inode(struct dump_ctx *ctx, int fd, const char *link, const struct stat *st,
		     struct memfd_inode **out)
{
	struct files_priv *priv = files_priv(ctx);
	struct memfd_inode *m;
	size_t i;
	int ret;

	if (!priv)
		return -ENOMEM;
	for (i = 0; i < priv->nr_memfds; i++) {
		m = &priv->memfds[i];
		if (m->dev == st->st_dev && m->ino == st->st_ino) {
			*out = m;
			return 0;
		}
	}
	/* memfd.img keeps the shmid in 32 bits. */
	if (st->st_ino > UINT32_MAX) {
		pr_err("unsupported: %s has inode number %#lx, more than a shmid holds", link,
		       (unsigned long)st->st_ino);
		return -ENOTSUP;
	}
	ret = files_grow(&priv->memfds, &priv->cap_memfds, priv->nr_memfds,
			 sizeof(*priv->memfds));
	if (ret)
		return ret;
	m = &priv->memfds[priv->nr_memfds];
	/* inode_ids count from 1, as CRIU's do. */
	*m = (struct memfd_inode){ .dev = st->st_dev, .ino = st->st_ino,
				   .id = priv->nr_memfds + 1 };
	ret = dump_inode(ctx, fd, link, st, m->id);
	if (ret)
		return ret;
	priv->nr_memfds++;
	*out = m;
	return 0;
}

static int write_file_entry(struct dump_ctx *ctx, uint32_t id, uint32_t flags, uint64_t pos,
			    FownEntry *fown, uint32_t inode_id)
{
	MemfdFileEntry mfe = MEMFD_FILE_ENTRY__INIT;
	FileEntry fe = FILE_ENTRY__INIT;

	mfe.id = id;
	mfe.flags = flags;
	mfe.pos = pos;
	mfe.fown = fown;
	mfe.inode_id = inode_id;
	fe.type = FD_TYPES__MEMFD;
	fe.id = id;
	fe.memfd = &mfe;
	return img_write_msg(ctx->files_img, &fe.base);
}

static int memfd_dump(struct dump_ctx *ctx, struct file_parms *p, uint32_t id)
{
	struct memfd_inode *m;
	char path[64];
	int fd, ret;

	/* Our copy may be write-only or O_PATH: the contents need one that reads. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", p->lfd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("pid %d fd %d: cannot open %s for reading", p->pid, p->fd, p->link);
		return -errno;
	}
	ret = get_inode(ctx, fd, p->link, &p->st, &m);
	close(fd);
	if (ret)
		return ret;
	return write_file_entry(ctx, id, p->flags, p->pos, &p->fown, m->id);
}

int memfd_dump_mapping(struct dump_ctx *ctx, struct dump_task *t, const char *link,
		       uint32_t *id)
{
	FownEntry fown = FOWN_ENTRY__INIT;
	char target[PATH_MAX];
	struct memfd_inode *m;
	struct stat st;
	ssize_t n;
	int fd, ret;

	fd = open(link, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("pid %d: cannot open %s", t->pid, link);
		return -errno;
	}
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0 || fstat(fd, &st)) {
		pr_perror("pid %d: cannot read what %s is", t->pid, link);
		ret = -errno;
		goto out;
	}
	target[n] = '\0';
	ret = get_inode(ctx, fd, target, &st, &m);
	if (ret || m->map_id)
		goto out;
	/* As CRIU: no flags, position or owner; VmaEntry.fdflags has how it is open. */
	m->map_id = dump_next_file_id(ctx);
	pr_debug("pid %d %s: %s, id %u", t->pid, link, target, m->map_id);
	ret = write_file_entry(ctx, m->map_id, 0, 0, &fown, m->id);
out:
	if (!ret)
		*id = m->map_id;
	close(fd);
	return ret;
}

/* --- restore --- */

/* A memfd.img entry, and its object in the pool once made. */
struct rst_memfd {
	MemfdInodeEntry *mie;
	int fd;
	bool rw_given;		/* an O_RDWR entry took the object's own file */
};

static int memfd_load(struct rst_ctx *ctx, struct files_rst_priv *priv)
{
	void **msgs;
	size_t nr;
	int ret;

	if (priv->memfds_loaded)
		return 0;
	ret = files_img_read_all(ctx, IMG_MEMFD_INODE, 0, &memfd_inode_entry__descriptor,
				 &msgs, &nr);
	if (ret && ret != -ENOENT)
		return ret;
	priv->memfds = calloc(nr ? nr : 1, sizeof(*priv->memfds));
	if (!priv->memfds) {
		pr_err("out of memory");
		files_msgs_free(msgs, nr);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nr; i++)
		priv->memfds[i] = (struct rst_memfd){ .mie = msgs[i], .fd = -1 };
	priv->nr_memfds = nr;
	priv->memfds_loaded = true;
	free(msgs);
	return 0;
}

/* Owner and permissions, as recorded; a chown only when it changes something. */
static int memfd_attrs(int fd, const MemfdInodeEntry *mie)
{
	uid_t uid = userns_host_uid(mie->uid);
	gid_t gid = userns_host_gid(mie->gid);
	struct stat st;

	if (fstat(fd, &st)) {
		pr_perror("memfd:%s: cannot stat it", mie->name);
		return -errno;
	}
	if ((st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid)) {
		pr_perror("memfd:%s: cannot give it to %u:%u", mie->name, mie->uid, mie->gid);
		return -errno;
	}
	if (mie->has_mode && fchmod(fd, mie->mode & 07777)) {
		pr_perror("memfd:%s: cannot set its mode to %#o", mie->name, mie->mode & 07777);
		return -errno;
	}
	return 0;
}

/* Nothing but MFD_HUGETLB and a page size, as CRIU writes it. */
static bool hugetlb_flag_valid(uint32_t flag)
{
	return (flag & MFD_HUGETLB) &&
	       !(flag & ~(MFD_HUGETLB | (uint32_t)MFD_HUGE_MASK << MFD_HUGE_SHIFT));
}

/* The object: size, contents, owner, and last the seals, which may forbid writing. */
static int memfd_make(struct rst_ctx *ctx, const MemfdInodeEntry *mie)
{
	uint32_t huge = mie->has_hugetlb_flag ? mie->hugetlb_flag : 0;
	int fd, ret;

	if (huge && !hugetlb_flag_valid(huge)) {
		pr_err("memfd:%s: bad hugetlb_flag %#x", mie->name, huge);
		return -EINVAL;
	}
	fd = memfd_create(mie->name, MFD_ALLOW_SEALING | MFD_CLOEXEC | huge);
	if (fd < 0) {
		pr_perror("memfd:%s: cannot create it%s", mie->name,
			  huge ? " (hugetlb: is this page size configured?)" : "");
		return -errno;
	}
	if (ftruncate(fd, mie->size)) {
		ret = -errno;
		pr_perror("memfd:%s: cannot make it %llu bytes long", mie->name,
			  (unsigned long long)mie->size);
		goto err;
	}
	ret = shmem_restore_contents(ctx, fd, mie->shmid, mie->size);
	if (!ret)
		ret = memfd_attrs(fd, mie);
	if (ret)
		goto err;
	if (mie->seals && fcntl(fd, F_ADD_SEALS, mie->seals)) {
		ret = -errno;
		pr_perror("memfd:%s: cannot seal it with %#x", mie->name, mie->seals);
		goto err;
	}
	pr_info("memfd:%s: inode_id %llu, %llu bytes, seals %#x", mie->name,
		(unsigned long long)mie->inode_id, (unsigned long long)mie->size, mie->seals);
	return rst_pool_add(ctx, fd);
err:
	close(fd);
	return ret;
}

/* Object @inode_id, made (into the pool, O_RDWR) on first use. */
static struct rst_memfd *memfd_object(struct rst_ctx *ctx, uint64_t inode_id, uint32_t file_id,
				      int *err)
{
	struct files_rst_priv *priv = files_rst_priv(ctx);
	struct rst_memfd *m = NULL;

	*err = priv ? memfd_load(ctx, priv) : -ENOMEM;
	if (*err)
		return NULL;
	for (size_t i = 0; i < priv->nr_memfds && !m; i++)
		if (priv->memfds[i].mie->inode_id == inode_id)
			m = &priv->memfds[i];
	if (!m) {
		pr_err("file id %u: memfd inode_id %llu is not in memfd.img", file_id,
		       (unsigned long long)inode_id);
		*err = -EINVAL;
		return NULL;
	}
	if (m->fd < 0)
		m->fd = memfd_make(ctx, m->mie);
	*err = m->fd < 0 ? m->fd : 0;
	return *err ? NULL : m;
}

int memfd_restore_object(struct rst_ctx *ctx, uint32_t file_id)
{
	struct rst_file *f = rst_file_by_id(ctx, file_id);
	struct rst_memfd *m;
	int err;

	if (!f || f->fe->type != FD_TYPES__MEMFD || !f->fe->memfd) {
		pr_err("file id %u: not a memfd entry of files.img", file_id);
		return -EINVAL;
	}
	m = memfd_object(ctx, f->fe->memfd->inode_id, file_id, &err);
	return m ? m->fd : err;
}

/*
 * The file memfd_create() made is the only one execveat() runs: any file
 * opened for writing through /proc denies exec (ETXTBSY) while it is
 * open.  So the first O_RDWR entry is that file itself (a dup of the
 * object), as it most likely was; the others open it again.
 */
static int memfd_entry_file(struct rst_memfd *m, const MemfdFileEntry *mfe, const char *what)
{
	int fd;

	if ((mfe->flags & O_ACCMODE) != O_RDWR || m->rw_given)
		return files_reopen(m->fd, mfe->flags, what);
	fd = fcntl(m->fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0) {
		pr_perror("%s: cannot dup its object", what);
		return -errno;
	}
	if (fcntl(fd, F_SETFL, mfe->flags & RST_SETFL_MASK)) {
		int err = -errno;

		pr_perror("%s: cannot set its flags %#o", what, mfe->flags);
		close(fd);
		return err;
	}
	m->rw_given = true;
	return fd;
}

/* Each entry is an open file description of its own on the one object. */
static int memfd_restore_open(struct rst_ctx *ctx, struct rst_file *f)
{
	const MemfdFileEntry *mfe = f->fe->memfd;
	struct rst_memfd *m;
	char what[64];
	int fd, err;

	m = memfd_object(ctx, mfe->inode_id, f->fe->id, &err);
	if (!m)
		return err;
	snprintf(what, sizeof(what), "memfd file id %u", f->fe->id);
	fd = memfd_entry_file(m, mfe, what);
	if (fd < 0)
		return fd;
	if (mfe->pos && lseek(fd, mfe->pos, SEEK_SET) != (off_t)mfe->pos) {
		err = errno;
		pr_perror("%s: cannot seek to %llu", what, (unsigned long long)mfe->pos);
		close(fd);
		return -err;
	}
	return rst_pool_add(ctx, fd);
}

static void memfd_restore_cleanup(struct rst_ctx *ctx)
{
	struct files_rst_priv *priv = ctx->files_priv;

	if (!priv)
		return;
	for (size_t i = 0; i < priv->nr_memfds; i++) {
		if (priv->memfds[i].fd >= 0)
			close(priv->memfds[i].fd);
		img_free_msg(&priv->memfds[i].mie->base);
	}
	free(priv->memfds);
	priv->memfds = NULL;
	priv->nr_memfds = 0;
	priv->memfds_loaded = false;
}

/* Any shmem file is dumped as a memfd, as CRIU does. */
static int memfd_match(struct dump_ctx *ctx, struct file_parms *p)
{
	return S_ISREG(p->st.st_mode) ? files_is_shmem(ctx, p) : 0;
}

static const void *memfd_part(const FileEntry *fe)
{
	return fe->memfd;
}

static const FownEntry *memfd_fown(struct rst_ctx *ctx, const FileEntry *fe)
{
	(void)ctx;
	return fe->memfd->fown;
}

const struct fd_kind memfd_fd_kind = {
	.name = "memfd",
	.type = FD_TYPES__MEMFD,
	.match = memfd_match,
	.dump = memfd_dump,
	.part = memfd_part,
	.fown = memfd_fown,
	.open = memfd_restore_open,
	.restore_cleanup = memfd_restore_cleanup,
};
