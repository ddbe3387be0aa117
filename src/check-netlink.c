/*
 * check-netlink.c - the probes that talk netlink: socket diag (which the
 * dump uses to find sockets), network namespace ids and link creation.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/inet_diag.h>
#include <linux/net_namespace.h>
#include <linux/netlink.h>
#include <linux/netlink_diag.h>
#include <linux/packet_diag.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <linux/veth.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "check.h"
#include "log.h"

#define NL_SEQ		0x57a515	/* our requests' sequence number */
#define NL_BUF		32768

/* A request being built: the header and room for what follows. */
struct nl_req {
	struct nlmsghdr h;
	char body[1024];
};

typedef int (*nl_cb)(struct nlmsghdr *h, void *arg);

static int nl_open(int proto)
{
	struct timeval tv = { .tv_sec = 5 };
	int sk = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, proto);

	if (sk < 0) {
		pr_perror("Can't make a netlink socket (protocol %d)", proto);
		return -1;
	}
	/* A kernel that never answers must not hang the check. */
	setsockopt(sk, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return sk;
}

static void nl_init(struct nl_req *r, int type, int flags, const void *hdr, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->h.nlmsg_len = NLMSG_LENGTH(len);
	r->h.nlmsg_type = type;
	r->h.nlmsg_flags = NLM_F_REQUEST | flags;
	r->h.nlmsg_seq = NL_SEQ;
	memcpy(NLMSG_DATA(&r->h), hdr, len);
}

/* Append attribute @type to @r; its start, for nesting. */
static struct rtattr *nl_put(struct nl_req *r, int type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)((char *)&r->h + NLMSG_ALIGN(r->h.nlmsg_len));
	size_t total = NLMSG_ALIGN(r->h.nlmsg_len) + RTA_ALIGN(RTA_LENGTH(len));

	if (total > sizeof(*r))
		return NULL;	/* our requests are small; never happens */
	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(rta), data, len);
	r->h.nlmsg_len = total;
	return rta;
}

/* Close a nest opened with nl_put(r, type, NULL, 0). */
static void nl_end(struct nl_req *r, struct rtattr *nest)
{
	nest->rta_len = (char *)&r->h + r->h.nlmsg_len - (char *)nest;
}

/* One message of an answer: 1 at its end, 0 to go on, -errno on error. */
static int nl_one(struct nlmsghdr *h, nl_cb cb, void *arg)
{
	int *err = NLMSG_DATA(h);

	if (h->nlmsg_seq != NL_SEQ)
		return 0;
	if (h->nlmsg_type == NLMSG_DONE)
		return h->nlmsg_len >= NLMSG_LENGTH(sizeof(int)) && *err < 0 ? *err : 1;
	if (h->nlmsg_type == NLMSG_ERROR)
		return *err < 0 ? *err : 1;
	return cb ? cb(h, arg) : 0;
}

/*
 * Send @r and read the answer up to its end (the ack or NLMSG_DONE);
 * @cb sees each other message.  0 or the kernel's -errno.
 */
static int nl_talk(int sk, struct nl_req *r, nl_cb cb, void *arg)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	static char buf[NL_BUF];
	struct nlmsghdr *h;
	ssize_t n;
	int ret;

	if (sendto(sk, r, r->h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	for (;;) {
		n = recv(sk, buf, sizeof(buf), 0);
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			ret = nl_one(h, cb, arg);
			if (ret)
				return ret < 0 ? ret : 0;
		}
	}
}

/* A socket-diag dump of @family/@proto; 0 when the kernel can list them. */
static int diag_dump(int sk, int family, int proto)
{
	union {
		struct unix_diag_req u;
		struct inet_diag_req_v2 i;
		struct packet_diag_req p;
		struct netlink_diag_req n;
	} q;
	struct nl_req r;
	size_t len;

	memset(&q, 0, sizeof(q));
	q.i.sdiag_family = family;
	q.i.sdiag_protocol = proto;
	if (family == AF_UNIX) {
		q.u.udiag_states = -1;
		len = sizeof(q.u);
	} else if (family == AF_PACKET) {
		len = sizeof(q.p);
	} else if (family == AF_NETLINK) {
		q.n.sdiag_protocol = NDIAG_PROTO_ALL;
		len = sizeof(q.n);
	} else {
		q.i.idiag_states = -1;
		len = sizeof(q.i);
	}
	nl_init(&r, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, &q, len);
	return nl_talk(sk, &r, NULL, NULL);
}

static const struct {
	int family, proto;
	const char *name;
} diag_kinds[] = {
	{ AF_UNIX, 0, "unix" },
	{ AF_INET, IPPROTO_TCP, "tcp" },
	{ AF_INET, IPPROTO_UDP, "udp" },
	{ AF_INET, IPPROTO_UDPLITE, "udplite" },
	{ AF_INET6, IPPROTO_TCP, "tcp6" },
	{ AF_INET6, IPPROTO_UDP, "udp6" },
	{ AF_INET6, IPPROTO_UDPLITE, "udplite6" },
	{ AF_PACKET, 0, "packet" },
	{ AF_NETLINK, 0, "netlink" },
};

/*
 * The dump finds sockets through sock_diag.  As CRIU, a kind the kernel
 * cannot list is no reason to refuse every dump (only dumps of such
 * sockets fail), so it is a warning; no sock_diag at all is an error.
 */
int check_sock_diag(void)
{
	int sk = nl_open(NETLINK_SOCK_DIAG), missing = 0, err;

	if (sk < 0)
		return -1;
	for (size_t i = 0; i < sizeof(diag_kinds) / sizeof(diag_kinds[0]); i++) {
		err = diag_dump(sk, diag_kinds[i].family, diag_kinds[i].proto);
		if (err) {
			pr_warn("sock_diag cannot list %s sockets (%s): dumping them will fail",
				diag_kinds[i].name, strerror(-err));
			missing++;
		}
	}
	close(sk);
	if (missing) {
		pr_info("The sock diag infrastructure is incomplete. Make sure you have:");
		pr_info(" 1. *_DIAG kernel config options turned on;");
		pr_info(" 2. *_diag.ko modules loaded (if compiled as modules).");
	}
	return 0;
}

/*
 * Raw sockets in sock_diag.  As CRIU, a kernel built without raw diag
 * (ENOENT) still counts: raw sockets are then dumped from their own
 * options, as unconnected ones; only another error says no.
 */
int check_net_diag_raw(void)
{
	int sk = nl_open(NETLINK_SOCK_DIAG), e4, e6;

	if (sk < 0)
		return -1;
	e4 = diag_dump(sk, AF_INET, IPPROTO_RAW);
	e6 = diag_dump(sk, AF_INET6, IPPROTO_RAW);
	close(sk);
	if (e4 == -ENOENT || e6 == -ENOENT)
		pr_info("sock_diag cannot list raw sockets here (no raw diag in the kernel)");
	e4 = e4 == -ENOENT ? 0 : e4;
	e6 = e6 == -ENOENT ? 0 : e6;
	if (!e4 && !e6)
		return 0;
	pr_warn("sock_diag fails for raw sockets: %s", strerror(-(e4 ? e4 : e6)));
	return -1;
}

/* Whether the attributes after @hdrlen bytes of @h hold @type. */
static bool nl_has_attr(struct nlmsghdr *h, size_t hdrlen, int type)
{
	struct rtattr *rta = (struct rtattr *)((char *)NLMSG_DATA(h) + NLMSG_ALIGN(hdrlen));
	int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(NLMSG_ALIGN(hdrlen));

	for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len))
		if (rta->rta_type == type)
			return true;
	return false;
}

static int got_nsid(struct nlmsghdr *h, void *arg)
{
	if (h->nlmsg_type == RTM_NEWNSID && nl_has_attr(h, sizeof(struct rtgenmsg), NETNSA_NSID))
		*(bool *)arg = true;
	return 0;
}

/* RTM_GETNSID: the id our network namespace gives a task's namespace. */
int check_nsid(void)
{
	struct rtgenmsg g = { .rtgen_family = AF_UNSPEC };
	int sk = nl_open(NETLINK_ROUTE), err;
	uint32_t pid = getpid();
	bool found = false;
	struct nl_req r;

	if (sk < 0)
		return -1;
	nl_init(&r, RTM_GETNSID, NLM_F_ACK, &g, sizeof(g));
	nl_put(&r, NETNSA_PID, &pid, sizeof(pid));
	err = nl_talk(sk, &r, got_nsid, &found);
	close(sk);
	if (!err && found)
		return 0;
	pr_warn("NSID isn't supported");
	return -1;
}

static int got_link_nsid(struct nlmsghdr *h, void *arg)
{
	if (h->nlmsg_type == RTM_NEWLINK &&
	    nl_has_attr(h, sizeof(struct ifinfomsg), IFLA_LINK_NETNSID))
		*(bool *)arg = true;
	return 0;
}

/* A veth pair "stasis0" here, "stasis1" in the namespace of @peer_ns. */
static int make_veth(int sk, int peer_ns)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	struct rtattr *info, *data, *peer;
	uint32_t ns = peer_ns;
	struct nl_req r;

	nl_init(&r, RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof(ifi));
	nl_put(&r, IFLA_IFNAME, "stasis0", sizeof("stasis0"));
	info = nl_put(&r, IFLA_LINKINFO, NULL, 0);
	nl_put(&r, IFLA_INFO_KIND, "veth", sizeof("veth"));
	data = nl_put(&r, IFLA_INFO_DATA, NULL, 0);
	/* The peer's attribute starts with its own ifinfomsg. */
	peer = nl_put(&r, VETH_INFO_PEER, &ifi, sizeof(ifi));
	nl_put(&r, IFLA_IFNAME, "stasis1", sizeof("stasis1"));
	nl_put(&r, IFLA_NET_NS_FD, &ns, sizeof(ns));
	nl_end(&r, peer);
	nl_end(&r, data);
	nl_end(&r, info);
	return nl_talk(sk, &r, NULL, NULL);
}

/* In a child, in two namespaces of its own that die with it. */
static int link_nsid_child(void *arg)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	bool found = false;
	int ns, sk, err;
	struct nl_req r;

	(void)arg;
	if (unshare(CLONE_NEWNET) || (ns = open("/proc/self/ns/net", O_RDONLY)) < 0 ||
	    unshare(CLONE_NEWNET)) {
		pr_perror("Unable create a network namespace");
		return -1;
	}
	sk = nl_open(NETLINK_ROUTE);
	if (sk < 0)
		return -1;
	err = make_veth(sk, ns);
	if (err) {
		pr_info("cannot make a veth pair: %s", strerror(-err));
		return -1;
	}
	nl_init(&r, RTM_GETLINK, NLM_F_DUMP, &ifi, sizeof(ifi));
	err = nl_talk(sk, &r, got_link_nsid, &found);
	return !err && found ? 0 : -1;
}

/* A link whose peer is in another namespace says which (IFLA_LINK_NETNSID). */
int check_link_nsid(void)
{
	if (check_in_child(link_nsid_child, NULL) == 0)
		return 0;
	pr_warn("NSID isn't reported for network links");
	return -1;
}

/*
 * IFLA_NEW_IFINDEX: a kernel that knows it rejects -1 (ERANGE) before it
 * looks for the device; one that does not says the device is missing.
 */
int check_newifindex(void)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	int sk = nl_open(NETLINK_ROUTE), err;
	int32_t index = -1;
	struct nl_req r;

	if (sk < 0)
		return -1;
	nl_init(&r, RTM_SETLINK, NLM_F_ACK, &ifi, sizeof(ifi));
	nl_put(&r, IFLA_NEW_IFINDEX, &index, sizeof(index));
	nl_put(&r, IFLA_IFNAME, "stasis-kdat", sizeof("stasis-kdat"));
	err = nl_talk(sk, &r, NULL, NULL);
	close(sk);
	if (err == -ERANGE)
		return 0;
	if (err != -ENODEV)
		pr_err("Unexpected answer to IFLA_NEW_IFINDEX: %s", strerror(-err));
	else
		pr_err("IFLA_NEW_IFINDEX isn't supported");
	return -1;
}
