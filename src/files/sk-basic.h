/*
 * sk-basic.h - the SOL_SOCKET options of a socket that netlink.c and
 * packet.c keep in its sk_opts_entry: buffers, timeouts, priority, low
 * water mark, mark, SO_PASSCRED, a bound device and a classic socket
 * filter.  Small on purpose: a socket-options file shared by every
 * family is to replace it.
 */
#ifndef STASIS_FILES_SK_BASIC_H
#define STASIS_FILES_SK_BASIC_H

#include "sk-opts.pb-c.h"

/*
 * Read the options of @fd (our copy of the task's socket) into @o; what
 * it allocates (the filter, the device name) is freed by sk_basic_free().
 * 0 or -errno (logged); an option the socket does not have is left out.
 */
int sk_basic_dump(int fd, SkOptsEntry *o, const char *what);
void sk_basic_free(SkOptsEntry *o);
/* Set them on the new socket @fd; 0 or -errno (logged). */
int sk_basic_restore(int fd, const SkOptsEntry *o, const char *what);

#endif
