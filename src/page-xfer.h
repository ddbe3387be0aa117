/*
 * page-xfer.h - where a dump's pages go: the transport between the page
 * writer (mem.c, shmem.c) and its destination (page-xfer.c).
 *
 * A destination takes one pagemap at a time (a task's, or a shmem
 * object's), as runs of pages each with its pagemap flags and, when
 * PE_PRESENT, its bytes.  Two transports exist, as in CRIU: local images
 * (pagemap-ID.img and pages-N.img in the images directory) and a page
 * server (CRIU's protocol over TCP: the server writes both images in its
 * own directory).  Which pages are written and with what flags is the
 * writer's business; the transport only carries them.
 */
#ifndef STASIS_PAGE_XFER_H
#define STASIS_PAGE_XFER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "image.h"

/* Which pagemap: CRIU's PS_TYPE_* numbers, as they go over the wire. */
enum page_xfer_type {
	PAGE_XFER_PID = 1,	/* pagemap-PID.img */
	PAGE_XFER_SHMEM = 2,	/* pagemap-shmem-SHMID.img */
};

/* One run of pages: a pagemap entry, and its bytes when PE_PRESENT. */
struct page_run {
	uint64_t vaddr;		/* an address, or an offset in a shmem object */
	uint64_t nr_pages;
	uint32_t flags;		/* PE_* */
	uint32_t group;		/* runs of different groups never share an entry */
	const void *data;	/* nr_pages pages, or NULL without PE_PRESENT */
};

/* Where pages go, for the whole dump. */
struct lazy_store;
struct page_xfer_dest {
	int dirfd;			/* local: the images directory */
	uint32_t *last_pages_id;	/* local: pages-N.img numbering */
	int sk;				/* a page server's socket, or -1: local */
	struct lazy_store *lazy;	/* dump --lazy-pages: PE_LAZY bytes kept here */
};

struct page_xfer;

struct page_xfer_ops {
	/* Start the pagemap of @type and @id. */
	int (*open)(struct page_xfer *x, const struct page_xfer_dest *d, int type, uint64_t id);
	/* @n runs, in address order, after those given before. */
	int (*write)(struct page_xfer *x, const struct page_run *r, unsigned int n);
	/* The pagemap is complete: flush and close it; the first error. */
	int (*close)(struct page_xfer *x);
};

struct page_xfer {
	const struct page_xfer_ops *ops;
	bool has_parent;		/* the destination has parent images */
	uint64_t bytes;			/* page bytes sent */
	/* local */
	struct img *pm;
	int pages_fd;
	uint32_t pages_id;
	struct page_run pe;		/* the entry being grown (data unused) */
	struct lazy_store *lazy;	/* a task's pagemap under dump --lazy-pages */
	uint64_t id;
	/* page server */
	int sk;
	uint64_t dst_id;
	bool answer_due;		/* the open's answer is still to be read */
};

/* Open @x for the pagemap @type/@id at @d: the local or the page server transport. */
int page_xfer_open(struct page_xfer *x, const struct page_xfer_dest *d, int type, uint64_t id);

/*
 * The page server client: connect to --address/--port (a TCP socket,
 * corked; under --tls, a TLS session on it, which a @dumper makes sure the
 * server accepted), and at the end tell the server the dump is over and
 * wait for its answer that everything is written.
 */
struct opts;
int page_xfer_connect(const struct opts *o, bool dumper);
int page_xfer_disconnect(const struct opts *o, int sk);
/* 0 when @fd is a stream socket (--ps-socket), else an error said. */
int ps_socket_check(int fd);

#endif
