/*
 * tty.h - what the two halves of terminals share: which device is which
 * terminal, and how queued bytes go back into a pty.
 *
 * Only tty.c (dump) and tty-restore.c include it, and the mounts'
 * restore (ns/mnt.c) for tty_premake_pty().
 */
#ifndef STASIS_FILES_TTY_H
#define STASIS_FILES_TTY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "fdinfo.pb-c.h"
#include "tty.pb-c.h"

struct rst_ctx;
struct rst_file;
struct rst_task;

/*
 * CRIU's indices: ptys up to 1000 by number, then one fixed index per kind
 * of other terminal (so all VTs share one tty-info entry).  A tty-info id
 * is index * 2, plus one for a pty master.
 */
#define MAX_PTY_INDEX		1000
#define CONSOLE_INDEX		1002
#define VT_INDEX		1004
#define CTTY_INDEX		1006
#define SERIAL_INDEX		1010
#define EXT_INDEX		1012	/* external terminals: 1013 on, one per file */
#define EXT_INDEX_MAX		1076

/* The most queued bytes kept per end of a pty: both kernel buffers, with room. */
#define TTY_QUEUE_MAX		(1u << 20)

struct tty_kind {
	TtyType type;
	bool master;
	int index;		/* -1: a pty, numbered by its minor or TIOCGPTN */
};

/* Which terminal @rdev is, by CRIU's table; false for any other device. */
bool tty_kind_of(dev_t rdev, struct tty_kind *k);

static inline uint32_t tty_info_id(int index, bool master)
{
	return (uint32_t)index << 1 | master;
}

/*
 * Put bytes back into the queues of a pty pair, as if they had just
 * arrived: @to_master for the master to read, @to_slave for the slave.
 * Nothing is processed twice: no echo, no signal, no CR/NL translation
 * (tty.c's header says how).  0 or -errno.
 */
int tty_refill(int master, int slave, const void *to_master, size_t mlen,
	       const void *to_slave, size_t slen);

/* tty-restore.c: the restore hooks of the kind (tty.c). */
int tty_restore_open(struct rst_ctx *ctx, struct rst_file *f);
int tty_inherit_key(struct rst_ctx *ctx, const FileEntry *fe, char *buf, size_t size);
const FownEntry *tty_restore_fown(struct rst_ctx *ctx, const FileEntry *fe);
int tty_restore_prepared(struct rst_ctx *ctx);
int tty_restore_installed(struct rst_ctx *ctx, struct rst_task *t);
int tty_restore_arm(struct rst_ctx *ctx, struct rst_file *f);
void tty_restore_cleanup(struct rst_ctx *ctx);
/*
 * Pty @index made in the devpts mount open as @devpts before the files
 * are (a bind of its slave needs it there), its master kept for the
 * terminals' restore to take.  0 or -errno.
 */
int tty_premake_pty(int devpts, int index);

#endif
