/*
 * nsfile.c - an open namespace file (/proc/PID/ns/NAME).
 *
 * Until namespaces are dumped, every task of a tree is in stasis's own
 * namespaces (ns/ns.c refuses others), and so may be a namespace file it
 * holds: that one is opened again from stasis's /proc/self/ns at restore,
 * as the same namespace the restored tree lives in.  A file of any other
 * namespace is refused by name.
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

static int nsfile_dump(struct dump_ctx *ctx, struct file_parms *p, uint32_t id)
{
	NsFileEntry nfe = NS_FILE_ENTRY__INIT;
	FileEntry fe = FILE_ENTRY__INIT;
	char own[64];
	struct stat st;
	int k = kind_of_link(p->link);

	(void)ctx;
	if (k < 0) {
		pr_err("unsupported: pid %d fd %d is a namespace file of an unknown kind (%s)",
		       p->pid, p->fd, p->link);
		return -ENOTSUP;
	}
	snprintf(own, sizeof(own), "/proc/self/ns/%s", ns_kinds[k].name);
	if (stat(own, &st) || st.st_ino != p->st.st_ino || st.st_dev != p->st.st_dev) {
		pr_err("unsupported: pid %d fd %d is %s, not stasis's own %s namespace (namespaces are not dumped yet)",
		       p->pid, p->fd, p->link, ns_kinds[k].name);
		return -ENOTSUP;
	}
	nfe.id = id;
	nfe.ns_id = pstree_own_ns_id(ns_kinds[k].name);
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
	char path[64];
	int fd;

	if (k < 0) {
		pr_err("namespace file id %u: unknown namespace kind %#x", f->fe->id, nfe->ns_cflag);
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "/proc/self/ns/%s", ns_kinds[k].name);
	fd = open(path, rst_open_flags(nfe->flags) | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("namespace file id %u: cannot open %s", f->fe->id, path);
		return -errno;
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
