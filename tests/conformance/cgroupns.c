/*
 * cgroupns.c - a tree in a cgroup namespace of its own, rooted below the
 * hierarchy's root.
 *
 * Sets up, before READY, in a named cgroup v1 hierarchy
 * (name=stasis_cgnstest, mounted on /tmp/stasis-cgnstest before anything
 * else, so that it shows every cgroup from the hierarchy's root):
 *   - the process enters /nsroot, unshares its cgroup namespace there,
 *     then enters /nsroot/inner;
 *   - a child, forked after, enters /nsroot/kid (a "stray" cgroup of the
 *     same namespace).
 * Checks after SIGTERM, each process itself: /proc/self/cgroup says
 * /inner (and /kid): the namespace is still rooted at /nsroot; the mount
 * says /nsroot/inner (/nsroot/kid) holds it; the namespace is not the one
 * the runner is in.  Then it leaves, removes the cgroups and unmounts.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stasis_test.h"

#define BASE	"/tmp/stasis-cgnstest"
#define NAME	"name=stasis_cgnstest"

static void clean(void)
{
	rmdir(BASE "/nsroot/inner");
	rmdir(BASE "/nsroot/kid");
	rmdir(BASE "/nsroot");
}

/* Our line of the hierarchy in /proc/self/cgroup, into @buf. */
static void own_path(char *buf, size_t size)
{
	char line[512];
	FILE *f = fopen("/proc/self/cgroup", "r");

	buf[0] = '\0';
	while (f && fgets(line, sizeof(line), f)) {
		char *n = strchr(line, ':'), *p = n ? strchr(n + 1, ':') : NULL;

		if (!p)
			continue;
		*p++ = '\0';
		if (!strcmp(n + 1, NAME)) {
			p[strcspn(p, "\n")] = '\0';
			snprintf(buf, size, "%s", p);
		}
	}
	if (f)
		fclose(f);
}

/* Does cgroup @dir (under the mount) list our pid? */
static bool holds_me(const char *dir)
{
	char path[128], line[32];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), BASE "%s/cgroup.procs", dir);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		found |= atoi(line) == getpid();
	if (f)
		fclose(f);
	return found;
}

static void check(const char *inside, const char *outside, ino_t runner_ns)
{
	char buf[256];
	struct stat st;

	own_path(buf, sizeof(buf));
	if (strcmp(buf, inside))
		fail("pid %d: /proc/self/cgroup says %s, want %s", getpid(), buf, inside);
	if (!holds_me(outside))
		fail("pid %d: cgroup %s does not hold it", getpid(), outside);
	if (stat("/proc/self/ns/cgroup", &st) || st.st_ino == runner_ns)
		fail("pid %d: in the runner's cgroup namespace", getpid());
}

int main(int argc, char **argv)
{
	struct stat st;
	ino_t runner_ns;
	pid_t kid;
	int status;

	test_init(argc, argv);
	if (stat("/proc/self/ns/cgroup", &st)) {
		skip("no cgroup namespaces on this kernel");
		return test_result();
	}
	runner_ns = st.st_ino;
	umount2(BASE, MNT_DETACH);
	mkdir(BASE, 0755);
	if (mount("none", BASE, "cgroup", 0, "none," NAME)) {
		skip("no named cgroup v1 hierarchy here: %m");
		rmdir(BASE);
		return test_result();
	}
	test_write_file(BASE "/cgroup.procs", "0");
	clean();
	if (mkdir(BASE "/nsroot", 0755) || mkdir(BASE "/nsroot/inner", 0755) ||
	    mkdir(BASE "/nsroot/kid", 0755) || test_write_file(BASE "/nsroot/cgroup.procs", "0") ||
	    unshare(CLONE_NEWCGROUP) || test_write_file(BASE "/nsroot/inner/cgroup.procs", "0")) {
		fail("cannot set up the namespace: %m");
		goto out;
	}
	kid = fork();
	if (kid < 0) {
		fail("fork: %m");
		goto out;
	}
	if (kid == 0) {
		if (test_write_file(BASE "/nsroot/kid/cgroup.procs", "0"))
			fail("the child cannot enter /nsroot/kid: %m");
		test_waitsig();
		check("/kid", "/nsroot/kid", runner_ns);
		_exit(0);
	}
	/* READY only once the child is where it goes. */
	for (int i = 0; i < 5000; i++) {
		char path[64], buf[256] = "";
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/cgroup", kid);
		f = fopen(path, "r");
		if (f) {
			size_t n = fread(buf, 1, sizeof(buf) - 1, f);

			buf[n] = '\0';
			fclose(f);
		}
		if (strstr(buf, NAME ":/kid"))
			break;
		usleep(1000);
	}
	test_ready();
	test_waitsig();
	check("/inner", "/nsroot/inner", runner_ns);
	kill(kid, SIGTERM);
	if (waitpid(kid, &status, 0) != kid || !WIFEXITED(status))
		fail("the child did not end well");
	pass();
out:
	test_write_file(BASE "/cgroup.procs", "0");
	clean();
	umount2(BASE, MNT_DETACH);
	rmdir(BASE);
	return test_result();
}
