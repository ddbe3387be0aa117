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
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "files/netlock.h"
#include "log.h"
#include "opts.h"
#include <stasis/soccr.h>

void netlock_init(struct netlock *nl, unsigned int method, const char *run_id)
{
	memset(nl, 0, sizeof(*nl));
	nl->method = method;
	snprintf(nl->table, sizeof(nl->table), "inet CRIU-%s", run_id);
}

static void nft_child(int in, bool quiet)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (dup2(in, STDIN_FILENO) < 0)
		_exit(126);
	if (null >= 0) {
		dup2(null, STDOUT_FILENO);
		if (quiet)
			dup2(null, STDERR_FILENO);
	}
	signal(SIGPIPE, SIG_DFL);
	execlp("nft", "nft", "-f", "-", (char *)NULL);
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

/* Run @script through nft: 0, 1 when nft refused it, or -errno. */
static int nft_run(const char *script, bool quiet)
{
	void (*old)(int);
	int p[2], status, ret;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		close(p[0]);
		close(p[1]);
		return ret;
	}
	if (!pid)
		nft_child(p[0], quiet);
	close(p[0]);
	/* nft may exit before reading it all: its status says what happened. */
	old = signal(SIGPIPE, SIG_IGN);
	write_all(p[1], script, strlen(script));
	signal(SIGPIPE, old);
	close(p[1]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
		pr_err("network lock: the nft program is not there (install nftables, or "
		       "dump with --network-lock skip)");
		return -ENOENT;
	}
	return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : 1;
}

/* The table, its sets and the rules that drop their 4-tuples. */
static int make_table(struct netlock *nl)
{
	char s[2048];
	const char *t = nl->table;
	int ret;

	snprintf(s, sizeof(s),
		 "create table %s\n"
		 "add chain %s output { type filter hook output priority 0; }\n"
		 "add chain %s input { type filter hook input priority 0; }\n"
		 "add rule %s output meta mark %#x accept\n"
		 "add rule %s input meta mark %#x accept\n"
		 "add set %s conns4 { type ipv4_addr . inet_service . ipv4_addr . inet_service; }\n"
		 "add set %s conns6 { type ipv6_addr . inet_service . ipv6_addr . inet_service; }\n"
		 "add rule %s output ip saddr . tcp sport . ip daddr . tcp dport @conns4 drop\n"
		 "add rule %s input ip saddr . tcp sport . ip daddr . tcp dport @conns4 drop\n"
		 "add rule %s output ip6 saddr . tcp sport . ip6 daddr . tcp dport @conns6 drop\n"
		 "add rule %s input ip6 saddr . tcp sport . ip6 daddr . tcp dport @conns6 drop\n",
		 t, t, t, t, SOCCR_MARK, t, SOCCR_MARK, t, t, t, t, t, t);
	ret = nft_run(s, false);
	if (ret > 0) {
		pr_err("network lock: nft could not make table %s", t);
		return -EIO;
	}
	return ret;
}

bool netlock_there(const struct netlock *nl)
{
	char s[128];

	snprintf(s, sizeof(s), "list table %s\n", nl->table);
	return nft_run(s, true) == 0;
}

/* Both addresses as nft writes them; a v4-mapped pair as plain IPv4. */
static int conn_addrs(const InetSkEntry *ie, char *src, char *dst, size_t len)
{
	const uint32_t *s = ie->src_addr, *d = ie->dst_addr;
	int family = ie->family;
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (family == AF_INET6 && !memcmp(s, mapped, 12) && !memcmp(d, mapped, 12)) {
		family = AF_INET;
		s += 3;
		d += 3;
	}
	if (!inet_ntop(family, s, src, len) || !inet_ntop(family, d, dst, len))
		return -EINVAL;
	return family;
}

static int add_conn(struct netlock *nl, const InetSkEntry *ie)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], s[512];
	int family = conn_addrs(ie, src, dst, sizeof(src));
	char v = family == AF_INET ? '4' : '6';

	if (family < 0)
		return family;
	snprintf(s, sizeof(s), "add element %s conns%c { %s . %u . %s . %u, %s . %u . %s . %u }\n",
		 nl->table, v, src, ie->src_port, dst, ie->dst_port, dst, ie->dst_port, src,
		 ie->src_port);
	if (nft_run(s, false)) {
		pr_err("network lock: nft could not lock connection %s:%u - %s:%u", src,
		       ie->src_port, dst, ie->dst_port);
		return -EIO;
	}
	return 0;
}

int netlock_add(struct netlock *nl, const InetSkEntry *ie, bool restore)
{
	int ret;

	if (nl->method == NETWORK_LOCK_SKIP)
		return 0;
	if (nl->method != NETWORK_LOCK_NFTABLES) {
		pr_err("unsupported: --network-lock iptables (nftables and skip are there)");
		return -ENOTSUP;
	}
	if (!nl->held) {
		/* At restore, a table there is the one the dump left locked. */
		ret = restore && netlock_there(nl) ? 0 : make_table(nl);
		if (ret)
			return ret;
		nl->held = true;
		pr_info("network locked: table %s", nl->table);
	}
	return add_conn(nl, ie);
}

int netlock_remove(struct netlock *nl)
{
	char s[128];

	if (!nl->held)
		return 0;
	snprintf(s, sizeof(s), "delete table %s\n", nl->table);
	nl->held = false;
	if (nft_run(s, false)) {
		pr_err("network lock: nft could not delete table %s: delete it by hand", nl->table);
		return -EIO;
	}
	pr_info("network unlocked: table %s gone", nl->table);
	return 0;
}
