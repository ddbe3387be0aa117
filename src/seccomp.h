/*
 * seccomp.h - the seccomp mode and filter chain of every thread
 * (seccomp.img and the thread cores' seccomp_mode and seccomp_filter, as
 * CRIU lays them out).
 */
#ifndef STASIS_SECCOMP_H
#define STASIS_SECCOMP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct dump_ctx;
struct rst_ctx;
struct rst_task;
struct rst_args;
struct rst_alloc;

/* One thread as its core records it. */
struct seccomp_thread {
	int mode;		/* 0 none, 1 strict, 2 filter */
	uint32_t filter;	/* mode 2: its oldest filter's place in seccomp.img */
};

/*
 * The @nr threads @tids of one process, seized: st[i].mode holds what
 * /proc says on the way in, and on the way out what the core records.
 * Their filters go into seccomp.img.  Threads that all share one chain
 * (TSYNC, or inherited) are recorded once, on the leader, with
 * SECCOMP_FILTER_FLAG_TSYNC: the restore hands it to all of them again.
 */
int seccomp_dump_task(struct dump_ctx *ctx, const pid_t *tids, struct seccomp_thread *st,
		      int nr);
int seccomp_dump_image(struct dump_ctx *ctx);
void seccomp_dump_cleanup(struct dump_ctx *ctx);

/*
 * Restore: read seccomp.img and check every thread's chain against it;
 * then, per task, put each thread's filters, the oldest first, in the
 * restorer's region.  The restorer installs them once stasis traces the
 * task with PTRACE_O_SUSPEND_SECCOMP, so that they never filter the restore.
 */
int seccomp_restore_read(struct rst_ctx *ctx);
size_t seccomp_restore_size(struct rst_ctx *ctx, const struct rst_task *t);
int seccomp_restore_args(struct rst_ctx *ctx, const struct rst_task *t, struct rst_args *a,
			 struct rst_alloc *al);
void seccomp_restore_free(struct rst_ctx *ctx);

#endif
