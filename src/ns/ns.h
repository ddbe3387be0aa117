/*
 * ns.h - the namespaces of a dumped tree (src/ns/).
 *
 * A kind of namespace stasis dumps is one const struct ns_operations in
 * ns.c's table; a kind not in it is refused when any task is in another
 * namespace of that kind than stasis.  As CRIU, only the root's
 * namespaces are dumped ("root_ns_mask"): every other task must be in
 * the root's.  The mask is not in the inventory: a restore finds it by
 * comparing the root's ids-PID.img with the inventory's root_ids.
 */
#ifndef STASIS_NS_H
#define STASIS_NS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct dump_ctx;
struct rst_ctx;
struct rst_task;

struct ns_operations {
	const char *name;	/* as in /proc/PID/ns/NAME */
	int cflag;		/* CLONE_NEW* */
	/* Write its images for id @id; runs with stasis in that namespace (NULL: none). */
	int (*dump)(struct dump_ctx *ctx, uint32_t id);
	/* In the restored root, inside the new namespace: put its state back (NULL: none). */
	int (*restore)(struct rst_ctx *ctx, uint32_t id);
};

extern const struct ns_operations pid_ns_ops;	/* pid.c */
extern const struct ns_operations uts_ns_ops;	/* uts.c */
extern const struct ns_operations ipc_ns_ops;	/* ipc.c */

/*
 * After the tree is collected: refuse (naming the task and the namespace)
 * what cannot be dumped, and note which of the root's namespaces are its own.
 */
int ns_dump_check(struct dump_ctx *ctx);
/* The images of the root's own namespaces (utsns-ID.img, ipcns-*-ID.img). */
int ns_dump_images(struct dump_ctx *ctx);

/*
 * After pstree and ids are read: which namespaces the root gets anew,
 * refusing (said) kinds not restored yet and tasks outside the root's.
 */
int ns_restore_read(struct rst_ctx *ctx);
/* CLONE_NEW* flags task @t is created with. */
unsigned long ns_clone_flags(const struct rst_ctx *ctx, const struct rst_task *t);
/* In task @t, first of all: fill the namespaces it was created with. */
int ns_restore_task(struct rst_ctx *ctx, struct rst_task *t);

/*
 * pid.c.  Dump, once the tree is collected: each task's pid, group,
 * session and threads as the tree sees them (struct dump_task's vpid,
 * pgid, sid, vtids); dump_vpid() (dump-ctx.h) translates any other pid.
 */
int pidns_dump_collect(struct dump_ctx *ctx);
/* Restore: does the root get a pid namespace of its own? */
bool pidns_restore_own(const struct rst_ctx *ctx);
/* Refuse (said) a root of its own pid namespace that is not pid 1 there. */
int pidns_restore_check(const struct rst_ctx *ctx);
/* Once every task is forked: each task's pid here (rst_task's real). */
int pidns_find_real(struct rst_ctx *ctx);
/* The tids here of @t's threads, in t->tids's order, into @out. */
int pidns_real_tids(struct rst_ctx *ctx, const struct rst_task *t, pid_t *out);

#endif
