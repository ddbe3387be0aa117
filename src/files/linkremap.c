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
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "files/files.h"
#include "fdinfo.pb-c.h"
#include "log.h"
#include "ns/ns.h"
#include "regfile.pb-c.h"
#include "remap-file-path.pb-c.h"

/*
 * The task's mounts: its path names a file on them, and a link must be
 * made on the file's own mount.  Through the task's root when the tree
 * has a mount namespace of its own, else stasis's are the same.
 */
static void task_root(const struct file_parms *p, char *root, size_t size)
{
	root[0] = '\0';
	if (ns_dump_has(CLONE_NEWNS))
		snprintf(root, size, "/proc/%d/root", p->pid);
}

/*
 * Give the inode open as @p->lfd the name link_remap.@lid near @p->link,
 * into @name (as the tree sees it; stasis made it as @root@name).
 */
static int make_link(const struct file_parms *p, uint32_t lid, char *name, size_t size,
		     const char *root)
{
	char dir[PATH_MAX], at[PATH_MAX + 32];
	char *slash;

	if (snprintf(dir, sizeof(dir), "%s", p->link) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	for (;;) {
		slash = strrchr(dir, '/');
		if (!slash)
			return -ENOENT;
		*slash = '\0';
		if (snprintf(name, size, "%s/link_remap.%u", dir, lid) >= (int)size ||
		    snprintf(at, sizeof(at), "%s%s", root, name) >= (int)sizeof(at))
			return -ENAMETOOLONG;
		if (!linkat(p->lfd, "", AT_FDCWD, at, AT_EMPTY_PATH))
			return 0;
		/* The directory may be gone too: try the one above. */
		if (errno != ENOENT || slash == dir)
			return -errno;
	}
}

static int write_link_entry(struct dump_ctx *ctx, uint32_t lid, char *name)
{
	RegFileEntry rfe = REG_FILE_ENTRY__INIT;
	FownEntry fown = FOWN_ENTRY__INIT;
	FileEntry fe = FILE_ENTRY__INIT;

	rfe.id = lid;
	rfe.flags = 0;
	rfe.pos = 0;
	rfe.fown = &fown;
	rfe.name = name;
	fe.type = FD_TYPES__REG;
	fe.id = lid;
	fe.reg = &rfe;
	return img_write_msg(ctx->files_img, &fe.base);
}

int linkremap_dump(struct dump_ctx *ctx, struct file_parms *p, uint32_t id)
{
	RemapFilePathEntry rpe = REMAP_FILE_PATH_ENTRY__INIT;
	struct files_priv *priv = files_priv(ctx);
	char name[PATH_MAX], root[64], *saved = NULL;
	uint32_t lid;
	int ret;

	if (!priv)
		return -ENOMEM;
	task_root(p, root, sizeof(root));
	reg_strip_deleted(p->link);
	if (!ctx->opts->link_remap) {
		pr_err("unsupported: pid %d: %s was unlinked but has other links: it needs --link-remap",
		       p->pid, p->link);
		return -ENOTSUP;
	}
	lid = dump_next_file_id(ctx);
	ret = make_link(p, lid, name, sizeof(name), root);
	if (ret) {
		pr_err("pid %d: cannot link %s back as link_remap.%u: %s", p->pid, p->link, lid,
		       strerror(-ret));
		return ret;
	}
	/* Removed again by stasis (a failed dump) from where it made it. */
	ret = files_grow(&priv->links, &priv->cap_links, priv->nr_links, sizeof(*priv->links));
	if (!ret && asprintf(&saved, "%s%s", root, name) < 0)
		saved = NULL;
	if (!saved) {
		char at[PATH_MAX + 64];

		snprintf(at, sizeof(at), "%s%s", root, name);
		unlink(at);
		pr_err("out of memory");
		return -ENOMEM;
	}
	priv->links[priv->nr_links++] = saved;
	pr_info("pid %d: %s was unlinked, linked back as %s", p->pid, p->link, name);
	ret = write_link_entry(ctx, lid, name) ?:
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
	char *saved;
	int fd, ret;

	if (!priv)
		return -ENOMEM;
	if (!lf || lf->fe->type != FD_TYPES__REG || !lf->fe->reg || !lf->fe->reg->name) {
		pr_err("remap-fpath.img: %s is linked to file id %u, which is no path entry",
		       rfe->name, lid);
		return -EINVAL;
	}
	fd = open(lf->fe->reg->name, rst_open_flags(flags));
	if (fd < 0) {
		pr_perror("cannot open %s by its link %s (flags %#o)", rfe->name,
			  lf->fe->reg->name, flags);
		return -errno;
	}
	for (size_t i = 0; i < priv->nr_links; i++)
		if (!strcmp(priv->links[i], lf->fe->reg->name))
			return fd;
	ret = files_grow(&priv->links, &priv->cap_links, priv->nr_links, sizeof(*priv->links));
	saved = ret ? NULL : strdup(lf->fe->reg->name);
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

	/* The names are the tree's: removed in its mount namespace. */
	if (!priv || !priv->nr_links || ns_tree_enter(ctx))
		return;
	for (size_t i = 0; i < priv->nr_links; i++) {
		if (unlink(priv->links[i]) && errno != ENOENT)
			pr_warn("cannot remove the link remap %s: %s", priv->links[i],
				strerror(errno));
		else
			pr_info("link remap %s removed", priv->links[i]);
	}
	ns_tree_leave();
}

void linkremap_restore_cleanup(struct files_rst_priv *priv)
{
	for (size_t i = 0; i < priv->nr_links; i++)
		free(priv->links[i]);
	free(priv->links);
	priv->links = NULL;
	priv->nr_links = priv->cap_links = 0;
}
