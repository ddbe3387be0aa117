/*
 * threads_tls.c - a process of five threads, each with its own TLS values,
 * signal mask and name, the four workers blocked in four different ways:
 *
 *   worker 0  raw FUTEX_WAIT on a word of its own
 *   worker 1  pthread_cond_wait()
 *   worker 2  nanosleep() in a loop
 *   worker 3  sigwaitinfo() for SIGUSR1, sent with pthread_sigqueue()
 *
 * Each thread records, before READY: its tid, the address and value of
 * its __thread variables (a distinct number, a string, a zero in .tbss),
 * its FS base on x86-64, its signal mask and its name.  The workers block
 * SIGTERM, so that the main thread is the one to get it.
 *
 * The main thread waits for SIGTERM in nanosleep().  Then it checks its
 * own state and that /proc/self/task lists exactly the five tids, and
 * wakes each worker the way it sleeps; each worker checks that it woke up
 * the way it should and that all it recorded is unchanged (the mask of
 * worker 3 too, which sigwaitinfo() changes while it waits).  A worker
 * that does not wake within WAKE_MS is a failure.
 */
#include <errno.h>
#include <dirent.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#ifdef __x86_64__
#include <asm/prctl.h>
#endif

#include "stasis_test.h"

#define NR_WORKERS	4
#define READY_MS	5000
#define WAKE_MS		5000
#define MAX_TASKS	16
#define WAKE_VALUE	0x57414b45

enum how { BY_FUTEX, BY_COND, BY_SLEEP, BY_SIGWAIT };

static const char *const how_name[] = {
	[BY_FUTEX] = "futex", [BY_COND] = "condvar",
	[BY_SLEEP] = "nanosleep", [BY_SIGWAIT] = "sigwaitinfo",
};

/* The syscall each way of sleeping is seen in; glibc sleeps in clock_nanosleep. */
static const long how_syscall[] = {
	[BY_FUTEX] = SYS_futex, [BY_COND] = SYS_futex,
	[BY_SLEEP] = SYS_clock_nanosleep, [BY_SIGWAIT] = SYS_rt_sigtimedwait,
};

/* What a thread knows about itself, recorded before READY. */
struct self {
	char who[24];		/* "worker 2", "main thread" */
	pid_t tid;
	uint64_t tls_want;
	void *tls_addr;
	unsigned long fsbase;
	sigset_t mask;
	char comm[16];
};

struct worker {
	int idx;
	enum how how;
	pthread_t th;
	atomic_int tid;		/* 0 until the worker has recorded itself */
	atomic_int go;		/* set by the main thread after SIGTERM */
	struct self self;
	int bad;
};

static __thread uint64_t tls_val;
static __thread char tls_str[32];
static __thread int tls_zero;

static struct worker workers[NR_WORKERS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static unsigned long get_fsbase(void)
{
#ifdef __x86_64__
	unsigned long base = 0;

	syscall(SYS_arch_prctl, ARCH_GET_FS, &base);
	return base;
#else
	return 0;
#endif
}

static int read_comm(pid_t tid, char *buf, size_t len)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/comm", tid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (!fgets(buf, (int)len, f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* Set this thread's TLS, mask and name from @seed, and record them. */
static void setup_self(struct self *s, const char *who, uint64_t seed,
		       const sigset_t *mask)
{
	snprintf(s->who, sizeof(s->who), "%s", who);
	tls_val = mix(seed);
	snprintf(tls_str, sizeof(tls_str), "tls of %s", who);
	pthread_sigmask(SIG_SETMASK, mask, NULL);

	s->tid = gettid();
	s->tls_want = tls_val;
	s->tls_addr = &tls_val;
	s->fsbase = get_fsbase();
	pthread_sigmask(SIG_SETMASK, NULL, &s->mask);
	read_comm(s->tid, s->comm, sizeof(s->comm));
}

/* Is this thread's state what @s recorded?  Reports every difference. */
static int check_self(const struct self *s)
{
	char want_str[32], comm[16] = "";
	unsigned long fsbase = get_fsbase();
	sigset_t mask;
	int bad = 0;

	if (gettid() != s->tid) {
		fail("%s: tid %d, was %d", s->who, gettid(), s->tid);
		bad = 1;
	}
	if (fsbase != s->fsbase) {
		fail("%s: FS base %#lx, was %#lx", s->who, fsbase, s->fsbase);
		bad = 1;
	}
	if ((void *)&tls_val != s->tls_addr) {
		fail("%s: __thread variable at %p, was at %p", s->who,
		     (void *)&tls_val, s->tls_addr);
		bad = 1;
	}
	if (tls_val != s->tls_want) {
		fail("%s: __thread value %#" PRIx64 ", want %#" PRIx64,
		     s->who, tls_val, s->tls_want);
		bad = 1;
	}
	snprintf(want_str, sizeof(want_str), "tls of %s", s->who);
	if (strcmp(tls_str, want_str)) {
		fail("%s: __thread string '%.31s', want '%s'", s->who,
		     tls_str, want_str);
		bad = 1;
	}
	if (tls_zero) {
		fail("%s: zero-initialised __thread int is %d", s->who, tls_zero);
		bad = 1;
	}
	pthread_sigmask(SIG_SETMASK, NULL, &mask);
	for (int sig = 1; sig < NSIG; sig++) {
		if (sigismember(&mask, sig) == sigismember(&s->mask, sig))
			continue;
		fail("%s: signal %d (%s) %s in the mask, was %s", s->who, sig,
		     sigabbrev_np(sig) ? sigabbrev_np(sig) : "RT",
		     sigismember(&mask, sig) ? "set" : "clear",
		     sigismember(&s->mask, sig) ? "set" : "clear");
		bad = 1;
	}
	if (read_comm(s->tid, comm, sizeof(comm)) || strcmp(comm, s->comm)) {
		fail("%s: name '%s', was '%s'", s->who, comm, s->comm);
		bad = 1;
	}
	return bad ? -1 : 0;
}

/* Sleep the worker's way until the main thread says go. */
static int sleep_until_go(struct worker *w)
{
	struct timespec nap = { .tv_nsec = 20 * 1000 * 1000 };
	siginfo_t si;
	sigset_t usr1;
	int ret;

	switch (w->how) {
	case BY_FUTEX:
		while (!atomic_load(&w->go)) {
			ret = (int)syscall(SYS_futex, &w->go, FUTEX_WAIT_PRIVATE,
					   0, NULL, NULL, 0);
			if (ret && errno != EAGAIN && errno != EINTR) {
				fail("worker %d: FUTEX_WAIT: %m", w->idx);
				return -1;
			}
		}
		break;
	case BY_COND:
		pthread_mutex_lock(&lock);
		while (!atomic_load(&w->go))
			pthread_cond_wait(&cond, &lock);
		pthread_mutex_unlock(&lock);
		break;
	case BY_SLEEP:
		while (!atomic_load(&w->go))
			nanosleep(&nap, NULL);
		break;
	case BY_SIGWAIT:
		sigemptyset(&usr1);
		sigaddset(&usr1, SIGUSR1);
		for (;;) {
			ret = sigwaitinfo(&usr1, &si);
			if (ret < 0 && errno == EINTR)
				continue;
			if (ret < 0) {
				fail("worker %d: sigwaitinfo: %m", w->idx);
				return -1;
			}
			if (si.si_code != SI_QUEUE || si.si_pid != getpid() ||
			    si.si_value.sival_int != WAKE_VALUE) {
				fail("worker %d: SIGUSR1 with si_code %d, value %#x from %d, want SI_QUEUE, %#x from %d",
				     w->idx, si.si_code, si.si_value.sival_int,
				     si.si_pid, WAKE_VALUE, getpid());
				return -1;
			}
			if (atomic_load(&w->go))
				break;
			fail("worker %d: SIGUSR1 before the main thread said go",
			     w->idx);
			return -1;
		}
		break;
	}
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char who[16], name[16];
	sigset_t mask;

	/* Distinct for each thread; SIGTERM is for the main thread. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGRTMIN + w->idx);
	sigaddset(&mask, w->idx & 1 ? SIGHUP : SIGWINCH);
	if (w->idx == 2)
		sigaddset(&mask, SIGRTMAX);

	snprintf(name, sizeof(name), "tls-%s", how_name[w->how]);
	pthread_setname_np(pthread_self(), name);
	snprintf(who, sizeof(who), "worker %d", w->idx);
	setup_self(&w->self, who, 0x7700 + (uint64_t)w->idx, &mask);
	atomic_store(&w->tid, w->self.tid);

	if (sleep_until_go(w) || check_self(&w->self))
		w->bad = 1;
	return NULL;
}

static void wake(struct worker *w)
{
	switch (w->how) {
	case BY_FUTEX:
		atomic_store(&w->go, 1);
		syscall(SYS_futex, &w->go, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
		break;
	case BY_COND:
		pthread_mutex_lock(&lock);
		atomic_store(&w->go, 1);
		pthread_cond_broadcast(&cond);
		pthread_mutex_unlock(&lock);
		break;
	case BY_SLEEP:
		atomic_store(&w->go, 1);
		break;
	case BY_SIGWAIT:
		atomic_store(&w->go, 1);
		pthread_sigqueue(w->th, SIGUSR1,
				 (union sigval){ .sival_int = WAKE_VALUE });
		break;
	}
}

static int cmp_pid(const void *a, const void *b)
{
	return *(const pid_t *)a - *(const pid_t *)b;
}

/* The tids in /proc/self/task, sorted; their number or -1. */
static int list_tasks(pid_t *tids, int max)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n < max)
			tids[n] = (pid_t)strtol(de->d_name, NULL, 10);
		n++;
	}
	closedir(d);
	if (n > max)
		return -1;
	qsort(tids, (size_t)n, sizeof(*tids), cmp_pid);
	return n;
}

static int check_tasks(const pid_t *want, int nr_want)
{
	pid_t got[MAX_TASKS];
	int n = list_tasks(got, MAX_TASKS);

	if (n != nr_want || memcmp(got, want, (size_t)n * sizeof(*got))) {
		char gs[256] = "", ws[256] = "";
		size_t gl = 0, wl = 0;

		for (int i = 0; i < n && gl < sizeof(gs); i++)
			gl += (size_t)snprintf(gs + gl, sizeof(gs) - gl, " %d", got[i]);
		for (int i = 0; i < nr_want && wl < sizeof(ws); i++)
			wl += (size_t)snprintf(ws + wl, sizeof(ws) - wl, " %d", want[i]);
		fail("/proc/self/task lists %d threads:%s, want %d:%s",
		     n, gs, nr_want, ws);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct timespec nap = { .tv_nsec = 100 * 1000 * 1000 };
	pid_t tasks[MAX_TASKS];
	struct self main_self;
	struct timespec end;
	sigset_t mask;
	int bad = 0, nr_tasks;

	test_init(argc, argv);

	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR2);
	sigaddset(&mask, SIGRTMIN + 7);
	setup_self(&main_self, "main thread", 0x6d61696e, &mask);

	for (int i = 0; i < NR_WORKERS; i++) {
		struct worker *w = &workers[i];

		w->idx = i;
		w->how = (enum how)i;
		if (pthread_create(&w->th, NULL, worker_main, w)) {
			fail("pthread_create: %m");
			return test_result();
		}
	}
	for (int i = 0; i < NR_WORKERS; i++) {
		struct worker *w = &workers[i];

		if (!test_wait_in_syscall(&w->tid, how_syscall[w->how], READY_MS)) {
			fail("worker %d not asleep in %s within %d ms",
			     i, how_name[w->how], READY_MS);
			return test_result();
		}
	}
	nr_tasks = list_tasks(tasks, MAX_TASKS);
	if (nr_tasks != NR_WORKERS + 1) {
		fail("%d threads before READY, want %d", nr_tasks, NR_WORKERS + 1);
		return test_result();
	}

	test_ready();
	/*
	 * Not test_waitsig(): its sigsuspend() would swap the mask for the
	 * time of the checkpoint and set it back itself afterwards.
	 */
	while (!test_got_sigterm())
		nanosleep(&nap, NULL);

	if (check_self(&main_self))
		bad = 1;
	if (main_self.tid != getpid()) {
		fail("main thread tid %d, pid %d", main_self.tid, getpid());
		bad = 1;
	}
	if (check_tasks(tasks, nr_tasks))
		bad = 1;

	for (int i = 0; i < NR_WORKERS; i++)
		wake(&workers[i]);
	clock_gettime(CLOCK_REALTIME, &end);
	end.tv_sec += WAKE_MS / 1000;
	for (int i = 0; i < NR_WORKERS; i++) {
		struct worker *w = &workers[i];
		int err = pthread_timedjoin_np(w->th, NULL, &end);

		if (err) {
			fail("worker %d (%s) did not finish within %d ms of the wake-up: %s",
			     i, how_name[w->how], WAKE_MS, strerror(err));
			bad = 1;
		} else if (w->bad) {
			bad = 1;
		}
	}
	if (!bad)
		pass();
	/* exit(), not a return: a worker that never woke must not keep us. */
	exit(test_result());
}
