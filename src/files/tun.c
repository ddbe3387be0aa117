/*
 * tun.c - tun and tap: the device (a kind of link of a net namespace,
 * net-link.c's table) and the files of /dev/net/tun attached to it (a
 * kind of fd), as CRIU keeps them: TunLinkEntry in the link's
 * netdev-ID.img entry, a TUNF entry in files.img with a REG twin of the
 * same id (the path and flags CRIU reopens).
 *
 * Dump: the device's type, flags, owner and group come from rtnetlink
 * (IFLA_TUN_*), its send buffer and virtio header size from a file
 * attached to it (the tree's, seen before the namespaces are written, or
 * one of stasis's for a persistent device nobody holds).
 *
 * Restore: the device is made persistent with its index, name and
 * settings while its namespace is filled; each file is opened in the
 * namespace it was opened in and attached again by name.  The first one
 * attached takes the persistence back from a device that had none.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/major.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>

#include "files/files.h"
#include "files/kind.h"
#include "fdinfo.pb-c.h"
#include "log.h"
#include "ns/net.h"
#include "ns/ns.h"
#include "rst-ctx.h"

#define TUN_PATH	"/dev/net/tun"
#define TUN_MINOR	200
/* What TUNSETIFF takes of a device's flags. */
#define TUN_IFF_MASK	(IFF_TUN | IFF_TAP | IFF_NO_PI | IFF_ONE_QUEUE | IFF_VNET_HDR | \
			 IFF_MULTI_QUEUE)
#define TUN_MAX		64

/*
 * The devices: at dump, what files of the tree told of theirs; at
 * restore, the ones made and their flags, for the files to attach.
 */
static struct tun_dev {
	uint32_t ns;
	char name[IFNAMSIZ];
	uint32_t flags;
	int sndbuf, vnethdr;
	bool unpersist;		/* restore: a device without persistence, made with it */
} devs[TUN_MAX];
static size_t nr_devs;

static struct tun_dev *dev_find(uint32_t ns, const char *name)
{
	for (size_t i = 0; i < nr_devs; i++)
		if (devs[i].ns == ns && !strcmp(devs[i].name, name))
			return &devs[i];
	return NULL;
}

/* A file's device: by its namespace, or by its name alone for an image without one. */
static struct tun_dev *dev_of(const TunfileEntry *tfe)
{
	struct tun_dev *d = tfe->has_ns_id ? dev_find(tfe->ns_id, tfe->netdev) : NULL;

	for (size_t i = 0; !d && !tfe->has_ns_id && i < nr_devs; i++)
		if (!strcmp(devs[i].name, tfe->netdev))
			d = &devs[i];
	return d;
}

static struct tun_dev *dev_add(uint32_t ns, const char *name)
{
	struct tun_dev *d = dev_find(ns, name);

	if (d || nr_devs == TUN_MAX)
		return d;
	d = &devs[nr_devs++];
	*d = (struct tun_dev){ .ns = ns };
	snprintf(d->name, sizeof(d->name), "%s", name);
	return d;
}

/* --- the files --- */

static int tun_match(struct dump_ctx *ctx, struct file_parms *p)
{
	(void)ctx;
	return S_ISCHR(p->st.st_mode) && major(p->st.st_rdev) == MISC_MAJOR &&
	       minor(p->st.st_rdev) == TUN_MINOR;
}

/* The tree's namespace file @lfd was opened in (its device's): its id, or 0. */
static uint32_t file_ns(int lfd)
{
	uint32_t id = 0;

	if (ns_net_sock_enter(lfd, &id))
		id = 0;
	ns_net_sock_leave();
	return id;
}

/* What only an attached file tells of device @name: kept for the link's dump. */
static void note_dev(int lfd, uint32_t ns, const char *name)
{
	struct tun_dev *d = dev_add(ns, name);

	if (!d || ioctl(lfd, TUNGETSNDBUF, &d->sndbuf) || ioctl(lfd, TUNGETVNETHDRSZ, &d->vnethdr))
		pr_warn("tun device %s: its send buffer and header size are not kept", name);
}

static int tun_dump(struct dump_ctx *ctx, struct file_parms *p, uint32_t id)
{
	TunfileEntry tfe = TUNFILE_ENTRY__INIT;
	FileEntry fe = FILE_ENTRY__INIT;
	struct ifreq ifr;
	int ret;

	if (!ns_dump_has(CLONE_NEWNET)) {
		/* Its device would be made in stasis's own namespace. */
		pr_err("unsupported: pid %d fd %d is a tun file of a tree without a net "
		       "namespace of its own", p->pid, p->fd);
		return -ENOTSUP;
	}
	tfe.id = id;
	tfe.ns_id = file_ns(p->lfd);
	tfe.has_ns_id = tfe.ns_id != 0;
	memset(&ifr, 0, sizeof(ifr));
	if (!ioctl(p->lfd, TUNGETIFF, &ifr)) {
		tfe.netdev = ifr.ifr_name;
		tfe.has_detached = !!(ifr.ifr_flags & IFF_DETACH_QUEUE);
		tfe.detached = tfe.has_detached;
		note_dev(p->lfd, tfe.ns_id, ifr.ifr_name);
		pr_info("pid %d fd %d: tun file on %s%s", p->pid, p->fd, ifr.ifr_name,
			tfe.detached ? ", its queue detached" : "");
	} else if (errno != EBADFD) {
		pr_perror("pid %d fd %d: cannot tell the tun device it is on", p->pid, p->fd);
		return -errno;
	}
	/* CRIU reopens the REG entry of the same id, then attaches it. */
	ret = reg_fd_kind.dump(ctx, p, id);
	fe.type = FD_TYPES__TUNF;
	fe.id = id;
	fe.tunf = &tfe;
	return ret ?: img_write_msg(ctx->files_img, &fe.base);
}

static void tun_dump_cleanup(struct dump_ctx *ctx)
{
	(void)ctx;
	nr_devs = 0;
}

static int tun_open(struct rst_ctx *ctx, struct rst_file *f)
{
	const TunfileEntry *tfe = f->fe->tunf;
	uint32_t flags = f->fe->reg ? f->fe->reg->flags : O_RDWR;
	struct tun_dev *d = NULL;
	struct ifreq ifr;
	int fd;

	if (tfe->netdev) {
		d = dev_of(tfe);
		if (!d) {
			pr_err("tun file %u: its device %s was not restored", tfe->id, tfe->netdev);
			return -ENOENT;
		}
	}
	fd = open(TUN_PATH, (flags & ~(O_CREAT | O_EXCL | O_TRUNC)) | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("tun file %u: cannot open " TUN_PATH, tfe->id);
		return -errno;
	}
	if (!d)
		return rst_pool_add(ctx, fd);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", d->name);
	ifr.ifr_flags = d->flags & TUN_IFF_MASK;
	if (ioctl(fd, TUNSETIFF, &ifr))
		goto err;
	ifr.ifr_flags = IFF_DETACH_QUEUE;
	if (tfe->detached && ioctl(fd, TUNSETQUEUE, &ifr))
		goto err;
	if (d->unpersist && ioctl(fd, TUNSETPERSIST, 0))
		goto err;
	d->unpersist = false;
	return rst_pool_add(ctx, fd);
err:
	pr_perror("tun file %u: cannot attach it to %s again", tfe->id, d->name);
	close(fd);
	return -errno;
}

static void tun_restore_cleanup(struct rst_ctx *ctx)
{
	(void)ctx;
	nr_devs = 0;
}

static const void *tun_part(const FileEntry *fe)
{
	return fe->tunf;
}

static uint32_t tun_net_ns(const FileEntry *fe)
{
	return fe->tunf->has_ns_id ? fe->tunf->ns_id : 0;
}

const struct fd_kind tun_fd_kind = {
	.name = "tun file",
	.type = FD_TYPES__TUNF,
	.match = tun_match,
	.dump = tun_dump,
	.dump_cleanup = tun_dump_cleanup,
	.part = tun_part,
	.net_ns = tun_net_ns,
	.open = tun_open,
	.restore_cleanup = tun_restore_cleanup,
};

/* --- the device --- */

/* Its send buffer and header size from a file of stasis's: a persistent device nobody holds. */
static void own_file(TunLinkEntry *t, const char *name)
{
	struct ifreq ifr;
	int fd = open(TUN_PATH, O_RDWR | O_CLOEXEC), v;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = t->flags & TUN_IFF_MASK;
	if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr)) {
		pr_warn("tun device %s: no file of the tree on it and none of ours: its send "
			"buffer and header size are the defaults", name);
	} else {
		if (!ioctl(fd, TUNGETSNDBUF, &v))
			t->sndbuf = v;
		if (!ioctl(fd, TUNGETVNETHDRSZ, &v))
			t->vnethdr = v;
	}
	if (fd >= 0)
		close(fd);
}

int tun_link_dump(int sk, struct link *k, NetDeviceEntry *e, uint32_t id)
{
	TunLinkEntry *t = &k->tun;
	int len = k->data_len;
	const struct tun_dev *d;
	bool pi = true;

	(void)sk;
	tun_link_entry__init(t);
	t->owner = t->group = -1;
	t->sndbuf = INT_MAX;
	t->vnethdr = sizeof(struct virtio_net_hdr);
	for (struct rtattr *a = (void *)k->data; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		uint32_t v = RTA_PAYLOAD(a) >= 4 ? *(uint32_t *)RTA_DATA(a) :
			     RTA_PAYLOAD(a) ? *(uint8_t *)RTA_DATA(a) : 0;

		if (a->rta_type == IFLA_TUN_OWNER)
			t->owner = v;
		else if (a->rta_type == IFLA_TUN_GROUP)
			t->group = v;
		else if (a->rta_type == IFLA_TUN_TYPE)
			t->flags |= v & (IFF_TUN | IFF_TAP);
		else if (a->rta_type == IFLA_TUN_PI)
			pi = v;
		else if (a->rta_type == IFLA_TUN_VNET_HDR && v)
			t->flags |= IFF_VNET_HDR;
		else if (a->rta_type == IFLA_TUN_PERSIST && v)
			t->flags |= IFF_PERSIST;
		else if (a->rta_type == IFLA_TUN_MULTI_QUEUE && v)
			t->flags |= IFF_MULTI_QUEUE;
	}
	if (!(t->flags & (IFF_TUN | IFF_TAP))) {
		pr_err("net namespace %u: tun device %s: the kernel gave no type", id, k->name);
		return -EIO;
	}
	if (!pi)
		t->flags |= IFF_NO_PI;
	d = dev_find(id, k->name);
	if (d) {
		t->sndbuf = d->sndbuf;
		t->vnethdr = d->vnethdr;
	} else {
		own_file(t, k->name);
	}
	e->tun = t;
	return 0;
}

/* The device made again, persistent, with its index, name and settings. */
static int make_dev(const NetDeviceEntry *e)
{
	const TunLinkEntry *t = e->tun;
	int fd, index = e->ifindex, sndbuf = t->sndbuf, vnethdr = t->vnethdr, ret = 0;
	struct ifreq ifr;

	fd = open(TUN_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("tun device %s: cannot open " TUN_PATH, e->name);
		return -errno;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", e->name);
	ifr.ifr_flags = t->flags & TUN_IFF_MASK;
	if (ioctl(fd, TUNSETIFINDEX, &index) || ioctl(fd, TUNSETIFF, &ifr) ||
	    (t->owner != -1 && ioctl(fd, TUNSETOWNER, (unsigned long)t->owner)) ||
	    (t->group != -1 && ioctl(fd, TUNSETGROUP, (unsigned long)t->group)) ||
	    ioctl(fd, TUNSETSNDBUF, &sndbuf) || ioctl(fd, TUNSETVNETHDRSZ, &vnethdr) ||
	    ioctl(fd, TUNSETPERSIST, 1UL)) {
		pr_perror("tun device %s: cannot make it again", e->name);
		ret = -errno;
	}
	close(fd);
	return ret;
}

int tun_link_restore(struct link_rst *r, size_t i)
{
	const NetDeviceEntry *e = r->l[i];
	struct tun_dev *d;
	int ret;

	if (!e->tun) {
		pr_err("netdev-%u.img: tun device %s without its settings", r->id, e->name);
		return -EINVAL;
	}
	d = dev_add(r->id, e->name);
	if (!d) {
		pr_err("unsupported: more than %d tun devices", TUN_MAX);
		return -ENOTSUP;
	}
	d->flags = e->tun->flags;
	d->unpersist = !(e->tun->flags & IFF_PERSIST);
	ret = make_dev(e) ?: net_link_set(r, e);
	if (ret)
		pr_err("net namespace %u: cannot restore tun device %s: %s", r->id, e->name,
		       strerror(-ret));
	return ret;
}
