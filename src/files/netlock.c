/*
 * netlock.c - the network lock of kept TCP connections, by nftables
 * (netlock.h says what is locked and when).
 *
 * The nft program does the work, fed a script on its standard input
 * (nft -f -): Debian ships no development package of libnftables, and
 * one script is one transaction, made whole or not at all.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "files/netlock.h"
#include "log.h"
#include "ns/ns.h"
#include "opts.h"
#include <stasis/soccr.h>

void netlock_init(struct netlock *nl, unsigned int method, const char *run_id)
{
	memset(nl, 0, sizeof(*nl));
	nl->method = method;
	/*
	 * CRIU names it in 32 bytes: the id cut after 21 characters.  The
	 * same cut here, so that each tool finds the other's table.
	 */
	snprintf(nl->table, NETLOCK_TABLE_LEN, "inet CRIU-%s", run_id);
	nl->whole = ns_net_fd() >= 0;
}

/*
 * In the child: in net namespace @netns (the tree's, when not ours), stdin
 * from @in (or /dev/null), stdout away, stderr too if @quiet.
 */
static void prog_child(const char *const argv[], int in, bool quiet, int netns)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (netns >= 0 && setns(netns, CLONE_NEWNET))
		_exit(126);
	/* A restore runs in the tree's mounts: the program is the host's. */
	if (ns_host_enter())
		_exit(126);

	if (in < 0)
		in = null;
	if (in < 0 || dup2(in, STDIN_FILENO) < 0)
		_exit(126);
	if (null >= 0) {
		dup2(null, STDOUT_FILENO);
		if (quiet)
			dup2(null, STDERR_FILENO);
	}
	signal(SIGPIPE, SIG_DFL);
	execvp(argv[0], (char *const *)argv);
	_exit(127);
}

static int write_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t n = write(fd, s, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		s += n;
		len -= n;
	}
	return 0;
}

/*
 * Run program @argv with @input (or nothing) on its standard input: 0, 1
 * when it said no, or -errno.
 */
static int prog_run(const char *const argv[], const char *input, bool quiet)
{
	int p[2] = { -1, -1 }, status, ret, netns;
	void (*old)(int);
	pid_t pid;

	if (input && pipe2(p, O_CLOEXEC))
		return -errno;
	/* The connections are the tree's: so is the lock, in its own net namespace. */
	netns = ns_net_fd();
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		if (input) {
			close(p[0]);
			close(p[1]);
		}
		return ret;
	}
	if (!pid)
		prog_child(argv, p[0], quiet, netns);
	if (input) {
		close(p[0]);
		/* It may exit before reading it all: its status says what happened. */
		old = signal(SIGPIPE, SIG_IGN);
		write_all(p[1], input, strlen(input));
		signal(SIGPIPE, old);
		close(p[1]);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
		pr_err("network lock: the %s program is not there (install it, or dump with "
		       "--network-lock skip)", argv[0]);
		return -ENOENT;
	}
	return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : 1;
}

/* Run @script through nft (nft -f -): 0, 1 when nft refused it, or -errno. */
static int nft_run(const char *script, bool quiet)
{
	static const char *const argv[] = { "nft", "-f", "-", NULL };

	return prog_run(argv, script, quiet);
}

/* The table, its sets and the rules that drop their 4-tuples. */
static int make_table(struct netlock *nl)
{
	/* A whole namespace: every packet but libsoccr's dropped. */
	const char *policy = nl->whole ? " policy drop;" : "";
	const char *t = nl->table;
	char s[2048];
	int ret;

	snprintf(s, sizeof(s),
		 "create table %s\n"
		 "add chain %s output { type filter hook output priority 0;%s }\n"
		 "add chain %s input { type filter hook input priority 0;%s }\n"
		 "add rule %s output meta mark %#x accept\n"
		 "add rule %s input meta mark %#x accept\n"
		 "add set %s conns4 { type ipv4_addr . inet_service . ipv4_addr . inet_service; }\n"
		 "add set %s conns6 { type ipv6_addr . inet_service . ipv6_addr . inet_service; }\n"
		 "add rule %s output ip saddr . tcp sport . ip daddr . tcp dport @conns4 drop\n"
		 "add rule %s input ip saddr . tcp sport . ip daddr . tcp dport @conns4 drop\n"
		 "add rule %s output ip6 saddr . tcp sport . ip6 daddr . tcp dport @conns6 drop\n"
		 "add rule %s input ip6 saddr . tcp sport . ip6 daddr . tcp dport @conns6 drop\n",
		 t, t, policy, t, policy, t, SOCCR_MARK, t, SOCCR_MARK, t, t, t, t, t, t);
	ret = nft_run(s, false);
	if (ret > 0) {
		pr_err("network lock: nft could not make table %s", t);
		return -EIO;
	}
	return ret;
}

/* Is @nl's table there (left by a dump)? */
static bool nft_there(const struct netlock *nl)
{
	char s[128];

	snprintf(s, sizeof(s), "list table %s\n", nl->table);
	return nft_run(s, true) == 0;
}

/* @ie's two ends as the programs write them; a v4-mapped pair as plain IPv4. */
static int conn_of(const InetSkEntry *ie, struct netlock_conn *c)
{
	const uint32_t *s = ie->src_addr, *d = ie->dst_addr;
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	c->family = ie->family;
	if (ie->n_src_addr < 4 || ie->n_dst_addr < 4)
		c->family = AF_INET;
	else if (c->family == AF_INET6 && !memcmp(s, mapped, 12) && !memcmp(d, mapped, 12)) {
		c->family = AF_INET;
		s += 3;
		d += 3;
	}
	if (!ie->n_src_addr || !ie->n_dst_addr || !inet_ntop(c->family, s, c->src, sizeof(c->src)) ||
	    !inet_ntop(c->family, d, c->dst, sizeof(c->dst))) {
		pr_err("network lock: inet socket %u has no addresses to lock", ie->ino);
		return -EINVAL;
	}
	c->sport = ie->src_port;
	c->dport = ie->dst_port;
	return 0;
}

static int nft_lock(struct netlock *nl, const struct netlock_conn *c)
{
	char v = c->family == AF_INET ? '4' : '6', s[512];

	snprintf(s, sizeof(s), "add element %s conns%c { %s . %u . %s . %u, %s . %u . %s . %u }\n",
		 nl->table, v, c->src, c->sport, c->dst, c->dport, c->dst, c->dport, c->src,
		 c->sport);
	return nft_run(s, false) ? -EIO : 0;
}

/*
 * One direction of @c's iptables lock, as CRIU writes it: op "-I" locks,
 * "-D" unlocks, "-C" asks.  Input drops what the peer sends us, output
 * what we send it; packets of libsoccr's own (SOCCR_MARK) pass.
 */
static int ipt_rule(const struct netlock_conn *c, const char *op, bool input, bool quiet)
{
	char mark[16], sport[8], dport[8];
	const char *const argv[] = {
		c->family == AF_INET ? "iptables" : "ip6tables", "-w", "-t", "filter", op,
		input ? "INPUT" : "OUTPUT", "--protocol", "tcp", "-m", "mark", "!", "--mark", mark,
		"--source", input ? c->dst : c->src, "--sport", sport,
		"--destination", input ? c->src : c->dst, "--dport", dport, "-j", "DROP", NULL
	};

	snprintf(mark, sizeof(mark), "%#x", SOCCR_MARK);
	snprintf(sport, sizeof(sport), "%u", input ? c->dport : c->sport);
	snprintf(dport, sizeof(dport), "%u", input ? c->sport : c->dport);
	return prog_run(argv, NULL, quiet);
}

static bool ipt_there(const struct netlock_conn *c)
{
	return !ipt_rule(c, "-C", true, true) && !ipt_rule(c, "-C", false, true);
}

static int ipt_lock(const struct netlock_conn *c)
{
	int ret = ipt_rule(c, "-I", true, false);

	if (!ret) {
		ret = ipt_rule(c, "-I", false, false);
		if (ret)
			ipt_rule(c, "-D", true, true);
	}
	return ret > 0 ? -EIO : ret;
}

/* iptables-restore (or ip6tables-) --noflush of @rules in the filter table. */
static int ipt_restore(bool v6, const char *rules, bool quiet)
{
	const char *const argv[] = { v6 ? "ip6tables-restore" : "iptables-restore", "-w",
				     "--noflush", NULL };

	return prog_run(argv, rules, quiet);
}

static bool ipt_v6(void)
{
	return !access("/proc/sys/net/ipv6", F_OK);
}

/* A whole namespace, by iptables: CRIU's chain, first in INPUT and OUTPUT. */
static int ipt_whole_lock(void)
{
	char rules[256];
	int ret;

	snprintf(rules, sizeof(rules),
		 "*filter\n:CRIU - [0:0]\n-I INPUT -j CRIU\n-I OUTPUT -j CRIU\n"
		 "-A CRIU -m mark --mark %#x -j ACCEPT\n-A CRIU -j DROP\nCOMMIT\n", SOCCR_MARK);
	ret = ipt_restore(false, rules, false);
	if (!ret && ipt_v6())
		ret = ipt_restore(true, rules, false);
	return ret > 0 ? -EIO : ret;
}

static bool ipt_whole_there(void)
{
	static const char *const argv[] = { "iptables", "-w", "-C", "INPUT", "-j", "CRIU", NULL };

	return prog_run(argv, NULL, true) == 0;
}

static int ipt_whole_unlock(void)
{
	static const char jumps[] = "*filter\n:CRIU - [0:0]\n-D INPUT -j CRIU\n"
				    "-D OUTPUT -j CRIU\nCOMMIT\n";
	static const char chain[] = "*filter\n:CRIU - [0:0]\n-X CRIU\nCOMMIT\n";
	int ret = ipt_restore(false, jumps, false) | ipt_restore(false, chain, false);

	if (ipt_v6())
		ret |= ipt_restore(true, jumps, false) | ipt_restore(true, chain, false);
	if (ret)
		pr_err("network lock: iptables could not remove chain CRIU: delete it by hand");
	return ret ? -EIO : 0;
}

/* The whole namespace locked, or (@restore) the lock the dump left taken over. */
static int whole_lock(struct netlock *nl, bool restore)
{
	bool ipt = nl->method == NETWORK_LOCK_IPTABLES;
	int ret;

	if (nl->held)
		return 0;
	if (restore && (ipt ? ipt_whole_there() : nft_there(nl)))
		ret = 0;
	else
		ret = ipt ? ipt_whole_lock() : make_table(nl);
	if (ret) {
		pr_err("network lock: %s could not lock the tree's net namespace",
		       ipt ? "iptables" : "nft");
		return ret;
	}
	nl->held = true;
	pr_info("network locked: the tree's net namespace, by %s", ipt ? "iptables" : nl->table);
	return 0;
}

int netlock_netns(struct netlock *nl)
{
	if (!nl->whole || nl->method == NETWORK_LOCK_SKIP)
		return 0;
	if (nl->method != NETWORK_LOCK_NFTABLES && nl->method != NETWORK_LOCK_IPTABLES) {
		pr_err("unsupported: network lock method %u", nl->method);
		return -ENOTSUP;
	}
	return whole_lock(nl, false);
}

void netlock_adopt_netns(struct netlock *nl)
{
	if (!nl->whole || nl->held)
		return;
	if (nl->method == NETWORK_LOCK_IPTABLES)
		nl->held = ipt_whole_there();
	else if (nl->method == NETWORK_LOCK_NFTABLES)
		nl->held = nft_there(nl);
}

static int remember(struct netlock *nl, const struct netlock_conn *c)
{
	if (nl->nr == nl->cap) {
		size_t cap = nl->cap ? 2 * nl->cap : 8;
		struct netlock_conn *n = realloc(nl->conns, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		nl->conns = n;
		nl->cap = cap;
	}
	nl->conns[nl->nr++] = *c;
	nl->held = true;
	return 0;
}

int netlock_add(struct netlock *nl, const InetSkEntry *ie, bool restore)
{
	struct netlock_conn c;
	int ret;

	if (nl->method == NETWORK_LOCK_SKIP)
		return 0;
	if (nl->method != NETWORK_LOCK_NFTABLES && nl->method != NETWORK_LOCK_IPTABLES) {
		pr_err("unsupported: network lock method %u", nl->method);
		return -ENOTSUP;
	}
	if (nl->whole)
		return whole_lock(nl, restore);
	ret = conn_of(ie, &c);
	if (ret)
		return ret;
	if (nl->method == NETWORK_LOCK_IPTABLES) {
		/* At restore, rules there are the ones the dump left. */
		ret = restore && ipt_there(&c) ? 0 : ipt_lock(&c);
		ret = ret ?: remember(nl, &c);
	} else {
		if (!nl->held) {
			/* At restore, a table there is the one the dump left locked. */
			ret = restore && nft_there(nl) ? 0 : make_table(nl);
			if (ret)
				return ret;
			nl->held = true;
			pr_info("network locked: table %s", nl->table);
		}
		ret = nft_lock(nl, &c);
	}
	if (ret)
		pr_err("network lock: %s could not lock connection %s:%u - %s:%u",
		       nl->method == NETWORK_LOCK_IPTABLES ? "iptables" : "nft", c.src, c.sport,
		       c.dst, c.dport);
	return ret;
}

int netlock_adopt(struct netlock *nl, const InetSkEntry *ie)
{
	struct netlock_conn c;

	if (nl->whole) {
		netlock_adopt_netns(nl);
		return 0;
	}
	if (nl->method == NETWORK_LOCK_NFTABLES && !nl->held)
		nl->held = nft_there(nl);
	if (nl->method != NETWORK_LOCK_IPTABLES || conn_of(ie, &c) || !ipt_there(&c))
		return 0;
	return remember(nl, &c);
}

static int ipt_unlock_all(struct netlock *nl)
{
	int ret = 0;

	for (size_t i = 0; i < nl->nr; i++) {
		const struct netlock_conn *c = &nl->conns[i];

		if (ipt_rule(c, "-D", true, false) | ipt_rule(c, "-D", false, false)) {
			pr_err("network lock: iptables could not unlock connection %s:%u - %s:%u: "
			       "delete its rules by hand", c->src, c->sport, c->dst, c->dport);
			ret = -EIO;
		}
	}
	free(nl->conns);
	nl->conns = NULL;
	nl->nr = nl->cap = 0;
	return ret;
}

int netlock_remove(struct netlock *nl)
{
	char s[128];

	if (!nl->held)
		return 0;
	nl->held = false;
	if (nl->whole && nl->method == NETWORK_LOCK_IPTABLES) {
		pr_info("network unlocked: the tree's net namespace (iptables chain CRIU gone)");
		return ipt_whole_unlock();
	}
	if (nl->method == NETWORK_LOCK_IPTABLES) {
		pr_info("network unlocked: %zu connections' iptables rules gone", nl->nr);
		return ipt_unlock_all(nl);
	}
	snprintf(s, sizeof(s), "delete table %s\n", nl->table);
	if (nft_run(s, false)) {
		pr_err("network lock: nft could not delete table %s: delete it by hand", nl->table);
		return -EIO;
	}
	pr_info("network unlocked: table %s gone", nl->table);
	return 0;
}
