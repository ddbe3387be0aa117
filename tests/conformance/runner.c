/*
 * runner.c - run one conformance test program, through a checkpoint and a
 * restore unless --no-cr, and print its verdict as one line on stdout:
 *
 *   PASS: name
 *   FAIL: name: reason
 *   SKIP: name: reason
 *
 * The flow is CRIU zdtm's: start the program, wait for READY in its result
 * file, `stasis dump` it (which kills it), `stasis restore -d` it, send
 * SIGTERM, wait for it to exit, read PASS or FAIL from the result file.
 * The contract with the program is in tests/lib/stasis_test.h.
 *
 * The runner is a child subreaper: the restored tree is re-parented to it
 * when `stasis restore -d` exits, and anything a test leaves behind ends
 * up as its child too.  Whatever happens, everything started is killed
 * and reaped before the runner exits: PID 1 here reaps no orphans, and a
 * leftover zombie would keep its PID from being restored next time.
 *
 * Exit status: 0 for PASS or SKIP, 1 for FAIL, 2 for bad usage.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT	30		/* seconds, for each step */
#define DEFAULT_TOPDIR	"/tmp/stasis-conf"
#define NAP_NS		(10 * 1000 * 1000)

struct opts {
	bool cr;		/* checkpoint and restore, not --no-cr */
	const char *stasis;
	const char *workdir;
	int timeout;
	char **argv;		/* the test program and its arguments */
};

/* What the test program wrote to its result file. */
struct result {
	bool ready;
	bool pass;
	char fail[512];		/* the first "FAIL: " message, "" if none */
	char skip[512];		/* the first "SKIP: " message, "" if none */
	bool failed;
	bool skipped;
};

struct run {
	const struct opts *o;
	const char *name;	/* basename of the program */
	char stasis[PATH_MAX];
	char workdir[PATH_MAX];
	char imgdir[PATH_MAX + 8];	/* WORKDIR/img */
	char out[PATH_MAX + 8];		/* WORKDIR/out, the result file */
	pid_t pid;		/* the test's root task */
	bool alive;		/* pid is ours and not reaped */
	bool exited;		/* status holds how it ended */
	int status;
	char reason[PATH_MAX + 128];	/* why the runner fails the test */
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

/* Note why the test fails; the first reason found is the one reported. */
static int __attribute__((format(printf, 2, 3)))
failf(struct run *r, const char *fmt, ...)
{
	va_list ap;

	if (r->reason[0])
		return -1;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
	return -1;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static void nap(void)
{
	struct timespec ts = { .tv_nsec = NAP_NS };

	nanosleep(&ts, NULL);
}

static const char *describe_status(int status)
{
	static char buf[64];
	const char *abbrev;

	if (WIFEXITED(status)) {
		snprintf(buf, sizeof(buf), "exited with status %d",
			 WEXITSTATUS(status));
	} else if (WIFSIGNALED(status)) {
		abbrev = sigabbrev_np(WTERMSIG(status));
		if (abbrev)
			snprintf(buf, sizeof(buf), "killed by SIG%s", abbrev);
		else
			snprintf(buf, sizeof(buf), "killed by signal %d",
				 WTERMSIG(status));
	} else {
		snprintf(buf, sizeof(buf), "wait status %#x", status);
	}
	return buf;
}

static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	char *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

/* Image directories are flat; stale images must not mix with new ones. */
static int empty_dir(const char *path)
{
	struct dirent *de;
	DIR *d = opendir(path);
	int ret = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) && !ret)
			ret = -errno;
	}
	closedir(d);
	return ret;
}

/* The parent of @pid from /proc, or -1 if it is gone. */
static pid_t proc_ppid(pid_t pid)
{
	char path[64], buf[512];
	char *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* "pid (comm) state ppid ...": comm may hold spaces and parentheses. */
	p = strrchr(buf, ')');
	if (!p || strlen(p) < 5)
		return -1;
	return (pid_t)strtol(p + 4, NULL, 10);
}

/* SIGKILL every child we have now. */
static void kill_children(void)
{
	pid_t self = getpid(), pid;
	struct dirent *de;
	DIR *d = opendir("/proc");

	if (!d)
		return;
	while ((de = readdir(d))) {
		pid = (pid_t)strtol(de->d_name, NULL, 10);
		if (pid > 0 && proc_ppid(pid) == self)
			kill(pid, SIGKILL);
	}
	closedir(d);
}

/*
 * Kill and reap everything we started.  As a subreaper we inherit every
 * orphaned descendant, so killing our children and reaping until none is
 * left gets the whole tree, however deep and whatever sessions it made.
 */
static void kill_all(struct run *r)
{
	if (r->alive) {
		kill(-r->pid, SIGKILL);
		kill(r->pid, SIGKILL);
	}
	for (;;) {
		kill_children();
		if (waitpid(-1, NULL, 0) < 0 && errno == ECHILD)
			break;
	}
	r->alive = false;
}

/*
 * Ignored signals and the signal mask survive exec: start the test with
 * the defaults, whatever the runner was started with.
 */
static void reset_signals(void)
{
	sigset_t none;
	int sig;

	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static void __attribute__((noreturn)) exec_test(const struct run *r)
{
	int fd = open("/dev/null", O_RDWR), err;

	reset_signals();
	setsid();
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
	}
	/*
	 * Nothing the runner's caller left open may reach the test: the
	 * dump would have to deal with it.
	 */
	close_range(3, ~0u, 0);
	setenv("STASIS_TEST_OUT", r->out, 1);
	execvp(r->o->argv[0], r->o->argv);
	err = errno;

	/* The runner reads this like any other failure of the test. */
	fd = open(r->out, O_WRONLY | O_APPEND);
	if (fd >= 0)
		dprintf(fd, "FAIL: exec %s: %s\n", r->o->argv[0], strerror(err));
	_exit(127);
}

static int start_test(struct run *r)
{
	int fd = open(r->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		return failf(r, "cannot create %s: %m", r->out);
	close(fd);

	fflush(NULL);
	r->pid = fork();
	if (r->pid < 0)
		return failf(r, "fork: %m");
	if (r->pid == 0)
		exec_test(r);
	r->alive = true;
	return 0;
}

static void read_result(const char *path, struct result *res)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t size = 0;
	ssize_t len;

	memset(res, 0, sizeof(*res));
	if (!f)
		return;
	while ((len = getline(&line, &size, f)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (!strcmp(line, "READY")) {
			res->ready = true;
		} else if (!strcmp(line, "PASS")) {
			res->pass = true;
		} else if (!strncmp(line, "FAIL: ", 6) && !res->failed) {
			res->failed = true;
			snprintf(res->fail, sizeof(res->fail), "%s", line + 6);
		} else if (!strncmp(line, "SKIP: ", 6) && !res->skipped) {
			res->skipped = true;
			snprintf(res->skip, sizeof(res->skip), "%s", line + 6);
		}
	}
	free(line);
	fclose(f);
}

/* Reap the root task if it has ended; true if it has. */
static bool reap_test(struct run *r)
{
	if (!r->alive || waitpid(r->pid, &r->status, WNOHANG) != r->pid)
		return false;
	r->alive = false;
	r->exited = true;
	return true;
}

static int wait_ready(struct run *r)
{
	long end = now_ms() + r->o->timeout * 1000L;
	struct result res;

	for (;;) {
		read_result(r->out, &res);
		if (res.ready)
			return 0;
		if (reap_test(r)) {
			read_result(r->out, &res);
			if (res.skipped || res.failed)
				return -1;	/* its own report says why */
			return failf(r, "not ready (%s)", describe_status(r->status));
		}
		if (interrupted)
			return failf(r, "interrupted by SIG%s", sigabbrev_np(interrupted));
		if (now_ms() >= end)
			return failf(r, "not ready after %d s", r->o->timeout);
		nap();
	}
}

/* Wait for our child @pid, up to the timeout; 0, -ETIMEDOUT or -EINTR. */
static int wait_pid(const struct run *r, pid_t pid, int *status)
{
	long end = now_ms() + r->o->timeout * 1000L;

	for (;;) {
		if (waitpid(pid, status, WNOHANG) == pid)
			return 0;
		if (interrupted)
			return -EINTR;
		if (now_ms() >= end)
			return -ETIMEDOUT;
		nap();
	}
}

/* The file to look at when @action failed: its log, or what it printed. */
static void tool_hint(const struct run *r, const char *action, char *buf, size_t len)
{
	struct stat st;

	snprintf(buf, len, "%s/%s.log", r->workdir, action);
	if (stat(buf, &st) || !st.st_size)
		snprintf(buf, len, "%s/%s.out", r->workdir, action);
}

/*
 * Run `stasis ACTION -D IMGDIR -v4 -o WORKDIR/ACTION.log [@extra...]`.
 * Its stdout and stderr go to WORKDIR/ACTION.out, for errors printed
 * before the log is open.
 */
static int run_tool(struct run *r, const char *action, const char *extra[])
{
	char log[PATH_MAX + 16], out[PATH_MAX + 16], hint[PATH_MAX + 16];
	const char *argv[16] = { r->stasis, action, "-D", r->imgdir,
				 "-v4", "-o", log };
	int argc = 7, status, ret, fd;
	pid_t pid;

	snprintf(log, sizeof(log), "%s/%s.log", r->workdir, action);
	snprintf(out, sizeof(out), "%s/%s.out", r->workdir, action);
	while (*extra)
		argv[argc++] = *extra++;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return failf(r, "fork: %m");
	if (pid == 0) {
		reset_signals();
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0)
			dup2(fd, STDIN_FILENO);
		close_range(3, ~0u, 0);
		execv(r->stasis, (char **)argv);
		fprintf(stderr, "exec %s: %m\n", r->stasis);
		_exit(127);
	}

	ret = wait_pid(r, pid, &status);
	tool_hint(r, action, hint, sizeof(hint));
	if (ret == -ETIMEDOUT)
		return failf(r, "%s timed out after %d s, see %s",
			     action, r->o->timeout, hint);
	if (ret)
		return failf(r, "interrupted by SIG%s during %s",
			     sigabbrev_np(interrupted), action);
	if (WIFEXITED(status) && WEXITSTATUS(status))
		return failf(r, "%s failed (exit %d), see %s",
			     action, WEXITSTATUS(status), hint);
	if (!WIFEXITED(status))
		return failf(r, "%s failed (%s), see %s",
			     action, describe_status(status), hint);
	return 0;
}

/* After a dump, wait until the dumped tree is gone and its PIDs are free. */
static int wait_tree_gone(struct run *r)
{
	long end = now_ms() + r->o->timeout * 1000L;
	pid_t ret;

	for (;;) {
		ret = waitpid(-1, NULL, WNOHANG);
		if (ret < 0 && errno == ECHILD)
			break;
		if (ret > 0)
			continue;
		if (interrupted)
			return failf(r, "interrupted by SIG%s after dump",
				     sigabbrev_np(interrupted));
		if (now_ms() >= end)
			return failf(r, "dumped tree still alive after %d s",
				     r->o->timeout);
		nap();
	}
	if (!kill(r->pid, 0))
		return failf(r, "process %d still exists after dump", r->pid);
	return 0;
}

static int dump_and_restore(struct run *r)
{
	char pid[16];
	const char *dump_args[] = { "-t", pid, NULL };
	const char *restore_args[] = { "-d", NULL };
	pid_t ppid;
	int ret;

	ret = mkdir_p(r->imgdir);
	if (!ret)
		ret = empty_dir(r->imgdir);
	if (ret)
		return failf(r, "cannot prepare %s: %s", r->imgdir, strerror(-ret));

	snprintf(pid, sizeof(pid), "%d", r->pid);
	if (run_tool(r, "dump", dump_args))
		return -1;
	/* The dumped task was our child: reap it, or its zombie keeps the PID. */
	if (wait_pid(r, r->pid, &r->status))
		return failf(r, "process %d still alive after dump", r->pid);
	r->alive = false;
	if (wait_tree_gone(r))
		return -1;

	if (run_tool(r, "restore", restore_args))
		return -1;
	if (kill(r->pid, 0))
		return failf(r, "process %d missing after restore", r->pid);
	r->alive = true;
	ppid = proc_ppid(r->pid);
	if (ppid != getpid())
		return failf(r, "restored process %d has parent %d, not the runner",
			     r->pid, ppid);
	return 0;
}

/* SIGTERM the test and wait for it, reaping whatever else ends meanwhile. */
static int stop_test(struct run *r)
{
	long end = now_ms() + r->o->timeout * 1000L;
	int status;
	pid_t ret;

	if (kill(r->pid, SIGTERM))
		return failf(r, "cannot signal process %d: %m", r->pid);
	for (;;) {
		ret = waitpid(-1, &status, WNOHANG);
		if (ret == r->pid) {
			r->alive = false;
			r->exited = true;
			r->status = status;
			return 0;
		}
		if (ret > 0)
			continue;
		if (ret < 0 && errno == ECHILD)
			return failf(r, "process %d is not a child of the runner", r->pid);
		if (interrupted)
			return failf(r, "interrupted by SIG%s", sigabbrev_np(interrupted));
		if (now_ms() >= end)
			return failf(r, "no exit within %d s of SIGTERM", r->o->timeout);
		nap();
	}
}

/* Print the verdict line; returns the exit status. */
static int verdict(const struct run *r)
{
	struct result res;

	read_result(r->out, &res);
	if (res.failed) {
		printf("FAIL: %s: %s\n", r->name, res.fail);
		return 1;
	}
	if (r->reason[0]) {
		printf("FAIL: %s: %s\n", r->name, r->reason);
		return 1;
	}
	if (res.skipped) {
		printf("SKIP: %s: %s\n", r->name, res.skip);
		return 0;
	}
	if (!res.pass) {
		if (r->exited)
			printf("FAIL: %s: no result (%s)\n", r->name,
			       describe_status(r->status));
		else
			printf("FAIL: %s: no result\n", r->name);
		return 1;
	}
	if (!r->exited || !WIFEXITED(r->status) || WEXITSTATUS(r->status)) {
		printf("FAIL: %s: PASS reported, but %s\n", r->name,
		       r->exited ? describe_status(r->status) : "no exit seen");
		return 1;
	}
	printf("PASS: %s\n", r->name);
	return 0;
}

/* build/tests/runner -> build/stasis */
static void default_stasis(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);
	char *slash;
	int i;

	if (n > 0) {
		buf[n] = '\0';
		for (i = 0; i < 2 && (slash = strrchr(buf, '/')); i++)
			*slash = '\0';
		if (i == 2 && strlen(buf) + sizeof("/stasis") <= len) {
			strcat(buf, "/stasis");
			return;
		}
	}
	snprintf(buf, len, "build/stasis");
}

/* A log left by an earlier run must not be taken for this one's. */
static void clear_logs(const struct run *r)
{
	static const char *const files[] = {
		"dump.log", "dump.out", "restore.log", "restore.out",
	};
	char path[PATH_MAX + 16];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", r->workdir, files[i]);
		unlink(path);
	}
}

static int setup(struct run *r)
{
	const struct opts *o = r->o;
	struct sigaction sa = { .sa_handler = on_signal };
	char abs[PATH_MAX];
	int ret;

	if (o->stasis)
		snprintf(r->stasis, sizeof(r->stasis), "%s", o->stasis);
	else
		default_stasis(r->stasis, sizeof(r->stasis));

	if (o->workdir)
		snprintf(r->workdir, sizeof(r->workdir), "%s", o->workdir);
	else
		snprintf(r->workdir, sizeof(r->workdir), "%s/%s",
			 DEFAULT_TOPDIR, r->name);
	ret = mkdir_p(r->workdir);
	if (ret)
		return failf(r, "cannot create %s: %s", r->workdir, strerror(-ret));
	/* Absolute, so that it means the same to the test after a restore. */
	if (!realpath(r->workdir, abs))
		return failf(r, "%s: %m", r->workdir);
	memcpy(r->workdir, abs, sizeof(abs));
	snprintf(r->imgdir, sizeof(r->imgdir), "%s/img", r->workdir);
	snprintf(r->out, sizeof(r->out), "%s/out", r->workdir);
	clear_logs(r);

	if (prctl(PR_SET_CHILD_SUBREAPER, 1))
		return failf(r, "PR_SET_CHILD_SUBREAPER: %m");

	/* An ignored SIGCHLD would reap children before we could wait for them. */
	signal(SIGCHLD, SIG_DFL);
	/* Stop waiting, clean up and report if we are told to stop. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: runner [--no-cr] [--stasis PATH] [--workdir DIR] "
		"[--timeout SEC] PROGRAM [ARGS...]\n"
		"\n"
		"Run a conformance test program, checkpoint and restore it with\n"
		"stasis unless --no-cr, and print PASS, FAIL or SKIP.\n"
		"  --stasis PATH   the stasis binary (default: ../stasis from the runner's dir)\n"
		"  --workdir DIR   images, logs, result file (default: %s/PROGRAM)\n"
		"  --timeout SEC   limit for each step (default: %d)\n",
		DEFAULT_TOPDIR, DEFAULT_TIMEOUT);
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "no-cr",	no_argument,		NULL, 'n' },
		{ "stasis",	required_argument,	NULL, 's' },
		{ "workdir",	required_argument,	NULL, 'w' },
		{ "timeout",	required_argument,	NULL, 't' },
		{ "help",	no_argument,		NULL, 'h' },
		{ }
	};
	char *end;
	long val;
	int c;

	*o = (struct opts){ .cr = true, .timeout = DEFAULT_TIMEOUT };
	/* '+': options end at PROGRAM, whose own options are its business. */
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			o->cr = false;
			break;
		case 's':
			o->stasis = optarg;
			break;
		case 'w':
			o->workdir = optarg;
			break;
		case 't':
			val = strtol(optarg, &end, 10);
			if (*end || val <= 0 || val > 86400) {
				fprintf(stderr, "runner: bad timeout '%s'\n", optarg);
				return -1;
			}
			o->timeout = (int)val;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	if (optind >= argc)
		return -1;
	o->argv = argv + optind;
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct run r = { .o = &o };
	const char *slash;
	int ret;

	if (parse_opts(argc, argv, &o)) {
		usage(stderr);
		return 2;
	}
	slash = strrchr(o.argv[0], '/');
	r.name = slash ? slash + 1 : o.argv[0];

	ret = setup(&r);
	if (!ret)
		ret = start_test(&r);
	if (!ret)
		ret = wait_ready(&r);
	if (!ret && o.cr)
		ret = dump_and_restore(&r);
	if (!ret)
		stop_test(&r);
	kill_all(&r);
	return verdict(&r);
}
