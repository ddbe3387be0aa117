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

#include "dump-ctx.h"
#include "files/api.h"
#include "fown.pb-c.h"
#include "rst-ctx.h"

/* Everything known about one open file while it is being dumped. */
struct file_parms {
	pid_t pid;		/* the task it was found in */
	pid_t holder;		/* in flight (pid is ours): the task whose queue holds it */
	int fd;			/* its number there; -1 for cwd, root, exe, mappings */
	int lfd;		/* our handle on the same file (or an O_PATH open of it) */
	struct stat st;
	long fs_type;		/* statfs f_type */
	uint32_t flags;		/* O_* status flags, without O_CLOEXEC */
	uint64_t pos;
	bool has_locks;		/* fdinfo lists locks held through it */
	uint32_t net_ns_id;	/* a socket: the tree's net namespace it was made in; 0 none */
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
struct memfd_inode;
struct seen_lock;

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
	pid_t *dead_pids;		/* procpath.c: PROCFS remaps written */
	size_t nr_dead_pids, cap_dead_pids;
	char **links;			/* linkremap.c: names made, removed if the dump fails */
	size_t nr_links, cap_links;

	dev_t shmem_dev;		/* st_dev of memfds and shared anonymous memory */
	bool shmem_dev_known;

	struct memfd_inode *memfds;	/* memfd.c: shmem objects in memfd.img */
	size_t nr_memfds, cap_memfds;
	struct img *memfd_img;		/* memfd.img, once an object is found */

	struct seen_lock *locks;	/* locks.c: locks in filelocks.img */
	size_t nr_locks, cap_locks;
	struct img *locks_img;

	void *tty_priv;			/* tty.c: terminals seen, their queued bytes */

	void *unix_priv;		/* unix.c: sockets seen, sk-queues.img */
	void *inet_priv;		/* inet.c: what sock_diag listed */
	void *tcp_priv;			/* inet-tcp.c: connections paused, the lock */
	int *inflight;			/* files_dump_inflight()'s fds, kept to the end */
	size_t nr_inflight, cap_inflight;
};

struct files_priv *files_priv(struct dump_ctx *ctx);

/*
 * fd-dump.c: a file in flight (in a unix socket's queue), received here as
 * @lfd, into files.img like a task's fd: its id.  Takes @lfd.
 */
int files_dump_inflight(struct dump_ctx *ctx, int lfd, pid_t holder, uint32_t *id);

/* Grow *@arr (of @size-byte elements, *@cap allocated) to hold one more than @nr. */
int files_grow(void *arr, size_t *cap, size_t nr, size_t size);

/* Open image @type (@id in its name) in the images directory on first use. */
int files_img_lazy(struct dump_ctx *ctx, struct img **img, enum img_type type, unsigned long id);

/*
 * Read /proc/@pid/fdinfo/@fd into @buf, as much as fits (the head lines
 * alone are enough for most callers); 0 or -errno.
 */
int files_read_fdinfo(pid_t pid, int fd, char *buf, size_t size);
/* The same through @dirfd, an open /proc/@pid/fdinfo (-1: by its path). */
int files_read_fdinfo_at(int dirfd, pid_t pid, int fd, char *buf, size_t size);
/* The value after "@key:" on a line of @fdinfo, or NULL. */
const char *files_fdinfo_field(const char *fdinfo, const char *key);
/* The number after "@key:" in @fdinfo, read in @base; 0 or -EINVAL (logged). */
int files_fdinfo_u64(const char *fdinfo, const char *key, int base, uint64_t *val,
		     pid_t pid, int fd);
/*
 * Read /proc/PID/fdinfo/N of @p whole and call @fn(@line, @arg) for each
 * line starting with @prefix (without its newline), until one fails;
 * an -EINVAL from @fn is logged with the line.  0 or -errno.
 */
int files_fdinfo_lines(const struct file_parms *p, const char *prefix,
		       int (*fn)(const char *line, void *arg), void *arg);
/* Is @p an anonymous inode file that /proc shows as @link ("anon_inode:[eventfd]")? */
bool files_anon_is(const struct file_parms *p, const char *link);
/* The address family (AF_*) of socket @p, or -1 when @p is no socket. */
int files_socket_family(const struct file_parms *p);
/*
 * fd-dump.c: is @p a shmem file (a memfd, SysV shm, MAP_SHARED|MAP_ANONYMOUS
 * memory)?  They look like unlinked files ("/memfd:x (deleted)") and as
 * ghost files would come back as plain ones.  1, 0 or -errno.
 */
int files_is_shmem(struct dump_ctx *ctx, const struct file_parms *p);

/* reg.c: regular files, directories, symlinks and character devices as REG. */
/* Drop the " (deleted)" /proc appends to an unlinked file's path; was it there? */
bool reg_strip_deleted(char *name);
int reg_dump(struct dump_ctx *ctx, struct file_parms *p, uint32_t id);

/* Open @p's file again for reading, whatever it was opened for (or O_PATH). */
int reg_reopen_ro(const struct file_parms *p);
/* Read up to @len bytes at @off; the count read (short only at the end), or -errno. */
ssize_t reg_pread_full(int fd, void *buf, size_t len, off_t off);

/* ghost.c: unlinked files; contents to a ghost image, REG entry @id remapped to it. */
int ghost_dump(struct dump_ctx *ctx, const struct file_parms *p, uint32_t id);

/* fs.c: fs-PID.img, the task's cwd, root and umask. */
int fs_dump_task(struct dump_ctx *ctx, struct dump_task *t);

/*
 * procpath.c: a /proc path; one of a task that is gone is kept as a
 * PROCFS remap of its pid (once per pid), for a helper at restore.
 */
int procpath_dump(struct dump_ctx *ctx, struct file_parms *p, uint32_t id);

/* linkremap.c: @p unlinked from its path but linked elsewhere (--link-remap). */
int linkremap_dump(struct dump_ctx *ctx, struct file_parms *p, uint32_t id);
void linkremap_dump_undo(struct dump_ctx *ctx);
void linkremap_dump_cleanup(struct files_priv *priv);

/* pipe.c */
/* The bytes held by the pipe or fifo @p, once per pipe_id, without taking them. */
int pipe_data_dump(struct dump_ctx *ctx, struct pipe_data_img *pd, struct file_parms *p);
int pipe_data_close(struct pipe_data_img *pd);

/*
 * locks.c: the locks held through @p (fdinfo's "lock:" lines), once
 * each, into filelocks.img; refused without --file-locks.  @file_id is
 * @p's files.img id, @files_id its fd table's.
 */
int locks_dump_fd(struct dump_ctx *ctx, const struct file_parms *p, uint32_t file_id,
		  uint32_t files_id);
void locks_dump_cleanup(struct files_priv *priv);

/*
 * fhandle.c: @hex (fdinfo's f_handle, @bytes long) into @fh; and the
 * inode of @fh on kernel device @kdev opened O_PATH through a mount of
 * it in @pid's mount table, the fd or -errno.
 */
int fh_parse(const char *hex, unsigned int bytes, struct FhEntry *fh);
int fh_open(pid_t pid, uint32_t kdev, const struct FhEntry *fh);
/*
 * The path of @fd (fh_open()'s) from the root of @pid's mount namespace
 * when that path still leads to the same inode, else NULL.  CRIU 4.2
 * keeps it with every handle that has one and restores from it first: it
 * opens a bare handle only through a mount it found by device, which it
 * has only with the mount namespace dumped.
 */
char *fh_path(pid_t pid, int fd);

/* --- restore --- */

/* Flags that never go to open() for a recorded file: nothing is created or truncated. */
#define RST_OPEN_MASK	(~(O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC | (O_TMPFILE & ~O_DIRECTORY)))

/*
 * Flags that open() is given for a recorded file: what the file had,
 * without RST_OPEN_MASK's, never taking a terminal.  A file made with
 * O_TMPFILE shows both bits of it (O_DIRECTORY among them) in fdinfo,
 * yet it is a regular file: both go.
 */
static inline int rst_open_flags(int flags)
{
	if (flags & (O_TMPFILE & ~O_DIRECTORY))
		flags &= ~O_TMPFILE;
	return (flags & RST_OPEN_MASK) | O_NOCTTY;
}
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
struct rst_procpath;

/* files.c's bookkeeping of a restore (ctx->files_priv); each kind owns its part. */
struct files_rst_priv {
	struct rst_remap *remaps;	/* remap-fpath.img, sorted by orig_id */
	size_t nr_remaps;
	struct rst_ghost *ghosts;	/* ghost.c: ghost files made so far */
	size_t nr_ghosts, cap_ghosts;

	struct rst_pipe *pipes;		/* pipe.c: one per pipe_id */
	size_t nr_pipes, cap_pipes;
	struct rst_pipe_data pipes_data, fifos_data;
	struct rst_fifo *fifos;		/* fifo.c: one O_RDWR helper per fifo */
	size_t nr_fifos, cap_fifos;

	struct rst_procpath *procpaths;	/* procpath.c: files opened after the fork */
	size_t nr_procpaths, cap_procpaths;
	pid_t *dead_pids;		/* procpath.c: pids of PROCFS remaps */
	size_t nr_dead_pids, cap_dead_pids;
	pid_t *helpers;			/* procpath.c: the helper of each, 0 if none */
	char **links;			/* linkremap.c: names to remove once the tree runs */
	size_t nr_links, cap_links;

	struct rst_memfd *memfds;	/* memfd.c: memfd.img, objects made on use */
	size_t nr_memfds;
	bool memfds_loaded;

	struct FileLockEntry **locks;	/* locks.c: filelocks.img */
	size_t nr_locks;

	void *unix_priv;		/* unix.c: sk-queues.img, sockets being opened */
	void *tty_priv;			/* tty-restore.c: tty-info.img, the ptys made */
	void *tcp_priv;			/* inet-tcp.c: connections made, the lock */
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
/* Is task @pid in stasis's own mount namespace (which never changes)? */
bool files_in_my_mntns(pid_t pid);
/* The mnt_id of stasis's fd @fd (its fdinfo), or -1. */
int files_fd_mnt_id(int fd);
/* Is mount @id one of task @pid's mount namespace? */
bool files_mnt_in_ns(pid_t pid, int id);
/* The mnt_id of @path in task @pid's root and mounts (not stasis's), or -1. */
int files_path_mnt_id(pid_t pid, const char *path);
/*
 * Restore: the path of @rfe opened with @flags (rst_open_flags) where it
 * is, in the mount namespace of its mnt_id: open(2)'s result.
 */
int files_open_on(const RegFileEntry *rfe, int flags);
/*
 * Dump: the root of task @pid's mount namespace, which its /proc/PID/fd
 * links are paths from (AT_FDCWD: stasis's own), or -1; kept till the end.
 */
int files_ns_root(pid_t pid);
/*
 * Dump: a detached copy of the root mount alone of task @pid's mount
 * namespace (not stasis's): what is under the mounts on it; -1.
 */
int files_ns_flat_root(pid_t pid);
/*
 * Dump: the root (as files_ns_root()) of the mount namespace the file @p
 * is open on: its task's, or that of another task of the tree (a file
 * opened on a mount the task's namespace does not have).
 */
int files_file_root(struct dump_ctx *ctx, const struct file_parms *p);
/* stat(2) of @p->link in that namespace, not following a symlink @p is: 0, or -1 and errno. */
int files_stat_file(struct dump_ctx *ctx, const struct file_parms *p, struct stat *st);
/* Close the roots of the tree's mount namespaces the two above opened. */
void files_ns_roots_drop(void);
/* stat(2) of @path in task @pid's root and mounts: 0, or -1 and errno. */
int files_stat_at_task(pid_t pid, const char *path, struct stat *st, bool nofollow);

/*
 * locks.c: filelocks.img read once; in task @t once its fds are in place,
 * its flock and OFD locks and leases; its POSIX locks go to the restorer
 * (restore.h: locks_restore_size, locks_restore_args).
 */
int locks_restore_read(struct rst_ctx *ctx);
int locks_restore_task(struct rst_ctx *ctx, struct rst_task *t);
void locks_restore_cleanup(struct files_rst_priv *priv);

/* fs.c: fs-<pid>.img into @t->fs, its cwd and root checked to be path entries. */
int fs_restore_read(struct rst_ctx *ctx, struct rst_task *t);

/* reg.c: remap-fpath.img, read once. */
int reg_restore_prepare(struct rst_ctx *ctx);
/*
 * The file of REG entry @regf_id opened with @flags (creation flags are
 * dropped) and checked against the entry (type, size, build-id), but
 * neither positioned nor in the pool: fifo.c opens its path with this.
 */
int reg_restore_path(struct rst_ctx *ctx, uint32_t regf_id, int flags);
/* REG entry @f opened, checked and positioned, not in the pool. */
int reg_restore_file(struct rst_ctx *ctx, struct rst_file *f);
/* The pool fd of the ghost file inode @ino of kernel device @kdev became, or -ENOENT. */
int reg_restore_ghost_of(struct rst_ctx *ctx, uint32_t kdev, uint64_t ino);

/*
 * fhandle.c: the inode a watch or mark was on (@ino of kernel device
 * @kdev, handle @fh), opened O_PATH: the ghost file it became, else the
 * path the dump kept, else by its handle.  The fd or -errno.
 */
int fh_restore_open(struct rst_ctx *ctx, uint32_t kdev, uint64_t ino, const struct FhEntry *fh);

/* linkremap.c: REG entry @rfe by the name of link entry @lid, opened with @flags. */
int linkremap_open(struct rst_ctx *ctx, const RegFileEntry *rfe, uint32_t lid, int flags);
void linkremap_restore_cleanup(struct files_rst_priv *priv);

/*
 * procpath.c: /proc/PID/... of a task of the tree, which exists only
 * once the tree is forked.  Its entry's pool fd is a socket instead,
 * which the controller sends the file down once every task exists
 * (procpath_restore_send(), restore.h); a task takes it from there.
 */
bool procpath_in_tree(struct rst_ctx *ctx, const char *path);
int procpath_defer(struct rst_ctx *ctx, struct rst_file *f);
int procpath_receive(struct rst_ctx *ctx, struct rst_file *f);
/*
 * A path of a task's fd (/proc/PID/fd/N, /proc/PID/fdinfo/N): opened by
 * task PID once its other fds are in place (procpath_restore_own()),
 * installed last by its holders, which wait for it.
 */
bool procpath_is_late(struct rst_ctx *ctx, const struct rst_file *f);
int procpath_restore_own(struct rst_ctx *ctx, struct rst_task *t);
/*
 * A /proc/PID path of a task that was gone at dump time (a PROCFS remap
 * names its pid): opened while a helper holds that pid, then the helper
 * goes, as the task had.
 */
int procpath_note_dead(struct files_rst_priv *priv, pid_t pid);
bool procpath_is_dead(struct files_rst_priv *priv, const char *path);
int procpath_open_dead(struct files_rst_priv *priv, const char *path, int flags);
void procpath_restore_cleanup(struct files_rst_priv *priv);

/* ghost.c: the pool fd that keeps ghost file @gid, made (as @path) on first use. */
int ghost_get(struct rst_ctx *ctx, uint32_t gid, const char *path);
/* REG entry @rfe, a ghost @gid, opened with @flags on its own mount. */
int ghost_open(struct rst_ctx *ctx, uint32_t gid, const RegFileEntry *rfe, int flags);
/* Was ghost file @gid inode @ino of kernel device @kdev?  1, 0 or -errno. */
int ghost_is(struct rst_ctx *ctx, uint32_t gid, uint32_t kdev, uint64_t ino);
void ghost_restore_cleanup(struct files_rst_priv *priv);

/* pipe.c */
/*
 * Put the bytes recorded for @pipe_id (and its size) into the pipe or
 * fifo whose writing side is @wfd, which must be non-blocking.
 */
int pipe_data_restore(struct rst_ctx *ctx, struct rst_pipe_data *pd, uint32_t pipe_id, int wfd);

#endif
