/*
 * sockopts.h - the SOL_SOCKET options every kind of socket keeps in its
 * SkOptsEntry (sk-opts.proto), read and set again in one place for unix
 * and inet sockets alike.
 */
#ifndef STASIS_FILES_SOCKOPTS_H
#define STASIS_FILES_SOCKOPTS_H

#include "sk-opts.pb-c.h"

#ifndef SO_BUF_LOCK
#define SO_BUF_LOCK	72	/* Linux 5.14 */
#endif

/*
 * Read the options of socket @fd (of @family) into @o, as CRIU saves
 * them; the attached classic BPF filter and the bound device are
 * allocated: sockopts_free() gives them back.  0 or -errno (logged).
 */
int sockopts_dump(int fd, int family, SkOptsEntry *o);
void sockopts_free(SkOptsEntry *o);

/*
 * Set them again on @fd: everything but SO_REUSEADDR and SO_REUSEPORT,
 * which inet sockets hold on until every socket is bound (they go
 * with sockopts_restore_reuse()).  0 or -errno (logged).
 */
int sockopts_restore(int fd, const SkOptsEntry *o);
int sockopts_restore_reuse(int fd, const SkOptsEntry *o);

#endif
