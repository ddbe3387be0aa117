/*
 * ns.h - namespaces of the tasks being dumped.
 */
#ifndef STASIS_NS_H
#define STASIS_NS_H

#include <sys/types.h>

/*
 * 0 when task @pid is in every namespace stasis itself is in; else logs
 * "unsupported: pid P is in another NAME namespace" and gives -ENOTSUP.
 */
int ns_refuse_foreign(pid_t pid);

#endif
