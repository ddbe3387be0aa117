/*
 * mnt.h - what the two halves of the mount namespace (mnt.c, mnt-dump.c)
 * share: the file systems stasis knows, one mount, the plan of the tree.
 */
#ifndef STASIS_NS_MNT_H
#define STASIS_NS_MNT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "mnt.pb-c.h"

struct opts;
struct dump_ctx;

/* How a file system comes back when no mount before it has its superblock. */
enum fs_how {
	FS_BIND,	/* only as a bind of another mount (a disk, overlay, ...) */
	FS_NEW,		/* a new instance is the same file system (proc, sysfs, ...) */
	FS_TAR,		/* a new instance, refilled from the dumped contents */
};

struct fs_kind {
	const char *name;
	unsigned int code;	/* CRIU's fstype */
	enum fs_how how;
};

const struct fs_kind *mnt_fs_by_name(const char *name);
const struct fs_kind *mnt_fs_by_code(unsigned int code);

/* One mount, at dump or restore. */
struct mnt {
	MntEntry *e;
	struct mnt *parent;
	struct mnt *src;	/* bind of this one (NULL: made anew, external or the root) */
	unsigned int depth;
	int fd;			/* restore: the mount itself, O_PATH */
	int srcfd;		/* restore: where it is cloned from, opened with its source */
	bool fresh;		/* restore: made anew here (its superblock is ours) */
	bool grouped;		/* restore: its peer group is made */
	bool below;		/* restore: a mount is below it or bound from it */
	int made_dirs;		/* restore: directories made above its deleted root */
	bool remade;		/* restore: its deleted root made again (make_deleted) */
	bool outside_master;	/* its master group is not in the namespace */
	char *type;		/* dump: its file system's name */
	unsigned int ns;	/* its namespace: an index in tree's ns[] */
	int pre;		/* restore: made already, detached (another namespace's bind...) */
};

/* The most mount namespaces a tree may have. */
#define MNT_NS_MAX	16

/*
 * The mounts of every mount namespace of the tree, the root task's first:
 * a mount may be a bind of a mount of another namespace (one made by
 * unshare is a copy of its parent's), so they are planned together.
 */
struct tree {
	struct mnt *m;		/* in creation order once planned: the root first */
	size_t n;
	struct mnt *root;	/* the root mount of ns[0] */
	size_t nr_ns;
	struct tree_ns {
		uint32_t id;	/* as in ids-PID.img */
		pid_t pid;	/* dump: a task in it */
		struct mnt *root;
		int nsfd;	/* restore: the namespace */
	} ns[MNT_NS_MAX];
};

struct opt_flag {
	const char *opt;
	unsigned int flag;
};

/*
 * Sort @t parents first (the root mount first) and decide how each mount
 * comes back (mnt->src), refusing by name what cannot.  @dump: at dump
 * (external keys need no --external mnt[KEY]:PATH yet).
 */
int mnt_plan(struct tree *t, const struct opts *o, bool dump);
/* @root (a path in a superblock) holds @sub: the rest of @sub, "" or NULL. */
const char *mnt_under(const char *root, const char *sub);
int mnt_tree_add(struct tree *t, MntEntry *e);
/* A new namespace @id in @t, which the mounts added next belong to (-ENOSPC: too many). */
int mnt_tree_ns(struct tree *t, uint32_t id);
/*
 * tar(1) run with @in, @out as its stdin, stdout and the directory that
 * @dir(@arg), called in tar's process before the exec, opens as its cwd.
 * 0, or -errno.
 */
int mnt_run_tar(int (*dir)(const void *arg), const void *arg, int in, int out,
		char *const argv[]);

int mnt_dump(struct dump_ctx *ctx, uint32_t id);

struct rst_ctx;
/* A new instance of @m's file system, detached (tmpfs refilled): its fd, or -errno. */
int mnt_make_new(struct rst_ctx *ctx, struct mnt *m);
/* The flags of mount @m itself (read-only, nosuid, nodev, noexec, atime). */
int mnt_set_attrs(const struct mnt *m);
/* After the restore, in a task of the tree: into namespace @k of the tree (0: the root task's). */
int mnt_enter_kept(unsigned int k);
/* The root of namespace @k of the tree, after the restore (AT_FDCWD for the root task's). */
int mnt_kept_root(unsigned int k);
/* mnt-proc.c: the proc mounts of @t to make again in the root (copied). */
int mnt_keep_procs(const struct tree *t);
/* In the root, first of all: its proc mounts made again in its own pid namespace. */
int mnt_restore_root(struct rst_ctx *ctx, uint32_t id);

#endif
