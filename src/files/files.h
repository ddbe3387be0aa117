/*
 * files.h - what the file kinds under src/files/ share.
 *
 * files.c walks a task's descriptors, finds out which kind each one is
 * and whether its open file description was seen already, and hands new
 * ones to the kind's dump function with a fresh files.img id.  The kinds
 * write their own files.img entry (and whatever else they keep).
 */
#ifndef STASIS_FILES_FILES_H
#define STASIS_FILES_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "dump.h"
#include "fown.pb-c.h"

/* Everything known about one open file while it is being dumped. */
struct file_parms {
	pid_t pid;		/* the task it was found in */
	int fd;			/* its number there; -1 for cwd, root, exe, mappings */
	int lfd;		/* our handle on the same file (or an O_PATH open of it) */
	struct stat st;
	long fs_type;		/* statfs f_type */
	uint32_t flags;		/* O_* status flags, without O_CLOEXEC */
	uint64_t pos;
	char *link;		/* what /proc shows it as: a path, "pipe:[N]", ... */
	FownEntry fown;
};

/* Data images of pipes and fifos: one entry per pipe, the first time it is seen. */
struct pipe_data_img {
	enum img_type type;	/* IMG_PIPES_DATA or IMG_FIFO_DATA */
	struct img *img;	/* opened when the first entry is written */
	uint32_t *ids;		/* pipe_ids already written */
	size_t nr, cap;
};

struct seen_file;
struct path_file;
struct ghost_file;
struct tty_seen;
struct memfd_inode;

struct files_priv {
	struct seen_file *seen;		/* open file descriptions of the fds */
	size_t nr_seen, cap_seen;
	size_t seen_pos;		/* where seen_lookup() would insert */
	struct path_file *paths;	/* files_dump_path's entries */
	size_t nr_paths, cap_paths;
	uint32_t *tables;		/* files_ids whose fdinfo is written */
	size_t nr_tables, cap_tables;

	struct pipe_data_img pipes, fifos;

	struct img *remap_img;		/* remap-fpath.img, when a file needs one */
	struct ghost_file *ghosts;
	size_t nr_ghosts, cap_ghosts;
	uint32_t last_ghost_id;

	dev_t shmem_dev;		/* st_dev of memfds and shared anonymous memory */
	bool shmem_dev_known;

	struct memfd_inode *memfds;	/* memfd.c: shmem objects in memfd.img */
	size_t nr_memfds, cap_memfds;
	struct img *memfd_img;		/* memfd.img, once an object is found */

	struct tty_seen *ttys;		/* tty.c: terminals in tty-info.img */
	size_t nr_ttys, cap_ttys;
	struct img *tty_info_img;
};

struct files_priv *files_priv(struct dump_ctx *ctx);

/* Grow *@arr (of @size-byte elements, *@cap allocated) to hold one more than @nr. */
int files_grow(void *arr, size_t *cap, size_t nr, size_t size);

/* Open image @type (@id in its name) in the images directory on first use. */
int files_img_lazy(struct dump_ctx *ctx, struct img **img, enum img_type type, unsigned long id);

/* Read /proc/@pid/fdinfo/@fd into @buf; 0 or -errno. */
int files_read_fdinfo(pid_t pid, int fd, char *buf, size_t size);
/* The value after "@key:" on a line of @fdinfo, or NULL. */
const char *files_fdinfo_field(const char *fdinfo, const char *key);

/* reg.c: regular files, directories, symlinks and character devices as REG. */
int reg_dump(struct dump_ctx *ctx, struct file_parms *p, uint32_t id);

/* pipe.c */
int pipe_dump(struct dump_ctx *ctx, struct file_parms *p, uint32_t id);
/* The bytes held by the pipe or fifo @p, once per pipe_id, without taking them. */
int pipe_data_dump(struct dump_ctx *ctx, struct pipe_data_img *pd, struct file_parms *p);
int pipe_data_close(struct pipe_data_img *pd);

/* fifo.c */
int fifo_dump(struct dump_ctx *ctx, struct file_parms *p, uint32_t id);

/* eventfd.c */
int eventfd_dump(struct dump_ctx *ctx, struct file_parms *p, uint32_t id);

/* tty.c: terminals; dumped only for a shell job (-j), refused otherwise. */
bool tty_is_tty(const struct file_parms *p);
int tty_dump(struct dump_ctx *ctx, struct file_parms *p, uint32_t id);
/* After every task: checks that need all terminals seen; closes tty-info.img. */
int tty_dump_finish(struct dump_ctx *ctx);
void tty_dump_cleanup(struct files_priv *priv);

/* memfd.c: memfds and other shmem files; their objects once (shmem.h). */
int memfd_dump(struct dump_ctx *ctx, struct file_parms *p, uint32_t id);

#endif
