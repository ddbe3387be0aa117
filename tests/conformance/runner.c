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
 * --between CMD replaces the dump and restore with `CMD PID`: a program
 * that does something to the live test (libcompel's stress driver seizes
 * it, infects it and cures it) and must leave it running as it was.  The
 * step fails if CMD exits non-zero, unless --between-may-fail, and the
 * test must still be alive afterwards.
 *
 * --then-cr has the dump and restore done after the between-step as well:
 * whatever the step did, the test must still come back from a checkpoint.
 *
 * --alter CMD runs `CMD IMGDIR` between the dump and the restore, to
 * change the images on purpose: a test whose checks bite then FAILs.
 *
 * --cycles N does the dump and restore N times in a row: the second dump
 * sees a restored tree, so whatever a restore left in it would be saved,
 * restored and seen by the test.
 * --dump-opts "OPT..." adds options to the dump (--link-remap, ...),
 * --restore-opts "OPT..." to the restore (--tcp-close, ...).
 *
 * --pidns starts the test as init of a pid namespace of its own; the
 * restore then writes the root's new pid (ours) with --pidfile.
 *
 * --stop has the step done to a stopped test: SIGSTOP after READY, and
 * SIGCONT before the SIGTERM, once the test is seen to be stopped still.
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

#include "stasis_test.h"
#include "runner-opts.h"
#include "runner-util.h"

#define NAP_NS		(10 * 1000 * 1000)
#define STOP_SETTLE_MS	2000		/* for a stopped test to stop again */

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
	char between_out[PATH_MAX + 16];	/* WORKDIR/between.out */
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
	r->pid = fork_maybe_newpid(r->o->pidns);
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
 * Start the program @argv[0] (a path) with stdout and stderr going to
 * @out and stdin on /dev/null; its pid, or -1 with the reason noted.
 */
static pid_t spawn(struct run *r, char *const argv[], const char *out)
{
	pid_t pid;
	int fd;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return failf(r, "fork: %m");
	if (pid > 0)
		return pid;

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
	execv(argv[0], argv);
	fprintf(stderr, "exec %s: %m\n", argv[0]);
	_exit(127);
}

/*
 * Judge how the step @what ended: @ret from wait_pid(), then its wait
 * @status.  @hint names the file to look at when it went wrong.
 */
static int step_result(struct run *r, const char *what, int ret, int status,
		       const char *hint)
{
	if (ret == -ETIMEDOUT)
		return failf(r, "%s timed out after %d s, see %s",
			     what, r->o->timeout, hint);
	if (ret)
		return failf(r, "interrupted by SIG%s during %s",
			     sigabbrev_np(interrupted), what);
	if (WIFEXITED(status) && WEXITSTATUS(status))
		return failf(r, "%s failed (exit %d), see %s",
			     what, WEXITSTATUS(status), hint);
	if (!WIFEXITED(status))
		return failf(r, "%s failed (%s), see %s",
			     what, describe_status(status), hint);
	return 0;
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
	int argc = 7, status = 0, ret;
	pid_t pid;

	snprintf(log, sizeof(log), "%s/%s.log", r->workdir, action);
	snprintf(out, sizeof(out), "%s/%s.out", r->workdir, action);
	while (*extra)
		argv[argc++] = *extra++;

	pid = spawn(r, (char **)argv, out);
	if (pid < 0)
		return -1;
	ret = wait_pid(r, pid, &status);
	tool_hint(r, action, hint, sizeof(hint));
	return step_result(r, action, ret, status, hint);
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

/* `CMD... IMGDIR` between the dump and the restore: tests that checks bite. */
static int run_alter(struct run *r)
{
	char **argv = r->o->alter;
	int argc, status = 0, ret;
	pid_t pid;

	for (argc = 0; argv[argc]; argc++)
		;
	argv[argc] = r->imgdir;	/* parse_opts left room for it */
	pid = spawn(r, argv, r->between_out);
	argv[argc] = NULL;
	if (pid < 0)
		return -1;
	ret = wait_pid(r, pid, &status);
	return step_result(r, "alter-step", ret, status, r->between_out);
}

static int dump_and_restore(struct run *r)
{
	char pid[16], pidfile[PATH_MAX + 16];
	const char *dump_args[8] = { "-t", pid };
	const char *restore_args[8] = { "-d" };
	int nr_ra = 1;
	pid_t ppid, inner;
	int ret;

	ret = mkdir_p(r->imgdir);
	if (!ret)
		ret = empty_dir(r->imgdir);
	if (ret)
		return failf(r, "cannot prepare %s: %s", r->imgdir, strerror(-ret));

	snprintf(pid, sizeof(pid), "%d", r->pid);
	for (int i = 0; r->o->dump_opts && r->o->dump_opts[i]; i++) {
		if (i + 3 > (int)(sizeof(dump_args) / sizeof(dump_args[0])))
			return failf(r, "too many --dump-opts");
		dump_args[i + 2] = r->o->dump_opts[i];
	}
	snprintf(pidfile, sizeof(pidfile), "%s/restore.pid", r->workdir);
	if (r->o->pidns) {
		restore_args[nr_ra++] = "--pidfile";
		restore_args[nr_ra++] = pidfile;
	}
	for (int i = 0; r->o->restore_opts && r->o->restore_opts[i]; i++) {
		if (i + nr_ra + 1 > (int)(sizeof(restore_args) / sizeof(restore_args[0])))
			return failf(r, "too many --restore-opts");
		restore_args[i + nr_ra] = r->o->restore_opts[i];
	}
	if (run_tool(r, "dump", dump_args))
		return -1;
	/* The dumped task was our child: reap it, or its zombie keeps the PID. */
	if (wait_pid(r, r->pid, &r->status))
		return failf(r, "process %d still alive after dump", r->pid);
	r->alive = false;
	if (wait_tree_gone(r))
		return -1;

	if (r->o->alter && run_alter(r))
		return -1;
	if (run_tool(r, "restore", restore_args))
		return -1;
	/* In its own pid namespace the root is 1 there, and anything here. */
	if (r->o->pidns && (read_pidfile(pidfile, &r->pid, &inner) || inner != 1))
		return failf(r, "pidfile %s: no root of pid 1 in its namespace (%d)", pidfile,
			     inner);
	if (kill(r->pid, 0))
		return failf(r, "process %d missing after restore", r->pid);
	r->alive = true;
	ppid = proc_ppid(r->pid);
	if (ppid != getpid())
		return failf(r, "restored process %d has parent %d, not the runner",
			     r->pid, ppid);
	return 0;
}

/* The tracer of thread @tid of @pid, 0 if none, -1 if unknown. */
static pid_t tracer_of(pid_t pid, pid_t tid)
{
	char path[96], line[128];
	pid_t tracer = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "TracerPid:", 10)) {
			tracer = (pid_t)strtol(line + 10, NULL, 10);
			break;
		}
	}
	fclose(f);
	return tracer;
}

/*
 * A tracer that exits lets go of its tracees, so one still attached is
 * something the between-step left running: the test would hang in a
 * ptrace stop instead of ending on SIGTERM.
 */
static int check_untraced(struct run *r)
{
	char path[64];
	struct dirent *de;
	pid_t tid = 0, tracer = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", r->pid);
	d = opendir(path);
	if (!d)
		return failf(r, "%s: %m", path);
	while ((de = readdir(d))) {
		tid = (pid_t)strtol(de->d_name, NULL, 10);
		if (tid > 0)
			tracer = tracer_of(r->pid, tid);
		if (tracer > 0)
			break;
	}
	closedir(d);
	if (tracer > 0)
		return failf(r, "thread %d of process %d still traced by %d after the between-step",
			     tid, r->pid, tracer);
	return 0;
}

/*
 * After the between-step the test must be running as before: the same
 * process, still our child, not dead, not traced, and not stopped unless
 * --stop stopped it.  A zombie we cannot reap yet is one still traced by
 * someone else.
 */
static int check_alive(struct run *r)
{
	pid_t ppid = -1;
	char state = '?';

	if (reap_test(r))
		return failf(r, "process %d %s during the between-step",
			     r->pid, describe_status(r->status));
	if (test_proc_stat(r->pid, &state, &ppid))
		return failf(r, "process %d gone after the between-step", r->pid);
	if (state == 'Z' || state == 'X')
		return failf(r, "process %d is dead (state %c) after the between-step",
			     r->pid, state);
	if (state == 'T' && !r->o->stop)
		return failf(r, "process %d left stopped after the between-step",
			     r->pid);
	if (ppid != getpid())
		return failf(r, "process %d has parent %d after the between-step, not the runner",
			     r->pid, ppid);
	return check_untraced(r);
}

/*
 * Run `CMD... PID` on the live test, output to WORKDIR/between.out.  It
 * may fail (exit non-zero or be killed) with --between-may-fail, when it
 * injects failures on purpose, but never hang.
 */
static int run_between(struct run *r)
{
	char **argv = r->o->between, pid_arg[16];
	int argc, status = 0, ret;
	pid_t pid;

	for (argc = 0; argv[argc]; argc++)
		;
	snprintf(pid_arg, sizeof(pid_arg), "%d", r->pid);
	argv[argc] = pid_arg;	/* parse_opts left room for it */

	pid = spawn(r, argv, r->between_out);
	argv[argc] = NULL;
	if (pid < 0)
		return -1;
	ret = wait_pid(r, pid, &status);
	if (!ret && r->o->between_may_fail)
		status = 0;
	if (step_result(r, "between-step", ret, status, r->between_out))
		return -1;
	return check_alive(r);
}

/* Wait up to @ms for the test to be in state 'T'; its state then. */
static char wait_stopped(const struct run *r, long ms)
{
	long end = now_ms() + ms;
	char state;

	for (;;) {
		state = proc_state(r->pid);
		if (state == 'T' || now_ms() >= end || interrupted)
			return state;
		nap();
	}
}

/* --stop: SIGSTOP the test, and make sure it has stopped before the step. */
static int sigstop_test(struct run *r)
{
	char state;

	if (kill(r->pid, SIGSTOP))
		return failf(r, "cannot stop process %d: %m", r->pid);
	state = wait_stopped(r, r->o->timeout * 1000L);
	if (state != 'T')
		return failf(r, "process %d not stopped within %d s of SIGSTOP (state %c)",
			     r->pid, r->o->timeout, state);
	return 0;
}

/*
 * --stop, after the step: the test must still be stopped, then SIGCONT.
 * A tracer that lets go of a stopped task leaves it to stop again by
 * itself, and a restore stops it at the very end: give it a moment.
 */
static int sigcont_test(struct run *r)
{
	char state = wait_stopped(r, STOP_SETTLE_MS);

	if (state != 'T')
		return failf(r, "process %d no longer stopped (state %c)",
			     r->pid, state);
	if (kill(r->pid, SIGCONT))
		return failf(r, "cannot continue process %d: %m", r->pid);
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
		"between.out",
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
	snprintf(r->between_out, sizeof(r->between_out), "%s/between.out",
		 r->workdir);
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

int main(int argc, char **argv)
{
	struct opts o;
	struct run r = { .o = &o };
	long hugepages = hugepages_get();
	const char *slash;
	int ret;

	if (runner_parse_opts(argc, argv, &o)) {
		runner_usage(stderr);
		return 2;
	}
	slash = strrchr(o.argv[0], '/');
	r.name = slash ? slash + 1 : o.argv[0];

	ret = setup(&r);
	if (!ret)
		ret = start_test(&r);
	if (!ret)
		ret = wait_ready(&r);
	if (!ret && o.stop)
		ret = sigstop_test(&r);
	if (!ret && o.between)
		ret = run_between(&r);
	for (int i = 0; !ret && (!o.between || o.then_cr) && o.cr && i < o.cycles; i++)
		ret = dump_and_restore(&r);
	if (!ret && o.stop)
		ret = sigcont_test(&r);
	if (!ret)
		stop_test(&r);
	kill_all(&r);
	hugepages_put_back(hugepages);
	return verdict(&r);
}
