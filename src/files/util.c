/*
 * util.c - what the kinds of open file share: growing arrays, images
 * opened on first use, fdinfo read and searched, images read whole, the
 * pool of fds the controller opens before the fork.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sched.h>
#include <linux/openat2.h>
#include <unistd.h>

#include "files/files.h"
#include "fdinfo.pb-c.h"
#include "log.h"
#include "sk-fd.h"
#include "ns/ns.h"
#include "proc.h"

int files_grow(void *arr, size_t *cap, size_t nr, size_t size)
{
	void **p = arr;
	size_t ncap;
	void *n;

	if (nr < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	n = realloc(*p, ncap * size);
	if (!n) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	*p = n;
	*cap = ncap;
	return 0;
}

/* CRIU creates an image only when something goes into it; so do we. */
int files_img_lazy(struct dump_ctx *ctx, struct img **img, enum img_type type, unsigned long id)
{
	if (*img)
		return 0;
	return img_open(img, ctx->dirfd, type, id, O_WRONLY);
}

int files_read_fdinfo_at(int dirfd, pid_t pid, int fd, char *buf, size_t size)
{
	char path[64], name[16];
	size_t len = 0;
	ssize_t n;
	int pfd, err;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	snprintf(name, sizeof(name), "%d", fd);
	/* Relative to the open directory the kernel skips finding the task again. */
	pfd = dirfd >= 0 ? openat(dirfd, name, O_RDONLY | O_CLOEXEC) :
			   open(path, O_RDONLY | O_CLOEXEC);
	if (pfd < 0) {
		err = errno;
		pr_perror("%s: cannot open", path);
		return -err;
	}
	/*
	 * One record, made whole before the first read: a read that does not
	 * fill what it was given has reached the end (most fds: one read).
	 */
	while (len < size - 1) {
		size_t want = size - 1 - len;

		n = read(pfd, buf + len, want);
		if (n < 0) {
			err = errno;
			pr_perror("%s: cannot read", path);
			close(pfd);
			return -err;
		}
		len += n;
		if ((size_t)n < want)
			break;
	}
	close(pfd);
	buf[len] = '\0';
	return 0;
}

int files_read_fdinfo(pid_t pid, int fd, char *buf, size_t size)
{
	return files_read_fdinfo_at(-1, pid, fd, buf, size);
}

int files_fdinfo_u64(const char *fdinfo, const char *key, int base, uint64_t *val,
		     pid_t pid, int fd)
{
	const char *v = files_fdinfo_field(fdinfo, key);
	char *end;

	if (!v) {
		pr_err("/proc/%d/fdinfo/%d: no %s", pid, fd, key);
		return -EINVAL;
	}
	errno = 0;
	*val = strtoull(v, &end, base);
	if (errno || end == v) {
		pr_err("/proc/%d/fdinfo/%d: bad %s", pid, fd, key);
		return -EINVAL;
	}
	return 0;
}

/* Longest fdinfo read whole: an epoll or inotify lists a line per target. */
#define FDINFO_MAX	(1 << 20)

int files_fdinfo_lines(const struct file_parms *p, const char *prefix,
		       int (*fn)(const char *line, void *arg), void *arg)
{
	size_t plen = strlen(prefix);
	char *buf = malloc(FDINFO_MAX), *line, *nl;
	int ret;

	if (!buf)
		return -ENOMEM;
	ret = files_read_fdinfo(p->pid, p->fd, buf, FDINFO_MAX);
	if (!ret && strlen(buf) == FDINFO_MAX - 1) {
		pr_err("unsupported: /proc/%d/fdinfo/%d is over %d bytes", p->pid, p->fd,
		       FDINFO_MAX - 1);
		ret = -ENOTSUP;
	}
	for (line = buf; !ret && *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (!strncmp(line, prefix, plen)) {
			ret = fn(line, arg);
			if (ret == -EINVAL)
				pr_err("/proc/%d/fdinfo/%d: cannot read \"%s\"", p->pid, p->fd, line);
		}
		if (!nl)
			break;
	}
	free(buf);
	return ret;
}

bool files_anon_is(const struct file_parms *p, const char *link)
{
	return p->fs_type == ANON_INODE_FS_MAGIC && !strcmp(p->link, link);
}

int files_socket_family(const struct file_parms *p)
{
	socklen_t len = sizeof(int);
	int domain;

	if (strncmp(p->link, "socket:[", 8) || p->lfd < 0 ||
	    getsockopt(p->lfd, SOL_SOCKET, SO_DOMAIN, &domain, &len))
		return -1;
	return domain;
}

const char *files_fdinfo_field(const char *fdinfo, const char *key)
{
	size_t klen = strlen(key);
	const char *line = fdinfo;

	while (line && *line) {
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			line += klen + 1;
			while (*line == ' ' || *line == '\t')
				line++;
			return line;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return NULL;
}

void files_msgs_free(void **msgs, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		img_free_msg(msgs[i]);
	free(msgs);
}

int files_img_read_all(struct rst_ctx *ctx, enum img_type type, unsigned long id,
		       const ProtobufCMessageDescriptor *md, void ***msgs, size_t *nr)
{
	ProtobufCMessage *msg;
	struct img *img;
	void **arr = NULL;
	size_t n = 0, cap = 0;
	int ret;

	*msgs = NULL;
	*nr = 0;
	ret = img_open(&img, ctx->dirfd, type, id, O_RDONLY);
	if (ret)
		return ret;
	while ((ret = img_read_msg(img, md, &msg)) == 1) {
		ret = files_grow(&arr, &cap, n, sizeof(*arr));
		if (ret) {
			img_free_msg(msg);
			break;
		}
		arr[n++] = msg;
	}
	img_close(img);
	if (ret < 0) {
		files_msgs_free(arr, n);
		return ret;
	}
	*msgs = arr;
	*nr = n;
	return 0;
}

int files_open_on(const RegFileEntry *rfe, int flags)
{
	int root = rfe->has_mnt_id ? mntns_root_of(rfe->mnt_id) : -1;
	struct open_how how = {
		.flags = (uint64_t)rst_open_flags(flags),
		.resolve = RESOLVE_IN_ROOT,
	};

	if (root < 0)
		return open(rfe->name, rst_open_flags(flags));
	/* Its mount is in another namespace than the root task's: the path is from its root. */
	return syscall(SYS_openat2, root, rfe->name, &how, sizeof(how));
}

int files_reopen(int fd, int flags, const char *what)
{
	char path[64];
	int nfd;

	/* O_TMPFILE carries O_DIRECTORY, which the file it made is not. */
	if ((flags & O_TMPFILE) == O_TMPFILE)
		flags &= ~O_DIRECTORY;
	/* Through stasis's /proc: the tree's mount namespace may have none. */
	snprintf(path, sizeof(path), "fd/%d", fd);
	nfd = rst_open_self(path, rst_open_flags(flags) & ~O_CLOEXEC);
	if (nfd >= 0 && !(flags & O_CLOEXEC))
		fcntl(nfd, F_SETFD, 0);
	if (nfd < 0) {
		pr_perror("%s: cannot open it again with flags %#o", what, flags);
		return -errno;
	}
	return nfd;
}


bool files_in_my_mntns(pid_t pid)
{
	static ino_t mine;
	struct stat st;
	ino_t its;

	if (!mine && !stat("/proc/self/ns/mnt", &st))
		mine = st.st_ino;
	return proc_ns_ino(pid, "mnt", &its) || its == mine;
}

/*
 * The root of each mount namespace of the tree that is not stasis's, as
 * entering it shows it (the top mount on its root): what the /proc/PID/fd
 * links of its files are paths from, whatever the task's own root
 * (a chrooted task's too).  Kept for the dump.
 */
static struct ns_root {
	ino_t ino;
	int fd;
	int flat;	/* a copy of its root mount alone (without what is mounted on it), or -1 */
} ns_roots[16];
static size_t nr_ns_roots;

/*
 * In a child: enter @pid's mount namespace and send its "/" back on @sk,
 * or with @flat a detached copy of the root mount alone (a mount is
 * copied only from inside its namespace).
 */
static void send_ns_root(pid_t pid, int sk, bool flat)
{
	char path[64];
	int ns, fd;

	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", pid);
	ns = open(path, O_RDONLY | O_CLOEXEC);
	if (ns < 0 || setns(ns, CLONE_NEWNS))
		_exit(1);
	fd = flat ? open_tree(AT_FDCWD, "/", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC) :
		    open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		_exit(1);
	_exit(sk_send_fd(sk, fd) ? 1 : 0);
}

/* What send_ns_root() sends for @pid: the fd, or -1. */
static int fetch_ns_root(pid_t pid, bool flat)
{
	int sk[2], fd;
	pid_t child;

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sk))
		return -1;
	child = fork();
	if (!child)
		send_ns_root(pid, sk[1], flat);
	close(sk[1]);
	fd = child < 0 ? -1 : sk_recv_fd(sk[0]);
	close(sk[0]);
	if (child > 0)
		waitpid(child, NULL, 0);
	if (fd < 0) {
		pr_err("pid %d: cannot find the root of its mount namespace", pid);
		errno = EIO;
	}
	return fd;
}

/* The cache entry of task @pid's mount namespace (not stasis's), its root found; NULL. */
static struct ns_root *ns_entry(pid_t pid)
{
	ino_t ino;
	int fd, ret;

	ret = proc_ns_ino(pid, "mnt", &ino);
	if (ret) {
		errno = -ret;
		return NULL;
	}
	for (size_t i = 0; i < nr_ns_roots; i++)
		if (ns_roots[i].ino == ino)
			return &ns_roots[i];
	if (nr_ns_roots == sizeof(ns_roots) / sizeof(ns_roots[0])) {
		errno = ENOSPC;
		return NULL;
	}
	fd = fetch_ns_root(pid, false);
	if (fd < 0)
		return NULL;
	ns_roots[nr_ns_roots] = (struct ns_root){ ino, fd, -1 };
	return &ns_roots[nr_ns_roots++];
}

/* The root of task @pid's mount namespace (not stasis's); not the caller's to close. */
static int ns_root_of(pid_t pid)
{
	struct ns_root *r = ns_entry(pid);

	return r ? r->fd : -1;
}

int files_ns_flat_root(pid_t pid)
{
	struct ns_root *r = ns_entry(pid);

	if (r && r->flat < 0)
		r->flat = fetch_ns_root(pid, true);
	return r ? r->flat : -1;
}

int files_ns_root(pid_t pid)
{
	return files_in_my_mntns(pid) ? AT_FDCWD : ns_root_of(pid);
}

void files_ns_roots_drop(void)
{
	for (size_t i = 0; i < nr_ns_roots; i++) {
		close(ns_roots[i].fd);
		if (ns_roots[i].flat >= 0)
			close(ns_roots[i].flat);
	}
	nr_ns_roots = 0;
}

int files_file_root(struct dump_ctx *ctx, const struct file_parms *p)
{
	int mnt = files_fd_mnt_id(p->lfd);

	if (files_in_my_mntns(p->pid) || files_mnt_in_ns(p->pid, mnt))
		return files_ns_root(p->pid);
	for (size_t i = 0; i < ctx->nr_tasks; i++)
		if (ctx->tasks[i].ct->state != COMPEL_TASK_ZOMBIE &&
		    files_mnt_in_ns(ctx->tasks[i].pid, mnt))
			return files_ns_root(ctx->tasks[i].pid);
	return files_ns_root(p->pid);
}

int files_stat_file(struct dump_ctx *ctx, const struct file_parms *p, struct stat *st)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC | (S_ISLNK(p->st.st_mode) ? O_NOFOLLOW : 0),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	bool nofollow = S_ISLNK(p->st.st_mode);
	int root, fd, err;

	/* The task's own namespace first: the file's mount is looked for only when that fails. */
	if (!files_stat_at_task(p->pid, p->link, st, nofollow) &&
	    st->st_dev == p->st.st_dev && st->st_ino == p->st.st_ino)
		return 0;
	if (files_in_my_mntns(p->pid))
		return fstatat(AT_FDCWD, p->link, st, nofollow ? AT_SYMLINK_NOFOLLOW : 0);
	root = files_file_root(ctx, p);
	if (root < 0)
		return -1;
	fd = syscall(SYS_openat2, root, p->link, &how, sizeof(how));
	if (fd < 0)
		return -1;
	err = fstat(fd, st) ? errno : 0;
	close(fd);
	errno = err;
	return err ? -1 : 0;
}

/* @path opened O_PATH in task @pid's mount namespace (another than stasis's). */
static int open_at_task(pid_t pid, const char *path, bool nofollow)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int rfd = ns_root_of(pid);

	if (rfd < 0)
		return -1;
	return syscall(SYS_openat2, rfd, path, &how, sizeof(how));
}

/*
 * stat(2) of @path, a /proc/PID/fd link of task @pid, as that task sees
 * it.  In stasis's mount namespace the link is a path of stasis's own
 * (chroot or not); in another, one from that namespace's root (not the
 * task's root, which a chroot moves): looked up from there, its symlinks
 * too.  0, or -1 and errno.
 */
int files_stat_at_task(pid_t pid, const char *path, struct stat *st, bool nofollow)
{
	int fd, err;

	if (files_in_my_mntns(pid))
		return fstatat(AT_FDCWD, path, st, nofollow ? AT_SYMLINK_NOFOLLOW : 0);
	fd = open_at_task(pid, path, nofollow);
	if (fd < 0)
		return -1;
	err = fstat(fd, st) ? errno : 0;
	close(fd);
	errno = err;
	return err ? -1 : 0;
}

int files_path_mnt_id(pid_t pid, const char *path)
{
	int fd = open_at_task(pid, path, true), id;

	if (fd < 0)
		return -1;
	id = files_fd_mnt_id(fd);
	close(fd);
	return id;
}

int files_fd_mnt_id(int fd)
{
	char path[64], line[128];
	int id = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "mnt_id: %d", &id) == 1)
			break;
	if (f)
		fclose(f);
	return id;
}

bool files_mnt_in_ns(pid_t pid, int id)
{
	char path[64], *line = NULL;
	bool found = false;
	size_t len = 0;
	int mid;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/mountinfo", pid);
	f = fopen(path, "re");
	while (f && !found && getline(&line, &len, f) > 0)
		found = sscanf(line, "%d ", &mid) == 1 && mid == id;
	free(line);
	if (f)
		fclose(f);
	return found;
}
