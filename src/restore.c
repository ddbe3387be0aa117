/*
 * restore.c - `stasis restore`: CRIU images back into a running tree.
 *
 * The pipeline, in order:
 *   read      inventory, pstree, every task's core and memory layout; a
 *             short pages image or a missing core fails here
 *   prepare   every shared object once, in the pool (files/); the fds of
 *             stasis itself move above every fd the tasks will have
 *   fork      the root with its PID (clone3 set_tid); each task forks its
 *             children the same way, makes its session or group, and the
 *             tree moves through the stages of restorer.h together
 *   per task  sigactions, fds, cwd; then the restorer blob, which
 *             rebuilds memory, threads and registers (see restorer.h)
 *   go        when every task is ready, stasis seizes every thread, lets
 *             them run to the exit of their last rt_sigreturn, unmaps
 *             each restorer region from outside and lets all go at once
 *             (restore-finish.c): the tasks keep nothing of the restore
 * The controller (this process) is the root's parent and a child
 * subreaper while it works, so that on any failure it can kill and reap
 * everything it created; the error names the task and what failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/rseq.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86/cpuinfo.h"
#include "inventory.pb-c.h"
#include "clock.h"
#include "files/api.h"
#include "imgdir.h"
#include "log.h"
#include "mem-restore.h"
#include "mem.h"
#include "notify.h"
#include "parts.h"
#include "proc.h"
#include "ns/ns.h"
#include "pstree.h"
#include "restore.h"
#include "restorer.h"
#include "stats.pb-c.h"

#define STAGE_TIMEOUT	60	/* seconds for one stage, without --timeout */
#define POLL_MS		50

extern const char restorer_blob[], restorer_blob_end[];

/* --- the stages, through futexes in the shared area --- */

static long futex(int32_t *addr, int op, int32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, addr, op, val, ts, NULL, 0);
}

static void stage_done(struct rst_shared *sh, int stage)
{
	__atomic_add_fetch(&sh->done[stage], 1, __ATOMIC_SEQ_CST);
	futex(&sh->done[stage], FUTEX_WAKE, INT32_MAX, NULL);
}

/* In a task: wait until the controller opens @stage (or gives up). */
static void stage_wait(struct rst_shared *sh, int stage)
{
	int32_t st;

	while ((st = __atomic_load_n(&sh->stage, __ATOMIC_ACQUIRE)) < stage)
		futex(&sh->stage, FUTEX_WAIT, st, NULL);
}

static void stage_open(struct rst_shared *sh, int stage)
{
	__atomic_store_n(&sh->stage, stage, __ATOMIC_RELEASE);
	futex(&sh->stage, FUTEX_WAKE, INT32_MAX, NULL);
}

/* In a task: record the failure for the controller and die. */
static void __attribute__((noreturn)) task_fail(struct rst_ctx *ctx, struct rst_task *t,
						int err, const char *what)
{
	struct rst_shared *sh = ctx->shared;
	int32_t zero = 0;

	if (__atomic_compare_exchange_n(&sh->error, &zero, err ? err : -EINVAL, 0,
					__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
		sh->err_pid = t->pid;
		snprintf(sh->err_msg, sizeof(sh->err_msg), "%s", what);
	}
	for (int s = 0; s < RST_STAGE_NR; s++)
		futex(&sh->done[s], FUTEX_WAKE, INT32_MAX, NULL);
	_exit(1);
}

/* --- one task, from its first instruction to the restorer --- */

static void task_run(struct rst_ctx *ctx, struct rst_task *t) __attribute__((noreturn));

/* --restore-sibling: the root is made a child of our own parent (the RPC client). */
static bool rst_sibling(const struct rst_ctx *ctx, const struct rst_task *t)
{
	return ctx->opts->restore_sibling && t == ctx->tasks;
}

static pid_t fork_task(struct rst_ctx *ctx, struct rst_task *t)
{
	uint64_t tid = t->pid;
	struct clone_args ca = {
		.flags = fdt_clone_flags(t) | ns_clone_flags(ctx, t) |
			 (rst_sibling(ctx, t) ? CLONE_PARENT : 0),
		/* With CLONE_PARENT the kernel takes ours (clone3 wants 0 here). */
		.exit_signal = t->helper || rst_sibling(ctx, t) ? 0 : SIGCHLD,
		.set_tid = (uintptr_t)&tid,
		.set_tid_size = 1,
	};
	long pid;

	/* Its pid namespace must belong to its user namespace: made from inside. */
	if (t == ctx->tasks && ns_restore_has(CLONE_NEWUSER))
		pid = userns_clone_root(&ca);
	else
		pid = syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid == 0)
		task_run(ctx, t);
	if (pid < 0) {
		if (errno == EEXIST)
			pr_err("cannot restore pid %d: the PID is already taken", t->pid);
		else
			pr_perror("cannot create pid %d (clone3 with set_tid)", t->pid);
		return -errno;
	}
	return pid;
}

static void task_session(struct rst_ctx *ctx, struct rst_task *t)
{
	if (t->sid == t->pid) {
		if (setsid() < 0)
			task_fail(ctx, t, -errno, "create its session (setsid)");
	} else if (t->pgid == t->pid) {
		if (setpgid(0, 0))
			task_fail(ctx, t, -errno, "create its process group");
	}
}

/* Fork @t's children born before its setsid (@early), or the others. */
static void fork_children(struct rst_ctx *ctx, struct rst_task *t, bool early)
{
	for (size_t i = 1; i < ctx->nr_tasks; i++) {
		struct rst_task *c = &ctx->tasks[i];

		if (c->parent == t && pstree_born_before_setsid(c) == early &&
		    fork_task(ctx, c) < 0)
			task_fail(ctx, t, -errno, "fork a child");
	}
}

static void task_join_group(struct rst_ctx *ctx, struct rst_task *t)
{
	if (t->pgid == t->pid || !rst_task_by_pid(ctx, t->pgid))
		return;
	if (getpgid(0) != t->pgid && setpgid(0, t->pgid))
		task_fail(ctx, t, -errno, "join its process group");
}

static void task_zombie(struct rst_task *t)
{
	int sig = t->exit_code & 0x7f;

	if (sig) {
		struct rlimit none = { 0, 0 };
		sigset_t set;

		setrlimit(RLIMIT_CORE, &none);
		signal(sig, SIG_DFL);
		sigemptyset(&set);
		sigaddset(&set, sig);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		syscall(SYS_kill, t->pid, sig);
	}
	_exit((t->exit_code >> 8) & 0xff);
}

/*
 * Every signal, glibc's own two as well (its sigprocmask() leaves 32 and
 * 33 open): a POSIX timer the restorer arms may fire before the task's
 * own mask is back, and signal 32 is glibc's SIGEV_THREAD timer signal,
 * whose restored action kills (SIG_DFL) or drops it for good (SIG_IGN:
 * the kernel then parks the timer until the action changes).  Blocked, it
 * waits for the task's own mask.
 */
static void block_all_signals(void)
{
	uint64_t all = ~0ull;

	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, NULL, sizeof(all));
}

/* A helper child is done at the ready stage: it goes before @t does anything. */
static void reap_helpers(struct rst_ctx *ctx, struct rst_task *t)
{
	for (size_t i = 0; i < ctx->nr_tasks; i++) {
		struct rst_task *c = &ctx->tasks[i];
		int status;

		if (!c->helper || c->parent != t)
			continue;
		while (waitpid(c->pid, &status, __WALL) < 0) {
			if (errno != EINTR)
				task_fail(ctx, t, -errno, "reap a helper task");
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			task_fail(ctx, t, -ECHILD, "see its helper task end well");
	}
}

/* glibc registered rseq for us; its area goes away with our memory. */
static void unregister_rseq(void)
{
	unsigned int lens[] = { 32, __rseq_size };
	void *area = (char *)__builtin_thread_pointer() + __rseq_offset;

	if (!__rseq_size)
		return;
	for (size_t i = 0; i < 2; i++) {
		if (!syscall(SYS_rseq, area, lens[i], RSEQ_FLAG_UNREGISTER, RSEQ_SIG))
			return;
	}
}

static size_t region_size(struct rst_ctx *ctx, struct rst_task *t, size_t blob)
{
	size_t size = blob + PAGE_SZ + sizeof(struct rst_args) + 64;

	size += parts_args_size(ctx, t);
	size += PAGE_SZ;	/* the shared area, moved in at the end */
	return (size + PAGE_SZ - 1) & ~(PAGE_SZ - 1);
}

/* Map the region, fill it, move the shared area in; the args, or NULL. */
static struct rst_args *build_region(struct rst_ctx *ctx, struct rst_task *t, void **entry)
{
	size_t blob = restorer_blob_end - restorer_blob;
	size_t size = region_size(ctx, t, blob);
	struct rst_alloc al;
	struct rst_range region;
	struct rst_args *a;
	const char *fail = NULL;
	uint64_t addr;
	void *base, *sh;
	int ret;

	ret = mem_restore_hole(t, size, &addr);
	if (ret)
		task_fail(ctx, t, ret, "find room for the restorer");
	base = mmap((void *)addr, size, PROT_READ | PROT_WRITE | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (base != (void *)addr)
		task_fail(ctx, t, -errno, "map the restorer's region");
	al = (struct rst_alloc){ base, size - PAGE_SZ, 0 };
	region = (struct rst_range){ addr, addr + size };
	/* The blob, with a page of room for its .bss. */
	*entry = rst_alloc(&al, blob + PAGE_SZ, PAGE_SZ);
	memcpy(*entry, restorer_blob, blob);
	a = rst_alloc(&al, sizeof(*a), 64);
	ret = parts_args(ctx, t, a, &al, &region, &fail);
	if (ret)
		task_fail(ctx, t, ret, fail);
	a->close_from = ctx->svc_base;
	ctx->regions[t->index] = (struct rst_region){ addr, size, a->stopped, 0 };
	a->close_after_go = t->fdt_shared;
	sh = mremap(ctx->shared, PAGE_SZ, PAGE_SZ, MREMAP_MAYMOVE | MREMAP_FIXED,
		    (char *)base + size - PAGE_SZ);
	if (sh == MAP_FAILED)
		task_fail(ctx, t, -errno, "move the shared area into the region");
	ctx->shared = a->shared = sh;
	return a;
}

static void __attribute__((noreturn)) jump_to_restorer(struct rst_args *a, void *entry)
{
	__asm__ volatile("movq %0, %%rsp\n\t"
			 "jmp *%1"
			 :
			 : "r"(a->threads[0].stack_top), "r"((char *)entry + RST_ENTRY_OFFSET), "D"(a)
			 : "memory");
	__builtin_unreachable();
}

static void task_run(struct rst_ctx *ctx, struct rst_task *t)
{
	struct rst_shared *sh = ctx->shared;
	pid_t parent = t->parent ? t->parent->pid : ctx->controller_parent;
	struct rst_args *a;
	const char *fail = NULL;
	void *entry;
	int ret;

	/*
	 * Die with the parent until the tree runs: if stasis is killed half
	 * way, the whole half-restored tree goes with it, each task with its
	 * parent.  The restorer puts the dumped setting back at the end.
	 */
	/* The init of a new pid namespace has no parent in it: getppid() is 0. */
	if (!t->parent && pidns_restore_own(ctx))
		parent = 0;
	/*
	 * A session helper's child outlives it: it dies with the init of its
	 * pid namespace (the root) instead.
	 */
	if ((!t->fork_ppid && prctl(PR_SET_PDEATHSIG, SIGKILL)) || getppid() != parent)
		_exit(1);
	block_all_signals();
	/* Its namespaces hold what its children and fds may need. */
	ret = ns_restore_task(ctx, t);
	if (ret)
		task_fail(ctx, t, ret, "restore its namespaces");
	/* What the children inherit (memory copy-on-write) is made first. */
	ret = parts_before_fork(ctx, t, &fail);
	if (ret)
		task_fail(ctx, t, ret, fail);
	fork_children(ctx, t, true);
	task_session(ctx, t);
	fork_children(ctx, t, false);
	stage_done(sh, RST_STAGE_FORKED);
	stage_wait(sh, RST_STAGE_PGRP);
	task_join_group(ctx, t);
	stage_done(sh, RST_STAGE_PGRP);
	stage_wait(sh, RST_STAGE_READY);
	if (t->helper)
		_exit(0);
	reap_helpers(ctx, t);
	if (t->zombie)
		task_zombie(t);

	ret = parts_task(ctx, t, &fail);
	if (ret)
		task_fail(ctx, t, ret, fail);
	a = build_region(ctx, t, &entry);
	ret = parts_last(ctx, t, &fail);
	if (ret)
		task_fail(ctx, t, ret, fail);
	unregister_rseq();
	jump_to_restorer(a, entry);
}

/* --- the controller --- */

/*
 * /proc/@pid/stat of a task that may have gone: false, and nothing
 * logged, when it has.
 */
static bool stat_of(pid_t pid, struct proc_stat *st)
{
	if (kill(pid, 0) && errno == ESRCH)
		return false;
	return !proc_read_stat(pid, st);
}

/* Is @pid a zombie or gone?  For a task that should be alive. */
static bool task_dead(pid_t pid)
{
	struct proc_stat st;

	return !stat_of(pid, &st) || st.state == 'Z' || st.state == 'X';
}

/* Say how @t died when it is ours to ask (a signal tells a crash from an exit). */
static void died_how(const struct rst_task *t, int stage)
{
	siginfo_t si = { 0 };

	if (waitid(P_PID, t->real, &si, WEXITED | WNOHANG | WNOWAIT) || si.si_pid != t->real) {
		pr_err("pid %d died while being restored (stage %d)", t->pid, stage);
		return;
	}
	if (si.si_code == CLD_EXITED)
		pr_err("pid %d exited with %d while being restored (stage %d)", t->pid,
		       si.si_status, stage);
	else
		pr_err("pid %d was killed by signal %d while being restored (stage %d)", t->pid,
		       si.si_status, stage);
}

static int check_alive(struct rst_ctx *ctx, int stage)
{
	for (size_t i = 0; i < ctx->nr_tasks; i++) {
		struct rst_task *t = &ctx->tasks[i];

		/* A zombie leaves once its group is made; others never. */
		if (t->zombie && stage > RST_STAGE_PGRP)
			continue;
		if (!t->real)
			continue;	/* in a pid namespace of its own, not found yet */
		if (stage == RST_STAGE_FORKED && kill(t->real, 0) && errno == ESRCH)
			continue;	/* maybe not forked yet */
		if (task_dead(t->real)) {
			died_how(t, stage);
			return -ECHILD;
		}
	}
	return 0;
}

static int report_task_error(struct rst_ctx *ctx)
{
	struct rst_shared *sh = ctx->shared;

	if (!sh->error)
		return 0;
	pr_err("pid %d: cannot %s: %s", sh->err_pid, sh->err_msg, strerror(-sh->error));
	return sh->error;
}

/* Wait until @want tasks are through @stage; a task's failure ends it. */
static int stage_wait_all(struct rst_ctx *ctx, int stage, int32_t want)
{
	struct rst_shared *sh = ctx->shared;
	int timeout = ctx->opts->timeout ? ctx->opts->timeout : STAGE_TIMEOUT;
	uint64_t deadline = now_us() + timeout * 1000000ull;
	struct timespec nap = { 0, POLL_MS * 1000000l };
	int32_t n, seen = -1;
	int ret;

	while ((n = __atomic_load_n(&sh->done[stage], __ATOMIC_ACQUIRE)) < want) {
		ret = report_task_error(ctx);
		/*
		 * Tasks coming through say the tree lives: each task's stat is
		 * read only after a nap in which none came (a read of every
		 * task at every wake-up cost a 64-task tree 600 stat reads).
		 */
		if (!ret && n == seen)
			ret = check_alive(ctx, stage);
		seen = n;
		if (ret)
			return ret;
		if (now_us() > deadline) {
			pr_err("restore timed out in stage %d (%d of %d tasks through)", stage, n,
			       want);
			return -ETIMEDOUT;
		}
		futex(&sh->done[stage], FUTEX_WAIT, n, &nap);
	}
	return report_task_error(ctx);
}

/* A zombie of the tree must be dead before the others run. */
static int wait_zombies(struct rst_ctx *ctx)
{
	for (size_t i = 0; i < ctx->nr_tasks; i++) {
		struct rst_task *t = &ctx->tasks[i];

		for (int n = 0; t->zombie && !task_dead(t->real); n++) {
			if (n > 1000) {
				pr_err("zombie pid %d did not exit", t->pid);
				return -ETIMEDOUT;
			}
			usleep(1000);
		}
	}
	return 0;
}

static int run_stages(struct rst_ctx *ctx)
{
	int32_t all = ctx->nr_tasks, live = 0;
	int ret;

	for (size_t i = 0; i < ctx->nr_tasks; i++)
		live += !ctx->tasks[i].zombie;
	ret = stage_wait_all(ctx, RST_STAGE_FORKED, all);
	ctx->forked_us = now_us();
	/* Every task exists: the controller learns the pids it sees them by. */
	if (!ret)
		ret = pidns_find_real(ctx);
	/* Every task exists and waits: the client may set up around the root. */
	if (!ret)
		ret = notify(ctx->opts, NOTIFY_SETUP_NS, ctx->tasks[0].real) ?:
		      notify(ctx->opts, NOTIFY_POST_SETUP_NS, ctx->tasks[0].real);
	if (!ret)
		ret = procpath_restore_send(ctx);
	if (!ret) {
		stage_open(ctx->shared, RST_STAGE_PGRP);
		ret = stage_wait_all(ctx, RST_STAGE_PGRP, all);
	}
	if (!ret) {
		stage_open(ctx->shared, RST_STAGE_READY);
		ret = stage_wait_all(ctx, RST_STAGE_READY, live);
	}
	if (!ret)
		procpath_helpers_stop(ctx);
	if (!ret)
		ret = wait_zombies(ctx);
	if (!ret && fault_at("ready"))
		ret = -EFAULT;
	/* stasis dying here, with no clean-up: the tree must go by itself. */
	if (!ret && fault_at("crash"))
		_exit(1);
	return ret;
}

/*
 * Did we make @pid?  A PID that was taken by someone else is not ours to
 * kill.  With --restore-sibling the root is our parent's child: the chain
 * then ends at the root, whose parent is ours.
 */
static bool is_ours(struct rst_ctx *ctx, pid_t pid)
{
	pid_t self = getpid(), root = ctx->tasks[0].real;
	bool sibling = ctx->opts->restore_sibling;
	struct proc_stat st;

	for (int depth = 0; pid > 1 && depth < 1024; depth++) {
		if (!stat_of(pid, &st))
			return false;
		if (sibling && pid == root)
			return st.ppid == ctx->controller_parent;
		pid = st.ppid;
		if (pid == self)
			return true;
	}
	return false;
}

/* Kill everything created and reap it: we are its subreaper. */
static void kill_tree(struct rst_ctx *ctx)
{
	procpath_helpers_stop(ctx);
	for (size_t i = 0; i < ctx->nr_tasks; i++) {
		pid_t pid = ctx->tasks[i].real;

		/* Not known yet in a pid namespace: it dies with the root, its init. */
		if (pid && is_ours(ctx, pid))
			kill(pid, SIGKILL);
	}
	while (waitpid(-1, NULL, __WALL) > 0 || errno == EINTR)
		;
}

/* Every session and group must be one fork can rebuild. */
static int check_tree(struct rst_ctx *ctx)
{
	for (size_t i = 0; i < ctx->nr_tasks; i++) {
		struct rst_task *t = &ctx->tasks[i];
		pid_t psid = !t->parent ? -1 : pstree_born_before_setsid(t) ? t->parent->born_sid :
			     t->parent->sid;

		if (t->sid != t->pid && t->sid != psid && !(t == ctx->tasks && ctx->opts->shell_job)) {
			if (t == ctx->tasks)
				pr_err("pid %d is not a session leader; restore it with --shell-job",
				       t->pid);
			else
				pr_err("unsupported: pid %d is in session %d, its parent in %d",
				       t->pid, t->sid, psid);
			return -ENOTSUP;
		}
		if (t->pgid != t->pid && !rst_task_by_pid(ctx, t->pgid) && !ctx->opts->shell_job) {
			pr_err("unsupported: process group %d of pid %d has no leader in the tree",
			       t->pgid, t->pid);
			return -ENOTSUP;
		}
	}
	return 0;
}

/*
 * Is @tid free, or soon?  A tree a dump just killed may still have a
 * zombie or two its parent has not reaped yet (the dump waits for the
 * tasks' ends as their tracer, not for their parents' wait): such a pid
 * is waited for up to a second.
 */
static bool pid_free_soon(pid_t tid)
{
	const struct timespec tick = { 0, 2 * 1000 * 1000 };

	for (int i = 0; i < 500; i++) {
		int state = proc_state(tid);

		if (state == -ENOENT || state == -ESRCH)
			return true;
		if (state != 'Z' && state != 'X')
			return false;
		nanosleep(&tick, NULL);
	}
	return false;
}

/* Fail early and clearly on a PID in use, before anything is created. */
static int check_pids_free(struct rst_ctx *ctx)
{
	/* Every pid will be in the root's new pid namespace, empty until then. */
	if (pidns_restore_own(ctx))
		return pidns_restore_check(ctx);
	for (size_t i = 0; i < ctx->nr_tasks; i++) {
		for (size_t j = 0; j < ctx->tasks[i].nr_threads; j++) {
			pid_t tid = ctx->tasks[i].tids[j];

			if (!pid_free_soon(tid)) {
				pr_err("cannot restore pid %d: the PID is already taken", tid);
				return -EEXIST;
			}
		}
	}
	return 0;
}

static int read_inventory(struct rst_ctx *ctx)
{
	InventoryEntry *e;
	int ret;

	ret = img_read_one(ctx->dirfd, IMG_INVENTORY, 0, &inventory_entry__descriptor,
			   (ProtobufCMessage **)&e);
	if (ret == -ENOENT)
		pr_err("no inventory.img in %s: not a finished dump", ctx->opts->images_dir);
	if (ret)
		return ret;
	if (e->img_version != 2) {
		pr_err("unsupported: images of version %u", e->img_version);
		ret = -ENOTSUP;
	} else if (e->plugins_entry && e->plugins_entry->n_plugins) {
		pr_err("unsupported: the images need plugin %s", e->plugins_entry->plugins[0]);
		ret = -ENOTSUP;
	} else {
		ret = 0;
	}
	/*
	 * The dump's network lock is named after it (files/netlock.c), and
	 * is removed the way it was made, as CRIU does.
	 */
	ctx->network_lock = ctx->opts->network_lock;
	if (e->has_network_lock_method)
		ctx->network_lock = e->network_lock_method;
	if (e->dump_criu_run_id)
		snprintf(ctx->run_id, sizeof(ctx->run_id), "%s", e->dump_criu_run_id);
	img_free_msg(&e->base);
	return ret;
}

static int read_tasks(struct rst_ctx *ctx)
{
	return pstree_restore_read(ctx) ?: ns_restore_read(ctx) ?: parts_read(ctx);
}

/*
 * The service fds start above every fd of every task, the pool after
 * them; stasis's own log and images directory move there now.
 */
static int place_fds(struct rst_ctx *ctx)
{
	struct rlimit rl;
	int max = 2, fd;

	/* t->fds is sorted: its last entry is the task's highest fd. */
	for (size_t i = 0; i < ctx->nr_tasks; i++) {
		struct rst_task *t = &ctx->tasks[i];

		if (t->nr_fds && (int)t->fds[t->nr_fds - 1]->fd > max)
			max = t->fds[t->nr_fds - 1]->fd;
	}
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((rlim_t)max + SVC_FDS + 1024 > rl.rlim_cur) {
		pr_err("unsupported: fd %d does not fit under this RLIMIT_NOFILE (%llu)", max,
		       (unsigned long long)rl.rlim_cur);
		return -ENOTSUP;
	}
	ctx->svc_base = max + 1;
	ctx->pool_base = ctx->pool_next = ctx->svc_base + SVC_FDS;
	if (log_move_fd(ctx->svc_base + SVC_LOG))
		return -EBADF;
	fd = fcntl(ctx->dirfd, F_DUPFD_CLOEXEC, ctx->svc_base + SVC_IMAGES);
	if (fd < 0)
		return -errno;
	close(ctx->dirfd);
	ctx->dirfd = fd;
	return rst_keep_proc(ctx->svc_base + SVC_PROC);
}

static int write_stats(struct rst_ctx *ctx, uint64_t forking, uint64_t restore)
{
	RestoreStatsEntry r;
	StatsEntry e;
	struct img *img;
	int ret, wfd, dfd;

	restore_stats_entry__init(&r);
	r.forking_time = forking;
	r.restore_time = restore;
	r.has_pages_restored = 1;
	r.pages_restored = ctx->pages_restored;
	stats_entry__init(&e);
	e.restore = &r;
	/* In the work directory as CRIU (imgdir_work_open()). */
	if (imgdir_work_open(ctx->opts->work_dir, ctx->dirfd, &wfd))
		return -1;
	dfd = wfd >= 0 ? wfd : ctx->dirfd;
	/* The images may be read-only: the restore stands, without its stats. */
	if (faccessat(dfd, ".", W_OK, AT_EACCESS)) {
		pr_warn("stats-restore not written: the %s directory is not writable",
			wfd >= 0 ? "work" : "images");
		ret = 0;
	} else if (!(ret = img_open(&img, dfd, IMG_STATS_RESTORE, 0, O_WRONLY))) {
		ret = img_write_msg(img, &e.base);
		ret = img_close(img) ?: ret;
	}
	if (wfd >= 0)
		close(wfd);
	return ret;
}

static int write_pidfile(const struct opts *o, pid_t pid)
{
	FILE *f;

	if (!o->pidfile)
		return 0;
	f = fopen(o->pidfile, "w");
	if (!f) {
		pr_perror("cannot write the pidfile %s", o->pidfile);
		return -errno;
	}
	fprintf(f, "%d", pid);
	return fclose(f) ? -errno : 0;
}

static int restore_tree(struct rst_ctx *ctx)
{
	uint64_t t0 = now_us(), t1;
	int ret;

	ctx->shared = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctx->shared == MAP_FAILED)
		return -errno;
	ctx->shared->stage = RST_STAGE_FORKED;
	ctx->regions = mmap(NULL, ctx->nr_tasks * sizeof(*ctx->regions), PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctx->regions == MAP_FAILED)
		return -errno;
	ctx->controller = getpid();
	ctx->controller_parent = ctx->opts->restore_sibling ? getppid() : ctx->controller;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1)) {
		pr_perror("cannot become a child subreaper");
		return -errno;
	}
	/* In a pid namespace of its own, a task's pid here is known once it exists. */
	for (size_t i = 0; pidns_restore_own(ctx) && i < ctx->nr_tasks; i++)
		ctx->tasks[i].real = 0;
	ret = fork_task(ctx, &ctx->tasks[0]);
	/* The root has the tree's namespaces: stasis goes on in its own. */
	if (ns_restore_leave(ctx) && ret >= 0) {
		kill_tree(ctx);
		return -EIO;
	}
	if (ret < 0)
		return ret;
	ctx->tasks[0].real = ret;
	ret = run_stages(ctx) ?: finish_seize(ctx);
	if (!ret && ctx->shared->fill_helpers)
		pr_info("%d task(s) had their pages read by several threads",
			ctx->shared->fill_helpers);
	/* As CRIU: the client and the pidfile get the root's pid as stasis sees it. */
	if (!ret)
		ret = notify(ctx->opts, NOTIFY_POST_RESTORE, ctx->tasks[0].real);
	t1 = now_us();
	/* Before the tree runs: a pidfile that cannot be written fails the restore. */
	if (!ret)
		ret = write_pidfile(ctx->opts, ctx->tasks[0].real);
	/* As CRIU: the tree's own network is unlocked next (parts_arm()); the hook's answer is not heard. */
	if (!ret && ns_restore_has(CLONE_NEWNET))
		notify(ctx->opts, NOTIFY_NET_UNLOCK, ctx->tasks[0].real);
	if (!ret)
		ret = parts_arm(ctx);
	if (!ret)
		ret = notify(ctx->opts, NOTIFY_PRE_RESUME, ctx->tasks[0].real);
	if (!ret) {
		stage_open(ctx->shared, RST_STAGE_GO);
		ret = finish_release(ctx);
		pr_info("tree caught and let go in %" PRIu64 " us", now_us() - t1);
	}
	finish_free(ctx);
	if (ret) {
		kill_tree(ctx);
		return ret;
	}
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	/* The tree runs: as in CRIU, a failure here is only reported. */
	notify(ctx->opts, NOTIFY_POST_RESUME, ctx->tasks[0].real);
	pr_info("restore of tree %d finished: %" PRIu64 " us", ctx->tasks[0].pid, t1 - t0);
	/* As CRIU: forking until every task exists, restoring from then on. */
	write_stats(ctx, ctx->forked_us - t0, t1 - ctx->forked_us);
	return 0;
}

/* Without -d, stay the root's parent until it ends, as CRIU does. */
static int wait_root(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return 0;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

static void free_tasks(struct rst_ctx *ctx)
{
	for (size_t i = 0; i < ctx->nr_tasks; i++) {
		struct rst_task *t = &ctx->tasks[i];

		for (size_t j = 0; t->cores && j < t->nr_threads; j++) {
			if (t->cores[j])
				img_free_msg(&t->cores[j]->base);
		}
		free(t->cores);
		free(t->tids);
		if (t->ids)
			img_free_msg(&t->ids->base);
	}
	free(ctx->tasks);
}

/*
 * --exec-cmd (RPC exec_cmd): once the tree runs, stasis becomes the
 * command, as CRIU does, which so has the restored root (when it is our
 * child) as its own.  @out_fd, when >= 0, becomes its stdout and stderr
 * (the RPC's log: the client's socket is no place for them).  Returns
 * only on failure.
 */
int restore_exec_cmd(char *const *cmd, int out_fd)
{
	sigset_t none;

	if (out_fd >= 0 && (dup2(out_fd, STDOUT_FILENO) < 0 || dup2(out_fd, STDERR_FILENO) < 0)) {
		pr_perror("--exec-cmd: cannot make the log its output");
		return -errno;
	}
	pr_info("--exec-cmd: running %s", cmd[0]);
	/* stasis blocks SIGCHLD for itself; the command starts with none blocked. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execvp(cmd[0], cmd);
	pr_perror("--exec-cmd: cannot run %s", cmd[0]);
	return -errno;
}

int cr_restore(const struct opts *o, int *exit_code, pid_t *root)
{
	struct rst_ctx ctx = { .opts = o, .dirfd = -1 };
	int ret;

	*exit_code = 0;
	ctx.dirfd = open(o->images_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ctx.dirfd < 0) {
		pr_perror("cannot open images directory %s", o->images_dir);
		return -errno;
	}
	ret = read_inventory(&ctx);
	if (!ret)
		ret = read_tasks(&ctx);
	/* The tree's own mount namespace is rebuilt from --root (ns/mnt.c). */
	if (!ret && o->root && strcmp(o->root, "/") &&
	    !ns_restore_has(CLONE_NEWNS)) {
		pr_err("unsupported: --root %s for a tree without a mount namespace of its own",
		       o->root);
		ret = -ENOTSUP;
	}
	if (!ret)
		ret = pstree_add_helpers(&ctx) ?: check_tree(&ctx) ?: check_pids_free(&ctx) ?:
		      parts_collect(&ctx);
	if (!ret)
		ret = place_fds(&ctx);
	/* Before anything is made: the files made next may already notify (orphan-pts-master). */
	if (!ret)
		ret = notify(o, NOTIFY_PRE_RESTORE, 0);
	/* The pool is made inside the tree's namespaces, its mounts and net. */
	if (!ret)
		ret = ns_restore_enter(&ctx) ?: parts_prepare(&ctx) ?: ns_restore_settle(&ctx);
	/* The last check before the fork: can this CPU run the registers? */
	if (!ret)
		ret = cpuinfo_restore_check(&ctx);
	if (!ret && fault_at("prepare"))
		ret = -EFAULT;
	if (!ret)
		ret = restore_tree(&ctx);
	ns_restore_leave(&ctx);	/* if restore_tree has not, at the root's fork */
	if (ret)
		pr_err("restore of %s failed", o->images_dir);
	if (!ret)
		parts_finish(&ctx);
	parts_cleanup(&ctx);
	if (!ret && root)
		*root = ctx.tasks[0].real;
	/* With --exec-cmd the command, which stasis becomes, has the root to wait for. */
	if (!ret && !o->restore_detached && !o->restore_sibling && !o->exec_cmd) {
		pid_t pid = ctx.tasks[0].real;

		free_tasks(&ctx);
		close(ctx.dirfd);
		*exit_code = wait_root(pid);
		return 0;
	}
	free_tasks(&ctx);
	close(ctx.dirfd);
	return ret;
}
