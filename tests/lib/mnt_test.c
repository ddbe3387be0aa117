/*
 * mnt_test.c - paths under a mount namespace test's own directory
 * (mnt_test.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mnt_test.h"

#define LINE	1024

char mnt_base[64];

void mnt_path(char *out, size_t size, const char *rel)
{
	snprintf(out, size, "%s%s%s", mnt_base, *rel ? "/" : "", rel);
}

int mnt_put(const char *rel, const char *data)
{
	char path[PATH_MAX];
	int fd, ret;

	mnt_path(path, sizeof(path), rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	if (fd < 0)
		return -1;
	ret = write(fd, data, strlen(data)) == (ssize_t)strlen(data) ? 0 : -1;
	close(fd);
	return ret;
}

int mnt_tmpfs(const char *src, const char *rel)
{
	char path[PATH_MAX];

	mnt_path(path, sizeof(path), rel);
	if ((mkdir(path, 0755) && errno != EEXIST) || mount(src, path, "tmpfs", 0, NULL))
		return -1;
	return 0;
}

void mnt_source(const char *rel, char *src, size_t size)
{
	char line[LINE], mp[PATH_MAX], want[PATH_MAX], s[256];
	FILE *f = fopen("/proc/self/mountinfo", "r");

	mnt_path(want, sizeof(want), rel);
	src[0] = '\0';
	while (f && fgets(line, sizeof(line), f)) {
		char *dash = strstr(line, " - ");

		if (dash && sscanf(line, "%*d %*d %*s %*s %4095s", mp) == 1 && !strcmp(mp, want) &&
		    sscanf(dash + 3, "%*s %255s", s) == 1)
			snprintf(src, size, "%s", s);
	}
	if (f)
		fclose(f);
}

int mnt_setup_tree(const char *base_fs, const char *sh_fs, int (*child)(int ready, int go),
		   pid_t *pid, int *go)
{
	char path[PATH_MAX], c;
	int ready[2], gop[2];

	if ((mkdir(mnt_base, 0755) && errno != EEXIST) ||
	    mount(base_fs, mnt_base, "tmpfs", 0, NULL) || mnt_put("f", "root-file") ||
	    mnt_tmpfs(sh_fs, "sh"))
		return -1;
	mnt_path(path, sizeof(path), "sh");
	if (mount(NULL, path, NULL, MS_SHARED, NULL) || mkdir(strcat(path, "/sub"), 0755))
		return -1;
	mnt_path(path, sizeof(path), "two");
	if (mkdir(path, 0755) || pipe(ready) || pipe(gop))
		return -1;
	*pid = fork();
	if (*pid < 0)
		return -1;
	if (!*pid) {
		close(ready[0]);
		close(gop[1]);
		_exit(child(ready[1], gop[0]));
	}
	close(ready[1]);
	close(gop[0]);
	*go = gop[1];
	if (read(ready[0], &c, 1) != 1)
		return errno = ECHILD, -1;
	close(ready[0]);
	return 0;
}
