/*
 * states.c - libsoccr against a real connection in each TCP state, IPv4,
 * IPv6 and v4-mapped.  Each case, in a network namespace of its own:
 * bring socket a to the state, lock the network (nftables), save a,
 * close it in repair mode (nothing goes out), restore it on a new
 * socket, check the state, unlock, and check that the peer and the new
 * socket exchange every byte once, to the end of both streams.
 *
 *	soccr-states          every case, one PASS:/FAIL:/SKIP: line each
 *
 * A subreaper: each case runs in a child, reaped with whatever it left.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "conn.h"

#define INQ	(64 << 10)	/* a's receive queue */
#define OUTQ	(256 << 10)	/* a's send queue: more than b's window */
#define SOME	(8 << 10)
#define MORE	(10 << 10)	/* exchanged after the restore */

struct scenario {
	const char *name;
	int state;
	int (*make)(struct pair *p);
	int resume;		/* the dump gives up: resume, no restore */
	int (*custom)(int fam);	/* a case of its own instead */
};

static int run_refused(int fam);

/* Data waiting for a to read: b writes, a does not read. */
static int fill_inq(struct pair *p, size_t n)
{
	if (put(p->b, 1, &p->b_out, n))
		return -1;
	return wait_inq(p->a, (int)n);
}

/* a shuts down its side and reaches @state. */
static int shut_a(struct pair *p, int state)
{
	if (shutdown(p->a, SHUT_WR))
		return fail("shutdown a: %s", strerror(errno));
	p->a_shut = 1;
	return wait_state(p->a, state);
}

static int shut_b(struct pair *p)
{
	if (shutdown(p->b, SHUT_WR))
		return fail("shutdown b: %s", strerror(errno));
	p->b_shut = 1;
	return 0;
}

/* Both queues full: received, sent and unacknowledged, never sent. */
static int make_established(struct pair *p)
{
	int outq, unsent;

	if (fill_inq(p, INQ) || block(p->pa) || put(p->a, 0, &p->a_out, OUTQ))
		return -1;
	poll(NULL, 0, 50);
	outq = queued(p->a, SIOCOUTQ);
	unsent = queued(p->a, SIOCOUTQNSD);
	if (outq != OUTQ || unsent <= 0 || unsent >= outq)
		return fail("send queue %d, unsent %d: not both parts", outq, unsent);
	return 0;
}

/* Our FIN sent, lost: unacknowledged, after data that is too. */
static int make_fin_wait1(struct pair *p)
{
	if (fill_inq(p, SOME * 2) || block(p->pa) || put(p->a, 0, &p->a_out, SOME))
		return -1;
	return shut_a(p, TCP_FIN_WAIT1);
}

static int make_fin_wait2(struct pair *p)
{
	if (fill_inq(p, SOME * 2))
		return -1;
	return shut_a(p, TCP_FIN_WAIT2);
}

/* The peer's FIN in, after data; our data out and unacknowledged. */
static int make_close_wait(struct pair *p)
{
	if (block(p->pa) || put(p->a, 0, &p->a_out, SOME))
		return -1;
	if (put(p->b, 1, &p->b_out, SOME * 2) || shut_b(p))
		return -1;
	if (wait_state(p->a, TCP_CLOSE_WAIT))
		return -1;
	return wait_inq(p->a, SOME * 2);
}

static int make_last_ack(struct pair *p)
{
	if (make_close_wait(p))
		return -1;
	return shut_a(p, TCP_LAST_ACK);
}

/* Both FINs cross: ours is lost, the peer's comes in. */
static int make_closing(struct pair *p)
{
	if (block(p->pa) || put(p->a, 0, &p->a_out, SOME) || shut_a(p, TCP_FIN_WAIT1))
		return -1;
	if (put(p->b, 1, &p->b_out, SOME * 2) || shut_b(p))
		return -1;
	return wait_state(p->a, TCP_CLOSING);
}

/* Both ends closed and acknowledged, the peer's data still unread. */
static int make_close(struct pair *p)
{
	if (fill_inq(p, SOME * 2) || shut_b(p) || wait_state(p->a, TCP_CLOSE_WAIT))
		return -1;
	return shut_a(p, TCP_CLOSE);
}

static const struct scenario scenarios[] = {
	{ "ESTABLISHED, both queues, unacknowledged and unsent data", TCP_ESTABLISHED,
	  make_established, 0, NULL },
	{ "FIN_WAIT1, FIN and data unacknowledged", TCP_FIN_WAIT1, make_fin_wait1, 0, NULL },
	{ "FIN_WAIT2, data to read", TCP_FIN_WAIT2, make_fin_wait2, 0, NULL },
	{ "CLOSE_WAIT, data both ways", TCP_CLOSE_WAIT, make_close_wait, 0, NULL },
	{ "LAST_ACK, data both ways", TCP_LAST_ACK, make_last_ack, 0, NULL },
	{ "CLOSING, data both ways", TCP_CLOSING, make_closing, 0, NULL },
	{ "CLOSE, data to read", TCP_CLOSE, make_close, 0, NULL },
	{ "ESTABLISHED, saved then resumed (a dump that gave up)", TCP_ESTABLISHED,
	  make_established, 1, NULL },
	{ "a listener (refused), a SYN_SENT connection (which then connects)", 0, NULL, 0,
	  run_refused },
};

static int check_reuse(int fd)
{
	socklen_t len = sizeof(int);
	int v = 0;

	getsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &v, &len);
	return v ? 0 : fail("SO_REUSEADDR lost after soccr_resume");
}

static int save(struct pair *p, struct soccr_conn *c, int resume)
{
	struct soccr_sk *sk;
	socklen_t len = sizeof(c->peer);
	int ret;

	memset(c, 0, sizeof(*c));
	/* A closed socket has no peer to name: the caller knows it. */
	getsockname(p->b, &c->peer.sa, &len);
	/* Repair mode overrides SO_REUSEADDR: resume must give it back. */
	if (resume)
		setsockopt(p->a, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int));
	ret = soccr_pause(p->a, &sk);
	if (ret)
		return fail("soccr_pause: %s", strerror(-ret));
	ret = soccr_save(sk, c);
	if (ret || resume) {
		soccr_resume(sk);
		return ret ? fail("soccr_save: %s", strerror(-ret)) : check_reuse(p->a);
	}
	soccr_release(sk);
	close(p->a);
	p->a = -1;
	return 0;
}

static int restore(struct pair *p, const struct soccr_conn *c)
{
	struct soccr_sk *sk;
	int ret;

	p->a = new_socket(p->fam);
	if (p->a < 0)
		return fail("socket: %s", strerror(errno));
	ret = soccr_pause(p->a, &sk);
	if (ret)
		return fail("soccr_pause: %s", strerror(-ret));
	ret = soccr_restore(sk, c);
	if (ret) {
		soccr_release(sk);
		return fail("soccr_restore: %s (%s)", strerror(-ret), conn_why);
	}
	if (tcp_state(p->a) != (int)c->st.state) {
		soccr_release(sk);
		return fail("restored in state %d, saved %u", tcp_state(p->a), c->st.state);
	}
	ret = soccr_resume(sk);
	return ret ? fail("soccr_resume: %s", strerror(-ret)) : 0;
}

/* What the saved numbers must say of the connection the test made. */
static int check_saved(const struct pair *p, const struct soccr_conn *c, int state)
{
	if ((int)c->st.state != state)
		return fail("saved state %u, not %d", c->st.state, state);
	if (c->st.inq_len != p->b_out - p->a_in)
		return fail("saved %u bytes to read, not %llu", c->st.inq_len,
			    (unsigned long long)(p->b_out - p->a_in));
	if (c->st.outq_len != p->a_out - p->b_in && state != TCP_FIN_WAIT2 &&
	    state != TCP_CLOSE)
		return fail("saved %u bytes to send, not %llu", c->st.outq_len,
			    (unsigned long long)(p->a_out - p->b_in));
	if (!(c->st.flags & SOCCR_HAS_WINDOW))
		return fail("no window saved");
	return 0;
}

/* Each end reads all the other wrote; more both ways while open; ends. */
static int exchange(struct pair *p)
{
	if (!p->a_shut && put(p->a, 0, &p->a_out, MORE))
		return -1;
	if (!p->b_shut && put(p->b, 1, &p->b_out, MORE))
		return -1;
	if (expect(p->b, 0, &p->b_in, p->a_out - p->b_in) ||
	    expect(p->a, 1, &p->a_in, p->b_out - p->a_in))
		return -1;
	if (!p->a_shut && shutdown(p->a, SHUT_WR))
		return fail("shutdown a: %s", strerror(errno));
	if (!p->b_shut && shutdown(p->b, SHUT_WR))
		return fail("shutdown b: %s", strerror(errno));
	return expect_eof(p->b) || expect_eof(p->a) ? -1 : 0;
}

static int setup_ns(void)
{
	if (unshare(CLONE_NEWNET))
		return fail("unshare(CLONE_NEWNET): %s", strerror(errno));
	if (system("ip link set lo up") != 0)
		return fail("ip link set lo up failed");
	if (nft("add table inet soccr") ||
	    nft("'add chain inet soccr out { type filter hook input priority 0; }'"))
		return fail("no nftables here (%s)", conn_why);
	return 0;
}

/*
 * A connection whose SYN is not answered yet (the network blocked):
 * saved, closed in repair mode, made again on a new socket, which
 * connects once the network opens (its SYN is sent again).
 */
static int syn_sent(struct pair *p, const union soccr_addr *to, socklen_t len)
{
	union soccr_addr self = *to;
	struct soccr_conn c;
	struct soccr_sk *sk;
	int ret;

	self.v4.sin_port = 0;	/* same place in sockaddr_in6 */
	p->a = new_socket(p->fam);
	if (p->a < 0 || bind(p->a, &self.sa, len) || block(port_of(p->a)))
		return fail("client: %s (%s)", strerror(errno), conn_why);
	fcntl(p->a, F_SETFL, O_NONBLOCK);
	if (connect(p->a, &to->sa, len) == 0 || errno != EINPROGRESS)
		return fail("connect: %s", strerror(errno));
	if (wait_state(p->a, TCP_SYN_SENT))
		return -1;
	ret = soccr_pause(p->a, &sk);
	if (ret)
		return fail("soccr_pause in SYN_SENT: %s", strerror(-ret));
	memset(&c, 0, sizeof(c));
	c.peer = *to;		/* a connecting socket has no peer name yet */
	ret = soccr_save(sk, &c);
	if (ret) {
		soccr_resume(sk);
		return fail("soccr_save in SYN_SENT: %s", strerror(-ret));
	}
	soccr_release(sk);
	close(p->a);
	ret = c.st.state == TCP_SYN_SENT ? restore(p, &c) :
		fail("saved state %u, not SYN_SENT", c.st.state);
	soccr_conn_free(&c);
	if (ret)
		return -1;
	return unblock_all() || wait_state(p->a, TCP_ESTABLISHED) ? -1 : 0;
}

static int run_refused(int fam)
{
	union soccr_addr a;
	struct soccr_sk *sk;
	struct pair p;
	socklen_t len;
	int l, ret;

	memset(&p, 0, sizeof(p));
	p.fam = fam;
	l = listen_on(fam, &a, &len);
	if (l < 0)
		return -1;
	ret = soccr_pause(l, &sk);
	if (ret != -EPERM) {
		if (!ret)
			soccr_resume(sk);
		return fail("soccr_pause on a listener: %d, not -EPERM", ret);
	}
	if (syn_sent(&p, &a, len))
		return -1;
	p.b = accept(l, NULL, NULL);
	close(l);
	if (p.b < 0)
		return fail("accept: %s", strerror(errno));
	pair_ports(&p);
	return exchange(&p);
}

static int run_case(const struct scenario *s, int fam)
{
	struct soccr_conn c;
	struct pair p;
	int ret;

	if (s->custom)
		return s->custom(fam);

	if (make_pair(&p, fam) || s->make(&p))
		return -1;
	/* The network lock: nothing moves while the connection is saved. */
	if (block(p.pa) || block(p.pb) || save(&p, &c, s->resume))
		return -1;
	ret = check_saved(&p, &c, s->state);
	if (!ret && !s->resume)
		ret = restore(&p, &c);
	soccr_conn_free(&c);
	if (!ret)
		ret = unblock_all();
	return ret ? -1 : exchange(&p);
}

static const char *fam_name(int fam)
{
	return fam == 4 ? "IPv4" : fam == 6 ? "IPv6" : "IPv4-mapped IPv6";
}

/* In a child: its own namespace; a hang ends with the alarm. */
static void child(const struct scenario *s, int fam)
{
	alarm(60);
	if (setup_ns()) {
		printf("SKIP: soccr: %s, %s: %s\n", s->name, fam_name(fam), conn_why);
		exit(0);
	}
	if (run_case(s, fam))
		printf("FAIL: soccr: %s, %s: %s\n", s->name, fam_name(fam), conn_why);
	else
		printf("PASS: soccr: %s, %s: %s, every byte once\n", s->name, fam_name(fam),
		       s->custom ? "listener refused and left as found; SYN_SENT saved, restored, connected" :
		       s->resume ? "saved, resumed" : "saved, closed, restored");
	exit(0);
}

static void log_stderr(int level, const char *msg, void *arg)
{
	(void)arg;
	fprintf(stderr, "[%d] %s\n", level, msg);
}

/* The three families of one scenario at once: each waits on timers mostly. */
static void run_scenario(const struct scenario *s, const int *fams, int n)
{
	pid_t pids[8];
	int i, status;
	pid_t w;

	fflush(stdout);
	for (i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			child(s, fams[i]);
		if (pids[i] < 0)
			printf("FAIL: soccr: %s, %s: fork: %s\n", s->name, fam_name(fams[i]),
			       strerror(errno));
	}
	/* Reap the cases and anything they left to us. */
	while ((w = wait(&status)) > 0) {
		for (i = 0; i < n && pids[i] != w; i++)
			;
		if (i < n && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
			printf("FAIL: soccr: %s, %s: the case died (status %#x)\n", s->name,
			       fam_name(fams[i]), status);
	}
}

int main(void)
{
	static const int fams[] = { 4, 6, 46 };
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1))
		perror("PR_SET_CHILD_SUBREAPER");
	soccr_set_log(log_stderr, NULL, getenv("SOCCR_DEBUG") ? SOCCR_LOG_DEBUG :
		      SOCCR_LOG_ERROR);
	for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		run_scenario(&scenarios[i], fams, sizeof(fams) / sizeof(fams[0]));
	return 0;
}
