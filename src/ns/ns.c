/*
 * ns.c - the namespaces a task is in.
 *
 * Namespaces are not dumped yet: a task in a pid, net, mount, ipc, uts,
 * user, time or cgroup namespace other than stasis's own would come back
 * as an ordinary task of stasis's, silently different.  Until they are,
 * such a tree is refused, naming the task and the namespace.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "ns/ns.h"

static const char *const ns_names[] = {
	"pid", "net", "mnt", "ipc", "uts", "user", "time", "cgroup",
};

#define NR_NS	(sizeof(ns_names) / sizeof(ns_names[0]))

/* The inode of /proc/@pid/ns/@name (pid "self" when @pid is 0); 0 if the kernel has none. */
static int ns_ino(pid_t pid, const char *name, ino_t *ino)
{
	char path[64];
	struct stat st;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, name);
	else
		snprintf(path, sizeof(path), "/proc/self/ns/%s", name);
	if (stat(path, &st)) {
		if (errno == ENOENT) {
			*ino = 0;	/* a kernel without this namespace */
			return 0;
		}
		return -errno;
	}
	*ino = st.st_ino;
	return 0;
}

/*
 * stasis's own namespaces, read once: they cannot change during a dump
 * (stasis never calls setns), and a tree of many tasks would otherwise
 * look them up again for every task.
 */
static ino_t own_ino[NR_NS];
static bool own_read;

static int ns_own(void)
{
	for (size_t i = 0; !own_read && i < NR_NS; i++) {
		int ret = ns_ino(0, ns_names[i], &own_ino[i]);

		if (ret) {
			pr_err("cannot read stasis's own %s namespace: %s", ns_names[i],
			       strerror(-ret));
			return ret;
		}
	}
	own_read = true;
	return 0;
}

int ns_refuse_foreign(pid_t pid)
{
	int ret = ns_own();

	for (size_t i = 0; !ret && i < NR_NS; i++) {
		ino_t mine = own_ino[i], its = 0;

		ret = ns_ino(pid, ns_names[i], &its);
		if (ret) {
			pr_err("pid %d: cannot read its %s namespace: %s", pid, ns_names[i],
			       strerror(-ret));
			return ret;
		}
		if (mine != its) {
			pr_err("unsupported: pid %d is in another %s namespace than stasis "
			       "(namespaces are not dumped yet)", pid, ns_names[i]);
			return -ENOTSUP;
		}
	}
	return ret;
}
