/*
 * client.c - a small CRIU RPC client for the tests, as runc and zdtm.py
 * drive CRIU: one request over `stasis swrk` or a service socket, the
 * notifications answered on the way, the answer written down.
 *
 *   rpc-client [-o OUT] [-F HOOK] [-E KEY] (swrk STASIS | service SOCKET) REQUEST
 *              [-t PID] [-D DIR] [-R] [-s] [-N] [-l LOG] [-k] [-r N] [-B TYPE] [-x FIELD] [-j] [-P]
 *
 * REQUEST: version, features, check, dump, restore, pre-dump, cpuinfo-dump,
 * page-server, page-server-chld.
 * -D: the images directory, opened here (close-on-exec: stasis must take
 * it from us); -R leave_running; -s rst_sibling; -N notify_scripts; -l
 * log_file; -k VERSION with keep_open first, on the same connection; -r N
 * the request N times on the connection, keep_open on all but the last;
 * -B TYPE a request of TYPE (with the same options and keep_open) first,
 * repeatable;
 * -x FIELD sets one field stasis lacks (track_mem, lazy_pages, root=PATH,
 * freeze_cgroup=PATH, pidfd_store=dgram|stream (a socket of ours of that type), external=KEY, cg_root=CTRL:PATH and exec_cmd=WORD (repeatable), ps=ADDRESS:PORT, ps_fd=N (our socket N as ps.fd), unprivileged, tls, tls_no_cn_verify,
 * tls_cacert=PATH, tls_cert=PATH, tls_key=PATH); -j shell_job; -P orphan_pts_master (the master
 * received is read from: "pts read N TEXT"); -F HOOK answers that
 * notification with a no; -E KEY answers query-ext-files with the external KEY.
 *
 * OUT gets one line per event: "notify NAME PID", "version MAJ.MIN ID",
 * "features ...", "page-server pid=N port=N", "answer TYPE success=B pid=N
 * errno=E msg=...",
 * "exit N" (stasis swrk's status).  Exit status: 0 when the answer said
 * success, 1 when it did not, 2 when the exchange itself failed.
 *
 * No run waits for ever: after 60 seconds the client writes "timeout",
 * kills the stasis swrk it started (a leftover one would hold its fds and
 * the tree it traced) and reaps it.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rpc.pb-c.h"

static FILE *out;
static const char *fail_hook;
static int pts_master = -1;	/* from orphan-pts-master */
static char *ext_key;		/* -E: the answer to query-ext-files */
static CriuOpts ext_opts = CRIU_OPTS__INIT;
static pid_t swrk_pid;		/* the stasis swrk we started */

#define CLIENT_TIMEOUT	60

/* Out of time: what we started goes with us. */
static void on_alarm(int sig)
{
	static const char msg[] = "timeout\n";
	ssize_t n;

	(void)sig;
	if (swrk_pid > 0) {
		kill(swrk_pid, SIGKILL);
		waitpid(swrk_pid, NULL, 0);
	}
	n = write(fileno(out), msg, sizeof(msg) - 1);
	_exit(n < 0 ? 3 : 2);
}

static void note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
	fflush(out);
}

static int send_req(int sk, CriuReq *req)
{
	size_t len = criu_req__get_packed_size(req);
	uint8_t *buf = malloc(len);
	int ret;

	criu_req__pack(req, buf);
	ret = send(sk, buf, len, 0) == (ssize_t)len ? 0 : -1;
	free(buf);
	return ret;
}

/* One answer; a notification comes with an fd for orphan-pts-master. */
static CriuResp *recv_resp(int sk, int *fd)
{
	static char buf[1 << 16];
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *ch;
	ssize_t n = recvmsg(sk, &mh, 0);

	*fd = -1;
	if (n <= 0)
		return NULL;
	ch = CMSG_FIRSTHDR(&mh);
	if (ch && ch->cmsg_type == SCM_RIGHTS)
		memcpy(fd, CMSG_DATA(ch), sizeof(int));
	return criu_resp__unpack(NULL, n, (uint8_t *)buf);
}

/* Answer notifications until the request's own answer comes. */
static CriuResp *exchange(int sk, CriuReq *req)
{
	CriuResp *resp;
	int fd;

	if (send_req(sk, req))
		return NULL;
	while ((resp = recv_resp(sk, &fd)) && resp->type == CRIU_REQ_TYPE__NOTIFY) {
		CriuReq ack = CRIU_REQ__INIT;
		const char *name = resp->notify ? resp->notify->script : "?";

		note("notify %s %d%s", name, resp->notify && resp->notify->has_pid ?
		     resp->notify->pid : 0, fd >= 0 ? " fd" : "");
		if (fd >= 0 && !strcmp(name, "orphan-pts-master") && pts_master < 0)
			pts_master = fd;
		else if (fd >= 0)
			close(fd);
		ack.type = CRIU_REQ_TYPE__NOTIFY;
		ack.has_notify_success = 1;
		ack.notify_success = !fail_hook || strcmp(fail_hook, name);
		if (ext_key && !strcmp(name, "query-ext-files")) {
			ext_opts.n_external = 1;
			ext_opts.external = &ext_key;
			ack.opts = &ext_opts;
		}
		criu_resp__free_unpacked(resp, NULL);
		if (send_req(sk, &ack))
			return NULL;
	}
	return resp;
}

/* Whose child the restored root is, while we are still here to ask. */
static void note_parent(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	int ppid = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (f && fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
		sscanf(p + 2, "%*c %d", &ppid);
	if (f)
		fclose(f);
	note("parent %d self %d", ppid, getpid());
}

/* What the restored tree writes to the terminal whose master we were given. */
static void note_pts(void)
{
	char buf[256] = "";
	struct pollfd p = { pts_master, POLLIN, 0 };
	ssize_t n = 0;

	if (poll(&p, 1, 2000) == 1)
		n = read(pts_master, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	buf[strcspn(buf, "\r\n")] = 0;
	note("pts read %zd %s", n, buf);
}

static int report(CriuResp *r)
{
	if (!r) {
		note("answer none");
		return 2;
	}
	if (r->version)
		note("version %d.%d %s", r->version->major_number, r->version->minor_number,
		     r->version->gitid ? r->version->gitid : "-");
	if (r->features)
		note("features mem_track=%d lazy_pages=%d pidfd_store=%d",
		     r->features->has_mem_track ? r->features->mem_track : -1,
		     r->features->has_lazy_pages ? r->features->lazy_pages : -1,
		     r->features->has_pidfd_store ? r->features->pidfd_store : -1);
	if (r->ps)
		note("page-server pid=%d port=%d", r->ps->pid, r->ps->port);
	note("answer %d success=%d pid=%d errno=%d msg=%s", r->type, r->success,
	     r->restore ? r->restore->pid : 0, r->cr_errno, r->cr_errmsg ? r->cr_errmsg : "");
	if (r->restore && r->success)
		note_parent(r->restore->pid);
	if (pts_master >= 0)
		note_pts();
	return r->success ? 0 : 1;
}

/* ps_fd=N: a page-server socket of ours, given as ps.fd (swrk's fd 4). */
static CriuPageServerInfo ps_info = CRIU_PAGE_SERVER_INFO__INIT;

static int connect_swrk(const char *stasis, pid_t *child)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -1;
	*child = fork();
	if (*child == 0) {
		dup2(sv[1], 3);
		if (ps_info.has_fd && dup2(ps_info.fd, 4) != 4)
			_exit(127);
		syscall(SYS_close_range, ps_info.has_fd ? 5 : 4, ~0U, 0);
		execl(stasis, stasis, "swrk", "3", (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	return sv[0];
}

static int connect_service(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int sk = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (sk < 0 || connect(sk, (struct sockaddr *)&a, sizeof(a)))
		return -1;
	return sk;
}

static CriuReqType req_type(const char *name)
{
	static const struct { const char *n; CriuReqType t; } types[] = {
		{ "version", CRIU_REQ_TYPE__VERSION }, { "features", CRIU_REQ_TYPE__FEATURE_CHECK },
		{ "check", CRIU_REQ_TYPE__CHECK }, { "dump", CRIU_REQ_TYPE__DUMP },
		{ "restore", CRIU_REQ_TYPE__RESTORE }, { "pre-dump", CRIU_REQ_TYPE__PRE_DUMP },
		{ "cpuinfo-dump", CRIU_REQ_TYPE__CPUINFO_DUMP },
		{ "page-server", CRIU_REQ_TYPE__PAGE_SERVER },
		{ "page-server-chld", CRIU_REQ_TYPE__PAGE_SERVER_CHLD },
	};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(types[i].n, name))
			return types[i].t;
	return CRIU_REQ_TYPE__EMPTY;
}

/* ps=ADDRESS:PORT: the page server of a dump. */
static void set_ps(CriuOpts *o, const char *arg)
{
	static CriuPageServerInfo ps = CRIU_PAGE_SERVER_INFO__INIT;
	static char addr[64];
	const char *colon = strrchr(arg, ':');

	if (!colon || colon - arg >= (long)sizeof(addr))
		return;
	memcpy(addr, arg, colon - arg);
	ps.address = addr;
	ps.has_port = 1;
	ps.port = atoi(colon + 1);
	o->ps = &ps;
}

static void set_field(CriuOpts *o, const char *f)
{
	if (!strcmp(f, "track_mem"))
		o->has_track_mem = o->track_mem = 1;
	else if (!strcmp(f, "lazy_pages"))
		o->has_lazy_pages = o->lazy_pages = 1;
	else if (!strncmp(f, "root=", 5))
		o->root = (char *)f + 5;
	else if (!strncmp(f, "external=", 9)) {
		static char *keys[64];

		if (o->n_external < 64)
			keys[o->n_external++] = (char *)f + 9;
		o->external = keys;
	} else if (!strncmp(f, "pidfd_store=", 12)) {
		o->has_pidfd_store_sk = 1;
		o->pidfd_store_sk = socket(AF_UNIX, strcmp(f + 12, "dgram") ? SOCK_STREAM : SOCK_DGRAM, 0);
	} else if (!strncmp(f, "exec_cmd=", 9)) {
		static char *words[16];

		if (o->n_exec_cmd < 16)
			words[o->n_exec_cmd++] = (char *)f + 9;
		o->exec_cmd = words;
	} else if (!strncmp(f, "cg_root=", 8)) {
		static CgroupRoot roots[64], *rp[64];
		char *colon = strchr(f + 8, ':');

		if (o->n_cg_root < 64 && colon) {
			roots[o->n_cg_root] = (CgroupRoot)CGROUP_ROOT__INIT;
			roots[o->n_cg_root].ctrl = strndup(f + 8, colon - f - 8);
			roots[o->n_cg_root].path = colon + 1;
			rp[o->n_cg_root] = &roots[o->n_cg_root];
			o->n_cg_root++;
		}
		o->cg_root = rp;
	} else if (!strncmp(f, "freeze_cgroup=", 14))
		o->freeze_cgroup = (char *)f + 14;
	else if (!strncmp(f, "ps=", 3))
		set_ps(o, f + 3);
	else if (!strncmp(f, "ps_fd=", 6)) {
		ps_info.has_fd = 1;
		ps_info.fd = atoi(f + 6);
		o->ps = &ps_info;
	}
	else if (!strcmp(f, "unprivileged"))
		o->has_unprivileged = o->unprivileged = 1;
	else if (!strcmp(f, "tls"))
		o->has_tls = o->tls = 1;
	else if (!strcmp(f, "tls_no_cn_verify"))
		o->has_tls_no_cn_verify = o->tls_no_cn_verify = 1;
	else if (!strncmp(f, "tls_cacert=", 11))
		o->tls_cacert = (char *)f + 11;
	else if (!strncmp(f, "tls_cert=", 9))
		o->tls_cert = (char *)f + 9;
	else if (!strncmp(f, "tls_key=", 8))
		o->tls_key = (char *)f + 8;
}

int main(int argc, char **argv)
{
	CriuReq req = CRIU_REQ__INIT;
	CriuOpts o = CRIU_OPTS__INIT;
	CriuFeatures feat = CRIU_FEATURES__INIT;
	bool keep = false, swrk;
	const char *target;
	pid_t child = 0;
	int sk, c, ret, status, repeat = 1, nr_before = 0;
	CriuReqType before[8];

	out = stdout;
	while ((c = getopt(argc, argv, "+o:F:E:")) != -1) {
		if (c == 'o' && !(out = fopen(optarg, "a")))
			return 2;
		if (c == 'F')
			fail_hook = optarg;
		if (c == 'E')
			ext_key = optarg;
	}
	if (argc - optind < 3)
		return 2;
	swrk = !strcmp(argv[optind], "swrk");
	target = argv[optind + 1];
	req.type = req_type(argv[optind + 2]);
	optind += 3;
	while ((c = getopt(argc, argv, "t:D:RsNl:kr:B:x:jP")) != -1) {
		switch (c) {
		case 't': o.has_pid = 1; o.pid = atoi(optarg); break;
		case 'D': o.images_dir_fd = open(optarg, O_RDONLY | O_DIRECTORY | O_CLOEXEC); break;
		case 'R': o.has_leave_running = o.leave_running = 1; break;
		case 's': o.has_rst_sibling = o.rst_sibling = 1; break;
		case 'N': o.has_notify_scripts = o.notify_scripts = 1; break;
		case 'l': o.log_file = optarg; break;
		case 'k': keep = true; break;
		case 'r': repeat = atoi(optarg); break;
		case 'B':
			if (nr_before < 8)
				before[nr_before++] = req_type(optarg);
			break;
		case 'x': set_field(&o, optarg); break;
		case 'j': o.has_shell_job = o.shell_job = 1; break;
		case 'P': o.has_orphan_pts_master = o.orphan_pts_master = 1; break;
		}
	}
	signal(SIGALRM, on_alarm);
	alarm(CLIENT_TIMEOUT);
	sk = swrk ? connect_swrk(target, &child) : connect_service(target);
	swrk_pid = child;
	if (sk < 0) {
		note("connect failed: %m");
		return 2;
	}
	/* swrk: the number the socket has there; the service takes ours. */
	if (swrk && ps_info.has_fd)
		ps_info.fd = 4;
	o.has_log_level = 1;
	o.log_level = 4;
	req.opts = &o;
	if (req.type == CRIU_REQ_TYPE__FEATURE_CHECK) {
		feat.has_mem_track = feat.has_lazy_pages = feat.has_pidfd_store = 1;
		req.features = &feat;
	}
	if (keep) {
		CriuReq v = CRIU_REQ__INIT;

		v.type = CRIU_REQ_TYPE__VERSION;
		v.has_keep_open = v.keep_open = 1;
		report(exchange(sk, &v));
	}
	for (int i = 0; i < nr_before; i++) {
		CriuReq b = req;

		b.type = before[i];
		b.has_keep_open = b.keep_open = 1;
		report(exchange(sk, &b));
	}
	for (ret = 0; !ret && repeat-- > 0;) {
		req.has_keep_open = req.keep_open = repeat > 0;
		ret = report(exchange(sk, &req));
	}
	close(sk);
	if (child > 0 && waitpid(child, &status, 0) == child)
		note("exit %d", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return ret;
}
