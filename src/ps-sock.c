/*
 * ps-sock.c - I/O on a page-server connection (tls.h): the socket's own
 * calls, or its TLS session's once tls_attach() gave it one.
 *
 * Under TLS, record boundaries matter to CRIU's peers: a header and the
 * pages after it never share a record (see tls_writev()).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "iov.h"
#include "log.h"
#include "tls.h"

/* Connections under TLS in this process; a few at most. */
#define MAX_SESS	8
/* File bytes read at once for a sendfile under TLS. */
#define FILE_CHUNK	(256 << 10)

static struct {
	int sk;
	struct tls_sess *sess;
} sessions[MAX_SESS];
static unsigned int nr_sessions;

static struct tls_sess *sess_of(int sk)
{
	for (unsigned int i = 0; i < nr_sessions; i++)
		if (sessions[i].sk == sk)
			return sessions[i].sess;
	return NULL;
}

int tls_attach(const struct opts *o, int sk, bool server)
{
	struct tls_sess *s;
	int ret;

	if (!o->tls)
		return 0;
	if (nr_sessions == MAX_SESS) {
		pr_err("tls: too many connections under TLS");
		return -EMFILE;
	}
	ret = tls_sess_start(o, sk, server, &s);
	if (ret)
		return ret;
	sessions[nr_sessions].sk = sk;
	sessions[nr_sessions++].sess = s;
	return 0;
}

void ps_sk_close(int sk, bool graceful)
{
	for (unsigned int i = 0; i < nr_sessions; i++) {
		if (sessions[i].sk != sk)
			continue;
		tls_sess_end(sessions[i].sess, graceful);
		sessions[i] = sessions[--nr_sessions];
		break;
	}
	close(sk);
}

static int tls_send_all(struct tls_sess *s, const void *buf, size_t len)
{
	while (len) {
		ssize_t n = tls_sess_send(s, buf, len);

		if (n < 0)
			return n;
		buf = (const char *)buf + n;
		len -= n;
	}
	return 0;
}

int ps_sk_send(int sk, const void *buf, size_t len)
{
	struct tls_sess *s = sess_of(sk);

	if (s)
		return tls_send_all(s, buf, len);
	while (len) {
		ssize_t n = send(sk, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		buf = (const char *)buf + n;
		len -= n;
	}
	return 0;
}

/*
 * Under TLS each piece goes in records of its own: CRIU's peers take a
 * run's pages as whole records (gnutls_record_recv_packet), so no record
 * may hold the end of one piece and the start of the next.
 */
static int tls_writev(struct tls_sess *s, const struct iovec *iov, int n)
{
	int ret = 0;

	for (int i = 0; !ret && i < n; i++)
		ret = tls_send_all(s, iov[i].iov_base, iov[i].iov_len);
	return ret;
}

int ps_sk_writev(int sk, struct iovec *iov, int n)
{
	struct tls_sess *s = sess_of(sk);

	if (s)
		return tls_writev(s, iov, n);
	while (n > 0) {
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = n > IOV_MAX ? IOV_MAX : n };
		ssize_t r = sendmsg(sk, &mh, MSG_NOSIGNAL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		iov_advance(&iov, &n, r);
	}
	return 0;
}

/* Under TLS the bytes pass through us: read, then sealed and sent. */
static int tls_sendfile(struct tls_sess *s, int fd, off_t *off, size_t len)
{
	size_t sz = len < FILE_CHUNK ? len : FILE_CHUNK;
	char *buf = malloc(sz);
	int ret = buf ? 0 : -ENOMEM;

	while (!ret && len) {
		ssize_t n = pread(fd, buf, len < sz ? len : sz, *off);

		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			break;
		}
		ret = tls_send_all(s, buf, n);
		*off += n;
		len -= n;
	}
	free(buf);
	return ret;
}

int ps_sk_sendfile(int sk, int fd, off_t *off, size_t len)
{
	struct tls_sess *s = sess_of(sk);

	if (s)
		return tls_sendfile(s, fd, off, len);
	while (len) {
		ssize_t n = sendfile(sk, fd, off, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		len -= n;
	}
	return 0;
}

ssize_t ps_sk_recv(int sk, void *buf, size_t len)
{
	struct tls_sess *s = sess_of(sk);
	size_t done = 0;

	while (done < len) {
		ssize_t r = s ? tls_sess_recv(s, (char *)buf + done, len - done) :
				recv(sk, (char *)buf + done, len - done, MSG_WAITALL);

		if (!s && r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return s ? r : -errno;
		if (!r)
			break;
		done += r;
	}
	return done;
}

int ps_sk_recv_full(int sk, void *buf, size_t len)
{
	ssize_t r = ps_sk_recv(sk, buf, len);

	if (r < 0)
		return r;
	return (size_t)r == len ? 0 : -EPIPE;
}
