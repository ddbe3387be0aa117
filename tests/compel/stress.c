/*
 * stress.c - drive libcompel against a victim tree over and over:
 *
 *   compel-stress [--loops N] [--park] [--start] [--fault STEP | --die WHERE] [-v] PID
 *
 * Each loop seizes the tree at PID and, in every live task, runs three
 * remote system calls (checking their answers), loads the parasite, runs
 * commands (checking what they report), cures, and releases the tree.
 * The victim itself checks that it noticed nothing.
 *
 * With --fault STEP (seize, syscall, infect, rpc, cure) that step fails on
 * purpose in the first loop; the program then cleans up as a real caller
 * would, and succeeds only if the failure was reported as expected.
 *
 * With --park each task's parasite is parked (compel_park) instead of
 * cured, as a dump that kills its tree does: the release, which kills
 * nothing here, must cure every one of them.
 *
 * With --start the infection is begun with compel_infect_start() (the
 * task on its way to its first remote call while we look elsewhere), and
 * every other loop cured right there, before compel_infect(): the task
 * must be left no fd of ours.  The others go on with compel_infect_with()
 * and GET_MISC as the first command, whose kept answer is checked.
 *
 * With --die WHERE the driver kills itself with SIGKILL in the first
 * loop, leaving no one to cure: "syscall" with the main thread stopped
 * after a remote call, before any parasite, "parasite" with it idle, "rpc"
 * just after a command was sent, "thread-call" with another thread of the
 * task stopped after a remote call and the parasite idle, "parked" with
 * every task's parasite parked, before the release, "started" just after
 * compel_infect_start().  The victim must
 * find its own way back (compel/guard.c) and notice nothing.
 */
#include <errno.h>
#include <dirent.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "stasis/compel.h"

static int verbose;
static int park;
static int start;
static long loop_nr;
static const char *die_at;

static void die_here(const char *where)
{
	if (die_at && !strcmp(die_at, where))
		raise(SIGKILL);
}

static int check(bool ok, const char *fmt, ...)
{
	va_list ap;

	if (ok)
		return 0;
	va_start(ap, fmt);
	fprintf(stderr, "compel-stress: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	return -EINVAL;
}

static int remote_checks(struct compel_ctl *ctl, const struct compel_task *t)
{
	long r;
	int ret;

	ret = compel_syscall(ctl, SYS_getpid, &r, 0, 0, 0, 0, 0, 0);
	if (!ret)
		ret = check(r == t->pid, "remote getpid() = %ld, not %d", r, t->pid);
	if (!ret)
		die_here("syscall");
	if (!ret)
		ret = compel_syscall(ctl, SYS_getppid, &r, 0, 0, 0, 0, 0, 0);
	if (!ret)
		ret = check(r == t->ppid, "remote getppid() = %ld, not %d", r, t->ppid);
	if (!ret)
		ret = compel_syscall(ctl, SYS_gettid, &r, 0, 0, 0, 0, 0, 0);
	if (!ret)
		ret = check(r == t->pid, "remote gettid() = %ld, not %d", r, t->pid);
	return ret;
}

/* A remote call in another thread of @t, then death if asked for. */
static int other_thread_call(struct compel_tree *tree, const struct compel_task *t)
{
	struct compel_ctl *tctl;
	long r;
	int ret;

	if (t->nr_threads < 2)
		return 0;
	ret = compel_prepare_thread(tree, t->threads[1], &tctl);
	if (ret)
		return ret;
	ret = compel_syscall(tctl, SYS_gettid, &r, 0, 0, 0, 0, 0, 0);
	if (!ret)
		ret = check(r == t->threads[1], "remote gettid() in thread %d = %ld",
			    t->threads[1], r);
	if (!ret)
		die_here("thread-call");
	return compel_cure(tctl) ?: ret;
}

static void log_cb(int level, const char *msg, void *arg)
{
	(void)arg;
	fprintf(stderr, "compel[%d]: %s\n", level, msg);
}

static int parasite_checks(struct compel_tree *tree, struct compel_ctl *ctl,
			   const struct compel_task *t)
{
	struct compel_sigaction sigacts[64];
	union compel_rpc_args *args;
	int ret;

	/* With --start, GET_MISC is the parasite's first command, its answer kept for us. */
	ret = start ? compel_infect_with(ctl, COMPEL_CMD_GET_MISC) : compel_infect(ctl);
	if (ret)
		return ret;
	die_here("parasite");
	ret = other_thread_call(tree, t);
	if (ret)
		return ret;
	if (die_at && !strcmp(die_at, "rpc") && !compel_rpc_start(ctl, COMPEL_CMD_GET_SIGACTS))
		raise(SIGKILL);
	args = compel_rpc_area(ctl);
	ret = compel_rpc(ctl, COMPEL_CMD_GET_MISC);
	if (!ret)
		ret = check(args->misc.pid == t->pid && args->misc.tid == t->pid,
			    "parasite reports pid %d tid %d, not %d",
			    args->misc.pid, args->misc.tid, t->pid);
	if (!ret)
		ret = compel_rpc(ctl, COMPEL_CMD_GET_SIGACTS);
	if (!ret)
		memcpy(sigacts, args->sigacts, sizeof(sigacts));
	if (!ret)
		ret = compel_rpc(ctl, COMPEL_CMD_GET_ITIMERS);
	/* GET_TASK: the same answers in one round trip, and what the task alone knows. */
	if (!ret)
		ret = compel_rpc(ctl, COMPEL_CMD_GET_TASK);
	if (!ret)
		ret = check(args->task.misc.pid == t->pid &&
			    !memcmp(args->task.sigacts, sigacts, sizeof(sigacts)) &&
			    args->task.misc.brk > 0 && !args->task.misc.ss_ret &&
			    !args->task.misc.tid_address_ret,
			    "GET_TASK: pid %d, brk %ld, sigaltstack %d, tid address %ld",
			    args->task.misc.pid, (long)args->task.misc.brk, args->task.misc.ss_ret,
			    (long)args->task.misc.tid_address_ret);
	return ret;
}

/* After a cure: no fd of the task is the parasite's memfd. */
static int no_memfd_left(pid_t pid)
{
	char path[64], link[256];
	int ret = 0;
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return check(false, "cannot list %s", path);
	while (!ret && (e = readdir(d))) {
		char fd_path[330];
		ssize_t n;

		snprintf(fd_path, sizeof(fd_path), "%s/%s", path, e->d_name);
		n = readlink(fd_path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		ret = check(!strstr(link, "stasis-parasite"), "pid %d fd %s is %s after the cure",
			    pid, e->d_name, link);
	}
	closedir(d);
	return ret;
}

static int one_task(struct compel_tree *tree, const struct compel_task *t)
{
	struct compel_ctl *ctl;
	int ret, err;

	ret = compel_prepare(tree, t->pid, &ctl);
	if (ret)
		return ret;
	ret = remote_checks(ctl, t);
	if (!ret && start) {
		ret = compel_infect_start(ctl);
		die_here("started");
		if (!ret && loop_nr % 2) {
			ret = compel_cure(ctl);
			return ret ?: no_memfd_left(t->pid);
		}
	}
	if (!ret)
		ret = parasite_checks(tree, ctl, t);
	if (!ret && park && !compel_park(ctl))
		return 0;
	err = compel_cure(ctl);
	return ret ? ret : err;
}

static int one_loop(pid_t pid)
{
	struct compel_tree *tree;
	int ret, err;

	ret = compel_tree_seize(pid, &tree);
	if (ret)
		return ret;
	for (size_t i = 0; !ret && i < compel_tree_nr_tasks(tree); i++) {
		const struct compel_task *t = compel_tree_task(tree, i);

		if (verbose)
			printf("task %d ppid %d state %d threads %d\n", t->pid, t->ppid,
			       t->state, t->nr_threads);
		if (t->state != COMPEL_TASK_ZOMBIE)
			ret = one_task(tree, t);
	}
	if (!ret)
		die_here("parked");
	err = compel_tree_release(tree, 0);
	return ret ? ret : err;
}

static enum compel_fault parse_fault(const char *s)
{
	static const char *names[] = { "none", "seize", "syscall", "infect", "rpc", "cure",
				       "vdso-room" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i]))
			return (enum compel_fault)i;
	fprintf(stderr, "compel-stress: unknown fault step %s\n", s);
	exit(2);
}

int main(int argc, char **argv)
{
	enum compel_fault fault = COMPEL_FAULT_NONE;
	long loops = 1;
	int c, ret = 0;
	pid_t pid;

	while ((c = getopt_long(argc, argv, "n:f:d:psv", (struct option[]){
			{ "loops", required_argument, NULL, 'n' },
			{ "park", no_argument, NULL, 'p' },
			{ "start", no_argument, NULL, 's' },
			{ "fault", required_argument, NULL, 'f' },
			{ "die", required_argument, NULL, 'd' },
			{ NULL, 0, NULL, 0 } }, NULL)) != -1) {
		switch (c) {
		case 'n': loops = atol(optarg); break;
		case 'f': fault = parse_fault(optarg); break;
		case 'd': die_at = optarg; break;
		case 'p': park = 1; break;
		case 's': start = 1; break;
		case 'v': verbose = 1; break;
		default: return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: compel-stress [--loops N] [--park] [--start] [--fault STEP | --die WHERE] [-v] PID\n");
		return 2;
	}
	pid = atoi(argv[optind]);
	if (die_at && !strcmp(die_at, "parked"))
		park = 1;
	if (die_at && !strcmp(die_at, "started"))
		start = 1;
	compel_set_log(log_cb, NULL, verbose ? COMPEL_LOG_DEBUG : COMPEL_LOG_ERROR);
	compel_set_fault(fault);
	for (loop_nr = 0; loop_nr < loops; loop_nr++) {
		ret = one_loop(pid);
		if (ret)
			break;
	}
	if (fault != COMPEL_FAULT_NONE) {
		/* The injected failure must have been reported, and only it. */
		if (ret == -EFAULT) {
			printf("injected fault reported and cleaned up\n");
			return 0;
		}
		fprintf(stderr, "compel-stress: injected fault gave %d, not -EFAULT\n", ret);
		return 1;
	}
	if (ret) {
		fprintf(stderr, "compel-stress: failed: %s\n", strerror(-ret));
		return 1;
	}
	printf("%ld loops done\n", loops);
	return 0;
}
