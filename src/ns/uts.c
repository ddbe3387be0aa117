/*
 * uts.c - a UTS namespace: its host and domain names (utsns-ID.img).
 */
#include <errno.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <sched.h>

#include "dump.h"
#include "log.h"
#include "ns/ns.h"
#include "restore.h"
#include "utsns.pb-c.h"

/* stasis is in the namespace: its own names are the namespace's. */
static int uts_dump(struct dump_ctx *ctx, uint32_t id)
{
	struct utsname u;
	UtsnsEntry e;

	if (uname(&u)) {
		pr_perror("uts namespace %u: uname", id);
		return -errno;
	}
	utsns_entry__init(&e);
	e.nodename = u.nodename;
	e.domainname = u.domainname;
	pr_info("uts namespace %u: host name \"%s\", domain name \"%s\"", id, u.nodename,
		u.domainname);
	return img_write_one(ctx->dirfd, IMG_UTSNS, id, &e.base);
}

static int uts_restore(struct rst_ctx *ctx, uint32_t id)
{
	UtsnsEntry *e;
	int ret;

	ret = img_read_one(ctx->dirfd, IMG_UTSNS, id, &utsns_entry__descriptor,
			   (ProtobufCMessage **)&e);
	if (ret == -ENOENT)
		pr_err("utsns-%u.img: missing, named by the root's ids", id);
	if (ret)
		return ret;
	if (sethostname(e->nodename, strlen(e->nodename)) ||
	    setdomainname(e->domainname, strlen(e->domainname))) {
		pr_perror("uts namespace %u: cannot set the names \"%s\", \"%s\"", id, e->nodename,
			  e->domainname);
		ret = -errno;
	}
	img_free_msg(&e->base);
	return ret;
}

const struct ns_operations uts_ns_ops = {
	.name = "uts",
	.cflag = CLONE_NEWUTS,
	.dump = uts_dump,
	.restore = uts_restore,
};
