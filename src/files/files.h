/*
 * files.h - what the file kinds under src/files/ share.
 *
 * files.c walks a task's descriptors, finds out which kind each one is
 * and whether its open file description was seen already, and hands new
 * ones to the kind's dump function with a fresh files.img id.  The kinds
 * write their own files.img entry (and whatever else they keep).
 *
 * On restore (restore.h), files.c reads the images and, for each files.img
 * entry a task needs, has its kind open the object once into the pool;
 * the kinds keep what several entries share (a pipe's two ends, a fifo's
 * helper, a memfd object, a ghost file) in struct files_rst_priv.
 */
#ifndef STASIS_FILES_FILES_H
#define STASIS_FILES_FILES_H

#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "dump.h"
#include "fown.pb-c.h"
#include "restore.h"

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

/* --- restore --- */

/*
 * Flags that open() is given for a recorded file: what the file had,
 * never creating or truncating anything (an O_TMPFILE file keeps that
 * bit, without O_DIRECTORY's), never taking a terminal (O_NOCTTY added).
 */
#define RST_OPEN_MASK	(~(O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC | (O_TMPFILE & ~O_DIRECTORY)))
/* The status flags F_SETFL can change. */
#define RST_SETFL_MASK	(O_APPEND | O_ASYNC | O_DIRECT | O_NOATIME | O_NONBLOCK)

/* The data images of pipes and fifos, read on first use. */
struct rst_pipe_data {
	enum img_type type;	/* IMG_PIPES_DATA or IMG_FIFO_DATA */
	bool loaded;
	struct rst_pipe_bytes *ents;
	size_t nr;
};

struct rst_remap;
struct rst_ghost;
struct rst_pipe;
struct rst_fifo;
struct rst_memfd;

/* files.c's bookkeeping of a restore (ctx->files_priv); each kind owns its part. */
struct files_rst_priv {
	struct rst_remap *remaps;	/* remap-fpath.img, sorted by orig_id */
	size_t nr_remaps;
	struct rst_ghost *ghosts;	/* reg.c: ghost files made so far */
	size_t nr_ghosts, cap_ghosts;

	struct rst_pipe *pipes;		/* pipe.c: one per pipe_id */
	size_t nr_pipes, cap_pipes;
	struct rst_pipe_data pipes_data, fifos_data;
	struct rst_fifo *fifos;		/* fifo.c: one O_RDWR helper per fifo */
	size_t nr_fifos, cap_fifos;

	struct rst_memfd *memfds;	/* memfd.c: memfd.img, objects made on use */
	size_t nr_memfds;
	bool memfds_loaded;
};

struct files_rst_priv *files_rst_priv(struct rst_ctx *ctx);

/*
 * Read every entry of image @type (@id in its name) as @md messages into
 * a fresh array.  -ENOENT, unlogged, when the image is absent.
 */
int files_img_read_all(struct rst_ctx *ctx, enum img_type type, unsigned long id,
		       const ProtobufCMessageDescriptor *md, void ***msgs, size_t *nr);
void files_msgs_free(void **msgs, size_t nr);

/* open("/proc/self/fd/@fd", @flags): a new open file description of the same file. */
int files_reopen(int fd, int flags, const char *what);

/*
 * Each kind opens files.img entry @f as a pool fd (rst_pool_add) and
 * returns it, or -errno; files_restore_open() calls it once per entry.
 */
int reg_restore_open(struct rst_ctx *ctx, struct rst_file *f);
int pipe_restore_open(struct rst_ctx *ctx, struct rst_file *f);
int fifo_restore_open(struct rst_ctx *ctx, struct rst_file *f);
int eventfd_restore_open(struct rst_ctx *ctx, struct rst_file *f);
int memfd_restore_open(struct rst_ctx *ctx, struct rst_file *f);
int tty_restore_open(struct rst_ctx *ctx, struct rst_file *f);

/* reg.c: remap-fpath.img, read once. */
int reg_restore_prepare(struct rst_ctx *ctx);
/*
 * The file of REG entry @regf_id opened with @flags (creation flags are
 * dropped) and checked against the entry (type, size, build-id), but
 * neither positioned nor in the pool: fifo.c opens its path with this.
 */
int reg_restore_path(struct rst_ctx *ctx, uint32_t regf_id, int flags);
void reg_restore_cleanup(struct files_rst_priv *priv);

/* pipe.c */
/*
 * Put the bytes recorded for @pipe_id (and its size) into the pipe or
 * fifo whose writing side is @wfd, which must be non-blocking.
 */
int pipe_data_restore(struct rst_ctx *ctx, struct rst_pipe_data *pd, uint32_t pipe_id, int wfd);
/* After prepare: close the ends of pipes no entry took. */
void pipe_restore_finish(struct rst_ctx *ctx);
void pipe_restore_cleanup(struct files_rst_priv *priv);

/* fifo.c */
void fifo_restore_cleanup(struct files_rst_priv *priv);

/* memfd.c */
void memfd_restore_cleanup(struct files_rst_priv *priv);

#endif
