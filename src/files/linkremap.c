/*
 * linkremap.c - a file unlinked from the path it was opened by, while
 * other names of it live on (a hard link elsewhere): a "linked remap".
 *
 * Only with --link-remap, as CRIU: the dump gives the inode a new name,
 * link_remap.<id>, in the directory the old one was in (or the nearest
 * one above that still exists), writes a REG entry for that name and a
 * LINKED remap from the file's entry to it.  Restore opens the file by
 * the new name, checks it against the old entry, and removes the name
 * once the tree runs.  A failed dump removes the names it made.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files/files.h"
#include "fdinfo.pb-c.h"
#include "log.h"
#include "ns/ns.h"
#include "regfile.pb-c.h"
#include "remap-file-path.pb-c.h"

/*
 * @path (from @root, a mount namespace's) as stasis reaches it, into
 * @out: itself in stasis's namespace (AT_FDCWD), else through that root.
 */
static int reach(int root, const char *path, char *out, size_t size)
{
	if (root == -1)
		return -EIO;
	if (root == AT_FDCWD)
		return snprintf(out, size, "%s", path) >= (int)size ? -ENAMETOOLONG : 0;
	return snprintf(out, size, "/proc/self/fd/%d%s", root, path) >= (int)size ?
	       -ENAMETOOLONG : 0;
}

/*
 * The name @at for the inode open as @fd.  On a file system of the tree's
 * user namespace the kernel refuses root of the host a new name there
 * (EOVERFLOW: its ids are not mapped): made again as the file's owner,
 * who is.  0, or -1 and errno.
 */
static int link_fd(int fd, const char *at)
{
	struct stat st;
	int ret, err;

	if (!linkat(fd, "", AT_FDCWD, at, AT_EMPTY_PATH))
		return 0;
	if (errno != EOVERFLOW || fstat(fd, &st))
		return -1;
	if (userns_fs_as(st.st_uid, st.st_gid))
		return -1;
	ret = linkat(fd, "", AT_FDCWD, at, AT_EMPTY_PATH);
	err = errno;
	userns_fs_as((uid_t)-1, 0);
	errno = err;
	return ret;
}

/* Give the inode open as @p->lfd the name link_remap.@lid near @p->link (from @root), into @name. */
static int make_link(const struct file_parms *p, int root, uint32_t lid, char *name, size_t size)
{
	char dir[PATH_MAX], at[PATH_MAX + 64];
	char *slash;
	int ret;

	if (snprintf(dir, sizeof(dir), "%s", p->link) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	for (;;) {
		slash = strrchr(dir, '/');
		if (!slash)
			return -ENOENT;
		*slash = '\0';
		if (snprintf(name, size, "%s/link_remap.%u", dir, lid) >= (int)size)
			return -ENAMETOOLONG;
		ret = reach(root, name, at, sizeof(at));
		if (ret)
			return ret;
		if (!link_fd(p->lfd, at))
			return 0;
		/* The directory may be gone too: try the one above. */
		if (errno != ENOENT || slash == dir)
			return -errno;
	}
}

static int write_link_entry(struct dump_ctx *ctx, uint32_t lid, char *name, int mnt_id)
{
	RegFileEntry rfe = REG_FILE_ENTRY__INIT;
	FownEntry fown = FOWN_ENTRY__INIT;
	FileEntry fe = FILE_ENTRY__INIT;

	rfe.id = lid;
	rfe.flags = 0;
	rfe.pos = 0;
	rfe.fown = &fown;
	rfe.name = name;
	/* In another mount namespace than stasis's: the mount it is on, as any file's. */
	rfe.has_mnt_id = mnt_id >= 0;
	rfe.mnt_id = mnt_id;
	fe.type = FD_TYPES__REG;
	fe.id = lid;
	fe.reg = &rfe;
	return img_write_msg(ctx->files_img, &fe.base);
}

int linkremap_dump(struct dump_ctx *ctx, struct file_parms *p, uint32_t id)
{
	RemapFilePathEntry rpe = REMAP_FILE_PATH_ENTRY__INIT;
	struct files_priv *priv = files_priv(ctx);
	char name[PATH_MAX], at[PATH_MAX + 64], *saved;
	uint32_t lid;
	int ret, root;

	if (!priv)
		return -ENOMEM;
	reg_strip_deleted(p->link);
	if (!ctx->opts->link_remap) {
		pr_err("unsupported: pid %d: %s was unlinked but has other links: it needs --link-remap",
		       p->pid, p->link);
		return -ENOTSUP;
	}
	lid = dump_next_file_id(ctx);
	root = files_file_root(ctx, p);
	ret = root == -1 ? -EIO : make_link(p, root, lid, name, sizeof(name));
	if (ret) {
		pr_err("pid %d: cannot link %s back as link_remap.%u: %s", p->pid, p->link, lid,
		       strerror(-ret));
		return ret;
	}
	/* What a failed dump removes: the name as stasis reaches it. */
	ret = files_grow(&priv->links, &priv->cap_links, priv->nr_links, sizeof(*priv->links)) ?:
	      reach(root, name, at, sizeof(at));
	saved = ret ? NULL : strdup(at);
	if (!saved) {
		if (!reach(root, name, at, sizeof(at)))
			unlink(at);
		pr_err("out of memory");
		return -ENOMEM;
	}
	priv->links[priv->nr_links++] = saved;
	pr_info("pid %d: %s was unlinked, linked back as %s", p->pid, p->link, name);
	ret = write_link_entry(ctx, lid, name, files_in_my_mntns(p->pid) ? -1 :
			       files_fd_mnt_id(p->lfd)) ?:
	      files_img_lazy(ctx, &priv->remap_img, IMG_REMAP_FPATH, 0);
	if (ret)
		return ret;
	rpe.orig_id = id;
	rpe.remap_id = lid;
	rpe.has_remap_type = true;
	rpe.remap_type = REMAP_TYPE__LINKED;
	return img_write_msg(priv->remap_img, &rpe.base);
}

void linkremap_dump_undo(struct dump_ctx *ctx)
{
	struct files_priv *priv = ctx->files_priv;

	for (size_t i = 0; priv && i < priv->nr_links; i++) {
		if (unlink(priv->links[i]) && errno != ENOENT)
			pr_warn("cannot remove %s: %s", priv->links[i], strerror(errno));
	}
}

void linkremap_dump_cleanup(struct files_priv *priv)
{
	for (size_t i = 0; i < priv->nr_links; i++)
		free(priv->links[i]);
	free(priv->links);
	priv->links = NULL;
	priv->nr_links = priv->cap_links = 0;
}

/* --- restore --- */

int linkremap_open(struct rst_ctx *ctx, const RegFileEntry *rfe, uint32_t lid, int flags)
{
	struct files_rst_priv *priv = files_rst_priv(ctx);
	struct rst_file *lf = rst_file_by_id(ctx, lid);
	char *saved, at[PATH_MAX + 64];
	RegFileEntry link;
	int fd, ret, root;

	if (!priv)
		return -ENOMEM;
	if (!lf || lf->fe->type != FD_TYPES__REG || !lf->fe->reg || !lf->fe->reg->name) {
		pr_err("remap-fpath.img: %s is linked to file id %u, which is no path entry",
		       rfe->name, lid);
		return -EINVAL;
	}
	/* CRIU's link has no mnt_id: it is made on the file's own mount. */
	link = *lf->fe->reg;
	if (!link.has_mnt_id && rfe->has_mnt_id) {
		link.has_mnt_id = true;
		link.mnt_id = rfe->mnt_id;
	}
	fd = files_open_on(&link, flags);
	if (fd < 0) {
		pr_perror("cannot open %s by its link %s (flags %#o)", rfe->name, link.name, flags);
		return -errno;
	}
	/* Removed once the tree runs: through its namespace's root when it is not the root task's. */
	root = link.has_mnt_id ? mntns_tree_root_of(link.mnt_id) : -1;
	if (root >= 0)
		snprintf(at, sizeof(at), "/proc/self/fd/%d%s", root, link.name);
	else
		snprintf(at, sizeof(at), "%s", link.name);
	for (size_t i = 0; i < priv->nr_links; i++)
		if (!strcmp(priv->links[i], at))
			return fd;
	ret = files_grow(&priv->links, &priv->cap_links, priv->nr_links, sizeof(*priv->links));
	saved = ret ? NULL : strdup(at);
	if (!saved) {
		close(fd);
		pr_err("out of memory");
		return -ENOMEM;
	}
	priv->links[priv->nr_links++] = saved;
	return fd;
}

void linkremap_restore_finish(struct rst_ctx *ctx)
{
	struct files_rst_priv *priv = ctx->files_priv;

	for (size_t i = 0; priv && i < priv->nr_links; i++) {
		if (unlink(priv->links[i]) && errno != ENOENT)
			pr_warn("cannot remove the link remap %s: %s", priv->links[i],
				strerror(errno));
		else
			pr_info("link remap %s removed", priv->links[i]);
	}
}

void linkremap_restore_cleanup(struct files_rst_priv *priv)
{
	for (size_t i = 0; i < priv->nr_links; i++)
		free(priv->links[i]);
	free(priv->links);
	priv->links = NULL;
	priv->nr_links = priv->cap_links = 0;
}
