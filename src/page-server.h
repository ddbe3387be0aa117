/*
 * page-server.h - the actions that move pages between machines:
 * `stasis page-server` (page-server.c).
 */
#ifndef STASIS_PAGE_SERVER_H
#define STASIS_PAGE_SERVER_H

#include "opts.h"

/* Serve one dumper: write the pages it sends into -D; 0 once it closed properly. */
int cr_page_server(const struct opts *o);

/*
 * For the servers (page-server, lazy-pages): -d goes on in a child of its
 * own session, the parent writes --pidfile and gets 1; the child gets 0.
 */
int server_daemonize(const struct opts *o);
/* --status-fd: one zero byte once the server takes connections. */
int server_status_ready(const struct opts *o);

/*
 * page-server --lazy-pages (ps-lazy.c): answer a lazy-pages daemon's
 * PS_IOV_GET from the images in @dirfd until it closes @sk.
 */
int ps_lazy_serve(int sk, int dirfd);

#endif
