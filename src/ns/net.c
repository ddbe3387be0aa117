/*
 * net.c - a net namespace: its links, their flags, MTU, MAC address and
 * per-device sysctls (netdev-ID.img), the namespace-wide sysctls
 * (netns-ID.img), and what iproute2, iptables and nft print of the rest:
 * addresses, routes, rules and firewall, kept raw as CRIU keeps them
 * (ifaddr-, route-, route6-, rule-, iptables-, ip6tables-, nftables-ID.img).
 *
 * Links: the loopback, and veth devices.  A veth whose peer is outside is
 * recreated with its peer in stasis's own namespace, named as CRIU names
 * it, by --external veth[INSIDE]:OUTSIDE; a pair with both ends inside
 * comes back as a pair.  Any other kind of link is refused by name.
 *
 * The namespace itself may be the caller's (--external net[INO]:KEY at
 * dump: only the key is kept; --inherit-fd fd[N]:KEY at restore gives it
 * and the root joins it) or left for the caller to fill (--empty-ns net).
 *
 * Both halves run inside the namespace: the dump with stasis moved into
 * it (ns.c), the restore in the new root before it has any fd; the tools
 * run as its children and inherit it.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "dump.h"
#include "log.h"
#include "netdev.pb-c.h"
#include "ns/ns.h"
#include "restore.h"

/* --- the sysctls CRIU keeps, in its order: the images index them by position --- */

static const char *const conf4_names[] = {
	"accept_local", "accept_redirects", "accept_source_route", "arp_accept",
	"arp_announce", "arp_filter", "arp_ignore", "arp_notify", "bootp_relay",
	"disable_policy", "disable_xfrm", "force_igmp_version", "forwarding",
	"igmpv2_unsolicited_report_interval", "igmpv3_unsolicited_report_interval",
	"log_martians", "medium_id", "promote_secondaries", "proxy_arp",
	"proxy_arp_pvlan", "route_localnet", "rp_filter", "secure_redirects",
	"send_redirects", "shared_media", "src_valid_mark", "tag",
	"ignore_routes_with_linkdown", "drop_gratuitous_arp",
	"drop_unicast_in_l2_multicast",
};

static const char *const conf6_names[] = {
	"accept_dad", "accept_ra", "accept_ra_defrtr", "accept_ra_from_local",
	"accept_ra_min_hop_limit", "accept_ra_mtu", "accept_ra_pinfo",
	"accept_ra_rt_info_max_plen", "accept_ra_rtr_pref", "accept_redirects",
	"accept_source_route", "autoconf", "dad_transmits", "disable_ipv6",
	"drop_unicast_in_l2_multicast", "drop_unsolicited_na", "force_mld_version",
	"force_tllao", "forwarding", "hop_limit", "ignore_routes_with_linkdown",
	"keep_addr_on_down", "max_addresses", "max_desync_factor",
	"mldv1_unsolicited_report_interval", "mldv2_unsolicited_report_interval",
	"mtu", "ndisc_notify", "optimistic_dad", "proxy_ndp", "regen_max_retry",
	"router_probe_interval", "router_solicitation_delay",
	"router_solicitation_interval", "router_solicitations", "stable_secret",
	"suppress_frag_ndisc", "temp_prefered_lft", "temp_valid_lft",
	"use_oif_addrs_only", "use_optimistic", "use_tempaddr",
};

#define N_CONF4		(sizeof(conf4_names) / sizeof(conf4_names[0]))
#define N_CONF6		(sizeof(conf6_names) / sizeof(conf6_names[0]))

/* The namespace-wide ones: net/unix/max_dgram_qlen, net/ipv4/ping_group_range. */
static const char *const unix_names[] = { "max_dgram_qlen" };
static const char *const ipv4_names[] = { "ping_group_range" };

/* A sysctl's text at /proc/sys/net/@path; -errno (ENOENT: not on this kernel). */
static int sysctl_get(const char *path, char *buf, size_t size)
{
	char full[256];
	ssize_t n;
	int fd;

	snprintf(full, sizeof(full), "/proc/sys/net/%s", path);
	fd = open(full, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	while (n > 0 && buf[n - 1] == '\n')
		n--;
	buf[n] = '\0';
	return 0;
}

static int sysctl_put(const char *path, const char *val)
{
	char full[256];
	ssize_t n;
	int fd;

	snprintf(full, sizeof(full), "/proc/sys/net/%s", path);
	fd = open(full, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n < 0 ? -errno : 0;
}

/* One block: @n pointers, then the @n entries they point to. */
static SysctlEntry **sysctls_alloc(size_t n)
{
	SysctlEntry **p = calloc(1, n * (sizeof(*p) + sizeof(**p)));
	SysctlEntry *e = (SysctlEntry *)(p + n);

	for (size_t i = 0; p && i < n; i++) {
		sysctl_entry__init(&e[i]);
		p[i] = &e[i];
	}
	return p;
}

static void sysctls_free(SysctlEntry **p, size_t n)
{
	for (size_t i = 0; p && i < n; i++)
		free(p[i]->sarg);
	free(p);
}

/*
 * Read sysctls @names under net/@dir into new entries: integers, but the
 * ones named in @strs.  One the kernel lacks (or will not show: an unset
 * stable_secret reads EIO) is kept with no value.
 */
static SysctlEntry **sysctls_read(const char *dir, const char *const *names, size_t n,
				  const char *strs)
{
	SysctlEntry **p = sysctls_alloc(n);
	char path[200], val[256];

	for (size_t i = 0; p && i < n; i++) {
		bool str = strs && !strcmp(strs, names[i]);

		p[i]->type = str ? SYSCTL_TYPE__CTL_STR : SYSCTL_TYPE__CTL_32;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (sysctl_get(path, val, sizeof(val)))
			continue;
		if (str) {
			p[i]->sarg = strdup(val);
			if (!p[i]->sarg)
				goto nomem;
		} else {
			p[i]->iarg = strtol(val, NULL, 10);
			p[i]->has_iarg = true;
		}
	}
	if (!p)
		pr_err("net namespace: out of memory for the sysctls of %s", dir);
	return p;
nomem:
	pr_err("net namespace: out of memory for the sysctls of %s", dir);
	sysctls_free(p, n);
	return NULL;
}

static bool sysctl_same(const SysctlEntry *a, const SysctlEntry *b)
{
	if (a->type != b->type)
		return false;
	if (a->type == SYSCTL_TYPE__CTL_32)
		return a->has_iarg && b->has_iarg && a->iarg == b->iarg;
	return a->sarg && b->sarg && !strcmp(a->sarg, b->sarg);
}

static int sysctl_write_one(const char *dir, const char *name, const SysctlEntry *e)
{
	char path[200], val[32];
	const char *v = val;
	int ret;

	if (e->type == SYSCTL_TYPE__CTL_32 && e->has_iarg)
		snprintf(val, sizeof(val), "%d", e->iarg);
	else if (e->type == SYSCTL_TYPE__CTL_STR && e->sarg)
		v = e->sarg;
	else
		return 0;	/* the dump's kernel had no such sysctl */
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ret = sysctl_put(path, v);
	if (ret == -ENOENT) {
		pr_warn("net namespace: no sysctl net/%s on this kernel: its value %s is lost",
			path, v);
		return 0;
	}
	if (ret)
		pr_err("net namespace: cannot set net/%s to %s: %s", path, v, strerror(-ret));
	return ret;
}

/*
 * Write back the sysctls @e of net/@dir, named by position.  Those equal
 * to @def (the namespace's defaults, which a new device took) are left,
 * but mtu (disable_ipv6 may have changed it); accept_redirects goes last:
 * writing forwarding resets it.
 */
static int sysctls_write(const char *dir, SysctlEntry **e, size_t n, const char *const *names,
			 size_t nr_names, SysctlEntry **def, size_t ndef)
{
	int redirects = -1, ret = 0;

	if (n > nr_names)
		pr_warn("net namespace: %zu sysctls of %s unknown to stasis are left", n - nr_names,
			dir);
	for (size_t i = 0; !ret && i < n && i < nr_names; i++) {
		if (def && i < ndef && sysctl_same(e[i], def[i]) && strcmp(names[i], "mtu"))
			continue;
		if (!strcmp(names[i], "accept_redirects")) {
			redirects = i;
			continue;
		}
		ret = sysctl_write_one(dir, names[i], e[i]);
	}
	if (!ret && redirects >= 0)
		ret = sysctl_write_one(dir, names[redirects], e[redirects]);
	return ret;
}

/* --- rtnetlink --- */

struct nlreq {
	struct nlmsghdr h;
	struct ifinfomsg i;
	char buf[1024];
};

static int nl_put(struct nlreq *q, int type, const void *data, size_t len)
{
	struct nlmsghdr *h = &q->h;
	struct rtattr *a = (struct rtattr *)((char *)q + NLMSG_ALIGN(h->nlmsg_len));
	size_t end = NLMSG_ALIGN(h->nlmsg_len) + RTA_SPACE(len);

	if (end > sizeof(*q))
		return -E2BIG;
	a->rta_type = type;
	a->rta_len = RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(a), data, len);
	h->nlmsg_len = end;
	return 0;
}

/* Open attribute @type; nl_end() closes it around what was put since. */
static struct rtattr *nl_nest(struct nlreq *q, int type)
{
	struct rtattr *a = (struct rtattr *)((char *)q + NLMSG_ALIGN(q->h.nlmsg_len));

	return nl_put(q, type, NULL, 0) ? NULL : a;
}

static void nl_end(struct nlreq *q, struct rtattr *a)
{
	a->rta_len = (char *)q + q->h.nlmsg_len - (char *)a;
}

typedef int (*nl_fn)(struct nlmsghdr *h, void *arg);

/*
 * Send @h on rtnetlink socket @sk and read the answer to its end: the
 * dump's last message, or the acknowledgement.  Every other message goes
 * to @fn.  0, or -errno: the kernel's refusal or @fn's.
 */
static int nl_talk(int sk, struct nlmsghdr *h, nl_fn fn, void *arg)
{
	static uint32_t seq;
	char buf[32768] __attribute__((aligned(8)));
	/* NLM_F_DUMP is two bits; a NEWLINK's NLM_F_EXCL is one of them. */
	bool dump = (h->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
	ssize_t n;
	int ret = 0;

	h->nlmsg_seq = ++seq;
	if (send(sk, h, h->nlmsg_len, 0) != (ssize_t)h->nlmsg_len)
		return -errno;
	while ((n = recv(sk, buf, sizeof(buf), 0)) > 0) {
		int left = n;

		for (struct nlmsghdr *m = (void *)buf; NLMSG_OK(m, (unsigned)left);
		     m = NLMSG_NEXT(m, left)) {
			if (m->nlmsg_seq != seq)
				continue;
			if (m->nlmsg_type == NLMSG_DONE)
				return ret;
			if (m->nlmsg_type == NLMSG_ERROR) {
				int err = ((struct nlmsgerr *)NLMSG_DATA(m))->error;

				if (err || !dump)
					return err ?: ret;
				continue;
			}
			if (!ret && fn)
				ret = fn(m, arg);
			if (!dump && !(h->nlmsg_flags & NLM_F_ACK))
				return ret;
		}
	}
	return n < 0 ? -errno : -EIO;
}

static int nl_open(void)
{
	int sk = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (sk < 0)
		pr_perror("net namespace: cannot open an rtnetlink socket");
	return sk < 0 ? -errno : sk;
}

/* --- the tools: ip, iptables, nft --- */

/*
 * Run @argv with @in (or /dev/null) as its input and @out (or /dev/null)
 * as its output; its errors are ours unless @quiet.  0, or -errno.
 */
static int tool_run(const char *const argv[], int in, int out, bool quiet)
{
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0) {
		pr_perror("net namespace: cannot run %s", argv[0]);
		return -errno;
	}
	if (!pid) {
		int null = open("/dev/null", O_RDWR);
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (null < 0 || dup2(in >= 0 ? in : null, STDIN_FILENO) < 0 ||
		    dup2(out >= 0 ? out : null, STDOUT_FILENO) < 0 ||
		    (quiet && dup2(null, STDERR_FILENO) < 0))
			_exit(126);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
		pr_err("net namespace: the %s program is not there (iproute2, iptables, nftables)",
		       argv[0]);
		return -ENOENT;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		pr_err("net namespace: %s %s %s failed (status %#x)", argv[0], argv[1] ?: "",
		       argv[1] && argv[2] ? argv[2] : "", status);
		return -EIO;
	}
	return 0;
}

/* Does @prog --version say it is the nf_tables flavour (1), legacy (0), or absent (<0)? */
static int ipt_is_nft(const char *prog)
{
	const char *argv[] = { prog, "--version", NULL };
	char buf[256] = "";
	int fd, ret;

	fd = memfd_create("stasis-ipt", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = tool_run(argv, -1, fd, true);
	if (!ret && pread(fd, buf, sizeof(buf) - 1, 0) < 0)
		ret = -errno;
	close(fd);
	return ret ?: strstr(buf, "nf_tables") != NULL;
}

/*
 * The legacy iptables program of @v6 and @restore, as CRIU picks it (rules
 * of the nf_tables flavour are in nft's ruleset already); NULL if none.
 */
static const char *ipt_legacy(bool v6, bool restore)
{
	static const char *const progs[2][2][2] = {
		{ { "iptables-save", "iptables-legacy-save" },
		  { "iptables-restore", "iptables-legacy-restore" } },
		{ { "ip6tables-save", "ip6tables-legacy-save" },
		  { "ip6tables-restore", "ip6tables-legacy-restore" } },
	};

	for (int i = 0; i < 2; i++)
		if (!ipt_is_nft(progs[v6][restore][i]))
			return progs[v6][restore][i];
	return NULL;
}

/* --- dump --- */

struct link {
	int index, arphrd;
	unsigned int flags, mtu;
	int peer, peer_nsid, master;	/* IFLA_LINK, IFLA_LINK_NETNSID, IFLA_MASTER; -1 none */
	char name[IFNAMSIZ], kind[32];
	uint8_t addr[32];
	size_t addr_len;
};

struct links {
	struct link *l;
	size_t nr;
};

static void link_info(struct link *k, struct rtattr *a, int len)
{
	for (a = RTA_DATA(a); RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == IFLA_INFO_KIND)
			snprintf(k->kind, sizeof(k->kind), "%.*s", (int)RTA_PAYLOAD(a),
				 (char *)RTA_DATA(a));
}

static void link_attrs(struct link *k, struct rtattr *a, int len)
{
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		void *d = RTA_DATA(a);
		size_t n = RTA_PAYLOAD(a);

		if (a->rta_type == IFLA_IFNAME)
			snprintf(k->name, sizeof(k->name), "%.*s", (int)n, (char *)d);
		else if (a->rta_type == IFLA_MTU && n >= 4)
			k->mtu = *(uint32_t *)d;
		else if (a->rta_type == IFLA_LINK && n >= 4)
			k->peer = *(int32_t *)d;
		else if (a->rta_type == IFLA_LINK_NETNSID && n >= 4)
			k->peer_nsid = *(int32_t *)d;
		else if (a->rta_type == IFLA_MASTER && n >= 4)
			k->master = *(int32_t *)d;
		else if (a->rta_type == IFLA_ADDRESS && n <= sizeof(k->addr)) {
			memcpy(k->addr, d, n);
			k->addr_len = n;
		} else if (a->rta_type == IFLA_LINKINFO)
			link_info(k, a, n);
	}
}

static int link_add(struct nlmsghdr *h, void *arg)
{
	struct links *ls = arg;
	struct ifinfomsg *ifi = NLMSG_DATA(h);
	struct link *k, *l;

	if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
		return 0;
	l = realloc(ls->l, (ls->nr + 1) * sizeof(*l));
	if (!l)
		return -ENOMEM;
	ls->l = l;
	k = &l[ls->nr++];
	*k = (struct link){ .index = ifi->ifi_index, .arphrd = ifi->ifi_type,
			    .flags = ifi->ifi_flags, .peer = -1, .peer_nsid = -1, .master = -1 };
	link_attrs(k, IFLA_RTA(ifi), IFLA_PAYLOAD(h));
	return 0;
}

static int links_list(int sk, struct links *ls)
{
	struct nlreq q = {
		.h = { NLMSG_LENGTH(sizeof(struct ifinfomsg)), RTM_GETLINK,
		       NLM_F_REQUEST | NLM_F_DUMP, 0, 0 },
		.i = { .ifi_family = AF_UNSPEC },
	};
	int ret = nl_talk(sk, &q.h, link_add, ls);

	if (ret)
		pr_err("net namespace: cannot list its links: %s", strerror(-ret));
	return ret;
}

static int peer_name_fn(struct nlmsghdr *h, void *arg)
{
	struct link *k = arg;
	struct ifinfomsg *ifi = NLMSG_DATA(h);

	if (h->nlmsg_type == RTM_NEWLINK && h->nlmsg_len >= NLMSG_LENGTH(sizeof(*ifi)))
		link_attrs(k, IFLA_RTA(ifi), IFLA_PAYLOAD(h));
	return 0;
}

/* Say how to get veth @k's peer, outside, back under its name. */
static void veth_hint(int sk, const struct link *k)
{
	struct link peer = { .peer = -1, .peer_nsid = -1, .master = -1 };
	struct nlreq q = {
		.h = { NLMSG_LENGTH(sizeof(struct ifinfomsg)), RTM_GETLINK, NLM_F_REQUEST, 0, 0 },
		.i = { .ifi_family = AF_UNSPEC, .ifi_index = k->peer },
	};
	int32_t nsid = k->peer_nsid;

	if (nl_put(&q, IFLA_TARGET_NETNSID, &nsid, sizeof(nsid)) ||
	    nl_talk(sk, &q.h, peer_name_fn, &peer) || !peer.name[0])
		pr_info("net namespace: veth %s has its peer (ifindex %d) outside; restore it "
			"with --external veth[%s]:NAME", k->name, k->peer, k->name);
	else
		pr_info("net namespace: veth %s has its peer %s outside; restore it with "
			"--external veth[%s]:%s", k->name, peer.name, k->name, peer.name);
}

/* What link @k is in netdev.proto's terms, or a refusal. */
static int link_type(const struct link *k, NdType *type)
{
	if (k->arphrd == ARPHRD_LOOPBACK) {
		*type = ND_TYPE__LOOPBACK;
		return 0;
	}
	if (k->master >= 0) {
		pr_err("unsupported: net namespace link %d (%s) is a port of link %d", k->index,
		       k->name, k->master);
		return -ENOTSUP;
	}
	if (!strcmp(k->kind, "veth")) {
		*type = ND_TYPE__VETH;
		return 0;
	}
	if (k->kind[0])
		pr_err("unsupported: net namespace link %d (%s) is a %s", k->index, k->name,
		       k->kind);
	else
		pr_err("unsupported: net namespace link %d (%s) is a device of type %d", k->index,
		       k->name, k->arphrd);
	return -ENOTSUP;
}

static int link_dump(struct img *img, int sk, const struct link *k, uint32_t id)
{
	NetDeviceEntry e = NET_DEVICE_ENTRY__INIT;
	char dir[64];
	int ret;

	ret = link_type(k, &e.type);
	if (ret)
		return ret;
	e.ifindex = k->index;
	e.mtu = k->mtu;
	e.flags = k->flags;
	e.name = (char *)k->name;
	/* As CRIU: a link with no peer elsewhere is its own peer, in here. */
	e.has_peer_ifindex = true;
	e.peer_ifindex = k->peer >= 0 ? k->peer : k->index;
	if (k->peer_nsid < 0) {
		e.has_peer_nsid = true;
		e.peer_nsid = id;
	} else if (e.type == ND_TYPE__VETH) {
		veth_hint(sk, k);
	}
	if (e.type != ND_TYPE__LOOPBACK && k->addr_len) {
		e.has_address = true;
		e.address.data = (uint8_t *)k->addr;
		e.address.len = k->addr_len;
	}
	snprintf(dir, sizeof(dir), "ipv4/conf/%s", k->name);
	e.conf4 = sysctls_read(dir, conf4_names, N_CONF4, NULL);
	snprintf(dir, sizeof(dir), "ipv6/conf/%s", k->name);
	e.conf6 = sysctls_read(dir, conf6_names, N_CONF6, "stable_secret");
	e.n_conf4 = N_CONF4;
	e.n_conf6 = N_CONF6;
	ret = e.conf4 && e.conf6 ? img_write_msg(img, &e.base) : -ENOMEM;
	pr_info("net namespace %u: link %d %s, type %d, flags %#x, mtu %u", id, k->index, k->name,
		e.type, k->flags, k->mtu);
	sysctls_free(e.conf4, N_CONF4);
	sysctls_free(e.conf6, N_CONF6);
	return ret;
}

static int links_dump(struct dump_ctx *ctx, uint32_t id)
{
	struct links ls = { NULL, 0 };
	struct img *img = NULL;
	int sk, ret;

	sk = nl_open();
	if (sk < 0)
		return sk;
	ret = links_list(sk, &ls) ?: img_open(&img, ctx->dirfd, IMG_NETDEV, id, O_WRONLY);
	for (size_t i = 0; !ret && i < ls.nr; i++)
		ret = link_dump(img, sk, &ls.l[i], id);
	ret = img_close(img) ?: ret;
	close(sk);
	free(ls.l);
	return ret;
}

/* Run @argv with its output in the raw image @fmt (@id). */
static int tool_dump(struct dump_ctx *ctx, const char *fmt, uint32_t id, const char *const argv[])
{
	char name[64];
	int fd, ret;

	snprintf(name, sizeof(name), fmt, id);
	fd = img_openat(ctx->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return fd;
	ret = argv ? tool_run(argv, -1, fd, false) : 0;
	if (fsync(fd) && !ret)
		ret = -errno;
	close(fd);
	if (ret)
		pr_err("net namespace %u: cannot write %s", id, name);
	return ret;
}

/*
 * iproute2's own dumps, and the firewall as CRIU 4.2 with nftables keeps
 * it: the legacy iptables' rules, and nft's whole ruleset (the nf_tables
 * flavour of iptables included).  Without nft, iptables-save of any
 * flavour, as CRIU without nftables.
 */
static int tools_dump(struct dump_ctx *ctx, uint32_t id)
{
	static const char *const addr[] = { "ip", "addr", "save", NULL };
	static const char *const route[] = { "ip", "route", "save", NULL };
	static const char *const route6[] = { "ip", "-6", "route", "save", NULL };
	static const char *const rule[] = { "ip", "rule", "save", NULL };
	static const char *const nft[] = { "nft", "list", "ruleset", NULL };
	bool v6 = !access("/proc/sys/net/ipv6", F_OK);
	bool has_nft = ipt_is_nft("nft") >= 0;
	const char *ipt[] = { has_nft ? ipt_legacy(false, false) : "iptables-save", NULL };
	const char *ip6t[] = { has_nft ? ipt_legacy(true, false) : "ip6tables-save", NULL };
	int ret;

	ret = tool_dump(ctx, "ifaddr-%u.img", id, addr) ?:
	      tool_dump(ctx, "route-%u.img", id, route) ?:
	      tool_dump(ctx, "route6-%u.img", id, v6 ? route6 : NULL) ?:
	      tool_dump(ctx, "rule-%u.img", id, rule) ?:
	      tool_dump(ctx, "iptables-%u.img", id, ipt[0] ? ipt : NULL) ?:
	      tool_dump(ctx, "ip6tables-%u.img", id, v6 && ip6t[0] ? ip6t : NULL);
	if (!ret && has_nft)
		ret = tool_dump(ctx, "nftables-%u.img", id, nft);
	else if (!ret)
		pr_warn("net namespace %u: no nft program: only iptables' rules are kept", id);
	return ret;
}

static int netns_dump(struct dump_ctx *ctx, uint32_t id, const char *ext_key)
{
	NetnsEntry e = NETNS_ENTRY__INIT;
	int ret = -ENOMEM;

	if (ext_key) {
		e.ext_key = (char *)ext_key;
		return img_write_one(ctx->dirfd, IMG_NETNS, id, &e.base);
	}
	e.all_conf4 = sysctls_read("ipv4/conf/all", conf4_names, N_CONF4, NULL);
	e.def_conf4 = sysctls_read("ipv4/conf/default", conf4_names, N_CONF4, NULL);
	e.all_conf6 = sysctls_read("ipv6/conf/all", conf6_names, N_CONF6, "stable_secret");
	e.def_conf6 = sysctls_read("ipv6/conf/default", conf6_names, N_CONF6, "stable_secret");
	e.unix_conf = sysctls_read("unix", unix_names, 1, NULL);
	e.ipv4_sysctl = sysctls_read("ipv4", ipv4_names, 1, "ping_group_range");
	e.n_all_conf4 = e.n_def_conf4 = N_CONF4;
	e.n_all_conf6 = e.n_def_conf6 = N_CONF6;
	e.n_unix_conf = e.n_ipv4_sysctl = 1;
	if (e.all_conf4 && e.def_conf4 && e.all_conf6 && e.def_conf6 && e.unix_conf &&
	    e.ipv4_sysctl)
		ret = img_write_one(ctx->dirfd, IMG_NETNS, id, &e.base);
	sysctls_free(e.all_conf4, N_CONF4);
	sysctls_free(e.def_conf4, N_CONF4);
	sysctls_free(e.all_conf6, N_CONF6);
	sysctls_free(e.def_conf6, N_CONF6);
	sysctls_free(e.unix_conf, 1);
	sysctls_free(e.ipv4_sysctl, 1);
	return ret;
}

/* The KEY of --external net[INO]:KEY naming the namespace stasis is in now; NULL if none. */
static const char *ext_key(const struct opts *o)
{
	struct stat st;
	char key[40];

	if (stat("/proc/self/ns/net", &st))
		return NULL;
	snprintf(key, sizeof(key), "net[%lu]", (unsigned long)st.st_ino);
	return opts_external_value(o, key);
}

static int net_dump(struct dump_ctx *ctx, uint32_t id)
{
	const char *key = ext_key(ctx->opts);
	int ret;

	if (key) {
		pr_info("net namespace %u is external, key %s: only the key is kept", id, key);
		return netns_dump(ctx, id, key);
	}
	if (ctx->opts->empty_ns & CLONE_NEWNET) {
		struct img *img;

		/* As CRIU: netns-ID.img without an entry, the rest not written. */
		pr_info("net namespace %u: --empty-ns net: its contents are the caller's", id);
		ret = img_open(&img, ctx->dirfd, IMG_NETNS, id, O_WRONLY);
		return ret ?: img_close(img);
	}
	ret = links_dump(ctx, id) ?: tools_dump(ctx, id) ?: netns_dump(ctx, id, NULL);
	if (ret == -ENOMEM)
		pr_err("net namespace %u: out of memory", id);
	return ret;
}

/* --- restore --- */

/* Read in the controller before the fork; the root finds them in its copy. */
static struct {
	NetnsEntry *ns;		/* netns-ID.img; NULL: none (an --empty-ns dump) */
	int join;		/* --inherit-fd's namespace to join, or -1 */
	int own;		/* stasis's own namespace, where outside veth peers go */
	bool empty;		/* --empty-ns net */
} rst = { NULL, -1, -1, false };

static void rst_drop(void)
{
	if (rst.ns)
		img_free_msg(&rst.ns->base);
	if (rst.own >= 0)
		close(rst.own);
	rst.ns = NULL;
	rst.own = rst.join = -1;
}

static int net_prepare(struct rst_ctx *ctx, uint32_t id)
{
	struct img *img;
	int ret;

	rst_drop();
	rst.empty = ctx->opts->empty_ns & CLONE_NEWNET;
	ret = img_open(&img, ctx->dirfd, IMG_NETNS, id, O_RDONLY);
	if (ret == -ENOENT)
		pr_err("netns-%u.img: missing, named by the root's ids", id);
	if (ret)
		return ret;
	/* No entry (0): a dump with --empty-ns net. */
	ret = img_read_msg(img, &netns_entry__descriptor, (ProtobufCMessage **)&rst.ns);
	img_close(img);
	if (ret < 0)
		return ret;
	if (rst.ns && rst.ns->ext_key) {
		rst.join = opts_inherited_fd(ctx->opts, rst.ns->ext_key);
		if (rst.join < 0) {
			pr_err("net namespace %u is external (key %s): give it with "
			       "--inherit-fd fd[N]:%s", id, rst.ns->ext_key, rst.ns->ext_key);
			return -ENOENT;
		}
		pr_info("net namespace %u: the root joins the one given for %s", id,
			rst.ns->ext_key);
		return 1;
	}
	rst.own = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (rst.own < 0) {
		pr_perror("cannot open stasis's own net namespace");
		return -errno;
	}
	return 0;
}

static NetDeviceEntry *link_by_index(NetDeviceEntry **l, size_t n, uint32_t index)
{
	for (size_t i = 0; i < n; i++)
		if (l[i]->ifindex == index)
			return l[i];
	return NULL;
}

/* The request that makes or sets link @e: name, index, flags, MTU, address. */
static int link_req(struct nlreq *q, const NetDeviceEntry *e, int type, bool create)
{
	memset(q, 0, sizeof(*q));
	q->h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
	q->h.nlmsg_type = type;
	q->h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (create ? NLM_F_CREATE | NLM_F_EXCL : 0);
	q->i.ifi_family = AF_UNSPEC;
	q->i.ifi_index = e->ifindex;
	q->i.ifi_flags = e->flags;
	q->i.ifi_change = ~0U;
	return nl_put(q, IFLA_IFNAME, e->name, strlen(e->name) + 1) ?:
	       nl_put(q, IFLA_MTU, &e->mtu, sizeof(e->mtu)) ?:
	       (e->has_address ? nl_put(q, IFLA_ADDRESS, e->address.data, e->address.len) : 0);
}

/*
 * The peer of veth @e, in the request's VETH_INFO_PEER: @peer inside, or
 * outside in stasis's namespace, named as --external veth[NAME]:OUTSIDE says.
 */
static int veth_peer(struct rst_ctx *ctx, struct nlreq *h, const NetDeviceEntry *e,
		     const NetDeviceEntry *peer)
{
	struct ifinfomsg pi = { .ifi_family = AF_UNSPEC };
	struct rtattr *info, *data, *pa;
	char key[IFNAMSIZ + 8], name[IFNAMSIZ] = "";
	const char *out;
	int ret;

	if (peer) {
		pi.ifi_index = peer->ifindex;
		snprintf(name, sizeof(name), "%s", peer->name);
	} else {
		snprintf(key, sizeof(key), "veth[%s]", e->name);
		out = opts_external_value(ctx->opts, key);
		if (out)
			snprintf(name, sizeof(name), "%.*s", (int)strcspn(out, "@"), out);
		else
			pr_warn("veth %s: no --external veth[%s]:NAME: the kernel names its peer "
				"outside", e->name, e->name);
	}
	info = nl_nest(h, IFLA_LINKINFO);
	if (!info || nl_put(h, IFLA_INFO_KIND, "veth", 4))
		return -E2BIG;
	data = nl_nest(h, IFLA_INFO_DATA);
	pa = data ? nl_nest(h, VETH_INFO_PEER) : NULL;
	if (!pa)
		return -E2BIG;
	/* The peer's ifinfomsg, then its attributes, all inside VETH_INFO_PEER. */
	if (h->h.nlmsg_len + NLMSG_ALIGN(sizeof(pi)) > sizeof(*h))
		return -E2BIG;
	memcpy(RTA_DATA(pa), &pi, sizeof(pi));
	h->h.nlmsg_len += NLMSG_ALIGN(sizeof(pi));
	ret = name[0] ? nl_put(h, IFLA_IFNAME, name, strlen(name) + 1) : 0;
	if (!ret && !peer)
		ret = nl_put(h, IFLA_NET_NS_FD, &rst.own, sizeof(rst.own));
	if (ret)
		return ret;
	nl_end(h, pa);
	nl_end(h, data);
	nl_end(h, info);
	return 0;
}

/*
 * Send @q for link @e.  A veth's peer outside may still have its name: the
 * kernel frees the dumped namespace, and the pair with it, some time after
 * the dumped tree is gone.  So a name taken is asked again for a while.
 */
static int link_talk(int sk, struct nlreq *q, const NetDeviceEntry *e)
{
	const struct timespec pause = { 0, 10 * 1000 * 1000 };
	int ret, tries = 0;

	while ((ret = nl_talk(sk, &q->h, NULL, NULL)) == -EEXIST && e->type == ND_TYPE__VETH &&
	       ++tries < 300)
		nanosleep(&pause, NULL);
	if (tries)
		pr_info("veth %s: its name or its peer's was taken, %d times", e->name, tries);
	return ret;
}

static int link_restore(struct rst_ctx *ctx, uint32_t id, int sk, NetDeviceEntry **l, size_t n,
			size_t i, bool *made)
{
	const NetDeviceEntry *e = l[i], *peer = NULL;
	struct nlreq q;
	int ret;

	if (made[i])
		return 0;	/* the peer of one made before */
	switch (e->type) {
	case ND_TYPE__LOOPBACK:
		ret = link_req(&q, e, RTM_NEWLINK, false);
		break;
	case ND_TYPE__VETH:
		if (e->has_peer_nsid && e->peer_nsid != id) {
			pr_err("unsupported: veth %s has its peer in net namespace %u, another "
			       "one of the dump", e->name, e->peer_nsid);
			return -ENOTSUP;
		}
		if (e->has_peer_nsid && e->has_peer_ifindex) {
			peer = link_by_index(l, n, e->peer_ifindex);
			if (!peer || peer == e) {
				pr_err("veth %s: its peer %u is not in netdev-%u.img", e->name,
				       e->peer_ifindex, id);
				return -EINVAL;
			}
		}
		ret = link_req(&q, e, RTM_NEWLINK, true) ?: veth_peer(ctx, &q, e, peer);
		break;
	default:
		pr_err("unsupported: net namespace link %u (%s) of type %d", e->ifindex, e->name,
		       e->type);
		return -ENOTSUP;
	}
	if (!ret)
		ret = link_talk(sk, &q, e);
	if (ret) {
		pr_err("net namespace: cannot restore link %u (%s): %s", e->ifindex, e->name,
		       strerror(-ret));
		return ret;
	}
	made[i] = true;
	for (size_t j = 0; peer && j < n; j++)
		made[j] = made[j] || l[j] == peer;
	return 0;
}

static int links_read(struct rst_ctx *ctx, uint32_t id, NetDeviceEntry ***out, size_t *n)
{
	NetDeviceEntry **l = NULL, *e;
	struct img *img;
	int ret;

	*out = NULL;
	*n = 0;
	ret = img_open(&img, ctx->dirfd, IMG_NETDEV, id, O_RDONLY);
	if (ret == -ENOENT)
		return 0;
	while (!ret && (ret = img_read_msg(img, &net_device_entry__descriptor,
					   (ProtobufCMessage **)&e)) == 1) {
		NetDeviceEntry **m = realloc(l, (*n + 1) * sizeof(*l));

		if (!m) {
			img_free_msg(&e->base);
			ret = -ENOMEM;
			break;
		}
		l = m;
		l[(*n)++] = e;
		ret = 0;
	}
	img_close(img);
	*out = l;
	return ret;
}

/* Links, then their sysctls (a new device took the namespace's defaults). */
static int links_restore(struct rst_ctx *ctx, uint32_t id)
{
	NetDeviceEntry **l;
	bool *made = NULL;
	size_t n;
	int sk, ret;

	ret = links_read(ctx, id, &l, &n);
	sk = ret ? -1 : nl_open();
	if (sk < 0)
		ret = ret ?: sk;
	made = ret ? NULL : calloc(n + 1, sizeof(*made));
	if (!ret && !made)
		ret = -ENOMEM;
	for (size_t i = 0; !ret && i < n; i++)
		ret = link_restore(ctx, id, sk, l, n, i, made);
	for (size_t i = 0; !ret && i < n; i++) {
		bool lo = l[i]->type == ND_TYPE__LOOPBACK;
		char dir[64];

		/* lo is as old as the namespace: its defaults were set after it. */
		snprintf(dir, sizeof(dir), "ipv4/conf/%s", l[i]->name);
		ret = sysctls_write(dir, l[i]->conf4, l[i]->n_conf4, conf4_names, N_CONF4,
				    lo || !rst.ns ? NULL : rst.ns->def_conf4,
				    rst.ns ? rst.ns->n_def_conf4 : 0);
		snprintf(dir, sizeof(dir), "ipv6/conf/%s", l[i]->name);
		ret = ret ?: sysctls_write(dir, l[i]->conf6, l[i]->n_conf6, conf6_names, N_CONF6,
					   lo || !rst.ns ? NULL : rst.ns->def_conf6,
					   rst.ns ? rst.ns->n_def_conf6 : 0);
	}
	for (size_t i = 0; i < n; i++)
		img_free_msg(&l[i]->base);
	free(l);
	free(made);
	if (sk >= 0)
		close(sk);
	return ret;
}

static int netns_restore(void)
{
	const NetnsEntry *e = rst.ns;

	if (!e)
		return 0;
	return sysctls_write("ipv4/conf/all", e->all_conf4, e->n_all_conf4, conf4_names,
			     N_CONF4, NULL, 0) ?:
	       sysctls_write("ipv4/conf/default", e->def_conf4, e->n_def_conf4, conf4_names,
			     N_CONF4, NULL, 0) ?:
	       sysctls_write("ipv6/conf/all", e->all_conf6, e->n_all_conf6, conf6_names,
			     N_CONF6, NULL, 0) ?:
	       sysctls_write("ipv6/conf/default", e->def_conf6, e->n_def_conf6, conf6_names,
			     N_CONF6, NULL, 0) ?:
	       sysctls_write("unix", e->unix_conf, e->n_unix_conf, unix_names, 1, NULL, 0) ?:
	       sysctls_write("ipv4", e->ipv4_sysctl, e->n_ipv4_sysctl, ipv4_names, 1, NULL, 0);
}

/* The size of raw image @fmt (@id); 0 when it is missing. */
static off_t raw_size(struct rst_ctx *ctx, const char *fmt, uint32_t id)
{
	char name[64];
	struct stat st;

	snprintf(name, sizeof(name), fmt, id);
	return fstatat(ctx->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) ? 0 : st.st_size;
}

/*
 * A copy of ip's route dump @fd (a u32 magic, then RTM_NEWROUTE messages)
 * without RTNH_F_LINKDOWN and RTNH_F_DEAD: a route saved while its link
 * had no carrier (a veth whose peer was down) has them, and the kernel
 * refuses them in a new route, which it marks so itself.  The copy's fd,
 * or -errno.
 */
static int routes_clean(int fd, off_t size)
{
	uint8_t *buf;
	size_t off = 4;
	int out = -ENOMEM;

	if (size > (64 << 20))
		return -EFBIG;
	buf = malloc(size);
	if (!buf || pread(fd, buf, size, 0) != size) {
		free(buf);
		return buf ? -EIO : -ENOMEM;
	}
	while (off + sizeof(struct nlmsghdr) <= (size_t)size) {
		struct nlmsghdr *h = (struct nlmsghdr *)(buf + off);

		if (h->nlmsg_len < sizeof(*h) || h->nlmsg_len > size - off)
			break;	/* ip says what is wrong with the rest */
		if (h->nlmsg_type == RTM_NEWROUTE && h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct rtmsg)))
			((struct rtmsg *)NLMSG_DATA(h))->rtm_flags &= ~(RTNH_F_LINKDOWN | RTNH_F_DEAD);
		off += NLMSG_ALIGN(h->nlmsg_len);
	}
	out = memfd_create("stasis-routes", MFD_CLOEXEC);
	if (out < 0 || pwrite(out, buf, size, 0) != size) {
		if (out >= 0)
			close(out);
		out = -EIO;
	}
	free(buf);
	return out;
}

/* Raw image @fmt (@id) as the input of @argv; nothing when missing or empty. */
static int tool_restore(struct rst_ctx *ctx, const char *fmt, uint32_t id,
			const char *const argv[], bool quiet, const char *const *before[])
{
	char name[64];
	struct stat st;
	int fd, ret = 0;

	snprintf(name, sizeof(name), fmt, id);
	fd = img_openat(ctx->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	if (fstat(fd, &st))
		ret = -errno;
	else if (st.st_size && !argv[0]) {
		pr_err("net namespace %u: %s holds rules but no legacy iptables program is here",
		       id, name);
		ret = -ENOENT;
	} else if (st.st_size) {
		if (!strncmp(fmt, "route", 5)) {
			int clean = routes_clean(fd, st.st_size);

			close(fd);
			fd = clean;
			if (fd < 0) {
				pr_err("net namespace %u: cannot read %s: %s", id, name,
				       strerror(-fd));
				return fd;
			}
		}
		/* What it clears first may not be there: its failures are not ours. */
		for (size_t i = 0; before && before[i]; i++)
			tool_run(before[i], -1, -1, true);
		ret = tool_run(argv, fd, -1, quiet);
	}
	close(fd);
	if (ret)
		pr_err("net namespace %u: cannot restore %s", id, name);
	return ret;
}

/*
 * Addresses (ip prints the ones lo already has as taken: quiet), routes,
 * rules (less the three a namespace is born with, which the image has
 * too), then the firewall.
 */
static int tools_restore(struct rst_ctx *ctx, uint32_t id)
{
	static const char *const addr[] = { "ip", "addr", "restore", NULL };
	static const char *const route[] = { "ip", "route", "restore", NULL };
	static const char *const rule[] = { "ip", "rule", "restore", NULL };
	static const char *const flush[] = { "ip", "rule", "flush", NULL };
	static const char *const local[] = { "ip", "rule", "delete", "table", "local", NULL };
	static const char *const *const rule_before[] = { flush, local, NULL };
	static const char *const nft[] = { "nft", "-f", "-", NULL };
	/* Looked for only when there are legacy rules to restore. */
	const char *ipt[] = { raw_size(ctx, "iptables-%u.img", id) ? ipt_legacy(false, true) : "",
			      "-w", NULL };
	const char *ip6t[] = { raw_size(ctx, "ip6tables-%u.img", id) ? ipt_legacy(true, true) : "",
			       "-w", NULL };

	return tool_restore(ctx, "ifaddr-%u.img", id, addr, true, NULL) ?:
	       tool_restore(ctx, "route-%u.img", id, route, true, NULL) ?:
	       tool_restore(ctx, "route6-%u.img", id, route, true, NULL) ?:
	       tool_restore(ctx, "rule-%u.img", id, rule, false,
			    (const char *const **)rule_before) ?:
	       tool_restore(ctx, "iptables-%u.img", id, ipt, false, NULL) ?:
	       tool_restore(ctx, "ip6tables-%u.img", id, ip6t, false, NULL) ?:
	       tool_restore(ctx, "nftables-%u.img", id, nft, false, NULL);
}

static int net_restore(struct rst_ctx *ctx, uint32_t id)
{
	int ret;

	if (rst.join >= 0) {
		ret = setns(rst.join, CLONE_NEWNET) ? -errno : 0;
		if (ret)
			pr_perror("net namespace %u: cannot join the one given for %s", id,
				  rst.ns->ext_key);
		close(rst.join);
		rst.join = -1;
		return ret;
	}
	if (rst.empty) {
		pr_info("net namespace %u: --empty-ns net: left for the caller to fill", id);
		return 0;
	}
	ret = netns_restore() ?: links_restore(ctx, id) ?: tools_restore(ctx, id);
	if (rst.own >= 0)
		close(rst.own);
	rst.own = -1;
	return ret;
}

const struct ns_operations net_ns_ops = {
	.name = "net",
	.cflag = CLONE_NEWNET,
	.dump = net_dump,
	.prepare = net_prepare,
	.restore = net_restore,
};
