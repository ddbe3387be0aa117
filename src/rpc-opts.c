/*
 * rpc-opts.c - an RPC request's criu_opts into struct opts.
 *
 * Each field of criu_opts is named below with the command-line option it
 * stands for, and set through opts_set(): the RPC and the command line
 * share one parser, one set of checks and one "not supported yet".  The
 * few fields that have no option (fds of the client, notifications) are
 * handled here.  Fields are walked through protobuf-c's descriptor, so a
 * field that is present but absent from the table is an error, not a
 * silent no.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "arch/x86/cpuinfo.h"
#include "log.h"
#include "rpc.h"
#include "rpc.pb-c.h"

struct field_ctx {
	struct opts *o;
	CriuOpts *req;
	pid_t peer;
	bool swrk;
};

typedef int (*field_fn)(struct field_ctx *c);

struct rpc_field {
	const char *field;	/* the criu_opts field */
	const char *opt;	/* its command-line option, or NULL */
	field_fn fn;		/* or the code that takes it; both NULL: taken before */
};

int rpc_peer_fd(pid_t peer, int fd)
{
	int pidfd, ret;

	pidfd = syscall(SYS_pidfd_open, peer, 0);
	if (pidfd < 0) {
		pr_perror("cannot open a pidfd of the RPC client %d", peer);
		return -errno;
	}
	ret = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	if (ret < 0)
		pr_perror("cannot take fd %d of the RPC client %d", fd, peer);
	close(pidfd);
	return ret < 0 ? -errno : ret;
}

/* Every field whose option is not built yet is refused by its RPC name. */
static int refuse(const char *field, const char *opt)
{
	pr_err("not supported yet: RPC field %s (--%s)", field, opt);
	return -ENOTSUP;
}

static int set(struct field_ctx *c, const char *field, const char *opt, const char *arg)
{
	bool supported;

	if (!opts_known(opt, &supported) || !supported)
		return refuse(field, opt);
	return opts_set(c->o, opt, arg) ? -EINVAL : 0;
}

static int f_pid(struct field_ctx *c)
{
	char num[16];

	snprintf(num, sizeof(num), "%d", c->req->pid);
	return set(c, "pid", "tree", num);
}

/*
 * ps.fd, a socket the client connected itself (--ps-socket): in swrk ours
 * at the same number, as CRIU takes it; in the service, where CRIU
 * refuses it, taken from the client.
 */
static int f_ps_fd(struct field_ctx *c, int fd)
{
	char num[16];

	if (!c->swrk && (fd = rpc_peer_fd(c->peer, fd)) < 0)
		return fd;
	snprintf(num, sizeof(num), "%d", fd);
	return set(c, "ps.fd", "ps-socket", num);
}

/*
 * The page server a dump sends its pages to (with tls and its fields,
 * under TLS), or the page server a PAGE_SERVER request starts.
 */
static int f_ps(struct field_ctx *c)
{
	CriuPageServerInfo *ps = c->req->ps;
	char port[16];

	if (ps->has_fd)
		return set(c, "ps", "page-server", NULL) ?: f_ps_fd(c, ps->fd);
	snprintf(port, sizeof(port), "%d", ps->has_port ? ps->port : 0);
	return set(c, "ps", "page-server", NULL) ?: set(c, "ps.port", "port", port) ?:
	       (ps->address ? set(c, "ps.address", "address", ps->address) : 0);
}

static int f_notify(struct field_ctx *c)
{
	c->o->notify_rpc = c->req->notify_scripts;
	return 0;
}

/* CRIU allows it in swrk only: the root is made a child of our parent. */
static int f_sibling(struct field_ctx *c)
{
	if (c->req->rst_sibling && !c->swrk) {
		pr_err("RPC field rst_sibling: only in swrk mode, as in CRIU");
		return -EINVAL;
	}
	c->o->restore_sibling = c->req->rst_sibling;
	return 0;
}

/*
 * swrk: the client started us and passed the fds it names, so they are
 * ours at the same numbers (runc counts them from 4).  service: the
 * client is elsewhere; its fd is taken from it, where CRIU refuses.
 */
static int f_inherit(struct field_ctx *c)
{
	for (size_t i = 0; i < c->req->n_inherit_fd; i++) {
		InheritFd *in = c->req->inherit_fd[i];
		int fd = in->fd;

		if (!c->swrk && (fd = rpc_peer_fd(c->peer, in->fd)) < 0)
			return fd;
		if (opts_add_inherit_fd(c->o, fd, in->key))
			return -EBADF;
	}
	return 0;
}

static int f_status_fd(struct field_ctx *c)
{
	int fd = rpc_peer_fd(c->peer, c->req->status_fd);

	if (fd < 0)
		return fd;
	c->o->status_fd = fd;
	return 0;
}

static int f_cpu_cap(struct field_ctx *c)
{
	c->o->cpu_cap = c->req->cpu_cap & (CPU_CAP_ALL | CPU_CAP_IMAGE);
	return 0;
}

static int f_veths(struct field_ctx *c)
{
	char arg[256];
	int ret = 0;

	for (size_t i = 0; !ret && i < c->req->n_veths; i++) {
		snprintf(arg, sizeof(arg), "%s=%s", c->req->veths[i]->if_in,
			 c->req->veths[i]->if_out);
		ret = set(c, "veths", "veth-pair", arg);
	}
	return ret;
}

static int f_ext_mnt(struct field_ctx *c)
{
	char arg[8192];
	int ret = 0;

	for (size_t i = 0; !ret && i < c->req->n_ext_mnt; i++) {
		snprintf(arg, sizeof(arg), "%s:%s", c->req->ext_mnt[i]->key,
			 c->req->ext_mnt[i]->val);
		ret = set(c, "ext_mnt", "ext-mount-map", arg);
	}
	return ret;
}

static int f_auto_ext_mnt(struct field_ctx *c)
{
	return c->req->auto_ext_mnt ? set(c, "auto_ext_mnt", "ext-mount-map", "auto") : 0;
}

static int f_cg_root(struct field_ctx *c)
{
	char arg[8192];
	int ret = 0;

	for (size_t i = 0; !ret && i < c->req->n_cg_root; i++) {
		CgroupRoot *r = c->req->cg_root[i];

		if (r->ctrl)
			snprintf(arg, sizeof(arg), "%s:%s", r->ctrl, r->path);
		else
			snprintf(arg, sizeof(arg), "%s", r->path);
		ret = set(c, "cg_root", "cgroup-root", arg);
	}
	return ret;
}

static int f_unix_sk(struct field_ctx *c)
{
	return c->req->n_unix_sk_ino ? set(c, "unix_sk_ino", "ext-unix-sk", NULL) : 0;
}

static int f_cg_mode(struct field_ctx *c)
{
	static const char *const modes[] = {
		[CRIU_CG_MODE__IGNORE] = "ignore", [CRIU_CG_MODE__CG_NONE] = "none",
		[CRIU_CG_MODE__PROPS] = "props", [CRIU_CG_MODE__SOFT] = "soft",
		[CRIU_CG_MODE__FULL] = "full", [CRIU_CG_MODE__STRICT] = "strict",
		[CRIU_CG_MODE__DEFAULT] = "soft",
	};
	unsigned int m = c->req->manage_cgroups_mode;

	if (m >= sizeof(modes) / sizeof(modes[0])) {
		pr_err("RPC field manage_cgroups_mode: %u is not a mode", m);
		return -EINVAL;
	}
	return set(c, "manage_cgroups_mode", "manage-cgroups", modes[m]);
}

/*
 * The old switch, as CRIU reads it: true is soft, false is ignore; an
 * explicit manage_cgroups_mode wins.
 */
static int f_manage_cg(struct field_ctx *c)
{
	if (c->req->has_manage_cgroups_mode)
		return 0;
	return set(c, "manage_cgroups", "manage-cgroups", c->req->manage_cgroups ? "soft" : "ignore");
}

static int f_empty_ns(struct field_ctx *c)
{
	return c->req->empty_ns ? set(c, "empty_ns", "empty-ns", "net") : 0;
}

static int f_join_ns(struct field_ctx *c)
{
	char arg[8192];
	int ret = 0;

	for (size_t i = 0; !ret && i < c->req->n_join_ns; i++) {
		JoinNamespace *j = c->req->join_ns[i];

		snprintf(arg, sizeof(arg), "%s:%s%s%s", j->ns, j->ns_file, j->extra_opt ? "," : "",
			 j->extra_opt ? j->extra_opt : "");
		ret = set(c, "join_ns", "join-ns", arg);
	}
	return ret;
}

static int f_pre_dump_mode(struct field_ctx *c)
{
	return set(c, "pre_dump_mode", "pre-dump-mode",
		   c->req->pre_dump_mode == CRIU_PRE_DUMP_MODE__VM_READ ? "read" : "splice");
}

/* The command restore_exec_cmd() runs once the tree does; freed with the request's options. */
static int f_exec_cmd(struct field_ctx *c)
{
	char **cmd = calloc(c->req->n_exec_cmd + 1, sizeof(*cmd));

	if (!cmd) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	memcpy(cmd, c->req->exec_cmd, c->req->n_exec_cmd * sizeof(*cmd));
	c->o->exec_cmd = cmd;
	return 0;
}

/*
 * pidfd_store_sk: a datagram socket of the client's on which CRIU keeps
 * pidfds of the tasks it dumped, to tell a pid reused between pre-dumps.
 * stasis tells it by itself: a pre-dump records each task's start time
 * with its tracking (mem-track.c), and a task whose pid has another start
 * time later is dumped whole.  The socket is checked as CRIU checks it,
 * and not needed further.
 */
static int f_pidfd_store(struct field_ctx *c)
{
	struct sockaddr_un a;
	socklen_t len = sizeof(a);
	int type = 0, ret = 0;
	socklen_t tlen = sizeof(type);
	int fd = rpc_peer_fd(c->peer, c->req->pidfd_store_sk);

	if (fd < 0)
		return fd;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) || type != SOCK_DGRAM ||
	    getsockname(fd, (struct sockaddr *)&a, &len) || a.sun_family != AF_UNIX) {
		pr_err("RPC field pidfd_store_sk: fd %d of the client is not a unix datagram socket",
		       c->req->pidfd_store_sk);
		ret = -EINVAL;
	} else {
		pr_info("RPC field pidfd_store_sk: taken; pids reused are told by their start time");
	}
	close(fd);
	return ret;
}

static int f_network_lock(struct field_ctx *c)
{
	switch (c->req->network_lock) {
	case CRIU_NETWORK_LOCK_METHOD__IPTABLES:
		return set(c, "network_lock", "network-lock", "iptables");
	case CRIU_NETWORK_LOCK_METHOD__NFTABLES:
		return set(c, "network_lock", "network-lock", "nftables");
	case CRIU_NETWORK_LOCK_METHOD__SKIP:
		return set(c, "network_lock", "network-lock", "skip");
	default:
		break;
	}
	pr_err("RPC field network_lock: %d is not a method", c->req->network_lock);
	return -EINVAL;
}

static const struct rpc_field fields[] = {
	/* Taken before the others: the directories and the log (rpc.c). */
	{ "images_dir_fd", NULL, NULL }, { "images_dir", NULL, NULL }, { "work_dir_fd", NULL, NULL }, { "log_level", NULL, NULL },
	{ "log_file", NULL, NULL }, { "log_to_stderr", NULL, NULL }, { "config_file", NULL, NULL },

	{ "pid", NULL, f_pid },
	{ "leave_running", "leave-running", NULL },
	{ "leave_stopped", "leave-stopped", NULL },
	{ "ext_unix_sk", "ext-unix-sk", NULL },
	{ "unix_sk_ino", NULL, f_unix_sk },
	{ "tcp_established", "tcp-established", NULL },
	{ "tcp_skip_in_flight", "tcp-skip-in-flight", NULL },
	{ "tcp_close", "tcp-close", NULL },
	{ "evasive_devices", "evasive-devices", NULL },
	{ "shell_job", "shell-job", NULL },
	{ "file_locks", "file-locks", NULL },
	{ "ps", NULL, f_ps },
	{ "notify_scripts", NULL, f_notify },
	{ "root", "root", NULL },
	{ "parent_img", "prev-images-dir", NULL },
	{ "track_mem", "track-mem", NULL },
	{ "auto_dedup", "auto-dedup", NULL },
	{ "link_remap", "link-remap", NULL },
	{ "veths", NULL, f_veths },
	{ "cpu_cap", NULL, f_cpu_cap },
	{ "force_irmap", "force-irmap", NULL },
	{ "exec_cmd", NULL, f_exec_cmd },
	{ "ext_mnt", NULL, f_ext_mnt },
	{ "auto_ext_mnt", NULL, f_auto_ext_mnt },
	{ "manage_cgroups", NULL, f_manage_cg },
	{ "manage_cgroups_mode", NULL, f_cg_mode },
	{ "cg_root", NULL, f_cg_root },
	{ "rst_sibling", NULL, f_sibling },
	{ "inherit_fd", NULL, f_inherit },
	{ "ext_sharing", "enable-external-sharing", NULL },
	{ "ext_masters", "enable-external-masters", NULL },
	{ "skip_mnt", "skip-mnt", NULL },
	{ "enable_fs", "enable-fs", NULL },
	{ "ghost_limit", "ghost-limit", NULL },
	{ "irmap_scan_paths", "irmap-scan-path", NULL },
	{ "external", "external", NULL },
	{ "empty_ns", NULL, f_empty_ns },
	{ "join_ns", NULL, f_join_ns },
	{ "cgroup_props", "cgroup-props", NULL },
	{ "cgroup_props_file", "cgroup-props-file", NULL },
	{ "cgroup_dump_controller", "cgroup-dump-controller", NULL },
	{ "cgroup_yard", "cgroup-yard", NULL },
	{ "freeze_cgroup", "freeze-cgroup", NULL },
	{ "timeout", "timeout", NULL },
	{ "weak_sysctls", "weak-sysctls", NULL },
	{ "lazy_pages", "lazy-pages", NULL },
	{ "status_fd", NULL, f_status_fd },
	{ "orphan_pts_master", "orphan-pts-master", NULL },
	{ "lsm_profile", "lsm-profile", NULL },
	{ "lsm_mount_context", "lsm-mount-context", NULL },
	{ "tls_cacert", "tls-cacert", NULL },
	{ "tls_cacrl", "tls-cacrl", NULL },
	{ "tls_cert", "tls-cert", NULL },
	{ "tls_key", "tls-key", NULL },
	{ "tls", "tls", NULL },
	{ "tls_no_cn_verify", "tls-no-cn-verify", NULL },
	{ "pre_dump_mode", NULL, f_pre_dump_mode },
	{ "pidfd_store_sk", NULL, f_pidfd_store },
	{ "network_lock", NULL, f_network_lock },
	{ "mntns_compat_mode", "mntns-compat-mode", NULL },
	{ "skip_file_rwx_check", "skip-file-rwx-check", NULL },
	{ "unprivileged", "unprivileged", NULL },
	{ "display_stats", "display-stats", NULL },
};

#define NR_FIELDS (sizeof(fields) / sizeof(fields[0]))

static const struct rpc_field *find_field(const char *name)
{
	for (size_t i = 0; i < NR_FIELDS; i++)
		if (!strcmp(fields[i].field, name))
			return &fields[i];
	return NULL;
}

/* Where a field's value lives, and whether the client set it. */
static bool present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	const char *base = (const char *)m;

	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return *(const size_t *)(base + f->quantifier_offset) != 0;
	if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE)
		return *(const void *const *)(base + f->offset) != NULL;
	if (f->label == PROTOBUF_C_LABEL_REQUIRED)
		return true;
	return *(const protobuf_c_boolean *)(base + f->quantifier_offset);
}

/* What the client asked, field by field, for whoever reads the log. */
static void log_field(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	const char *base = (const char *)m;

	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		pr_debug("RPC field %s: %zu entries", f->name,
			 *(const size_t *)(base + f->quantifier_offset));
	else if (f->type == PROTOBUF_C_TYPE_STRING)
		pr_debug("RPC field %s: %s", f->name, *(const char *const *)(base + f->offset));
	else if (f->type == PROTOBUF_C_TYPE_BOOL)
		pr_debug("RPC field %s: %s", f->name,
			 *(const protobuf_c_boolean *)(base + f->offset) ? "true" : "false");
	else if (f->type == PROTOBUF_C_TYPE_MESSAGE)
		pr_debug("RPC field %s: given", f->name);
	else
		pr_debug("RPC field %s: %d", f->name, *(const int32_t *)(base + f->offset));
}

/* A field with an option of its own: its value as that option's argument. */
static int apply_plain(struct field_ctx *c, const ProtobufCFieldDescriptor *f,
		       const struct rpc_field *r)
{
	const char *base = (const char *)c->req;
	char num[24];

	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		size_t n = *(const size_t *)(base + f->quantifier_offset);
		char **v = *(char **const *)(base + f->offset);
		int ret = 0;

		if (f->type != PROTOBUF_C_TYPE_STRING)
			return refuse(r->field, r->opt);
		for (size_t i = 0; !ret && i < n; i++)
			ret = set(c, r->field, r->opt, v[i]);
		return ret;
	}
	switch (f->type) {
	case PROTOBUF_C_TYPE_BOOL:
		/* false is every option's default: nothing to say. */
		return *(const protobuf_c_boolean *)(base + f->offset) ?
			set(c, r->field, r->opt, NULL) : 0;
	case PROTOBUF_C_TYPE_INT32:
		snprintf(num, sizeof(num), "%d", *(const int32_t *)(base + f->offset));
		return set(c, r->field, r->opt, num);
	case PROTOBUF_C_TYPE_UINT32:
		snprintf(num, sizeof(num), "%u", *(const uint32_t *)(base + f->offset));
		return set(c, r->field, r->opt, num);
	case PROTOBUF_C_TYPE_STRING:
		return set(c, r->field, r->opt, *(const char *const *)(base + f->offset));
	default:
		pr_err("RPC field %s: unexpected type", r->field);
		return -EINVAL;
	}
}

int rpc_opts_apply(CriuOpts *req, struct opts *o, pid_t peer, bool swrk)
{
	const ProtobufCMessageDescriptor *d = &criu_opts__descriptor;
	struct field_ctx c = { o, req, peer, swrk };
	int ret = 0;

	/* Every field is looked at: the log names each one refused, the answer the first. */
	for (unsigned int i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const struct rpc_field *r;
		int err = 0;

		if (!present(&req->base, f))
			continue;
		log_field(&req->base, f);
		r = find_field(f->name);
		if (!r) {
			pr_err("not supported yet: RPC field %s", f->name);
			err = -ENOTSUP;
		} else if (r->fn) {
			err = r->fn(&c);
		} else if (r->opt) {
			err = apply_plain(&c, f, r);
		}
		ret = ret ?: err;
	}
	/* As CRIU: without a pid, the client asks to be dumped itself. */
	if (!ret && !req->has_pid)
		o->tree = peer;
	return ret;
}
