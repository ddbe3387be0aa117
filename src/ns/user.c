/*
 * user.c - a user namespace: the root's own, with its uid and gid maps
 * (userns-ID.img).
 *
 * As CRIU, every id that goes into an image (creds, loginuid, the owners
 * of ghost files, memfds, terminals, unix socket files, SysV objects) is
 * the one the tree sees, inside its user namespace; every id stasis acts
 * on is its own.  Dump reads the maps first of all (ns_dump_check), so
 * the parts translate what they read from /proc (userns_dump_uid/gid);
 * restore translates back what the controller does from outside
 * (userns_host_uid/gid).
 *
 * Restore: the user namespace must own every other namespace of the tree
 * (a proc mount wants CAP_SYS_ADMIN where the pid namespace belongs, a
 * host name where the uts namespace does), so it is made first and the
 * others are made from inside it.  The controller cannot do that itself:
 * once in a child user namespace, nothing brings it back out.  It forks a
 * helper that unshares CLONE_NEWUSER, writes the helper's maps from
 * outside, lets it unshare the other kinds, and then joins those
 * namespaces with setns() but for the user one: being root of the parent
 * user namespace, it holds every capability there.  A pid namespace can
 * be joined only once it has an init, and must be made inside the user
 * namespace too: so the root is cloned (CLONE_NEWPID, pid 1) by a fork of
 * the controller that has entered the user namespace, with CLONE_PARENT,
 * so that it is the controller's child all the same.  Its children are
 * forked inside, and the restorer sets their creds as the namespace sees
 * them.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/fsuid.h>
#include <linux/securebits.h>
#include <unistd.h>

#include "dump.h"
#include "log.h"
#include "ns/ns.h"
#include "restore.h"
#include "userns.pb-c.h"

#define INVALID_ID	(~0U)
#define MAX_EXTENTS	340	/* the kernel's own limit on a map */

struct id_map {
	UidGidExtent ext[MAX_EXTENTS];
	size_t n;
};

/* The root's maps, at dump and at restore; n == 0 and !active: identity. */
static struct id_map uid_map, gid_map;
static bool active;
/* At restore: the new user namespace, for the root to enter (service fd). */
static int user_fd = -1;
/* At dump: the root, whose user namespace it is. */
static pid_t dump_root;

static uint32_t to_inner(const struct id_map *m, uint32_t id)
{
	if (!active)
		return id;
	for (size_t i = 0; i < m->n; i++) {
		const UidGidExtent *e = &m->ext[i];

		if (id >= e->lower_first && id - e->lower_first < e->count)
			return e->first + (id - e->lower_first);
	}
	return INVALID_ID;
}

static uint32_t to_outer(const struct id_map *m, uint32_t id)
{
	if (!active)
		return id;
	for (size_t i = 0; i < m->n; i++) {
		const UidGidExtent *e = &m->ext[i];

		if (id >= e->first && id - e->first < e->count)
			return e->lower_first + (id - e->first);
	}
	return INVALID_ID;
}

uint32_t userns_dump_uid(uint32_t uid)
{
	return to_inner(&uid_map, uid);
}

uint32_t userns_dump_gid(uint32_t gid)
{
	return to_inner(&gid_map, gid);
}

uint32_t userns_host_uid(uint32_t uid)
{
	return to_outer(&uid_map, uid);
}

uint32_t userns_host_gid(uint32_t gid)
{
	return to_outer(&gid_map, gid);
}

char *userns_mount_opts(const char *opts, bool to_host)
{
	/* Each id may grow to 10 digits. */
	size_t size = strlen(opts) * 2 + 64, len = 0;
	char *out = malloc(size), *copy = strdup(opts), *p = copy, *o;

	if (!out || !copy) {
		free(out);
		free(copy);
		return NULL;
	}
	out[0] = '\0';
	while ((o = strsep(&p, ","))) {
		unsigned int id;
		char c;
		bool uid = sscanf(o, "uid=%u%c", &id, &c) == 1, gid = sscanf(o, "gid=%u%c", &id, &c) == 1;

		if (len + strlen(o) + 16 > size)
			break;	/* cannot happen: every option is copied at most twice as long */
		if (uid || gid)
			id = uid ? (to_host ? userns_host_uid(id) : userns_dump_uid(id)) :
				   (to_host ? userns_host_gid(id) : userns_dump_gid(id));
		if (uid || gid)
			len += snprintf(out + len, size - len, "%s%s=%u", len ? "," : "",
					uid ? "uid" : "gid", id);
		else
			len += snprintf(out + len, size - len, "%s%s", len ? "," : "", o);
	}
	free(copy);
	return out;
}

int userns_enter_as_root(void)
{
	char path[64];
	int fd = user_fd;

	if (!active)
		return 0;
	if (fd < 0) {
		snprintf(path, sizeof(path), "/proc/%d/ns/user", dump_root);
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0 || setns(fd, CLONE_NEWUSER)) {
		pr_perror("cannot enter the tree's user namespace");
		return -errno;
	}
	/* A namespace made with setgroups denied refuses it: no groups to drop then. */
	setgroups(0, NULL);
	if (setresgid(0, 0, 0) || setresuid(0, 0, 0)) {
		pr_perror("cannot become root of the tree's user namespace");
		return -errno;
	}
	return 0;
}

/* /proc/@pid/@name ("uid_map") into @m. */
static int read_map(pid_t pid, const char *name, struct id_map *m)
{
	char path[64];
	unsigned int first, lower, count;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	f = fopen(path, "re");
	if (!f) {
		pr_perror("cannot open %s", path);
		return -errno;
	}
	m->n = 0;
	while (fscanf(f, "%u %u %u", &first, &lower, &count) == 3) {
		if (m->n == MAX_EXTENTS) {
			pr_err("%s: more than %d extents", path, MAX_EXTENTS);
			fclose(f);
			return -E2BIG;
		}
		uid_gid_extent__init(&m->ext[m->n]);
		m->ext[m->n].first = first;
		m->ext[m->n].lower_first = lower;
		m->ext[m->n].count = count;
		pr_info("%s: %u %u %u", path, first, lower, count);
		m->n++;
	}
	fclose(f);
	return 0;
}

int userns_dump_collect(pid_t root, bool own)
{
	int ret;

	dump_root = root;
	active = false;
	uid_map.n = gid_map.n = 0;
	if (!own)
		return 0;
	ret = read_map(root, "uid_map", &uid_map) ?: read_map(root, "gid_map", &gid_map);
	if (!ret)
		active = true;
	return ret;
}

/* The maps of @m as the image's repeated field (pointers into @m). */
static UidGidExtent **extents(struct id_map *m)
{
	UidGidExtent **v = calloc(m->n + 1, sizeof(*v));

	for (size_t i = 0; v && i < m->n; i++)
		v[i] = &m->ext[i];
	return v;
}

/* Called outside (dump_outside): entering a user namespace has no way back. */
static int user_dump(struct dump_ctx *ctx, uint32_t id)
{
	UsernsEntry e;
	int ret;

	userns_entry__init(&e);
	e.n_uid_map = uid_map.n;
	e.n_gid_map = gid_map.n;
	e.uid_map = extents(&uid_map);
	e.gid_map = extents(&gid_map);
	if (!e.uid_map || !e.gid_map) {
		ret = -ENOMEM;
		goto out;
	}
	pr_info("user namespace %u: %zu uid and %zu gid extents", id, uid_map.n, gid_map.n);
	ret = img_write_one(ctx->dirfd, IMG_USERNS, id, &e.base);
out:
	free(e.uid_map);
	free(e.gid_map);
	return ret;
}

/* --- restore --- */

static int copy_map(struct id_map *m, UidGidExtent **v, size_t n, uint32_t id, const char *what)
{
	if (n > MAX_EXTENTS) {
		pr_err("userns-%u.img: %zu %s extents (at most %d)", id, n, what, MAX_EXTENTS);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		m->ext[i] = *v[i];
	m->n = n;
	return 0;
}

static int user_prepare(struct rst_ctx *ctx, uint32_t id)
{
	UsernsEntry *e;
	int ret;

	ret = img_read_one(ctx->dirfd, IMG_USERNS, id, &userns_entry__descriptor,
			   (ProtobufCMessage **)&e);
	if (ret == -ENOENT)
		pr_err("userns-%u.img: missing, named by the root's ids", id);
	if (ret)
		return ret;
	ret = copy_map(&uid_map, e->uid_map, e->n_uid_map, id, "uid") ?:
	      copy_map(&gid_map, e->gid_map, e->n_gid_map, id, "gid");
	img_free_msg(&e->base);
	if (!ret)
		active = true;
	return ret;
}

/* @m as the text of a uid_map, written in one write(2) as the kernel wants. */
static int write_map(pid_t pid, const char *name, const struct id_map *m)
{
	char path[64], *buf;
	size_t len = 0, size = m->n * 40 + 1;
	int fd, ret = 0;

	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	buf[0] = '\0';
	for (size_t i = 0; i < m->n; i++)
		len += snprintf(buf + len, size - len, "%u %u %u\n", m->ext[i].first,
				m->ext[i].lower_first, m->ext[i].count);
	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || (len && write(fd, buf, len) != (ssize_t)len)) {
		pr_perror("cannot write %s", path);
		ret = -errno;
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}

/* The helper: a new user namespace, then (told to) the other kinds from inside it. */
static void __attribute__((noreturn)) helper(int sk, unsigned long mask)
{
	char c = 0;

	if (unshare(CLONE_NEWUSER))
		_exit(1);
	if (write(sk, &c, 1) != 1 || read(sk, &c, 1) != 1)
		_exit(2);
	if (unshare(mask))
		_exit(3);
	if (write(sk, &c, 1) != 1)
		_exit(4);
	/* Held until the controller has joined them all. */
	read(sk, &c, 1);
	_exit(0);
}

/* setns() into the helper's namespace @name (kind @cflag). */
static int join(pid_t pid, const char *name, int cflag)
{
	char path[64];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, cflag)) {
		pr_perror("cannot join the tree's new %s namespace (%s)", name, path);
		ret = -errno;
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

/* The namespaces of @mask, each joined by the controller, as the helper made them. */
static int join_all(pid_t pid, unsigned long mask)
{
	static const struct {
		const char *name;
		int cflag;
	} kinds[] = {
		{ "uts", CLONE_NEWUTS }, { "ipc", CLONE_NEWIPC }, { "net", CLONE_NEWNET },
		{ "mnt", CLONE_NEWNS },
	};
	int ret = 0;

	for (size_t i = 0; !ret && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (mask & kinds[i].cflag)
			ret = join(pid, kinds[i].name, kinds[i].cflag);
	return ret;
}

int userns_restore_make(struct rst_ctx *ctx, unsigned long mask, int slot)
{
	char path[64], c;
	int sk[2], ret;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sk)) {
		pr_perror("cannot make a socket pair for the user namespace's helper");
		return -errno;
	}
	pid = fork();
	if (pid < 0) {
		pr_perror("cannot fork the user namespace's helper");
		close(sk[0]);
		close(sk[1]);
		return -errno;
	}
	if (pid == 0) {
		close(sk[0]);
		helper(sk[1], mask);
	}
	close(sk[1]);
	ret = read(sk[0], &c, 1) == 1 ? 0 : -EIO;
	if (ret)
		pr_err("the helper could not make a user namespace");
	if (!ret)
		ret = write_map(pid, "uid_map", &uid_map) ?: write_map(pid, "gid_map", &gid_map);
	if (!ret && (write(sk[0], &c, 1) != 1 || read(sk[0], &c, 1) != 1)) {
		pr_err("the helper could not make the namespaces %#lx in the user namespace",
		       mask);
		ret = -EIO;
	}
	if (!ret) {
		snprintf(path, sizeof(path), "/proc/%d/ns/user", pid);
		user_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (user_fd < 0) {
			pr_perror("cannot open %s", path);
			ret = -errno;
		}
	}
	/* As ns.c's service fds: the lowest free at or above the slot. */
	if (!ret) {
		int fd = fcntl(user_fd, F_DUPFD_CLOEXEC, ctx->svc_base + slot);

		close(user_fd);
		user_fd = fd;
		if (fd < 0) {
			pr_perror("cannot move the user namespace to its service fd");
			ret = -errno;
		}
	}
	if (!ret)
		ret = join_all(pid, mask);
	close(sk[0]);
	if (ret)
		kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	if (!ret)
		pr_info("the tree's user namespace made, the namespaces %#lx in it", mask);
	return ret;
}

/* The helper of userns_new_ns(): a namespace of @cflag made in the tree's user namespace. */
static void __attribute__((noreturn)) new_ns_helper(int sk, int cflag)
{
	char c = 0;

	if (setns(user_fd, CLONE_NEWUSER) || unshare(cflag))
		_exit(1);
	if (write(sk, &c, 1) != 1)
		_exit(2);
	/* Held until the controller has opened it. */
	read(sk, &c, 1);
	_exit(0);
}

int userns_new_ns(int cflag)
{
	char path[64], c;
	int sk[2], fd = -1, err;
	pid_t pid;

	if (user_fd < 0) {
		/* Owned by stasis's: made here, and the controller is in it already. */
		if (unshare(cflag)) {
			pr_perror("cannot make a namespace (unshare %#x)", cflag);
			return -errno;
		}
		fd = rst_open_self(cflag == CLONE_NEWNET ? "ns/net" : "ns/mnt", O_RDONLY);
		return fd < 0 ? -errno : fd;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sk)) {
		pr_perror("cannot make a socket pair for a namespace's helper");
		return -errno;
	}
	pid = fork();
	if (pid == 0) {
		close(sk[0]);
		new_ns_helper(sk[1], cflag);
	}
	close(sk[1]);
	err = pid < 0 ? errno : 0;
	if (!err && read(sk[0], &c, 1) == 1) {
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid,
			 cflag == CLONE_NEWNET ? "net" : "mnt");
		fd = open(path, O_RDONLY | O_CLOEXEC);
		err = fd < 0 ? errno : 0;
	} else if (!err) {
		err = EIO;
	}
	close(sk[0]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	if (fd < 0)
		pr_err("cannot make a namespace %#x in the tree's user namespace: %s", cflag,
		       strerror(err));
	return fd < 0 ? -err : fd;
}

void userns_restore_close(void)
{
	if (user_fd >= 0)
		close(user_fd);
	user_fd = -1;
}

/*
 * A mount namespace unshared by the controller would be owned by its user
 * namespace: the tree's tasks could not enter it, nor join its mounts'
 * peer groups.  A child that has entered the tree's user namespace (root
 * there, with every capability) unshares it instead, from the namespace
 * the controller is in (already the tree's, so nothing gets locked), and
 * the controller joins it: it holds every capability in a namespace its
 * own user namespace is an ancestor of.
 */
int userns_unshare_mnt(void)
{
	int sk[2], ret, err = 0;
	pid_t pid;

	if (user_fd < 0)
		return unshare(CLONE_NEWNS) ? -errno : 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sk))
		return -errno;
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		close(sk[0]);
		close(sk[1]);
		return ret;
	}
	if (pid == 0) {
		close(sk[0]);
		if (setns(user_fd, CLONE_NEWUSER) || unshare(CLONE_NEWNS))
			err = errno;
		if (write(sk[1], &err, sizeof(err)) != sizeof(err))
			_exit(1);
		/* Held until the controller has joined it (or given up). */
		read(sk[1], &err, sizeof(err));
		_exit(0);
	}
	close(sk[1]);
	if (read(sk[0], &err, sizeof(err)) != sizeof(err))
		err = EIO;
	if (err)
		pr_err("a child in the tree's user namespace could not make a mount namespace: %s",
		       strerror(err));
	ret = err ? -err : join(pid, "mnt", CLONE_NEWNS);
	close(sk[0]);
	waitpid(pid, NULL, 0);
	return ret;
}

long userns_clone_root(struct clone_args *ca)
{
	int sk[2], status;
	long pid = -1;
	pid_t forker;
	ssize_t n;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sk))
		return -1;
	forker = fork();
	if (forker < 0) {
		close(sk[0]);
		close(sk[1]);
		return -1;
	}
	if (forker == 0) {
		long err;

		close(sk[0]);
		/* The kernel gives the root our exit signal (SIGCHLD) with CLONE_PARENT. */
		ca->flags |= CLONE_PARENT;
		ca->exit_signal = 0;
		if (setns(user_fd, CLONE_NEWUSER))
			pid = -errno;
		else
			pid = syscall(SYS_clone3, ca, sizeof(*ca));
		if (pid == 0)
			return 0;	/* the root */
		err = pid < 0 ? -errno : pid;
		_exit(write(sk[1], &err, sizeof(err)) == sizeof(err) ? 0 : 1);
	}
	close(sk[1]);
	n = read(sk[0], &pid, sizeof(pid));
	close(sk[0]);
	waitpid(forker, &status, 0);
	if (n != sizeof(pid)) {
		errno = EIO;
		return -1;
	}
	if (pid < 0) {
		errno = -pid;
		return -1;
	}
	return pid;
}

/*
 * The controller's effective ids made those of the tree's root and back
 * (@on), its capabilities kept (SECBIT_NO_SETUID_FIXUP) and its file
 * system ids left as they are, so that it still reads the images.
 */
int userns_act_as_root(bool on)
{
	static int secbits, dumpable;
	uid_t uid = on ? userns_host_uid(0) : 0;
	gid_t gid = on ? userns_host_gid(0) : 0;

	if (on) {
		secbits = prctl(PR_GET_SECUREBITS);
		dumpable = prctl(PR_GET_DUMPABLE);
		if (uid == INVALID_ID || gid == INVALID_ID) {
			pr_err("uid or gid 0 of the tree's user namespace is not mapped");
			return -EINVAL;
		}
		if (secbits < 0 || prctl(PR_SET_SECUREBITS, secbits | SECBIT_NO_SETUID_FIXUP)) {
			pr_perror("cannot keep capabilities across a change of uid");
			return -errno;
		}
	}
	if (setresgid(-1, gid, -1) || setresuid(-1, uid, -1)) {
		pr_perror("cannot take the effective ids %u:%u", uid, gid);
		return -errno;
	}
	setfsuid(0);
	setfsgid(0);
	if (!on) {
		prctl(PR_SET_SECUREBITS, secbits);
		/* A change of euid made us undumpable: our own /proc is root's again. */
		prctl(PR_SET_DUMPABLE, dumpable);
	}
	return 0;
}

/*
 * The controller's file system ids made @uid:@gid (as the host sees them)
 * for one call that creates a name, its capabilities kept: a file system
 * mounted in the tree's user namespace takes a new name only from ids
 * mapped there (EOVERFLOW else), root's of the host being none of them.
 * (uid_t)-1 takes back root's.
 */
int userns_fs_as(uid_t uid, gid_t gid)
{
	static int secbits = -1, dumpable;
	bool on = uid != (uid_t)-1;

	if (on) {
		secbits = prctl(PR_GET_SECUREBITS);
		dumpable = prctl(PR_GET_DUMPABLE);
		if (secbits < 0 || prctl(PR_SET_SECUREBITS, secbits | SECBIT_NO_SETUID_FIXUP)) {
			pr_perror("cannot keep capabilities across a change of file system ids");
			return -errno;
		}
	}
	setfsuid(on ? uid : 0);
	setfsgid(on ? gid : 0);
	if (!on && secbits >= 0) {
		prctl(PR_SET_SECUREBITS, secbits);
		/* A change of fsuid made us undumpable: our own /proc is root's again. */
		prctl(PR_SET_DUMPABLE, dumpable);
		secbits = -1;
	}
	return 0;
}

const struct ns_operations user_ns_ops = {
	.name = "user",
	.cflag = CLONE_NEWUSER,
	.dump_outside = true,
	.dump = user_dump,
	.prepare = user_prepare,
};
