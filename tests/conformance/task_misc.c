/*
 * task_misc.c - process settings outside memory, registers and signals.
 *
 * Sets up, before READY:
 *   - prctl(PR_SET_THP_DISABLE, 1);
 *   - /proc/self/oom_score_adj raised by 123 from what it was (raising
 *     needs no privilege);
 *   - membarrier(2) registrations for the private expedited commands
 *     the kernel offers (MEMBARRIER_CMD_QUERY says which);
 *   - /proc/self/loginuid set to 4242, where this kernel has audit and
 *     lets it be set (said otherwise).
 *
 * Checks after SIGTERM:
 *   - PR_GET_THP_DISABLE still says 1;
 *   - oom_score_adj is the value set;
 *   - each registered command still runs, and each command that was not
 *     registered for is still refused with EPERM;
 *   - loginuid is 4242.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "stasis_test.h"

#define MB_QUERY	0
#define MB_PRIVATE	(1 << 3)
#define MB_SYNC_CORE	(1 << 5)
#define MB_RSEQ		(1 << 7)

/* Registered for: private expedited and sync-core, not rseq. */
static const struct {
	int cmd;
	const char *name;
	int registered;
} cmds[] = {
	{ MB_PRIVATE, "PRIVATE_EXPEDITED", 1 },
	{ MB_SYNC_CORE, "PRIVATE_EXPEDITED_SYNC_CORE", 1 },
	{ MB_RSEQ, "PRIVATE_EXPEDITED_RSEQ", 0 },
};
#define NR_CMDS	(sizeof(cmds) / sizeof(cmds[0]))

static long membarrier(int cmd)
{
	return syscall(__NR_membarrier, cmd, 0, 0);
}

static int oom_score_adj(int set)
{
	char buf[16] = "";
	int fd = open("/proc/self/oom_score_adj", O_RDWR), len, v = -2000;

	if (fd < 0)
		return v;
	if (set > -2000) {
		len = snprintf(buf, sizeof(buf), "%d", set);
		v = write(fd, buf, len) == len ? set : -2000;
	} else if (read(fd, buf, sizeof(buf) - 1) > 0) {
		v = atoi(buf);
	}
	close(fd);
	return v;
}

/* /proc/self/loginuid: set it to @set (unless -1), return what it is; -2 if unreadable. */
static long long loginuid(long long set)
{
	char buf[16] = "";
	int fd = open("/proc/self/loginuid", O_RDWR), len;
	long long v = -2;

	if (fd < 0)
		return v;
	if (set >= 0) {
		len = snprintf(buf, sizeof(buf), "%lld", set);
		v = write(fd, buf, len) == len ? set : -2;
	} else if (read(fd, buf, sizeof(buf) - 1) > 0) {
		v = atoll(buf);
	}
	close(fd);
	return v;
}

int main(int argc, char **argv)
{
	long supported;
	int adj, bad = 0;
	bool luid;

	test_init(argc, argv);
	if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0)) {
		fail("PR_SET_THP_DISABLE: %m");
		return test_result();
	}
	adj = oom_score_adj(-2000);
	if (adj == -2000 || adj + 123 > 1000 || oom_score_adj(adj + 123) != adj + 123) {
		fail("cannot raise oom_score_adj from %d", adj);
		return test_result();
	}
	adj += 123;
	supported = membarrier(MB_QUERY);
	for (size_t i = 0; supported > 0 && i < NR_CMDS; i++) {
		if ((supported & cmds[i].cmd) && cmds[i].registered &&
		    membarrier(cmds[i].cmd << 1)) {
			fail("register for %s: %m", cmds[i].name);
			return test_result();
		}
	}
	luid = loginuid(4242) == 4242;
	if (!luid)
		test_msg("loginuid cannot be set here: %m; not checked");

	test_ready();
	test_waitsig();

	if (prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) != 1) {
		fail("THP is not disabled any more");
		bad = 1;
	}
	if (oom_score_adj(-2000) != adj) {
		fail("oom_score_adj is %d, was %d", oom_score_adj(-2000), adj);
		bad = 1;
	}
	for (size_t i = 0; supported > 0 && i < NR_CMDS; i++) {
		long r;

		if (!(supported & cmds[i].cmd))
			continue;
		r = membarrier(cmds[i].cmd);
		if (cmds[i].registered && r) {
			fail("membarrier(%s) after restore: %m", cmds[i].name);
			bad = 1;
		} else if (!cmds[i].registered && !(r < 0 && errno == EPERM)) {
			fail("membarrier(%s) works without registration", cmds[i].name);
			bad = 1;
		}
	}
	if (luid && loginuid(-1) != 4242) {
		fail("loginuid is %lld, was 4242", loginuid(-1));
		bad = 1;
	}
	if (!bad)
		pass();
	return test_result();
}
