/*
 * notify.c - the hooks of dump and restore: RPC notifications and
 * --action-script programs, with CRIU's names and environment.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"
#include "rpc.h"

static const char *const act_names[NOTIFY_NR] = {
	[NOTIFY_PRE_STREAM] = "pre-stream",
	[NOTIFY_PRE_DUMP] = "pre-dump",
	[NOTIFY_POST_DUMP] = "post-dump",
	[NOTIFY_PRE_RESTORE] = "pre-restore",
	[NOTIFY_POST_RESTORE] = "post-restore",
	[NOTIFY_NET_LOCK] = "network-lock",
	[NOTIFY_NET_UNLOCK] = "network-unlock",
	[NOTIFY_SETUP_NS] = "setup-namespaces",
	[NOTIFY_POST_SETUP_NS] = "post-setup-namespaces",
	[NOTIFY_POST_RESUME] = "post-resume",
	[NOTIFY_PRE_RESUME] = "pre-resume",
	[NOTIFY_ORPHAN_PTS_MASTER] = "orphan-pts-master",
	[NOTIFY_STATUS_READY] = "status-ready",
	[NOTIFY_QUERY_EXT_FILES] = "query-ext-files",
};

const char *notify_name(enum notify_act act)
{
	return act < NOTIFY_NR ? act_names[act] : "?";
}

/*
 * The script's environment.  The images directory is given by its full
 * path: an RPC dump names it /proc/self/fd/N, which means nothing to a
 * script.
 */
static int set_env(const struct opts *o, enum notify_act act, pid_t pid)
{
	char dir[PATH_MAX], num[16];

	if (setenv("CRTOOLS_SCRIPT_ACTION", act_names[act], 1))
		return -errno;
	if (!realpath(o->images_dir, dir))
		snprintf(dir, sizeof(dir), "%s", o->images_dir);
	if (setenv("CRTOOLS_IMAGE_DIR", dir, 1))
		return -errno;
	if (pid > 0) {
		snprintf(num, sizeof(num), "%d", pid);
		if (setenv("CRTOOLS_INIT_PID", num, 1))
			return -errno;
	}
	return 0;
}

static int run_script(const char *path)
{
	sigset_t none;
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0) {
		pr_perror("cannot fork for action script %s", path);
		return -errno;
	}
	if (pid == 0) {
		/* stasis blocks SIGCHLD for itself; the script gets a clean mask. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execl(path, path, (char *)NULL);
		fprintf(stderr, "cannot run action script %s: %m\n", path);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			pr_perror("cannot wait for action script %s", path);
			return -errno;
		}
	}
	if (WIFEXITED(status) && !WEXITSTATUS(status))
		return 0;
	if (WIFEXITED(status))
		pr_err("action script %s exited with status %d", path,
		       WEXITSTATUS(status));
	else
		pr_err("action script %s was killed by signal %d", path, WTERMSIG(status));
	return -ECANCELED;
}

static int run_scripts(const struct opts *o, enum notify_act act, pid_t pid)
{
	int ret = 0;

	if (!o->nr_scripts)
		return 0;
	ret = set_env(o, act, pid);
	if (ret) {
		pr_err("cannot set the action scripts' environment");
		return ret;
	}
	for (size_t i = 0; !ret && i < o->nr_scripts; i++) {
		pr_info("%s: running %s", act_names[act], o->scripts[i]);
		ret = run_script(o->scripts[i]);
	}
	unsetenv("CRTOOLS_SCRIPT_ACTION");
	return ret;
}

int notify(const struct opts *o, enum notify_act act, pid_t pid)
{
	int ret = 0;

	if (!o)
		return 0;
	pr_debug("hook %s", act_names[act]);
	/* As CRIU, the client is given the pid with these two only. */
	if (o->notify_rpc && o->rpc_sk >= 0)
		ret = rpc_notify(o->rpc_sk, act_names[act],
				 act == NOTIFY_SETUP_NS || act == NOTIFY_POST_RESTORE ? pid : 0, -1);
	if (!ret)
		ret = run_scripts(o, act, pid);
	if (ret)
		pr_err("the %s hook failed", act_names[act]);
	return ret;
}

int notify_query_ext_files(struct opts *o)
{
	const char *name = act_names[NOTIFY_QUERY_EXT_FILES];
	int ret;

	/* The RPC client's only, as in CRIU: no action script runs here. */
	if (!o->notify_rpc || o->rpc_sk < 0)
		return 0;
	pr_debug("hook %s", name);
	ret = rpc_notify_externals(o->rpc_sk, name, o);
	if (ret)
		pr_err("the %s hook failed", name);
	return ret;
}

int notify_fd(const struct opts *o, enum notify_act act, int fd)
{
	if (!o || !o->notify_rpc || o->rpc_sk < 0)
		return -ENOTCONN;
	return rpc_notify(o->rpc_sk, act_names[act], 0, fd);
}
