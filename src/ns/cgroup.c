/*
 * ns/cgroup.c - the root's own cgroup namespace.
 *
 * Nothing of it is written apart: where it is rooted is, for each
 * hierarchy, the cgns_prefix of the root's cgroup set (cgroup.img, found
 * by cgroup.c).  A namespace is rooted where its maker is when it
 * unshares, so the root is not cloned into a new one: it first enters
 * those cgroups, then unshares, and its children are forked inside.  Its
 * cgroups below the prefix are entered later, as every task's are.
 */
#include <errno.h>
#include <sched.h>

#include "cgroup.h"
#include "log.h"
#include "ns/ns.h"
#include "rst-ctx.h"

static int cgroup_ns_dump(struct dump_ctx *ctx, uint32_t id)
{
	(void)ctx;
	(void)id;
	return 0;
}

/* In the root, first of all, before it forks its children. */
static int cgroup_ns_restore_root(struct rst_ctx *ctx, uint32_t id)
{
	int ret = cgroup_enter_ns_root(ctx, &ctx->tasks[0]);

	(void)id;
	if (ret)
		return ret;
	if (unshare(CLONE_NEWCGROUP)) {
		pr_perror("cannot make the root's cgroup namespace");
		return -errno;
	}
	return 0;
}

const struct ns_operations cgroup_ns_ops = {
	.name = "cgroup",
	.cflag = CLONE_NEWCGROUP,
	.dump = cgroup_ns_dump,
	.restore_root = cgroup_ns_restore_root,
	.by_root = true,
};
