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
 * A directory that holds nothing (but our own log) has no dump to keep:
 * there the images are written in place, which spares a rename each (a
 * tree of 64 tasks writes 450 files), and only inventory.img waits in the
 * hidden directory; a failed dump removes what it wrote.
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
 * NULL), on an open file of its own (a dup would share the position of
 * the listing before); NULL with errno set.
 */
static DIR *list_dir(int dirfd, const char *name)
{
	int fd = openat(dirfd, name ?: ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
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

/* @name in @d is our log: a log file in the images directory does not make it a dump. */
static bool is_log(DIR *d, const char *name, const struct stat *log)
{
	struct stat st;

	return log && !fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) &&
	       st.st_dev == log->st_dev && st.st_ino == log->st_ino;
}

/*
 * Call @fn on every entry of @dirfd but dots, hidden dump directories and
 * our log, until it returns true; whether one did.
 */
static bool any_entry(int dirfd, bool (*fn)(DIR *d, const char *name))
{
	struct stat log_st;
	const struct stat *log = fstat(log_get_fd(), &log_st) ? NULL : &log_st;
	struct dirent *de;
	bool found = false;
	DIR *d = list_dir(dirfd, NULL);

	if (!d)
		return true;	/* unreadable: taken as not empty */
	while (!found && (de = readdir(d)))
		found = !is_dot(de->d_name) && strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) &&
			!is_log(d, de->d_name, log) && fn(d, de->d_name);
	closedir(d);
	return found;
}

static bool yes(DIR *d, const char *name)
{
	(void)d;
	(void)name;
	return true;
}

static bool remove_one(DIR *d, const char *name)
{
	unlinkat(dirfd(d), name, 0);
	return false;
}

int imgdir_open(struct imgdir *dir, const char *path)
{
	int ret;

	dir->final_fd = dir->fd = dir->last_fd = -1;
	dir->in_place = false;
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
	dir->last_fd = openat(dir->final_fd, dir->tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir->last_fd < 0) {
		ret = -errno;
		pr_perror("cannot open %s in images directory %s", dir->tmp, path);
		unlinkat(dir->final_fd, dir->tmp, AT_REMOVEDIR);
		goto err;
	}
	dir->in_place = !any_entry(dir->final_fd, yes);
	if (dir->in_place)
		pr_debug("%s holds no dump: the images are written in place", path);
	dir->fd = dir->in_place ? dir->final_fd : dir->last_fd;
	return 0;
err:
	close(dir->final_fd);
	dir->final_fd = -1;
	return ret;
}

static int move_one(struct imgdir *dir, const char *name)
{
	if (renameat(dir->last_fd, name, dir->final_fd, name)) {
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
	d = list_dir(dir->last_fd, NULL);
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
	if (dir->last_fd >= 0)
		close(dir->last_fd);
	dir->fd = dir->last_fd = -1;
	if (discard && dir->final_fd >= 0)
		remove_flat_dir(dir->final_fd, dir->tmp);
	/* It held nothing of anyone's: all but our log is this dump's. */
	if (discard && dir->in_place && dir->final_fd >= 0)
		any_entry(dir->final_fd, remove_one);
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
