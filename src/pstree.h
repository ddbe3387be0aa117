/*
 * pstree.h - the process tree: pstree.img, and the ids that say which
 * kernel objects (memory, fd table, fs, signal handlers, namespaces) tasks
 * share (ids-PID.img, and the inventory's root_ids).
 */
#ifndef STASIS_PSTREE_H
#define STASIS_PSTREE_H

#include "dump-ctx.h"
#include "rst-ctx.h"
#include "core.pb-c.h"

/* Fill ctx->tasks from the seized tree: pids, groups, sessions. */
int pstree_collect(struct dump_ctx *ctx);
/*
 * @t's ids of the kernel objects it may share (memory, fd table, fs,
 * signal handlers), given in the tree's order, each task's before its
 * parts run: on the tracer as its dump begins.  0 or -ENOMEM.
 */
int pstree_task_ids(struct dump_ctx *ctx, struct dump_task *t);
/* The end of a dump: what pstree_collect() kept goes. */
void pstree_dump_cleanup(struct dump_ctx *ctx);
int pstree_dump(struct dump_ctx *ctx);
int pstree_dump_ids(struct dump_ctx *ctx, struct dump_task *t);

/* stasis's own ids, which CRIU records as the inventory's root_ids. */
void pstree_root_ids(struct dump_ctx *ctx, TaskKobjIdsEntry *ids);
/* The ids-PID.img id of stasis's own namespace @name ("net", "pid", ...); 0 if none. */
uint32_t pstree_own_ns_id(const char *name);
/* The same for task @pid's namespace: the id its ids-PID.img gives. */
uint32_t pstree_ns_id(pid_t pid, const char *name);

/* pstree.c: pstree.img and ids-PID.img into ctx->tasks. */
int pstree_restore_read(struct rst_ctx *ctx);
/*
 * pstree.c, once every core is read: a helper task for each process
 * group whose leader is not in the tree (pid = the group's id), and for
 * each session of orphans the root took in; which tasks were born in
 * their parent's old session.
 */
int pstree_add_helpers(struct rst_ctx *ctx);
/*
 * Is @t forked by its parent before the parent makes its own session
 * (born in the session the parent was born in)?
 */
bool pstree_born_before_setsid(const struct rst_task *t);

#endif
