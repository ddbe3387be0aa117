/*
 * dump-ctx.h - what an object's dump half sees of the dump: the context
 * of the whole dump (struct dump_ctx) and of one process (struct
 * dump_task).  Objects (fd kinds, task parts) include this, never dump.h:
 * they use the pipeline's state, never its functions.  Everything returns
 * 0 or -errno and logs the reason; the pipeline then cures and resumes
 * the tree.
 */
#ifndef STASIS_DUMP_CTX_H
#define STASIS_DUMP_CTX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "image.h"
#include "fault.h"
#include "opts.h"
#include "page-xfer.h"
#include "proc.h"
#include "stasis/compel.h"

struct dump_task {
	const struct compel_task *ct;	/* pid, threads, state */
	pid_t pid;			/* as stasis sees it: /proc, ptrace */
	/*
	 * As the tree sees them (its images): in the root's pid namespace.
	 * vtids[k] is ct->threads[k]'s; NULL when the namespace is stasis's.
	 */
	pid_t vpid, pgid, sid;
	const pid_t *vtids;
	struct compel_ctl *ctl;		/* the parasite in it, while dumping it */
	struct compel_ctl *parked;	/* its parasite once dumped, left for the kill (task_end) */
	bool primed;			/* begin's first half done ahead (task_prime) */

	/* Shared-object ids (ids-PID.img): equal when tasks share the object. */
	uint32_t vm_id, files_id, fs_id, sighand_id;

	struct proc_stat stat;		/* /proc/PID/stat, read once when collected */
	uint32_t exe_file_id;		/* files.img id of /proc/PID/exe */
	void *core_priv;		/* core.c's state between its two halves */
	uint32_t *cg_sets;		/* cgroup.c: each thread's cgroup set (core's cg_set) */
	/* core.c, from the leader's status read when gathered: fs-PID.img's. */
	uint32_t umask;
	bool has_umask;
	/* core.c: what the parasite told of the task (GET_TASK), for mem and task-misc too. */
	struct compel_misc misc;
	bool has_misc;
};

/* stats-dump's counters, as CRIU counts them; pages_zero is only logged. */
struct dump_stats {
	uint64_t freezing_time, frozen_time, memdump_time, memwrite_time; /* us */
	uint64_t pages_scanned, pages_skipped_parent, pages_written, pages_zero;
	uint64_t shpages_scanned, shpages_written, shpages_zero;
};

struct track;

struct dump_ctx {
	const struct opts *opts;
	int dirfd;			/* the images directory */
	struct compel_tree *tree;
	struct dump_task *tasks;	/* in pstree order, the root first */
	size_t nr_tasks;

	/* files.img is written as open files are found, by every file kind. */
	struct img *files_img;
	uint32_t last_file_id;
	uint32_t last_pages_id;
	/* Where pages go: local images (dirfd, last_pages_id) or a page server. */
	struct page_xfer_dest pages;

	struct dump_stats stats;
	bool pre_dump;			/* `pre-dump`: memory only, the tree runs on */
	int parent_dirfd;		/* --prev-images-dir, or -1 */
	struct track *track;		/* mem-track.c: write tracking, or NULL */
	/* This dump's id (inventory's dump_criu_run_id): names its network lock. */
	char run_id[40];
	void *files_priv;		/* files/files.c's bookkeeping */
	void *seccomp_priv;		/* seccomp.c: the filters for seccomp.img */
	void *mem_priv;			/* mem-layout.c: the mapped files seen so far */
	void *pstree_priv;		/* pstree.c: the kernel objects seen so far */
};

/*
 * Host pid @pid (a task, a thread, any process) as the tree sees it, for
 * an image; 0 if the tree cannot see it.  ns/pid.c.
 */
pid_t dump_vpid(const struct dump_ctx *ctx, pid_t pid);

/* A fresh id for files.img (and anything keyed the same way). */
static inline uint32_t dump_next_file_id(struct dump_ctx *ctx)
{
	return ++ctx->last_file_id;
}

/*
 * Run @fn(@arg) on the thread that traces the tree, as ptrace and the
 * parasite's commands need, and return what it returns: at once when that
 * is the caller, else by dump-pipe.c's tracer when it next waits.
 */
int dump_on_tracer(int (*fn)(void *), void *arg);

#endif
