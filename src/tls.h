/*
 * tls.h - the connections that carry pages, plain TCP or under TLS (--tls).
 *
 * Every page-server connection (dump or pre-dump -> page-server, lazy-pages
 * <-> page-server --lazy-pages, lazy-pages <-> dump --lazy-pages) sends and
 * receives through the ps_sk_* calls below.  Under --tls, tls_attach() runs
 * the handshake on the connected socket first, as CRIU does (GnuTLS, X.509,
 * each side presenting its certificate and checking the other's against the
 * CA), and the session then belongs to that fd until ps_sk_close(); without
 * --tls the calls are the socket's own.  One process holds a few such
 * connections at most: sessions are found by fd.
 *
 * Built without GnuTLS (its development files missing), --tls is refused
 * when it is parsed: "unsupported: built without GnuTLS".
 */
#ifndef STASIS_TLS_H
#define STASIS_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "opts.h"

/* CRIU's defaults for the files --tls reads. */
#define TLS_CACERT	"/etc/pki/CA/cacert.pem"
#define TLS_CACRL	"/etc/pki/CA/cacrl.pem"
#define TLS_CERT	"/etc/pki/criu/cert.pem"
#define TLS_KEY		"/etc/pki/criu/private/key.pem"

/*
 * Can --tls work: stasis built with GnuTLS, and the library loads (on
 * first use)?  When not, says why.
 */
bool tls_usable(void);

/*
 * Under --tls: the handshake on @sk (the server's side if @server) and the
 * check of the peer's certificate; 0, or -errno after saying why.  Without
 * --tls: 0, nothing done.
 */
int tls_attach(const struct opts *o, int sk, bool server);

/* Send all of @buf; 0 or -errno (-EPIPE: the peer is gone). */
int ps_sk_send(int sk, const void *buf, size_t len);
/* Send all of @iov[@n] (the iovecs are used up); 0 or -errno. */
int ps_sk_writev(int sk, struct iovec *iov, int n);
/* Send @len bytes of the file @fd from *@off on; 0 or -errno. */
int ps_sk_sendfile(int sk, int fd, off_t *off, size_t len);
/*
 * Receive up to @len bytes, waiting for all of them: the count, fewer only
 * at the end of the stream (0: it ended here), or -errno.
 */
ssize_t ps_sk_recv(int sk, void *buf, size_t len);
/* Exactly @len bytes: 0, -EPIPE if the stream ends first, or -errno. */
int ps_sk_recv_full(int sk, void *buf, size_t len);
/*
 * Close @sk.  Under TLS, @graceful first ends the session as TLS asks
 * (close_notify); otherwise the connection is just dropped.
 */
void ps_sk_close(int sk, bool graceful);

/* --- GnuTLS itself (tls.c), for the calls above (ps-sock.c) --- */
struct tls_sess;

int tls_sess_start(const struct opts *o, int sk, bool server, struct tls_sess **out);
/* One record at most: bytes sent, or -errno. */
ssize_t tls_sess_send(struct tls_sess *s, const void *buf, size_t len);
/* Bytes received, 0 at the end of the stream (close_notify), or -errno. */
ssize_t tls_sess_recv(struct tls_sess *s, void *buf, size_t len);
void tls_sess_end(struct tls_sess *s, bool graceful);

#endif
