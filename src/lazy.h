/*
 * lazy.h - restore --lazy-pages and the lazy-pages daemon, CRIU's protocol.
 *
 * The daemon (lazy-pages.c) listens on LAZY_SOCK_NAME in the work
 * directory.  The restore (lazy-restore.c) connects once, before any task
 * exists; over that one stream every task of pstree.img is announced in
 * turn: its pid as an int, then its userfaultfd in an SCM_RIGHTS message
 * carrying one byte (a zombie: minus its pid, and no fd).  When the tree
 * is restored, the restore sends LAZY_RESTORE_FINISHED (a uint32) and
 * closes; the daemon then pushes what no fault asked for, and exits when
 * every lazy page of every task is in place.
 */
#ifndef STASIS_LAZY_H
#define STASIS_LAZY_H

#include "opts.h"

#define LAZY_SOCK_NAME		"lazy-pages.socket"
#define LAZY_RESTORE_FINISHED	0x52535446u	/* "RSTF" */

/* What the restored task's userfaultfd reports besides faults (CRIU's set). */
#define LAZY_UFFD_EVENTS	(UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMAP | \
				 UFFD_FEATURE_EVENT_UNMAP | UFFD_FEATURE_EVENT_REMOVE)

/*
 * The socket's address for the work directory @dir: the path itself, or
 * through /proc/self/fd when it is too long for sun_path (@dirfd kept open
 * by the caller then).  0 or -errno.
 */
struct sockaddr_un;
int lazy_sock_addr(const char *dir, struct sockaddr_un *sun, int *dirfd);

/* stasis lazy-pages: serve the restore's faults until every page is in. */
int cr_lazy_pages(const struct opts *o);

#endif
