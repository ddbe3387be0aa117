/*
 * iov.h - what is left of an iovec array after a short read or write.
 */
#ifndef STASIS_IOV_H
#define STASIS_IOV_H

#include <stddef.h>
#include <sys/uio.h>

/*
 * Step *@iov / *@n past @done bytes: whole entries are dropped, a partly
 * done one is cut at its front.  The array itself is changed in place.
 */
static inline void iov_advance(struct iovec **iov, int *n, size_t done)
{
	while (*n && done >= (*iov)->iov_len) {
		done -= (*iov)->iov_len;
		(*iov)++;
		(*n)--;
	}
	if (*n) {
		(*iov)->iov_base = (char *)(*iov)->iov_base + done;
		(*iov)->iov_len -= done;
	}
}

#endif
