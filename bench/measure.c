/*
 * measure.c - the benchmark's stopwatch and the machine's own references:
 *
 *   measure run OUTFILE TIMEOUT_S -- PROGRAM [ARGS...]
 *       run PROGRAM, and write to OUTFILE one line
 *       "wall_us=N maxrss_kb=N status=N" (status: the exit status, 128+signal,
 *       or "timeout" if it ran past TIMEOUT_S and was killed); exits 0
 *       unless measure itself failed
 *   measure memcpy [MIB]
 *       single-thread memcpy bandwidth between two MIB buffers (default 256),
 *       best of 5 copies: prints "memcpy_gbs=N"
 *   measure tmpfs FILE [MIB]
 *       bandwidth of writing MIB (default 1024) into a new FILE with 4 MiB
 *       writes, best of 3 (FILE is removed after each): prints "tmpfs_gbs=N"
 *
 * GB is 10^9 bytes throughout, as in the report.
 *
 * The stopwatch is here rather than in /usr/bin/time: wait4() gives the
 * dumper's own peak RSS (ru_maxrss) without another package, and the wall
 * clock is read around fork and wait alone, with nothing of bash's in it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

static int do_tmpfs(const char *file, unsigned long mib)
{
	const unsigned long chunk = 4 * MIB;
	char *buf = prefaulted(chunk, 0);
	double best = 1e9, t;
	int fd;

	/* Non-zero bytes, like the pages a dump writes. */
	for (unsigned long i = 0; i < chunk; i++)
		buf[i] = (char)(i * 131 + 7) | 1;
	for (int run = 0; run < 3; run++) {
		fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0) {
			fprintf(stderr, "measure: %s: %s\n", file, strerror(errno));
			return 1;
		}
		t = now_s();
		for (unsigned long done = 0; done < mib * MIB; done += chunk) {
			if (write(fd, buf, chunk) != (ssize_t)chunk) {
				fprintf(stderr, "measure: write %s: %s\n", file,
					strerror(errno));
				close(fd);
				unlink(file);
				return 1;
			}
		}
		close(fd);
		t = now_s() - t;
		unlink(file);
		if (t < best)
			best = t;
	}
	printf("tmpfs_gbs=%.2f\n", mib * MIB / best / 1e9);
	return 0;
}

/*
 * The handlers signal the child's group themselves (kill() is safe there):
 * a flag checked around wait4() could be set just before it blocks and
 * then wait for nothing.
 */
static volatile sig_atomic_t timed_out;
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
	if (child > 0)
		kill(-child, sig);
}

static int do_run(const char *out, const char *timeout, char **argv)
{
	/* No SA_RESTART: the signals must interrupt wait4(). */
	struct sigaction sa = { .sa_handler = on_alarm }, st = { .sa_handler = on_stop };
	struct rusage ru;
	char status_str[32];
	double t0, t1;
	int status;
	pid_t pid, r;
	FILE *f;

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
		r = wait4(pid, &status, 0, &ru);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			perror("measure: wait4");
			return 1;
		}
	}
	t1 = now_s();
	alarm(0);
	if (timed_out)
		snprintf(status_str, sizeof(status_str), "timeout");
	else if (WIFEXITED(status))
		snprintf(status_str, sizeof(status_str), "%d", WEXITSTATUS(status));
	else
		snprintf(status_str, sizeof(status_str), "%d", 128 + WTERMSIG(status));
	f = fopen(out, "w");
	if (!f) {
		fprintf(stderr, "measure: %s: %s\n", out, strerror(errno));
		return 1;
	}
	fprintf(f, "wall_us=%.0f maxrss_kb=%ld status=%s\n",
		(t1 - t0) * 1e6, ru.ru_maxrss, status_str);
	return fclose(f) ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "memcpy") && argc <= 3)
		return do_memcpy(argc == 3 ? parse_mib(argv[2]) : 256);
	if (argc >= 3 && !strcmp(argv[1], "tmpfs") && argc <= 4)
		return do_tmpfs(argv[2], argc == 4 ? parse_mib(argv[3]) : 1024);
	if (argc >= 6 && !strcmp(argv[1], "run") && !strcmp(argv[4], "--"))
		return do_run(argv[2], argv[3], argv + 5);
	fprintf(stderr,
		"usage: measure run OUTFILE TIMEOUT_S -- PROGRAM [ARGS...]\n"
		"       measure memcpy [MIB]\n"
		"       measure tmpfs FILE [MIB]\n");
	return 2;
}
