/*
 * dump.h - what the pieces of a dump share.
 *
 * dump.c runs the pipeline (see there); each kind of kernel object has a
 * file of its own that reads the object from a seized task and writes its
 * images.  Those files see the dump through struct dump_ctx and one
 * struct dump_task per process.  Everything returns 0 or -errno and logs
 * the reason; the pipeline then cures and resumes the tree.
 */
#ifndef STASIS_DUMP_H
#define STASIS_DUMP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "image.h"
#include "fault.h"
#include "opts.h"
#include "stasis/compel.h"

struct track;

struct dump_task {
	const struct compel_task *ct;	/* pid, threads, state */
	pid_t pid;
	pid_t pgid, sid;
	struct compel_ctl *ctl;		/* the parasite in it, while dumping it */

	/* Shared-object ids (ids-PID.img): equal when tasks share the object. */
	uint32_t vm_id, files_id, fs_id, sighand_id;

	uint32_t exe_file_id;		/* files.img id of /proc/PID/exe */
	void *core_priv;		/* core.c's state between its two halves */
};

/* stats-dump's counters, as CRIU counts them; pages_zero is only logged. */
struct dump_stats {
	uint64_t freezing_time, frozen_time, memdump_time, memwrite_time; /* us */
	uint64_t pages_scanned, pages_skipped_parent, pages_written, pages_zero;
	uint64_t shpages_scanned, shpages_written, shpages_zero;
};

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

	struct dump_stats stats;
	bool pre_dump;			/* `pre-dump`: memory only, the tree runs on */
	int parent_dirfd;		/* --prev-images-dir, or -1 */
	struct track *track;		/* mem-track.c: write tracking, or NULL */
	/* This dump's id (inventory's dump_criu_run_id): names its network lock. */
	char run_id[40];
	void *files_priv;		/* files/files.c's bookkeeping */
	void *seccomp_priv;		/* seccomp.c: the filters for seccomp.img */
};

/* A fresh id for files.img (and anything keyed the same way). */
static inline uint32_t dump_next_file_id(struct dump_ctx *ctx)
{
	return ++ctx->last_file_id;
}

/* files/files.c: every fd of the task, cwd and root; shared objects once. */
int files_dump_task(struct dump_ctx *ctx, struct dump_task *t);
/*
 * A regular file seen through @link (a /proc/PID/... symlink, such as exe,
 * cwd or map_files/A-B) as a files.img entry; one entry per file, so all
 * users share the id.  @flags are the open flags to record.
 */
int files_dump_path(struct dump_ctx *ctx, struct dump_task *t, const char *link,
		    int flags, uint32_t *id);
/*
 * The socket of inode @ino that task @t mapped (a packet socket's ring),
 * dumped through the task's fd that holds it, as its fd table will be:
 * its files.img id.  -ENOTSUP (said) when no fd holds it or it is no
 * packet socket.
 */
int files_dump_socket_map(struct dump_ctx *ctx, struct dump_task *t, uint64_t ino, uint32_t *id);
/* After every task: write what is kept for the end (pipe data, ...). */
int files_dump_finish(struct dump_ctx *ctx);
void files_dump_cleanup(struct dump_ctx *ctx);
/*
 * A failed dump, before the tree resumes: put back what the dump took or
 * changed (names given to unlinked files, bytes read from terminals).
 */
void files_dump_undo(struct dump_ctx *ctx);

/* mem.c: mm-PID.img, pagemap-PID.img and pages-N.img of one task. */
int mem_dump_task(struct dump_ctx *ctx, struct dump_task *t);

#endif
