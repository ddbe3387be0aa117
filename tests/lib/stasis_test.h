/*
 * stasis_test.h - the library every conformance test program links.
 *
 * The contract with tests/conformance/runner.c, after CRIU's zdtm:
 *
 *   1. The runner starts the program in a session of its own, with stdin,
 *      stdout and stderr on /dev/null and STASIS_TEST_OUT naming the
 *      result file.
 *   2. The program calls test_init() first, sets up the state it wants
 *      checked, and calls test_ready().
 *   3. The runner may now checkpoint the program and restore it; then it
 *      sends SIGTERM.
 *   4. The program waits for that with test_waitsig() (or polls
 *      test_got_sigterm()), checks that its state is unchanged, reports
 *      with pass() or fail(), and returns test_result() from main().
 *
 * The result file holds one line per report, each written with a single
 * write(2) so that lines from several processes never interleave:
 *
 *   READY            test_ready()
 *   PASS             pass()
 *   FAIL: message    fail()   - any FAIL line fails the test
 *   SKIP: message    skip()   - the test cannot run here
 *   # message        test_msg() - information only
 *
 * None of these functions exits: a test may fail() several times to
 * report every check that went wrong.  Messages are printf formats and
 * may use %m; newlines in them are turned into spaces.
 *
 * The result file stays open on a descriptor >= TEST_OUT_FD, out of the
 * way of the low numbers tests use.  Like every other descriptor it has
 * to survive checkpoint/restore.  Without STASIS_TEST_OUT, reports go to
 * a copy of stderr, which is handy when running a test by hand.
 */
#ifndef STASIS_TEST_H
#define STASIS_TEST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#define TEST_OUT_FD	1000	/* lowest descriptor the result file may get */

/* Open the result file and catch SIGTERM; exits 1 if that fails. */
void test_init(int argc, char **argv);

/* Tell the runner the state is set up: it may checkpoint from now on. */
void test_ready(void);

/* Sleep until SIGTERM has arrived; other signals do not end the wait. */
void test_waitsig(void);

/*
 * Has SIGTERM arrived?  For tests that must be doing something else
 * than waiting in sigsuspend() when checkpointed.  The SIGTERM handler
 * has no SA_RESTART, so blocking calls return EINTR when it runs.
 */
bool test_got_sigterm(void);

/*
 * Wait up to @timeout_ms until the thread whose id @tid holds (0 until the
 * thread has started) is asleep in system call @nr, as
 * /proc/self/task/TID/syscall tells.  True once it is.  Tests call it so
 * that READY means "blocked where it should be".
 */
bool test_wait_in_syscall(const atomic_int *tid, long nr, int timeout_ms);

void pass(void);
void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void test_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The exit status for main(): 1 if fail() was called or nothing was
 * reported at all, else 0 (pass or skip).
 */
int test_result(void);

/*
 * The state letter and parent of @pid from /proc/PID/stat; -1 if it
 * cannot be read (the process is gone).  For tests and the runner alike.
 */
int test_proc_stat(pid_t pid, char *state, pid_t *ppid);

/*
 * In a mount namespace of the test's own: detach every mount but /, /proc
 * and /dev, deepest first, so that what the host has mounted elsewhere
 * does not matter to the test.
 */
void test_detach_mounts(void);

/* Write all of @val into the file at @path (a sysctl, a cgroup file): 0, or -1 with errno. */
int test_write_file(const char *path, const char *val);

/*
 * Into a user namespace of the caller's own, @map (one uid_map line, the
 * same for gids) written from outside by a child of its own, then ids 0
 * in it: 0, or -1 with errno.
 */
int test_enter_userns(const char *map);

/* Wait for child @pid, which must exit 0; else fail() naming it: 0 or -1. */
int test_reap(pid_t pid, const char *name);

/*
 * With SIGTERM blocked in every thread, run @fn(@arg0) in the calling
 * thread and @fn(@arg1) in a second one while a third runs @waker (which
 * unblocks SIGTERM in test_waitsig() and then ends both); all joined
 * before it returns.  0, or -1 after fail() when a thread cannot start.
 */
int test_run_pair(void *(*fn)(void *), void *arg0, void *arg1, void *(*waker)(void *));

/* The first line of the file at @path into @buf (NUL-terminated); -1 with errno, @buf "". */
int test_read_line(const char *path, char *buf, size_t size);

#endif
