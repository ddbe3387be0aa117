/*
 * unix.h - the two halves of AF_UNIX sockets: unix.c dumps them and holds
 * their kind, unix-restore.c makes them again.
 */
#ifndef STASIS_FILES_UNIX_H
#define STASIS_FILES_UNIX_H

#include "rst-ctx.h"

#define SCM_MAX_FDS	253	/* the kernel's SCM_MAX_FD: files in one message */

/* uflags of an entry: a named datagram socket outside the tree (--ext-unix-sk). */
#define USK_EXTERN	1

int unix_restore_open(struct rst_ctx *ctx, struct rst_file *f);
/* Once every socket exists: the files of removed sockets go again. */
int unix_restore_prepared(struct rst_ctx *ctx);
void unix_restore_cleanup(struct rst_ctx *ctx);

#endif
