/*
 * notify.h - CRIU's hooks: at fixed points of dump and restore, the
 * --action-script programs run and, over RPC with notify_scripts, the
 * client is told and answers before stasis goes on.
 */
#ifndef STASIS_NOTIFY_H
#define STASIS_NOTIFY_H

#include <sys/types.h>

#include "opts.h"

/* CRIU's action names, in CRIU's numbering (action-scripts.h). */
enum notify_act {
	NOTIFY_PRE_STREAM,
	NOTIFY_PRE_DUMP,
	NOTIFY_POST_DUMP,
	NOTIFY_PRE_RESTORE,
	NOTIFY_POST_RESTORE,
	NOTIFY_NET_LOCK,
	NOTIFY_NET_UNLOCK,
	NOTIFY_SETUP_NS,
	NOTIFY_POST_SETUP_NS,
	NOTIFY_POST_RESUME,
	NOTIFY_PRE_RESUME,
	NOTIFY_ORPHAN_PTS_MASTER,
	NOTIFY_STATUS_READY,
	NOTIFY_QUERY_EXT_FILES,
	NOTIFY_NR,
};

const char *notify_name(enum notify_act act);

/*
 * Run the hook @act: the RPC client first (when it asked), then every
 * --action-script with CRTOOLS_SCRIPT_ACTION, CRTOOLS_IMAGE_DIR and, once
 * known, CRTOOLS_INIT_PID (@pid, 0 if none yet).  0, or -errno when the
 * client or a script said no: the caller fails as at any other error.
 */
int notify(const struct opts *o, enum notify_act act, pid_t pid);

/*
 * query-ext-files, with the tree frozen, to the RPC client only: the
 * --external keys it answers with are added to @o.
 */
int notify_query_ext_files(struct opts *o);

/*
 * orphan-pts-master: hand @fd to the RPC client.  Returns 0 once the
 * client took it, -ENOTCONN when there is no client to take it.
 */
int notify_fd(const struct opts *o, enum notify_act act, int fd);

#endif
