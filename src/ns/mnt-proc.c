/*
 * mnt-proc.c - the proc mounts of a restored mount namespace (mnt.c),
 * made again by the root once it is init of the tree's own pid namespace,
 * with what runc mounts below them moved onto the new ones.
 */
#include <errno.h>
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
 * A proc mount shows the pid namespace of whoever made it: the controller
 * makes it for the pool (its files are opened through /proc), the root
 * makes it again once it is init of the tree's own pid namespace.  These
 * are the ones to make again, copied before the tree is freed.
 */
static struct mnt *procs;
static size_t nr_procs;

/* The mounts below each proc of procs[], parents first: moved onto the new proc. */
struct proc_sub {
	size_t proc;		/* index in procs[] */
	char *path;
	char *root;		/* a bind of that proc itself: its root there, else NULL */
	uint32_t flags, mnt_id;
};
static struct proc_sub *subs;
static size_t nr_subs;

/*
 * The parent of each proc of procs[], when it is shared: a proc taken off
 * and made again below it would reach its peers (other namespaces' roots
 * too), so the parent leaves its group for that while and joins again
 * through a peer (found by path in its namespace).
 */
struct proc_parent {
	char *path;		/* NULL: not shared */
	char *peer;		/* a peer's mount point, or NULL (a group of one) */
	unsigned int peer_ns;
};
static struct proc_parent *pparents;

static bool is_below(const struct mnt *m, const struct mnt *proc)
{
	for (const struct mnt *p = m->parent; p; p = p->parent)
		if (p == proc)
			return true;
	return false;
}

static int keep_subs(const struct tree *t, const struct mnt *proc, size_t index)
{
	for (size_t j = 0; j < t->n; j++) {
		struct proc_sub *s;

		if (!is_below(&t->m[j], proc))
			continue;
		s = realloc(subs, (nr_subs + 1) * sizeof(*s));
		if (!s)
			return -ENOMEM;
		subs = s;
		subs[nr_subs] = (struct proc_sub){ index, strdup(t->m[j].e->mountpoint), NULL,
						   t->m[j].e->flags, t->m[j].e->mnt_id };
		if (t->m[j].src == proc)
			subs[nr_subs].root = strdup(t->m[j].e->root);
		if (!subs[nr_subs].path || (t->m[j].src == proc && !subs[nr_subs].root))
			return -ENOMEM;
		nr_subs++;
	}
	return 0;
}

static int keep_parent(const struct tree *t, const struct mnt *m, size_t index)
{
	const struct mnt *par = m->parent;
	struct proc_parent *pp = realloc(pparents, (index + 1) * sizeof(*pp));

	if (!pp)
		return -ENOMEM;
	pparents = pp;
	pp = &pparents[index];
	*pp = (struct proc_parent){ NULL, NULL, 0 };
	if (!par || !par->e->shared_id)
		return 0;
	pp->path = strdup(par->e->mountpoint);
	for (size_t j = 0; j < t->n && !pp->peer; j++) {
		/* (A peer joined from must hold the parent's root.) */
		if (&t->m[j] == par || t->m[j].e->shared_id != par->e->shared_id ||
		    t->m[j].e->root_dev != par->e->root_dev ||
		    !mnt_under(t->m[j].e->root, par->e->root))
			continue;
		pp->peer = strdup(t->m[j].e->mountpoint);
		pp->peer_ns = t->m[j].ns;
		if (!pp->peer)
			return -ENOMEM;
	}
	return pp->path ? 0 : -ENOMEM;
}

int mnt_keep_procs(const struct tree *t)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct mnt *m = &t->m[i];
		struct mnt *p;
		bool below = false;

		/* Made here, or the whole of one in another mount namespace (made again there). */
		if (m->e->fstype != FSTYPE__PROC || strcmp(m->e->root, "/") ||
		    !(m->fresh || (m->src && m->src->ns != m->ns)))
			continue;
		/* Mounts below it are moved onto the new proc; binds from it elsewhere are not. */
		for (size_t j = 0; j < t->n; j++)
			below |= t->m[j].src == m && !is_below(&t->m[j], m) &&
				 (t->m[j].ns == m->ns || strcmp(t->m[j].e->root, "/"));
		if (keep_subs(t, m, nr_procs) || keep_parent(t, m, nr_procs))
			return -ENOMEM;
		p = realloc(procs, (nr_procs + 1) * sizeof(*p));
		if (!p)
			return -ENOMEM;
		procs = p;
		p = &procs[nr_procs++];
		*p = (struct mnt){ .fd = -1, .srcfd = -1, .below = below, .ns = m->ns };
		p->e = malloc(sizeof(*p->e));
		if (!p->e)
			return -ENOMEM;
		*p->e = *m->e;
		p->e->mountpoint = strdup(m->e->mountpoint);
		p->e->options = strdup(m->e->options);
		p->e->source = strdup(m->e->source);
		if (!p->e->mountpoint || !p->e->options || !p->e->source)
			return -ENOMEM;
	}
	return 0;
}

/*
 * The mounts below proc @i (runc masks /proc/kcore and others with binds
 * and tmpfs): @take, each cloned as it is, before the old proc goes;
 * else each clone moved onto the same path of the new proc.
 */
static int sub_fds[256];

/*
 * Mount @fd (a clone of the old one) on @s's path of the new proc at
 * @proc; a bind of the old proc itself is made again from the new one,
 * with the old one's flags.
 */
static int put_sub(const struct proc_sub *s, const char *proc, int fd)
{
	MntEntry e = MNT_ENTRY__INIT;
	struct mnt m = { .e = &e, .fd = fd };
	char from[4096];
	int ret = 0;

	if (s->root) {
		close(fd);
		snprintf(from, sizeof(from), "%s%s", proc, s->root);
		m.fd = open_tree(AT_FDCWD, from, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (m.fd < 0) {
			pr_perror("cannot bind %s of the new proc", from);
			return -errno;
		}
	}
	if (move_mount(m.fd, "", AT_FDCWD, s->path, MOVE_MOUNT_F_EMPTY_PATH)) {
		pr_perror("cannot put the mount on %s back below the new proc", s->path);
		ret = -errno;
	}
	e.flags = s->flags;
	e.mnt_id = s->mnt_id;
	e.mountpoint = s->path;
	if (!ret && s->root)
		ret = mnt_set_attrs(&m);
	close(m.fd);
	return ret;
}

static int clone_subs(size_t i, bool take)
{
	size_t k = 0;

	for (size_t j = 0; j < nr_subs; j++) {
		if (subs[j].proc != i)
			continue;
		if (k >= sizeof(sub_fds) / sizeof(sub_fds[0])) {
			pr_err("not supported yet: more than %zu mounts below proc %s", k,
			       procs[i].e->mountpoint);
			return -ENOTSUP;
		}
		if (take) {
			sub_fds[k] = open_tree(AT_FDCWD, subs[j].path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
			if (sub_fds[k] < 0) {
				pr_perror("cannot take the mount on %s below proc", subs[j].path);
				return -errno;
			}
		} else {
			int ret = put_sub(&subs[j], procs[i].e->mountpoint, sub_fds[k]);

			if (ret)
				return ret;
		}
		k++;
	}
	return 0;
}

static int parent_prop(int fd, const char *path, uint64_t prop)
{
	struct mount_attr a = { .propagation = prop };

	if (mount_setattr(fd, "", AT_EMPTY_PATH, &a, sizeof(a))) {
		pr_perror("cannot set the propagation of %s to %#lx", path, (unsigned long)prop);
		return -errno;
	}
	return 0;
}

/* Parent @pp of proc @i back in its peer group (after leave_group()). */
static int join_group(const struct proc_parent *pp, int fd, const char *proc)
{
	int peer, root, ret = 0;

	if (!pp->peer)
		return parent_prop(fd, pp->path, MS_SHARED);
	root = mnt_kept_root(pp->peer_ns);
	if (root == AT_FDCWD)
		peer = open(pp->peer, O_PATH | O_CLOEXEC);
	else
		peer = openat(root, pp->peer[1] ? pp->peer + 1 : ".", O_PATH | O_CLOEXEC);
	if (peer < 0 || move_mount(peer, "", fd, "", MOVE_MOUNT_SET_GROUP |
				   MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)) {
		pr_perror("%s: cannot put its parent %s back into its peer group (with %s)", proc,
			  pp->path, pp->peer);
		ret = -errno;
	}
	if (peer >= 0)
		close(peer);
	return ret;
}

/* In the root, first of all: its proc mounts made again in its own pid namespace. */
int mnt_restore_root(struct rst_ctx *ctx, uint32_t id)
{
	int ret = 0, pfd;

	if (!(ns_clone_flags(ctx, &ctx->tasks[0]) & CLONE_NEWPID))
		return 0;
	for (size_t i = 0; !ret && i < nr_procs; i++) {
		struct mnt *p = &procs[i];

		if (p->below) {
			pr_err("not supported yet: mount %u (%s), a proc with mounts below it or "
			       "bound from it, in a new pid namespace", p->e->mnt_id, p->e->mountpoint);
			return -ENOTSUP;
		}
		ret = mnt_enter_kept(p->ns);
		if (ret)
			return ret;
		/* First: in a user namespace, a proc is made only where one is fully visible. */
		p->fd = mnt_make_new(ctx, p);
		if (p->fd < 0)
			return p->fd;
		ret = clone_subs(i, true);
		pfd = ret || !pparents[i].path ? -1 : open(pparents[i].path, O_PATH | O_CLOEXEC);
		if (!ret && pparents[i].path &&
		    (pfd < 0 || parent_prop(pfd, pparents[i].path, MS_PRIVATE)))
			ret = -EIO;
		if (!ret && umount2(p->e->mountpoint, MNT_DETACH)) {
			pr_perror("mount %u: cannot take the controller's proc off %s", p->e->mnt_id,
				  p->e->mountpoint);
			ret = -errno;
		}
		if (ret) {
			if (pfd >= 0)
				close(pfd);
			close(p->fd);
			p->fd = -1;
			return ret;
		}
		if (move_mount(p->fd, "", AT_FDCWD, p->e->mountpoint, MOVE_MOUNT_F_EMPTY_PATH)) {
			pr_perror("mount %u: cannot mount proc on %s", p->e->mnt_id, p->e->mountpoint);
			ret = -errno;
		}
		ret = ret ?: mnt_set_attrs(p) ?: clone_subs(i, false);
		if (pfd >= 0) {
			ret = ret ?: join_group(&pparents[i], pfd, p->e->mountpoint);
			close(pfd);
		}
		close(p->fd);
		p->fd = -1;
	}
	ret = ret ?: mnt_enter_kept(0);
	if (!ret && nr_procs)
		pr_info("mount namespace %u: %zu proc mounts made again in the tree's pid namespace",
			id, nr_procs);
	return ret;
}

