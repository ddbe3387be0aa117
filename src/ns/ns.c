/*
 * ns.c - the namespaces a dumped tree is in, and the table of the kinds
 * stasis dumps (ns.h).
 *
 * Dump: every task must be in stasis's own namespace of each kind not in
 * the table, and in the root's of each kind in it; the root's that are
 * not stasis's are dumped, with stasis moved into each (setns) while its
 * images are written, and back.  Restore: the controller moves into new
 * namespaces of those kinds (unshare) and fills them, makes the pool of
 * shared objects there, forks the root into them, and moves back; a kind
 * made by the root's own clone3 (pid) has no restore hook.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dump.h"
#include "files/api.h"
#include "inventory.pb-c.h"
#include "log.h"
#include "ns/ns.h"
#include "proc.h"
#include "pstree.h"
#include "restore.h"

static const struct ns_operations *const ns_table[] = {
	/* First: every other kind is made inside it (user.c). */
	&user_ns_ops,
	&pid_ns_ops,
	&uts_ns_ops,
	&ipc_ns_ops,
	/* Before net, whose restore runs ip: no task may enter a time namespace before its offsets. */
	&time_ns_ops,
	&net_ns_ops,
	&cgroup_ns_ops,
	/* Last: once it has pivoted the controller, the host's tools (ip, tar) are out of reach. */
	&mnt_ns_ops,
};
#define NR_OPS	(sizeof(ns_table) / sizeof(ns_table[0]))
_Static_assert(SVC_NS_OWN + NR_OPS <= SVC_FDS, "a service fd for each kind");

/* Every kind the kernel may have, dumped or not. */
static const char *const ns_kinds[] = {
	"pid", "net", "mnt", "ipc", "uts", "user", "time", "cgroup",
};
#define NR_KINDS	(sizeof(ns_kinds) / sizeof(ns_kinds[0]))

/* The root's own namespaces (CLONE_NEW* of the table's kinds) and their ids. */
static unsigned long root_mask;
static uint32_t root_ids[NR_OPS];
/* At dump, the root when it has a net namespace of its own; 0 otherwise. */
static pid_t net_root;
/* The tree's net namespace when it is not stasis's (ns_net_fd()); -1 otherwise. */
static int net_fd = -1;

static void net_fd_drop(void)
{
	if (net_fd >= 0)
		close(net_fd);
	net_fd = -1;
}

int ns_net_fd(void)
{
	char path[64];

	if (net_fd < 0 && net_root) {
		snprintf(path, sizeof(path), "/proc/%d/ns/net", net_root);
		net_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (net_fd < 0)
			pr_perror("cannot open the tree's net namespace");
	}
	return net_fd;
}

static const struct ns_operations *ns_ops(const char *kind)
{
	for (size_t i = 0; i < NR_OPS; i++)
		if (!strcmp(ns_table[i]->name, kind))
			return ns_table[i];
	return NULL;
}

/* The inode of /proc/@pid/ns/@name (pid 0: stasis); 0 if the kernel has none. */
static int ns_ino(pid_t pid, const char *name, ino_t *ino)
{
	int ret = proc_ns_ino(pid, name, ino);

	if (ret == -ENOENT) {
		*ino = 0;	/* a kernel without this namespace */
		return 0;
	}
	if (ret)
		pr_err("cannot read the %s namespace of pid %d: %s", name, pid ? pid : getpid(),
		       strerror(-ret));
	return ret;
}

/*
 * Task @pid against stasis's namespace @mine and the root's @roots of kind
 * @kind.  Those two are read once per dump, not again for every task: a
 * tree of 64 tasks made 1,000 more stats otherwise.
 */
static int check_task(pid_t pid, pid_t root, const char *kind, ino_t mine, ino_t roots)
{
	ino_t its;
	int ret;

	ret = ns_ino(pid, kind, &its);
	if (ret)
		return ret;
	if (!ns_ops(kind) && its != mine) {
		pr_err("unsupported: pid %d is in another %s namespace than stasis "
		       "(%s namespaces are not dumped yet)", pid, kind, kind);
		return -ENOTSUP;
	}
	if (!strcmp(kind, "time") && its) {
		ino_t children;

		ret = ns_ino(pid, "time_for_children", &children);
		if (ret)
			return ret;
		if (children != its) {
			/* Its offsets could only be set before it had a task. */
			pr_err("unsupported: pid %d has made a time namespace for its children "
			       "(a nested time namespace)", pid);
			return -ENOTSUP;
		}
	}
	if (its != roots && ns_ops(kind) && ns_ops(kind)->per_task && roots != mine && its != mine)
		return 0;	/* dumped with the root's */
	if (its != roots) {
		pr_err("unsupported: pid %d is in another %s namespace than the tree's root %d "
		       "(only the root's is dumped)", pid, kind, root);
		return -ENOTSUP;
	}
	return 0;
}

/* Stasis's namespaces and the root's, for ns_dump_check_task(). */
static ino_t check_mine[NR_KINDS], check_roots[NR_KINDS];
static pid_t check_root;

int ns_dump_check_task(const struct dump_task *t)
{
	int ret = 0;

	for (size_t k = 0; !ret && k < NR_KINDS; k++)
		ret = check_task(t->pid, check_root, ns_kinds[k], check_mine[k], check_roots[k]);
	return ret;
}

int ns_dump_check(struct dump_ctx *ctx)
{
	pid_t root = ctx->tasks[0].pid;
	int ret = 0;

	root_mask = 0;
	net_root = 0;
	net_fd_drop();
	check_root = root;
	for (size_t k = 0; !ret && k < NR_KINDS; k++)
		ret = ns_ino(0, ns_kinds[k], &check_mine[k]) ?:
		      ns_ino(root, ns_kinds[k], &check_roots[k]);
	for (size_t i = 0; !ret && i < NR_OPS; i++) {
		ino_t mine, roots;

		ret = ns_ino(0, ns_table[i]->name, &mine) ?: ns_ino(root, ns_table[i]->name, &roots);
		if (ret || mine == roots)
			continue;
		root_mask |= ns_table[i]->cflag;
		root_ids[i] = pstree_ns_id(root, ns_table[i]->name);
		pr_info("the root %d has its own %s namespace, id %u", root, ns_table[i]->name,
			root_ids[i]);
	}
	/* Its tasks could not get their pids back from inside it (set_tid wants the host's rights). */
	if (!ret && (root_mask & CLONE_NEWUSER) && !(root_mask & CLONE_NEWPID)) {
		pr_err("unsupported: the root %d has a user namespace of its own but not a pid "
		       "namespace", root);
		ret = -ENOTSUP;
	}
	/* Before any task is dumped: their ids go into the images as the tree sees them. */
	if (!ret)
		ret = userns_dump_collect(root, root_mask & CLONE_NEWUSER);
	if (!ret && (root_mask & CLONE_NEWNET))
		net_root = root;
	if (!ret)
		ret = net_sub_collect(ctx);
	/* Locked before any task is dumped, as CRIU does (a pre-dump locks nothing). */
	if (!ret && net_root && !ctx->pre_dump)
		ret = files_dump_netns_lock(ctx);
	return ret;
}

bool ns_dump_has(unsigned long cflag)
{
	return root_mask & cflag;
}

ino_t ns_net_ino(void)
{
	ino_t ino;

	return ns_ino(net_root, "net", &ino) ? 0 : ino;
}

int ns_net_socket(int domain, int type, int protocol)
{
	char path[64];
	int its, own, sk = -1, err;

	if (!net_root && net_sub_sock_ns() < 0)
		return socket(domain, type, protocol);
	snprintf(path, sizeof(path), "/proc/%d/ns/net", net_root);
	if (net_sub_sock_ns() >= 0)
		snprintf(path, sizeof(path), "/proc/self/fd/%d", net_sub_sock_ns());
	its = open(path, O_RDONLY | O_CLOEXEC);
	own = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (its >= 0 && own >= 0 && !setns(its, CLONE_NEWNET)) {
		sk = socket(domain, type, protocol);
		if (setns(own, CLONE_NEWNET)) {
			/* stasis would go on in the tree's namespace: nothing more is safe. */
			pr_perror("cannot return to stasis's own net namespace");
			if (sk >= 0)
				close(sk);
			sk = -1;
		}
	}
	err = sk < 0 ? errno : 0;
	if (its >= 0)
		close(its);
	if (own >= 0)
		close(own);
	errno = err;
	return sk;
}

/* ops->dump() with stasis in task @pid's namespace of that kind. */
static int dump_inside(struct dump_ctx *ctx, const struct ns_operations *ops, pid_t pid,
		       uint32_t id)
{
	char path[64];
	int own, its, ret;

	if (ops->dump_outside)
		return ops->dump(ctx, id);
	snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, ops->name);
	its = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/self/ns/%s", ops->name);
	own = open(path, O_RDONLY | O_CLOEXEC);
	if (its < 0 || own < 0) {
		pr_perror("pid %d: cannot open its %s namespace", pid, ops->name);
		ret = -errno;
		goto out;
	}
	if (setns(its, ops->cflag)) {
		pr_perror("pid %d: cannot enter its %s namespace", pid, ops->name);
		ret = -errno;
		goto out;
	}
	ret = ops->dump(ctx, id);
	if (setns(own, ops->cflag)) {
		/* stasis would go on in the tree's namespace: nothing more is safe. */
		pr_perror("cannot return to stasis's own %s namespace", ops->name);
		ret = ret ?: -errno;
	}
out:
	if (its >= 0)
		close(its);
	if (own >= 0)
		close(own);
	return ret;
}

int ns_dump_images(struct dump_ctx *ctx)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < NR_OPS; i++)
		if (root_mask & ns_table[i]->cflag && ns_table[i]->dump)
			ret = dump_inside(ctx, ns_table[i], ctx->tasks[0].pid, root_ids[i]);
	if (!ret && !(root_mask & CLONE_NEWTIME))
		ret = ns_time_dump_own(ctx);
	return ret;
}

/* --- restore --- */

/* The id of namespace @kind in @e; 0 when it has none. */
static uint32_t ids_ns(const TaskKobjIdsEntry *e, const char *kind)
{
	static const struct {
		const char *kind;
		size_t has, id;
	} f[] = {
#define F(k, n) { k, offsetof(TaskKobjIdsEntry, has_##n##_ns_id), offsetof(TaskKobjIdsEntry, n##_ns_id) }
		F("pid", pid), F("net", net), F("mnt", mnt), F("ipc", ipc), F("uts", uts),
		F("user", user), F("time", time), F("cgroup", cgroup),
#undef F
	};

	for (size_t i = 0; e && i < sizeof(f) / sizeof(f[0]); i++) {
		if (strcmp(f[i].kind, kind))
			continue;
		if (!*(const protobuf_c_boolean *)((const char *)e + f[i].has))
			return 0;
		return *(const uint32_t *)((const char *)e + f[i].id);
	}
	return 0;
}

/* Kind @kind: the root's own (1), or not (0), or a refusal. */
static int read_kind(struct rst_ctx *ctx, const TaskKobjIdsEntry *inv, const char *kind)
{
	const struct rst_task *root = &ctx->tasks[0];
	uint32_t rid = ids_ns(root->ids, kind), iid = ids_ns(inv, kind);

	for (size_t i = 1; i < ctx->nr_tasks; i++) {
		const struct rst_task *t = &ctx->tasks[i];
		uint32_t id = ids_ns(t->ids, kind);

		if (id && rid && id != rid && !(ns_ops(kind) && ns_ops(kind)->per_task &&
						 iid && rid != iid && id != iid)) {
			pr_err("unsupported: pid %d is in another %s namespace than the root %d",
			       t->pid, kind, root->pid);
			return -ENOTSUP;
		}
	}
	if (!rid || !iid || rid == iid)
		return 0;
	if (!ns_ops(kind)) {
		pr_err("unsupported: the root %d has its own %s namespace "
		       "(%s namespaces are not restored yet)", root->pid, kind, kind);
		return -ENOTSUP;
	}
	return 1;
}

/*
 * A tree dumped in stasis's own time namespace gets one of its own all the
 * same, as CRIU does, with the clocks of timens-0.img: its monotonic and
 * boot clocks go on from where they were, not from this host's.
 */
static void own_clocks(struct rst_ctx *ctx)
{
	for (size_t i = 0; i < NR_OPS; i++) {
		if (ns_table[i] != &time_ns_ops || (root_mask & CLONE_NEWTIME))
			continue;
		if (faccessat(ctx->dirfd, "timens-0.img", F_OK, 0) ||
		    access("/proc/self/timens_offsets", F_OK))
			return;	/* no clocks dumped, or a kernel without time namespaces */
		root_mask |= CLONE_NEWTIME;
		root_ids[i] = 0;
		pr_info("the root %d gets a time namespace with the dumped clocks",
			ctx->tasks[0].pid);
	}
}

int ns_restore_read(struct rst_ctx *ctx)
{
	InventoryEntry *inv;
	int ret;

	root_mask = 0;
	net_root = 0;
	net_fd_drop();
	net_sub_forget();
	ret = img_read_one(ctx->dirfd, IMG_INVENTORY, 0, &inventory_entry__descriptor,
			   (ProtobufCMessage **)&inv);
	if (ret)
		return ret;
	for (size_t k = 0; !ret && k < NR_KINDS; k++) {
		const struct ns_operations *ops = ns_ops(ns_kinds[k]);

		ret = read_kind(ctx, inv->root_ids, ns_kinds[k]);
		if (ret != 1)
			continue;
		ret = 0;
		for (size_t i = 0; i < NR_OPS; i++) {
			if (ns_table[i] != ops)
				continue;
			root_mask |= ops->cflag;
			root_ids[i] = ids_ns(ctx->tasks[0].ids, ops->name);
			pr_info("the root %d gets its own %s namespace, id %u", ctx->tasks[0].pid,
				ops->name, root_ids[i]);
			ret = ops->prepare ? ops->prepare(ctx, root_ids[i]) : 0;
		}
	}
	img_free_msg(&inv->base);
	if (!ret && (root_mask & CLONE_NEWUSER) && !(root_mask & CLONE_NEWPID)) {
		pr_err("unsupported: the root %d has a user namespace of its own but not a pid "
		       "namespace", ctx->tasks[0].pid);
		ret = -ENOTSUP;
	}
	/* Its root is cloned by a helper, as a child of the controller (user.c). */
	if (!ret && (root_mask & CLONE_NEWUSER) && ctx->opts->restore_sibling) {
		pr_err("unsupported: --restore-sibling for a tree with a user namespace of its own");
		ret = -ENOTSUP;
	}
	if (!ret)
		own_clocks(ctx);
	return ret;
}

/* stasis's own namespaces of the kinds it entered anew, to go back to. */
static int own_fds[NR_OPS] = { [0 ... NR_OPS - 1] = -1 };
static int own_cwd = -1;

/* The kinds the root makes itself (restore_root), neither unshared here nor cloned. */
static unsigned long by_root_mask(void)
{
	unsigned long mask = 0;

	for (size_t i = 0; i < NR_OPS; i++)
		if ((root_mask & ns_table[i]->cflag) && ns_table[i]->by_root)
			mask |= ns_table[i]->cflag;
	return mask;
}

static unsigned long unshared_mask(void)
{
	unsigned long mask = 0;

	for (size_t i = 0; i < NR_OPS; i++)
		if ((root_mask & ns_table[i]->cflag) && ns_table[i]->restore)
			mask |= ns_table[i]->cflag;
	return mask;
}

/*
 * @path opened as service fd @slot: every fd below the service fds may be
 * one the root inherits as its own.
 */
static int open_svc(struct rst_ctx *ctx, const char *path, int flags, int slot)
{
	int fd, nfd, err;

	/* Through stasis's /proc: the tree's mount namespace, entered by now, may have none. */
	if (!strncmp(path, "/proc/self/", 11))
		fd = rst_open_self(path + 11, flags);
	else
		fd = open(path, flags | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("cannot open %s", path);
		return -errno;
	}
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, ctx->svc_base + slot);
	err = errno;
	close(fd);
	if (nfd < 0) {
		pr_err("cannot move %s to service fd %d: %s", path, ctx->svc_base + slot,
		       strerror(err));
		return -err;
	}
	return nfd;
}

static int keep_own(struct rst_ctx *ctx)
{
	char path[64];

	own_cwd = open_svc(ctx, ".", O_PATH | O_DIRECTORY, SVC_NS_CWD);
	if (own_cwd < 0)
		return own_cwd;
	for (size_t i = 0; i < NR_OPS; i++) {
		if (!(unshared_mask() & ns_table[i]->cflag))
			continue;
		snprintf(path, sizeof(path), "/proc/self/ns/%s", ns_table[i]->name);
		own_fds[i] = open_svc(ctx, path, O_RDONLY, SVC_NS_OWN + i);
		if (own_fds[i] < 0)
			return own_fds[i];
	}
	return 0;
}

/*
 * The namespaces of @mask, made and entered.  In a user namespace of the
 * tree's they are made from inside it (user.c), but the time namespace:
 * its offsets are written from here, and it gives no rights to its owner.
 */
static int make_all(struct rst_ctx *ctx, unsigned long mask)
{
	unsigned long here = mask;
	int ret;

	if (root_mask & CLONE_NEWUSER) {
		here = mask & CLONE_NEWTIME;
		ret = userns_restore_make(ctx, unshared_mask() & ~here, SVC_NS_USER);
		if (ret)
			return ret;
	}
	if (here && unshare(here)) {
		pr_perror("cannot make the root's namespaces (unshare %#lx)", here);
		return -errno;
	}
	return 0;
}

static int restore_kind(struct rst_ctx *ctx, const struct ns_operations *ops, uint32_t id)
{
	int ret;

	if (!ops->as_userns_root || !(root_mask & CLONE_NEWUSER))
		return ops->restore(ctx, id);
	ret = userns_act_as_root(true);
	if (ret)
		return ret;
	ret = ops->restore(ctx, id);
	return userns_act_as_root(false) ?: ret;
}

int ns_restore_enter(struct rst_ctx *ctx)
{
	unsigned long mask = unshared_mask();
	int ret;

	if (!unshared_mask() && !(root_mask & CLONE_NEWUSER))
		return 0;
	ret = keep_own(ctx) ?: make_all(ctx, mask);
	for (size_t i = 0; !ret && i < NR_OPS; i++)
		if ((mask & ns_table[i]->cflag) && ns_table[i]->restore)
			ret = restore_kind(ctx, ns_table[i], root_ids[i]);
	/* Made (or joined) now: the network lock runs there until the tree runs. */
	if (!ret && (mask & CLONE_NEWNET)) {
		net_fd = open_svc(ctx, "/proc/self/ns/net", O_RDONLY, SVC_NS_NET);
		ret = net_fd < 0 ? net_fd : 0;
	}
	return ret;
}

int ns_restore_settle(struct rst_ctx *ctx)
{
	unsigned long mask = unshared_mask();
	int ret = 0;

	for (size_t i = 0; !ret && i < NR_OPS; i++)
		if ((mask & ns_table[i]->cflag) && ns_table[i]->restore_late)
			ret = ns_table[i]->restore_late(ctx, root_ids[i]);
	return ret;
}

int ns_restore_leave(struct rst_ctx *ctx)
{
	int ret = 0;

	(void)ctx;
	userns_restore_close();
	for (size_t i = 0; i < NR_OPS; i++) {
		if (own_fds[i] < 0)
			continue;
		if (setns(own_fds[i], ns_table[i]->cflag) && !ret) {
			pr_perror("cannot return to stasis's own %s namespace", ns_table[i]->name);
			ret = -errno;
		}
		close(own_fds[i]);
		own_fds[i] = -1;
	}
	if (own_cwd >= 0) {
		/* Entering a mount namespace moved us to its root. */
		if (fchdir(own_cwd) && !ret) {
			pr_perror("cannot return to stasis's working directory");
			ret = -errno;
		}
		close(own_cwd);
		own_cwd = -1;
	}
	return ret;
}

/* stasis's own mount namespace and cwd while it is in the tree's (ns_tree_enter()). */
static int back_mnt = -1, back_cwd = -1;

static void tree_back_close(void)
{
	if (back_mnt >= 0)
		close(back_mnt);
	if (back_cwd >= 0)
		close(back_cwd);
	back_mnt = back_cwd = -1;
}

int ns_tree_enter(struct rst_ctx *ctx)
{
	char path[64];
	int fd, ret = 0;

	if (!(root_mask & CLONE_NEWNS) || back_mnt >= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", ctx->tasks[0].real);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	back_mnt = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	back_cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || back_mnt < 0 || back_cwd < 0 || setns(fd, CLONE_NEWNS)) {
		ret = -errno;
		pr_perror("cannot enter the tree's mount namespace (%s)", path);
		tree_back_close();
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

int ns_tree_leave(void)
{
	int ret = 0;

	if (back_mnt < 0)
		return 0;
	if (setns(back_mnt, CLONE_NEWNS) || fchdir(back_cwd)) {
		ret = -errno;
		pr_perror("cannot come back from the tree's mount namespace");
	}
	tree_back_close();
	return ret;
}

int ns_restore_open(const char *name, unsigned long cflag, uint32_t id, int flags)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/ns/%s", name);
	for (size_t i = 0; i < NR_OPS; i++) {
		/* stasis's own, while the controller is in the tree's: kept aside. */
		if (ns_table[i]->cflag == (int)cflag && own_fds[i] >= 0 && id != root_ids[i])
			snprintf(path, sizeof(path), "/proc/self/fd/%d", own_fds[i]);
	}
	fd = open(path, flags | O_CLOEXEC);
	if (fd < 0)
		pr_perror("cannot open namespace file %s", path);
	return fd < 0 ? -errno : fd;
}

int ns_own_open(unsigned long cflag)
{
	char path[64];
	int fd;

	for (size_t i = 0; i < NR_OPS; i++) {
		if (ns_table[i]->cflag != (int)cflag || own_fds[i] < 0)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", own_fds[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		return fd < 0 ? -errno : fd;
	}
	return -ENOENT;
}

int ns_host_enter(void)
{
	for (size_t i = 0; i < NR_OPS; i++) {
		if (ns_table[i]->cflag != CLONE_NEWNS || own_fds[i] < 0)
			continue;
		if (setns(own_fds[i], CLONE_NEWNS) || fchdir(own_cwd))
			return -errno;
	}
	return 0;
}

bool ns_restore_has(unsigned long cflag)
{
	return root_mask & cflag;
}

unsigned long ns_clone_flags(const struct rst_ctx *ctx, const struct rst_task *t)
{
	/* The root is cloned inside its user namespace (userns_clone_root). */
	return t == &ctx->tasks[0] ?
	       root_mask & ~unshared_mask() & ~by_root_mask() & ~CLONE_NEWUSER : 0;
}

int ns_restore_task(struct rst_ctx *ctx, struct rst_task *t)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < NR_OPS; i++) {
		const struct ns_operations *ops = ns_table[i];

		if (!(root_mask & ops->cflag))
			continue;
		if (t == &ctx->tasks[0] && ops->restore_root)
			ret = ops->restore_root(ctx, root_ids[i]);
		if (!ret && ops->restore_task)
			ret = ops->restore_task(ctx, t);
	}
	return ret;
}
