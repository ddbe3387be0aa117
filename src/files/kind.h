/*
 * kind.h - the contract of a kind of open file.
 *
 * Each kind (regular file, pipe, eventfd, epoll, ...) lives in one file
 * of src/files/ and describes itself with one const struct fd_kind; the
 * table in kinds.c lists them all, and the fd walks of fd-dump.c and
 * fd-restore.c only ever reach a kind through it.  Adding a kind is a
 * new file and a line in that table (docs/adding-a-kind.md).
 *
 * Every hook but match, dump, part and open may be NULL.
 */
#ifndef STASIS_FILES_KIND_H
#define STASIS_FILES_KIND_H

#include "files/files.h"

struct fd_kind {
	const char *name;
	int type;			/* its FD_TYPES__* in files.img and fdinfo */

	/* --- dump --- */
	/*
	 * Is @p of this kind?  1 yes, 0 no, -errno.  Kinds are asked in the
	 * table's order; the first to say yes dumps it.
	 */
	int (*match)(struct dump_ctx *ctx, struct file_parms *p);
	/* Write @p's files.img entry with id @id: once per open file description. */
	int (*dump)(struct dump_ctx *ctx, struct file_parms *p, uint32_t id);
	/* Once every task is dumped: checks across them, images closed. */
	int (*dump_finish)(struct dump_ctx *ctx);
	/*
	 * The dump failed, and the tree is about to resume: give back what
	 * the kind took from it (bytes read out of a terminal's queues).
	 */
	void (*dump_undo)(struct dump_ctx *ctx);
	/* Whatever the dump ends like: free the kind's state. */
	void (*dump_cleanup)(struct dump_ctx *ctx);

	/* --- restore --- */
	/* The kind's own part of files.img entry @fe; NULL when it is missing. */
	const void *(*part)(const FileEntry *fe);
	/*
	 * The name --inherit-fd gives entry @fe by (CRIU's keys: "pipe:[ID]",
	 * "tty[RDEV:DEV]", "socket:[INO]"), into @buf: 0, or -ENOENT when
	 * the entry has none.  An entry whose key was given is not opened:
	 * the fd given stands for it.
	 */
	int (*inherit_key)(struct rst_ctx *ctx, const FileEntry *fe, char *buf, size_t size);
	/* Who gets the file's signals; NULL for nobody. */
	const FownEntry *(*fown)(struct rst_ctx *ctx, const FileEntry *fe);
	/*
	 * Optional, for a socket: the id of the net namespace it was made in
	 * (its image's ns_id; 0 for the root's).  ->open runs in that one.
	 */
	uint32_t (*net_ns)(const FileEntry *fe);
	/* In the controller: open entry @f once, as a pool fd (rst_pool_add). */
	int (*open)(struct rst_ctx *ctx, struct rst_file *f);
	/*
	 * In the controller once every task exists, for an entry whose open
	 * deferred it (procpath_defer): open it now; the fd (not in the pool:
	 * procpath.c sends it to each task that holds it) or -errno.
	 */
	int (*open_late)(struct rst_ctx *ctx, struct rst_file *f);
	/* In the controller, once every entry is open. */
	int (*prepared)(struct rst_ctx *ctx);
	/* In task @t, once every fd of its table is in place. */
	int (*installed)(struct rst_ctx *ctx, struct rst_task *t);
	/* In the controller, for each opened entry @f, just before the tree runs. */
	int (*arm)(struct rst_ctx *ctx, struct rst_file *f);
	/* Whatever the restore ends like: free the kind's state. */
	void (*restore_cleanup)(struct rst_ctx *ctx);
};

/* kinds.c */
extern const struct fd_kind *const fd_kinds[];
extern const size_t nr_fd_kinds;
/* The kind that writes FD_TYPES__ @type, or NULL. */
const struct fd_kind *fd_kind_by_type(int type);

/* Every kind, as each file defines it. */
extern const struct fd_kind reg_fd_kind, memfd_fd_kind, tty_fd_kind, pipe_fd_kind, fifo_fd_kind,
	eventfd_fd_kind, epoll_fd_kind, inotify_fd_kind, signalfd_fd_kind, timerfd_fd_kind,
	nsfile_fd_kind, pidfd_fd_kind, fanotify_fd_kind, unix_fd_kind,
	netlink_fd_kind, packet_fd_kind, inet_fd_kind, tun_fd_kind;

#endif
