/*
 * mem-track.h - which pages a task wrote since the last dump of its chain
 * (mem-track.c), without soft-dirty: userfaultfd write-protection in
 * async mode, read and re-armed with PAGEMAP_SCAN.
 *
 * A pre-dump (or a dump with --track-mem) registers the task's private
 * writable areas with a userfaultfd made inside the task, write-protects
 * every page it dumps, and leaves the userfaultfd with a small holder
 * process ("stasis-track") that keeps it open while the tree runs on: a
 * userfaultfd's protection ends when its last file reference is closed.
 * The next dump of the chain (--prev-images-dir) finds the holder named
 * in its parent's directory; pages still protected were not written
 * since, and its pagemap points to the parent for them.
 */
#ifndef STASIS_MEM_TRACK_H
#define STASIS_MEM_TRACK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct dump_ctx;
struct dump_task;

/* The file in an images directory that names the holder of its tracking. */
#define TRACK_FILE	"stasis-track"

struct track_task {
	pid_t pid;
	uint64_t start;		/* its start time (clock ticks since boot): against pid reuse */
	int uffd;		/* its userfaultfd, ours now; -1 */
	bool parent;		/* tracked since the parent dump: unwritten pages are there */
};

struct track {
	bool arm;		/* pre-dump or --track-mem: protect what is dumped */
	bool armed_any;		/* some page was protected again: the parent's tracking is spent */
	int holder_pidfd;	/* the parent's holder, retired at the end; -1 */
	int new_holder_pidfd;	/* this dump's, killed if the dump fails after all; -1 */
	struct track_task *tasks;
	size_t nr, cap;
};

/*
 * After the tree is collected: what the parent dump's holder keeps, and
 * the `parent` link to it in the new images directory.
 */
int track_open(struct dump_ctx *ctx);
/* @pid's tracking state; NULL when the dump tracks nothing. */
struct track_task *track_task_of(struct dump_ctx *ctx, pid_t pid);
struct vma_list;
/*
 * Before @t's pages are scanned, when arming: register its areas to
 * track; (*@wp)[i], allocated here, says which took.  A task that cannot
 * be tracked (said) is dumped whole now and next time.
 */
int track_arm(struct dump_ctx *ctx, struct dump_task *t, const struct vma_list *l, uint8_t **wp);
/*
 * Before the images are published, when arming: hand the userfaultfds to
 * a new holder, named in TRACK_FILE of @dirfd.
 */
int track_finish(struct dump_ctx *ctx, int dirfd, bool ok);
/* The end: retire the parent's holder when its tracking is spent or replaced. */
void track_close(struct dump_ctx *ctx, bool ok);
/* Does tracking work on this kernel?  0, or -errno with the reason in @why. */
int track_probe(const char **why);

#endif
