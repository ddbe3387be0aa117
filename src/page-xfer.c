/*
 * page-xfer.c - the two transports of a dump's pages (page-xfer.h):
 * local images, and a page server reached over TCP.
 *
 * Locally a pagemap is pagemap-ID.img (a PagemapHead naming pages-N.img,
 * then one entry per run) and the bytes go to pages-N.img with writev,
 * straight from the writer's buffer.  Runs that touch are joined into one
 * entry when they share their flags and group.
 *
 * To a page server each run is one ADD_F header with its flags, followed
 * by its bytes, all in one writev: the server writes the entries and the
 * bytes into its own images as they come (CRIU's page server joins
 * nothing, so neither does the client).  The socket is corked for the
 * whole dump, and pushed only where an answer is awaited.  Under --tls
 * the same bytes go through the connection's TLS session (tls.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "iov.h"
#include "log.h"
#include "mem.h"
#include "page-server.h"
#include "page-xfer.h"
#include "pagemap.pb-c.h"
#include "ps-proto.h"
#include "tls.h"

/* Runs sent per writev to a page server: a header and the bytes each. */
#define PS_RUNS_PER_CALL	(IOV_MAX / 2)

/* Write every byte of @iov[@n] to @fd; 0 or -errno. */
static int writev_full(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t r = writev(fd, iov, n > IOV_MAX ? IOV_MAX : n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		iov_advance(&iov, &n, r);
	}
	return 0;
}

static void sk_set(int sk, int opt, int on)
{
	if (setsockopt(sk, IPPROTO_TCP, opt, &on, sizeof(on)))
		pr_warn("page server socket: setsockopt(%d, %d) failed: %s", opt, on,
			strerror(errno));
}

/* --- local images --- */

static int loc_flush(struct page_xfer *x)
{
	PagemapEntry pe;
	int ret;

	if (!x->pe.nr_pages)
		return 0;
	pagemap_entry__init(&pe);
	pe.vaddr = x->pe.vaddr;
	pe.compat_nr_pages = 0;		/* CRIU 4 writes nr_pages, and 0 here */
	pe.has_nr_pages = true;
	pe.nr_pages = x->pe.nr_pages;
	pe.has_flags = true;
	pe.flags = x->pe.flags;
	ret = img_write_msg(x->pm, &pe.base);
	x->pe.nr_pages = 0;
	return ret;
}

static int loc_open(struct page_xfer *x, const struct page_xfer_dest *d, int type, uint64_t id)
{
	PagemapHead head;
	char name[64];
	int ret;

	pagemap_head__init(&head);
	x->lazy = type == PAGE_XFER_PID ? d->lazy : NULL;
	x->id = id;
	head.pages_id = x->pages_id = ++*d->last_pages_id;
	ret = img_open(&x->pm, d->dirfd, type == PAGE_XFER_PID ? IMG_PAGEMAP : IMG_SHMEM_PAGEMAP,
		       id, O_WRONLY);
	if (!ret)
		ret = img_write_msg(x->pm, &head.base);
	if (ret)
		return ret;
	/* pages-N.img has no header: written straight, past the image layer's buffer. */
	snprintf(name, sizeof(name), "pages-%u.img", x->pages_id);
	x->pages_fd = img_openat(d->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC);
	if (x->pages_fd < 0) {
		if (x->pages_fd != -EINVAL && x->pages_fd != -ELOOP)
			pr_err("%s: cannot open: %s", name, strerror(-x->pages_fd));
		return x->pages_fd;
	}
	return 0;
}

static int loc_write(struct page_xfer *x, const struct page_run *r, unsigned int n)
{
	struct iovec iov[64];
	int nr_iov = 0, ret = 0;

	for (unsigned int i = 0; !ret && i < n; i++) {
		struct page_run lazy = r[i];
		const struct page_run *p = &r[i];
		size_t len = p->nr_pages * PAGE_SZ;

		/* dump --lazy-pages: the bytes stay with the dump, the entry says PE_LAZY. */
		if (x->lazy && (p->flags & PE_LAZY) && (p->flags & PE_PRESENT)) {
			ret = lazy_store_add(x->lazy, (pid_t)x->id, p->vaddr, p->data, len);
			if (ret)
				break;
			lazy.flags &= ~PE_PRESENT;
			p = &lazy;
		}

		if (x->pe.nr_pages && x->pe.group == p->group && x->pe.flags == p->flags &&
		    x->pe.vaddr + x->pe.nr_pages * PAGE_SZ == p->vaddr) {
			x->pe.nr_pages += p->nr_pages;
		} else {
			ret = loc_flush(x);
			x->pe = *p;
		}
		if (!(p->flags & PE_PRESENT) || !len)
			continue;
		if (nr_iov && (char *)iov[nr_iov - 1].iov_base + iov[nr_iov - 1].iov_len ==
			      (const char *)p->data) {
			iov[nr_iov - 1].iov_len += len;
			continue;
		}
		if (nr_iov == (int)(sizeof(iov) / sizeof(iov[0]))) {
			ret = writev_full(x->pages_fd, iov, nr_iov);
			nr_iov = 0;
		}
		iov[nr_iov++] = (struct iovec){ (void *)p->data, len };
		x->bytes += len;
	}
	if (!ret && nr_iov)
		ret = writev_full(x->pages_fd, iov, nr_iov);
	return ret;
}

static int loc_close(struct page_xfer *x)
{
	int ret = 0;

	if (x->pm)
		ret = loc_flush(x);
	if (x->pm)
		ret = img_close(x->pm) ? : ret;
	x->pm = NULL;
	if (x->pages_fd >= 0 && close(x->pages_fd) && !ret) {
		pr_perror("pages-%u.img: close failed", x->pages_id);
		ret = -errno;
	}
	x->pages_fd = -1;
	return ret;
}

static const struct page_xfer_ops local_ops = {
	.open = loc_open,
	.write = loc_write,
	.close = loc_close,
};

/* --- page server --- */

/*
 * The server answers an open (has it parent images?) once it has the
 * pagemap's files open.  Nothing here needs the answer before the end:
 * it is read at the close, and the server opens its files while the
 * pages are found and read here, not while the frozen tree waits.
 */
static int ps_open(struct page_xfer *x, const struct page_xfer_dest *d, int type, uint64_t id)
{
	struct ps_iov pi = { .cmd = PS_IOV_OPEN2, .dst_id = ps_dst_id(type, id) };
	struct iovec iov = { &pi, sizeof(pi) };
	int ret;

	x->sk = d->sk;
	x->dst_id = pi.dst_id;
	ret = ps_sk_writev(x->sk, &iov, 1);
	/* Pushed at once, out of the cork: the server starts opening now. */
	sk_set(x->sk, TCP_NODELAY, 1);
	if (ret) {
		pr_err("page server: cannot open pagemap %d/%llu: %s", type,
		       (unsigned long long)id, strerror(-ret));
		return ret;
	}
	x->answer_due = true;
	return 0;
}

static int ps_write(struct page_xfer *x, const struct page_run *r, unsigned int n)
{
	struct ps_iov hdr[PS_RUNS_PER_CALL];
	struct iovec iov[PS_RUNS_PER_CALL * 2];
	int ret = 0;

	while (!ret && n) {
		unsigned int k = n < PS_RUNS_PER_CALL ? n : PS_RUNS_PER_CALL;
		int nr_iov = 0;

		for (unsigned int i = 0; i < k; i++) {
			hdr[i] = (struct ps_iov){
				.cmd = r[i].flags << PS_CMD_BITS | PS_IOV_ADD_F,
				.nr_pages = r[i].nr_pages,
				.vaddr = r[i].vaddr,
				.dst_id = x->dst_id,
			};
			iov[nr_iov++] = (struct iovec){ &hdr[i], sizeof(hdr[i]) };
			if (r[i].flags & PE_PRESENT) {
				iov[nr_iov++] = (struct iovec){ (void *)r[i].data,
								r[i].nr_pages * PAGE_SZ };
				x->bytes += r[i].nr_pages * PAGE_SZ;
			}
		}
		ret = ps_sk_writev(x->sk, iov, nr_iov);
		r += k;
		n -= k;
	}
	if (ret)
		pr_err("page server: cannot send pages: %s", strerror(-ret));
	return ret;
}

static int ps_close(struct page_xfer *x)
{
	char has_parent;
	int ret;

	if (!x->answer_due)
		return 0;
	x->answer_due = false;
	ret = ps_sk_recv_full(x->sk, &has_parent, 1);
	if (ret) {
		pr_err("page server: no answer to the open of pagemap %llu: %s",
		       (unsigned long long)x->dst_id, strerror(-ret));
		return ret;
	}
	x->has_parent = has_parent;
	return 0;
}

static const struct page_xfer_ops server_ops = {
	.open = ps_open,
	.write = ps_write,
	.close = ps_close,
};

int page_xfer_open(struct page_xfer *x, const struct page_xfer_dest *d, int type, uint64_t id)
{
	memset(x, 0, sizeof(*x));
	x->pages_fd = -1;
	x->sk = -1;
	x->ops = d->sk >= 0 ? &server_ops : &local_ops;
	return x->ops->open(x, d, type, id);
}

/*
 * Under TLS 1.3 the client's handshake is over before the server has
 * checked the client's certificate: a refusal shows only at the first
 * read.  One question the server answers (has it a parent for pid 0?)
 * makes sure of it here, before the dump freezes anything.
 */
static int confirm(int sk)
{
	struct ps_iov pi = { .cmd = PS_IOV_PARENT, .dst_id = ps_dst_id(PAGE_XFER_PID, 0) };
	int32_t ans;
	int ret = ps_sk_send(sk, &pi, sizeof(pi)) ?: ps_sk_recv_full(sk, &ans, sizeof(ans));

	if (ret)
		pr_err("tls: the page server ended the session after the handshake "
		       "(is our certificate signed by a CA it trusts?): %s", strerror(-ret));
	return ret;
}

int ps_socket_check(int fd)
{
	int type = 0;
	socklen_t len = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) || type != SOCK_STREAM) {
		pr_err("--ps-socket %d: not a stream socket (%s)", fd,
		       errno == EBADF ? "not open" : errno == ENOTSOCK ? "not a socket" :
		       "another type");
		return -EBADF;
	}
	return 0;
}

/*
 * --ps-socket: a socket the caller connected (CRIU's RPC ps.fd): used as
 * it is, with no address or port.  It is ours to close at the end.
 */
static int given_socket(const struct opts *o)
{
	int ret = ps_socket_check(o->ps_socket);

	if (ret)
		return ret;
	if (o->address || o->port)
		pr_warn("--address and --port mean nothing with --ps-socket");
	pr_info("page server: on the socket given, fd %d", o->ps_socket);
	return o->ps_socket;
}

static int connect_to(const struct opts *o)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	const char *addr = o->address;
	int port = o->port;
	struct addrinfo *res, *a;
	char serv[16];
	int sk = -1, err;

	if (!addr || port <= 0) {
		pr_err("--page-server needs --address and --port");
		return -EINVAL;
	}
	snprintf(serv, sizeof(serv), "%d", port);
	err = getaddrinfo(addr, serv, &hints, &res);
	if (err) {
		pr_err("page server %s:%d: %s", addr, port, gai_strerror(err));
		return -EINVAL;
	}
	for (a = res; a; a = a->ai_next) {
		sk = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (sk < 0)
			continue;
		if (!connect(sk, a->ai_addr, a->ai_addrlen))
			break;
		err = errno;
		close(sk);
		sk = -1;
		errno = err;
	}
	freeaddrinfo(res);
	if (sk < 0) {
		err = errno;
		pr_err("cannot connect to the page server at %s:%d: %s", addr, port, strerror(err));
		return -err;
	}
	pr_info("connected to the page server at %s:%d", addr, port);
	return sk;
}

int page_xfer_connect(const struct opts *o, bool dumper)
{
	int sk = o->ps_socket >= 0 ? given_socket(o) : connect_to(o);
	int err;

	if (sk < 0)
		return sk;
	err = tls_attach(o, sk, false);
	if (!err && o->tls && dumper)
		err = confirm(sk);
	if (err) {
		ps_sk_close(sk, false);
		return err;
	}
	/* Corked: headers and pages leave in full segments. */
	sk_set(sk, TCP_CORK, 1);
	return sk;
}

int page_xfer_disconnect(const struct opts *o, int sk)
{
	/*
	 * A socket given may stay open elsewhere (the RPC client holds it):
	 * the server is told to end without waiting for it to close.
	 */
	struct ps_iov pi = { .cmd = o->ps_socket >= 0 ? PS_IOV_FORCE_CLOSE : PS_IOV_CLOSE };
	struct iovec iov = { &pi, sizeof(pi) };
	int32_t status = -1;
	int ret;

	ret = ps_sk_writev(sk, &iov, 1);
	sk_set(sk, TCP_NODELAY, 1);
	if (!ret)
		ret = ps_sk_recv_full(sk, &status, sizeof(status));
	ps_sk_close(sk, !ret);
	if (ret) {
		pr_err("page server: no answer to the end of the dump: %s", strerror(-ret));
		return ret;
	}
	if (status) {
		pr_err("page server: says the pages were not all written (%d)", status);
		return -EIO;
	}
	return 0;
}
