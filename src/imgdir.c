/*
 * imgdir.c - where a dump writes its images.
 *
 * A dump may fail half way, and the directory it was told to use may
 * hold an earlier dump that is someone's only checkpoint.  So images are
 * written into a fresh hidden directory inside it (".stasis-dump.PID"),
 * on the same filesystem, and moved to their CRIU names only once all of
 * them are written: inventory.img, the mark of a complete dump, last.
 * A failed dump removes its own directory and leaves the earlier dump
 * exactly as it was.  The move happens before the tree is killed, so
 * that nothing can fail once it is.
 *
 * A stasis killed during a dump leaves its hidden directory behind; the
 * next dump into the same directory removes those of stasis processes
 * that no longer run.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imgdir.h"
#include "log.h"

#define TMP_PREFIX	".stasis-dump."

/*
 * A listing of directory @name of @dirfd (@dirfd itself when @name is
 * NULL), on a descriptor of its own; NULL with errno set.
 */
static DIR *list_dir(int dirfd, const char *name)
{
	int fd = name ? openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) :
			fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	DIR *d;

	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (!d) {
		int err = errno;

		close(fd);
		errno = err;
	}
	return d;
}

static bool is_dot(const char *name)
{
	return !strcmp(name, ".") || !strcmp(name, "..");
}

/* Remove the files in directory @name of @dirfd, then the directory. */
static void remove_flat_dir(int parent, const char *name)
{
	DIR *d = list_dir(parent, name);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (!is_dot(de->d_name))
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	unlinkat(parent, name, AT_REMOVEDIR);
}

/* Hidden directories of earlier dumps whose stasis was killed. */
static void remove_stale(int dirfd)
{
	DIR *d = list_dir(dirfd, NULL);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char *end;
		long pid;

		if (strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)))
			continue;
		pid = strtol(de->d_name + strlen(TMP_PREFIX), &end, 10);
		if (*end || pid <= 0 || (kill(pid, 0) && errno == ESRCH)) {
			pr_info("removing %s, left by a dump that did not finish", de->d_name);
			remove_flat_dir(dirfd, de->d_name);
		}
	}
	closedir(d);
}

int imgdir_open(struct imgdir *dir, const char *path)
{
	int ret;

	dir->final_fd = dir->fd = -1;
	if (mkdir(path, 0755) && errno != EEXIST) {
		ret = -errno;
		pr_perror("cannot create images directory %s", path);
		return ret;
	}
	dir->final_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir->final_fd < 0) {
		ret = -errno;
		pr_perror("cannot open images directory %s", path);
		return ret;
	}
	remove_stale(dir->final_fd);
	snprintf(dir->tmp, sizeof(dir->tmp), TMP_PREFIX "%d", getpid());
	if (mkdirat(dir->final_fd, dir->tmp, 0700)) {
		ret = -errno;
		pr_perror("cannot create %s in images directory %s", dir->tmp, path);
		goto err;
	}
	dir->fd = openat(dir->final_fd, dir->tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir->fd < 0) {
		ret = -errno;
		pr_perror("cannot open %s in images directory %s", dir->tmp, path);
		unlinkat(dir->final_fd, dir->tmp, AT_REMOVEDIR);
		goto err;
	}
	return 0;
err:
	close(dir->final_fd);
	dir->final_fd = -1;
	return ret;
}

static int move_one(struct imgdir *dir, const char *name)
{
	if (renameat(dir->fd, name, dir->final_fd, name)) {
		int err = errno;

		pr_perror("cannot move %s into the images directory", name);
		return -err;
	}
	return 0;
}

int imgdir_publish(struct imgdir *dir)
{
	struct dirent *de;
	bool inventory = false;
	int ret = 0;
	DIR *d;

	/* From here on, the earlier dump is being replaced: it is no more whole. */
	if (unlinkat(dir->final_fd, "inventory.img", 0) && errno != ENOENT) {
		ret = -errno;
		pr_perror("cannot remove the earlier inventory.img");
		return ret;
	}
	d = list_dir(dir->fd, NULL);
	if (!d) {
		ret = -errno;
		pr_perror("cannot list %s", dir->tmp);
		return ret;
	}
	while (!ret && (de = readdir(d))) {
		if (is_dot(de->d_name))
			continue;
		if (!strcmp(de->d_name, "inventory.img"))
			inventory = true;
		else
			ret = move_one(dir, de->d_name);
	}
	closedir(d);
	if (!ret && inventory)
		ret = move_one(dir, "inventory.img");
	if (!ret && unlinkat(dir->final_fd, dir->tmp, AT_REMOVEDIR)) {
		ret = -errno;
		pr_perror("cannot remove %s", dir->tmp);
	}
	return ret;
}

void imgdir_close(struct imgdir *dir, bool discard)
{
	if (dir->fd >= 0)
		close(dir->fd);
	dir->fd = -1;
	if (discard && dir->final_fd >= 0)
		remove_flat_dir(dir->final_fd, dir->tmp);
	if (dir->final_fd >= 0)
		close(dir->final_fd);
	dir->final_fd = -1;
}

/*
 * CRIU writes its stats (stats-dump, stats-restore) into its working
 * directory, which is -W, or the images directory without it: podman
 * gives -W, reads the stats there (--print-stats) and puts stats-dump
 * into its exports.  So does stasis; the images directory keeps them
 * when -W names that same directory.
 */
int imgdir_work_open(const char *work_dir, int images_fd, int *fd)
{
	struct stat w, i;

	*fd = -1;
	if (!work_dir)
		return 0;
	*fd = open(work_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0) {
		int err = errno;

		pr_err("cannot open the work directory %s: %s", work_dir, strerror(err));
		return -err;
	}
	if (fstat(*fd, &w) || fstat(images_fd, &i) || (w.st_dev == i.st_dev && w.st_ino == i.st_ino)) {
		close(*fd);
		*fd = -1;
	}
	return 0;
}
