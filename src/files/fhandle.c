/*
 * fhandle.c - inodes named by file handle (name_to_handle_at's), as
 * inotify and fanotify marks name them in fdinfo: the handle read from
 * fdinfo's hex, and the inode found again through any mount of its
 * filesystem.
 *
 * An inode that was unlinked and kept open by the tree came back as a
 * new inode, a ghost file (ghost.c): the old handle finds nothing (or,
 * with the dumped tree still running, the old inode, which the restored
 * tree does not hold).  So restore looks for a ghost first, as CRIU does.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "files/files.h"
#include "fh.pb-c.h"
#include "log.h"
#include "ns/ns.h"

#define FH_WORDS	16	/* CRIU's fh_entry holds at least this many u64 words */

/* The kernel's dev_t (major << 20 | minor), as fdinfo prints s_dev. */
static bool same_kdev(uint32_t kdev, unsigned int maj, unsigned int min)
{
	return (kdev >> 20) == maj && (kdev & 0xfffff) == min;
}

/*
 * Mount point @mnt of @pid's mount table, opened as a directory: from the
 * root of its mount namespace where it is not stasis's.
 */
static int mount_dir(pid_t pid, const char *mnt)
{
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT,
	};
	int root = pid == getpid() ? AT_FDCWD : files_ns_root(pid);

	if (root == AT_FDCWD)
		return open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return -1;
	return syscall(SYS_openat2, root, mnt, &how, sizeof(how));
}

/*
 * fhandle.c's: the inode of handle @fh on the filesystem of kernel device @kdev,
 * opened O_PATH through some mount of it in @pid's mount table; -errno.
 */
int fh_open(pid_t pid, uint32_t kdev, const FhEntry *fh)
{
	struct {
		struct file_handle h;
		unsigned char bytes[MAX_HANDLE_SZ];
	} h;
	char path[64], line[4096], mnt[4096];
	int fd = -ENOENT;
	FILE *f;

	if (fh->bytes > MAX_HANDLE_SZ || fh->n_handle * 8 < fh->bytes)
		return -EINVAL;
	h.h.handle_bytes = fh->bytes;
	h.h.handle_type = fh->type;
	memcpy(h.h.f_handle, fh->handle, fh->bytes);

	snprintf(path, sizeof(path), "/proc/%d/mountinfo", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fd < 0 && fgets(line, sizeof(line), f)) {
		unsigned int maj, min;
		int mfd;

		if (sscanf(line, "%*d %*d %u:%u %*s %4095s", &maj, &min, mnt) != 3 ||
		    !same_kdev(kdev, maj, min))
			continue;
		/* open_by_handle_at() refuses an O_PATH mount fd (EBADF). */
		mfd = mount_dir(pid, mnt);
		if (mfd < 0)
			continue;
		fd = open_by_handle_at(mfd, &h.h, O_PATH | O_CLOEXEC);
		if (fd < 0)
			fd = -errno;
		close(mfd);
	}
	fclose(f);
	return fd;
}

char *fh_path(pid_t pid, int fd)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT };
	char link[64], buf[PATH_MAX];
	struct stat want, got;
	int root = files_ns_root(pid), pfd;
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, sizeof(buf) - 1);
	if (n <= 0 || buf[0] != '/' || root == -1 || fstat(fd, &want))
		return NULL;
	buf[n] = '\0';
	if (reg_strip_deleted(buf))
		return NULL;
	if (root == AT_FDCWD)
		pfd = open(buf, O_PATH | O_CLOEXEC);
	else
		pfd = syscall(SYS_openat2, root, buf, &how, sizeof(how));
	if (pfd < 0)
		return NULL;
	n = fstat(pfd, &got);
	close(pfd);
	if (n || got.st_dev != want.st_dev || got.st_ino != want.st_ino)
		return NULL;
	return strdup(buf);
}

/* Hex bytes of fdinfo's f_handle into @fh's words. */
int fh_parse(const char *hex, unsigned int bytes, FhEntry *fh)
{
	unsigned char raw[FH_WORDS * 8] = { 0 };

	if (bytes > sizeof(raw))
		return -EINVAL;
	for (unsigned int i = 0; i < bytes; i++) {
		unsigned int b;

		if (sscanf(hex + 2 * i, "%2x", &b) != 1)
			return -EINVAL;
		raw[i] = b;
	}
	fh->n_handle = FH_WORDS;
	fh->handle = calloc(FH_WORDS, sizeof(uint64_t));
	if (!fh->handle)
		return -ENOMEM;
	memcpy(fh->handle, raw, sizeof(raw));
	fh->bytes = bytes;
	return 0;
}

int fh_restore_open(struct rst_ctx *ctx, uint32_t kdev, uint64_t ino, const FhEntry *fh)
{
	int fd = reg_restore_ghost_of(ctx, kdev, ino);

	if (fd >= 0) {
		/* The pool keeps the ghost's fd: ours is a copy the caller closes. */
		fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		return fd < 0 ? -errno : fd;
	}
	if (fd != -ENOENT)
		return fd;
	if (fh->path) {
		struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT };
		int root = fh->has_mnt_id ? mntns_root_of(fh->mnt_id) : -1;

		/* On a mount of another mount namespace than the root task's: from its root. */
		if (root >= 0)
			fd = syscall(SYS_openat2, root, fh->path, &how, sizeof(how));
		else
			fd = open(fh->path, O_PATH | O_CLOEXEC);
		return fd < 0 ? -errno : fd;
	}
	return fh_open(getpid(), kdev, fh);
}
