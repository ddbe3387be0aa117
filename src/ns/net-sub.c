/*
 * net-sub.c - the net namespaces of a tree other than its root's: a task
 * that unshared one, or joined another of the tree's (net.c dumps and
 * restores the root's).
 *
 * Each is kept as the root's is (netns-ID.img, netdev-ID.img and the
 * tools' images under its own id; ids-PID.img names each task's).  At
 * restore the controller makes them all, right after the root's, each
 * owned by the tree's user namespace when it has one; their fds are pool
 * fds every task inherits, and a task whose namespace is not its parent's
 * moves into its own before anything else.
 *
 * Sockets: a socket belongs to the namespace it was made in, whoever holds
 * it.  The dump asks sock_diag about it there and names it in its image
 * (ns_id, as CRIU does); the restore makes it there.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/net_namespace.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>

#include "dump.h"
#include "log.h"
#include "ns/net.h"
#include "ns/ns.h"
#include "pstree.h"
#include "restore.h"

#define NET_SUB_MAX	64

/* --- dump --- */

/* The tree's net namespaces, the root's first; empty when the root's is stasis's. */
static struct dumped_ns {
	uint32_t id;
	ino_t ino;
	pid_t pid;		/* a task in it */
} dumped[NET_SUB_MAX];
static size_t nr_dumped;
/* While a socket of another namespace than the root's is dumped: that namespace. */
static int sock_ns = -1;

static int ns_ino_of(pid_t pid, ino_t *ino)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	if (stat(path, &st)) {
		pr_perror("cannot read %s", path);
		return -errno;
	}
	*ino = st.st_ino;
	return 0;
}

int net_sub_collect(struct dump_ctx *ctx)
{
	int ret = 0;

	nr_dumped = 0;
	for (size_t i = 0; !ret && i < ctx->nr_tasks; i++) {
		pid_t pid = ctx->tasks[i].pid;
		ino_t ino = 0;
		size_t k;

		if (i && ctx->tasks[i].ct->state == COMPEL_TASK_ZOMBIE)
			continue;
		ret = ns_ino_of(pid, &ino);
		for (k = 0; !ret && k < nr_dumped && dumped[k].ino != ino; k++)
			;
		if (ret || k < nr_dumped)
			continue;
		if (nr_dumped == NET_SUB_MAX) {
			pr_err("unsupported: the tree is in more than %d net namespaces", NET_SUB_MAX);
			return -ENOTSUP;
		}
		dumped[nr_dumped++] = (struct dumped_ns){ pstree_ns_id(pid, "net"), ino, pid };
	}
	return ret;
}

/* Stasis into namespace @k, net_dump_one() there, and back into the root's (where it is). */
static int dump_sub(struct dump_ctx *ctx, const struct dumped_ns *d)
{
	char path[64];
	int its, back, ret;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", d->pid);
	its = open(path, O_RDONLY | O_CLOEXEC);
	back = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (its < 0 || back < 0 || setns(its, CLONE_NEWNET)) {
		pr_perror("net namespace %u: cannot enter it (%s)", d->id, path);
		ret = -errno;
		goto out;
	}
	pr_info("net namespace %u (pid %d's): dumped as the root's is", d->id, d->pid);
	ret = net_dump_one(ctx, d->id);
	if (setns(back, CLONE_NEWNET)) {
		pr_perror("cannot come back from net namespace %u", d->id);
		ret = ret ?: -errno;
	}
out:
	if (its >= 0)
		close(its);
	if (back >= 0)
		close(back);
	return ret;
}

int net_sub_dump(struct dump_ctx *ctx, uint32_t root_id)
{
	int ret = 0;

	for (size_t k = 1; !ret && k < nr_dumped; k++)
		if (dumped[k].id != root_id)
			ret = dump_sub(ctx, &dumped[k]);
	return ret;
}

/* RTM_GETNSID's answer: the nsid (NETNSA_NSID), -1 when none. */
static int nsid_fn(struct nlmsghdr *h, void *arg)
{
	struct rtattr *a = (struct rtattr *)((char *)NLMSG_DATA(h) + NLMSG_ALIGN(sizeof(struct rtgenmsg)));
	int len = h->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(sizeof(struct rtgenmsg)));

	if (h->nlmsg_type != RTM_NEWNSID)
		return 0;
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == NETNSA_NSID && RTA_PAYLOAD(a) >= 4)
			*(int *)arg = *(int32_t *)RTA_DATA(a);
	return 0;
}

/* The nsid the namespace of @sk gives the one of pid @pid, or -1. */
static int nsid_of(int sk, pid_t pid)
{
	struct {
		struct nlmsghdr h;
		struct rtgenmsg g;
		char buf[64];
	} __attribute__((aligned(4))) q = {
		.h = { NLMSG_LENGTH(NLMSG_ALIGN(sizeof(struct rtgenmsg))), RTM_GETNSID,
		       NLM_F_REQUEST, 0, 0 },
		.g = { AF_UNSPEC },
	};
	struct rtattr *a = (struct rtattr *)((char *)&q + NLMSG_ALIGN(q.h.nlmsg_len));
	uint32_t p = pid;
	int nsid = -1;

	a->rta_type = NETNSA_PID;
	a->rta_len = RTA_LENGTH(sizeof(p));
	memcpy(RTA_DATA(a), &p, sizeof(p));
	q.h.nlmsg_len = NLMSG_ALIGN(q.h.nlmsg_len) + RTA_SPACE(sizeof(p));
	return nl_talk(sk, &q.h, nsid_fn, &nsid) ? -1 : nsid;
}

uint32_t net_sub_peer_id(int sk, int nsid, uint32_t id)
{
	for (size_t k = 0; k < nr_dumped; k++)
		if (dumped[k].id != id && nsid_of(sk, dumped[k].pid) == nsid)
			return dumped[k].id;
	return 0;
}

int ns_net_sock_enter(int lfd, uint32_t *id)
{
	struct stat st;
	int ns;

	*id = 0;
	ns_net_sock_leave();
	ns = ioctl(lfd, SIOCGSKNS);
	if (ns < 0)
		return 0;	/* not a socket of a namespace: its kind says what it is */
	if (fstat(ns, &st)) {
		close(ns);
		return 0;
	}
	for (size_t k = 0; k < nr_dumped; k++) {
		if (dumped[k].ino != st.st_ino)
			continue;
		*id = dumped[k].id;
		if (k) {
			sock_ns = ns;
			return 0;
		}
		break;
	}
	close(ns);
	return 0;
}

void ns_net_sock_leave(void)
{
	if (sock_ns >= 0)
		close(sock_ns);
	sock_ns = -1;
}

int net_sub_sock_ns(void)
{
	return sock_ns;
}

/* --- restore --- */

/* The namespaces made, the root's first (when there are others); their fds are pool fds. */
static struct made_ns {
	uint32_t id;
	int fd;
} made[NET_SUB_MAX];
static size_t nr_made;
/* The far ends of veth pairs made across two of them: made with their near end. */
#define NET_ENDS_MAX	256
static struct link_end {
	uint32_t id;
	int ifindex;
} ends[NET_ENDS_MAX];
static size_t nr_ends;

static uint32_t task_ns(const struct rst_task *t)
{
	return t->ids && t->ids->has_net_ns_id ? t->ids->net_ns_id : 0;
}

void net_sub_forget(void)
{
	nr_made = nr_ends = 0;
}

static bool is_made(uint32_t id)
{
	for (size_t k = 0; k < nr_made; k++)
		if (made[k].id == id)
			return true;
	return false;
}

/* Namespace @k's state put back, the controller moved into it. */
static int restore_sub(struct rst_ctx *ctx, const struct made_ns *k)
{
	NetnsEntry *ns = NULL;
	int ret;

	ret = img_read_one(ctx->dirfd, IMG_NETNS, k->id, &netns_entry__descriptor,
			   (ProtobufCMessage **)&ns);
	if (ret == -ENOENT)
		pr_err("netns-%u.img: missing, named by a task's ids", k->id);
	if (ret)
		return ret;
	if (!ns || ns->ext_key) {
		pr_err("unsupported: net namespace %u of a task other than the root is %s", k->id,
		       ns ? "external" : "empty (--empty-ns)");
		ret = -ENOTSUP;
	} else if (setns(k->fd, CLONE_NEWNET)) {
		pr_perror("net namespace %u: cannot enter it", k->id);
		ret = -errno;
	}
	/* Its firewall goes in now: as CRIU, only the root's is locked, holding connections back. */
	ret = ret ?: net_restore_one(ctx, k->id, ns) ?: net_firewall_restore(ctx, k->id);
	if (!ret)
		pr_info("net namespace %u restored", k->id);
	if (ns)
		img_free_msg(&ns->base);
	return ret;
}

/* Namespace @id made, kept as a pool fd. */
static int make_sub(struct rst_ctx *ctx, uint32_t id)
{
	int fd;

	if (nr_made == NET_SUB_MAX) {
		pr_err("unsupported: more than %d net namespaces", NET_SUB_MAX);
		return -ENOTSUP;
	}
	fd = userns_new_ns(CLONE_NEWNET);
	if (fd < 0)
		return fd;
	fd = rst_pool_add(ctx, fd);
	if (fd < 0)
		return fd;
	made[nr_made++] = (struct made_ns){ id, fd };
	return 0;
}

int net_sub_make(struct rst_ctx *ctx, uint32_t root_id)
{
	int ret = 0, fd;

	nr_made = nr_ends = 0;
	for (size_t i = 0; !ret && i < ctx->nr_tasks; i++) {
		uint32_t id = task_ns(&ctx->tasks[i]);

		if (!id || id == root_id || is_made(id))
			continue;
		if (!nr_made) {
			fd = rst_open_self("ns/net", O_RDONLY);
			fd = fd < 0 ? -errno : rst_pool_add(ctx, fd);
			if (fd < 0) {
				pr_err("cannot keep the root's net namespace");
				return fd;
			}
			made[nr_made++] = (struct made_ns){ root_id, fd };
		}
		ret = make_sub(ctx, id);
	}
	/* Without a user namespace of the tree's, each was made by moving into it. */
	if (nr_made && setns(made[0].fd, CLONE_NEWNET)) {
		pr_perror("cannot come back to the root's net namespace");
		ret = ret ?: -errno;
	}
	return ret;
}

int net_sub_restore(struct rst_ctx *ctx, uint32_t root_id)
{
	int ret = 0;

	(void)root_id;
	for (size_t k = 1; !ret && k < nr_made; k++)
		ret = restore_sub(ctx, &made[k]);
	if (nr_made && setns(made[0].fd, CLONE_NEWNET)) {
		pr_perror("cannot come back to the root's net namespace");
		ret = ret ?: -errno;
	}
	return ret;
}

int net_sub_fd(uint32_t id)
{
	for (size_t k = 0; k < nr_made; k++)
		if (made[k].id == id)
			return made[k].fd;
	return -1;
}

bool net_sub_link_made(uint32_t id, int ifindex)
{
	for (size_t k = 0; k < nr_ends; k++)
		if (ends[k].id == id && ends[k].ifindex == ifindex)
			return true;
	return false;
}

int net_sub_link_mark(uint32_t id, int ifindex)
{
	if (nr_ends == NET_ENDS_MAX) {
		pr_err("unsupported: more than %d veth pairs across net namespaces", NET_ENDS_MAX);
		return -ENOTSUP;
	}
	ends[nr_ends++] = (struct link_end){ id, ifindex };
	return 0;
}

static int enter(uint32_t id, const char *who)
{
	for (size_t k = 0; k < nr_made; k++) {
		if (made[k].id != id)
			continue;
		if (setns(made[k].fd, CLONE_NEWNET)) {
			pr_perror("%s: cannot enter net namespace %u", who, id);
			return -errno;
		}
		return 1;
	}
	pr_err("%s: net namespace %u was not restored", who, id);
	return -ENOENT;
}

int ns_net_id_enter(uint32_t id)
{
	if (!nr_made || !id || id == made[0].id)
		return 0;
	return enter(id, "a socket");
}

int ns_net_id_leave(void)
{
	int ret = nr_made ? enter(made[0].id, "the controller") : 0;

	return ret < 0 ? ret : 0;
}

int net_restore_task(struct rst_ctx *ctx, struct rst_task *t)
{
	const struct rst_task *p = t->parent;
	uint32_t its = task_ns(t), parents;
	char who[32];
	int ret;

	/* A helper (no images of its own) stays where its parent is, and so on up. */
	while (p && !task_ns(p))
		p = p->parent;
	parents = task_ns(p ?: &ctx->tasks[0]);
	if (!its || its == parents)
		return 0;
	if (!nr_made) {
		/* The root's namespace was given (--join-ns, --inherit-fd) or left empty. */
		pr_err("unsupported: pid %d is in net namespace %u, another than the root's, "
		       "which was not made from its images", t->pid, its);
		return -ENOTSUP;
	}
	snprintf(who, sizeof(who), "pid %d", t->pid);
	ret = enter(its, who);
	return ret < 0 ? ret : 0;
}
