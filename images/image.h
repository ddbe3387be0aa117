/*
 * image.h - CRIU image files: name them, open them, check their magic, and
 * read or write their entries.
 *
 * An image file is: [prefix magic] magic { u32 length, message [, extra] }.
 * Every length is checked against what the file really holds before it is
 * used, and every error names the file, the offset and what was wrong.
 *
 * All functions return 0 (or a documented positive value) on success and a
 * negative errno on failure; failures are logged with pr_err() where they
 * are detected.  Malformed content gives -EINVAL, a short file -EIO.
 */
#ifndef STASIS_IMAGE_H
#define STASIS_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <protobuf-c/protobuf-c.h>

#include "magic.h"

/* The largest entry we accept; CRIU's biggest (mm with every VMA) is far below. */
#define IMG_ENTRY_MAX	(256u << 20)

enum img_type {
	IMG_INVENTORY,
	IMG_PSTREE,
	IMG_CORE,
	IMG_IDS,
	IMG_MM,
	IMG_VMAS,
	IMG_PAGEMAP,
	IMG_SHMEM_PAGEMAP,
	IMG_PAGES,
	IMG_FDINFO,
	IMG_FILES,
	IMG_REG_FILES,
	IMG_EXT_FILES,
	IMG_NS_FILES,
	IMG_REMAP_FPATH,
	IMG_GHOST_FILE,
	IMG_PIPES,
	IMG_PIPES_DATA,
	IMG_FIFO,
	IMG_FIFO_DATA,
	IMG_TTY_FILES,
	IMG_TTY_INFO,
	IMG_TTY_DATA,
	IMG_MEMFD_INODE,
	IMG_EVENTFD_FILE,
	IMG_EVENTPOLL_FILE,
	IMG_EVENTPOLL_TFD,
	IMG_SIGNALFD,
	IMG_TIMERFD,
	IMG_INOTIFY_FILE,
	IMG_INOTIFY_WD,
	IMG_FANOTIFY_FILE,
	IMG_FANOTIFY_MARK,
	IMG_UNIXSK,
	IMG_INETSK,
	IMG_PACKETSK,
	IMG_NETLINK_SK,
	IMG_SK_QUEUES,
	IMG_TCP_STREAM,
	IMG_TUNFILE,
	IMG_FILE_LOCKS,
	IMG_PIDFD,
	IMG_BPFMAP_FILE,
	IMG_BPFMAP_DATA,
	IMG_FS,
	IMG_CREDS,
	IMG_SIGACT,
	IMG_ITIMERS,
	IMG_POSIX_TIMERS,
	IMG_RLIMIT,
	IMG_SIGNAL,
	IMG_PSIGNAL,
	IMG_SECCOMP,
	IMG_TIMENS,
	IMG_PIDNS,
	IMG_UTSNS,
	IMG_USERNS,
	IMG_IPC_VAR,
	IMG_IPCNS_SHM,
	IMG_IPCNS_MSG,
	IMG_IPCNS_SEM,
	IMG_MNTS,
	IMG_NETDEV,
	IMG_NETNS,
	IMG_CGROUP,
	IMG_CPUINFO,
	IMG_BINFMT_MISC,
	IMG_AUTOFS,
	IMG_APPARMOR,
	IMG_IRMAP_CACHE,
	IMG_STATS_DUMP,
	IMG_STATS_RESTORE,
	IMG_TYPE_NR,
};

/* Raw bytes that follow an entry's message, and where their size comes from. */
enum img_extra {
	EXTRA_NONE,
	EXTRA_PIPE_DATA,	/* pipe_data_entry.bytes */
	EXTRA_SK_QUEUE,		/* sk_packet_entry.length */
	EXTRA_TCP_STREAM,	/* tcp_stream_entry.inq_len + outq_len */
	EXTRA_BPFMAP_DATA,	/* bpfmap_data_entry.keys_bytes + values_bytes */
	EXTRA_IPC_SHM,		/* ipc_shm_entry.size, padded to 4 */
	EXTRA_IPC_SEM,		/* ipc_sem_entry.nsems u16 values, padded to 8 */
	EXTRA_IPC_MSG,		/* ipc_msg_entry.qnum framed ipc_msg + text, padded to 8 */
	EXTRA_GHOST,		/* ghost file: chunks, or the whole rest of the file */
};

struct img_desc {
	const char *name;	/* crit's magic name, e.g. "CORE" */
	const char *fname;	/* file name; "%u" or "%x" stands for the image's id */
	uint32_t magic;		/* RAW_IMAGE_MAGIC for pages: no header at all */
	uint32_t prefix;	/* IMG_COMMON_MAGIC, IMG_SERVICE_MAGIC, or 0 */
	const ProtobufCMessageDescriptor *msg;	 /* type of every entry ... */
	const ProtobufCMessageDescriptor *first; /* ... but the first, when set */
	enum img_extra extra;
};

const struct img_desc *img_desc_of(enum img_type type);
/* The image whose own magic is @magic; NULL if none (or @magic is 0). */
const struct img_desc *img_desc_by_magic(uint32_t magic);
/* The image crit calls @name ("CORE"); NULL if none. */
const struct img_desc *img_desc_by_name(const char *name);

struct img;

/*
 * Open the image of @type in directory @dirfd, its id being @id where the
 * file name has one.  @flags is O_RDONLY (the magic is read and checked) or
 * O_WRONLY (created or truncated, the magic written).  A missing file opened
 * for reading gives -ENOENT without logging: callers decide if that's fine.
 */
int img_open(struct img **img, int dirfd, enum img_type type, unsigned long id, int flags);

/*
 * openat() for an image file named @name in @dirfd that never follows a
 * symlink, never blocks on a FIFO and gives only a regular file: anything
 * else at an image's name is -EINVAL, logged.  @flags as for openat();
 * files are created 0600.  Returns the fd or -errno.
 */
int img_openat(int dirfd, const char *name, int flags);

/*
 * Open the image file at @path for reading and find its type from its magic.
 * A pages image (no magic) is recognised by its name.
 */
int img_open_any(struct img **img, const char *path);

/* Read an image from an already open @fd, named @name in messages (crit). */
int img_open_fd_read(struct img **img, int fd, const char *name, bool raw_pages);

/* Write an image of @type to an already open @fd (crit encode). */
int img_open_fd_write(struct img **img, int fd, const char *name, enum img_type type);

/* Close; for a writer, flush and report any write error.  @img may be NULL. */
int img_close(struct img *img);

const struct img_desc *img_get_desc(const struct img *img);
const char *img_name(const struct img *img);
off_t img_offset(const struct img *img);

/*
 * Read the next entry as a message of type @md.  Returns 1 and sets *@msg,
 * 0 at a clean end of file, or a negative errno.  Free with img_free_msg().
 */
int img_read_msg(struct img *img, const ProtobufCMessageDescriptor *md, ProtobufCMessage **msg);
/*
 * Open image @type (@id) in @dirfd, read its first entry as @md, close it:
 * for the images that hold one entry.  0, or -ENOENT without logging when
 * the file is missing (callers say what that means), -EINVAL when it is
 * empty, or the read's error.
 */
int img_read_one(int dirfd, enum img_type type, unsigned long id,
		 const ProtobufCMessageDescriptor *md, ProtobufCMessage **msg);
/* Read the next entry's framing and raw message bytes (crit's generic path). */
int img_read_entry(struct img *img, uint8_t **data, size_t *len);
/* Read exactly @len raw bytes following an entry; a short file is an error. */
int img_read_raw(struct img *img, void *buf, size_t len);
/* Allocate and read @len raw bytes, checking first that the file holds them. */
int img_read_alloc(struct img *img, size_t len, uint8_t **buf);
/* Read everything up to the end of the file (ghost file contents). */
int img_read_rest(struct img *img, uint8_t **buf, size_t *len);

int img_write_msg(struct img *img, const ProtobufCMessage *msg);
/* Create image @type (@id) in @dirfd holding the one entry @msg: 0 or -errno. */
int img_write_one(int dirfd, enum img_type type, unsigned long id, const ProtobufCMessage *msg);
int img_write_raw(struct img *img, const void *buf, size_t len);

void img_free_msg(ProtobufCMessage *msg);

/* Unpack @len bytes as @md, logging against @img's name and entry offset. */
int img_unpack(struct img *img, const ProtobufCMessageDescriptor *md,
	       const uint8_t *data, size_t len, ProtobufCMessage **msg);

#endif
