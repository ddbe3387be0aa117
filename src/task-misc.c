/*
 * task-misc.c - the small per-process settings of the core image that are
 * neither registers nor signals: resource limits, the OOM score
 * adjustment and the membarrier(2) registrations.
 *
 * Limits are read from outside (prlimit, or /proc/PID/limits) and set
 * again by the restorer, last, so that nothing stasis does first runs
 * into them.  The other two are set in the restored task before the
 * restorer: oom_score_adj belongs to the process, the registrations to
 * its mm, and the restorer changes neither.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "parts.h"
#include "rst-ctx.h"
#include "restorer.h"
#include "task-misc.h"

/* membarrier(2) commands, by bit; older headers lack the newer ones. */
#define MB_CMD_PRIVATE_EXPEDITED		(1 << 3)
#define MB_CMD_PRIVATE_EXPEDITED_SYNC_CORE	(1 << 5)
#define MB_CMD_PRIVATE_EXPEDITED_RSEQ		(1 << 7)
#define MB_CMD_GET_REGISTRATIONS		(1 << 9)	/* Linux 6.3 */

/* --- resource limits --- */

static int limit_value(const char *s, rlim_t *v)
{
	char *end;

	if (!strncmp(s, "unlimited", 9)) {
		*v = RLIM_INFINITY;
		return 0;
	}
	*v = strtoull(s, &end, 10);
	return end == s ? -EINVAL : 0;
}

/*
 * The limits from /proc/PID/limits, one line per resource in their
 * order, in the kernel's columns: name (25), soft (20), hard (20).
 */
static int read_rlimits_proc(pid_t pid, struct rlimit *rlim)
{
	char path[64], line[256];
	int n = -1, ret = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/limits", pid);
	f = fopen(path, "r");
	if (!f) {
		pr_perror("cannot open %s", path);
		return -errno;
	}
	while (!ret && fgets(line, sizeof(line), f) && n < TASK_NR_RLIMITS) {
		if (n++ < 0)
			continue;	/* the header */
		if (strlen(line) < 67 || limit_value(line + 26, &rlim[n - 1].rlim_cur) ||
		    limit_value(line + 47, &rlim[n - 1].rlim_max))
			ret = -EINVAL;
	}
	fclose(f);
	if (!ret && n != TASK_NR_RLIMITS)
		ret = -EINVAL;
	if (ret)
		pr_err("%s: cannot parse line %d", path, n);
	return ret;
}

/*
 * prlimit() on a task of other credentials needs CAP_SYS_RESOURCE, which
 * stasis may lack; /proc/PID/limits tells the same to anyone.
 */
int task_read_rlimits(pid_t pid, struct rlimit *rlim)
{
	for (int i = 0; i < TASK_NR_RLIMITS; i++) {
		if (!prlimit(pid, i, NULL, &rlim[i]))
			continue;
		if (errno == EPERM)
			return read_rlimits_proc(pid, rlim);
		pr_perror("pid %d: prlimit", pid);
		return -errno;
	}
	return 0;
}

void task_rlimits_args(TaskRlimitsEntry *rl, struct rst_args *a)
{
	struct rlimit cur;

	if (!rl)
		return;
	a->nr_rlimits = rl->n_rlimits < RST_RLIM_NR ? rl->n_rlimits : RST_RLIM_NR;
	for (uint32_t i = 0; i < a->nr_rlimits; i++) {
		a->rlimits[i].cur = rl->rlimits[i]->cur;
		a->rlimits[i].max = rl->rlimits[i]->max;
		/* Without CAP_SYS_RESOURCE a hard limit can only go down. */
		if (!getrlimit(i, &cur) && a->rlimits[i].max > cur.rlim_max) {
			pr_warn("rlimit %u: hard limit %llu kept at %llu (it cannot be raised here)",
				i, (unsigned long long)a->rlimits[i].max,
				(unsigned long long)cur.rlim_max);
			a->rlimits[i].max = cur.rlim_max;
			if (a->rlimits[i].cur > cur.rlim_max)
				a->rlimits[i].cur = cur.rlim_max;
		}
	}
}

/* --- membarrier registrations --- */

/* membarrier(@cmd, 0, 0) in the task, through its parasite; its result. */
static int task_membarrier(struct compel_ctl *ctl, unsigned int cmd, long *res)
{
	*res = 0;
	return compel_rpc_syscall(ctl, __NR_membarrier, res, cmd, 0, 0, 0, 0, 0);
}

/*
 * Before Linux 6.3 nothing tells the registrations: issue each private
 * expedited barrier, which succeeds only when registered for (a barrier
 * changes nothing of the task), and register with the command one bit up.
 */
static int probe_membarrier_call(void *arg)
{
	struct dump_task *t = ((void **)arg)[0];
	uint32_t *mask = ((void **)arg)[1];
	static const unsigned int cmds[] = {
		MB_CMD_PRIVATE_EXPEDITED, MB_CMD_PRIVATE_EXPEDITED_SYNC_CORE,
		MB_CMD_PRIVATE_EXPEDITED_RSEQ,
	};
	long res;
	int ret;

	*mask = 0;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		ret = task_membarrier(t->ctl, cmds[i], &res);
		if (ret)
			return ret;
		if (!res)
			*mask |= cmds[i] << 1;
		else if (res != -EPERM && res != -EINVAL && res != -ENOSYS)
			goto bad;
	}
	return 0;
bad:
	pr_err("pid %d: membarrier in the task failed: %s", t->pid, strerror(-res));
	return res;
}

/* Parasite commands: on the tracer (dump_on_tracer()). */
static int probe_membarrier(struct dump_task *t, uint32_t *mask)
{
	void *args[2] = { t, mask };

	return dump_on_tracer(probe_membarrier_call, args);
}

int task_misc_dump(struct dump_task *t, TaskCoreEntry *tc)
{
	uint32_t mask = 0;
	long res;
	int ret = 0;

	if (!t->ctl || !compel_rpc_area(t->ctl))
		return 0;
	/* Asked with GET_TASK when the parasite started. */
	if (!t->has_misc) {
		pr_err("pid %d: the task's settings were not read", t->pid);
		return -EINVAL;
	}
	res = t->misc.membarrier;
	if (res == -EINVAL)
		ret = probe_membarrier(t, &mask);
	else if (res == -ENOSYS)
		mask = 0;	/* no membarrier at all: nothing registered */
	else if (res < 0)
		ret = res;
	else
		mask = res;
	if (ret) {
		pr_err("pid %d: cannot read its membarrier registrations", t->pid);
		return ret;
	}
	if (mask) {
		tc->has_membarrier_registration_mask = true;
		tc->membarrier_registration_mask = mask;
	}
	return 0;
}

/* --- restore, in the task --- */

/*
 * As CRIU, a score that cannot be set is logged, not fatal: lowering it
 * below what this process was given needs CAP_SYS_RESOURCE.  It is
 * written only when it differs, which an equal value never needs.
 */
static void restore_oom_score_adj(struct rst_task *t, int32_t value)
{
	char buf[16] = "";
	int fd, len;

	fd = rst_open_self("oom_score_adj", O_RDWR);	/* its namespace may have no /proc */
	if (fd < 0) {
		pr_warn("pid %d: cannot open /proc/self/oom_score_adj: %s", t->pid,
			strerror(errno));
		return;
	}
	if (read(fd, buf, sizeof(buf) - 1) > 0 && atoi(buf) == value)
		goto out;
	len = snprintf(buf, sizeof(buf), "%d", value);
	if (pwrite(fd, buf, len, 0) != len)
		pr_warn("pid %d: cannot set oom_score_adj to %d: %s", t->pid, value,
			strerror(errno));
out:
	close(fd);
}

static int restore_membarrier(struct rst_task *t, uint32_t mask)
{
	for (int bit = 0; bit < 32; bit++) {
		if (!(mask & (1u << bit)))
			continue;
		if (syscall(__NR_membarrier, 1u << bit, 0, 0)) {
			pr_perror("pid %d: cannot register for membarrier command %#x again",
				  t->pid, 1u << bit);
			return -errno;
		}
	}
	return 0;
}

/*
 * The audit login uid, as CRIU: a task inherits stasis's, so it is
 * written only when it differs.  Unset (-1) is what a login never set;
 * putting that back over stasis's own is only worth a warning, while a
 * set value that cannot be written fails the restore (CRIU's rule: the
 * audit trail would name the wrong user).
 */
static int restore_loginuid(struct rst_task *t, uint32_t value)
{
	char buf[16] = "";
	int fd, len, ret = 0;

	fd = rst_open_self("loginuid", O_RDWR);
	if (fd < 0) {
		if (errno == ENOENT && value == UINT32_MAX)
			return 0;	/* a kernel without audit */
		pr_perror("pid %d: cannot open /proc/self/loginuid", t->pid);
		return -errno;
	}
	if (read(fd, buf, sizeof(buf) - 1) > 0 && strtoul(buf, NULL, 10) == value)
		goto out;
	len = snprintf(buf, sizeof(buf), "%u", value);
	if (pwrite(fd, buf, len, 0) != len) {
		if (value != UINT32_MAX) {
			pr_perror("pid %d: cannot set loginuid to %u", t->pid, value);
			ret = -errno;
		} else {
			pr_warn("pid %d: cannot unset loginuid: %s", t->pid, strerror(errno));
		}
	}
out:
	close(fd);
	return ret;
}

int task_misc_restore(struct rst_task *t)
{
	TaskCoreEntry *tc = t->cores[0]->tc;
	int ret;

	if (tc->has_loginuid) {
		ret = restore_loginuid(t, tc->loginuid);
		if (ret)
			return ret;
	}
	if (tc->has_oom_score_adj)
		restore_oom_score_adj(t, tc->oom_score_adj);
	if (tc->has_membarrier_registration_mask)
		return restore_membarrier(t, tc->membarrier_registration_mask);
	return 0;
}

static int task_misc_part_task(struct rst_ctx *ctx, struct rst_task *t)
{
	(void)ctx;
	return task_misc_restore(t);
}

/* Its dump half is the core's (task_misc_dump()): the settings live in the core image. */
const struct task_part_ops task_misc_part = {
	.name = "task-misc",
	.fail = "restore its loginuid, oom_score_adj or membarrier registrations",
	.task = task_misc_part_task,
};
