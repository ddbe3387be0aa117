/*
 * opts.h - the command line, as CRIU spells it.
 *
 * Every option CRIU accepts is known here: the ones stasis implements set
 * a field below, the ones that change nothing for stasis are accepted and
 * ignored as CRIU does, and the ones for features not built yet are
 * refused with "not supported yet: --option".
 */
#ifndef STASIS_OPTS_H
#define STASIS_OPTS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* CRIU's default --ghost-limit: the most bytes an unlinked file may hold. */
#define OPTS_GHOST_LIMIT	(1u << 20)

/* --inherit-fd fd[N]:KEY */
struct opts_inherit_fd {
	int fd;
	const char *key;
};

/* --network-lock, numbered as CRIU's inventory records them. */
enum {
	NETWORK_LOCK_IPTABLES,
	NETWORK_LOCK_NFTABLES,
	NETWORK_LOCK_SKIP,
};

/* --manage-cgroups modes, as CRIU numbers them (ignore is 0). */
enum {
	CG_MODE_IGNORE = 0,
	CG_MODE_NONE = 1 << 0,
	CG_MODE_PROPS = 1 << 1,
	CG_MODE_SOFT = 1 << 2,
	CG_MODE_FULL = 1 << 3,
	CG_MODE_STRICT = 1 << 4,
};

/* --cgroup-root [CONTROLLER:]/PATH; controller NULL: every controller. */
struct opts_cg_root {
	const char *controller;
	const char *path;
};

struct opts {
	const char *action;		/* dump, restore, check, ... */
	const char *subaction;		/* cpuinfo dump|check */
	pid_t tree;			/* -t */
	const char *images_dir;		/* -D, default "." */
	const char *work_dir;		/* -W, default: the images dir */
	const char *log_file;		/* -o, relative to the work dir */
	int verbosity;			/* -v */
	bool leave_running;		/* -R */
	bool leave_stopped;		/* -s */
	bool shell_job;			/* -j */
	bool restore_detached;		/* -d */
	const char *pidfile;
	int timeout;			/* seconds; 0: none */
	uint64_t ghost_limit;		/* --ghost-limit, in allocated bytes */
	const char *feature;		/* check --feature */
	bool check_extra;		/* check --extra (or --all) */
	bool check_experimental;	/* check --experimental (or --all) */
	bool link_remap;		/* --link-remap: hard-link unlinked files back */
	bool ext_mnt_auto;		/* --external mnt[], --ext-mount-map auto */
	bool ext_sharing, ext_masters;	/* --enable-external-sharing, -masters (mnt[]:s, :m) */
	bool file_locks;		/* --file-locks: dump the locks the tree holds */
	bool ext_unix_sk;		/* --ext-unix-sk: datagram peers outside the tree */
	bool tcp_established;		/* --tcp-established: keep TCP connections */
	bool tcp_close;			/* --tcp-close: TCP connections come back closed */
	bool skip_in_flight;		/* --skip-in-flight: drop connections not accepted */
	unsigned int network_lock;	/* --network-lock: NETWORK_LOCK_* */
	bool track_mem;		/* --track-mem: arm write tracking for the next dump */
	bool auto_dedup;	/* --auto-dedup: free in the parents what the dump has again */
	const char *prev_images_dir;	/* --prev-images-dir: the parent dump, relative to -D */
	bool force_irmap;		/* --force-irmap: watches by path, not by handle */
	bool stats;			/* write stats-dump (always, as CRIU) */
	unsigned int cpu_cap;		/* --cpu-cap: CPU_CAP_* of arch/x86/cpuinfo.h */
	unsigned long empty_ns;		/* --empty-ns net: CLONE_NEWNET */
	const char *join_ns_net;	/* --join-ns net:PATH (a PID made /proc/PID/ns/net) */
	const char **externals;		/* --external KEY, as given */
	size_t nr_externals;
	struct opts_inherit_fd *inherit_fds;
	size_t nr_inherit_fds;
	bool page_server;		/* dump --page-server: pages go to --address:--port */
	const char *address;		/* --address: a page server's, or where to listen */
	int port;			/* --port */
	int ps_socket;			/* --ps-socket: a connected page-server socket; -1 */
	int status_fd;			/* --status-fd: told "ready"; -1 */
	bool lazy_pages;		/* restore --lazy-pages */
	bool tls;			/* --tls: page-server connections under TLS */
	bool tls_no_cn_verify;		/* --tls-no-cn-verify: the peer's name unchecked */
	const char *tls_cacert;		/* --tls-cacert: the only CA trusted */
	const char *tls_cacrl;		/* --tls-cacrl: revoked certificates */
	const char *tls_cert;		/* --tls-cert: ours */
	const char *tls_key;		/* --tls-key: its private key */
	char **exec_cmd;		/* restore --exec-cmd -- CMD...: NULL-terminated */
	const char **scripts;		/* --action-script PATH, in order given */
	size_t nr_scripts;
	const char *freeze_cgroup;	/* --freeze-cgroup: the tree's freezer (runc's) */
	const char *root;		/* --root: only "/" until mount namespaces */
	bool restore_sibling;		/* --restore-sibling: root is our parent's child */
	bool orphan_pts_master;		/* --orphan-pts-master: master to the RPC client */
	unsigned int manage_cgroups;	/* --manage-cgroups: CG_MODE_*, soft by default */
	struct opts_cg_root *cg_roots;	/* --cgroup-root, in order given */
	size_t nr_cg_roots;
	const char *cgroup_props;	/* --cgroup-props: controllers' property lists */
	const char *cgroup_props_file;	/* --cgroup-props-file */
	const char **cg_dump_ctls;	/* --cgroup-dump-controller: only these (none: all) */
	size_t nr_cg_dump_ctls;
	const char *cgroup_yard;	/* --cgroup-yard: hierarchies mounted there */
	const char **skip_mnts;		/* --skip-mnt PATH: mounts left out of a dump */
	size_t nr_skip_mnts;
	const char **enable_fs;		/* --enable-fs FS[,FS]: mounted anew at restore ("all") */
	size_t nr_enable_fs;
	/* RPC only: the client's socket, for notifications (notify.c); -1 */
	int rpc_sk;
	bool notify_rpc;		/* notify_scripts: ask the client at each hook */
};

/*
 * The fd --inherit-fd gave for the file the images name @key ("pipe:[N]",
 * "tty[RDEV:DEV]", "socket:[INO]"), or -1.
 */
int opts_inherited_fd(const struct opts *o, const char *key);
/* Was @key ("tty[RDEV:DEV]") named by --external? */
bool opts_external(const struct opts *o, const char *key);
/* VALUE of --external KEY:VALUE for @key ("veth[eth0]", "net[INO]"), or NULL. */
const char *opts_external_value(const struct opts *o, const char *key);

/* CRIU's defaults, before any option or config file. */
void opts_init(struct opts *o);
/*
 * One option by its long name, as given on the command line (@arg NULL
 * for one without argument).  0, or 1 after logging the error.
 */
int opts_set(struct opts *o, const char *name, const char *arg);
/* More --external KEYs (the RPC's query-ext-files); 1 on a bad one. */
int opts_add_externals(struct opts *o, char *const *keys, size_t n);
/* Is the long option @name known (true) and built (*supported)? */
bool opts_known(const char *name, bool *supported);
/* Read a config file; a missing one is an error only with @must_exist. */
int opts_config(struct opts *o, const char *path, bool must_exist);
/* /etc/criu/default.conf and ~/.criu/default.conf, as CRIU reads them. */
int opts_default_configs(struct opts *o);
/* Add "fd[N]:KEY" with our own fd @fd; 0 or 1 after logging. */
int opts_add_inherit_fd(struct opts *o, int fd, const char *key);

/*
 * A copy of @src with lists of its own (--external, --inherit-fd,
 * --action-script, --cgroup-root, --cgroup-dump-controller, --skip-mnt,
 * --enable-fs): what is added
 * to the copy leaves @src as it was.  0, or 1 after logging.
 */
int opts_copy(struct opts *dst, const struct opts *src);
/* Free @o's lists and what was added to them since opts_copy(@o, @base). */
void opts_copy_free(struct opts *o, const struct opts *base);

/*
 * Parse argv (and the config files CRIU would read, unless
 * --no-default-config).  Returns 0, or 1 after printing the error.
 */
int opts_parse(int argc, char **argv, struct opts *o);

#endif
