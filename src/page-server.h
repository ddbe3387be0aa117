/*
 * page-server.h - the actions that move pages between machines:
 * `stasis page-server` (page-server.c).
 */
#ifndef STASIS_PAGE_SERVER_H
#define STASIS_PAGE_SERVER_H

#include <stdint.h>
#include <sys/types.h>

#include "opts.h"

/* Serve one dumper: write the pages it sends into -D; 0 once it closed properly. */
int cr_page_server(const struct opts *o);

/* What a started page server tells whoever asked for it over RPC. */
struct ps_started {
	int32_t pid;
	int32_t port;
};

/*
 * The RPC's PAGE_SERVER requests: cr_page_server() writes a struct
 * ps_started into @fd (then closes it) from the process that serves, once
 * it listens; -1: nobody to tell.
 */
void page_server_report_to(int fd);

/*
 * For the servers (page-server, lazy-pages): -d goes on in a child of its
 * own session, the parent writes --pidfile and gets 1; the child gets 0.
 */
int server_daemonize(const struct opts *o);
/*
 * The server takes connections: the status-ready hook (--action-script),
 * then one zero byte to --status-fd.
 */
int server_status_ready(const struct opts *o);
/* Only the byte to --status-fd (a dump's tree dead, its pids free). */
int status_fd_ready(const struct opts *o);

/*
 * page-server --lazy-pages (ps-lazy.c): answer a lazy-pages daemon's
 * PS_IOV_GET from the images in @dirfd until it closes @sk.
 */
int ps_lazy_serve(int sk, int dirfd);

/*
 * dump --lazy-pages: the lazy pages the dump keeps (a memfd) instead of
 * writing them, per pid, then served the same way (ps-lazy.c).
 */
struct lazy_store;
int lazy_store_open(struct lazy_store **s);
int lazy_store_add(struct lazy_store *s, pid_t pid, uint64_t vaddr, const void *data, uint64_t len);
uint64_t lazy_store_pages(const struct lazy_store *s);
int lazy_store_serve(struct lazy_store *s, int sk);
void lazy_store_close(struct lazy_store *s);

/* dump --lazy-pages: the store, and once the dump is done (@ret) its service. */
int lazy_dump_open(const struct opts *o, struct lazy_store **s);
int lazy_dump_serve(const struct opts *o, struct lazy_store *s, int ret);

/* The listening socket on --address (any) and --port (0: any, printed). */
int server_listen(const struct opts *o);

#endif
