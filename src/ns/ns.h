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

#include <stdint.h>
#include <sys/types.h>

struct dump_ctx;
struct rst_ctx;
struct rst_task;

struct ns_operations {
	const char *name;	/* as in /proc/PID/ns/NAME */
	int cflag;		/* CLONE_NEW* */
	/* Write its images for id @id; runs with stasis in that namespace. */
	int (*dump)(struct dump_ctx *ctx, uint32_t id);
	/*
	 * Optional, in the controller before the root is forked: read what the
	 * root will need.  1 when the namespace is given from outside: the root
	 * is then not created with ->cflag, and ->restore joins it.
	 */
	int (*prepare)(struct rst_ctx *ctx, uint32_t id);
	/* In the restored root, inside the new namespace: put its state back. */
	int (*restore)(struct rst_ctx *ctx, uint32_t id);
};

extern const struct ns_operations uts_ns_ops;	/* uts.c */
extern const struct ns_operations ipc_ns_ops;	/* ipc.c */
extern const struct ns_operations net_ns_ops;	/* net.c */

/*
 * After the tree is collected: refuse (naming the task and the namespace)
 * what cannot be dumped, and note which of the root's namespaces are its own.
 */
int ns_dump_check(struct dump_ctx *ctx);
/*
 * socket(2) in the dumped root's net namespace (stasis's own when the root
 * has none): what sock_diag is asked through sees the tree's sockets.
 * As socket(2): the fd, or -1 with errno set.
 */
int ns_net_socket(int domain, int type, int protocol);
/* The inode of that net namespace (the root's, or stasis's); 0 if unknown. */
ino_t ns_net_ino(void);
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

#endif
