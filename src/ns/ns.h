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
struct dump_task;
struct rst_ctx;
struct rst_task;

struct ns_operations {
	const char *name;	/* as in /proc/PID/ns/NAME */
	int cflag;		/* CLONE_NEW* */
	/* dump() reaches the namespace itself through /proc/ROOT (no setns). */
	bool dump_outside;
	/*
	 * Tasks may be in other namespaces of this kind than the root's, when
	 * the root's is not stasis's: dump() writes them all, restore() makes
	 * them all and restore_task() moves each task into its own.
	 */
	bool per_task;
	/* Write its images for id @id; runs with stasis in that namespace (NULL: none). */
	int (*dump)(struct dump_ctx *ctx, uint32_t id);
	/*
	 * Optional: in the controller once the images are read, still in its
	 * own namespaces: what ->restore will need from there.
	 */
	int (*prepare)(struct rst_ctx *ctx, uint32_t id);
	/*
	 * In the controller, just moved into the new namespace (unshare), before
	 * the pool is made: put its state back.  Kinds run in table order.
	 * NULL for a kind the root's clone3 makes (pid).
	 */
	int (*restore)(struct rst_ctx *ctx, uint32_t id);
	/*
	 * Optional: in the controller once the pool is made, still in the new
	 * namespaces: what must come after the tree's objects (net: the
	 * firewall after the sockets).
	 */
	int (*restore_late)(struct rst_ctx *ctx, uint32_t id);
	/*
	 * Optional: in the root task, first of all, for what only a task of the
	 * tree can do (a proc mount must belong to the tree's pid namespace).
	 */
	int (*restore_root)(struct rst_ctx *ctx, uint32_t id);
	/*
	 * Made by the root itself in restore_root, neither unshared by the
	 * controller nor cloned: a cgroup namespace is rooted where its maker
	 * is when it unshares.
	 */
	bool by_root;
	/* per_task: in task @t, before its children: into its own namespace. */
	int (*restore_task)(struct rst_ctx *ctx, struct rst_task *t);
	/*
	 * ->restore runs with the effective ids of the root of the tree's user
	 * namespace when it has one (user.c): what the kernel lets only that
	 * root do (ipc sysctls), objects created as theirs.
	 */
	bool as_userns_root;
};

extern const struct ns_operations user_ns_ops;	/* user.c */
extern const struct ns_operations pid_ns_ops;	/* pid.c */
extern const struct ns_operations uts_ns_ops;	/* uts.c */
extern const struct ns_operations ipc_ns_ops;	/* ipc.c */
extern const struct ns_operations net_ns_ops;	/* net.c */
extern const struct ns_operations mnt_ns_ops;	/* mnt.c */
extern const struct ns_operations time_ns_ops;	/* time.c */
extern const struct ns_operations cgroup_ns_ops;	/* cgroup.c: by_root */

/* timens-0.img: the clocks of a tree in stasis's own time namespace (time.c). */
int ns_time_dump_own(struct dump_ctx *ctx);

/*
 * After the tree is collected: note which of the root's namespaces are
 * its own, and refuse a root in a combination that cannot be dumped.
 */
int ns_dump_check(struct dump_ctx *ctx);
/*
 * Before a live task's parts, after ns_dump_check(): refuse (naming the
 * task and the namespace) a task in a namespace that cannot be dumped.
 * Each task as its dump begins, on the tracer that waits then anyway,
 * rather than the whole tree's (ten links a task) before the first.
 */
int ns_dump_check_task(const struct dump_task *t);
/*
 * socket(2) in the dumped root's net namespace (stasis's own when the root
 * has none): what sock_diag is asked through sees the tree's sockets.
 * As socket(2): the fd, or -1 with errno set.
 */
int ns_net_socket(int domain, int type, int protocol);
/*
 * net-sub.c.  Dump, once the tree is collected: its net namespaces (the
 * root's first).
 */
int net_sub_collect(struct dump_ctx *ctx);
/*
 * While socket @lfd is dumped: the id of the net namespace it was made in
 * into *@id (0: none of the tree's), and ns_net_socket() asks there until
 * ns_net_sock_leave().  0 or -errno.
 */
int ns_net_sock_enter(int lfd, uint32_t *id);
void ns_net_sock_leave(void);
/* That namespace (an fd not the caller's), or -1 for the root's. */
int net_sub_sock_ns(void);
/* Restore: nothing kept of an earlier restore. */
void net_sub_forget(void);
/*
 * While the pool is made: the controller into net namespace @id for a
 * socket made there, when it is another of the tree's than the root's (1),
 * or not (0), or -errno; ns_net_id_leave() brings it back into the root's.
 */
int ns_net_id_enter(uint32_t id);
int ns_net_id_leave(void);
/*
 * user.c.  A new namespace of kind @cflag (CLONE_NEWNET), owned by the
 * tree's user namespace when it has one: its fd, or -errno.  Without one,
 * the controller is moved into it.
 */
int userns_new_ns(int cflag);

/* After ns_dump_check(): is the root's namespace of kind @cflag (CLONE_NEW*) dumped? */
bool ns_dump_has(unsigned long cflag);
/* The inode of that net namespace (the root's, or stasis's); 0 if unknown. */
ino_t ns_net_ino(void);
/*
 * While a dump or a restore runs, an fd of the tree's net namespace when
 * it is not stasis's (-1 then), for the programs that must run in it (the
 * network lock's nft and iptables).  Not the caller's to close.
 */
int ns_net_fd(void);
/*
 * The images of the root's own namespaces (utsns-ID.img, ipcns-*-ID.img,
 * timens-ID.img), and timens-0.img when its time namespace is stasis's.
 */
int ns_dump_images(struct dump_ctx *ctx);

/*
 * After pstree and ids are read: which namespaces the root gets anew,
 * refusing (said) kinds not restored yet and tasks outside the root's.
 */
int ns_restore_read(struct rst_ctx *ctx);
/*
 * In the controller, before the pool is made: move into a new namespace of
 * each kind the root had (but pid) and put each one's state back there, so
 * that the pool's files are opened on the tree's mounts and its sockets
 * born in the tree's net namespace.  The root, forked next, inherits them.
 */
int ns_restore_enter(struct rst_ctx *ctx);
/* Once the pool is made, still inside: each kind's restore_late. */
int ns_restore_settle(struct rst_ctx *ctx);
/* The controller back in its own namespaces (after the root's fork, or on failure). */
int ns_restore_leave(struct rst_ctx *ctx);
/*
 * While the pool is made: the namespace file of kind @name (@cflag) and
 * images id @id, the tree's new one or stasis's own, opened with @flags:
 * an fd or -errno.
 */
int ns_restore_open(const char *name, unsigned long cflag, uint32_t id, int flags);
/* While the tree's namespaces are made: stasis's own one of kind @cflag, a new fd, or -errno. */
int ns_own_open(unsigned long cflag);
/*
 * Once the tree exists: the controller into its mount namespace (the
 * root's), for the files it opens for the tree then (/proc/PID paths name
 * the tree's proc there), and back.  No-ops for a tree without one of its
 * own.  0 or -errno.
 */
int ns_tree_enter(struct rst_ctx *ctx);
int ns_tree_leave(void);
/*
 * In a child of the controller about to run a program of the host (nft,
 * iptables): back in stasis's own mount namespace, where the programs
 * are, if the controller is in the tree's.  0 or -errno.
 */
int ns_host_enter(void);
/* Does the root get a namespace of its own of kind @cflag (CLONE_NEW*)? */
bool ns_restore_has(unsigned long cflag);
/* CLONE_NEW* flags task @t is created with (a pid namespace is made by the clone). */
unsigned long ns_clone_flags(const struct rst_ctx *ctx, const struct rst_task *t);
/*
 * In task @t, first of all: the restore_root hooks of the root's
 * namespaces (the root), the restore_task ones (every task).
 */
int ns_restore_task(struct rst_ctx *ctx, struct rst_task *t);

/*
 * user.c.  Dump, before any task is dumped: the root's uid and gid maps
 * when it has a user namespace of its own (@own).
 */
int userns_dump_collect(pid_t root, bool own);
/*
 * Ids as stasis sees them (/proc) into ids as the tree does, for the
 * images; (uint32_t)-1 for one not mapped.  Identity without a user namespace.
 */
uint32_t userns_dump_uid(uint32_t uid);
uint32_t userns_dump_gid(uint32_t gid);
/*
 * A mount's options with their uid= and gid= as the tree sees them (dump)
 * or as stasis does (@to_host, restore); malloc'ed, NULL without memory.
 */
char *userns_mount_opts(const char *opts, bool to_host);
/*
 * In a child of stasis's: into the tree's user namespace as its root, when
 * it has one (tar, which must see the ids as the tree does).  0 or -errno.
 */
int userns_enter_as_root(void);
/* Restore: an image's id into the one the controller acts with, from outside. */
uint32_t userns_host_uid(uint32_t uid);
uint32_t userns_host_gid(uint32_t gid);
/*
 * In the controller: a new user namespace (its maps written) that owns new
 * namespaces of @mask, all joined by the controller but the user one,
 * kept at service fd @slot.
 */
int userns_restore_make(struct rst_ctx *ctx, unsigned long mask, int slot);
void userns_restore_close(void);
/*
 * The controller into a new mount namespace, a copy of the one it is in,
 * owned by the tree's user namespace when it has one (made by a child
 * there), else by stasis's own.  0 or -errno.
 */
int userns_unshare_mnt(void);
/*
 * The controller acting (@on) as the root of that user namespace or back:
 * its effective uid and gid those of uid and gid 0 there, its capabilities
 * and file system ids kept.
 */
int userns_act_as_root(bool on);
/* The controller's file system ids made @uid:@gid, capabilities kept; (uid_t)-1: root's again. */
int userns_fs_as(uid_t uid, gid_t gid);
/*
 * clone3(@ca) of the root from inside that user namespace, the
 * controller's child all the same: as clone3, 0 in the root, its pid in
 * the controller, or -1 with errno set.
 */
struct clone_args;
long userns_clone_root(struct clone_args *ca);

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

/*
 * mnt.c, restore: the root (O_PATH, not the caller's to close) of the
 * mount namespace that mount @mnt_id is in, when it is not the root
 * task's; -1 otherwise (then a path is the controller's).
 */
int mntns_root_of(uint32_t mnt_id);
/*
 * The controller into the namespace of mount @mnt_id for a while (a unix
 * socket bound there): 1 when it moved, 0 when it is the root task's, or
 * -errno.  mntns_back() returns it to the root task's (cwd: its root).
 */
int mntns_enter_of(uint32_t mnt_id);
/* As mntns_root_of(), the root task's namespace too (its root, for paths once the controller left). */
int mntns_tree_root_of(uint32_t mnt_id);
/* The restored mount @mnt_id, reached by its mount point (a directory open O_RDONLY), or -1. */
int mntns_open_mount(uint32_t mnt_id);
int mntns_back(void);
/*
 * A socket file at absolute @path on mount @mnt_id, the root mount of its
 * namespace (the controller in it), whose directory another mount covers
 * now: a detached copy of that mount alone, where @path reaches it; -1
 * when the path reaches it as it is (or it is no root mount).
 */
int mntns_flat_if_covered(uint32_t mnt_id, const char *path);

#endif
