/*
 * tls.c - --tls: a page-server connection under TLS, with GnuTLS as CRIU
 * uses it, so that either side may be CRIU's.
 *
 * The facts CRIU's peers rely on: X.509 certificates in PEM; the server
 * requires a certificate of the client, and each side checks the other's
 * against the CA of --tls-cacert (only that one when given; otherwise the
 * system's trusted CAs and, if present, /etc/pki/CA/cacert.pem), minus the
 * revocations of --tls-cacrl (/etc/pki/CA/cacrl.pem if present).  The name
 * checked in the peer's certificate is --address, on both sides (a server
 * without --address checks none), unless --tls-no-cn-verify.  GnuTLS's
 * default priorities choose the protocol and ciphers.
 *
 * The certificate is checked during the handshake, so that a refused one
 * ends it with an alert the peer can report, rather than a closed socket.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "log.h"
#include "tls.h"

#ifdef CONFIG_GNUTLS

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

/*
 * GnuTLS and the ten libraries it needs are loaded on the first --tls, not
 * at every start of stasis: loading them costs about a millisecond, a tenth
 * of a small dump.  The calls go through pointers typed by GnuTLS's own
 * headers, so a mismatch is a compile error.
 */
#define GNUTLS_SONAME	"libgnutls.so.30"

#define GNUTLS_SYMS(X) \
	X(gnutls_bye) \
	X(gnutls_certificate_allocate_credentials) \
	X(gnutls_certificate_free_credentials) \
	X(gnutls_certificate_send_x509_rdn_sequence) \
	X(gnutls_certificate_server_set_request) \
	X(gnutls_certificate_set_x509_crl_file) \
	X(gnutls_certificate_set_x509_key_file) \
	X(gnutls_certificate_set_x509_system_trust) \
	X(gnutls_certificate_set_x509_trust_file) \
	X(gnutls_certificate_type_get) \
	X(gnutls_certificate_verification_status_print) \
	X(gnutls_credentials_set) \
	X(gnutls_deinit) \
	X(gnutls_error_is_fatal) \
	X(gnutls_handshake) \
	X(gnutls_handshake_set_timeout) \
	X(gnutls_init) \
	X(gnutls_record_recv) \
	X(gnutls_record_send) \
	X(gnutls_session_get_desc) \
	X(gnutls_session_get_verify_cert_status) \
	X(gnutls_session_set_verify_cert) \
	X(gnutls_set_default_priority) \
	X(gnutls_strerror) \
	X(gnutls_transport_get_int) \
	X(gnutls_transport_set_int2) \
	X(gnutls_transport_set_vec_push_function) \
	X(gnutls_free)

static struct {
#define GNUTLS_PTR(name) __typeof__(name) *name;
	GNUTLS_SYMS(GNUTLS_PTR)
#undef GNUTLS_PTR
} gt;

/* 0 once GnuTLS is loaded (now or before), or -ENOTSUP after saying why. */
static int gnutls_load(void)
{
	static int state;	/* 0 not tried, 1 loaded, -1 failed */
	void *h;

	if (state)
		return state > 0 ? 0 : -ENOTSUP;
	state = -1;
	h = dlopen(GNUTLS_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		pr_err("unsupported: --tls: GnuTLS cannot be loaded: %s", dlerror());
		return -ENOTSUP;
	}
#define GNUTLS_GET(name)							\
	gt.name = dlsym(h, #name);						\
	if (!gt.name) {								\
		pr_err("unsupported: --tls: %s has no %s", GNUTLS_SONAME, #name);	\
		return -ENOTSUP;						\
	}
	GNUTLS_SYMS(GNUTLS_GET)
#undef GNUTLS_GET
	state = 1;
	return 0;
}

struct tls_sess {
	gnutls_session_t session;
	gnutls_certificate_credentials_t cred;
};

bool tls_usable(void)
{
	return !gnutls_load();
}

/* GnuTLS writes its records here: never SIGPIPE, retried on EINTR. */
static ssize_t push_vec(gnutls_transport_ptr_t ptr, const giovec_t *iov, int n)
{
	struct msghdr mh = { .msg_iov = (struct iovec *)iov, .msg_iovlen = n };
	ssize_t r;

	do
		r = sendmsg((int)(intptr_t)ptr, &mh, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	return r;
}

static int load_trust(const struct opts *o, gnutls_certificate_credentials_t cred)
{
	const char *ca = o->tls_cacert ? o->tls_cacert : TLS_CACERT;
	int ret;

	/* Without --tls-cacert the system's CAs count too, as for CRIU. */
	if (!o->tls_cacert) {
		ret = gt.gnutls_certificate_set_x509_system_trust(cred);
		if (ret < 0)
			pr_warn("tls: the system's trusted CAs cannot be read: %s",
				gt.gnutls_strerror(ret));
	}
	ret = gt.gnutls_certificate_set_x509_trust_file(cred, ca, GNUTLS_X509_FMT_PEM);
	if (ret <= 0 && o->tls_cacert) {
		pr_err("tls: --tls-cacert %s: no CA certificate read from it%s%s", ca,
		       ret < 0 ? ": " : "", ret < 0 ? gt.gnutls_strerror(ret) : "");
		return -EINVAL;
	}
	if (ret <= 0)
		pr_info("tls: no CA certificate in %s", ca);
	return 0;
}

static int load_crl(const struct opts *o, gnutls_certificate_credentials_t cred)
{
	const char *crl = o->tls_cacrl ? o->tls_cacrl : TLS_CACRL;
	int ret;

	if (access(crl, R_OK)) {
		if (!o->tls_cacrl)
			return 0;
		pr_perror("tls: --tls-cacrl %s: cannot read it", crl);
		return -EINVAL;
	}
	ret = gt.gnutls_certificate_set_x509_crl_file(cred, crl, GNUTLS_X509_FMT_PEM);
	if (ret < 0) {
		pr_err("tls: the revocation list %s: %s", crl, gt.gnutls_strerror(ret));
		return -EINVAL;
	}
	return 0;
}

static int load_creds(const struct opts *o, gnutls_certificate_credentials_t *out)
{
	const char *cert = o->tls_cert ? o->tls_cert : TLS_CERT;
	const char *key = o->tls_key ? o->tls_key : TLS_KEY;
	gnutls_certificate_credentials_t cred;
	int ret;

	ret = gt.gnutls_certificate_allocate_credentials(&cred);
	if (ret < 0) {
		pr_err("tls: %s", gt.gnutls_strerror(ret));
		return -ENOMEM;
	}
	ret = load_trust(o, cred) ?: load_crl(o, cred);
	if (!ret) {
		int err = gt.gnutls_certificate_set_x509_key_file(cred, cert, key,
							       GNUTLS_X509_FMT_PEM);

		if (err < 0) {
			pr_err("tls: the certificate %s with the key %s: %s", cert, key,
			       gt.gnutls_strerror(err));
			ret = -EINVAL;
		}
	}
	if (ret) {
		gt.gnutls_certificate_free_credentials(cred);
		return ret;
	}
	*out = cred;
	return 0;
}

/* A handshake that failed: why, with what was wrong in the peer's certificate. */
static void say_refused(struct tls_sess *s, int err, bool server)
{
	const char *peer = server ? "client" : "page server";
	gnutls_datum_t out = { NULL, 0 };
	unsigned int status;

	if (err != GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
		pr_err("tls: the handshake with the %s failed: %s (does it use --tls, "
		       "with a certificate this CA signed?)", peer, gt.gnutls_strerror(err));
		return;
	}
	status = gt.gnutls_session_get_verify_cert_status(s->session);
	if (!gt.gnutls_certificate_verification_status_print(status,
			gt.gnutls_certificate_type_get(s->session), &out, 0))
		pr_err("tls: the %s's certificate is refused: %s", peer, out.data);
	else
		pr_err("tls: the %s's certificate is refused (status %#x)", peer, status);
	(*gt.gnutls_free)(out.data);
}

static int handshake(struct tls_sess *s, bool server)
{
	int ret;

	do
		ret = gt.gnutls_handshake(s->session);
	while (ret < 0 && !gt.gnutls_error_is_fatal(ret));
	if (ret < 0) {
		say_refused(s, ret, server);
		return -ECONNREFUSED;
	}
	pr_info("tls: session with the %s: %s", server ? "client" : "page server",
		gt.gnutls_session_get_desc(s->session) ?: "?");
	return 0;
}

int tls_sess_start(const struct opts *o, int sk, bool server, struct tls_sess **out)
{
	/* CRIU's rule: the name is --address, on either side. */
	const char *name = o->tls_no_cn_verify ? NULL : o->address;
	struct tls_sess *s;
	int ret, err;

	/* --tls over RPC is not parsed by opts.c: loaded here if not yet. */
	ret = gnutls_load();
	if (ret)
		return ret;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	ret = load_creds(o, &s->cred);
	if (ret) {
		free(s);
		return ret;
	}
	err = gt.gnutls_init(&s->session, server ? GNUTLS_SERVER : GNUTLS_CLIENT);
	if (!err)
		err = gt.gnutls_credentials_set(s->session, GNUTLS_CRD_CERTIFICATE, s->cred);
	if (!err)
		err = gt.gnutls_set_default_priority(s->session);
	if (err) {
		pr_err("tls: cannot make the session: %s", gt.gnutls_strerror(err));
		if (s->session)
			gt.gnutls_deinit(s->session);
		gt.gnutls_certificate_free_credentials(s->cred);
		free(s);
		return -EINVAL;
	}
	/*
	 * The server requires the client's certificate without naming the
	 * CAs it trusts (as CRIU's): a client then sends the one it has, and
	 * a refusal says what is wrong with it, not that none came.
	 */
	if (server) {
		gt.gnutls_certificate_server_set_request(s->session, GNUTLS_CERT_REQUIRE);
		gt.gnutls_certificate_send_x509_rdn_sequence(s->session, 1);
	}
	gt.gnutls_session_set_verify_cert(s->session, name, 0);
	gt.gnutls_transport_set_int2(s->session, sk, sk);
	gt.gnutls_transport_set_vec_push_function(s->session, push_vec);
	gt.gnutls_handshake_set_timeout(s->session, GNUTLS_DEFAULT_HANDSHAKE_TIMEOUT);
	ret = handshake(s, server);
	if (ret) {
		tls_sess_end(s, false);
		return ret;
	}
	*out = s;
	return 0;
}

static ssize_t gnutls_errno(ssize_t ret, const char *what)
{
	if (ret == GNUTLS_E_PUSH_ERROR || ret == GNUTLS_E_PULL_ERROR)
		return errno ? -errno : -EIO;
	pr_err("tls: %s: %s", what, gt.gnutls_strerror(ret));
	return -EIO;
}

ssize_t tls_sess_send(struct tls_sess *s, const void *buf, size_t len)
{
	ssize_t ret;

	do
		ret = gt.gnutls_record_send(s->session, buf, len);
	while (ret == GNUTLS_E_INTERRUPTED || ret == GNUTLS_E_AGAIN);
	return ret < 0 ? gnutls_errno(ret, "cannot send") : ret;
}

ssize_t tls_sess_recv(struct tls_sess *s, void *buf, size_t len)
{
	ssize_t ret;

	do
		ret = gt.gnutls_record_recv(s->session, buf, len);
	while (ret == GNUTLS_E_INTERRUPTED || ret == GNUTLS_E_AGAIN);
	/* The peer closed without close_notify: an end all the same (the protocol says when it is done). */
	if (ret == GNUTLS_E_PREMATURE_TERMINATION)
		return 0;
	return ret < 0 ? gnutls_errno(ret, "cannot receive") : ret;
}

void tls_sess_end(struct tls_sess *s, bool graceful)
{
	if (!s)
		return;
	/*
	 * close_notify, and the peer's read before the socket is closed: a
	 * socket closed with bytes unread resets the connection, and the
	 * peer may lose our close_notify (CRIU's server then logs an error).
	 * A peer that says nothing more is waited for 10 s at most.
	 */
	if (graceful) {
		struct timeval tv = { .tv_sec = 10 };
		int ret;

		setsockopt(gt.gnutls_transport_get_int(s->session), SOL_SOCKET, SO_RCVTIMEO, &tv,
			   sizeof(tv));
		do
			ret = gt.gnutls_bye(s->session, GNUTLS_SHUT_RDWR);
		while (ret == GNUTLS_E_INTERRUPTED);
		if (ret < 0)
			pr_debug("tls: the end of the session: %s", gt.gnutls_strerror(ret));
	}
	gt.gnutls_deinit(s->session);
	gt.gnutls_certificate_free_credentials(s->cred);
	free(s);
}

#else /* !CONFIG_GNUTLS */

bool tls_usable(void)
{
	pr_err("unsupported: --tls: stasis was built without GnuTLS");
	return false;
}

int tls_sess_start(const struct opts *o, int sk, bool server, struct tls_sess **out)
{
	(void)o, (void)sk, (void)server, (void)out;
	pr_err("unsupported: --tls: stasis was built without GnuTLS");
	return -ENOTSUP;
}

ssize_t tls_sess_send(struct tls_sess *s, const void *buf, size_t len)
{
	(void)s, (void)buf, (void)len;
	return -ENOTSUP;
}

ssize_t tls_sess_recv(struct tls_sess *s, void *buf, size_t len)
{
	(void)s, (void)buf, (void)len;
	return -ENOTSUP;
}

void tls_sess_end(struct tls_sess *s, bool graceful)
{
	(void)s, (void)graceful;
}

#endif
