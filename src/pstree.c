/*
 * pstree.c - the dumped tree and the sharing between its tasks.
 *
 * Two tasks share a memory map, fd table, fs info or signal handlers when
 * kcmp(2) says so; each shared object gets one small id.  stasis itself
 * takes the first id of each kind, as CRIU does with its own, so that the
 * inventory's root_ids describe the dumper and a task sharing nothing with
 * it starts at 2.  Namespaces are told apart by the inodes of their /proc/PID/ns files.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "ns/ns.h"
#include "parts.h"
#include "proc.h"
#include "pstree.h"
#include "pstree.pb-c.h"
#include "rst-ctx.h"

/* CRIU's order of namespace ids: pid net ipc uts time mnt user cgroup. */
static const char *const ns_names[] = {
	"pid", "net", "ipc", "uts", "time", "mnt", "user", "cgroup",
};
#define NR_NS	(sizeof(ns_names) / sizeof(ns_names[0]))

struct ns_ids {
	ino_t ino[64];
	int nr;
};

static uint32_t ns_id(struct ns_ids *ids, pid_t pid, const char *ns)
{
	ino_t ino;

	if (proc_ns_ino(pid, ns, &ino))
		return 0;
	for (int i = 0; i < ids->nr; i++)
		if (ids->ino[i] == ino)
			return i + 1;
	if (ids->nr == 64)
		return 0;
	ids->ino[ids->nr++] = ino;
	return ids->nr;
}

static struct ns_ids ns_table;
static uint32_t own_ns[NR_NS];

uint32_t pstree_own_ns_id(const char *name)
{
	return ns_id(&ns_table, getpid(), name);
}

uint32_t pstree_ns_id(pid_t pid, const char *name)
{
	return ns_id(&ns_table, pid, name);
}

/*
 * The tasks of distinct objects of one kind (address spaces, fd tables,
 * fs structs, signal handler tables), one per object, in the order kcmp
 * gives those objects: a task's object is found among them by bisection,
 * with a handful of kcmp calls instead of one per task before it.
 */
struct kobj_set {
	int type;			/* KCMP_* */
	struct dump_task **reps;
	size_t nr;
	uint32_t last;			/* the last id given */
};

/* Where @a's object stands against @b's: 0 the same, -1 before, 1 after, 2 unknown. */
static int kobj_cmp(pid_t a, pid_t b, int type)
{
	switch (syscall(SYS_kcmp, a, b, type, 0, 0)) {
	case 0: return 0;
	case 1: return -1;
	case 2: return 1;
	default: return 2;	/* no order (or an error): compare one by one */
	}
}

/* The id of @t's object in @s: that of a task seen sharing it, or a new one. */
static uint32_t kobj_id(struct kobj_set *s, struct dump_task *t,
			uint32_t (*get)(struct dump_task *))
{
	size_t lo = 0, hi = s->nr, mid;
	int c;

	if (!syscall(SYS_kcmp, getpid(), t->pid, s->type, 0, 0))
		return 1;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = kobj_cmp(s->reps[mid]->pid, t->pid, s->type);
		if (c == 0)
			return get(s->reps[mid]);
		if (c == 2)
			goto linear;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(&s->reps[lo + 1], &s->reps[lo], (s->nr - lo) * sizeof(*s->reps));
	s->reps[lo] = t;
	s->nr++;
	return ++s->last;
linear:
	for (size_t k = 0; k < s->nr; k++)
		if (!kobj_cmp(s->reps[k]->pid, t->pid, s->type))
			return get(s->reps[k]);
	s->reps[s->nr++] = t;
	return ++s->last;
}

static uint32_t get_vm(struct dump_task *t) { return t->vm_id; }
static uint32_t get_files(struct dump_task *t) { return t->files_id; }
static uint32_t get_fs(struct dump_task *t) { return t->fs_id; }
static uint32_t get_sighand(struct dump_task *t) { return t->sighand_id; }

/*
 * Put the tasks in depth-first order, each child right after its parent's
 * earlier children's subtrees, as CRIU lists them in pstree.img.
 */
static size_t order_dfs(struct compel_tree *tree, pid_t parent, size_t at,
			const struct compel_task **out)
{
	size_t nr = compel_tree_nr_tasks(tree);

	for (size_t i = 1; i < nr; i++) {
		const struct compel_task *c = compel_tree_task(tree, i);

		if (c->ppid != parent)
			continue;
		out[at++] = c;
		at = order_dfs(tree, c->pid, at, out);
	}
	return at;
}

#define NR_KOBJ_SETS	4

void pstree_dump_cleanup(struct dump_ctx *ctx)
{
	struct kobj_set *sets = ctx->pstree_priv;

	for (size_t i = 0; sets && i < NR_KOBJ_SETS; i++)
		free(sets[i].reps);
	free(sets);
	ctx->pstree_priv = NULL;
}

/* The sets for pstree_task_ids(), room for every task of the tree. */
static int kobj_sets_alloc(struct dump_ctx *ctx, size_t nr)
{
	static const int types[NR_KOBJ_SETS] = { KCMP_VM, KCMP_FILES, KCMP_FS, KCMP_SIGHAND };
	struct kobj_set *sets = calloc(NR_KOBJ_SETS, sizeof(*sets));

	ctx->pstree_priv = sets;
	for (size_t i = 0; sets && i < NR_KOBJ_SETS; i++) {
		sets[i] = (struct kobj_set){ .type = types[i], .last = 1 };
		sets[i].reps = calloc(nr, sizeof(*sets[i].reps));
		if (!sets[i].reps)
			return -ENOMEM;
	}
	return sets ? 0 : -ENOMEM;
}

int pstree_task_ids(struct dump_ctx *ctx, struct dump_task *t)
{
	struct kobj_set *sets = ctx->pstree_priv;

	if (!sets)
		return -ENOMEM;
	t->vm_id = kobj_id(&sets[0], t, get_vm);
	t->files_id = kobj_id(&sets[1], t, get_files);
	t->fs_id = kobj_id(&sets[2], t, get_fs);
	t->sighand_id = kobj_id(&sets[3], t, get_sighand);
	return 0;
}

int pstree_collect(struct dump_ctx *ctx)
{
	size_t nr = compel_tree_nr_tasks(ctx->tree);
	const struct compel_task **order;
	int ret = -ENOMEM;

	ctx->tasks = calloc(nr, sizeof(*ctx->tasks));
	order = calloc(nr, sizeof(*order));
	if (!ctx->tasks || !order || kobj_sets_alloc(ctx, nr))
		goto out;
	order[0] = compel_tree_task(ctx->tree, 0);
	if (order_dfs(ctx->tree, order[0]->pid, 1, order) != nr) {
		pr_err("the tree at %d changed shape while being seized", order[0]->pid);
		ret = -EAGAIN;
		goto out;
	}
	for (size_t i = 0; i < NR_NS; i++)
		own_ns[i] = ns_id(&ns_table, getpid(), ns_names[i]);
	ret = 0;
	for (size_t i = 0; !ret && i < nr; i++) {
		struct dump_task *t = &ctx->tasks[i];

		t->ct = order[i];
		t->pid = t->ct->pid;
		/* The tree is frozen: what stat says now holds for the whole dump. */
		ret = proc_read_stat(t->pid, &t->stat);
		if (ret)
			break;
		t->pgid = t->stat.pgid;
		t->sid = t->stat.sid;
		ctx->nr_tasks++;
	}
	/* What goes into the images: the pids the tree sees. */
	if (!ret)
		ret = pidns_dump_collect(ctx);
out:
	free(order);
	return ret;
}

static void fill_ns_ids(TaskKobjIdsEntry *e, const uint32_t ns[NR_NS])
{
	e->has_pid_ns_id = e->has_net_ns_id = e->has_ipc_ns_id = e->has_uts_ns_id = 1;
	e->has_mnt_ns_id = e->has_user_ns_id = e->has_cgroup_ns_id = e->has_time_ns_id = 1;
	e->pid_ns_id = ns[0];
	e->net_ns_id = ns[1];
	e->ipc_ns_id = ns[2];
	e->uts_ns_id = ns[3];
	e->time_ns_id = ns[4];
	e->mnt_ns_id = ns[5];
	e->user_ns_id = ns[6];
	e->cgroup_ns_id = ns[7];
}

void pstree_root_ids(struct dump_ctx *ctx, TaskKobjIdsEntry *ids)
{
	(void)ctx;
	task_kobj_ids_entry__init(ids);
	ids->vm_id = ids->files_id = ids->fs_id = ids->sighand_id = 1;
	fill_ns_ids(ids, own_ns);
}

int pstree_dump_ids(struct dump_ctx *ctx, struct dump_task *t)
{
	TaskKobjIdsEntry e;
	uint32_t ns[NR_NS];
	struct img *img;
	int ret;

	task_kobj_ids_entry__init(&e);
	e.vm_id = t->vm_id;
	e.files_id = t->files_id;
	e.fs_id = t->fs_id;
	e.sighand_id = t->sighand_id;
	for (size_t i = 0; i < NR_NS; i++)
		ns[i] = ns_id(&ns_table, t->pid, ns_names[i]);
	fill_ns_ids(&e, ns);
	ret = img_open(&img, ctx->dirfd, IMG_IDS, t->vpid, O_WRONLY);
	if (ret)
		return ret;
	ret = img_write_msg(img, &e.base);
	return img_close(img) ?: ret;
}

int pstree_dump(struct dump_ctx *ctx)
{
	struct img *img;
	int ret;

	ret = img_open(&img, ctx->dirfd, IMG_PSTREE, 0, O_WRONLY);
	if (ret)
		return ret;
	for (size_t i = 0; !ret && i < ctx->nr_tasks; i++) {
		const struct dump_task *t = &ctx->tasks[i];
		uint32_t zombie_thread = t->vpid;
		PstreeEntry e;

		pstree_entry__init(&e);
		e.pid = t->vpid;
		/* The root's parent is not ours. */
		e.ppid = i ? dump_vpid(ctx, t->ct->ppid) : 0;
		e.pgid = t->pgid;
		e.sid = t->sid;
		if (t->ct->nr_threads) {
			e.n_threads = t->ct->nr_threads;
			e.threads = (uint32_t *)(t->vtids ? t->vtids : t->ct->threads);
		} else {
			e.n_threads = 1;
			e.threads = &zombie_thread;
		}
		ret = img_write_msg(img, &e.base);
	}
	return img_close(img) ?: ret;
}

/* --- restore --- */

static int read_ids(struct rst_ctx *ctx, struct rst_task *t)
{
	int ret;

	ret = img_read_one(ctx->dirfd, IMG_IDS, t->pid, &task_kobj_ids_entry__descriptor,
			   (ProtobufCMessage **)&t->ids);
	/* A zombie has none; core_restore_read() checks the rest. */
	return ret == -ENOENT ? 0 : ret;
}

static int add_task(struct rst_ctx *ctx, PstreeEntry *e)
{
	struct rst_task *t;

	/*
	 * CRIU 4.2 knows no thread of a zombie and writes whatever its buffer
	 * held as its one thread id: whether the task is a zombie is known from
	 * its core image, which core_restore_read() checks this against.
	 */
	if (e->pid <= 0 || !e->n_threads || (e->threads[0] != e->pid && e->n_threads != 1)) {
		pr_err("pstree.img: a malformed entry for pid %d", e->pid);
		return -EINVAL;
	}
	if (rst_task_by_pid(ctx, e->pid)) {
		pr_err("pstree.img: pid %d is listed twice", e->pid);
		return -EINVAL;
	}
	t = realloc(ctx->tasks, (ctx->nr_tasks + 1) * sizeof(*t));
	if (!t)
		return -ENOMEM;
	ctx->tasks = t;
	t = &ctx->tasks[ctx->nr_tasks];
	memset(t, 0, sizeof(*t));
	t->index = ctx->nr_tasks++;
	t->pid = t->real = e->pid;	/* ns/pid.c finds real in a pid namespace of its own */
	t->ppid = e->ppid;
	t->pgid = e->pgid;
	t->sid = e->sid;
	t->nr_threads = e->n_threads;
	t->tids = malloc(e->n_threads * sizeof(*t->tids));
	if (!t->tids)
		return -ENOMEM;
	for (size_t i = 0; i < e->n_threads; i++)
		t->tids[i] = e->threads[i];
	t->tid_unsure = e->threads[0] != e->pid;
	t->tids[0] = e->pid;
	return 0;
}

/*
 * Parents come before their children in ctx->tasks, the root first; a
 * session helper (added last) forks tasks listed before it.
 */
static int link_parents(struct rst_ctx *ctx)
{
	for (size_t i = 1; i < ctx->nr_tasks; i++) {
		struct rst_task *t = &ctx->tasks[i];

		t->parent = rst_task_by_pid(ctx, t->fork_ppid ? t->fork_ppid : t->ppid);
		if (!t->parent || (!t->fork_ppid && t->parent->index >= t->index)) {
			pr_err("pstree.img: the parent %d of pid %d is not listed before it",
			       t->ppid, t->pid);
			return -EINVAL;
		}
	}
	return 0;
}

int pstree_restore_read(struct rst_ctx *ctx)
{
	struct img *img;
	PstreeEntry *e;
	int ret;

	ret = img_open(&img, ctx->dirfd, IMG_PSTREE, 0, O_RDONLY);
	if (ret == -ENOENT)
		pr_err("pstree.img is missing");
	if (ret)
		return ret;
	while ((ret = img_read_msg(img, &pstree_entry__descriptor, (ProtobufCMessage **)&e)) > 0) {
		ret = add_task(ctx, e);
		img_free_msg(&e->base);
		if (ret)
			break;
	}
	img_close(img);
	if (ret)
		return ret;
	if (!ctx->nr_tasks) {
		pr_err("pstree.img lists no task");
		return -EINVAL;
	}
	ret = link_parents(ctx);
	for (size_t i = 0; !ret && i < ctx->nr_tasks; i++)
		ret = read_ids(ctx, &ctx->tasks[i]);
	return ret;
}

static struct rst_task *new_helper(struct rst_ctx *ctx, pid_t pid, const struct rst_task *parent)
{
	struct rst_task *t;
	size_t i = ctx->nr_tasks, p = parent->index;

	t = realloc(ctx->tasks, (i + 1) * sizeof(*t));
	if (!t)
		return NULL;
	ctx->tasks = t;
	t = &ctx->tasks[i];
	memset(t, 0, sizeof(*t));
	t->tids = malloc(sizeof(*t->tids));
	if (!t->tids)
		return NULL;
	t->index = i;
	t->pid = t->real = t->tids[0] = pid;
	t->ppid = ctx->tasks[p].pid;
	t->pgid = ctx->tasks[p].pgid;
	t->sid = ctx->tasks[p].sid;
	t->nr_threads = 1;
	t->zombie = t->helper = true;
	ctx->nr_tasks++;
	return t;
}

/*
 * A process group outlives its leader: a task may be in group G while no
 * task G is left.  Only a task G can make group G (setpgid(0, 0)), so, as
 * CRIU does, a helper task is made with pid G: a child of the first member
 * met, in its session.  It makes the group in the session stage, stays
 * while the others join it (the group stage), and exits at the ready
 * stage, reaped by its parent before the parent goes on: nothing of it is
 * left.  It exits with no signal to its parent, which would see it.  A
 * group that is stasis's own (a --shell-job) is joined, not made.
 */
static int add_helper(struct rst_ctx *ctx, size_t member)
{
	struct rst_task *t = new_helper(ctx, ctx->tasks[member].pgid, &ctx->tasks[member]);

	if (!t)
		return -ENOMEM;
	t->pgid = t->pid;
	pr_info("pid %d: a helper for process group %d, whose leader is gone", t->ppid, t->pid);
	return 0;
}

/* A pid no task, thread, group or session of the tree has. */
static pid_t free_pid(const struct rst_ctx *ctx)
{
	pid_t max = 1;

	for (size_t i = 0; i < ctx->nr_tasks; i++) {
		const struct rst_task *t = &ctx->tasks[i];

		max = t->pgid > max ? t->pgid : max;
		max = t->sid > max ? t->sid : max;
		for (size_t j = 0; j < t->nr_threads; j++)
			max = t->tids[j] > max ? t->tids[j] : max;
	}
	return max + 1;
}

/*
 * Is task @i an orphan the root, init of its pid namespace, took in, in
 * a session neither its own nor the root's?  A fork by the root cannot
 * give it that session.
 */
static bool is_alien_orphan(struct rst_ctx *ctx, size_t i)
{
	const struct rst_task *t = &ctx->tasks[i];

	return i && !t->helper && t->sid != t->pid && t->ppid == ctx->tasks[0].pid &&
	       t->sid != ctx->tasks[0].sid && pidns_restore_own(ctx);
}

/*
 * The helper that forks the orphans of session @sid, made on first need
 * (among the tasks from @first on): a child of the session's leader, with
 * a pid the tree does not use; or, with the leader gone, the leader's
 * stand-in, pid @sid, a child of the root that makes the session.
 */
static struct rst_task *session_helper(struct rst_ctx *ctx, size_t first, pid_t sid)
{
	struct rst_task *l = rst_task_by_pid(ctx, sid), *h;

	for (size_t k = first; k < ctx->nr_tasks; k++)
		if (ctx->tasks[k].sid == sid)
			return &ctx->tasks[k];
	h = new_helper(ctx, l ? free_pid(ctx) : sid, l ? l : &ctx->tasks[0]);
	if (!h)
		return NULL;
	if (!l)
		h->sid = h->pgid = sid;
	pr_info("pid %d: helper %d forks the orphans of session %d", h->ppid, h->pid, sid);
	return h;
}

/*
 * A fork gives the child its parent's session.  As CRIU does, an orphan
 * of the root in another session is forked by a session helper
 * (session_helper()), which exits at the ready stage, reaped by its
 * parent: the kernel hands its children to the init of the pid
 * namespace, the root, again.  That happens before any task of the tree
 * is a subreaper again (a task's parts, after the ready stage), so none
 * of them takes the orphans.
 */
static int add_session_helpers(struct rst_ctx *ctx)
{
	size_t nr = ctx->nr_tasks;

	for (size_t i = 1; i < nr; i++) {
		struct rst_task *h;

		if (!is_alien_orphan(ctx, i))
			continue;
		h = session_helper(ctx, nr, ctx->tasks[i].sid);
		if (!h)
			return -ENOMEM;
		ctx->tasks[i].fork_ppid = h->pid;
	}
	return 0;
}

/*
 * A task in its parent's old session: the parent forked it, then made a
 * session of its own (setsid).  Every task from the parent up to the
 * session's leader was born in that session (born_sid) and forks the
 * children born in it before its setsid.  As CRIU, a task born in two
 * sessions is refused.
 */
static int find_born_sids(struct rst_ctx *ctx)
{
	for (size_t i = 1; i < ctx->nr_tasks; i++) {
		struct rst_task *t = &ctx->tasks[i], *p;

		if (t->helper || t->sid == t->pid || t->parent->sid == t->sid)
			continue;
		for (p = t->parent; p && p->pid != t->sid; p = p->parent) {
			if (p->born_sid && p->born_sid != t->sid) {
				pr_err("unsupported: pid %d was born in session %d and in %d",
				       p->pid, p->born_sid, t->sid);
				return -ENOTSUP;
			}
			p->born_sid = t->sid;
		}
		/* !p: the leader is no ancestor; restore.c's check says so. */
	}
	return 0;
}

int pstree_add_helpers(struct rst_ctx *ctx)
{
	size_t nr;
	/* stasis's own group cannot be seen from a pid namespace of the root's. */
	pid_t own = pidns_restore_own(ctx) ? -1 : getpgrp();
	int ret;

	/* The array moves: parents are linked again after each step. */
	ret = add_session_helpers(ctx) ?: link_parents(ctx) ?: find_born_sids(ctx);
	nr = ctx->nr_tasks;
	for (size_t i = 0; !ret && i < nr; i++) {
		struct rst_task *t = &ctx->tasks[i];

		if (t->pgid == t->pid || t->pgid == own || rst_task_by_pid(ctx, t->pgid))
			continue;
		if (t->pgid <= 0) {
			pr_err("pstree.img: pid %d has process group %d", t->pid, t->pgid);
			return -EINVAL;
		}
		ret = add_helper(ctx, i);
	}
	return ret ?: link_parents(ctx);
}

bool pstree_born_before_setsid(const struct rst_task *t)
{
	pid_t sid = t->born_sid ? t->born_sid : t->sid;

	return t->parent && t->parent->born_sid && t->parent->born_sid == sid;
}

/* The ids of each task's shared objects (ids-PID.img); the tree itself is the pipeline's. */
const struct task_part_ops ids_part = {
	.name = "ids",
	.dump_task = pstree_dump_ids,
};
