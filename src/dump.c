/*
 * dump.c - `stasis dump`: a running process tree to CRIU images.
 *
 * The pipeline, in order:
 *   seize     stop every thread of every task (libcompel)
 *   collect   the tree, its groups and sessions, which objects tasks share
 *   per task  infect it with the parasite, then let every task part
 *             (parts.c: core, memory, files, ids, ...) write its images; cure
 *   images    what parts kept for the end (pipe data, seccomp filters);
 *             pstree, timens; inventory
 *             last, so that a directory without one is an unfinished dump
 *   release   kill the tree (CRIU's default) or let it run on (-R)
 * Whatever fails, every task is cured and resumed as it was, and the
 * error says what failed.
 */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86/cpuinfo.h"
#include "dump.h"
#include "imgdir.h"
#include "inventory.pb-c.h"
#include "clock.h"
#include "cgroup.h"
#include "log.h"
#include "mem-chain.h"
#include "mem-dump.h"
#include "mem-track.h"
#include "notify.h"
#include "page-server.h"
#include "ns/ns.h"
#include "parts.h"
#include "proc.h"
#include "pstree.h"
#include "stats.pb-c.h"
#include "tls.h"

/* The signal that asked the dump to stop (SIGTERM, SIGINT, SIGHUP), or 0. */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
	stop_signal = sig;
}

/*
 * Asked to stop, the dump fails at its next step like any other failure:
 * every task is cured and resumed as it was.  SIGPIPE is ignored: a
 * broken pipe is a write error, and fails the dump the same way.
 */
void dump_catch_stop_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop_signal, .sa_flags = SA_RESTART };
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Between two steps: a stop signal, or a fault a test asked for at @step. */
static int dump_step(const char *step)
{
	if (stop_signal) {
		pr_err("signal %d: the dump stops at step %s", (int)stop_signal, step);
		return -EINTR;
	}
	return fault_at(step) ? -EFAULT : 0;
}

#define FAULT_AT(step)	dump_step(step)

/* A pre-dump takes memory only: remote calls, no parasite. */
static int pre_dump_one_task(struct dump_ctx *ctx, struct dump_task *t)
{
	int ret, err;

	pr_info("pre-dumping pid %d", t->pid);
	ret = ns_dump_check_task(t) ?: compel_prepare(ctx->tree, t->pid, &t->ctl);
	if (ret)
		return ret;
	ret = FAULT_AT("infect") ?: mem_dump_task(ctx, t) ?: FAULT_AT("mem");
	err = compel_cure(t->ctl);
	t->ctl = NULL;
	if (err && !ret)
		pr_err("pid %d: could not be cured", t->pid);
	return ret ?: err;
}

static bool task_is_zombie(const struct dump_task *t)
{
	return t->ct->state == COMPEL_TASK_ZOMBIE;
}

/*
 * Infecting @b maps the parasite into its memory and opens a memfd in its
 * fd table: a task sharing either, whose parts are being read, would show
 * them.
 */
static bool task_shares(const struct dump_task *a, const struct dump_task *b)
{
	return a->vm_id == b->vm_id || a->files_id == b->files_id;
}

/*
 * A dump that kills the tree once it is whole need not cure what it has
 * dumped: each task's parasite is parked instead (compel_park), saving
 * its stops and remote calls, and dies with it.  Should the dump fail
 * after all, releasing the tree cures every parked task first.
 */
static bool park_until_kill(const struct dump_ctx *ctx)
{
	return !ctx->pre_dump && !ctx->track && !ctx->opts->leave_running;
}

/* Parked parasites in @t's memory or fd table, cured before @t is read. */
static int cure_parked_sharing(struct dump_ctx *ctx, const struct dump_task *t)
{
	int ret = 0;

	for (size_t i = 0; i < ctx->nr_tasks; i++) {
		struct dump_task *p = &ctx->tasks[i];
		int err;

		if (!p->parked || !task_shares(p, t))
			continue;
		err = compel_cure(p->parked);
		p->parked = NULL;
		if (err)
			pr_err("pid %d: could not be cured", p->pid);
		else
			pr_debug("pid %d: cured before pid %d, which shares its memory or fds",
				 p->pid, t->pid);
		ret = ret ?: err;
	}
	return ret;
}

/* On the tracer, first: the task's kernel objects' ids given (task_shares() compares them). */
static int task_ready(struct dump_ctx *ctx, struct dump_task *t)
{
	pr_info("dumping pid %d", t->pid);
	return pstree_task_ids(ctx, t);
}

/* What ptrace tells (registers, masks) before compel blocks all signals. */
static int task_begin_first(struct dump_ctx *ctx, struct dump_task *t)
{
	/* After the pipe has ended (and parked) a task that @t shares with. */
	return cure_parked_sharing(ctx, t) ?: parts_dump_gather(ctx, t) ?:
	       compel_prepare(ctx->tree, t->pid, &t->ctl);
}

/*
 * On the tracer, ahead of @t's turn (dump-pipe.c): begin up to the
 * infection's first remote call, which @t then makes on its own while the
 * tracer waits for the task before it.
 */
static int task_prime(struct dump_ctx *ctx, struct dump_task *t)
{
	t->primed = true;
	return task_begin_first(ctx, t) ?: compel_infect_start(t->ctl);
}

/*
 * On the tracer, up to the parasite's first answers: what ptrace tells
 * (unless primed), the infection, and what the parts ask of the parasite
 * first (dump_infected).  The parasite starts with the core's question
 * (GET_TASK) posted, answered as it starts.
 */
static int task_begin(struct dump_ctx *ctx, struct dump_task *t)
{
	int ret;

	ret = t->primed ? 0 : task_begin_first(ctx, t);
	if (!ret)
		ret = compel_infect_with(t->ctl, COMPEL_CMD_GET_TASK) ?: FAULT_AT("infect");
	if (!ret)
		ret = parts_dump_infected(ctx, t);
	return ret;
}

/*
 * The parts, on whichever thread (dump-pipe.c); a zombie's own.  The
 * task's namespaces are checked first, here rather than on the tracer: a
 * task in one stasis cannot dump fails the dump all the same, cured.
 */
static int task_body(struct dump_ctx *ctx, struct dump_task *t)
{
	if (task_is_zombie(t))
		return parts_dump_zombie(ctx, t);
	return ns_dump_check_task(t) ?: parts_dump_task(ctx, t, dump_step);
}

/* On the tracer, after task_begin() whatever it did: the parts' state freed, the task cured or parked. */
static int task_end(struct dump_ctx *ctx, struct dump_task *t, int ret)
{
	int err = 0;

	parts_dump_done(t);
	if (t->ctl && !ret && park_until_kill(ctx) && !compel_park(t->ctl))
		t->parked = t->ctl;
	else if (t->ctl)
		err = compel_cure(t->ctl);
	t->ctl = NULL;
	if (err && !ret)
		pr_err("pid %d: could not be cured", t->pid);
	return ret ?: err;
}

static const struct dump_steps task_steps = {
	.is_zombie = task_is_zombie,
	.ready = task_ready,
	.shares = task_shares,
	.prime = task_prime,
	.begin = task_begin,
	.body = task_body,
	.end = task_end,
};

/*
 * Two tasks in flight (dump-pipe.c) for a tree of several live tasks;
 * one after the other for a pre-dump (remote calls, no parasite), a dump
 * that arms tracking (its remote calls are the tracer's), or when
 * STASIS_DUMP_SERIAL=1 asks, for the benchmarks to compare.
 */
static bool use_pipe(const struct dump_ctx *ctx)
{
	size_t live = 0;

	if (ctx->pre_dump || ctx->track || getenv("STASIS_DUMP_SERIAL"))
		return false;
	for (size_t i = 0; i < ctx->nr_tasks; i++)
		live += !task_is_zombie(&ctx->tasks[i]);
	return live > 1;
}

static int dump_one_task(struct dump_ctx *ctx, struct dump_task *t)
{
	int ret;

	if (ctx->pre_dump)
		return pre_dump_one_task(ctx, t);
	if (task_is_zombie(t))
		return task_body(ctx, t);
	ret = task_ready(ctx, t) ?: task_begin(ctx, t) ?: task_body(ctx, t);
	return task_end(ctx, t, ret);
}

static int dump_tasks(struct dump_ctx *ctx)
{
	int ret;

	ret = img_open(&ctx->files_img, ctx->dirfd, IMG_FILES, 0, O_WRONLY);
	if (!ret && use_pipe(ctx))
		ret = dump_pipe_run(ctx, &task_steps);
	else if (!ret)
		for (size_t i = 0; !ret && i < ctx->nr_tasks; i++)
			ret = ctx->pre_dump && task_is_zombie(&ctx->tasks[i]) ? 0 :
			      dump_one_task(ctx, &ctx->tasks[i]);
	if (!ret)
		ret = parts_dump_finish(ctx);
	if (ctx->files_img) {
		int err = img_close(ctx->files_img);

		ret = ret ?: err;
		ctx->files_img = NULL;
	}
	return ret;
}

/* The clocks a time namespace would be set from, read now. */
static void make_run_id(char *buf, size_t len)
{
	uint8_t u[16] = { 0 };

	if (getrandom(u, sizeof(u), 0) != sizeof(u))
		u[0] = getpid();
	u[6] = (u[6] & 0x0f) | 0x40;	/* a version 4 UUID */
	u[8] = (u[8] & 0x3f) | 0x80;
	snprintf(buf, len, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
		 u[12], u[13], u[14], u[15]);
}

/* Microseconds since boot, as CRIU records a tracking dump's time. */
static uint64_t uptime_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A pre-dump's inventory: its time, for the next dump of the chain. */
static int pre_dump_inventory(struct dump_ctx *ctx, int dirfd)
{
	InventoryEntry e;

	inventory_entry__init(&e);
	e.img_version = 2;
	e.has_dump_uptime = 1;
	e.dump_uptime = uptime_us();
	e.has_pre_dump_mode = 1;
	e.pre_dump_mode = 1;	/* CRIU's "splice": pages taken while the tree is frozen */
	e.dump_criu_run_id = ctx->run_id;
	return img_write_one(dirfd, IMG_INVENTORY, 0, &e.base);
}

/* Into @dirfd: inventory.img waits in the hidden directory until the dump is published. */
static int dump_inventory(struct dump_ctx *ctx, int dirfd)
{
	TaskKobjIdsEntry root;
	PluginsEntry plugins;
	InventoryEntry e;

	if (ctx->pre_dump)
		return pre_dump_inventory(ctx, dirfd);
	inventory_entry__init(&e);
	e.img_version = 2;
	if (ctx->opts->track_mem) {
		e.has_dump_uptime = 1;
		e.dump_uptime = uptime_us();
	}
	e.has_fdinfo_per_id = e.fdinfo_per_id = 1;
	pstree_root_ids(ctx, &root);
	e.root_ids = &root;
	e.has_ns_per_id = e.ns_per_id = 1;
	e.has_root_cg_set = 1;
	e.root_cg_set = 1;
	e.has_lsmtype = 1;
	e.lsmtype = LSMTYPE__NO_LSM;
	e.has_network_lock_method = 1;
	e.network_lock_method = ctx->opts->network_lock;
	/* Present and empty: this dump needs no plugin to restore. */
	plugins_entry__init(&plugins);
	e.plugins_entry = &plugins;
	e.dump_criu_run_id = ctx->run_id;
	return img_write_one(dirfd, IMG_INVENTORY, 0, &e.base);
}

/* stats-dump, in the work directory as CRIU (imgdir_work_open()). */
static int dump_stats(struct dump_ctx *ctx, int images_fd)
{
	DumpStatsEntry d;
	StatsEntry e;
	int wfd, ret;

	dump_stats_entry__init(&d);
	d.freezing_time = ctx->stats.freezing_time;
	d.frozen_time = ctx->stats.frozen_time;
	d.memdump_time = ctx->stats.memdump_time;
	d.memwrite_time = ctx->stats.memwrite_time;
	d.pages_scanned = ctx->stats.pages_scanned;
	d.pages_skipped_parent = ctx->stats.pages_skipped_parent;
	d.pages_written = ctx->stats.pages_written;
	/* dump --lazy-pages: those the dump kept to serve are not in the images. */
	d.pages_lazy = lazy_store_pages(ctx->pages.lazy);
	d.pages_written -= d.pages_lazy;
	d.has_irmap_resolve = 1;
	d.has_page_pipes = d.has_page_pipe_bufs = 1;
	d.has_shpages_scanned = d.has_shpages_skipped_parent = d.has_shpages_written = 1;
	d.shpages_scanned = ctx->stats.shpages_scanned;
	d.shpages_written = ctx->stats.shpages_written;
	/* CRIU's stats have no field for them: zero pages left out are only logged. */
	pr_info("pages: %" PRIu64 " scanned, %" PRIu64 " written, %" PRIu64 " zero left out; "
		"shared: %" PRIu64 " scanned, %" PRIu64 " written, %" PRIu64 " zero left out",
		ctx->stats.pages_scanned, ctx->stats.pages_written, ctx->stats.pages_zero,
		ctx->stats.shpages_scanned, ctx->stats.shpages_written, ctx->stats.shpages_zero);
	stats_entry__init(&e);
	e.dump = &d;
	ret = imgdir_work_open(ctx->opts->work_dir, images_fd, &wfd);
	if (ret)
		return ret;
	ret = img_write_one(wfd >= 0 ? wfd : ctx->dirfd, IMG_STATS_DUMP, 0, &e.base);
	if (wfd >= 0)
		close(wfd);
	return ret;
}

static int dump_images(struct dump_ctx *ctx, int inventory_fd)
{
	int ret;

	if (ctx->pre_dump)
		return FAULT_AT("images") ?: dump_inventory(ctx, inventory_fd);
	ret = pstree_dump(ctx);
	if (!ret)
		ret = ns_dump_images(ctx) ?: FAULT_AT("namespaces");
	/* Written unless --cpu-cap=none; CRIU writes it only when asked. */
	if (!ret && ctx->opts->cpu_cap != CPU_CAP_NONE)
		ret = cpuinfo_dump(ctx->dirfd) ?: FAULT_AT("cpuinfo");
	if (!ret)
		ret = FAULT_AT("images");
	/* Last: its presence marks the dump complete. */
	if (!ret)
		ret = dump_inventory(ctx, inventory_fd);
	return ret;
}

/*
 * --status-fd of a dump that kills its tree (not --lazy-pages, whose byte
 * says it serves): the tree is dead and its pids are free, while the
 * memory of its big tasks may still be going (compel's keepers).  A
 * migration within one host restores from here on.
 */
static void pids_free(void *arg)
{
	const struct opts *o = arg;

	pr_info("the tree is dead, its pids free");
	status_fd_ready(o);
}

static void release_tree(struct dump_ctx *ctx, bool ok)
{
	bool kill = ok && !ctx->opts->leave_running && !ctx->pre_dump;

	if (!ctx->tree)
		return;
	if (kill && !ctx->opts->lazy_pages && ctx->opts->status_fd >= 0)
		compel_tree_on_pids_free(ctx->tree, pids_free, (void *)ctx->opts);
	if (compel_tree_release(ctx->tree, kill ? COMPEL_RELEASE_KILL : 0))
		pr_err("the tree could not be released cleanly");
	ctx->tree = NULL;
	if (!ok)
		pr_msg("Dump failed: the tree was resumed as it was");
}

/* --prev-images-dir, relative to the images directory as in CRIU. */
static int open_parent(struct dump_ctx *ctx, struct imgdir *dir)
{
	const char *prev = ctx->opts->prev_images_dir;

	if (!prev)
		return 0;
	ctx->parent_dirfd = openat(dir->final_fd, prev, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ctx->parent_dirfd < 0) {
		pr_perror("cannot open the parent images %s", prev);
		return -errno;
	}
	return 0;
}

/* network-lock and network-unlock are for a tree in a net namespace of its own only, as CRIU's. */
static bool own_netns(pid_t pid)
{
	char path[64];
	struct stat a, b;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	return !stat(path, &a) && !stat("/proc/self/ns/net", &b) &&
	       (a.st_ino != b.st_ino || a.st_dev != b.st_dev);
}

int cr_dump(const struct opts *given)
{
	/* Ours: the RPC client may add externals on the way (query-ext-files). */
	struct opts own = *given;
	const struct opts *o = &own;
	struct dump_ctx ctx = { .opts = o, .dirfd = -1, .parent_dirfd = -1 };
	struct imgdir dir;
	uint64_t t0 = now_us(), frozen;
	bool net_notified = false;
	int ret;

	if (o->tree <= 0) {
		pr_err("dump: a tree to dump is needed (-t PID)");
		return -EINVAL;
	}
	if (o->lazy_pages && (o->page_server || strcmp(o->action, "dump") || o->leave_running ||
			      o->track_mem)) {
		pr_err("not supported yet: dump --lazy-pages with --page-server, -R, --track-mem "
		       "or in a pre-dump");
		return -ENOTSUP;
	}
	dump_catch_stop_signals();
	ctx.pre_dump = !strcmp(o->action, "pre-dump");
	make_run_id(ctx.run_id, sizeof(ctx.run_id));
	ret = imgdir_open(&dir, o->images_dir);
	if (ret)
		return ret;
	ctx.dirfd = dir.fd;
	ctx.pages = (struct page_xfer_dest){ dir.fd, &ctx.last_pages_id, -1, NULL };
	ret = o->lazy_pages ? lazy_dump_open(o, &ctx.pages.lazy) : 0;
	if (ret) {
		imgdir_close(&dir, true);
		return ret;
	}
	/* A pre-dump runs no hook, as in CRIU (runc's own pre-dump counts on it). */
	ret = (ctx.pre_dump ? 0 : notify(o, NOTIFY_PRE_DUMP, o->tree)) ?:
	      cgroup_check_freezer(o->freeze_cgroup) ?:
	      open_parent(&ctx, &dir);
	if (ret) {
		imgdir_close(&dir, true);
		return ret;
	}
	/* Before the tree is frozen: a page server that is not there stops nothing. */
	if (o->page_server) {
		ctx.pages.sk = page_xfer_connect(o, true);
		if (ctx.pages.sk < 0) {
			if (ctx.parent_dirfd >= 0)
				close(ctx.parent_dirfd);
			imgdir_close(&dir, true);
			return ctx.pages.sk;
		}
	}
	ret = compel_tree_seize(o->tree, &ctx.tree);
	frozen = now_us();
	ctx.stats.freezing_time = frozen - t0;
	if (!ret)
		ret = FAULT_AT("seize");
	/* Frozen, the tree's namespaces hold still: each is read once. */
	proc_ns_cache(!ret);
	if (!ret)
		ret = pstree_collect(&ctx) ?: FAULT_AT("collect");
	/* As CRIU, before query-ext-files: the namespace is locked in ns_dump_check(). */
	if (!ret && !ctx.pre_dump && own_netns(o->tree)) {
		net_notified = true;
		ret = notify(o, NOTIFY_NET_LOCK, o->tree);
	}
	/* As CRIU: the tree is frozen, its files not looked at yet. */
	if (!ret && !ctx.pre_dump)
		ret = notify_query_ext_files(&own);
	if (!ret)
		ret = track_open(&ctx);
	if (!ret)
		ret = ns_dump_check(&ctx);
	if (!ret)
		ret = dump_tasks(&ctx);
	/* The page server's answer: every page it was sent is written. */
	if (ctx.pages.sk >= 0) {
		int err = ret ? 0 : page_xfer_disconnect(o, ctx.pages.sk);

		if (ret)
			ps_sk_close(ctx.pages.sk, false);
		ctx.pages.sk = -1;
		ret = ret ?: err;
	}
	if (!ret)
		ret = dump_images(&ctx, dir.last_fd);
	/*
	 * The stats go before the tree may be killed: once it is, nothing may
	 * fail, or the user is told the dump failed while the tree is gone.
	 */
	ctx.stats.frozen_time = now_us() - frozen;
	if (!ret)
		ret = dump_stats(&ctx, dir.final_fd) ?: FAULT_AT("stats");
	if (!ret)
		ret = track_finish(&ctx, ctx.dirfd, true) ?: FAULT_AT("track");
	/*
	 * A move that fails half way leaves no inventory.img: the directory
	 * then holds no dump that looks complete.
	 */
	if (!ret)
		ret = FAULT_AT("publish") ?: imgdir_publish(&dir);
	/* The client may still say no (migration): the tree then runs on. */
	if (!ret && !ctx.pre_dump)
		ret = notify(o, NOTIFY_POST_DUMP, o->tree);
	/* The tree runs on, so does its network; what the hook says changes nothing, as CRIU. */
	if (net_notified && (ret || o->leave_running))
		notify(o, NOTIFY_NET_UNLOCK, o->tree);
	if (ret) {
		parts_dump_undo(&ctx);
		pr_err("dump of tree %d failed", o->tree);
	}
	proc_ns_cache(false);
	release_tree(&ctx, !ret);
	track_close(&ctx, !ret);
	if (ctx.parent_dirfd >= 0)
		close(ctx.parent_dirfd);
	parts_dump_cleanup(&ctx);
	pstree_dump_cleanup(&ctx);
	free(ctx.tasks);
	imgdir_close(&dir, ret != 0);
	if (!ret)
		pr_info("dump of tree %d finished", o->tree);
	/* The dump is whole: only now may its parents give up their copies. */
	if (!ret && o->auto_dedup && o->page_server)
		pr_warn("--auto-dedup: the pages are on the page server, not deduplicated here");
	else if (!ret && o->auto_dedup && mem_chain_dedup(o->images_dir))
		pr_warn("--auto-dedup failed: the parent images keep pages the dump has again");
	return lazy_dump_serve(o, ctx.pages.lazy, ret);
}
