/*
 * ns.c - the namespaces a task is in.
 *
 * Namespaces are not dumped yet: a task in a pid, net, mount, ipc, uts,
 * user, time or cgroup namespace other than stasis's own would come back
 * as an ordinary task of stasis's, silently different.  Until they are,
 * such a tree is refused, naming the task and the namespace.
 */
#include <errno.h>
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

int ns_refuse_foreign(pid_t pid)
{
	for (size_t i = 0; i < NR_NS; i++) {
		ino_t mine = 0, its = 0;
		int ret = ns_ino(0, ns_names[i], &mine) ?: ns_ino(pid, ns_names[i], &its);

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
	return 0;
}
