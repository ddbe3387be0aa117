/*
 * lazy.c - how soon a restored 1 GiB process runs again, with and without
 * restore --lazy-pages (bench/README.md, "Lazy restore"):
 *
 *   build/bench/lazy [-r RUNS] [-m MIB] [-s STASIS] [-D DIR]
 *
 * A workload (forked here, in a session of its own) fills MIB (default
 * 1024) MiB of anonymous memory with pseudo-random bytes, then writes the
 * wall clock (CLOCK_REALTIME: a restore's time namespace moves the
 * monotonic clocks, not this one) into DIR/stamp every 50 us.  It is
 * dumped once; then, RUNS times each, alternating:
 *   - lazy: `stasis lazy-pages -d`, then `stasis restore -d --lazy-pages`;
 *   - plain: `stasis restore -d`;
 * "running again" is the first stamp written after the restore command
 * was started, minus that start.  For the lazy runs also: when the
 * restore command returned, and when the daemon ended (every page in).
 * This program is the child subreaper of everything (PID 1 here reaps no
 * orphans), and kills and reaps each restored tree before the next run.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *stasis = "build/stasis", *dir = "/dev/shm/stasis-bench-lazy";
static char stamp[4096], imgs[4096];

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void __attribute__((noreturn)) workload(size_t mib, int ready)
{
	size_t len = mib << 20;
	uint64_t *a = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t x = 88172645463325252ull;
	struct timespec tick = { 0, 50000 };
	int fd = open(stamp, O_RDWR | O_CREAT | O_TRUNC, 0644);

	if (a == MAP_FAILED || fd < 0)
		_exit(1);
	for (size_t i = 0; i < len / 8; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		a[i] = x;
	}
	if (write(ready, "R", 1) != 1)
		_exit(1);
	close(ready);
	for (;;) {
		uint64_t t = now_ns();

		if (pwrite(fd, &t, sizeof(t), 0) != sizeof(t))
			_exit(1);
		nanosleep(&tick, NULL);
	}
}

/* Run @argv to its end; its exit status, or -1. */
static int run(char *const argv[])
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0), dup2(null, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static uint64_t read_stamp(void)
{
	uint64_t t = 0;
	int fd = open(stamp, O_RDONLY);

	if (fd >= 0) {
		if (pread(fd, &t, sizeof(t), 0) != sizeof(t))
			t = 0;
		close(fd);
	}
	return t;
}

static pid_t read_pid(const char *name)
{
	char path[4200];
	FILE *f;
	int pid = 0;

	snprintf(path, sizeof(path), "%s/%s", imgs, name);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%d", &pid) != 1)
			pid = 0;
		fclose(f);
	}
	return pid;
}

/* Kill the restored tree @tree (if any), and reap everything that ended. */
static void reap(pid_t tree)
{
	if (tree > 0)
		kill(tree, SIGKILL);
	while (waitpid(-1, NULL, __WALL) > 0)
		;
}

struct result {
	double running_ms, returned_ms, all_in_ms;
};

static int one_restore(int lazy, struct result *r)
{
	char pidfile[4200], lpfile[4200];
	char *rst[] = { (char *)stasis, "restore", "-D", imgs, "-d", "--pidfile", pidfile,
			lazy ? "--lazy-pages" : NULL, NULL };
	char *lp[] = { (char *)stasis, "lazy-pages", "-D", imgs, "-d", "--pidfile", lpfile, NULL };
	struct timespec poll = { 0, 20000 };
	uint64_t t0, t1, t;
	pid_t tree, daemon = 0;

	snprintf(pidfile, sizeof(pidfile), "%s/tree.pid", imgs);
	snprintf(lpfile, sizeof(lpfile), "%s/lazy.pid", imgs);
	if (lazy && run(lp)) {
		fprintf(stderr, "lazy: the lazy-pages daemon did not start\n");
		return -1;
	}
	daemon = lazy ? read_pid("lazy.pid") : 0;
	t0 = now_ns();
	if (run(rst)) {
		fprintf(stderr, "lazy: the restore failed\n");
		reap(daemon);
		return -1;
	}
	t1 = now_ns();
	tree = read_pid("tree.pid");
	while ((t = read_stamp()) < t0 && now_ns() - t0 < 10000000000ull)
		nanosleep(&poll, NULL);
	r->running_ms = (t - t0) / 1e6;
	r->returned_ms = (t1 - t0) / 1e6;
	r->all_in_ms = 0;
	while (daemon > 0 && now_ns() - t0 < 30000000000ull) {
		int st;

		if (waitpid(daemon, &st, WNOHANG) == daemon) {
			r->all_in_ms = (now_ns() - t0) / 1e6;
			break;
		}
		nanosleep(&poll, NULL);
	}
	reap(tree);
	return t < t0 ? -1 : 0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	int runs = 5, opt, pfd[2];
	size_t mib = 1024;
	double run_l[64], ret_l[64], all_l[64], run_p[64], ml, mp;
	char *dump[] = { (char *)stasis, "dump", "-t", NULL, "-D", imgs, NULL };
	char pid_s[16];
	pid_t pid;
	char c;

	while ((opt = getopt(argc, argv, "r:m:s:D:")) != -1) {
		if (opt == 'r')
			runs = atoi(optarg);
		else if (opt == 'm')
			mib = strtoul(optarg, NULL, 0);
		else if (opt == 's')
			stasis = optarg;
		else if (opt == 'D')
			dir = optarg;
		else
			return 2;
	}
	if (runs < 1 || runs > 64)
		runs = 5;
	dump[0] = (char *)stasis;
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	mkdir(dir, 0755);
	snprintf(stamp, sizeof(stamp), "%s/stamp", dir);
	snprintf(imgs, sizeof(imgs), "%s/img", dir);
	mkdir(imgs, 0755);
	if (pipe(pfd))
		return 1;
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		setsid();
		workload(mib, pfd[1]);
	}
	close(pfd[1]);
	if (read(pfd[0], &c, 1) != 1) {
		fprintf(stderr, "lazy: the workload did not start\n");
		return 1;
	}
	snprintf(pid_s, sizeof(pid_s), "%d", pid);
	dump[3] = pid_s;
	if (run(dump)) {
		fprintf(stderr, "lazy: the dump failed\n");
		kill(pid, SIGKILL);
		reap(0);
		return 1;
	}
	reap(0);
	for (int i = 0; i < runs; i++) {
		struct result l, p;

		if (one_restore(1, &l) || one_restore(0, &p))
			return 1;
		run_l[i] = l.running_ms, ret_l[i] = l.returned_ms, all_l[i] = l.all_in_ms;
		run_p[i] = p.running_ms;
		fprintf(stderr, "run %d: lazy running again %.1f ms (restore returned %.1f, all in "
			"%.1f); plain %.1f ms\n", i + 1, l.running_ms, l.returned_ms, l.all_in_ms,
			p.running_ms);
	}
	ml = median(run_l, runs);	/* sorted: [0] is the best */
	mp = median(run_p, runs);
	printf("%zu MiB process, %d runs, medians:\n", mib, runs);
	printf("  restore --lazy-pages: running again after %.1f ms (best %.1f), the restore "
	       "returned after %.1f ms, every page in after %.1f ms\n", ml, run_l[0],
	       median(ret_l, runs), median(all_l, runs));
	printf("  plain restore:        running again after %.1f ms (best %.1f)\n", mp, run_p[0]);
	printf("  target: running again under 20 ms after restore --lazy-pages starts: %s\n",
	       ml < 20 ? "met" : "MISSED");
	return 0;
}
