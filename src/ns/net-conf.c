/*
 * net-conf.c - the half of a net namespace (net.c) kept as values and
 * text: its sysctls, the namespace's (netns-ID.img) and each link's (in
 * its netdev-ID.img entry), by position in CRIU's lists; and what ip,
 * iptables and nft print of its addresses, routes, rules and firewall,
 * kept raw as CRIU keeps them (ifaddr-, route-, route6-, rule-, iptables-,
 * ip6tables-, nftables-ID.img) and fed back to them at restore.
 *
 * Runs in the namespace: /proc/sys/net shows the opener's, and the tools
 * are children of a process inside it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "dump.h"
#include "log.h"
#include "netdev.pb-c.h"
#include "ns/net.h"
#include "ns/ns.h"
#include "proc.h"
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
		snprintf(path, sizeof(path), "net/%s/%s", dir, names[i]);
		if (proc_sys_read(path, val, sizeof(val)) < 0)
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
	snprintf(path, sizeof(path), "net/%s/%s", dir, name);
	ret = proc_sys_write(path, v);
	if (ret == -ENOENT) {
		pr_warn("net namespace: no sysctl %s on this kernel: its value %s is lost",
			path, v);
		return 0;
	}
	if (ret)
		pr_err("net namespace: cannot set %s to %s: %s", path, v, strerror(-ret));
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
		/* Late in a restore the controller is in the tree's mounts: the tools are the host's. */
		if (null < 0 || dup2(in >= 0 ? in : null, STDIN_FILENO) < 0 ||
		    dup2(out >= 0 ? out : null, STDOUT_FILENO) < 0 ||
		    (quiet && dup2(null, STDERR_FILENO) < 0) || ns_host_enter())
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
int net_tools_dump(struct dump_ctx *ctx, uint32_t id)
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

/*
 * The sysctl sets of netns.img: where each lives under /proc/sys/net, the
 * names in its entries' order, which one is text, and its two fields in
 * NetnsEntry.
 */
static const struct netns_sysctls {
	const char *dir;
	const char *const *names;
	size_t n;
	const char *str;
	size_t entries, count;
} netns_sysctls[] = {
#define SET(dir, names, str, field) \
	{ dir, names, sizeof(names) / sizeof(names[0]), str, \
	  offsetof(NetnsEntry, field), offsetof(NetnsEntry, n_##field) }
	SET("ipv4/conf/all", conf4_names, NULL, all_conf4),
	SET("ipv4/conf/default", conf4_names, NULL, def_conf4),
	SET("ipv6/conf/all", conf6_names, "stable_secret", all_conf6),
	SET("ipv6/conf/default", conf6_names, "stable_secret", def_conf6),
	SET("unix", unix_names, NULL, unix_conf),
	SET("ipv4", ipv4_names, "ping_group_range", ipv4_sysctl),
#undef SET
};

#define N_NETNS_SYSCTLS	(sizeof(netns_sysctls) / sizeof(netns_sysctls[0]))

static SysctlEntry ***netns_entries(const NetnsEntry *e, const struct netns_sysctls *set)
{
	return (SysctlEntry ***)((char *)e + set->entries);
}

static size_t *netns_count(const NetnsEntry *e, const struct netns_sysctls *set)
{
	return (size_t *)((char *)e + set->count);
}

/*
 * net.ipv4.ping_group_range holds gids as whoever reads or writes it sees
 * them.  The image has the tree's (CRIU 4.2 reads and writes it from inside
 * the tree's user namespace): a gid the tree cannot see reads there as the
 * overflow gid.  stasis writes it from outside: back to its own (@host).
 * A range with no gid ("1 0", the default) stays one.
 */
static void ping_range_map(SysctlEntry *e, bool host)
{
	unsigned int lo, hi;
	uint32_t a, b;
	char buf[32];

	if (!e->sarg || sscanf(e->sarg, "%u %u", &lo, &hi) != 2 || lo > hi)
		return;
	a = host ? userns_host_gid(lo) : userns_dump_gid(lo);
	b = host ? userns_host_gid(hi) : userns_dump_gid(hi);
	if (!host && (a == ~0U || b == ~0U)) {
		unsigned int over = 65534;

		if (proc_sys_read("kernel/overflowgid", buf, sizeof(buf)) > 0)
			sscanf(buf, "%u", &over);
		a = a == ~0U ? over : a;
		b = b == ~0U ? over : b;
	}
	if (a == ~0U || b == ~0U) {
		pr_warn("net namespace: ping_group_range %u-%u has gids not mapped here: left", lo, hi);
		free(e->sarg);
		e->sarg = NULL;
		return;
	}
	snprintf(buf, sizeof(buf), "%u\t%u", a, b);
	free(e->sarg);
	e->sarg = strdup(buf);
}

int net_netns_dump(struct dump_ctx *ctx, uint32_t id, const char *ext_key)
{
	NetnsEntry e = NETNS_ENTRY__INIT;
	int ret = 0;

	if (ext_key) {
		e.ext_key = (char *)ext_key;
		return img_write_one(ctx->dirfd, IMG_NETNS, id, &e.base);
	}
	for (size_t i = 0; i < N_NETNS_SYSCTLS; i++) {
		const struct netns_sysctls *set = &netns_sysctls[i];
		SysctlEntry **p = sysctls_read(set->dir, set->names, set->n, set->str);

		*netns_entries(&e, set) = p;
		*netns_count(&e, set) = set->n;
		if (!p)
			ret = -ENOMEM;
		else if (set->str && !strcmp(set->str, "ping_group_range"))
			ping_range_map(p[0], false);
	}
	if (!ret)
		ret = img_write_one(ctx->dirfd, IMG_NETNS, id, &e.base);
	for (size_t i = 0; i < N_NETNS_SYSCTLS; i++)
		sysctls_free(*netns_entries(&e, &netns_sysctls[i]), netns_sysctls[i].n);
	return ret;
}

/* netns.img's sysctls written into the namespace stasis is in now; none for an external one. */
int net_netns_restore(const NetnsEntry *e)
{
	int ret = 0;

	for (size_t i = 0; e && !ret && i < N_NETNS_SYSCTLS; i++) {
		const struct netns_sysctls *set = &netns_sysctls[i];
		SysctlEntry **p = *netns_entries(e, set);

		if (set->str && !strcmp(set->str, "ping_group_range") && *netns_count(e, set))
			ping_range_map(p[0], true);
		ret = sysctls_write(set->dir, p, *netns_count(e, set), set->names, set->n, NULL, 0);
	}
	return ret;
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
 * too).
 */
int net_tools_restore(struct rst_ctx *ctx, uint32_t id)
{
	static const char *const addr[] = { "ip", "addr", "restore", NULL };
	static const char *const route[] = { "ip", "route", "restore", NULL };
	static const char *const rule[] = { "ip", "rule", "restore", NULL };
	static const char *const flush[] = { "ip", "rule", "flush", NULL };
	static const char *const local[] = { "ip", "rule", "delete", "table", "local", NULL };
	static const char *const *const rule_before[] = { flush, local, NULL };

	return tool_restore(ctx, "ifaddr-%u.img", id, addr, true, NULL) ?:
	       tool_restore(ctx, "route-%u.img", id, route, true, NULL) ?:
	       tool_restore(ctx, "route6-%u.img", id, route, true, NULL) ?:
	       tool_restore(ctx, "rule-%u.img", id, rule, false,
			    (const char *const **)rule_before);
}

/* The legacy iptables' rules, then nft's (which hold iptables' nf_tables flavour). */
int net_firewall_restore(struct rst_ctx *ctx, uint32_t id)
{
	static const char *const nft[] = { "nft", "-f", "-", NULL };
	/* Looked for only when there are legacy rules to restore. */
	const char *ipt[] = { raw_size(ctx, "iptables-%u.img", id) ? ipt_legacy(false, true) : "",
			      "-w", NULL };
	const char *ip6t[] = { raw_size(ctx, "ip6tables-%u.img", id) ? ipt_legacy(true, true) : "",
			       "-w", NULL };

	return tool_restore(ctx, "iptables-%u.img", id, ipt, false, NULL) ?:
	       tool_restore(ctx, "ip6tables-%u.img", id, ip6t, false, NULL) ?:
	       tool_restore(ctx, "nftables-%u.img", id, nft, false, NULL);
}

int net_link_conf_dump(NetDeviceEntry *e)
{
	char dir[64];

	snprintf(dir, sizeof(dir), "ipv4/conf/%s", e->name);
	e->conf4 = sysctls_read(dir, conf4_names, N_CONF4, NULL);
	snprintf(dir, sizeof(dir), "ipv6/conf/%s", e->name);
	e->conf6 = sysctls_read(dir, conf6_names, N_CONF6, "stable_secret");
	e->n_conf4 = N_CONF4;
	e->n_conf6 = N_CONF6;
	return e->conf4 && e->conf6 ? 0 : -ENOMEM;
}

void net_link_conf_free(NetDeviceEntry *e)
{
	sysctls_free(e->conf4, N_CONF4);
	sysctls_free(e->conf6, N_CONF6);
	e->conf4 = e->conf6 = NULL;
}

int net_link_conf_restore(const NetDeviceEntry *e, const NetnsEntry *ns)
{
	/* lo is as old as the namespace: its defaults were set after it. */
	bool def = ns && e->type != ND_TYPE__LOOPBACK;
	char dir[64];
	int ret;

	snprintf(dir, sizeof(dir), "ipv4/conf/%s", e->name);
	ret = sysctls_write(dir, e->conf4, e->n_conf4, conf4_names, N_CONF4,
			    def ? ns->def_conf4 : NULL, def ? ns->n_def_conf4 : 0);
	snprintf(dir, sizeof(dir), "ipv6/conf/%s", e->name);
	return ret ?: sysctls_write(dir, e->conf6, e->n_conf6, conf6_names, N_CONF6,
				    def ? ns->def_conf6 : NULL, def ? ns->n_def_conf6 : 0);
}
