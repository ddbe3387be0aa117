/*
 * seccomp.c - four children under seccomp, each checked after the restore:
 *
 *   chain   two filters on getppid (errno 11, then 22: the newest wins, so
 *           22 proves the order came back) and a thread that added one of
 *           its own on getpgid (errno 33) that the leader does not have
 *   tsync   a thread, then a filter on getsid (errno 44) synced to it
 *           with SECCOMP_FILTER_FLAG_TSYNC; another TSYNC filter must still
 *           be accepted afterwards, which needs the two to share one chain
 *   strict  SECCOMP_MODE_STRICT: it echoes bytes through two pipes, and
 *           dies of SIGKILL at its first getpid()
 *   kill    a filter that kills the process at getuid(): it must die of
 *           SIGSYS when it calls it after the restore
 *
 * Each child reports through a pipe: "ok", or what it found wrong.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stasis_test.h"

#define MSG_LEN	128

struct kid {
	const char *name;
	pid_t pid;
	int cmd, ans;		/* our ends: we write commands, read answers */
};

#define fail(...)	(bad++, fail(__VA_ARGS__))

static int bad;
static int cmd_in, ans_out;	/* the child's ends */
static int thread_cmd[2];
static char thread_msg[MSG_LEN];

static int add_filter(long nr, unsigned int action, unsigned int flags)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, action),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog p = { sizeof(f) / sizeof(f[0]), f };

	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &p);
}

/* "" if syscall @nr fails with @err (0: succeeds), else what it did. */
static const char *expect(const char *who, long nr, long arg, int err)
{
	static __thread char buf[MSG_LEN];
	long r;

	errno = 0;
	r = syscall(nr, arg);
	if ((err && r == -1 && errno == err) || (!err && r >= 0))
		return "";
	snprintf(buf, sizeof(buf), "%s: syscall %ld gave %ld errno %d, not errno %d", who, nr,
		 r, errno, err);
	return buf;
}

static void answer(const char *msg)
{
	if (write(ans_out, msg, strlen(msg) + 1) < 0)
		_exit(3);
}

static char wait_cmd(int fd)
{
	char c = 0;

	while (read(fd, &c, 1) < 0 && errno == EINTR)
		;
	return c;
}

static void *chain_thread(void *arg)
{
	const char *m;

	(void)arg;
	if (add_filter(SYS_getpgid, SECCOMP_RET_ERRNO | 33, 0)) {
		snprintf(thread_msg, sizeof(thread_msg), "thread: seccomp: %m");
		return NULL;
	}
	answer("ready");
	wait_cmd(thread_cmd[0]);
	m = expect("thread", SYS_getpgid, 0, 33);
	if (!*m)
		m = expect("thread", SYS_getppid, 0, 22);
	snprintf(thread_msg, sizeof(thread_msg), "%s", *m ? m : "ok");
	return NULL;
}

static void *tsync_thread(void *arg)
{
	(void)arg;
	wait_cmd(thread_cmd[0]);
	snprintf(thread_msg, sizeof(thread_msg), "%s", expect("thread", SYS_getsid, 0, 44));
	return NULL;
}

static void run_chain(void)
{
	pthread_t t;
	const char *m;
	char buf[MSG_LEN];

	if (add_filter(SYS_getppid, SECCOMP_RET_ERRNO | 11, 0) ||
	    add_filter(SYS_getppid, SECCOMP_RET_ERRNO | 22, 0) ||
	    pthread_create(&t, NULL, chain_thread, NULL))
		_exit(2);
	wait_cmd(cmd_in);
	if (write(thread_cmd[1], "g", 1) != 1)
		_exit(2);
	pthread_join(t, NULL);
	m = expect("leader", SYS_getppid, 0, 22);
	if (!*m)
		m = expect("leader", SYS_getpgid, 0, 0);
	snprintf(buf, sizeof(buf), "%s", *m ? m : thread_msg);
	answer(buf);
}

static void run_tsync(void)
{
	pthread_t t;
	char buf[MSG_LEN];
	long r;

	if (pthread_create(&t, NULL, tsync_thread, NULL) ||
	    add_filter(SYS_getsid, SECCOMP_RET_ERRNO | 44, SECCOMP_FILTER_FLAG_TSYNC))
		_exit(2);
	answer("ready");
	wait_cmd(cmd_in);
	r = add_filter(SYS_getpgid, SECCOMP_RET_ERRNO | 55, SECCOMP_FILTER_FLAG_TSYNC);
	if (write(thread_cmd[1], "g", 1) != 1)
		_exit(2);
	pthread_join(t, NULL);
	if (r)
		snprintf(buf, sizeof(buf), "a TSYNC filter after the restore gave %ld (%m)", r);
	else
		snprintf(buf, sizeof(buf), "%s", *thread_msg ? thread_msg : "ok");
	answer(buf);
}

/* Only read, write and exit from here on. */
static void run_strict(void)
{
	answer("ready");
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT))
		_exit(2);
	for (;;) {
		char c = 0;

		if (read(cmd_in, &c, 1) != 1)
			syscall(SYS_exit, 4);
		if (c == 'q')
			syscall(SYS_getpid);	/* SIGKILL */
		c++;
		if (write(ans_out, &c, 1) != 1)
			syscall(SYS_exit, 5);
	}
}

static void run_kill(void)
{
	struct rlimit no_core = { 0, 0 };

	setrlimit(RLIMIT_CORE, &no_core);	/* SIGSYS would dump one */
	if (add_filter(SYS_getuid, SECCOMP_RET_KILL_PROCESS, 0))
		_exit(2);
	answer("ready");
	wait_cmd(cmd_in);
	syscall(SYS_getuid);
	answer("getuid() did not kill it");
}

static int start_kid(struct kid *k, const char *name, void (*fn)(void))
{
	int c[2], a[2];
	char buf[MSG_LEN] = "";

	k->name = name;
	if (pipe(c) || pipe(a) || pipe(thread_cmd))
		return -1;
	k->pid = fork();
	if (k->pid < 0)
		return -1;
	if (k->pid == 0) {
		signal(SIGTERM, SIG_DFL);
		close(c[1]);
		close(a[0]);
		cmd_in = c[0];
		ans_out = a[1];
		fn();
		_exit(0);
	}
	close(c[0]);
	close(a[1]);
	close(thread_cmd[0]);
	close(thread_cmd[1]);
	k->cmd = c[1];
	k->ans = a[0];
	if (read(k->ans, buf, sizeof(buf)) <= 0 || strcmp(buf, "ready")) {
		fail("%s: did not start: %s", name, buf);
		return -1;
	}
	return 0;
}

static int status_seccomp(pid_t pid)
{
	char path[64], line[256];
	int mode = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		sscanf(line, "Seccomp: %d", &mode);
	if (f)
		fclose(f);
	return mode;
}

/* Ask @k to check itself; it must answer "ok" and exit 0. */
static void check_kid(struct kid *k, int mode)
{
	char buf[MSG_LEN] = "";
	int st;

	if (status_seccomp(k->pid) != mode)
		fail("%s: Seccomp: %d in its status, not %d", k->name, status_seccomp(k->pid),
		     mode);
	if (write(k->cmd, "g", 1) != 1 || read(k->ans, buf, sizeof(buf)) <= 0)
		fail("%s: no answer", k->name);
	else if (strcmp(buf, "ok"))
		fail("%s: %s", k->name, buf);
	if (waitpid(k->pid, &st, 0) != k->pid || !WIFEXITED(st) || WEXITSTATUS(st))
		fail("%s: ended with status %#x", k->name, st);
}

static void check_strict(struct kid *k)
{
	char c = 0;
	int st;

	if (status_seccomp(k->pid) != SECCOMP_MODE_STRICT)
		fail("strict: Seccomp: %d in its status", status_seccomp(k->pid));
	if (write(k->cmd, "a", 1) != 1 || read(k->ans, &c, 1) != 1 || c != 'b')
		fail("strict: echoed %#x for 'a'", c);
	if (write(k->cmd, "q", 1) != 1 || waitpid(k->pid, &st, 0) != k->pid ||
	    !WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
		fail("strict: getpid() ended it with status %#x, not SIGKILL", st);
}

static void check_killed(struct kid *k)
{
	int st;

	if (write(k->cmd, "g", 1) != 1 || waitpid(k->pid, &st, 0) != k->pid ||
	    !WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
		fail("kill: getuid() ended it with status %#x, not SIGSYS", st);
}

int main(int argc, char **argv)
{
	struct kid chain, tsync, strict, killer;

	test_init(argc, argv);
	if (start_kid(&chain, "chain", run_chain) || start_kid(&tsync, "tsync", run_tsync) ||
	    start_kid(&strict, "strict", run_strict) || start_kid(&killer, "kill", run_kill))
		return test_result();
	test_ready();
	test_waitsig();

	check_kid(&chain, SECCOMP_MODE_FILTER);
	check_kid(&tsync, SECCOMP_MODE_FILTER);
	check_strict(&strict);
	check_killed(&killer);
	if (!bad)
		pass();
	return test_result();
}
