/*
 * files/api.h - what the rest of stasis asks of files/: every fd of a
 * task, its cwd and root, the files its memory maps, at dump and at
 * restore.  The fd kinds themselves are behind files/kinds.c's table.
 */
#ifndef STASIS_FILES_API_H
#define STASIS_FILES_API_H

#include <stdbool.h>
#include <stdint.h>

#include "dump-ctx.h"
#include "rst-ctx.h"

struct rst_args;
struct rst_alloc;

/* files/files.c: every fd of the task, cwd and root; shared objects once. */
int files_dump_task(struct dump_ctx *ctx, struct dump_task *t);
/*
 * A regular file seen through @link (a /proc/PID/... symlink, such as exe,
 * cwd or map_files/A-B) as a files.img entry; one entry per file, so all
 * users share the id.  @flags are the open flags to record.
 */
int files_dump_path(struct dump_ctx *ctx, struct dump_task *t, const char *link,
		    int flags, uint32_t *id);
/*
 * The socket of inode @ino that task @t mapped (a packet socket's ring),
 * dumped through the task's fd that holds it, as its fd table will be:
 * its files.img id.  -ENOTSUP (said) when no fd holds it or it is no
 * packet socket.
 */
int files_dump_socket_map(struct dump_ctx *ctx, struct dump_task *t, uint64_t ino, uint32_t *id);
/* After every task: write what is kept for the end (pipe data, ...). */
int files_dump_finish(struct dump_ctx *ctx);
void files_dump_cleanup(struct dump_ctx *ctx);
/*
 * A failed dump, before the tree resumes: put back what the dump took or
 * changed (names given to unlinked files, bytes read from terminals).
 */
void files_dump_undo(struct dump_ctx *ctx);
/*
 * Before any task is dumped: lock the tree's own net namespace whole, as
 * CRIU does (files/netlock.h); undone with the connections' lock.
 */
int files_dump_netns_lock(struct dump_ctx *ctx);

/*
 * files/files.c, in the controller: read files.img, and the fdinfo and
 * fs images of every task into t->fds and t->fs.
 */
int files_restore_read(struct rst_ctx *ctx);

/*
 * Then, once the pool's place is known, open in it every object a task
 * needs at its fds, cwd and root.
 */
int files_restore_prepare(struct rst_ctx *ctx);

/*
 * The pool fd of files.img entry @id, opening it on first use; -errno if
 * the object cannot be had (the error says which file and why).
 */
int files_restore_open(struct rst_ctx *ctx, uint32_t id);

/*
 * files/files.c, in the restored task: put every fd in place (number,
 * close-on-exec flag).  The pool stays open: the memory restore still
 * maps from it.
 */
int files_restore_task(struct rst_ctx *ctx, struct rst_task *t);
/* files/locks.c: room for, and the list of, @t's POSIX locks in the restorer's args. */
size_t locks_restore_size(struct rst_ctx *ctx, const struct rst_task *t);
int locks_restore_args(struct rst_ctx *ctx, const struct rst_task *t, struct rst_args *a,
		       struct rst_alloc *al);
/*
 * In the controller, once every task is ready and just before the tree
 * runs: start what counts time (timerfds), so that the restore itself
 * does not use up what was left of it.
 */
int files_restore_arm(struct rst_ctx *ctx);

/*
 * files/procpath.c, in the controller once every task exists: open the
 * /proc files of the tree's tasks and send them to the tasks that hold them.
 */
int procpath_restore_send(struct rst_ctx *ctx);
/* files/linkremap.c: once the tree runs, the names link remaps were opened by go. */
void linkremap_restore_finish(struct rst_ctx *ctx);
/* Once every task is through its files, or on failure: the helpers of dead pids go. */
void procpath_helpers_stop(struct rst_ctx *ctx);

/*
 * files/fdt.c: fd tables shared by several tasks.  prepare (in the
 * controller) finds each table's owner; a task that shares its parent's
 * table is forked with fdt_clone_flags() and, in files_restore_task(),
 * installs nothing: it joins (fdt_restore_join) and waits for the owner,
 * which gathers its table's tasks first and says when it is done.
 */
int fdt_restore_prepare(struct rst_ctx *ctx);
uint64_t fdt_clone_flags(const struct rst_task *t);
bool fdt_restore_owns(const struct rst_task *t);
int fdt_restore_join(struct rst_ctx *ctx, struct rst_task *t);
void fdt_restore_gather(struct rst_ctx *ctx, struct rst_task *t);
void fdt_restore_done(struct rst_ctx *ctx, struct rst_task *t);
void fdt_restore_cleanup(struct rst_ctx *ctx);

/*
 * files/fs.c, in the restored task, as the last step before the
 * restorer: its root (chroot), cwd and umask.
 */
int fs_restore_task(struct rst_ctx *ctx, struct rst_task *t);

void files_restore_cleanup(struct rst_ctx *ctx);

#endif
