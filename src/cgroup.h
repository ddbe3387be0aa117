/*
 * cgroup.h - the cgroups a tree is in (cgroup.img, each thread's cg_set in
 * its core): cgroup.c dumps them, cgroup-restore.c puts the tasks back in,
 * ns/cgroup.c makes the root's cgroup namespace.
 *
 * As CRIU: a "set" is one combination of (controller, path) memberships,
 * numbered from 1; set 1 is stasis's own at dump time and is not written
 * (the inventory's root_cg_set names it): a task in it stays, at restore,
 * where the restore itself is.  For every other set the directories under
 * each of its paths are dumped with the controllers' properties, and made
 * again at restore as --manage-cgroups says.
 */
#ifndef STASIS_CGROUP_H
#define STASIS_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgroup.pb-c.h"
#include "opts.h"

struct rst_ctx;
struct rst_task;

/* Stasis's own set at dump time. */
#define CG_SET_STASIS	1

/* cgroup-props.c: the properties dumped for a controller. */
int cgp_init(const char *stream, const char *file);
/* The property names of @controller ("cpu", "" for cgroup v2's own); NULL-ended. */
const char *const *cgp_props(const char *controller, size_t *nr);
void cgp_fini(void);
/* Are @a and @b ("cpu,cpuacct") the same co-mounted controllers? */
bool cg_names_match(char *const *cnames, size_t n, const char *name);
/* "cpu,cpuacct", "unified" or "systemd" for name=systemd: a yard's subdirectory. */
int cg_yard_name(char *const *cnames, size_t n, char *buf, size_t size);
/*
 * A detached mount of the hierarchy of @cnames (or, with --cgroup-yard,
 * its directory there, mounted if missing): an fd or -errno.
 */
int cg_open_hierarchy(char *const *cnames, size_t n, const struct opts *o);

/* The restore half's hooks (cgroup-restore.c), in cgroup.c's part. */
/*
 * --freeze-cgroup PATH (runc sends its container's freezer): stasis seizes
 * the tree task by task until no new one appears, so it needs no freezer
 * and never freezes one (a failed dump cannot leave it FREEZING).  A
 * cgroup already frozen (a paused container) is refused: its tasks would
 * never stop for the seize.
 */
int cgroup_check_freezer(const char *path);

int cgroup_rst_read(struct rst_ctx *ctx);
int cgroup_rst_prepare(struct rst_ctx *ctx);
int cgroup_rst_task(struct rst_ctx *ctx, struct rst_task *t);
int cgroup_rst_arm(struct rst_ctx *ctx);
void cgroup_rst_cleanup(struct rst_ctx *ctx);

/*
 * Restore, in the root before it makes its cgroup namespace: enter, for
 * each controller, the cgroup the namespace was rooted at.  0 or -errno.
 */
int cgroup_enter_ns_root(struct rst_ctx *ctx, struct rst_task *t);

#endif
