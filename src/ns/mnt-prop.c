/*
 * mnt-prop.c - the last step of a restored mount tree (mnt.c): peer
 * groups, slaves and unbindable mounts (MOVE_MOUNT_SET_GROUP and
 * mount_setattr), read-only superblocks and each mount's own flags,
 * across every mount namespace of the tree.  A mount's propagation and
 * flags are set only from inside its own namespace: the controller moves
 * from one to the other (mnt_enter_ns).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "log.h"
#include "ns/mnt.h"

/*
 * The tree being restored, and the namespace of it the controller is in:
 * a mount's flags and propagation are set only from inside its own.
 */
static struct tree *building;
static unsigned int cur_ns;

void mnt_prop_in(struct tree *t, unsigned int k)
{
	building = t;
	cur_ns = k;
}

int mnt_enter_ns(const struct mnt *m)
{
	if (!building || m->ns == cur_ns)
		return 0;
	if (setns(building->ns[m->ns].nsfd, CLONE_NEWNS)) {
		pr_perror("cannot enter mount namespace %u", building->ns[m->ns].id);
		return -errno;
	}
	cur_ns = m->ns;
	return 0;
}

int mnt_set_prop(const struct mnt *m, uint64_t prop)
{
	struct mount_attr a = { .propagation = prop };

	if (mnt_enter_ns(m))
		return -EIO;
	if (mount_setattr(m->fd, "", AT_EMPTY_PATH, &a, sizeof(a))) {
		pr_perror("mount %u (%s): cannot set its propagation %#lx", m->e->mnt_id,
			  m->e->mountpoint, (unsigned long)prop);
		return -errno;
	}
	return 0;
}

/* @to joins @from's peer group and gets its master. */
static int set_group(const struct mnt *from, const struct mnt *to)
{
	if (move_mount(from->fd, "", to->fd, "",
		       MOVE_MOUNT_SET_GROUP | MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)) {
		pr_perror("mount %u (%s): cannot join the sharing of mount %u (%s)",
			  to->e->mnt_id, to->e->mountpoint, from->e->mnt_id, from->e->mountpoint);
		return -errno;
	}
	return 0;
}

/*
 * Peer group of @lead, the first of its members: a slave of its master's
 * group first (when it is one), then shared, then every other member joins.
 */
static int make_group(struct tree *t, struct mnt *lead, unsigned int depth)
{
	struct mnt *master = mnt_group_leader(t, lead->e->master_id);
	int ret = 0;

	if (lead->grouped || depth > t->n)
		return 0;	/* done, or a loop of masters (not something mountinfo shows) */
	if (master && master != lead && !lead->host_peer)
		ret = make_group(t, master, depth + 1) ?: set_group(master, lead) ?:
		      mnt_set_prop(lead, MS_SLAVE);
	ret = ret ?: lead->host_peer ? 0 : mnt_set_prop(lead, MS_SHARED);
	for (size_t i = 0; !ret && i < t->n; i++)
		if (&t->m[i] != lead && t->m[i].e->shared_id == lead->e->shared_id &&
		    !t->m[i].host_peer)
			ret = set_group(lead, &t->m[i]);
	lead->grouped = true;
	return ret;
}

/* The member of group @group its peers join: one kept in its group outside, or the first. */
static struct mnt *group_start(struct tree *t, uint32_t group)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->m[i].e->shared_id == group && t->m[i].host_peer)
			return &t->m[i];
	return mnt_group_leader(t, group);
}

int mnt_propagate(struct tree *t)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < t->n; i++) {
		struct mnt *m = &t->m[i];

		if (m->e->shared_id && group_start(t, m->e->shared_id) == m)
			ret = make_group(t, m, 0);
	}
	for (size_t i = 0; !ret && i < t->n; i++) {
		struct mnt *m = &t->m[i], *master = mnt_group_leader(t, m->e->master_id);

		if (!m->e->shared_id && master)
			ret = set_group(master, m) ?: mnt_set_prop(m, MS_SLAVE);
	}
	for (size_t i = 0; !ret && i < t->n; i++)
		if (t->m[i].e->flags & MS_UNBINDABLE)
			ret = mnt_set_prop(&t->m[i], MS_UNBINDABLE);
	return ret;
}

/* The flags of mount @m itself (read-only, nosuid, nodev, noexec, atime). */
int mnt_set_attrs(const struct mnt *m)
{
	uint32_t f = m->e->flags;
	struct mount_attr a = {
		.attr_clr = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
			    MOUNT_ATTR_NOEXEC | MOUNT_ATTR__ATIME | MOUNT_ATTR_NODIRATIME,
		.attr_set = (f & MS_RDONLY ? MOUNT_ATTR_RDONLY : 0) |
			    (f & MS_NOSUID ? MOUNT_ATTR_NOSUID : 0) |
			    (f & MS_NODEV ? MOUNT_ATTR_NODEV : 0) |
			    (f & MS_NOEXEC ? MOUNT_ATTR_NOEXEC : 0) |
			    (f & MS_NODIRATIME ? MOUNT_ATTR_NODIRATIME : 0) |
			    (f & MS_NOATIME ? MOUNT_ATTR_NOATIME :
			     f & MS_STRICTATIME ? MOUNT_ATTR_STRICTATIME : MOUNT_ATTR_RELATIME),
	};

	if (mnt_enter_ns(m))
		return -EIO;
	if (mount_setattr(m->fd, "", AT_EMPTY_PATH, &a, sizeof(a))) {
		pr_perror("mount %u (%s): cannot set its flags %#x", m->e->mnt_id,
			  m->e->mountpoint, f);
		return -errno;
	}
	return 0;
}

/* Read-only superblocks (made here), then each mount's own flags. */
int mnt_set_flags(struct tree *t)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < t->n; i++) {
		struct mnt *m = &t->m[i];
		int fsfd;

		ret = mnt_enter_ns(m);
		if (!ret && m->fresh && (m->e->sb_flags & MS_RDONLY)) {
			fsfd = fspick(m->fd, "", FSPICK_EMPTY_PATH | FSPICK_CLOEXEC);
			if (fsfd < 0 || fsconfig(fsfd, FSCONFIG_SET_FLAG, "ro", NULL, 0) ||
			    fsconfig(fsfd, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0)) {
				pr_perror("mount %u (%s): cannot make its superblock read-only",
					  m->e->mnt_id, m->e->mountpoint);
				ret = -errno;
			}
			if (fsfd >= 0)
				close(fsfd);
		}
		ret = ret ?: mnt_set_attrs(m);
	}
	return ret;
}

