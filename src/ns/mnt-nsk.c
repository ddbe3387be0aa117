/*
 * mnt-nsk.c - the other mount namespaces of a tree than its root task's
 * (mnt.c): each made by the controller from a copy of the one it is in,
 * its root over / and its mounts below, then pivoted into; what files and
 * tasks need of them afterwards (each one's root and namespace, kept as
 * pool fds every task inherits): paths opened from the root of their
 * mount's namespace, each task moved into its own.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "log.h"
#include "ns/mnt.h"
#include "ns/ns.h"
#include "restore.h"

/*
 * The mounts of the other namespaces made anew, before the first pivot:
 * tar and the host's paths are out of reach after it.
 */
int mnt_premake(struct rst_ctx *ctx, struct tree *t)
{
	for (size_t i = 0; i < t->n; i++) {
		struct mnt *m = &t->m[i];

		if (!m->ns || m->src || m->e->ext_key || m->ext_src)
			continue;
		m->pre = mnt_make_new(ctx, m);
		if (m->pre < 0)
			return m->pre;
	}
	return 0;
}

/*
 * Namespace @k (not the root task's): a copy of the one the controller is
 * in, where its root mount goes over / and the rest below it; then
 * pivot_root into it, which leaves nothing of the copy.
 */
static int build_ns(struct rst_ctx *ctx, struct tree *t, unsigned int k)
{
	struct mnt *r = t->ns[k].root;
	int ret = 0;

	ret = userns_unshare_mnt();
	if (ret) {
		errno = -ret;
		pr_perror("mount namespace %u: cannot make it", t->ns[k].id);
		return ret;
	}
	mnt_prop_in(t, k);
	t->ns[k].nsfd = rst_open_self("ns/mnt", O_RDONLY);
	if (t->ns[k].nsfd < 0) {
		pr_perror("mount namespace %u: cannot open it", t->ns[k].id);
		return -errno;
	}
	r->fd = mnt_make_one(ctx, r);
	if (r->fd < 0)
		return r->fd;
	if (move_mount(r->fd, "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH)) {
		pr_perror("mount namespace %u: cannot mount its root %u", t->ns[k].id,
			  r->e->mnt_id);
		return -errno;
	}
	ret = mnt_open_sources(t, r);
	for (size_t i = 0; !ret && i < t->n; i++)
		if (t->m[i].ns == k && &t->m[i] != r)
			ret = mnt_attach(ctx, t, &t->m[i]);
	return ret ?: mnt_pivot(r);
}

/* What files and tasks need of the other namespaces once the tree is made. */
static struct kept_ns {
	uint32_t id;
	int nsfd, rootfd;	/* pool fds: every task inherits them */
} kept[MNT_NS_MAX];
static size_t nr_kept;
static struct kept_mnt {
	uint32_t mnt_id;
	unsigned int ns;
	char *mountpoint;
} *kept_mnts;
static size_t nr_kept_mnts;

static int keep_ns(struct rst_ctx *ctx, struct tree *t, unsigned int k)
{
	int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (root < 0) {
		pr_perror("mount namespace %u: cannot open its root", t->ns[k].id);
		return -errno;
	}
	kept[k].id = t->ns[k].id;
	kept[k].rootfd = rst_pool_add(ctx, root);
	kept[k].nsfd = rst_pool_add(ctx, t->ns[k].nsfd);
	t->ns[k].nsfd = kept[k].nsfd;
	nr_kept = k + 1;
	return kept[k].rootfd < 0 ? kept[k].rootfd : kept[k].nsfd < 0 ? kept[k].nsfd : 0;
}

int mnt_keep_mnts(struct tree *t)
{
	for (size_t i = 0; i < nr_kept_mnts; i++)
		free(kept_mnts[i].mountpoint);
	free(kept_mnts);
	nr_kept_mnts = 0;
	kept_mnts = calloc(t->n, sizeof(*kept_mnts));
	if (!kept_mnts)
		return -ENOMEM;
	for (size_t i = 0; i < t->n; i++) {
		char *mp = strdup(t->m[i].e->mountpoint);

		if (!mp)
			return -ENOMEM;
		kept_mnts[nr_kept_mnts++] = (struct kept_mnt){ t->m[i].e->mnt_id, t->m[i].ns, mp };
	}
	return 0;
}

static const struct kept_mnt *kept_mnt(uint32_t mnt_id)
{
	for (size_t i = 0; i < nr_kept_mnts; i++)
		if (kept_mnts[i].mnt_id == mnt_id && kept_mnts[i].ns < nr_kept)
			return &kept_mnts[i];
	return NULL;
}

int mntns_tree_root_of(uint32_t mnt_id)
{
	const struct kept_mnt *m = kept_mnt(mnt_id);

	return m ? kept[m->ns].rootfd : -1;
}

int mntns_open_mount(uint32_t mnt_id)
{
	const struct kept_mnt *m = kept_mnt(mnt_id);

	if (!m)
		return -1;
	/* Not O_PATH: open_by_handle_at() takes no O_PATH fd. */
	return openat(kept[m->ns].rootfd, m->mountpoint[1] ? m->mountpoint + 1 : ".",
		      O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int mntns_root_of(uint32_t mnt_id)
{
	for (size_t i = 0; i < nr_kept_mnts; i++)
		if (kept_mnts[i].mnt_id == mnt_id)
			return kept_mnts[i].ns && kept_mnts[i].ns < nr_kept ?
			       kept[kept_mnts[i].ns].rootfd : -1;
	return -1;
}

/* The other namespaces, each made from the one before, then back into the root's. */
int mnt_build_others(struct rst_ctx *ctx, struct tree *t)
{
	int ret = 0;

	/* The root's: its root for paths once the controller has left; entered by a task whose parent is in another. */
	kept[0] = (struct kept_ns){ t->ns[0].id, -1,
				    rst_pool_add(ctx, open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) };
	ret = kept[0].rootfd < 0 ? kept[0].rootfd : 0;
	nr_kept = 1;
	if (!ret && t->nr_ns > 1) {
		kept[0].nsfd = rst_pool_add(ctx, dup(t->ns[0].nsfd));
		ret = kept[0].nsfd < 0 ? kept[0].nsfd : 0;
	}
	for (unsigned int k = 1; !ret && k < t->nr_ns; k++)
		ret = build_ns(ctx, t, k) ?: keep_ns(ctx, t, k);
	if (!ret && t->nr_ns > 1)
		ret = mnt_enter_ns(t->root) ?: chdir("/") ? -errno : 0;
	return ret;
}

int mntns_enter_of(uint32_t mnt_id)
{
	for (size_t i = 0; i < nr_kept_mnts; i++) {
		unsigned int k = kept_mnts[i].ns;

		if (kept_mnts[i].mnt_id != mnt_id || !k || k >= nr_kept)
			continue;
		if (setns(kept[k].nsfd, CLONE_NEWNS)) {
			pr_perror("cannot enter mount namespace %u", kept[k].id);
			return -errno;
		}
		return 1;
	}
	return 0;
}

/* The mnt_id of the mount @fd is on (its fdinfo), or 0. */
static unsigned int fd_mnt(int fd)
{
	char name[32], line[128];
	unsigned int id = 0;
	FILE *f;

	snprintf(name, sizeof(name), "fdinfo/%d", fd);
	f = rst_fopen_self(name);
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "mnt_id: %u", &id) == 1)
			break;
	if (f)
		fclose(f);
	return id;
}

int mntns_flat_if_covered(uint32_t mnt_id, const char *path)
{
	const struct kept_mnt *m = kept_mnt(mnt_id);
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	bool same;
	int dfd;

	if (!m || strcmp(m->mountpoint, "/") || !slash || slash - path >= PATH_MAX)
		return -1;
	snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	same = dfd >= 0 && fd_mnt(dfd) == fd_mnt(kept[m->ns].rootfd);
	if (dfd >= 0)
		close(dfd);
	if (same)
		return -1;
	return open_tree(kept[m->ns].rootfd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
}

int mntns_back(void)
{
	return mnt_enter_kept(0);
}

int mnt_kept_root(unsigned int k)
{
	return k < nr_kept && kept[k].rootfd >= 0 ? kept[k].rootfd : AT_FDCWD;
}

int mnt_enter_kept(unsigned int k)
{
	if (k >= nr_kept || kept[k].nsfd < 0)
		return 0;	/* a tree of one mount namespace */
	if (setns(kept[k].nsfd, CLONE_NEWNS)) {
		pr_perror("cannot enter mount namespace %u", kept[k].id);
		return -errno;
	}
	return 0;
}

/*
 * The mount namespace @t's parent left it in: a helper (a session's, no
 * images of its own) stays in its own parent's, and so on up.
 */
static uint32_t parent_ns(struct rst_ctx *ctx, const struct rst_task *t)
{
	const struct rst_task *p = t->parent;

	while (p && !mnt_task_ns(p))
		p = p->parent;
	return mnt_task_ns(p ?: &ctx->tasks[0]);
}

/* In task @t: into its own mount namespace, when it is not its parent's. */
int mnt_restore_task(struct rst_ctx *ctx, struct rst_task *t)
{
	uint32_t its = mnt_task_ns(t), parents = parent_ns(ctx, t);

	if (its == parents || !its)
		return 0;
	for (size_t k = 0; k < nr_kept; k++) {
		if (kept[k].id != its)
			continue;
		if (setns(kept[k].nsfd, CLONE_NEWNS)) {
			pr_perror("pid %d: cannot enter its mount namespace %u", t->pid, its);
			return -errno;
		}
		return 0;
	}
	pr_err("pid %d: its mount namespace %u was not restored", t->pid, its);
	return -EINVAL;
}

