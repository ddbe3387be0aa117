/*
 * page-server.h - the actions that move pages between machines:
 * `stasis page-server` (page-server.c).
 */
#ifndef STASIS_PAGE_SERVER_H
#define STASIS_PAGE_SERVER_H

#include "opts.h"

/* Serve one dumper: write the pages it sends into -D; 0 once it closed properly. */
int cr_page_server(const struct opts *o);

#endif
