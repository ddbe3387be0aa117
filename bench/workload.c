/*
 * workload.c - the processes the dump benchmark checkpoints, and their
 * launcher:
 *
 *   workload -p PIDFILE KIND [ARGS...]
 *
 *   idle                  the program itself, nothing more (the per-dump floor)
 *   dirty MIB             MIB of anonymous memory, every page written with
 *                         pseudo-random bytes
 *   zero MIB              MIB of anonymous memory, every page written with zeroes
 *   sparse MIB STRIDE     MIB mapped, one page in STRIDE written (pseudo-random)
 *   threads N             one process of N threads (main included)
 *   procs N               a tree of N processes (each has up to 4 children)
 *   fds N FILE [MIX]      N more fds: MIX is a cycle of kinds, r: FILE opened
 *                         read-only, n: /dev/null, p: a pipe (two fds);
 *                         default "rn"
 *
 * The launcher becomes a child subreaper (PID 1 here reaps no orphans),
 * forks the workload into a session of its own with stdio on /dev/null and
 * cwd "/", so that it holds nothing the dumper does not support and pins no
 * directory of the harness.  The workload reports through a pipe: "ok" once
 * every page, thread, process and fd is in place, or an error message.
 * Only then does the launcher write the workload's pid to PIDFILE (renamed
 * into place, so a reader never sees half of it): the file existing is the
 * readiness signal.  On error the message goes to the launcher's stderr and
 * it exits 1.
 *
 * Then the launcher reaps every descendant until none is left, and exits:
 * a dump that kills the tree makes it exit, and SIGTERM to the launcher
 * kills the tree.  The harness waits for it before the next run, so the
 * memory of one run is freed before the next starts.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE_SIZE	4096UL

/* The write end of the pipe to the launcher, while the workload is starting. */
static int report_fd = -1;

static void report(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	if (write(report_fd, msg, n) < 0)
		return;	/* the launcher is gone; nobody to tell */
}

/* Setup failed: say why and die; the launcher sees the message and EOF. */
static void __attribute__((noreturn, format(printf, 1, 2))) fail(const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	report("%s", msg);
	_exit(1);
}

/* Everything is in place: tell the launcher, and hold nothing of it any more. */
static void ready(void)
{
	report("ok");
	close(report_fd);
	report_fd = -1;
}

/* Wait to be dumped (and killed); signals other than SIGKILL do not matter. */
static void __attribute__((noreturn)) hold(void)
{
	for (;;)
		pause();
}

static unsigned long parse_num(const char *s, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0)
		fail("bad %s: %s", what, s);
	return v;
}

static void *map_anon(unsigned long len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		fail("mmap %lu bytes: %s", len, strerror(errno));
	return p;
}

/*
 * Fill a page with xorshift64 output seeded by its index: different in every
 * page and never all zero, so no dumper can skip or deduplicate it, and far
 * cheaper than a real random source (1 GiB takes a fraction of a second).
 */
static void fill_page(uint64_t *w, uint64_t index)
{
	uint64_t x = index * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;

	for (unsigned long i = 0; i < PAGE_SIZE / sizeof(*w); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		w[i] = x;
	}
}

static void wl_dirty(unsigned long mib)
{
	unsigned long len = mib << 20;
	char *p = map_anon(len);

	for (unsigned long off = 0; off < len; off += PAGE_SIZE)
		fill_page((uint64_t *)(p + off), off / PAGE_SIZE);
	ready();
	hold();
}

static void wl_zero(unsigned long mib)
{
	unsigned long len = mib << 20;
	char *p = map_anon(len);

	/*
	 * A write fault gives each page a frame of its own, present in the
	 * pagemap (a read would map the shared zero page instead, which
	 * PAGEMAP_SCAN reports and any dumper skips): the dumper has to look
	 * at the bytes to know there is nothing to save.
	 */
	memset(p, 0, len);
	/* The stores must happen although nothing here reads them back. */
	__asm__ volatile("" : : "r"(p) : "memory");
	ready();
	hold();
}

static void wl_sparse(unsigned long mib, unsigned long stride)
{
	unsigned long len = mib << 20;
	char *p = map_anon(len);

	/*
	 * With transparent huge pages on "always", one write would fault in
	 * a whole 2 MiB page and the mapping would be dense; the point here
	 * is a mapping that is mostly holes.
	 */
	if (madvise(p, len, MADV_NOHUGEPAGE))
		fail("madvise(MADV_NOHUGEPAGE): %s", strerror(errno));
	for (unsigned long off = 0; off < len; off += stride * PAGE_SIZE)
		fill_page((uint64_t *)(p + off), off / PAGE_SIZE);
	ready();
	hold();
}

static pthread_mutex_t started_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t started_cond = PTHREAD_COND_INITIALIZER;
static unsigned long started;

static void *thread_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&started_lock);
	started++;
	pthread_cond_signal(&started_cond);
	pthread_mutex_unlock(&started_lock);
	hold();
}

static void wl_threads(unsigned long n)
{
	pthread_t t;
	int err;

	/* n threads in all: the main thread is one of them. */
	for (unsigned long i = 1; i < n; i++) {
		err = pthread_create(&t, NULL, thread_main, NULL);
		if (err)
			fail("pthread_create (thread %lu): %s", i, strerror(err));
	}
	/* Ready only when every thread runs, so the dump sees all of them. */
	pthread_mutex_lock(&started_lock);
	while (started < n - 1)
		pthread_cond_wait(&started_cond, &started_lock);
	pthread_mutex_unlock(&started_lock);
	ready();
	hold();
}

#define PROCS_FANOUT	4

/* The read end of the tree's start-up pipe: the root's alone. */
static int procs_rd = -1;

/*
 * Process @idx of the tree forks @idx*4+1 .. @idx*4+4 (those below @n):
 * a tree four wide, log4(n) deep, rather than 63 siblings, so the dumper
 * walks real parent/child links.  Each process, once its own children are
 * forked, writes a byte to @up and closes it; the root counts n-1 bytes.
 * Only the root ever returns.
 */
static void procs_node(unsigned long idx, unsigned long n, int up)
{
	for (unsigned long c = idx * PROCS_FANOUT + 1;
	     c <= idx * PROCS_FANOUT + PROCS_FANOUT && c < n; c++) {
		pid_t pid = fork();

		if (pid < 0) {
			if (idx == 0)
				fail("fork: %s", strerror(errno));
			_exit(1);	/* the root sees too few bytes */
		}
		if (pid == 0) {
			/* Only the root talks to the launcher and counts. */
			if (report_fd >= 0)
				close(report_fd);
			report_fd = -1;
			close(procs_rd);
			procs_node(c, n, up);
			/* not reached */
		}
	}
	if (idx == 0)
		return;
	if (write(up, "x", 1) != 1)
		_exit(1);
	close(up);
	hold();
}

static void wl_procs(unsigned long n)
{
	unsigned long got = 0;
	int p[2];
	char buf[64];
	ssize_t r;

	if (pipe(p))
		fail("pipe: %s", strerror(errno));
	/*
	 * Every process closes its write end once counted and the root closes
	 * the read end when done: the dump finds no pipe left in the tree.
	 */
	procs_rd = p[0];
	procs_node(0, n, p[1]);
	close(p[1]);
	while (got < n - 1) {
		r = read(p[0], buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			fail("procs: only %lu of %lu children started", got, n - 1);
		got += r;
	}
	close(p[0]);
	ready();
	hold();
}

static void wl_fds(unsigned long n, const char *file, const char *mix)
{
	struct rlimit rl;
	unsigned long opened = 0;
	size_t k = 0;
	int fd, p[2];

	/* Room for n more than stdio and the report pipe, soft and hard. */
	rl.rlim_cur = rl.rlim_max = n + 64;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		fail("setrlimit(RLIMIT_NOFILE, %lu): %s", n + 64, strerror(errno));
	if (!*mix || strspn(mix, "rnp") != strlen(mix))
		fail("bad fd mix \"%s\" (letters r, n, p)", mix);
	while (opened < n) {
		switch (mix[k++ % strlen(mix)]) {
		case 'r':
			fd = open(file, O_RDONLY);
			if (fd < 0)
				fail("open %s: %s", file, strerror(errno));
			opened++;
			break;
		case 'n':
			fd = open("/dev/null", O_RDWR);
			if (fd < 0)
				fail("open /dev/null: %s", strerror(errno));
			opened++;
			break;
		case 'p':
			/* Two fds: stop at n, not one past. */
			if (n - opened < 2) {
				fd = open("/dev/null", O_RDWR);
				if (fd < 0)
					fail("open /dev/null: %s", strerror(errno));
				opened++;
				break;
			}
			if (pipe(p))
				fail("pipe: %s", strerror(errno));
			opened += 2;
			break;
		}
	}
	ready();
	hold();
}

static void __attribute__((noreturn)) run_workload(int argc, char **argv)
{
	const char *kind = argv[0];

	if (!strcmp(kind, "idle") && argc == 1) {
		ready();
		hold();
	}
	if (!strcmp(kind, "dirty") && argc == 2)
		wl_dirty(parse_num(argv[1], "MiB"));
	if (!strcmp(kind, "zero") && argc == 2)
		wl_zero(parse_num(argv[1], "MiB"));
	if (!strcmp(kind, "sparse") && argc == 3)
		wl_sparse(parse_num(argv[1], "MiB"), parse_num(argv[2], "stride"));
	if (!strcmp(kind, "threads") && argc == 2)
		wl_threads(parse_num(argv[1], "thread count"));
	if (!strcmp(kind, "procs") && argc == 2)
		wl_procs(parse_num(argv[1], "process count"));
	if (!strcmp(kind, "fds") && (argc == 3 || argc == 4))
		wl_fds(parse_num(argv[1], "fd count"), argv[2], argc == 4 ? argv[3] : "rn");
	fail("unknown workload or wrong arguments: %s (see workload.c)", kind);
}

static void child(int fd, int argc, char **argv)
{
	int null;

	/*
	 * The report pipe goes to fd 3 and everything above it is closed:
	 * whatever the harness's shell left open (its pipes, say) would be
	 * fds the dumper has to handle, and not the same for every caller.
	 */
	if (fd != 3) {
		dup2(fd, 3);
		close(fd);
	}
	report_fd = 3;
	close_range(4, ~0U, 0);
	setsid();
	null = open("/dev/null", O_RDWR);
	if (null < 0)
		fail("open /dev/null: %s", strerror(errno));
	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
	if (null > 3)
		close(null);
	if (chdir("/"))
		fail("chdir /: %s", strerror(errno));
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	run_workload(argc, argv);
}

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int write_pidfile(const char *path, pid_t pid)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "%d\n", pid);
	if (fclose(f))
		return -1;
	return rename(tmp, path);
}

static void kill_tree(pid_t pid)
{
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_term };
	char msg[512];
	size_t len = 0;
	ssize_t r;
	int p[2], status, result = 0;
	pid_t pid;

	if (argc < 4 || strcmp(argv[1], "-p")) {
		fprintf(stderr, "usage: workload -p PIDFILE KIND [ARGS...]\n");
		return 2;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1)) {
		perror("workload: PR_SET_CHILD_SUBREAPER");
		return 1;
	}
	/* No SA_RESTART: SIGTERM must interrupt the read and waitpid below. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (pipe(p)) {
		perror("workload: pipe");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("workload: fork");
		return 1;
	}
	if (pid == 0) {
		close(p[0]);
		child(p[1], argc - 3, argv + 3);
	}
	close(p[1]);
	while (len < sizeof(msg) - 1 && !stop) {
		r = read(p[0], msg + len, sizeof(msg) - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += r;
		if (len == 2 && !memcmp(msg, "ok", 2))
			break;
	}
	close(p[0]);
	msg[len] = '\0';
	if (stop || strcmp(msg, "ok")) {
		fprintf(stderr, "workload %s: %s\n", argv[3],
			stop ? "interrupted" : len ? msg : "died while starting");
		kill_tree(pid);
		result = 1;
	} else if (write_pidfile(argv[2], pid)) {
		fprintf(stderr, "workload: cannot write %s: %s\n", argv[2], strerror(errno));
		kill_tree(pid);
		result = 1;
	}
	for (;;) {
		if (stop) {
			kill_tree(pid);
			stop = 0;
			result = 1;
		}
		r = waitpid(-1, &status, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;	/* ECHILD: the whole tree is reaped */
	}
	return result;
}
