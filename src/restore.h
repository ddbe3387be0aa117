/*
 * restore.h - the restore pipeline's own pieces (restore.c and
 * restore-finish.c).  Objects include rst-ctx.h instead.
 */
#ifndef STASIS_RESTORE_H
#define STASIS_RESTORE_H

#include "rst-ctx.h"

/*
 * restore-finish.c, in the controller.  Once every task is ready, and
 * before the stage that lets them run: seize every thread of every live
 * task.  Then, once they run: catch each thread at the exit of its last
 * rt_sigreturn, unmap the task's restorer region, stop it if it was
 * stopped, and detach.  A failure leaves the threads traced and stopped;
 * the caller kills the tree, which frees what is left.
 */
int finish_seize(struct rst_ctx *ctx);
int finish_release(struct rst_ctx *ctx);
void finish_free(struct rst_ctx *ctx);


#endif
