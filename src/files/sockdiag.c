/*
 * sockdiag.c - a sock_diag dump request and its replies (sockdiag.h).
 */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/sock_diag.h>

#include "files/sockdiag.h"
#include "ns/ns.h"

/* Read the replies on @nl until the dump's end. */
static int sockdiag_read(int nl, sockdiag_fn fn, void *arg)
{
	char buf[32768] __attribute__((aligned(8)));
	int found = 0;
	ssize_t n;

	while ((n = recv(nl, buf, sizeof(buf), 0)) > 0) {
		int left = n;

		for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, (unsigned)left);
		     h = NLMSG_NEXT(h, left)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return found;
			if (h->nlmsg_type == NLMSG_ERROR)
				return ((struct nlmsgerr *)NLMSG_DATA(h))->error ?: -EIO;
			if (!found)
				found = fn(h, arg);
			if (found < 0)
				return found;
		}
	}
	return n < 0 ? -errno : -EIO;
}

int sockdiag_dump(const void *req, size_t len, sockdiag_fn fn, void *arg)
{
	int nl, ret;

	nl = ns_net_socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl < 0)
		return -errno;
	ret = send(nl, req, len, 0) == (ssize_t)len ? sockdiag_read(nl, fn, arg) : -errno;
	close(nl);
	return ret;
}
