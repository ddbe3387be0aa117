/*
 * pgrp_session.c - a tree of six processes in two sessions and five
 * process groups.
 *
 *   R  the test, a session and group leader (the runner makes it one)
 *   |- A  setpgid(0, 0): leader of a group of its own in R's session
 *   |- B  in R's group
 *   |  `- G  setpgid(0, A): joins A's group, led by a process that is
 *   |        neither itself nor an ancestor
 *   `- C  setsid(): leader of a second session and its group
 *      `- D  setpgid(0, 0): a group of its own in C's session
 *
 * Every process records its pid, ppid, pgid and sid once the tree is
 * built, checks them against the layout above, says so through a pipe
 * and sleeps in read() on a second pipe, of which only R holds the write
 * end.  After SIGTERM, R checks itself and closes that end: at the end of
 * file every process checks that its four ids are the ones it recorded,
 * reports failures itself and exits 1 if any, after reaping its own
 * children (and failing if one of them failed or did not end in time).
 * R passes only if all of that went well.  If R dies, its children see
 * the end of file too, so nothing outlives the test.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "stasis_test.h"

#define NR_OTHERS	5		/* A, B, G, C, D */
#define READY_MS	5000
#define REAP_MS		10000

struct ids {
	const char *name;
	pid_t pid, ppid, pgid, sid;
};

static int go_rd = -1, go_wr = -1, ready_rd = -1, ready_wr = -1;

static void record(struct ids *p, const char *name)
{
	p->name = name;
	p->pid = getpid();
	p->ppid = getppid();
	p->pgid = getpgrp();
	p->sid = getsid(0);
}

/* The ids now are those recorded in @p? */
static int check_ids(const struct ids *p)
{
	pid_t pid = getpid(), ppid = getppid(), pgid = getpgrp(), sid = getsid(0);

	if (pid == p->pid && ppid == p->ppid && pgid == p->pgid && sid == p->sid)
		return 0;
	fail("%s: pid %d ppid %d pgid %d sid %d, were %d %d %d %d", p->name,
	     pid, ppid, pgid, sid, p->pid, p->ppid, p->pgid, p->sid);
	return -1;
}

/* Is the recorded layout the one meant?  Before READY. */
static int expect(const struct ids *p, pid_t ppid, pid_t pgid, pid_t sid)
{
	if (p->ppid == ppid && p->pgid == pgid && p->sid == sid)
		return 0;
	fail("%s (pid %d): ppid %d pgid %d sid %d, meant to be %d %d %d",
	     p->name, p->pid, p->ppid, p->pgid, p->sid, ppid, pgid, sid);
	return -1;
}

/* One byte on the ready pipe: 'r' ready, 'o' ids fine at the end, 'x' not. */
static void say(char c)
{
	while (write(ready_wr, &c, 1) < 0 && errno == EINTR)
		;
}

/* Sleep until R closes the write end (or writes, which it does not). */
static void wait_go(void)
{
	char c;

	while (read(go_rd, &c, 1) < 0 && errno == EINTR)
		;
}

static void nap_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000 };

	nanosleep(&ts, NULL);
}

/* Wait for child @pid (@name) to end; 0 if it exited 0 in time. */
static int reap(pid_t pid, const char *name, const char *by)
{
	int status;

	for (long ms = 0; ; ms += 10) {
		pid_t ret = waitpid(pid, &status, WNOHANG);

		if (ret == pid)
			break;
		if (ret < 0) {
			fail("%s: waitpid(%s, pid %d): %m", by, name, pid);
			return -1;
		}
		if (ms >= REAP_MS) {
			fail("%s: %s (pid %d) still running %d ms after the end",
			     by, name, pid, REAP_MS);
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return -1;
		}
		nap_ms(10);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		fail("%s: %s (pid %d) exited with %d", by, name, pid,
		     WEXITSTATUS(status));
	else
		fail("%s: %s (pid %d) ended with wait status %#x", by, name,
		     pid, status);
	return -1;
}

/* Fork a process that closes what only R should hold, then runs @fn. */
static pid_t spawn(void (*fn)(pid_t), pid_t arg, const char *name)
{
	pid_t pid = fork();

	if (pid < 0) {
		fail("fork %s: %m", name);
		return -1;
	}
	if (pid == 0) {
		if (go_wr >= 0)
			close(go_wr);
		if (ready_rd >= 0)
			close(ready_rd);
		go_wr = ready_rd = -1;
		fn(arg);
		_exit(1);	/* not reached */
	}
	return pid;
}

/* The end of every process but R: wait, check, reap, exit. */
static void __attribute__((noreturn)) finish(const struct ids *me, pid_t child,
					      const char *child_name)
{
	int bad = 0;

	wait_go();
	if (check_ids(me))
		bad = 1;
	say(bad ? 'x' : 'o');
	if (child > 0 && reap(child, child_name, me->name))
		bad = 1;
	_exit(bad);
}

static void run_a(pid_t root)
{
	struct ids me;

	setpgid(0, 0);
	record(&me, "A (own group)");
	if (expect(&me, root, me.pid, root))
		_exit(1);
	say('r');
	finish(&me, 0, NULL);
}

static void run_g(pid_t pgid_a)
{
	struct ids me;

	if (setpgid(0, pgid_a))
		fail("G: setpgid(0, %d): %m", pgid_a);
	record(&me, "G (child of B, in A's group)");
	if (expect(&me, me.ppid, pgid_a, getsid(getppid())))
		_exit(1);
	say('r');
	finish(&me, 0, NULL);
}

static void run_b(pid_t pgid_a)
{
	pid_t root = getppid(), g;
	struct ids me;

	record(&me, "B (R's group)");
	if (expect(&me, root, root, root))
		_exit(1);
	g = spawn(run_g, pgid_a, "G");
	if (g < 0)
		_exit(1);
	say('r');
	finish(&me, g, "G");
}

static void run_d(pid_t c)
{
	struct ids me;

	setpgid(0, 0);
	record(&me, "D (child of C, own group)");
	if (expect(&me, c, me.pid, c))
		_exit(1);
	say('r');
	finish(&me, 0, NULL);
}

static void run_c(pid_t root)
{
	struct ids me;
	pid_t d;

	if (setsid() < 0)
		fail("C: setsid: %m");
	record(&me, "C (own session)");
	if (expect(&me, root, me.pid, me.pid))
		_exit(1);
	d = spawn(run_d, me.pid, "D");
	if (d < 0)
		_exit(1);
	say('r');
	finish(&me, d, "D");
}

/*
 * Read NR_OTHERS bytes from the ready pipe into @buf, waiting up to @ms;
 * how many came.
 */
static int collect(char *buf, long ms)
{
	struct pollfd pfd = { .fd = ready_rd, .events = POLLIN };
	int got = 0;
	ssize_t n;

	for (long waited = 0; got < NR_OTHERS && waited < ms; waited += 100) {
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = read(ready_rd, buf + got, (size_t)(NR_OTHERS - got));
		if (n <= 0)
			break;
		got += (int)n;
	}
	return got;
}

/* After the end: every other process said 'o'? */
static int check_reports(void)
{
	char buf[NR_OTHERS];
	int got = collect(buf, REAP_MS), nr_ok = 0;

	for (int i = 0; i < got; i++)
		nr_ok += buf[i] == 'o';
	if (got == NR_OTHERS && nr_ok == NR_OTHERS)
		return 0;
	fail("R: of the %d other processes, %d reported their ids unchanged, %d a change, %d nothing",
	     NR_OTHERS, nr_ok, got - nr_ok, NR_OTHERS - got);
	return -1;
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "A", "B", "C" };
	pid_t kids[3] = { -1, -1, -1 }, root;
	struct ids me;
	char ready[NR_OTHERS];
	int p[2], got, bad = 0;

	test_init(argc, argv);
	root = getpid();
	record(&me, "R (the test)");
	if (me.sid != root || me.pgid != root) {
		fail("R: not a session leader: pid %d pgid %d sid %d",
		     root, me.pgid, me.sid);
		return test_result();
	}

	if (pipe2(p, O_CLOEXEC)) {
		fail("pipe: %m");
		return test_result();
	}
	go_rd = p[0];
	go_wr = p[1];
	if (pipe2(p, O_CLOEXEC)) {
		fail("pipe: %m");
		return test_result();
	}
	ready_rd = p[0];
	ready_wr = p[1];

	kids[0] = spawn(run_a, root, "A");
	/* A does it too: whichever is first, A's group exists before G joins. */
	if (kids[0] > 0 && setpgid(kids[0], kids[0]))
		fail("R: setpgid(%d, %d): %m", kids[0], kids[0]);
	if (kids[0] > 0)
		kids[1] = spawn(run_b, kids[0], "B");
	if (kids[1] > 0)
		kids[2] = spawn(run_c, root, "C");
	close(go_rd);
	close(ready_wr);
	ready_wr = -1;

	got = kids[2] > 0 ? collect(ready, READY_MS) : 0;
	if (got != NR_OTHERS || memcmp(ready, "rrrrr", NR_OTHERS)) {
		fail("R: only %d of %d processes ready", got, NR_OTHERS);
		close(go_wr);	/* everyone ends */
		for (int i = 0; i < 3; i++)
			if (kids[i] > 0)
				reap(kids[i], names[i], me.name);
		return test_result();
	}

	test_ready();
	test_waitsig();

	if (check_ids(&me))
		bad = 1;
	close(go_wr);
	for (int i = 0; i < 3; i++)
		if (reap(kids[i], names[i], me.name))
			bad = 1;
	if (check_reports())
		bad = 1;
	if (!bad)
		pass();
	return test_result();
}
