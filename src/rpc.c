/*
 * rpc.c - CRIU's RPC server: `stasis swrk FD` and `stasis service`.
 *
 * Each message is one SOCK_SEQPACKET packet holding a packed criu_req
 * (from the client) or criu_resp (from us); no length before it.  One
 * request is served per connection unless it asks keep_open.  While a
 * dump or restore runs, the hooks of notify.c may send NOTIFY answers
 * and read the client's NOTIFY requests back on the same socket.
 *
 * The client's fds (images_dir_fd, work_dir_fd, status_fd) are numbers
 * in the client: stasis takes its own copies with pidfd_getfd() from the
 * peer the socket names (SO_PEERCRED) and works on /proc/self/fd/N.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arch/x86/cpuinfo.h"
#include "check.h"
#include "log.h"
#include "notify.h"
#include "page-server.h"
#include "rpc.h"
#include "rpc.pb-c.h"

/* The version go-criu's gates see: CRIU 4.2's interface, by stasis. */
#define RPC_VERSION_MAJOR	4
#define RPC_VERSION_MINOR	2
#define RPC_GITID		"stasis"
#define RPC_LOG_DEFAULT		"criu.log"

int cr_dump(const struct opts *o);
int cr_check(const struct opts *o);
int cr_restore(const struct opts *o, int *exit_code, pid_t *root);
int restore_exec_cmd(char *const *cmd, int out_fd);

/* The answer to a request: its type, success, and the first error logged. */
static int answer(int sk, CriuResp *resp, CriuReqType type, int ret)
{
	resp->type = type;
	resp->success = !ret;
	if (ret) {
		resp->has_cr_errno = true;
		resp->cr_errno = ret < 0 ? -ret : EINVAL;
		resp->cr_errmsg = (char *)log_first_err();
	}
	return rpc_send_resp(sk, resp, -1);
}

/* "/proc/self/fd/N" for our copy of the client's fd @fd. */
static const char *peer_dir(pid_t peer, int fd, const char *what)
{
	char path[64];
	struct stat st;
	int ours = rpc_peer_fd(peer, fd);

	if (ours < 0)
		return NULL;
	if (fstat(ours, &st) || !S_ISDIR(st.st_mode)) {
		pr_err("RPC field %s: fd %d of the client is not a directory", what, fd);
		close(ours);
		return NULL;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", ours);
	return strdup(path);
}

/* The directories and the log, first: every later error lands in the log. */
static int setup_dirs_log(CriuOpts *r, struct opts *o, pid_t peer, bool need_dir)
{
	char path[4096];

	if (r->images_dir_fd != -1)
		o->images_dir = peer_dir(peer, r->images_dir_fd, "images_dir_fd");
	else if (r->images_dir)
		o->images_dir = r->images_dir;
	else if (need_dir) {
		pr_err("neither images_dir_fd nor images_dir was given by the RPC client");
		return -EINVAL;
	}
	if (!o->images_dir)
		return -EBADF;
	if (r->has_work_dir_fd && !(o->work_dir = peer_dir(peer, r->work_dir_fd, "work_dir_fd")))
		return -EBADF;
	o->verbosity = r->log_level;
	log_set_level(o->verbosity);
	if (r->has_log_to_stderr && r->log_to_stderr && !r->log_file)
		return 0;
	/* As CRIU: a check writes a log file only when asked for one. */
	if (!need_dir && !r->log_file)
		return 0;
	o->log_file = r->log_file ? r->log_file : RPC_LOG_DEFAULT;
	if (strchr(o->log_file, '/')) {
		pr_err("RPC field log_file: %s is not a plain file name", o->log_file);
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "%s/%s", o->work_dir ? o->work_dir : o->images_dir,
		 o->log_file);
	return log_open(path);
}

/*
 * The request's options on top of the command line's (service -v4 ...),
 * in @o, a copy of them with lists of its own: requests that follow on
 * the connection (keep_open) start again from the command line's.
 */
static int setup_opts(int sk, CriuReq *req, struct opts *o, bool swrk, bool need_dir)
{
	CriuOpts empty = CRIU_OPTS__INIT, *r = req->opts ? req->opts : &empty;
	struct ucred cr;
	socklen_t len = sizeof(cr);
	int ret;

	o->action = o->subaction = NULL;
	/* The service's own pidfile and status fd are not the request's. */
	o->pidfile = NULL;
	o->status_fd = -1;
	o->rpc_sk = sk;
	if (getsockopt(sk, SOL_SOCKET, SO_PEERCRED, &cr, &len)) {
		pr_perror("cannot tell who the RPC client is (SO_PEERCRED)");
		return -errno;
	}
	ret = setup_dirs_log(r, o, cr.pid, need_dir);
	if (!ret && r->config_file)
		ret = opts_config(o, r->config_file, false) ? -EINVAL : 0;
	if (!ret)
		ret = rpc_opts_apply(r, o, cr.pid, swrk);
	return ret;
}

static int do_version(int sk)
{
	CriuResp resp = CRIU_RESP__INIT;
	CriuVersion v = CRIU_VERSION__INIT;

	v.major_number = RPC_VERSION_MAJOR;
	v.minor_number = RPC_VERSION_MINOR;
	v.gitid = (char *)RPC_GITID;
	v.name = (char *)"stasis";
	resp.version = &v;
	return answer(sk, &resp, CRIU_REQ_TYPE__VERSION, 0);
}

/*
 * A feature is there when its option (if it has one) is built and the
 * kernel can do it.
 */
static bool have(const char *opt, int (*probe)(void))
{
	bool built;
	int level = log_get_level();

	if (opt && (!opts_known(opt, &built) || !built))
		return false;
	log_set_level(LOG_MSG);
	built = !probe();
	log_set_level(level);
	return built;
}

static int do_features(int sk, CriuReq *req)
{
	CriuResp resp = CRIU_RESP__INIT;
	CriuFeatures f = CRIU_FEATURES__INIT;
	CriuFeatures *ask = req->features;

	if (!ask) {
		pr_err("FEATURE_CHECK without features to check");
		return answer(sk, &resp, CRIU_REQ_TYPE__FEATURE_CHECK, -EINVAL);
	}
	/* Only what was asked is answered, as CRIU. */
	if (ask->has_mem_track) {
		f.has_mem_track = true;
		f.mem_track = have("track-mem", check_mem_dirty_track);
	}
	if (ask->has_lazy_pages) {
		f.has_lazy_pages = true;
		f.lazy_pages = have("lazy-pages", check_uffd_noncoop);
	}
	if (ask->has_pidfd_store) {
		f.has_pidfd_store = true;
		f.pidfd_store = have(NULL, check_pidfd_store);
	}
	resp.features = &f;
	return answer(sk, &resp, CRIU_REQ_TYPE__FEATURE_CHECK, 0);
}

static int do_wait_pid(int sk, CriuReq *req)
{
	CriuResp resp = CRIU_RESP__INIT;
	int status;

	if (!req->has_pid) {
		pr_err("WAIT_PID without a pid");
		return answer(sk, &resp, CRIU_REQ_TYPE__WAIT_PID, -EINVAL);
	}
	while (waitpid(req->pid, &status, 0) < 0) {
		if (errno != EINTR) {
			pr_perror("cannot wait for pid %u", req->pid);
			return answer(sk, &resp, CRIU_REQ_TYPE__WAIT_PID, -errno);
		}
	}
	resp.has_status = true;
	resp.status = status;
	return answer(sk, &resp, CRIU_REQ_TYPE__WAIT_PID, 0);
}

static int do_dump(int sk, CriuReq *req, const struct opts *o)
{
	CriuResp resp = CRIU_RESP__INIT;
	CriuDumpResp d = CRIU_DUMP_RESP__INIT;
	int ret;

	ret = cr_dump(o);
	d.has_restored = true;
	d.restored = false;
	resp.dump = &d;
	return answer(sk, &resp, req->type, ret);
}

/*
 * A pre-dump runs in a child of ours, as in CRIU: it traces the tree and
 * lets it go, and we stay as we were for the requests that follow (more
 * pre-dumps, then the dump).
 */
static int do_pre_dump(int sk, CriuReq *req, const struct opts *o)
{
	CriuResp resp = CRIU_RESP__INIT;
	int status, ret;
	pid_t pid;

	pid = fork();
	if (pid < 0) {
		pr_perror("pre-dump: fork");
		return answer(sk, &resp, req->type, -errno);
	}
	if (!pid)
		_exit(cr_dump(o) ? 1 : 0);
	while ((ret = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	ret = ret < 0 ? -errno : WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -EIO;
	return answer(sk, &resp, req->type, ret);
}

/*
 * PAGE_SERVER: a page server in a session of its own (as `page-server
 * -d`); PAGE_SERVER_CHLD: one that stays our child.  Either way the
 * answer waits until it listens, and carries its pid and port (the one
 * the kernel picked when the request asked none).
 */
static int do_page_server(int sk, CriuReq *req, struct opts *o)
{
	CriuResp resp = CRIU_RESP__INIT;
	CriuPageServerInfo ps = CRIU_PAGE_SERVER_INFO__INIT;
	struct ps_started st;
	int p[2], status, ret = 0;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC)) {
		pr_perror("page server: pipe");
		return answer(sk, &resp, req->type, -errno);
	}
	o->restore_detached = req->type == CRIU_REQ_TYPE__PAGE_SERVER;
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		pr_perror("page server: fork");
	} else if (!pid) {
		close(p[0]);
		close(sk);
		/* The socket is the parent's: the hooks run scripts only here. */
		o->rpc_sk = -1;
		page_server_report_to(p[1]);
		_exit(cr_page_server(o) ? 1 : 0);
	}
	close(p[1]);
	/* The daemon's parent ends once its child serves (or failed). */
	if (!ret && o->restore_detached) {
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			ret = -EIO;
	}
	if (!ret && read(p[0], &st, sizeof(st)) != sizeof(st)) {
		pr_err("page server: it ended before it listened");
		ret = -EIO;
	}
	close(p[0]);
	if (!ret) {
		ps.has_pid = ps.has_port = true;
		ps.pid = st.pid;
		ps.port = st.port;
		resp.ps = &ps;
	}
	return answer(sk, &resp, req->type, ret);
}

/*
 * An RPC restore is always detached: the answer carries the root's pid.
 * With exec_cmd, as CRIU, we then become the command, its output in the log.
 */
static int do_restore(int sk, CriuReq *req, struct opts *o)
{
	CriuResp resp = CRIU_RESP__INIT;
	CriuRestoreResp r = CRIU_RESTORE_RESP__INIT;
	int code, ret;
	pid_t root = 0;

	o->restore_detached = true;
	ret = cr_restore(o, &code, &root);
	r.pid = root;
	resp.restore = &r;
	ret = answer(sk, &resp, req->type, ret) ?: ret;
	if (ret || !o->exec_cmd)
		return ret;
	close(sk);
	return restore_exec_cmd(o->exec_cmd, log_get_fd());
}

/* A request that needs options, once they are set up in @o. */
static int run_request(int sk, CriuReq *req, struct opts *o)
{
	CriuResp resp = CRIU_RESP__INIT;
	int ret;

	switch (req->type) {
	case CRIU_REQ_TYPE__DUMP:
		o->action = "dump";
		return do_dump(sk, req, o);
	case CRIU_REQ_TYPE__RESTORE:
		o->action = "restore";
		return do_restore(sk, req, o);
	case CRIU_REQ_TYPE__PRE_DUMP:
	case CRIU_REQ_TYPE__SINGLE_PRE_DUMP:
		o->action = "pre-dump";
		return do_pre_dump(sk, req, o);
	case CRIU_REQ_TYPE__PAGE_SERVER:
	case CRIU_REQ_TYPE__PAGE_SERVER_CHLD:
		o->action = "page-server";
		return do_page_server(sk, req, o);
	case CRIU_REQ_TYPE__CHECK:
		o->action = "check";
		ret = cr_check(o);
		break;
	default:
		o->action = "cpuinfo";
		o->subaction = req->type == CRIU_REQ_TYPE__CPUINFO_DUMP ? "dump" : "check";
		ret = cr_cpuinfo(o);
		break;
	}
	return answer(sk, &resp, req->type, ret);
}

static int do_request(int sk, CriuReq *req, const struct opts *base, bool swrk)
{
	CriuResp resp = CRIU_RESP__INIT;
	bool need_dir = req->type == CRIU_REQ_TYPE__DUMP || req->type == CRIU_REQ_TYPE__RESTORE ||
			req->type == CRIU_REQ_TYPE__PRE_DUMP ||
			req->type == CRIU_REQ_TYPE__SINGLE_PRE_DUMP;
	struct opts o;
	int ret;

	switch (req->type) {
	case CRIU_REQ_TYPE__VERSION:
		return do_version(sk);
	case CRIU_REQ_TYPE__FEATURE_CHECK:
		return do_features(sk, req);
	case CRIU_REQ_TYPE__WAIT_PID:
		return do_wait_pid(sk, req);
	case CRIU_REQ_TYPE__DUMP:
	case CRIU_REQ_TYPE__RESTORE:
	case CRIU_REQ_TYPE__CHECK:
	case CRIU_REQ_TYPE__CPUINFO_DUMP:
	case CRIU_REQ_TYPE__CPUINFO_CHECK:
	case CRIU_REQ_TYPE__PRE_DUMP:
	case CRIU_REQ_TYPE__SINGLE_PRE_DUMP:
		break;
	case CRIU_REQ_TYPE__PAGE_SERVER:
	case CRIU_REQ_TYPE__PAGE_SERVER_CHLD:
		need_dir = true;
		break;
	default:
		pr_err("RPC request of unknown type %d", req->type);
		return answer(sk, &resp, CRIU_REQ_TYPE__EMPTY, -EINVAL);
	}
	if (opts_copy(&o, base))
		return answer(sk, &resp, req->type, -ENOMEM);
	ret = setup_opts(sk, req, &o, swrk, need_dir);
	ret = ret ? answer(sk, &resp, req->type, ret) : run_request(sk, req, &o);
	opts_copy_free(&o, base);
	return ret;
}

/*
 * Requests on @sk until one without keep_open.  A dump or a restore
 * changes the process for good (the tree it traced, its log, its fds):
 * it is always the last request, as in CRIU.
 */
static int serve(int sk, const struct opts *base, bool swrk)
{
	bool more, after_pre_dump = false;
	CriuReq *req;
	int ret;

	do {
		log_first_err_reset();
		ret = rpc_recv_req(sk, &req);
		/*
		 * runc asks one PRE_DUMP per swrk and then closes its end: the
		 * pre-dump is done, not broken (CRIU exits 1 there, which runc
		 * forgives only when no notification came in between).
		 */
		if (ret == -ECONNRESET && after_pre_dump)
			return 0;
		if (ret)
			return ret;
		after_pre_dump = req->type == CRIU_REQ_TYPE__PRE_DUMP;
		/* After a PRE_DUMP, as in CRIU, more pre-dumps or the dump follow. */
		more = req->type == CRIU_REQ_TYPE__PRE_DUMP ||
		       (req->keep_open && req->type != CRIU_REQ_TYPE__DUMP &&
			req->type != CRIU_REQ_TYPE__RESTORE);
		ret = do_request(sk, req, base, swrk);
		criu_req__free_unpacked(req, NULL);
	} while (!ret && more);
	return ret;
}

int cr_swrk(const struct opts *o)
{
	struct stat st;
	int sk = -1, type = 0;
	socklen_t len = sizeof(type);
	char *end;

	if (o->subaction)
		sk = strtol(o->subaction, &end, 10);
	if (!o->subaction || *end || sk < 0) {
		pr_err("usage: stasis swrk FD (a SOCK_SEQPACKET socket)");
		return -EINVAL;
	}
	if (fstat(sk, &st) || !S_ISSOCK(st.st_mode) ||
	    getsockopt(sk, SOL_SOCKET, SO_TYPE, &type, &len) || type != SOCK_SEQPACKET) {
		pr_err("swrk: fd %d is not a SOCK_SEQPACKET socket", sk);
		return -EINVAL;
	}
	/* Our fds are the client's to hand over; ours must not leak to the tree. */
	fcntl(sk, F_SETFD, FD_CLOEXEC);
	return serve(sk, o, true);
}

static int service_socket(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int sk;

	if (strlen(path) >= sizeof(a.sun_path)) {
		pr_err("service: --address %s is too long for a unix socket", path);
		return -ENAMETOOLONG;
	}
	strcpy(a.sun_path, path);
	sk = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sk < 0) {
		pr_perror("service: cannot create a socket");
		return -errno;
	}
	unlink(path);
	if (bind(sk, (struct sockaddr *)&a, sizeof(a)) || listen(sk, 16)) {
		pr_perror("service: cannot listen on %s", path);
		close(sk);
		return -errno;
	}
	pr_info("service: listening on %s", path);
	return sk;
}

static int service_ready(const struct opts *o)
{
	FILE *f;

	if (o->restore_detached && daemon(1, 0)) {
		pr_perror("service: cannot become a daemon");
		return -errno;
	}
	if (o->pidfile) {
		f = fopen(o->pidfile, "w");
		if (!f || fprintf(f, "%d", getpid()) < 0 || fclose(f)) {
			pr_perror("service: cannot write the pidfile %s", o->pidfile);
			return -errno;
		}
	}
	/* As CRIU, the service's own --action-script hears status-ready. */
	if (notify(o, NOTIFY_STATUS_READY, 0))
		return -ECANCELED;
	if (o->status_fd >= 0) {
		if (write(o->status_fd, "", 1) != 1)
			pr_perror("service: cannot write to --status-fd");
		close(o->status_fd);
	}
	return 0;
}

/* One client: a worker of its own, which ends with the connection. */
static void service_worker(int lsk, int sk, const struct opts *o)
{
	close(lsk);
	signal(SIGCHLD, SIG_DFL);
	_exit(serve(sk, o, false) ? 1 : 0);
}

int cr_service(const struct opts *o)
{
	const char *path = o->address ? o->address : "criu_service.socket";
	int lsk, sk, ret;

	lsk = service_socket(path);
	if (lsk < 0)
		return lsk;
	ret = service_ready(o);
	if (ret)
		goto out;
	/* Workers are reaped by the kernel: the service waits on none. */
	signal(SIGCHLD, SIG_IGN);
	for (;;) {
		pid_t pid;

		sk = accept4(lsk, NULL, NULL, SOCK_CLOEXEC);
		if (sk < 0) {
			if (errno == EINTR)
				continue;
			pr_perror("service: accept");
			ret = -errno;
			break;
		}
		pid = fork();
		if (pid == 0)
			service_worker(lsk, sk, o);
		if (pid < 0)
			pr_perror("service: cannot fork a worker");
		close(sk);
	}
out:
	close(lsk);
	return ret;
}
