/*
 * rst-ctx.c - the few helpers objects may use on the restore's context:
 * find a task or a files.img entry, take room in the restorer's region,
 * put an fd in the pool, read /proc/self wherever the task's root is.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "rst-ctx.h"

struct rst_task *rst_task_by_pid(struct rst_ctx *ctx, pid_t pid)
{
	for (size_t i = 0; i < ctx->nr_tasks; i++) {
		if (ctx->tasks[i].pid == pid)
			return &ctx->tasks[i];
	}
	return NULL;
}

void *rst_alloc(struct rst_alloc *al, size_t size, size_t align)
{
	size_t at = (al->used + align - 1) & ~(align - 1);

	if (at + size > al->size) {
		pr_err("BUG: the restorer's region is too small (%zu + %zu > %zu)", at, size,
		       al->size);
		abort();
	}
	al->used = at + size;
	return al->base + at;
}

struct rst_file *rst_file_by_id(struct rst_ctx *ctx, uint32_t id)
{
	size_t lo = 0, hi = ctx->nr_files;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint32_t mid_id = ctx->files[mid].fe->id;

		if (mid_id == id)
			return &ctx->files[mid];
		if (mid_id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int rst_pool_add(struct rst_ctx *ctx, int fd)
{
	int nfd, err;

	if (ctx->pool_next < ctx->pool_base)
		ctx->pool_next = ctx->pool_base;
	nfd = fcntl(fd, F_DUPFD, ctx->pool_next);
	if (nfd < 0) {
		err = errno;
		pr_perror("cannot move fd %d into the pool at %d", fd, ctx->pool_next);
		close(fd);
		return -err;
	}
	close(fd);
	ctx->pool_next = nfd + 1;
	return nfd;
}

/* /proc, kept at service fd @at for rst_fopen_self(). */
static int proc_fd = -1;

int rst_keep_proc(int at)
{
	int fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC), err = 0;

	if (fd < 0) {
		pr_perror("cannot open /proc");
		return -errno;
	}
	proc_fd = fcntl(fd, F_DUPFD_CLOEXEC, at);
	if (proc_fd < 0)
		err = -errno;	/* before close() may change it */
	close(fd);
	return err;
}

int rst_open_self(const char *what, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "self/%s", what);
	if (proc_fd >= 0)
		return openat(proc_fd, path, flags | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/self/%s", what);
	return open(path, flags | O_CLOEXEC);
}

FILE *rst_fopen_self(const char *what)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "self/%s", what);
	fd = proc_fd >= 0 ? openat(proc_fd, path, O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0) {
		snprintf(path, sizeof(path), "/proc/self/%s", what);
		return fopen(path, "re");
	}
	return fdopen(fd, "r");
}
