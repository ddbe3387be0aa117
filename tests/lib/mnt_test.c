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
