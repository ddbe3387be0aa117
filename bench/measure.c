/*
 * measure.c - the benchmark's stopwatch and the machine's own references:
 *
 *   measure run OUTFILE TIMEOUT_S -- PROGRAM [ARGS...]
 *       run PROGRAM, and write to OUTFILE one line
 *       "wall_us=N maxrss_kb=N status=N" (status: the exit status, 128+signal,
 *       or "timeout" if it ran past TIMEOUT_S and was killed); exits 0
 *       unless measure itself failed
 *   measure restore OUTFILE TIMEOUT_S EXPECT -- PROGRAM [ARGS...]
 *       as run, for a restore that leaves its tree running (`restore -d`):
 *       measure is the tree's child subreaper; once PROGRAM has exited,
 *       it checks that every process of EXPECT ("PID:THREADS,...", the
 *       root first) is alive with its threads and the root is its child,
 *       adds "alive=K/M" (and "bad=WHAT" for the first that is not) to
 *       the line, then kills the tree and reaps all of it
 *   measure memcpy [MIB]
 *       single-thread memcpy bandwidth between two MIB buffers (default 256),
 *       best of 5 copies: prints "memcpy_gbs=N"
 *   measure tmpfs FILE [MIB]
 *       bandwidth of writing MIB (default 1024) into a new FILE with 4 MiB
 *       writes, best of 3: prints "tmpfs_gbs=N"; then of reading it back,
 *       best of 3, with 4 MiB reads into one buffer ("tmpfs_read_gbs=N")
 *       and with one read into freshly mapped anonymous memory, whose
 *       page faults a restore pays too ("tmpfs_read_new_gbs=N"); then
 *       as the restorer fills memory: 1 MiB at a time populated
 *       (MADV_POPULATE_WRITE) and read, by one thread ("tmpfs_fill_gbs=N")
 *       and by two threads, half each ("tmpfs_fill2_gbs=N": what a restore
 *       on two cores can reach at best); FILE is removed at the end
 *
 * GB is 10^9 bytes throughout, as in the report.
 *
 * The stopwatch is here rather than in /usr/bin/time: wait4() gives the
 * tool's own peak RSS (ru_maxrss) without another package, and the wall
 * clock is read around fork and wait alone, with nothing of bash's in it.
 *
 * PID 1 here reaps no orphans: a restored tree whose restorer exits goes
 * to the nearest child subreaper, which is why `restore` is one, and why
 * it reaps every last process before exiting: a zombie would keep a PID
 * that the next restore of the same images needs.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB	(1UL << 20)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned long parse_mib(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (end == s || *end || v == 0 || v > (1UL << 20)) {
		fprintf(stderr, "measure: bad size in MiB: %s\n", s);
		exit(2);
	}
	return v;
}

/*
 * Buffers are mapped and written before timing, so that page faults
 * (which a dumper streaming into a reused buffer does not pay) stay out.
 */
static char *prefaulted(unsigned long len, int byte)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("measure: mmap");
		exit(1);
	}
	memset(p, byte, len);
	return p;
}

static int do_memcpy(unsigned long mib)
{
	unsigned long len = mib * MIB;
	char *src = prefaulted(len, 0x5a), *dst = prefaulted(len, 0);
	double best = 1e9, t;

	for (int i = 0; i < 5; i++) {
		t = now_s();
		memcpy(dst, src, len);
		/* Keep the copy: the compiler sees nothing read dst. */
		__asm__ volatile("" : : "r"(dst) : "memory");
		t = now_s() - t;
		if (t < best)
			best = t;
	}
	printf("memcpy_gbs=%.2f\n", len / best / 1e9);
	return 0;
}

/* Read @len bytes of @fd from offset 0: into @dst at once, or @chunk at a time into @dst. */
static int read_all(int fd, const char *file, char *dst, unsigned long len, unsigned long chunk)
{
	unsigned long done = 0;
	ssize_t r;

	while (done < len) {
		if (chunk)
			r = pread(fd, dst, chunk < len - done ? chunk : len - done, done);
		else
			r = pread(fd, dst + done, len - done, done);
		if (r <= 0) {
			fprintf(stderr, "measure: read %s: %s\n", file,
				r ? strerror(errno) : "short file");
			return -1;
		}
		done += r;
	}
	return 0;
}

/* One thread's part of a fill: populate a piece, read into it, and on. */
struct fill_part {
	int fd;
	char *dst;
	unsigned long from, to;
	int err;
};

static void *fill_part(void *arg)
{
	struct fill_part *p = arg;

	for (unsigned long o = p->from; o < p->to; o += MIB) {
		unsigned long n = p->to - o < MIB ? p->to - o : MIB;

		madvise(p->dst + o, n, MADV_POPULATE_WRITE);
		if (pread(p->fd, p->dst + o, n, (off_t)o) != (ssize_t)n) {
			p->err = 1;
			break;
		}
	}
	return NULL;
}

/* Best of 3 fills of @len bytes of @fd into fresh memory by @nr threads; 0 on failure. */
static double fill_best(int fd, unsigned long len, int nr)
{
	double best = 1e9, t;
	struct fill_part parts[2];
	pthread_t th[2];
	bool started[2];

	for (int run = 0; run < 3; run++) {
		char *dst = mmap(NULL, len, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		int err = 0;

		if (dst == MAP_FAILED)
			return 0;
		t = now_s();
		for (int i = 0; i < nr; i++) {
			parts[i] = (struct fill_part){ fd, dst, len / nr * i,
						       i == nr - 1 ? len : len / nr * (i + 1), 0 };
			started[i] = i && !pthread_create(&th[i], NULL, fill_part, &parts[i]);
			if (i && !started[i])
				parts[i].err = 1;
		}
		fill_part(&parts[0]);
		for (int i = 1; i < nr; i++) {
			if (started[i])
				pthread_join(th[i], NULL);
		}
		t = now_s() - t;
		for (int i = 0; i < nr; i++)
			err |= parts[i].err;
		munmap(dst, len);
		if (err)
			return 0;
		if (t < best)
			best = t;
	}
	return best;
}

static int do_tmpfs(const char *file, unsigned long mib)
{
	const unsigned long chunk = 4 * MIB, len = mib * MIB;
	char *buf = prefaulted(chunk, 0), *dst;
	double best = 1e9, best_read = 1e9, best_new = 1e9, t;
	int fd, ret = 1;

	/* Non-zero bytes, like the pages a dump writes. */
	for (unsigned long i = 0; i < chunk; i++)
		buf[i] = (char)(i * 131 + 7) | 1;
	for (int run = 0; run < 3; run++) {
		/* O_TRUNC frees the last run's pages before the clock starts. */
		fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0) {
			fprintf(stderr, "measure: %s: %s\n", file, strerror(errno));
			return 1;
		}
		t = now_s();
		for (unsigned long done = 0; done < len; done += chunk) {
			if (write(fd, buf, chunk) != (ssize_t)chunk) {
				fprintf(stderr, "measure: write %s: %s\n", file,
					strerror(errno));
				close(fd);
				goto out;
			}
		}
		close(fd);
		t = now_s() - t;
		if (t < best)
			best = t;
	}
	printf("tmpfs_gbs=%.2f\n", len / best / 1e9);

	fd = open(file, O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "measure: %s: %s\n", file, strerror(errno));
		goto out;
	}
	for (int run = 0; run < 3; run++) {
		t = now_s();
		if (read_all(fd, file, buf, len, chunk))
			goto out_close;
		t = now_s() - t;
		if (t < best_read)
			best_read = t;
	}
	/*
	 * As a restorer reads pages: into memory mapped just before, so the
	 * read takes a page fault for every page, and the kernel allocates
	 * and zeroes a frame each time.
	 */
	for (int run = 0; run < 3; run++) {
		dst = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (dst == MAP_FAILED) {
			perror("measure: mmap");
			goto out_close;
		}
		t = now_s();
		if (read_all(fd, file, dst, len, 0)) {
			munmap(dst, len);
			goto out_close;
		}
		t = now_s() - t;
		munmap(dst, len);
		if (t < best_new)
			best_new = t;
	}
	printf("tmpfs_read_gbs=%.2f\n", len / best_read / 1e9);
	printf("tmpfs_read_new_gbs=%.2f\n", len / best_new / 1e9);
	for (int nr = 1; nr <= 2; nr++) {
		t = fill_best(fd, len, nr);
		if (!t) {
			fprintf(stderr, "measure: a fill of fresh memory from %s failed\n", file);
			goto out_close;
		}
		printf("tmpfs_fill%s_gbs=%.2f\n", nr == 1 ? "" : "2", len / t / 1e9);
	}
	ret = 0;
out_close:
	close(fd);
out:
	unlink(file);
	return ret;
}

/*
 * The handlers signal the child's group themselves (kill() is safe there):
 * a flag checked around wait4() could be set just before it blocks and
 * then wait for nothing.
 */
static volatile sig_atomic_t timed_out, stopped;
static volatile pid_t child;

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
	if (child > 0)
		kill(-child, SIGKILL);
}

static void on_stop(int sig)
{
	stopped = 1;
	if (child > 0)
		kill(-child, sig);
}

/*
 * Run @argv in a process group of its own, at most @timeout seconds;
 * set *@wall_us, *@ru and @status ("N" or "timeout").  0, or 1 if
 * measure itself failed.
 */
static int timed_run(char **argv, const char *timeout, double *wall_us, struct rusage *ru,
		     char *status, size_t size)
{
	/* No SA_RESTART: the signals must interrupt wait4(). */
	struct sigaction sa = { .sa_handler = on_alarm }, st = { .sa_handler = on_stop };
	double t0, t1;
	int ws;
	pid_t pid, r;

	sigaction(SIGALRM, &sa, NULL);
	/* ^C on the harness reaches us, not the child's group: pass it on. */
	sigaction(SIGINT, &st, NULL);
	sigaction(SIGTERM, &st, NULL);
	pid = fork();
	if (pid < 0) {
		perror("measure: fork");
		return 1;
	}
	if (pid == 0) {
		/*
		 * A process group of its own, so that a timeout kills the
		 * helpers the program may have started along with it.
		 */
		setpgid(0, 0);
		execvp(argv[0], argv);
		fprintf(stderr, "measure: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	/* From just after fork to the reaping: the exec and the tool's run. */
	t0 = now_s();
	setpgid(pid, pid);	/* as the child does: whoever runs first */
	child = pid;
	alarm(atoi(timeout));
	for (;;) {
		r = wait4(pid, &ws, 0, ru);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			perror("measure: wait4");
			return 1;
		}
	}
	t1 = now_s();
	alarm(0);
	child = 0;
	*wall_us = (t1 - t0) * 1e6;
	if (timed_out)
		snprintf(status, size, "timeout");
	else if (WIFEXITED(ws))
		snprintf(status, size, "%d", WEXITSTATUS(ws));
	else
		snprintf(status, size, "%d", 128 + WTERMSIG(ws));
	return 0;
}

static int do_run(const char *out, const char *timeout, char **argv)
{
	struct rusage ru;
	char status[32];
	double wall_us;
	FILE *f;

	if (timed_run(argv, timeout, &wall_us, &ru, status, sizeof(status)))
		return 1;
	f = fopen(out, "w");
	if (!f) {
		fprintf(stderr, "measure: %s: %s\n", out, strerror(errno));
		return 1;
	}
	fprintf(f, "wall_us=%.0f maxrss_kb=%ld status=%s\n", wall_us, ru.ru_maxrss, status);
	return fclose(f) ? 1 : 0;
}

struct expect {
	pid_t pid;
	long threads;
};

/* "PID:THREADS,..." into a new array; its length, or -1. */
static long parse_expect(const char *s, struct expect **out)
{
	struct expect *e = NULL, *more;
	long n = 0;
	char *end;

	while (*s) {
		more = realloc(e, (n + 1) * sizeof(*e));
		if (!more) {
			perror("measure: realloc");
			free(e);
			return -1;
		}
		e = more;
		e[n].pid = strtol(s, &end, 10);
		if (end == s || *end != ':' || e[n].pid <= 0)
			goto bad;
		s = end + 1;
		e[n].threads = strtol(s, &end, 10);
		if (end == s || (*end && *end != ',') || e[n].threads <= 0)
			goto bad;
		s = *end ? end + 1 : end;
		n++;
	}
	if (!n)
		goto bad;
	*out = e;
	return n;
bad:
	fprintf(stderr, "measure: bad EXPECT (PID:THREADS,...): %s\n", s);
	free(e);
	return -1;
}

/* State, parent and thread count of @pid; -1 if it is gone. */
static int proc_status(pid_t pid, char *state, pid_t *ppid, long *threads)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	*state = '?';
	*ppid = 0;
	*threads = 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "State:", 6))
			sscanf(line + 6, " %c", state);
		else if (!strncmp(line, "PPid:", 5))
			*ppid = atoi(line + 5);
		else if (!strncmp(line, "Threads:", 8))
			*threads = atol(line + 8);
	}
	fclose(f);
	return 0;
}

/*
 * Is every expected process there, alive, with all its threads, and the
 * root our child?  The number that are; the first that is not in @bad.
 */
static long check_tree(const struct expect *e, long n, char *bad, size_t size)
{
	long alive = 0, threads;
	char state;
	pid_t ppid;

	*bad = 0;
	for (long i = 0; i < n; i++) {
		char why[64] = "";

		if (proc_status(e[i].pid, &state, &ppid, &threads))
			snprintf(why, sizeof(why), "gone");
		else if (state == 'Z' || state == 'X')
			snprintf(why, sizeof(why), "zombie");
		else if (threads != e[i].threads)
			snprintf(why, sizeof(why), "threads=%ld/%ld", threads, e[i].threads);
		else if (i == 0 && ppid != getpid())
			snprintf(why, sizeof(why), "parent=%d", ppid);
		if (!*why)
			alive++;
		else if (!*bad)
			snprintf(bad, size, "%d:%s", e[i].pid, why);
	}
	return alive;
}

/* SIGKILL every process whose parent we are. */
static void kill_children(void)
{
	char path[64], buf[512], *p;
	struct dirent *d;
	pid_t self = getpid(), pid;
	DIR *dir = opendir("/proc");
	int fd, len;

	if (!dir)
		return;
	while ((d = readdir(dir))) {
		if (d->d_name[0] < '1' || d->d_name[0] > '9')
			continue;
		pid = atoi(d->d_name);
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = 0;
		/* "pid (comm) S ppid ...": comm may hold anything but the last ')'. */
		p = strrchr(buf, ')');
		if (p && p[1] && p[2] && atoi(p + 4) == self)
			kill(pid, SIGKILL);
	}
	closedir(dir);
}

/*
 * Kill the restored tree and reap all of it: what its processes leave
 * comes to us, the subreaper.  0 once nothing is left, -1 after a minute.
 */
static int reap_tree(const struct expect *e, long n)
{
	double deadline = now_s() + 60, next_kill = 0;
	pid_t r;

	for (long i = 0; i < n; i++)
		kill(e[i].pid, SIGKILL);
	for (;;) {
		r = waitpid(-1, NULL, __WALL | WNOHANG);
		if (r > 0)
			continue;
		if (r < 0 && errno == ECHILD)
			return 0;
		if (r < 0 && errno != EINTR) {
			perror("measure: waitpid");
			return -1;
		}
		/* Some still run: whatever is not on the list, too. */
		if (now_s() >= next_kill) {
			kill_children();
			next_kill = now_s() + 0.1;
		}
		if (now_s() > deadline) {
			fprintf(stderr, "measure: the restored tree is still there after 60 s\n");
			return -1;
		}
		usleep(1000);
	}
}

static int do_restore(const char *out, const char *timeout, const char *expect, char **argv)
{
	struct rusage ru;
	struct expect *e;
	char status[32], bad[128] = "";
	double wall_us;
	long n, alive = 0;
	int ret;
	FILE *f;

	n = parse_expect(expect, &e);
	if (n < 0)
		return 2;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1)) {
		perror("measure: PR_SET_CHILD_SUBREAPER");
		return 1;
	}
	if (timed_run(argv, timeout, &wall_us, &ru, status, sizeof(status))) {
		reap_tree(e, n);
		return 1;
	}
	if (!strcmp(status, "0") && !stopped) {
		/*
		 * Not timed: a moment for the tree to run on from its saved
		 * registers, so that a task dying right away is seen.
		 */
		usleep(100 * 1000);
		alive = check_tree(e, n, bad, sizeof(bad));
	}
	ret = reap_tree(e, n);
	f = fopen(out, "w");
	if (!f) {
		fprintf(stderr, "measure: %s: %s\n", out, strerror(errno));
		return 1;
	}
	fprintf(f, "wall_us=%.0f maxrss_kb=%ld status=%s alive=%ld/%ld%s%s\n", wall_us,
		ru.ru_maxrss, status, alive, n, *bad ? " bad=" : "", bad);
	free(e);
	return fclose(f) || ret ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "memcpy") && argc <= 3)
		return do_memcpy(argc == 3 ? parse_mib(argv[2]) : 256);
	if (argc >= 3 && !strcmp(argv[1], "tmpfs") && argc <= 4)
		return do_tmpfs(argv[2], argc == 4 ? parse_mib(argv[3]) : 1024);
	if (argc >= 6 && !strcmp(argv[1], "run") && !strcmp(argv[4], "--"))
		return do_run(argv[2], argv[3], argv + 5);
	if (argc >= 7 && !strcmp(argv[1], "restore") && !strcmp(argv[5], "--"))
		return do_restore(argv[2], argv[3], argv[4], argv + 6);
	fprintf(stderr,
		"usage: measure run OUTFILE TIMEOUT_S -- PROGRAM [ARGS...]\n"
		"       measure restore OUTFILE TIMEOUT_S PID:THREADS,... -- PROGRAM [ARGS...]\n"
		"       measure memcpy [MIB]\n"
		"       measure tmpfs FILE [MIB]\n");
	return 2;
}
