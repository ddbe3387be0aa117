/*
 * check-fs.c - what `stasis check` asks about files and mounts: fdinfo's
 * mount id and locks, autofs, mount group moves, overlayfs in maps.
 * Anything that mounts does it in a child with a mount namespace of its
 * own, so the machine's mount table never sees it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "log.h"

#ifndef MOVE_MOUNT_SET_GROUP
#define MOVE_MOUNT_SET_GROUP	0x00000100
#endif

/* fdinfo names the mount a file was opened on. */
int check_mnt_id(void)
{
	int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret = -1;
	char buf[4096];

	if (fd < 0) {
		pr_perror("cannot open /");
		return -1;
	}
	if (check_read_fdinfo(fd, buf, sizeof(buf)) == 0 && strstr(buf, "mnt_id:"))
		ret = 0;
	else
		pr_err("fdinfo doesn't contain the mnt_id field");
	close(fd);
	return ret;
}

/* fdinfo shows the locks a file holds ("lock:" lines). */
int check_fdinfo_lock(void)
{
	int fd = open("/proc/locks", O_RDONLY | O_CLOEXEC), ret = -1;
	char buf[4096];

	if (fd < 0) {
		pr_perror("cannot open /proc/locks");
		return -1;
	}
	if (flock(fd, LOCK_SH)) {
		pr_perror("Can't take a lock");
	} else if (check_read_fdinfo(fd, buf, sizeof(buf)) == 0) {
		if (strstr(buf, "lock:"))
			ret = 0;
		else
			pr_err("fdinfo doesn't contain the lock field");
	}
	close(fd);
	return ret;
}

/*
 * The first autofs mount in our mountinfo: 0 if it shows its pipe's
 * inode (pipe_ino=, which dump needs), -ENOTSUP if not, -ENOENT if none.
 */
static int autofs_pipe_ino(void)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int ret = -ENOENT;
	char line[4096];

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, " autofs "))
			continue;
		ret = strstr(line, "pipe_ino=") ? 0 : -ENOTSUP;
		break;
	}
	fclose(f);
	return ret;
}

static int autofs_child(void *arg)
{
	char opts[128];
	int p[2];

	(void)arg;
	if (check_private_tmp() || pipe(p))
		return -1;
	snprintf(opts, sizeof(opts), "fd=%d,pgrp=%d,minproto=5,maxproto=5,direct", p[1], getpgrp());
	if (mount("stasis-check", "/tmp", "autofs", 0, opts)) {
		pr_perror("failed to mount autofs");
		return -1;
	}
	if (autofs_pipe_ino()) {
		pr_err("autofs not supported.");
		return -1;
	}
	return 0;
}

int check_autofs(void)
{
	int ret = autofs_pipe_ino();

	if (ret == -ENOTSUP)
		pr_err("autofs not supported.");
	if (ret != -ENOENT)
		return ret ? -1 : 0;
	return check_in_child(autofs_child, NULL);
}

/*
 * In a child: make /tmp/sub a private bind mount and /tmp shared, then
 * ask to put sub into /tmp's peer group.
 */
static int set_group_child(void *arg)
{
	(void)arg;
	if (check_private_tmp())
		return -1;
	if (mkdir("/tmp/sub", 0700) || mount("/tmp/sub", "/tmp/sub", NULL, MS_BIND, NULL) ||
	    mount(NULL, "/tmp", NULL, MS_SHARED, NULL)) {
		pr_perror("cannot prepare mounts for MOVE_MOUNT_SET_GROUP");
		return -1;
	}
	if (syscall(SYS_move_mount, AT_FDCWD, "/tmp", AT_FDCWD, "/tmp/sub", MOVE_MOUNT_SET_GROUP)) {
		if (errno != EINVAL && errno != ENOSYS)
			pr_perror("Fail to MOVE_MOUNT_SET_GROUP");
		return -1;
	}
	return 0;
}

int check_move_mount_set_group(void)
{
	if (check_in_child(set_group_child, NULL) == 0)
		return 0;
	pr_info("No MOVE_MOUNT_SET_GROUP kernel feature");
	return -1;
}

/* The device and inode /proc/self/maps gives the mapping at @addr. */
static int maps_dev_ino(void *addr, unsigned int *maj, unsigned int *min, unsigned long *ino)
{
	FILE *f = fopen("/proc/self/maps", "re");
	unsigned long s, e;
	char line[4096];
	int ret = -1;

	if (!f)
		return -1;
	while (ret && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %*s %*s %x:%x %lu", &s, &e, maj, min, ino) == 5 &&
		    s == (unsigned long)addr)
			ret = 0;
	}
	fclose(f);
	return ret;
}

static int overlay_child(void *arg)
{
	unsigned int maj, min;
	unsigned long ino;
	struct stat st;
	void *addr;
	int fd;

	(void)arg;
	if (check_private_tmp())
		return -1;
	if (mkdir("/tmp/l", 0755) || mkdir("/tmp/u", 0755) || mkdir("/tmp/w", 0755) ||
	    mkdir("/tmp/m", 0755) ||
	    mount("stasis-check", "/tmp/m", "overlay", 0, "lowerdir=/tmp/l,upperdir=/tmp/u,workdir=/tmp/w")) {
		pr_perror("Unable to mount overlayfs");
		return -1;
	}
	fd = open("/tmp/m/f", O_RDWR | O_CREAT, 0644);
	if (fd < 0 || ftruncate(fd, 4096) || fstat(fd, &st)) {
		pr_perror("Unable to make a file on overlayfs");
		return -1;
	}
	addr = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (addr == MAP_FAILED || maps_dev_ino(addr, &maj, &min, &ino)) {
		pr_err("Unable to find the mapping of the overlayfs file");
		return -1;
	}
	if (maj != major(st.st_dev) || min != minor(st.st_dev) || ino != st.st_ino) {
		pr_err("unmatched dev:ino %x:%x:%lx (expected %x:%x:%lx)", maj, min, ino,
		       major(st.st_dev), minor(st.st_dev), (unsigned long)st.st_ino);
		return -1;
	}
	return 0;
}

/* /proc/PID/maps must show an overlayfs file's own device and inode, as stat does. */
int check_overlayfs_maps(void)
{
	return check_in_child(overlay_child, NULL);
}
