/*
 * rpc-wire.c - the RPC's messages on the socket: one packed criu_req or
 * criu_resp per SOCK_SEQPACKET packet, no length before it, an fd riding
 * along by SCM_RIGHTS where a notification carries one.  Used by the
 * server (rpc.c) and by the hooks (notify.c) while a dump or restore runs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "rpc.h"
#include "rpc.pb-c.h"

int rpc_recv_req(int sk, CriuReq **req)
{
	ssize_t len;
	void *buf;

	len = recv(sk, NULL, 0, MSG_PEEK | MSG_TRUNC);
	if (len < 0) {
		pr_perror("cannot read an RPC request");
		return -errno;
	}
	if (len == 0) {
		pr_info("the RPC client closed its socket");
		return -ECONNRESET;
	}
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	len = recv(sk, buf, len, 0);
	if (len <= 0) {
		pr_perror("cannot read an RPC request");
		free(buf);
		return len ? -errno : -ECONNRESET;
	}
	*req = criu_req__unpack(NULL, len, buf);
	free(buf);
	if (!*req) {
		pr_err("an RPC request that is not a criu_req (%zd bytes)", len);
		return -EBADMSG;
	}
	return 0;
}

int rpc_send_resp(int sk, CriuResp *resp, int fd)
{
	size_t len = criu_resp__get_packed_size(resp);
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct msghdr mh = { 0 };
	struct iovec iov;
	void *buf;
	ssize_t n;

	buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	criu_resp__pack(resp, buf);
	iov = (struct iovec){ buf, len };
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (fd >= 0) {
		struct cmsghdr *ch;

		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		ch = CMSG_FIRSTHDR(&mh);
		ch->cmsg_level = SOL_SOCKET;
		ch->cmsg_type = SCM_RIGHTS;
		ch->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(ch), &fd, sizeof(int));
	}
	n = sendmsg(sk, &mh, MSG_NOSIGNAL);
	free(buf);
	if (n < 0) {
		pr_perror("cannot send the RPC answer");
		return -errno;
	}
	return 0;
}

/* A NOTIFY and its answer, which said yes; the answer is the caller's to free. */
static int notify_exchange(int sk, const char *script, pid_t pid, int fd, CriuReq **answer)
{
	CriuResp resp = CRIU_RESP__INIT;
	CriuNotify cn = CRIU_NOTIFY__INIT;
	CriuReq *req;
	int ret;

	resp.type = CRIU_REQ_TYPE__NOTIFY;
	resp.success = true;
	resp.notify = &cn;
	cn.script = (char *)script;
	if (pid > 0) {
		cn.has_pid = true;
		cn.pid = pid;
	}
	ret = rpc_send_resp(sk, &resp, fd);
	if (!ret)
		ret = rpc_recv_req(sk, &req);
	if (ret)
		return ret;
	if (req->type != CRIU_REQ_TYPE__NOTIFY || !req->notify_success) {
		pr_err("the RPC client answered %s with an error", script);
		criu_req__free_unpacked(req, NULL);
		return -ECANCELED;
	}
	*answer = req;
	return 0;
}

int rpc_notify(int sk, const char *script, pid_t pid, int fd)
{
	CriuReq *req;
	int ret = notify_exchange(sk, script, pid, fd, &req);

	if (!ret)
		criu_req__free_unpacked(req, NULL);
	return ret;
}

int rpc_notify_externals(int sk, const char *script, struct opts *o)
{
	CriuReq *req;
	int ret = notify_exchange(sk, script, 0, -1, &req);

	if (ret)
		return ret;
	for (size_t i = 0; req->opts && i < req->opts->n_external; i++)
		pr_info("%s: the RPC client adds the external %s", script, req->opts->external[i]);
	if (req->opts && opts_add_externals(o, req->opts->external, req->opts->n_external))
		ret = -EINVAL;
	criu_req__free_unpacked(req, NULL);
	return ret;
}
