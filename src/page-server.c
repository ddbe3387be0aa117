/*
 * page-server.c - `stasis page-server`: take a dump's pages over TCP and
 * write them into the images directory, as CRIU's page server does
 * (ps-proto.h has the protocol).
 *
 *   stasis page-server -D DIR --port P [--address A] [-d] [--pidfile F]
 *                      [--status-fd FD] [--lazy-pages] [--tls ...]
 *
 * With --lazy-pages it serves the other way: a lazy-pages daemon fetches
 * the lazy pages of the images in -D (ps-lazy.c).
 *
 * One dumper is served, then the server exits: 0 when the dumper closed
 * the session properly (PS_IOV_CLOSE, answered once everything is
 * written), 1 otherwise.  Each pagemap the dumper opens becomes
 * pagemap-ID.img with its own pages-N.img, numbered from 0x10001 as
 * CRIU's server numbers them (so that they never meet the ids of pages a
 * dumper writes itself into the same directory).  The images are written
 * with the local transport of page-xfer.c, the one a dump without a page
 * server uses.  With --tls the connection is taken under TLS first
 * (tls.h), the client's certificate required.  With --ps-socket FD the
 * server neither listens nor accepts: FD is the connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"
#include "mem-chain.h"
#include "notify.h"
#include "opts.h"
#include "page-server.h"
#include "page-xfer.h"
#include "ps-proto.h"
#include "tls.h"

/* Page bytes taken from the socket at once. */
#define PS_BUF_PAGES	1024
/* CRIU's server numbers its pages images from here on. */
#define PS_PAGES_ID_BASE	0x10000

struct ps_session {
	int sk;
	int dirfd;
	uint32_t last_pages_id;
	struct page_xfer px;
	uint64_t dst_id;	/* the open pagemap's, or ~0 */
	uint8_t *buf;
	uint64_t pages;
	/* --auto-dedup: the images directory whose parents give up what comes again. */
	const char *dedup_dir;
};

static int send_all(int sk, const void *buf, size_t len)
{
	int ret = ps_sk_send(sk, buf, len);

	if (ret)
		pr_err("page server: cannot answer the dumper: %s", strerror(-ret));
	return ret;
}

/* @type and id of a dst_id, as CRIU's decode_pm (old CRIUs' numbers too); -1 if unknown. */
static int decode_dst(uint64_t dst_id, uint64_t *id)
{
	*id = dst_id >> PS_TYPE_BITS;
	switch (dst_id & PS_TYPE_MASK) {
	case 10: case 11: case 16: case 17:
	case PAGE_XFER_PID:
		return PAGE_XFER_PID;
	case 27: case 28: case 29: case 32: case 33: case 34:
	case PAGE_XFER_SHMEM:
		return PAGE_XFER_SHMEM;
	}
	return -1;
}

/* Whether DIR/parent holds this pagemap: the dumper may then leave pages to it. */
static bool has_parent(struct ps_session *s, int type, uint64_t id)
{
	char path[96];
	struct stat st;

	snprintf(path, sizeof(path), type == PAGE_XFER_PID ? "parent/pagemap-%" PRIu64 ".img" :
		 "parent/pagemap-shmem-%" PRIu64 ".img", id);
	return !fstatat(s->dirfd, path, &st, 0);
}

static int session_close_xfer(struct ps_session *s)
{
	int ret = 0;

	if (s->px.ops)
		ret = s->px.ops->close(&s->px);
	s->px.ops = NULL;
	s->dst_id = ~0ULL;
	return ret;
}

static int session_open(struct ps_session *s, const struct ps_iov *pi, bool answer)
{
	struct page_xfer_dest d = { s->dirfd, &s->last_pages_id, -1, NULL };
	uint64_t id;
	int type = decode_dst(pi->dst_id, &id), ret;
	char parent;

	if (type < 0) {
		pr_err("page server: unknown pagemap type in %#" PRIx64, pi->dst_id);
		return -EINVAL;
	}
	ret = session_close_xfer(s);
	if (!ret)
		ret = page_xfer_open(&s->px, &d, type, id);
	if (ret)
		return ret;
	s->dst_id = pi->dst_id;
	pr_info("page server: pagemap %d/%" PRIu64 " into pages-%u.img", type, id,
		s->px.pages_id);
	parent = has_parent(s, type, id);
	return answer ? send_all(s->sk, &parent, 1) : 0;
}

static int session_parent(struct ps_session *s, const struct ps_iov *pi)
{
	uint64_t id;
	int type = decode_dst(pi->dst_id, &id);
	int32_t ans;

	if (type < 0) {
		pr_err("page server: unknown pagemap type in %#" PRIx64, pi->dst_id);
		return -EINVAL;
	}
	ans = has_parent(s, type, id);
	return send_all(s->sk, &ans, sizeof(ans));
}

/* One run: its pagemap entry, and its pages read from the socket in pieces. */
static int session_add(struct ps_session *s, const struct ps_iov *pi, uint32_t flags)
{
	uint64_t vaddr = pi->vaddr, left = pi->nr_pages;
	int ret = 0;

	if (s->dst_id != pi->dst_id) {
		/* Old dumpers added without opening first. */
		ret = session_open(s, pi, false);
		if (ret)
			return ret;
	}
	if (!left || left > (UINT64_MAX >> 12) || vaddr % PAGE_SZ) {
		pr_err("page server: bad run of %" PRIu64 " pages at %#" PRIx64, left, vaddr);
		return -EINVAL;
	}
	if (!(flags & PE_PRESENT)) {
		struct page_run r = { vaddr, left, flags, 0, NULL };

		return s->px.ops->write(&s->px, &r, 1);
	}
	while (!ret && left) {
		uint64_t n = left < PS_BUF_PAGES ? left : PS_BUF_PAGES;
		struct page_run r = { vaddr, n, flags, 0, s->buf };

		ret = ps_sk_recv_full(s->sk, s->buf, n * PAGE_SZ);
		if (ret) {
			pr_err("page server: the dumper went away in the middle of pages");
			return ret;
		}
		ret = s->px.ops->write(&s->px, &r, 1);
		s->pages += n;
		vaddr += n * PAGE_SZ;
		left -= n;
	}
	return ret;
}

/* Commands until the dumper closes the session; 0 if it did so properly. */
static int serve(struct ps_session *s)
{
	bool closed = false;
	int ret = 0;

	while (!ret && !closed) {
		struct ps_iov pi;
		uint32_t cmd, flags;

		ret = ps_sk_recv_full(s->sk, &pi, sizeof(pi));
		if (ret) {
			pr_err("page server: the dumper left without closing: the pages are not all there");
			return ret;
		}
		cmd = pi.cmd & PS_CMD_MASK;
		flags = pi.cmd >> PS_CMD_BITS;
		switch (cmd) {
		case PS_IOV_OPEN:
		case PS_IOV_OPEN2:
			ret = session_open(s, &pi, cmd == PS_IOV_OPEN2);
			break;
		case PS_IOV_PARENT:
			ret = session_parent(s, &pi);
			break;
		case PS_IOV_ADD_F:
		case PS_IOV_ADD:
		case PS_IOV_HOLE:
			if (cmd == PS_IOV_ADD)
				flags = PE_PRESENT;
			else if (cmd == PS_IOV_HOLE)
				flags = PE_PARENT;
			ret = session_add(s, &pi, flags);
			break;
		case PS_IOV_CLOSE:
		case PS_IOV_FORCE_CLOSE: {
			int32_t status = session_close_xfer(s) ? -1 : 0;

			/*
			 * Before the answer, as a local dump dedups before it
			 * returns: the dumper's end is the chain's being ready.
			 */
			if (!status && s->dedup_dir && mem_chain_dedup(s->dedup_dir))
				pr_warn("--auto-dedup failed: the parent images keep pages "
					"the dump has again");

			ret = send_all(s->sk, &status, sizeof(status)) ?: status;
			closed = true;
			break;
		}
		default:
			pr_err("page server: unknown command %#x", pi.cmd);
			ret = -EINVAL;
		}
	}
	return ret;
}

static int report_fd = -1;
static int listen_port;

void page_server_report_to(int fd)
{
	report_fd = fd;
}

/* From the process that serves, once it listens: its pid and port to the RPC. */
static int report_started(void)
{
	struct ps_started st = { .pid = getpid(), .port = listen_port };
	int ret = 0;

	if (report_fd < 0)
		return 0;
	if (write(report_fd, &st, sizeof(st)) != sizeof(st)) {
		pr_perror("page server: cannot say it has started");
		ret = -EIO;
	}
	close(report_fd);
	report_fd = -1;
	return ret;
}

/* The listening socket, on --address (any by default) and --port (0: any port). */
int server_listen(const struct opts *o)
{
	struct addrinfo hints = {
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
	};
	struct addrinfo *res;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char serv[16];
	int sk, err, one = 1;

	snprintf(serv, sizeof(serv), "%d", o->port);
	err = getaddrinfo(o->address, serv, &hints, &res);
	if (err) {
		pr_err("page server: %s: %s", o->address ? o->address : "(any)", gai_strerror(err));
		return -EINVAL;
	}
	sk = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sk >= 0)
		setsockopt(sk, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sk < 0 || bind(sk, res->ai_addr, res->ai_addrlen) || listen(sk, 1)) {
		err = errno;
		pr_err("page server: cannot listen on port %d: %s", o->port, strerror(err));
		freeaddrinfo(res);
		if (sk >= 0)
			close(sk);
		return -err;
	}
	freeaddrinfo(res);
	if (!getsockname(sk, (struct sockaddr *)&ss, &len)) {
		int port = ntohs(ss.ss_family == AF_INET6 ?
				 ((struct sockaddr_in6 *)&ss)->sin6_port :
				 ((struct sockaddr_in *)&ss)->sin_port);

		listen_port = port;
		pr_info("page server: listening on port %d", port);
		if (!o->port && report_fd < 0)
			printf("port %d\n", port);
	}
	return sk;
}

/* -d: the server goes on in a child of its own session; the parent reports its pid. */
int server_daemonize(const struct opts *o)
{
	pid_t pid;
	int null;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		pr_perror("page server: cannot fork");
		return -errno;
	}
	if (pid > 0) {
		if (o->pidfile) {
			FILE *f = fopen(o->pidfile, "w");

			if (!f || fprintf(f, "%d", pid) < 0 || fclose(f)) {
				pr_perror("cannot write the pidfile %s", o->pidfile);
				kill(pid, SIGKILL);
				return -EIO;
			}
		}
		return 1;
	}
	setsid();
	null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
	return 0;
}

/* --status-fd: one zero byte, as CRIU says it. */
int status_fd_ready(const struct opts *o)
{
	char c = 0;

	if (o->status_fd < 0)
		return 0;
	if (write(o->status_fd, &c, 1) != 1) {
		pr_perror("cannot write to the status fd %d", o->status_fd);
		return -EIO;
	}
	close(o->status_fd);
	return 0;
}

/* Connections are taken now: the status-ready hook, then --status-fd, as CRIU. */
int server_status_ready(const struct opts *o)
{
	return notify(o, NOTIFY_STATUS_READY, 0) ?: status_fd_ready(o);
}

/*
 * --ps-socket: serve on a socket already connected (CRIU's RPC ps.fd).
 * -d puts /dev/null on 0-2, so the socket may not be one of them.
 */
static int given_socket(const struct opts *o)
{
	int ret = ps_socket_check(o->ps_socket);

	if (!ret && o->restore_detached && o->ps_socket <= STDERR_FILENO) {
		pr_err("page server: --ps-socket %d is a standard fd, which -d closes",
		       o->ps_socket);
		ret = -EINVAL;
	}
	if (!ret)
		pr_info("page server: serving the socket given, fd %d", o->ps_socket);
	return ret;
}

static int accept_one(int lsk)
{
	int sk;

	do
		sk = accept4(lsk, NULL, NULL, SOCK_CLOEXEC);
	while (sk < 0 && errno == EINTR);
	if (sk < 0) {
		pr_perror("page server: accept");
		return -errno;
	}
	return sk;
}

int cr_page_server(const struct opts *o)
{
	struct ps_session s = { .sk = -1, .dst_id = ~0ULL, .last_pages_id = PS_PAGES_ID_BASE,
				.dedup_dir = o->auto_dedup ? o->images_dir : NULL };
	bool given = o->ps_socket >= 0;
	int lsk, ret;

	if (!o->lazy_pages)
		mkdir(o->images_dir, 0755);
	s.dirfd = open(o->images_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s.dirfd < 0) {
		pr_perror("page server: cannot open the images directory %s", o->images_dir);
		return -errno;
	}
	lsk = given ? -1 : server_listen(o);
	ret = given ? given_socket(o) : lsk < 0 ? lsk : 0;
	if (!ret && o->restore_detached) {
		ret = server_daemonize(o);
		if (ret == 1) {
			if (lsk >= 0)
				close(lsk);
			close(s.dirfd);
			return 0;
		}
	}
	if (!ret)
		ret = server_status_ready(o) ?: report_started();
	if (!ret) {
		s.sk = given ? o->ps_socket : accept_one(lsk);
		ret = s.sk < 0 ? s.sk : tls_attach(o, s.sk, true);
	}
	if (lsk >= 0)
		close(lsk);
	/* The lazy-pages daemon's server: pages from the images, on request. */
	if (o->lazy_pages) {
		ret = ret ?: ps_lazy_serve(s.sk, s.dirfd);
		if (s.sk >= 0)
			ps_sk_close(s.sk, !ret);
		close(s.dirfd);
		return ret;
	}
	s.buf = ret ? NULL : malloc(PS_BUF_PAGES * PAGE_SZ);
	if (!ret && !s.buf)
		ret = -ENOMEM;
	if (!ret)
		ret = serve(&s);
	ret = session_close_xfer(&s) ?: ret;
	/*
	 * The dumper closes first: no TIME_WAIT left on this side.  Not a
	 * socket given: whoever gave it may hold it open.
	 */
	if (!ret && !given) {
		char c;

		if (ps_sk_recv(s.sk, &c, 1) != 0)
			pr_warn("page server: data after the end of the session");
	}
	pr_info("page server: %" PRIu64 " pages received, session %s", s.pages,
		ret ? "failed" : "over");
	if (s.sk >= 0)
		ps_sk_close(s.sk, !ret);
	free(s.buf);
	close(s.dirfd);
	return ret;
}
