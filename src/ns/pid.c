/*
 * pid.c - a pid namespace: the tree's root as the init (pid 1) of its own.
 *
 * A pid namespace has no state of its own to write: what it changes is
 * which number a task is known by.  stasis sees the tree from its own
 * namespace (host pids: /proc, ptrace, kill), the tree sees itself from
 * the root's (virtual pids).  As CRIU, every pid that goes into an image
 * (names of per-task images, pstree.img, fown, locks, pidfds, timers,
 * terminals' sessions) is the one the tree sees; every pid stasis acts on
 * is its own.
 *
 * Dump: the last entry of NSpid/NSpgid/NSsid in /proc/PID/status (and
 * /proc/PID/task/TID/status for a thread) is the pid in the task's own
 * namespace, which is the root's for every task (ns.c checks that).
 * Restore: the root is cloned with CLONE_NEWPID and pid 1 (set_tid); the
 * others are forked inside with their own pids.  A task there cannot
 * tell its pid in stasis's namespace, so once every task exists the
 * controller finds them in its /proc by their NSpid (struct rst_task's
 * `real`), and their threads the same way when it seizes them.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dump-ctx.h"
#include "log.h"
#include "ns/ns.h"
#include "proc.h"
#include "rst-ctx.h"

/* The innermost pids of one task or thread, from its status file. */
struct ns_pids {
	pid_t pid, pgid, sid;
	int levels;		/* entries of NSpid: 1 in stasis's own namespace */
};

/* The last number of a "NSxxx:\t1234\t5" line. */
static pid_t last_field(const char *s)
{
	const char *p = s + strlen(s);

	while (p > s && !isdigit((unsigned char)p[-1]))
		p--;
	while (p > s && isdigit((unsigned char)p[-1]))
		p--;
	return atoi(p);
}

static int count_fields(const char *s)
{
	int n = 0;

	for (; *s; s++)
		if (isdigit((unsigned char)*s) && (s[1] == '\0' || !isdigit((unsigned char)s[1])))
			n++;
	return n;
}

/* /proc/@pid/task/@tid/status (@tid 0: /proc/@pid/status). */
static int read_ns_pids(pid_t pid, pid_t tid, struct ns_pids *np)
{
	char path[80], line[256];
	FILE *f;

	if (tid)
		snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	else
		snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	memset(np, 0, sizeof(*np));
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "NSpid:", 6)) {
			np->pid = last_field(line + 6);
			np->levels = count_fields(line + 6);
		} else if (!strncmp(line, "NSpgid:", 7)) {
			np->pgid = last_field(line + 7);
		} else if (!strncmp(line, "NSsid:", 6)) {
			np->sid = last_field(line + 6);
		}
	}
	fclose(f);
	if (!np->levels) {
		pr_err("%s: no NSpid (a kernel without pid namespaces?)", path);
		return -ENOTSUP;
	}
	return 0;
}

static ino_t pidns_ino(pid_t pid)
{
	ino_t ino;

	return proc_ns_ino(pid, "pid", &ino) ? 0 : ino;
}

/* --- dump --- */

static bool dump_own;		/* the root's pid namespace is not stasis's */
static ino_t dump_root_ino;	/* the root's pid namespace */
static pid_t *dump_vtids;	/* every thread's tid as the tree sees it, task by task */

pid_t dump_vpid(const struct dump_ctx *ctx, pid_t pid)
{
	struct ns_pids np;

	if (!dump_own || pid <= 0)
		return pid;
	for (size_t i = 0; i < ctx->nr_tasks; i++) {
		const struct dump_task *t = &ctx->tasks[i];

		if (t->pid == pid)
			return t->vpid;
		for (int k = 0; t->vtids && k < t->ct->nr_threads; k++)
			if (t->ct->threads[k] == pid)
				return t->vtids[k];
	}
	/* Not the tree's: its pid there if it is in the root's namespace, else none. */
	if (pidns_ino(pid) != dump_root_ino || read_ns_pids(pid, 0, &np))
		return 0;
	return np.pid;
}

/*
 * A task in another pid namespace than the root's: ns.c refuses it, but
 * the init of a nested one is said as such.  A zombie has no namespace.
 */
static int check_nested(const struct dump_task *t)
{
	ino_t ino = pidns_ino(t->pid);
	struct ns_pids np;

	if (!ino || ino == dump_root_ino || read_ns_pids(t->pid, 0, &np) || np.pid != 1)
		return 0;
	pr_err("unsupported: pid %d is init of a nested pid namespace", t->pid);
	return -ENOTSUP;
}

/*
 * A session whose leader is outside the tree's pid namespace reads 0 there
 * (`unshare --pid --fork` without setsid): no task of a restored tree could
 * be in it, and CRIU refuses it too.
 */
static int check_session(const struct dump_task *t)
{
	if (t->sid)
		return 0;
	pr_err("unsupported: the session leader of pid %d (%d in its pid namespace) is outside "
	       "that namespace: its init must lead a session of its own (setsid)", t->pid, t->vpid);
	return -ENOTSUP;
}

/* Task @t: its pid, group, session and threads as it sees them. */
static int collect_task(struct dump_task *t, pid_t *vtids)
{
	struct ns_pids np;
	int ret;

	ret = read_ns_pids(t->pid, 0, &np);
	if (ret) {
		pr_err("pid %d: cannot read its pids in its pid namespace", t->pid);
		return ret;
	}
	t->vpid = np.pid;
	t->pgid = np.pgid;
	t->sid = np.sid;
	t->vtids = vtids;
	for (int k = 0; k < t->ct->nr_threads; k++) {
		if (t->ct->threads[k] == t->pid) {
			vtids[k] = np.pid;
			continue;
		}
		ret = read_ns_pids(t->pid, t->ct->threads[k], &np);
		if (ret) {
			pr_err("pid %d: cannot read the pid of its thread %d in its pid namespace",
			       t->pid, t->ct->threads[k]);
			return ret;
		}
		vtids[k] = np.pid;
	}
	return 0;
}

int pidns_dump_collect(struct dump_ctx *ctx)
{
	struct dump_task *root = &ctx->tasks[0];
	size_t nr = 0, at = 0;
	int ret = 0;

	free(dump_vtids);
	dump_vtids = NULL;
	dump_root_ino = pidns_ino(root->pid);
	dump_own = dump_root_ino && dump_root_ino != pidns_ino(0);
	for (size_t i = 0; !ret && i < ctx->nr_tasks; i++) {
		ctx->tasks[i].vpid = ctx->tasks[i].pid;
		nr += ctx->tasks[i].ct->nr_threads;
		ret = i ? check_nested(&ctx->tasks[i]) : 0;
	}
	if (ret || !dump_own)
		return ret;
	dump_vtids = calloc(nr + 1, sizeof(*dump_vtids));
	if (!dump_vtids)
		return -ENOMEM;
	for (size_t i = 0; !ret && i < ctx->nr_tasks; i++) {
		struct dump_task *t = &ctx->tasks[i];

		ret = collect_task(t, dump_vtids + at);
		at += t->ct->nr_threads;
		if (!ret)
			pr_debug("pid %d is %d in the tree's pid namespace", t->pid, t->vpid);
	}
	if (!ret && root->vpid != 1) {
		pr_err("unsupported: the root %d is %d in its own pid namespace, not its init",
		       root->pid, root->vpid);
		ret = -ENOTSUP;
	}
	for (size_t i = 0; !ret && i < ctx->nr_tasks; i++)
		ret = check_session(&ctx->tasks[i]);
	if (!ret)
		pr_info("the root %d is init of its own pid namespace", root->pid);
	return ret;
}

/* --- restore --- */

static bool rst_own(const struct rst_ctx *ctx)
{
	(void)ctx;
	return ns_restore_has(CLONE_NEWPID);
}

/* Which task of the tree has pid @vpid in it, from the list of those found. */
static struct rst_task *by_vpid(struct rst_ctx *ctx, pid_t vpid)
{
	return vpid > 0 ? rst_task_by_pid(ctx, vpid) : NULL;
}

int pidns_find_real(struct rst_ctx *ctx)
{
	ino_t ns = pidns_ino(ctx->tasks[0].real);
	size_t found = 1;
	struct dirent *de;
	DIR *d;

	if (!rst_own(ctx))
		return 0;
	if (!ns) {
		pr_err("the root (pid %d here) has no pid namespace to look into",
		       ctx->tasks[0].real);
		return -ESRCH;
	}
	d = opendir("/proc");
	if (!d) {
		pr_perror("cannot open /proc");
		return -errno;
	}
	while (found < ctx->nr_tasks && (de = readdir(d))) {
		pid_t pid = atoi(de->d_name);
		struct rst_task *t;
		struct ns_pids np;

		if (pid <= 0 || pid == ctx->tasks[0].real || pidns_ino(pid) != ns ||
		    read_ns_pids(pid, 0, &np))
			continue;
		t = by_vpid(ctx, np.pid);
		if (!t || t->real)
			continue;
		t->real = pid;
		found++;
		pr_debug("pid %d of the tree is %d here", t->pid, pid);
	}
	closedir(d);
	for (size_t i = 0; i < ctx->nr_tasks; i++) {
		if (!ctx->tasks[i].real) {
			pr_err("pid %d: not found in its pid namespace after the fork",
			       ctx->tasks[i].pid);
			return -ESRCH;
		}
	}
	return 0;
}

int pidns_real_tids(struct rst_ctx *ctx, const struct rst_task *t, pid_t *out)
{
	struct dirent *de;
	char path[64];
	size_t found = 0;
	DIR *d;

	if (!rst_own(ctx)) {
		memcpy(out, t->tids, t->nr_threads * sizeof(*out));
		return 0;
	}
	memset(out, 0, t->nr_threads * sizeof(*out));
	snprintf(path, sizeof(path), "/proc/%d/task", t->real);
	d = opendir(path);
	if (!d) {
		pr_perror("pid %d: cannot list its threads (%s)", t->pid, path);
		return -errno;
	}
	while (found < t->nr_threads && (de = readdir(d))) {
		pid_t tid = atoi(de->d_name);
		struct ns_pids np;

		if (tid <= 0 || read_ns_pids(t->real, tid, &np))
			continue;
		for (size_t k = 0; k < t->nr_threads; k++) {
			if (t->tids[k] == np.pid && !out[k]) {
				out[k] = tid;
				found++;
				break;
			}
		}
	}
	closedir(d);
	for (size_t k = 0; k < t->nr_threads; k++) {
		if (!out[k]) {
			pr_err("pid %d: thread %d not found after the restore", t->pid, t->tids[k]);
			return -ESRCH;
		}
	}
	return 0;
}

bool pidns_restore_own(const struct rst_ctx *ctx)
{
	return rst_own(ctx);
}

int pidns_restore_check(const struct rst_ctx *ctx)
{
	if (!rst_own(ctx) || ctx->tasks[0].pid == 1)
		return 0;
	pr_err("unsupported: the root %d has its own pid namespace but is not its init (pid 1)",
	       ctx->tasks[0].pid);
	return -ENOTSUP;
}

/* Nothing to write or fill: the namespace is its tasks' pids. */
const struct ns_operations pid_ns_ops = {
	.name = "pid",
	.cflag = CLONE_NEWPID,
};
