/*
 * tty.c - terminals, recorded as CRIU records a shell job's.
 *
 * A program started from a shell has the shell's terminal on its stdio:
 * the slave end of a pty whose master (a terminal emulator, sshd) is not
 * part of the dump.  Restore cannot bring that other end back, so a
 * terminal is dumped only with --shell-job, the promise that restore will
 * hand the job the terminal restore itself runs on; without it the dump is
 * refused.  pty masters are refused either way.
 *
 * Each open file description of a terminal gets a TTY entry in files.img,
 * preceded by a REG entry (regf_id) with the path restore opens.  Each
 * terminal gets one entry in tty-info.img with its settings, under an id
 * made the way CRIU makes it: index * 2, plus one for a master, where the
 * index is the pty number, or a fixed number per kind for the others.
 * Ids must match CRIU's, since restore joins the two images by them.
 *
 * The job's terminal is an unpaired slave: its master is outside.  CRIU
 * allows only one of those per dump, and writes no tty-data.img for it
 * (queued bytes are saved only for pairs), so neither do we.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "files/files.h"
#include "files/kind.h"
#include "fdinfo.pb-c.h"
#include "log.h"
#include "tty.pb-c.h"

/* Device numbers, from linux/major.h, and the serial ones CRIU adds. */
#define TTY_MAJOR		4
#define TTYAUX_MAJOR		5
#define PTM_MAJOR		128	/* unix98 pty masters: 8 majors */
#define PTM_MAJOR_COUNT		8
#define PTS_MAJOR		136	/* unix98 pty slaves, as CRIU counts them */
#define USB_SERIAL_MAJOR	188
#define LOW_DENSE_SERIAL_MAJOR	204
#define MIN_NR_CONSOLES		1
#define MAX_NR_CONSOLES		63

/*
 * CRIU's indices: ptys up to 1000 by number, then one fixed index per kind
 * of other terminal (so all VTs share one tty-info entry).
 */
#define MAX_PTY_INDEX		1000
#define CONSOLE_INDEX		1002
#define VT_INDEX		1004
#define CTTY_INDEX		1006
#define SERIAL_INDEX		1010

/* The kernel's struct termios has 19 control characters; CRIU stores 19 words. */
#define TERMIOS_NCC		19

struct tty_kind {
	TtyType type;
	bool master;
	int index;		/* -1: a pty, numbered by its minor */
};

/* A terminal in tty-info.img: enough to check the job as a whole at the end. */
struct tty_seen {
	uint32_t info_id;
	TtyType type;
	bool hangup;
	pid_t pid;		/* the task and fd it was first seen through */
	int fd;
	int32_t sid, pgrp;
};

/* What only the task itself can ask: TIOCGSID and TIOCGPGRP answer only the session. */
struct tty_task_view {
	int32_t sid, pgrp, excl, pkt, lock;
	bool hangup;
};

/* Which terminal @rdev is, by CRIU's table; false for any other device. */
static bool tty_kind_of(dev_t rdev, struct tty_kind *k)
{
	unsigned int maj = major(rdev), min = minor(rdev);

	*k = (struct tty_kind){ .type = TTY_TYPE__UNKNOWN, .index = -1 };
	if (maj == TTYAUX_MAJOR && min == 0)
		*k = (struct tty_kind){ TTY_TYPE__CTTY, false, CTTY_INDEX };
	else if (maj == TTYAUX_MAJOR && min == 1)
		*k = (struct tty_kind){ TTY_TYPE__CONSOLE, false, CONSOLE_INDEX };
	else if (maj == TTYAUX_MAJOR && min == 2)
		*k = (struct tty_kind){ TTY_TYPE__PTY, true, -1 };
	else if (maj == TTY_MAJOR && min >= MIN_NR_CONSOLES && min <= MAX_NR_CONSOLES)
		*k = (struct tty_kind){ TTY_TYPE__VT, false, VT_INDEX };
	else if (maj == USB_SERIAL_MAJOR || maj == LOW_DENSE_SERIAL_MAJOR)
		*k = (struct tty_kind){ TTY_TYPE__SERIAL, false, SERIAL_INDEX };
	else if (maj >= PTM_MAJOR && maj < PTM_MAJOR + PTM_MAJOR_COUNT)
		*k = (struct tty_kind){ TTY_TYPE__PTY, true, -1 };
	else if (maj == PTS_MAJOR)
		*k = (struct tty_kind){ TTY_TYPE__PTY, false, -1 };
	return k->type != TTY_TYPE__UNKNOWN;
}

bool tty_is_tty(const struct file_parms *p)
{
	struct tty_kind k;

	return S_ISCHR(p->st.st_mode) && tty_kind_of(p->st.st_rdev, &k);
}

/* Only a shell job's terminal, and only what restore can attach again. */
static int tty_check_dumpable(struct dump_ctx *ctx, const struct file_parms *p,
			      const struct tty_kind *k)
{
	if (k->master) {
		pr_err("unsupported: pid %d fd %d is %s (a pty master)", p->pid, p->fd, p->link);
		return -ENOTSUP;
	}
	if (!ctx->opts->shell_job) {
		pr_err("unsupported: pid %d fd %d is %s (a terminal; use --shell-job)",
		       p->pid, p->fd, p->link);
		return -ENOTSUP;
	}
	return 0;
}

static struct dump_task *tty_task(struct dump_ctx *ctx, pid_t pid)
{
	for (size_t i = 0; i < ctx->nr_tasks; i++)
		if (ctx->tasks[i].pid == pid && ctx->tasks[i].ctl)
			return &ctx->tasks[i];
	pr_err("pid %d: not infected while its terminal is dumped", pid);
	return NULL;
}

/*
 * ioctl(@fd, @cmd, &int) made by the task through its parasite.  0 when
 * the call was made, with the kernel's answer in *@res (-errno or 0) and
 * the value in *@val.
 */
static int task_ioctl_int(struct dump_task *t, int fd, unsigned long cmd, int32_t *val, long *res)
{
	unsigned long raddr;
	int32_t *out = compel_scratch(t->ctl, sizeof(*out), &raddr);
	int ret = out ? compel_rpc_syscall(t->ctl, SYS_ioctl, res, fd, cmd, raddr, 0, 0, 0) :
			-EINVAL;

	if (ret) {
		pr_err("pid %d fd %d: ioctl %#lx in the parasite failed", t->pid, fd, cmd);
		return ret;
	}
	*val = *out;
	return 0;
}

/*
 * Ask what CRIU asks from inside the task, in its order.  A terminal that
 * is not the task's own answers TIOCGSID/TIOCGPGRP with ENOTTY, a slave
 * TIOCGPKT/TIOCGPTLCK too: those read as 0.  EIO means the terminal was
 * hung up (its master closed): what is not read yet stays 0.
 */
static int tty_ask_task(struct dump_task *t, const struct file_parms *p,
			const struct tty_kind *k, struct tty_task_view *v)
{
	const struct {
		unsigned long cmd;
		int32_t *val;
	} asks[] = {
		{ TIOCGSID, &v->sid }, { TIOCGPGRP, &v->pgrp }, { TIOCGEXCL, &v->excl },
		{ TIOCGPKT, &v->pkt }, { TIOCGPTLCK, &v->lock },	/* ptys only */
	};
	size_t nr = k->type == TTY_TYPE__PTY ? 5 : 3;
	long res;
	int ret;

	memset(v, 0, sizeof(*v));
	for (size_t i = 0; i < nr; i++) {
		ret = task_ioctl_int(t, p->fd, asks[i].cmd, asks[i].val, &res);
		if (ret)
			return ret;
		if (res == -EIO) {
			v->hangup = true;
			return 0;
		}
		if (res == -ENOTTY) {
			*asks[i].val = 0;
		} else if (res < 0) {
			pr_err("pid %d fd %d: ioctl %#lx on %s: %s", p->pid, p->fd, asks[i].cmd,
			       p->link, strerror(-res));
			return res;
		}
	}
	return 0;
}

/*
 * CRIU copies the bytes of c_cc[] (glibc's 32) over its 19 uint32 words
 * and back again on restore, so each word carries four control characters
 * in memory order.  Stored the same way, for CRIU to restore them right;
 * the words past those 32 bytes are zero.
 */
static void termios_fill(TermiosEntry *e, uint32_t *cc, const struct termios *t)
{
	_Static_assert(sizeof(t->c_cc) <= TERMIOS_NCC * sizeof(*cc), "c_cc does not fit");

	memset(cc, 0, TERMIOS_NCC * sizeof(*cc));
	memcpy(cc, t->c_cc, sizeof(t->c_cc));
	e->c_iflag = t->c_iflag;
	e->c_oflag = t->c_oflag;
	e->c_cflag = t->c_cflag;
	e->c_lflag = t->c_lflag;
	e->c_line = t->c_line;
	/* c_ispeed/c_ospeed stay 0 as in CRIU: the speed is in c_cflag. */
	e->n_c_cc = TERMIOS_NCC;
	e->c_cc = cc;
}

/* The terminal's settings, read through our copy of the file. */
static int tty_read_settings(const struct file_parms *p, struct termios *t, struct termios *tl,
			     struct winsize *w)
{
	/* glibc's termios is larger than what TCGETS fills: the rest must be 0. */
	memset(t, 0, sizeof(*t));
	memset(tl, 0, sizeof(*tl));
	memset(w, 0, sizeof(*w));
	if (ioctl(p->lfd, TCGETS, t) || ioctl(p->lfd, TIOCGLCKTRMIOS, tl) ||
	    ioctl(p->lfd, TIOCGWINSZ, w)) {
		pr_perror("pid %d fd %d: cannot read the settings of %s", p->pid, p->fd, p->link);
		return -errno;
	}
	return 0;
}

static struct tty_seen *tty_seen_lookup(struct files_priv *priv, uint32_t info_id)
{
	for (size_t i = 0; i < priv->nr_ttys; i++)
		if (priv->ttys[i].info_id == info_id)
			return &priv->ttys[i];
	return NULL;
}

/*
 * The job's terminal is a slave whose master stays behind; restore puts
 * its own terminal in that place, and it has only one.
 */
static int tty_check_one_slave(struct files_priv *priv, const struct file_parms *p,
			       const struct tty_kind *k)
{
	if (k->type != TTY_TYPE__PTY)
		return 0;
	for (size_t i = 0; i < priv->nr_ttys; i++) {
		const struct tty_seen *s = &priv->ttys[i];

		if (s->type != TTY_TYPE__PTY || s->hangup)
			continue;
		pr_err("unsupported: pid %d fd %d is %s, a second terminal (pid %d fd %d has the first): a shell job has one",
		       p->pid, p->fd, p->link, s->pid, s->fd);
		return -ENOTSUP;
	}
	return 0;
}

static int tty_info_write(struct dump_ctx *ctx, struct files_priv *priv, const struct file_parms *p,
			  const struct tty_kind *k, uint32_t info_id, int index,
			  const struct tty_task_view *v)
{
	TtyInfoEntry ie = TTY_INFO_ENTRY__INIT;
	TermiosEntry te = TERMIOS_ENTRY__INIT, tle = TERMIOS_ENTRY__INIT;
	WinsizeEntry we = WINSIZE_ENTRY__INIT;
	TtyPtyEntry pe = TTY_PTY_ENTRY__INIT;
	uint32_t cc[TERMIOS_NCC], lcc[TERMIOS_NCC];
	struct termios t, tl;
	struct winsize w;
	int ret;

	ie.id = info_id;
	ie.type = k->type;
	ie.locked = v->lock != 0;
	ie.exclusive = v->excl != 0;
	ie.packet_mode = v->pkt != 0;
	ie.sid = v->sid;
	ie.pgrp = v->pgrp;
	ie.rdev = p->st.st_rdev;
	ie.has_dev = ie.has_uid = ie.has_gid = true;
	ie.dev = p->st.st_dev;
	ie.uid = p->st.st_uid;
	ie.gid = p->st.st_gid;
	if (k->type == TTY_TYPE__PTY) {
		pe.index = index;
		ie.pty = &pe;
	}
	/* A hung-up terminal has no settings left to read: CRIU records it without. */
	if (!v->hangup) {
		ret = tty_read_settings(p, &t, &tl, &w);
		if (ret)
			return ret;
		termios_fill(&te, cc, &t);
		termios_fill(&tle, lcc, &tl);
		we.ws_row = w.ws_row;
		we.ws_col = w.ws_col;
		we.ws_xpixel = w.ws_xpixel;
		we.ws_ypixel = w.ws_ypixel;
		ie.termios = &te;
		ie.termios_locked = &tle;
		ie.winsize = &we;
	}
	ret = files_img_lazy(ctx, &priv->tty_info_img, IMG_TTY_INFO, 0);
	if (ret)
		return ret;
	return img_write_msg(priv->tty_info_img, &ie.base);
}

/* The tty-info.img entry of the terminal @p, the first time it is seen. */
static int tty_info_dump(struct dump_ctx *ctx, struct file_parms *p, const struct tty_kind *k,
			 uint32_t info_id, int index)
{
	struct files_priv *priv = files_priv(ctx);
	struct tty_task_view v;
	struct dump_task *t;
	int ret;

	if (!priv)
		return -ENOMEM;
	if (tty_seen_lookup(priv, info_id))
		return 0;
	t = tty_task(ctx, p->pid);
	if (!t)
		return -ESRCH;
	ret = tty_ask_task(t, p, k, &v);
	if (!ret && !v.hangup)
		ret = tty_check_one_slave(priv, p, k);
	if (!ret)
		ret = tty_info_write(ctx, priv, p, k, info_id, index, &v);
	if (!ret)
		ret = files_grow(&priv->ttys, &priv->cap_ttys, priv->nr_ttys, sizeof(*priv->ttys));
	if (ret)
		return ret;
	pr_info("pid %d fd %d: %s is terminal %#x of session %d, foreground group %d%s",
		p->pid, p->fd, p->link, info_id, v.sid, v.pgrp, v.hangup ? " (hung up)" : "");
	priv->ttys[priv->nr_ttys++] = (struct tty_seen){
		.info_id = info_id, .type = k->type, .hangup = v.hangup,
		.pid = p->pid, .fd = p->fd, .sid = v.sid, .pgrp = v.pgrp,
	};
	return 0;
}

static int tty_dump(struct dump_ctx *ctx, struct file_parms *p, uint32_t id)
{
	TtyFileEntry tfe = TTY_FILE_ENTRY__INIT;
	FileEntry fe = FILE_ENTRY__INIT;
	struct tty_kind k;
	uint32_t regf_id;
	int index, ret;

	if (!tty_kind_of(p->st.st_rdev, &k)) {
		pr_err("pid %d fd %d: %s is not a terminal", p->pid, p->fd, p->link);
		return -EINVAL;
	}
	ret = tty_check_dumpable(ctx, p, &k);
	if (ret)
		return ret;
	/* devpts numbers its nodes by the pty index: the minor is the N of /dev/pts/N. */
	index = k.index >= 0 ? k.index : (int)minor(p->st.st_rdev);
	if (k.index < 0 && index > MAX_PTY_INDEX) {
		pr_err("unsupported: pid %d fd %d is %s, over CRIU's pty index limit of %d",
		       p->pid, p->fd, p->link, MAX_PTY_INDEX);
		return -ENOTSUP;
	}

	/* The path entry takes the next id and is written first, as in CRIU. */
	regf_id = dump_next_file_id(ctx);
	ret = reg_dump(ctx, p, regf_id);
	if (!ret)
		ret = tty_info_dump(ctx, p, &k, index << 1, index);
	if (ret)
		return ret;

	tfe.id = id;
	tfe.tty_info_id = index << 1;
	tfe.flags = p->flags;
	tfe.fown = &p->fown;
	tfe.has_regf_id = true;
	tfe.regf_id = regf_id;
	fe.type = FD_TYPES__TTY;
	fe.id = id;
	fe.tty = &tfe;
	return img_write_msg(ctx->files_img, &fe.base);
}

/*
 * /dev/tty (CTTY) is restored by making the job's pty the controlling
 * terminal of the task that opens it, so, as CRIU demands, that task must
 * also hold the pty of the session it names, with the session leader's
 * group in the foreground.
 */
static int tty_check_ctty(struct files_priv *priv)
{
	for (size_t i = 0; i < priv->nr_ttys; i++) {
		const struct tty_seen *c = &priv->ttys[i], *pty = NULL;

		if (c->type != TTY_TYPE__CTTY)
			continue;
		for (size_t j = 0; j < priv->nr_ttys && !pty; j++) {
			const struct tty_seen *s = &priv->ttys[j];

			if (s->type == TTY_TYPE__PTY && s->sid == c->sid && s->pgrp == c->sid)
				pty = s;
		}
		if (!pty) {
			pr_err("unsupported: pid %d fd %d is /dev/tty of session %d, with no pty of that session and group in the dump",
			       c->pid, c->fd, c->sid);
			return -ENOTSUP;
		}
		if (pty->pid != c->pid) {
			pr_err("unsupported: pid %d fd %d is /dev/tty of session %d, whose pty is in pid %d (fd %d), not here",
			       c->pid, c->fd, c->sid, pty->pid, pty->fd);
			return -ENOTSUP;
		}
	}
	return 0;
}

int tty_dump_finish(struct dump_ctx *ctx)
{
	struct files_priv *priv = ctx->files_priv;
	int ret, err;

	if (!priv)
		return 0;
	ret = tty_check_ctty(priv);
	err = img_close(priv->tty_info_img);
	priv->tty_info_img = NULL;
	return ret ? ret : err;
}

void tty_dump_cleanup(struct files_priv *priv)
{
	img_close(priv->tty_info_img);
	priv->tty_info_img = NULL;
	free(priv->ttys);
	priv->ttys = NULL;
	priv->nr_ttys = priv->cap_ttys = 0;
}

/* --- restore --- */

/*
 * The terminal stasis runs on: the first of stdin, stdout, stderr that is
 * one, else /dev/tty.  A new fd on it, or -errno.
 */
static int controller_tty(void)
{
	int fd;

	for (int i = 0; i < 3; i++) {
		if (!isatty(i))
			continue;
		fd = fcntl(i, F_DUPFD_CLOEXEC, 0);
		if (fd < 0) {
			pr_perror("cannot dup fd %d, our terminal", i);
			return -errno;
		}
		return fd;
	}
	fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("a shell job needs a terminal, and stasis has none (/dev/tty)");
		return -errno;
	}
	return fd;
}

/*
 * A shell job gets the terminal restore runs on in place of the one it
 * had (tty.c's header): the very open file of ours, so its flags are ours.
 */
static int tty_restore_open(struct rst_ctx *ctx, struct rst_file *f)
{
	int fd;

	if (!ctx->opts || !ctx->opts->shell_job) {
		pr_err("unsupported: file id %u is a terminal; restore a shell job with --shell-job (-j)",
		       f->fe->id);
		return -ENOTSUP;
	}
	fd = controller_tty();
	if (fd < 0)
		return fd;
	pr_info("file id %u: the terminal (tty-info %#x) is ours", f->fe->id,
		f->fe->tty->tty_info_id);
	return rst_pool_add(ctx, fd);
}

/* tty.c decides whether a terminal can be dumped (tty_dump), and says why not. */
static int tty_match(struct dump_ctx *ctx, struct file_parms *p)
{
	(void)ctx;
	return tty_is_tty(p);
}

static const void *tty_part(const FileEntry *fe)
{
	return fe->tty;
}

/* No fown: a shell job's terminal is the controller's own, left as it is. */
const struct fd_kind tty_fd_kind = {
	.name = "tty",
	.type = FD_TYPES__TTY,
	.match = tty_match,
	.dump = tty_dump,
	.part = tty_part,
	.open = tty_restore_open,
};
