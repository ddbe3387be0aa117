/*
 * opts.c - parse CRIU's command line: short and long options, "--opt=value"
 * and "--opt value", -v[N] and -vvv, and CRIU's config files.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "arch/x86/cpuinfo.h"
#include "log.h"
#include "opts.h"
#include "tls.h"

enum kind {
	SET,		/* handled by set_opt() */
	IGNORED,	/* accepted, changes nothing for stasis (as for CRIU) */
	UNSUPPORTED,	/* a feature stasis does not have yet */
};

struct opt_desc {
	const char *name;
	int has_arg;
	int val;		/* short option letter, or a number above 255 */
	enum kind kind;
};

enum {
	O_PIDFILE = 256, O_TIMEOUT, O_CONFIG, O_NO_DEF_CONFIG, O_FEATURE, O_CPU_CAP,
	O_EXTRA, O_EXPERIMENTAL, O_ALL, O_GHOST_LIMIT, O_LINK_REMAP, O_NO_LINK_REMAP, O_FORCE_IRMAP, O_IRMAP_SCAN_PATH,
	O_TRACK_MEM, O_PREV_IMAGES_DIR, O_AUTO_DEDUP, O_FREEZE_CGROUP,
	O_EXTERNAL, O_INHERIT_FD, O_EMPTY_NS, O_TCP_ESTABLISHED, O_TCP_CLOSE, O_SKIP_IN_FLIGHT,
	O_NETWORK_LOCK, O_EXT_SHARING, O_EXT_MASTERS,
	O_PAGE_SERVER, O_PORT, O_PS_SOCKET, O_LAZY_PAGES, O_UNPRIVILEGED,
	O_MANAGE_CG, O_CG_ROOT, O_CG_PROPS, O_CG_PROPS_FILE, O_CG_DUMP_CTL, O_CG_YARD,
	O_VETH_PAIR, O_EXEC_CMD, O_LSM, O_SKIP_MNT, O_ENABLE_FS,
	O_ACTION_SCRIPT, O_RESTORE_SIBLING, O_ORPHAN_PTS, O_ADDRESS, O_STATUS_FD,
	O_TLS, O_TLS_CACERT, O_TLS_CACRL, O_TLS_CERT, O_TLS_KEY, O_TLS_NO_CN_VERIFY,
	O_FIRST_OTHER = 1000,
};

static const struct opt_desc opt_table[] = {
	{ "tree", required_argument, 't', SET },
	{ "images-dir", required_argument, 'D', SET },
	{ "work-dir", required_argument, 'W', SET },
	{ "log-file", required_argument, 'o', SET },
	{ "verbosity", optional_argument, 'v', SET },
	{ "leave-running", no_argument, 'R', SET },
	{ "leave-stopped", no_argument, 's', SET },
	{ "shell-job", no_argument, 'j', SET },
	{ "restore-detached", no_argument, 'd', SET },
	/* CRIU's service takes -d as --daemon: the same letter, one field. */
	{ "daemon", no_argument, 'd', SET },
	{ "root", required_argument, 'r', SET },
	{ "action-script", required_argument, O_ACTION_SCRIPT, SET },
	{ "restore-sibling", no_argument, O_RESTORE_SIBLING, SET },
	{ "orphan-pts-master", no_argument, O_ORPHAN_PTS, SET },
	{ "address", required_argument, O_ADDRESS, SET },
	{ "status-fd", required_argument, O_STATUS_FD, SET },
	{ "pidfile", required_argument, O_PIDFILE, SET },
	{ "timeout", required_argument, O_TIMEOUT, SET },
	{ "config", required_argument, O_CONFIG, SET },
	{ "no-default-config", no_argument, O_NO_DEF_CONFIG, SET },
	{ "feature", required_argument, O_FEATURE, SET },
	{ "cpu-cap", optional_argument, O_CPU_CAP, SET },
	{ "extra", no_argument, O_EXTRA, SET },
	{ "experimental", no_argument, O_EXPERIMENTAL, SET },
	{ "all", no_argument, O_ALL, SET },
	{ "link-remap", no_argument, O_LINK_REMAP, SET },
	{ "no-link-remap", no_argument, O_NO_LINK_REMAP, SET },
	{ "ghost-limit", required_argument, O_GHOST_LIMIT, SET },
	{ "external", required_argument, O_EXTERNAL, SET },
	{ "inherit-fd", required_argument, O_INHERIT_FD, SET },

	/* Accepted and without effect here, as in CRIU for these actions. */
	{ "pre-dump-mode", required_argument, 0, IGNORED },
	{ "display-stats", no_argument, 0, IGNORED },
	{ "log-pid", no_argument, 0, IGNORED },
	{ "skip-in-flight", no_argument, O_SKIP_IN_FLIGHT, SET },
	{ "file-locks", no_argument, 'l', SET },
	/* With a list of inodes, as old CRIU took it: every one is allowed. */
	{ "ext-unix-sk", optional_argument, 'x', SET },
	{ "evasive-devices", no_argument, 0, IGNORED },
	{ "stream", no_argument, 0, UNSUPPORTED },
	{ "manage-cgroups", optional_argument, O_MANAGE_CG, SET },
	{ "cgroup-root", required_argument, O_CG_ROOT, SET },
	{ "cgroup-props", required_argument, O_CG_PROPS, SET },
	{ "cgroup-props-file", required_argument, O_CG_PROPS_FILE, SET },
	{ "cgroup-dump-controller", required_argument, O_CG_DUMP_CTL, SET },
	{ "cgroup-yard", required_argument, O_CG_YARD, SET },
	/* Both the same: nothing to do without an LSM, not supported with one. */
	{ "lsm-profile", required_argument, O_LSM, SET },
	{ "lsm-mount-context", required_argument, O_LSM, SET },
	{ "auto-dedup", no_argument, O_AUTO_DEDUP, SET },
	{ "remove-image-dirs", no_argument, 0, IGNORED },
	/* Ghost data runs are found with SEEK_DATA/SEEK_HOLE either way. */
	{ "ghost-fiemap", no_argument, 0, IGNORED },
	{ "no-ghost-fiemap", no_argument, 0, IGNORED },

	/* TCP: connections kept, closed, or not yet accepted and dropped. */
	{ "tcp-established", no_argument, O_TCP_ESTABLISHED, SET },
	{ "tcp-close", no_argument, O_TCP_CLOSE, SET },
	{ "tcp-skip-in-flight", no_argument, O_SKIP_IN_FLIGHT, SET },

	/* Incremental dumps: tracking armed, and the dump they build on. */
	{ "track-mem", no_argument, O_TRACK_MEM, SET },
	{ "prev-images-dir", required_argument, O_PREV_IMAGES_DIR, SET },

	/* Features to come. */
	{ "force-irmap", no_argument, O_FORCE_IRMAP, SET },
	{ "irmap-scan-path", required_argument, O_IRMAP_SCAN_PATH, SET },
	{ "network-lock", required_argument, O_NETWORK_LOCK, SET },
	{ "page-server", no_argument, O_PAGE_SERVER, SET },
	{ "port", required_argument, O_PORT, SET },
	{ "ps-socket", required_argument, O_PS_SOCKET, SET },
	{ "lazy-pages", no_argument, O_LAZY_PAGES, SET },
	/* Page-server connections under TLS (tls.c). */
	{ "tls", no_argument, O_TLS, SET },
	{ "tls-cacert", required_argument, O_TLS_CACERT, SET },
	{ "tls-cacrl", required_argument, O_TLS_CACRL, SET },
	{ "tls-cert", required_argument, O_TLS_CERT, SET },
	{ "tls-key", required_argument, O_TLS_KEY, SET },
	{ "tls-no-cn-verify", no_argument, O_TLS_NO_CN_VERIFY, SET },
	{ "freeze-cgroup", required_argument, O_FREEZE_CGROUP, SET },
	{ "namespaces", required_argument, 'n', UNSUPPORTED },
	{ "exec-cmd", no_argument, O_EXEC_CMD, SET },
	{ "enable-external-sharing", no_argument, O_EXT_SHARING, SET },
	{ "enable-external-masters", no_argument, O_EXT_MASTERS, SET },
	{ "enable-fs", required_argument, O_ENABLE_FS, SET },
	{ "veth-pair", required_argument, O_VETH_PAIR, SET },
	{ "join-ns", required_argument, 'J', SET },
	{ "shell-job-ext", no_argument, 0, UNSUPPORTED },
	{ "unprivileged", no_argument, O_UNPRIVILEGED, SET },
	{ "check-only", no_argument, 0, UNSUPPORTED },
	{ "allow-uprobes", no_argument, 0, UNSUPPORTED },
	{ "ext-mount-map", required_argument, 'M', SET },
	/*
	 * stasis has one way to restore mounts, CRIU's newer one (mount-v2);
	 * CRIU's older one, asked for by --mntns-compat-mode, builds the same tree.
	 */
	{ "mntns-compat-mode", no_argument, 0, IGNORED },
	{ "no-mntns-compat-mode", no_argument, 0, IGNORED },
	{ "empty-ns", required_argument, O_EMPTY_NS, SET },
	{ "skip-mnt", required_argument, O_SKIP_MNT, SET },
	/* stasis checks no file modes at restore: nothing to skip. */
	{ "skip-file-rwx-check", no_argument, 0, IGNORED },
	{ "weak-sysctls", no_argument, 0, IGNORED },
};

#define NR_OPTS (sizeof(opt_table) / sizeof(opt_table[0]))

/* The val getopt reports for table entry @i. */
static int opt_val(size_t i)
{
	return opt_table[i].val ? opt_table[i].val : O_FIRST_OTHER + (int)i;
}

static const struct opt_desc *find_by_val(int val)
{
	for (size_t i = 0; i < NR_OPTS; i++)
		if (opt_val(i) == val)
			return &opt_table[i];
	return NULL;
}

/*
 * A whole decimal number in [@min, @max], or an error naming @opt: atoi()
 * would read "12abc" as 12 and wrap 4294967297 round to 1.
 */
static int parse_int(const char *opt, const char *arg, long min, long max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < min || v > max) {
		pr_err("%s: '%s' is not a number from %ld to %ld\n", opt, arg, min, max);
		return 1;
	}
	*out = v;
	return 0;
}

/* A size as CRIU reads one: a number with an optional K, M or G after it. */
static int parse_size(const char *opt, const char *arg, uint64_t *out)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (*end == 'K' || *end == 'M' || *end == 'G')
		shift = *end == 'K' ? 10 : *end == 'M' ? 20 : 30;
	if (errno || end == arg || *arg == '-' || end[shift ? 1 : 0] || v > (~0ull >> shift)) {
		pr_err("%s: '%s' is not a size (a number, then K, M or G)\n", opt, arg);
		return 1;
	}
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_verbosity(const char *arg, struct opts *o)
{
	if (!arg) {
		o->verbosity++;
		return 0;
	}
	/* -vvv arrives as -v with "vv" */
	if (strspn(arg, "v") == strlen(arg)) {
		o->verbosity += strlen(arg) + 1;
		return 0;
	}
	/*
	 * "-verbosity=0" (one dash, as zdtm.py writes it) reaches us as -v
	 * with "erbosity=0": CRIU takes it, so the number after '=' counts.
	 */
	if (!strncmp(arg, "erbosity", 8))
		arg += 8 + (arg[8] == '=');
	return parse_int("-v", arg, 0, 9, &o->verbosity);
}

/* A copy of @arg appended to the list @v of @n strings: 0, or 1 said. */
static int strv_add(const char ***v, size_t *n, const char *arg)
{
	const char **nv = realloc(*v, (*n + 1) * sizeof(*nv));

	if (nv)
		*v = nv;
	if (!nv || !(arg = strdup(arg))) {
		pr_err("out of memory");
		return 1;
	}
	nv[(*n)++] = arg;
	return 0;
}

/* --external KEY: kept as given; each kind looks for the keys it knows. */
static int add_external(const char *arg, struct opts *o)
{
	/* mnt[] (:s, :m): external mounts found by stasis, as CRIU's --ext-mount-map auto. */
	if (!strncmp(arg, "mnt[]", 5)) {
		if (arg[5] && strcmp(arg + 5, ":s") && strcmp(arg + 5, ":m")) {
			pr_err("--external %s: not mnt[], mnt[]:s nor mnt[]:m\n", arg);
			return 1;
		}
		o->ext_mnt_auto = true;
		o->ext_sharing |= arg[5] && arg[6] == 's';
		o->ext_masters |= arg[5] && arg[6] == 'm';
		return 0;
	}
	return strv_add(&o->externals, &o->nr_externals, arg);
}

int opts_add_externals(struct opts *o, char *const *keys, size_t n)
{
	const char **own = malloc((o->nr_externals + 1) * sizeof(*own));

	if (!own) {
		pr_err("out of memory");
		return 1;
	}
	/* A copy of a struct opts shares the original's array: ours grows. */
	if (o->nr_externals)
		memcpy(own, o->externals, o->nr_externals * sizeof(*own));
	o->externals = own;
	for (size_t i = 0; i < n; i++)
		if (add_external(keys[i], o))
			return 1;
	return 0;
}

/*
 * --veth-pair IN=OUT[@BRIDGE], CRIU's older spelling of --external
 * veth[IN]:OUT[@BRIDGE]: the peer outside of the tree's veth IN is OUT.
 */
static int add_veth_pair(const char *arg, struct opts *o)
{
	const char *eq = strchr(arg, '=');
	char buf[256];

	if (!eq || eq == arg || !eq[1]) {
		pr_err("--veth-pair %s: not IN=OUT[@BRIDGE]\n", arg);
		return 1;
	}
	if (snprintf(buf, sizeof(buf), "veth[%.*s]:%s", (int)(eq - arg), arg, eq + 1) >=
	    (int)sizeof(buf)) {
		pr_err("--veth-pair %s: too long\n", arg);
		return 1;
	}
	return add_external(buf, o);
}

/* --ext-mount-map KEY:VALUE, CRIU's older spelling of --external mnt[KEY]:VALUE. */
static int add_ext_mount(const char *arg, struct opts *o)
{
	const char *colon = strchr(arg, ':');
	char buf[PATH_MAX + 16];

	if (!strcmp(arg, "auto")) {
		o->ext_mnt_auto = true;
		return 0;
	}
	if (!colon || colon == arg || !colon[1]) {
		pr_err("--ext-mount-map %s: not KEY:VALUE\n", arg);
		return 1;
	}
	if (snprintf(buf, sizeof(buf), "mnt[%.*s]:%s", (int)(colon - arg), arg, colon + 1) >=
	    (int)sizeof(buf)) {
		pr_err("--ext-mount-map %s: too long\n", arg);
		return 1;
	}
	return add_external(buf, o);
}

int opts_add_inherit_fd(struct opts *o, int fd, const char *key)
{
	struct opts_inherit_fd *in;
	struct stat st;

	if (fd < 0 || fstat(fd, &st)) {
		pr_err("inherit fd[%d]:%s: fd %d is not open", fd, key, fd);
		return 1;
	}
	in = realloc(o->inherit_fds, (o->nr_inherit_fds + 1) * sizeof(*in));
	if (!in) {
		pr_err("out of memory");
		return 1;
	}
	o->inherit_fds = in;
	in[o->nr_inherit_fds] = (struct opts_inherit_fd){ fd, strdup(key) };
	if (!in[o->nr_inherit_fds].key) {
		pr_err("out of memory");
		return 1;
	}
	o->nr_inherit_fds++;
	return 0;
}

/* --empty-ns net: as CRIU, only the net namespace can be left to the caller. */
static int parse_empty_ns(const char *arg, struct opts *o)
{
	if (strcmp(arg, "net")) {
		pr_err("--empty-ns %s: only \"net\" is supported", arg);
		return 1;
	}
	o->empty_ns |= CLONE_NEWNET;
	return 0;
}

/*
 * --join-ns NS:PATH|PID[,EXTRA]: the restored tree joins an existing
 * namespace.  Only net, as src/ns/net.c does it; EXTRA (user namespaces'
 * ids) has nothing to say there.
 */
static int parse_join_ns(const char *arg, struct opts *o)
{
	static char path[4096];
	const char *what = arg + 4;
	size_t n = strcspn(what, ",");
	char *end;
	long pid;

	if (strncmp(arg, "net:", 4) || !n) {
		pr_err("--join-ns %s: only \"net:PATH\" or \"net:PID\" is supported", arg);
		return 1;
	}
	pid = strtol(what, &end, 10);
	if (end == what + n && pid > 0)
		snprintf(path, sizeof(path), "/proc/%ld/ns/net", pid);
	else
		snprintf(path, sizeof(path), "%.*s", (int)n, what);
	o->join_ns_net = path;
	return 0;
}

/* --inherit-fd fd[N]:KEY: our fd N stands for the file the images name KEY. */
static int add_inherit_fd(const char *arg, struct opts *o)
{
	int fd, n = -1;

	if (sscanf(arg, "fd[%d]%n", &fd, &n) != 1 || n < 0 || arg[n] != ':' || !arg[n + 1] ||
	    fd < 0) {
		pr_err("--inherit-fd %s: not fd[N]:KEY", arg);
		return 1;
	}
	return opts_add_inherit_fd(o, fd, arg + n + 1);
}

/* --action-script PATH: run at each hook (notify.c), in the order given. */
static int add_script(const char *arg, struct opts *o)
{
	return strv_add(&o->scripts, &o->nr_scripts, arg);
}

/* Append a copy of @arg to the list *@v of *@n. */
static int add_str(const char ***v, size_t *n, const char *arg)
{
	const char **s = realloc(*v, (*n + 1) * sizeof(*s));

	if (!s || !(arg = strdup(arg))) {
		pr_err("out of memory");
		return 1;
	}
	*v = s;
	s[(*n)++] = arg;
	return 0;
}

/* CRIU's modes; no argument is soft, as there. */
static int parse_cg_mode(const char *arg, struct opts *o)
{
	static const struct {
		const char *name;
		unsigned int mode;
	} modes[] = {
		{ "none", CG_MODE_NONE }, { "props", CG_MODE_PROPS }, { "soft", CG_MODE_SOFT },
		{ "full", CG_MODE_FULL }, { "strict", CG_MODE_STRICT }, { "ignore", CG_MODE_IGNORE },
	};

	if (!arg) {
		o->manage_cgroups = CG_MODE_SOFT;
		return 0;
	}
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (!strcmp(arg, modes[i].name)) {
			o->manage_cgroups = modes[i].mode;
			return 0;
		}
	}
	pr_err("--manage-cgroups: unknown mode '%s' (none, props, soft, full, strict, ignore)", arg);
	return 1;
}

/* "[CONTROLLER:]/PATH": the cgroups the tree is restored under. */
static int add_cg_root(const char *arg, struct opts *o)
{
	struct opts_cg_root *r = realloc(o->cg_roots, (o->nr_cg_roots + 1) * sizeof(*r));
	char *copy = strdup(arg), *colon;

	if (!r || !copy) {
		free(copy);
		pr_err("out of memory");
		return 1;
	}
	o->cg_roots = r;
	r += o->nr_cg_roots;
	colon = copy[0] == '/' ? NULL : strchr(copy, ':');
	r->controller = colon ? copy : NULL;
	if (colon)
		*colon = '\0';
	r->path = colon ? colon + 1 : copy;
	if (r->path[0] != '/') {
		pr_err("--cgroup-root %s: the path must be absolute ([controller:]/path)", arg);
		free(copy);
		return 1;
	}
	o->nr_cg_roots++;
	return 0;
}

/* CRIU's methods; iptables is not there yet, and says so. */
static int parse_network_lock(const char *arg, struct opts *o)
{
	if (!strcmp(arg, "nftables"))
		o->network_lock = NETWORK_LOCK_NFTABLES;
	else if (!strcmp(arg, "skip") || !strcmp(arg, "none"))
		o->network_lock = NETWORK_LOCK_SKIP;
	else if (!strcmp(arg, "iptables"))
		o->network_lock = NETWORK_LOCK_IPTABLES;
	else {
		pr_err("--network-lock: %s is not a method (iptables, nftables, skip)\n",
			arg);
		return 1;
	}
	return 0;
}

/* As CRIU: --tls is refused at once by a build without TLS. */
static int set_tls(struct opts *o)
{
	if (!tls_usable())
		return 1;
	o->tls = true;
	return 0;
}

/*
 * CRIU's mode for a user holding CAP_CHECKPOINT_RESTORE and not
 * CAP_SYS_ADMIN: it does less, not otherwise.  stasis with CAP_SYS_ADMIN
 * does all it does anyway (go-criu users send it as root); without it,
 * not yet.
 */
static int set_unprivileged(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = { { 0, 0, 0 }, { 0, 0, 0 } };

	if (syscall(SYS_capget, &h, d) || !(d[0].effective & (1u << CAP_SYS_ADMIN))) {
		pr_err("not supported yet: --unprivileged without CAP_SYS_ADMIN\n");
		return 1;
	}
	pr_info("--unprivileged: stasis has CAP_SYS_ADMIN, nothing to lower\n");
	return 0;
}

/*
 * --lsm-profile TYPE:NAME and --lsm-mount-context CTX set the restored
 * tree's security labels.  stasis restores none yet: without an LSM with
 * task labels (reading /proc/self/attr/current says EINVAL) there is
 * nothing to set and the option is taken, saying so; with one, the label
 * asked for could not be set, and the option is refused.
 */
static int check_lsm(const char *arg)
{
	char buf[256];
	int fd = open("/proc/self/attr/current", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	int err = errno;

	if (fd >= 0)
		close(fd);
	if (n < 0 && (err == EINVAL || err == ENOENT)) {
		pr_info("no LSM is active: the security label %s has nothing to apply\n", arg);
		return 0;
	}
	pr_err("not supported yet: --lsm-profile or --lsm-mount-context %s with an LSM active\n",
	       arg);
	return 1;
}

/* --exec-cmd was given: the words after the action are the command. */
static bool exec_cmd_asked;

/* As CRIU: restore only, not detached, and a command to run. */
static int take_exec_cmd(int argc, char **argv, struct opts *o)
{
	if (!o->action || strcmp(o->action, "restore")) {
		pr_err("--exec-cmd is for restore only\n");
		return 1;
	}
	if (o->restore_detached) {
		pr_err("--exec-cmd and --restore-detached cannot go together\n");
		return 1;
	}
	if (optind >= argc) {
		pr_err("--exec-cmd needs a command after the action (restore --exec-cmd -- CMD ...)\n");
		return 1;
	}
	/* argv ends with NULL, as execvp() wants it. */
	o->exec_cmd = &argv[optind];
	optind = argc;
	return 0;
}

static int set_opt(int val, const char *arg, struct opts *o)
{
	switch (val) {
	case 't': return parse_int("-t", arg, 1, INT_MAX, &o->tree);
	case 'D': o->images_dir = arg; break;
	case 'W': o->work_dir = arg; break;
	case 'o': o->log_file = arg; break;
	case 'v': return parse_verbosity(arg, o);
	case 'R': o->leave_running = true; break;
	case 's': o->leave_stopped = true; break;
	case 'j': o->shell_job = true; break;
	case 'd': o->restore_detached = true; break;
	case O_PIDFILE: o->pidfile = arg; break;
	case O_TIMEOUT: return parse_int("--timeout", arg, 0, INT_MAX, &o->timeout);
	case O_GHOST_LIMIT: return parse_size("--ghost-limit", arg, &o->ghost_limit);
	case O_FEATURE: o->feature = arg; break;
	case O_CPU_CAP: return cpu_cap_parse(arg, &o->cpu_cap) ? 1 : 0;
	case O_EXTRA: o->check_extra = true; break;
	case O_EXPERIMENTAL: o->check_experimental = true; break;
	case O_ALL: o->check_extra = o->check_experimental = true; break;
	case O_LINK_REMAP: o->link_remap = true; break;
	case O_EXT_SHARING: o->ext_sharing = true; break;
	case O_EXT_MASTERS: o->ext_masters = true; break;
	case O_NO_LINK_REMAP: o->link_remap = false; break;
	case O_FORCE_IRMAP: o->force_irmap = true; break;
	case O_TRACK_MEM: o->track_mem = true; break;
	case O_AUTO_DEDUP: o->auto_dedup = true; break;
	case O_FREEZE_CGROUP: o->freeze_cgroup = arg; break;
	case O_PREV_IMAGES_DIR: o->prev_images_dir = arg; break;
	case O_TCP_ESTABLISHED: o->tcp_established = true; break;
	case O_TCP_CLOSE: o->tcp_close = true; break;
	case O_SKIP_IN_FLIGHT: o->skip_in_flight = true; break;
	case O_NETWORK_LOCK: return parse_network_lock(arg, o);
	case O_PAGE_SERVER: o->page_server = true; break;
	case O_LAZY_PAGES: o->lazy_pages = true; break;
	case O_PORT: return parse_int("--port", arg, 0, 65535, &o->port);
	case O_PS_SOCKET: return parse_int("--ps-socket", arg, 0, INT_MAX, &o->ps_socket);
	case O_TLS: return set_tls(o);
	case O_UNPRIVILEGED: return set_unprivileged();
	case O_TLS_CACERT: o->tls_cacert = arg; break;
	case O_TLS_CACRL: o->tls_cacrl = arg; break;
	case O_TLS_CERT: o->tls_cert = arg; break;
	case O_TLS_KEY: o->tls_key = arg; break;
	case O_TLS_NO_CN_VERIFY: o->tls_no_cn_verify = true; break;
	case 'l': o->file_locks = true; break;
	case 'x': o->ext_unix_sk = true; break;
	case O_EXTERNAL: return add_external(arg, o);
	case 'M': return add_ext_mount(arg, o);
	case O_VETH_PAIR: return add_veth_pair(arg, o);
	/* The command is what follows the action (parse_list()). */
	case O_EXEC_CMD: exec_cmd_asked = true; break;
	case O_LSM: return check_lsm(arg);
	case O_INHERIT_FD: return add_inherit_fd(arg, o);
	case O_EMPTY_NS: return parse_empty_ns(arg, o);
	case 'J': return parse_join_ns(arg, o);
	case O_ACTION_SCRIPT: return add_script(arg, o);
	case O_RESTORE_SIBLING: o->restore_sibling = true; break;
	case O_ORPHAN_PTS: o->orphan_pts_master = true; break;
	case 'r': o->root = arg; break;
	case O_ADDRESS: o->address = arg; break;
	case O_STATUS_FD: return parse_int("--status-fd", arg, 0, INT_MAX, &o->status_fd);
	case O_MANAGE_CG: return parse_cg_mode(arg, o);
	case O_CG_ROOT: return add_cg_root(arg, o);
	case O_CG_PROPS: o->cgroup_props = arg; break;
	case O_CG_PROPS_FILE: o->cgroup_props_file = arg; break;
	case O_CG_DUMP_CTL: return add_str(&o->cg_dump_ctls, &o->nr_cg_dump_ctls, arg);
	case O_CG_YARD: o->cgroup_yard = arg; break;
	case O_SKIP_MNT: return add_str(&o->skip_mnts, &o->nr_skip_mnts, arg);
	case O_ENABLE_FS: return add_str(&o->enable_fs, &o->nr_enable_fs, arg);
	/*
	 * CRIU searches these dirs for the path of a watched inode; stasis
	 * asks the inode itself (its handle, opened), so none is needed.
	 */
	case O_IRMAP_SCAN_PATH: break;
	case O_CONFIG:
	case O_NO_DEF_CONFIG:
		break;	/* handled before the command line, see opts_parse() */
	}
	return 0;
}

static void build_longopts(struct option *lo)
{
	for (size_t i = 0; i < NR_OPTS; i++) {
		lo[i].name = opt_table[i].name;
		lo[i].has_arg = opt_table[i].has_arg;
		lo[i].flag = NULL;
		lo[i].val = opt_val(i);
	}
	memset(&lo[NR_OPTS], 0, sizeof(lo[NR_OPTS]));
}

/* Parse an argv-shaped list; @what names its origin in errors. */
static int parse_list(int argc, char **argv, struct opts *o, const char *what, bool cmdline)
{
	static const char shorts[] = "t:D:W:o:v::Rsjdlx::r:n:J:M:";
	struct option lo[NR_OPTS + 1];
	int c;

	build_longopts(lo);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
		const struct opt_desc *d = find_by_val(c);

		if (c == '?' || !d) {
			pr_err("%s: unknown option or missing argument: %s\n", what,
				argv[optind - 1]);
			return 1;
		}
		if (d->kind == UNSUPPORTED) {
			pr_err("not supported yet: --%s\n", d->name);
			return 1;
		}
		if (d->kind == SET && set_opt(c, optarg, o))
			return 1;
	}
	if (cmdline) {
		if (optind < argc)
			o->action = argv[optind++];
		/* CRIU's "cpuinfo dump|check" and "swrk FD" */
		if (optind < argc && (!strcmp(o->action, "cpuinfo") || !strcmp(o->action, "swrk")))
			o->subaction = argv[optind++];
		if (exec_cmd_asked && take_exec_cmd(argc, argv, o))
			return 1;
		if (optind < argc) {
			pr_err("unexpected argument: %s\n", argv[optind]);
			return 1;
		}
	}
	return 0;
}

/* A config file holds options without their dashes, one per line. */
int opts_config(struct opts *o, const char *path, bool must_exist)
{
	char line[1024], *args[3];
	FILE *f = fopen(path, "re");
	int ret = 0;

	if (!f) {
		if (!must_exist)
			return 0;
		pr_err("cannot read config file %s\n", path);
		return 1;
	}
	while (!ret && fgets(line, sizeof(line), f)) {
		char opt[1100], *name = strtok(line, " \t\n"), *val = strtok(NULL, "\n");

		if (!name || name[0] == '#')
			continue;
		snprintf(opt, sizeof(opt), "--%s", name);
		args[0] = (char *)"config";
		args[1] = opt;
		args[2] = val;
		while (val && (*val == ' ' || *val == '\t'))
			args[2] = ++val;
		ret = parse_list(val ? 3 : 2, args, o, path, false);
	}
	fclose(f);
	return ret;
}

int opts_default_configs(struct opts *o)
{
	const char *home = getenv("HOME");
	char path[4096];
	int ret;

	ret = opts_config(o, "/etc/criu/default.conf", false);
	if (!ret && home) {
		snprintf(path, sizeof(path), "%s/.criu/default.conf", home);
		ret = opts_config(o, path, false);
	}
	return ret;
}

static int parse_configs(int argc, char **argv, struct opts *o)
{
	const char *conf = NULL;
	bool no_default = false;
	int ret = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-default-config"))
			no_default = true;
		else if (!strncmp(argv[i], "--config=", 9))
			conf = argv[i] + 9;
		else if (!strcmp(argv[i], "--config") && i + 1 < argc)
			conf = argv[i + 1];
	}
	if (!no_default)
		ret = opts_default_configs(o);
	if (!ret && conf)
		ret = opts_config(o, conf, true);
	return ret;
}

void opts_init(struct opts *o)
{
	memset(o, 0, sizeof(*o));
	o->verbosity = LOG_DEFAULT_LEVEL;
	o->images_dir = ".";
	o->cpu_cap = CPU_CAP_DEFAULT;
	o->network_lock = NETWORK_LOCK_NFTABLES;
	o->ghost_limit = OPTS_GHOST_LIMIT;
	o->status_fd = -1;
	o->ps_socket = -1;
	o->rpc_sk = -1;
	o->manage_cgroups = CG_MODE_SOFT;
}

int opts_parse(int argc, char **argv, struct opts *o)
{
	opts_init(o);
	if (parse_configs(argc, argv, o))
		return 1;
	return parse_list(argc, argv, o, "stasis", true);
}

static const struct opt_desc *find_by_name(const char *name, size_t *idx)
{
	for (size_t i = 0; i < NR_OPTS; i++) {
		if (!strcmp(opt_table[i].name, name)) {
			*idx = i;
			return &opt_table[i];
		}
	}
	return NULL;
}

bool opts_known(const char *name, bool *supported)
{
	size_t i;
	const struct opt_desc *d = find_by_name(name, &i);

	*supported = d && d->kind != UNSUPPORTED;
	return d != NULL;
}

int opts_set(struct opts *o, const char *name, const char *arg)
{
	size_t i;
	const struct opt_desc *d = find_by_name(name, &i);

	if (!d) {
		pr_err("unknown option --%s", name);
		return 1;
	}
	if (d->kind == UNSUPPORTED) {
		pr_err("not supported yet: --%s", name);
		return 1;
	}
	if ((d->has_arg == required_argument) != (arg != NULL) && d->has_arg != optional_argument) {
		pr_err("--%s: %s", name, arg ? "takes no argument" : "needs an argument");
		return 1;
	}
	return d->kind == SET ? set_opt(opt_val(i), arg, o) : 0;
}

/* A malloc'd copy of the @n entries of @size at @v (NULL for none); *@err set on failure. */
static void *dup_list(const void *v, size_t n, size_t size, bool *err)
{
	void *copy;

	if (!n)
		return NULL;
	copy = malloc(n * size);
	if (!copy) {
		*err = true;
		return NULL;
	}
	return memcpy(copy, v, n * size);
}

#define DUP_LIST(d, s, list, nr, err) \
	((d)->list = dup_list((s)->list, (s)->nr, sizeof(*(s)->list), err))

int opts_copy(struct opts *dst, const struct opts *src)
{
	bool err = false;

	*dst = *src;
	DUP_LIST(dst, src, externals, nr_externals, &err);
	DUP_LIST(dst, src, inherit_fds, nr_inherit_fds, &err);
	DUP_LIST(dst, src, scripts, nr_scripts, &err);
	DUP_LIST(dst, src, cg_roots, nr_cg_roots, &err);
	DUP_LIST(dst, src, cg_dump_ctls, nr_cg_dump_ctls, &err);
	DUP_LIST(dst, src, skip_mnts, nr_skip_mnts, &err);
	DUP_LIST(dst, src, enable_fs, nr_enable_fs, &err);
	if (err) {
		pr_err("out of memory");
		opts_copy_free(dst, src);
		return 1;
	}
	return 0;
}

/* Free the strings of @v from @from on, and @v itself. */
static void free_strv(const char **v, size_t from, size_t n)
{
	for (size_t i = from; v && i < n; i++)
		free((void *)v[i]);
	free(v);
}

void opts_copy_free(struct opts *o, const struct opts *base)
{
	free_strv(o->externals, base->nr_externals, o->nr_externals);
	free_strv(o->scripts, base->nr_scripts, o->nr_scripts);
	free_strv(o->cg_dump_ctls, base->nr_cg_dump_ctls, o->nr_cg_dump_ctls);
	free_strv(o->skip_mnts, base->nr_skip_mnts, o->nr_skip_mnts);
	free_strv(o->enable_fs, base->nr_enable_fs, o->nr_enable_fs);
	for (size_t i = base->nr_inherit_fds; o->inherit_fds && i < o->nr_inherit_fds; i++)
		free((void *)o->inherit_fds[i].key);
	free(o->inherit_fds);
	/* A root's controller and path share one string, the first of them. */
	for (size_t i = base->nr_cg_roots; o->cg_roots && i < o->nr_cg_roots; i++)
		free((void *)(o->cg_roots[i].controller ?: o->cg_roots[i].path));
	free(o->cg_roots);
	if (o->exec_cmd != base->exec_cmd)
		free(o->exec_cmd);
	o->exec_cmd = base->exec_cmd;
	o->externals = o->scripts = o->cg_dump_ctls = o->skip_mnts = o->enable_fs = NULL;
	o->nr_skip_mnts = o->nr_enable_fs = 0;
	o->inherit_fds = NULL;
	o->cg_roots = NULL;
	o->nr_externals = o->nr_scripts = o->nr_cg_dump_ctls = 0;
	o->nr_inherit_fds = o->nr_cg_roots = 0;
}

int opts_inherited_fd(const struct opts *o, const char *key)
{
	for (size_t i = 0; o && i < o->nr_inherit_fds; i++)
		if (!strcmp(o->inherit_fds[i].key, key))
			return o->inherit_fds[i].fd;
	return -1;
}

const char *opts_external_value(const struct opts *o, const char *key)
{
	size_t n = strlen(key);

	for (size_t i = 0; o && i < o->nr_externals; i++)
		if (!strncmp(o->externals[i], key, n) && o->externals[i][n] == ':')
			return o->externals[i] + n + 1;
	return NULL;
}

bool opts_external(const struct opts *o, const char *key)
{
	for (size_t i = 0; o && i < o->nr_externals; i++)
		if (!strcmp(o->externals[i], key))
			return true;
	return false;
}
