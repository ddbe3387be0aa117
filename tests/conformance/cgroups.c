/*
 * cgroups.c - a process and one of its threads in cgroups of their own.
 *
 * Sets up, before READY, under /tmp/stasis-cgtest (a fixed place, so that
 * tests/restore/cgroup-rmdir.sh can remove the cgroups between a dump and
 * a restore and the restore has to make them again):
 *   - v1/: a named cgroup v1 hierarchy, name=stasis_cgtest, with
 *     /a (mode 0750) holding the process, /a/th holding one thread, and
 *     /a/empty/deeper holding nothing (as CRIU, the cgroups dumped are
 *     those under the tasks' own);
 *   - v2/: the cgroup v2 hierarchy, with /stasis-cgtest/x holding the
 *     process, its cgroup.max.descendants 7 and cgroup.max.depth 3.
 * A hierarchy this machine cannot mount is left out, and said; with
 * neither the test skips.
 *
 * Checks after SIGTERM: the process and the thread in those cgroups, the
 * empty ones there, the mode and the two properties as set.  Then it
 * leaves them (back to each root), removes them and unmounts.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "stasis_test.h"

#define BASE	"/tmp/stasis-cgtest"
#define V1	BASE "/v1"
#define V2	BASE "/v2"

static bool have_v1, have_v2;
static atomic_int th_tid, th_moved, th_stop;

/* Leftovers of an earlier run, deepest first; errors do not matter. */
static const char *const dirs[] = {
	V1 "/a/th", V1 "/a/empty/deeper", V1 "/a/empty", V1 "/a", V1 "/moved/th",
	V1 "/moved/empty/deeper", V1 "/moved/empty", V1 "/moved",
	V2 "/stasis-cgtest/x", V2 "/stasis-cgtest", V2 "/moved",
};

/* Those under @top (V1, V2). */
static void clean(const char *top)
{
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (!strncmp(dirs[i], top, strlen(top)))
			rmdir(dirs[i]);
}

static void *thread(void *arg)
{
	char tid[16];

	(void)arg;
	atomic_store(&th_tid, (int)syscall(SYS_gettid));
	snprintf(tid, sizeof(tid), "%d", atomic_load(&th_tid));
	/* A thread id in tasks moves that thread alone. */
	atomic_store(&th_moved, test_write_file(V1 "/a/th/tasks", tid) ? -errno : 1);
	while (!atomic_load(&th_stop))
		usleep(10000);
	test_write_file(V1 "/tasks", "0");
	return NULL;
}

static int setup_v1(void)
{
	if (mount("none", V1, "cgroup", 0, "none,name=stasis_cgtest")) {
		test_msg("no named cgroup v1 hierarchy here: %m");
		return 0;
	}
	have_v1 = true;
	test_write_file(V1 "/cgroup.procs", "0");
	clean(V1);
	if (mkdir(V1 "/a", 0750) || chmod(V1 "/a", 0750) || mkdir(V1 "/a/th", 0755) ||
	    mkdir(V1 "/a/empty", 0755) || mkdir(V1 "/a/empty/deeper", 0755)) {
		fail("mkdir in " V1 ": %m");
		return -1;
	}
	if (test_write_file(V1 "/a/cgroup.procs", "0")) {
		fail("cannot enter " V1 "/a: %m");
		return -1;
	}
	return 0;
}

static int setup_v2(void)
{
	if (mount("none", V2, "cgroup2", 0, NULL)) {
		test_msg("no cgroup v2 hierarchy here: %m");
		return 0;
	}
	have_v2 = true;
	clean(V2);
	if (mkdir(V2 "/stasis-cgtest", 0755) || mkdir(V2 "/stasis-cgtest/x", 0755)) {
		fail("mkdir in " V2 ": %m");
		return -1;
	}
	if (test_write_file(V2 "/stasis-cgtest/x/cgroup.max.descendants", "7") ||
	    test_write_file(V2 "/stasis-cgtest/x/cgroup.max.depth", "3") ||
	    test_write_file(V2 "/stasis-cgtest/x/cgroup.procs", "0")) {
		fail("cannot set up " V2 "/stasis-cgtest/x: %m");
		return -1;
	}
	return 0;
}

/* Is @file's line for hierarchy @name ("name=stasis_cgtest", "") at @want? */
static void check_member(const char *file, const char *name, const char *want)
{
	char line[512];
	FILE *f = fopen(file, "r");
	bool found = false;

	if (!f) {
		fail("cannot open %s: %m", file);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		char *n = strchr(line, ':'), *p = n ? strchr(n + 1, ':') : NULL;

		if (!p)
			continue;
		*p++ = '\0';
		p[strcspn(p, "\n")] = '\0';
		if (strcmp(n + 1, name))
			continue;
		found = true;
		if (strcmp(p, want))
			fail("%s: %s is %s, want %s", file, name[0] ? name : "cgroup v2", p, want);
	}
	fclose(f);
	if (!found)
		fail("%s: no %s line", file, name[0] ? name : "cgroup v2");
}

static void check(void)
{
	char path[96], buf[64];
	struct stat st;

	if (have_v1) {
		check_member("/proc/self/cgroup", "name=stasis_cgtest", "/a");
		snprintf(path, sizeof(path), "/proc/self/task/%d/cgroup", atomic_load(&th_tid));
		check_member(path, "name=stasis_cgtest", "/a/th");
		if (stat(V1 "/a/empty/deeper", &st) || !S_ISDIR(st.st_mode))
			fail("the empty cgroup " V1 "/a/empty/deeper is gone");
		if (stat(V1 "/a", &st) || (st.st_mode & 07777) != 0750)
			fail(V1 "/a: mode %o, want 750", st.st_mode & 07777);
	}
	if (have_v2) {
		check_member("/proc/self/cgroup", "", "/stasis-cgtest/x");
		test_read_line(V2 "/stasis-cgtest/x/cgroup.max.descendants", buf, sizeof(buf));
		if (strcmp(buf, "7"))
			fail("cgroup.max.descendants is \"%s\", want 7", buf);
		test_read_line(V2 "/stasis-cgtest/x/cgroup.max.depth", buf, sizeof(buf));
		if (strcmp(buf, "3"))
			fail("cgroup.max.depth is \"%s\", want 3", buf);
	}
}

int main(int argc, char **argv)
{
	pthread_t th;
	bool started = false;

	test_init(argc, argv);
	umount2(V1, MNT_DETACH);
	umount2(V2, MNT_DETACH);
	mkdir(BASE, 0755);
	mkdir(V1, 0755);
	mkdir(V2, 0755);
	if (setup_v1() || setup_v2())
		goto out;
	if (!have_v1 && !have_v2) {
		skip("this machine mounts neither a named cgroup v1 hierarchy nor cgroup v2");
		goto out;
	}
	if (have_v1) {
		if (pthread_create(&th, NULL, thread, NULL)) {
			fail("pthread_create: %m");
			goto out;
		}
		started = true;
		while (!atomic_load(&th_moved))
			usleep(1000);
		if (atomic_load(&th_moved) < 0) {
			fail("the thread cannot enter " V1 "/a/th: %s", strerror(-atomic_load(&th_moved)));
			goto out;
		}
	}
	test_ready();
	test_waitsig();
	check();
	pass();
out:
	if (started) {
		atomic_store(&th_stop, 1);
		pthread_join(th, NULL);
	}
	if (have_v1)
		test_write_file(V1 "/cgroup.procs", "0");
	if (have_v2)
		test_write_file(V2 "/cgroup.procs", "0");
	clean(V1);
	clean(V2);
	umount2(V1, MNT_DETACH);
	umount2(V2, MNT_DETACH);
	rmdir(V1);
	rmdir(V2);
	rmdir(BASE);
	return test_result();
}
