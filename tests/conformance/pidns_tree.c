/*
 * pidns_tree.c - a tree whose pids, groups, sessions, threads, zombie and
 * signals must all come back; run by the runner with --pidns it is the
 * init (pid 1) of a pid namespace of its own, as containers are.
 *
 *   R  the test (pid 1 with --pidns), a thread T of its own
 *   |- A  setsid(): a session of its own, with a thread U
 *   |- B  in R's group
 *   |  `- C  setpgid(0, 0): a group of its own in R's session
 *   |- E  forks K, then setsid(): a session of its own
 *   |  `- K  born in R's session, and left in it: not its parent's
 *   |- O  (with --pidns) in A's session: forked by a child H of A, which
 *   |     exits, so that O is R's now (R is init), in another session
 *   `- Z  exits 7 at once and stays a zombie: R does not reap it before READY
 *
 * Each process records its pid, ppid, pgid and sid (the threads their
 * tids) before READY, and sleeps in read() on a pipe only R can write.
 * After SIGTERM R closes it; every process checks its ids, then R sends
 * A SIGUSR1 with sigqueue() and A answers with SIGUSR2: each checks the
 * sender's pid (si_pid) is the other's as recorded.  R reaps Z (exit
 * status 7) and the others, and passes if nothing failed.  With --pidns
 * R is 1 before and after (its recorded pid).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "stasis_test.h"

#define WAIT_S		10

struct ids {
	const char *name;
	pid_t pid, ppid, pgid, sid;
};

static int go[2] = { -1, -1 }, ready[2] = { -1, -1 };
static bool orphan;		/* R is init of its pid namespace: A leaves O to it */
static atomic_int thread_tid, thread_bad, thread_stop;

static void record(struct ids *p, const char *name)
{
	*p = (struct ids){ name, getpid(), getppid(), getpgrp(), getsid(0) };
}

static int check_ids(const struct ids *p)
{
	struct ids now;

	record(&now, p->name);
	if (!memcmp(&now, p, sizeof(now)))
		return 0;
	fail("%s: pid %d ppid %d pgid %d sid %d, were %d %d %d %d", p->name, now.pid, now.ppid,
	     now.pgid, now.sid, p->pid, p->ppid, p->pgid, p->sid);
	return -1;
}

static void say(char c)
{
	while (write(ready[1], &c, 1) < 0 && errno == EINTR)
		;
}

static void wait_go(void)
{
	char c;

	while (read(go[0], &c, 1) < 0 && errno == EINTR)
		;
}

/* A thread that records its tid and checks it once told to stop. */
static void *thread_fn(void *arg)
{
	pid_t tid = (pid_t)syscall(SYS_gettid);
	struct timespec ms = { 0, 1000000 };

	(void)arg;
	atomic_store(&thread_tid, tid);
	while (!atomic_load(&thread_stop))
		nanosleep(&ms, NULL);
	if (syscall(SYS_gettid) != tid) {
		fail("thread: tid %ld, was %d", syscall(SYS_gettid), tid);
		atomic_store(&thread_bad, 1);
	}
	return NULL;
}

static int start_thread(pthread_t *th)
{
	struct timespec ms = { 0, 1000000 };

	if (pthread_create(th, NULL, thread_fn, NULL)) {
		fail("pthread_create failed");
		return -1;
	}
	while (!atomic_load(&thread_tid))
		nanosleep(&ms, NULL);
	return 0;
}

static int stop_thread(pthread_t th)
{
	atomic_store(&thread_stop, 1);
	pthread_join(th, NULL);
	return atomic_load(&thread_bad) ? -1 : 0;
}

/* Wait up to WAIT_S for @sig from @from (its si_pid); 0 if it came. */
static int wait_signal(const char *who, int sig, pid_t from)
{
	struct timespec ts = { WAIT_S, 0 };
	siginfo_t si;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, sig);
	if (sigtimedwait(&set, &si, &ts) != sig) {
		fail("%s: no signal %d within %d s: %m", who, sig, WAIT_S);
		return -1;
	}
	if (si.si_pid != from) {
		fail("%s: signal %d from pid %d, not %d", who, sig, si.si_pid, from);
		return -1;
	}
	return 0;
}

static int reap(pid_t pid, const char *name, int want)
{
	int status = 0;

	for (int ms = 0; waitpid(pid, &status, WNOHANG) != pid; ms++) {
		if (ms > WAIT_S * 1000) {
			fail("%s (pid %d) did not end", name, pid);
			return -1;
		}
		usleep(1000);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == want)
		return 0;
	fail("%s (pid %d) ended with status %#x, not exit %d", name, pid, status, want);
	return -1;
}

/* O: waits until R has it (H, its parent, is gone), then as the others. */
static void __attribute__((noreturn)) run_o(void)
{
	struct ids me;

	for (int ms = 0; getppid() != 1; ms++) {
		if (ms > WAIT_S * 1000)
			_exit(1);
		usleep(1000);
	}
	record(&me, "O");
	say('r');
	wait_go();
	_exit(check_ids(&me) ? 1 : 0);
}

/* H: forks O in A's session and exits at once. */
static int leave_orphan(void)
{
	pid_t h = fork();

	if (h == 0) {
		if (fork() == 0)
			run_o();
		_exit(0);
	}
	return h < 0 ? -1 : reap(h, "H", 0);
}

static void __attribute__((noreturn)) run_a(void)
{
	pid_t root = getppid();
	pthread_t th;
	struct ids me;
	int bad;

	setsid();
	record(&me, "A");
	if (me.sid != me.pid || start_thread(&th) || (orphan && leave_orphan()))
		_exit(1);
	say('r');
	wait_go();
	bad = check_ids(&me) | stop_thread(th);
	bad |= wait_signal("A", SIGUSR1, root);
	if (kill(root, SIGUSR2))
		bad = -1;
	_exit(bad ? 1 : 0);
}

static void __attribute__((noreturn)) run_c(void)
{
	struct ids me;

	setpgid(0, 0);
	record(&me, "C");
	say('r');
	wait_go();
	_exit(check_ids(&me) ? 1 : 0);
}

static void __attribute__((noreturn)) run_b(void)
{
	struct ids me;
	pid_t c;

	record(&me, "B");
	c = fork();
	if (c == 0)
		run_c();
	say('r');
	wait_go();
	_exit(check_ids(&me) | (c < 0 ? -1 : reap(c, "C", 0)) ? 1 : 0);
}

static void __attribute__((noreturn)) run_k(void)
{
	struct ids me;

	/* Before or after E's setsid(): K's session is R's either way. */
	record(&me, "K");
	say('r');
	wait_go();
	_exit(check_ids(&me) ? 1 : 0);
}

static void __attribute__((noreturn)) run_e(void)
{
	struct ids me;
	pid_t k = fork();

	if (k == 0)
		run_k();
	if (k < 0 || setsid() < 0)
		_exit(1);
	record(&me, "E");
	say('r');
	wait_go();
	_exit(check_ids(&me) | reap(k, "K", 0) ? 1 : 0);
}

static pid_t spawn(void (*fn)(void))
{
	pid_t pid = fork();

	if (pid == 0) {
		close(go[1]);
		close(ready[0]);
		fn();
	}
	if (pid < 0)
		fail("fork: %m");
	return pid;
}

static void __attribute__((noreturn)) run_z(void)
{
	_exit(7);
}

int main(int argc, char **argv)
{
	pid_t a, b, e, z, o = 0;
	int nr_ready = 5, status;
	pthread_t th;
	struct ids me;
	siginfo_t si;
	sigset_t set;
	int bad = 0;
	char c;

	test_init(argc, argv);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);	/* taken with sigtimedwait */
	record(&me, "R");
	orphan = me.pid == 1;
	nr_ready += orphan;
	if (pipe(go) || pipe(ready)) {
		fail("pipe: %m");
		return test_result();
	}
	a = spawn(run_a);
	b = spawn(run_b);
	e = spawn(run_e);
	z = spawn(run_z);
	close(go[0]);
	close(ready[1]);
	for (int i = 0; i < nr_ready; i++)
		if (read(ready[0], &c, 1) != 1)
			fail("a process of the tree died before it was ready");
	/* Z is a zombie before READY: the dump sees it as one. */
	si.si_pid = 0;
	while (!waitid(P_PID, z, &si, WEXITED | WNOWAIT | WNOHANG) && !si.si_pid)
		usleep(1000);
	if (a < 0 || b < 0 || e < 0 || z < 0 || start_thread(&th))
		return test_result();
	test_msg("pids: R %d A %d B %d Z %d, thread %d", me.pid, a, b, z, thread_tid);
	test_ready();
	test_waitsig();

	bad |= check_ids(&me) | stop_thread(th);
	close(go[1]);
	if (sigqueue(a, SIGUSR1, (union sigval){ 0 }))
		fail("sigqueue to A (pid %d): %m", a);
	bad |= wait_signal("R", SIGUSR2, a);
	bad |= reap(a, "A", 0) | reap(b, "B", 0) | reap(e, "E", 0) | reap(z, "Z", 7);
	/* O, R's child now, is the one left. */
	for (int ms = 0; orphan && (o = waitpid(-1, &status, WNOHANG)) <= 0; ms++) {
		if (ms > WAIT_S * 1000) {
			fail("O did not end");
			bad = -1;
			break;
		}
		usleep(1000);
	}
	if (orphan && o > 0 && (!WIFEXITED(status) || WEXITSTATUS(status))) {
		fail("O (pid %d) ended with status %#x", o, status);
		bad = -1;
	}
	if (!bad)
		pass();
	return test_result();
}
