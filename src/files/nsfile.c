/*
 * nsfile.c - an open namespace file (/proc/PID/ns/NAME).
 *
 * A file of stasis's own namespace, or of the root's own one of a kind
 * stasis dumps (ns/ns.c), is kept by its namespace's id, as CRIU does, and
 * opened again at restore while the pool is made: the tree's new
 * namespace then, or stasis's own.  A file of any other namespace (or of
 * the tree's pid namespace, made only with the root) is refused by name.
 */
#include <linux/magic.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "files/files.h"
#include "files/kind.h"
#include "ns.pb-c.h"
#include "fdinfo.pb-c.h"
#include "log.h"
#include "ns/ns.h"
#include "pstree.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME	0x00000080
#endif

static const struct {
	const char *name;
	uint32_t cflag;
} ns_kinds[] = {
	{ "net", CLONE_NEWNET }, { "mnt", CLONE_NEWNS }, { "pid", CLONE_NEWPID },
	{ "ipc", CLONE_NEWIPC }, { "uts", CLONE_NEWUTS }, { "user", CLONE_NEWUSER },
	{ "cgroup", CLONE_NEWCGROUP }, { "time", CLONE_NEWTIME },
};

#define NR_KINDS	(sizeof(ns_kinds) / sizeof(ns_kinds[0]))

/* Which kind "@link" ("net:[4026531840]") is; -1 if none. */
static int kind_of_link(const char *link)
{
	for (size_t i = 0; i < NR_KINDS; i++) {
		size_t n = strlen(ns_kinds[i].name);

		if (!strncmp(link, ns_kinds[i].name, n) && !strncmp(link + n, ":[", 2))
			return i;
	}
	return -1;
}

static int kind_of_cflag(uint32_t cflag)
{
	for (size_t i = 0; i < NR_KINDS; i++)
		if (ns_kinds[i].cflag == cflag)
			return i;
	return -1;
}

/* Is @st task @pid's namespace @name? */
static bool same_ns(pid_t pid, const char *name, const struct stat *st)
{
	char path[64];
	struct stat its;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, name);
	return !stat(path, &its) && its.st_ino == st->st_ino && its.st_dev == st->st_dev;
}

static int nsfile_dump(struct dump_ctx *ctx, struct file_parms *p, uint32_t id)
{
	NsFileEntry nfe = NS_FILE_ENTRY__INIT;
	FileEntry fe = FILE_ENTRY__INIT;
	char own[64];
	struct stat st;
	int k = kind_of_link(p->link);

	if (k < 0) {
		pr_err("unsupported: pid %d fd %d is a namespace file of an unknown kind (%s)",
		       p->pid, p->fd, p->link);
		return -ENOTSUP;
	}
	snprintf(own, sizeof(own), "/proc/self/ns/%s", ns_kinds[k].name);
	if (!stat(own, &st) && st.st_ino == p->st.st_ino && st.st_dev == p->st.st_dev) {
		nfe.ns_id = pstree_own_ns_id(ns_kinds[k].name);
	} else if (ns_kinds[k].cflag != CLONE_NEWPID && ns_dump_has(ns_kinds[k].cflag) &&
		   same_ns(ctx->tasks[0].pid, ns_kinds[k].name, &p->st)) {
		nfe.ns_id = pstree_ns_id(ctx->tasks[0].pid, ns_kinds[k].name);
	} else {
		pr_err("unsupported: pid %d fd %d is %s, neither stasis's own %s namespace nor "
		       "the tree's", p->pid, p->fd, p->link, ns_kinds[k].name);
		return -ENOTSUP;
	}
	nfe.id = id;
	nfe.ns_cflag = ns_kinds[k].cflag;
	nfe.flags = p->flags;
	fe.type = FD_TYPES__NS;
	fe.id = id;
	fe.nsf = &nfe;
	return img_write_msg(ctx->files_img, &fe.base);
}

static int nsfile_restore_open(struct rst_ctx *ctx, struct rst_file *f)
{
	const NsFileEntry *nfe = f->fe->nsf;
	int k = kind_of_cflag(nfe->ns_cflag);
	int fd;

	if (k < 0) {
		pr_err("namespace file id %u: unknown namespace kind %#x", f->fe->id, nfe->ns_cflag);
		return -EINVAL;
	}
	fd = ns_restore_open(ns_kinds[k].name, nfe->ns_cflag, nfe->ns_id,
			     rst_open_flags(nfe->flags));
	if (fd < 0) {
		pr_err("namespace file id %u: cannot be opened", f->fe->id);
		return fd;
	}
	return rst_pool_add(ctx, fd);
}

static int nsfile_match(struct dump_ctx *ctx, struct file_parms *p)
{
	(void)ctx;
	return p->fs_type == NSFS_MAGIC;
}

static const void *nsfile_part(const FileEntry *fe)
{
	return fe->nsf;
}

const struct fd_kind nsfile_fd_kind = {
	.name = "namespace file",
	.type = FD_TYPES__NS,
	.match = nsfile_match,
	.dump = nsfile_dump,
	.part = nsfile_part,
	.open = nsfile_restore_open,
};
