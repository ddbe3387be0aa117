/*
 * sockdiag.h - one sock_diag dump request, its replies read to the end:
 * what the socket kinds (inet, netlink, packet) ask the kernel about
 * the sockets of a family.
 */
#ifndef STASIS_FILES_SOCKDIAG_H
#define STASIS_FILES_SOCKDIAG_H

#include <stddef.h>
#include <linux/netlink.h>

/* One reply: 0 to go on, > 0 when it was the one sought, -errno to stop. */
typedef int (*sockdiag_fn)(struct nlmsghdr *h, void *arg);

/*
 * Send @req (@len bytes: a struct nlmsghdr of SOCK_DIAG_BY_FAMILY with
 * NLM_F_DUMP, then the family's request) on a NETLINK_SOCK_DIAG socket
 * of our own and give each reply to @fn until the dump ends.  Once @fn
 * answers > 0 the rest is read and not given to it.  @fn's answer (0 if
 * it never answered otherwise), or -errno: @fn's, an error reply's, or
 * a failed send or read.  Nothing is logged.
 */
int sockdiag_dump(const void *req, size_t len, sockdiag_fn fn, void *arg);

#endif
