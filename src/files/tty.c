/*
 * tty.c - terminals: pty pairs, the console, virtual terminals, /dev/tty
 * and a shell job's terminal; their dump, and the kind.
 *
 * Each open file description of a terminal gets a TTY entry in files.img,
 * preceded by a REG entry (regf_id) with its path.  Each end of a terminal
 * gets one entry in tty-info.img with its settings, under CRIU's id
 * (tty.h): restore joins the two images by them.  What only a task of the
 * terminal's session can learn (the session and the foreground group) is
 * asked through its parasite.
 *
 * A pty whose master is in the tree comes back whole (tty-restore.c).  A
 * slave whose master is outside is a shell job's terminal: restore can
 * only hand the job its own terminal in that place, so it is dumped only
 * with --shell-job, and only one.  A slave whose master was closed is
 * hung up, and comes back hung up.
 *
 * The bytes queued in a pair go to tty-data.img, one entry per end: what
 * that end would read next.  Reading them takes them out of the kernel, so
 * unless the tree is to be killed they are put back at once, and a dump
 * that fails puts them back before the tree resumes.  The unfinished line
 * of a slave in canonical mode cannot be read without changing its mode,
 * so, as in CRIU, it stays in the kernel and out of the images.
 *
 * Putting bytes back (tty_refill) uses TIOCSTI, which hands one byte to
 * the line discipline of the end it is called on as if it had just come
 * in, at once: the master's bytes arrive as they were (a master's
 * discipline does nothing to them), and the slave's pass its discipline
 * again with echo, signals and input mapping off for the while, so each
 * lands once, as it was read.  A write would go through a work queue and
 * meet the slave's own settings again.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
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
#include "files/tty.h"
#include "fdinfo.pb-c.h"
#include "log.h"
#include "ns/ns.h"
#include "opts.h"

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

/* The kernel's struct termios has 19 control characters; CRIU stores 19 words. */
#define TERMIOS_NCC		19

/* An end of a terminal in tty-info.img, as first seen. */
struct tty_seen {
	uint32_t info_id;
	struct tty_kind kind;
	int index;
	bool hangup;
	bool packet;		/* a master in packet mode: reads carry a status byte */
	pid_t pid;		/* the task and fd it was first seen through */
	int fd;
	int32_t sid, pgrp;
	int lfd;		/* a live pty end: our copy of its file, for its queue; else -1 */
	char *queued;		/* what was read out of that queue */
	size_t nr_queued;
};

struct tty_dump {
	struct tty_seen *seen;
	size_t nr, cap;
	struct img *info_img;
	bool taken;		/* queued bytes are out of the kernel, not put back yet */
	int nr_external;	/* files of terminals named by --external */
};

/* What only the task itself can ask: TIOCGSID and TIOCGPGRP answer only the session. */
struct tty_task_view {
	int32_t sid, pgrp, excl, pkt, lock;
	bool hangup;
};

bool tty_kind_of(dev_t rdev, struct tty_kind *k)
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

static struct tty_dump *tty_dump_state(struct dump_ctx *ctx)
{
	struct files_priv *priv = files_priv(ctx);

	if (priv && !priv->tty_priv) {
		priv->tty_priv = calloc(1, sizeof(struct tty_dump));
		if (!priv->tty_priv)
			pr_err("out of memory");
	}
	return priv ? priv->tty_priv : NULL;
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
struct ioctl_call {
	struct dump_task *t;
	int fd;
	unsigned long cmd, raddr;
	long *res;
};

/* A parasite command: on the tracer (dump_on_tracer()). */
static int ioctl_call(void *arg)
{
	struct ioctl_call *c = arg;

	return compel_rpc_syscall(c->t->ctl, SYS_ioctl, c->res, c->fd, c->cmd, c->raddr, 0, 0, 0);
}

static int task_ioctl_int(struct dump_task *t, int fd, unsigned long cmd, int32_t *val, long *res)
{
	struct ioctl_call c = { t, fd, cmd, 0, res };
	int32_t *out = compel_scratch(t->ctl, sizeof(*out), &c.raddr);
	int ret = out ? dump_on_tracer(ioctl_call, &c) : -EINVAL;

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

static struct tty_seen *tty_seen_lookup(struct tty_dump *td, uint32_t info_id)
{
	for (size_t i = 0; i < td->nr; i++)
		if (td->seen[i].info_id == info_id)
			return &td->seen[i];
	return NULL;
}

static int tty_info_write(struct dump_ctx *ctx, struct tty_dump *td, const struct file_parms *p,
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
	ie.uid = userns_dump_uid(p->st.st_uid);
	ie.gid = userns_dump_gid(p->st.st_gid);
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
	ret = files_img_lazy(ctx, &td->info_img, IMG_TTY_INFO, 0);
	if (ret)
		return ret;
	return img_write_msg(td->info_img, &ie.base);
}

/* Remember the end @p, with our own copy of a live pty end's file for its queue. */
static int tty_seen_add(struct tty_dump *td, const struct file_parms *p, const struct tty_kind *k,
			uint32_t info_id, int index, const struct tty_task_view *v)
{
	struct tty_seen *s;
	int ret;

	ret = files_grow(&td->seen, &td->cap, td->nr, sizeof(*td->seen));
	if (ret)
		return ret;
	s = &td->seen[td->nr];
	*s = (struct tty_seen){
		.info_id = info_id, .kind = *k, .index = index, .hangup = v->hangup,
		.packet = v->pkt != 0, .pid = p->pid, .fd = p->fd, .sid = v->sid,
		.pgrp = v->pgrp, .lfd = -1,
	};
	if (k->type == TTY_TYPE__PTY && !v->hangup) {
		s->lfd = fcntl(p->lfd, F_DUPFD_CLOEXEC, 0);
		if (s->lfd < 0) {
			pr_perror("pid %d fd %d: cannot keep %s", p->pid, p->fd, p->link);
			return -errno;
		}
	}
	td->nr++;
	return 0;
}

/* The tty-info.img entry of the terminal end @p, the first time it is seen. */
static int tty_info_dump(struct dump_ctx *ctx, struct file_parms *p, const struct tty_kind *k,
			 uint32_t info_id, int index)
{
	struct tty_dump *td = tty_dump_state(ctx);
	struct tty_task_view v;
	struct dump_task *t;
	int ret;

	if (!td)
		return -ENOMEM;
	if (tty_seen_lookup(td, info_id))
		return 0;
	t = tty_task(ctx, p->pid);
	if (!t)
		return -ESRCH;
	ret = tty_ask_task(t, p, k, &v) ?: tty_info_write(ctx, td, p, k, info_id, index, &v) ?:
	      tty_seen_add(td, p, k, info_id, index, &v);
	if (ret)
		return ret;
	pr_info("pid %d fd %d: %s is terminal %#x of session %d, foreground group %d%s",
		p->pid, p->fd, p->link, info_id, v.sid, v.pgrp, v.hangup ? " (hung up)" : "");
	return 0;
}

/* A pty's number: a master tells it (TIOCGPTN), a slave is /dev/pts/<its minor>. */
static int tty_index(const struct file_parms *p, const struct tty_kind *k, int *index)
{
	unsigned int n;

	if (k->index >= 0) {
		*index = k->index;
		return 0;
	}
	if (!k->master) {
		n = minor(p->st.st_rdev);
	} else if (ioctl(p->lfd, TIOCGPTN, &n)) {
		pr_perror("pid %d fd %d: cannot read the number of pty master %s", p->pid, p->fd,
			  p->link);
		return -errno;
	}
	if (n > MAX_PTY_INDEX) {
		pr_err("unsupported: pid %d fd %d is pty %u (%s), over CRIU's pty index limit of %d",
		       p->pid, p->fd, n, p->link, MAX_PTY_INDEX);
		return -ENOTSUP;
	}
	*index = (int)n;
	return 0;
}

static int tty_file_write(struct dump_ctx *ctx, const struct file_parms *p, uint32_t id,
			  uint32_t info_id, const uint32_t *regf_id)
{
	TtyFileEntry tfe = TTY_FILE_ENTRY__INIT;
	FileEntry fe = FILE_ENTRY__INIT;

	tfe.id = id;
	tfe.tty_info_id = info_id;
	tfe.flags = p->flags;
	tfe.fown = (FownEntry *)&p->fown;
	tfe.has_regf_id = regf_id != NULL;
	tfe.regf_id = regf_id ? *regf_id : 0;
	fe.type = FD_TYPES__TTY;
	fe.id = id;
	fe.tty = &tfe;
	return img_write_msg(ctx->files_img, &fe.base);
}

/*
 * A terminal --external names (tty[RDEV:DEV]): the caller hands restore
 * one with --inherit-fd.  Each file gets a number of its own, as in CRIU,
 * and no path.
 */
static int tty_dump_external(struct dump_ctx *ctx, struct file_parms *p, uint32_t id)
{
	struct tty_dump *td = tty_dump_state(ctx);
	struct tty_kind k = { TTY_TYPE__EXT_TTY, false, 0 };
	int ret;

	if (!td)
		return -ENOMEM;
	k.index = EXT_INDEX + ++td->nr_external;
	if (k.index > EXT_INDEX_MAX) {
		pr_err("unsupported: pid %d fd %d: more than %d files of external terminals",
		       p->pid, p->fd, EXT_INDEX_MAX - EXT_INDEX);
		return -ENOTSUP;
	}
	ret = tty_info_dump(ctx, p, &k, tty_info_id(k.index, false), k.index);
	if (ret)
		return ret;
	pr_info("pid %d fd %d: %s is external", p->pid, p->fd, p->link);
	return tty_file_write(ctx, p, id, tty_info_id(k.index, false), NULL);
}

static int tty_dump(struct dump_ctx *ctx, struct file_parms *p, uint32_t id)
{
	char key[64];

	struct tty_kind k;
	uint32_t regf_id, info_id;
	int index = 0, ret;

	if (!tty_kind_of(p->st.st_rdev, &k)) {
		pr_err("pid %d fd %d: %s is not a terminal", p->pid, p->fd, p->link);
		return -EINVAL;
	}
	snprintf(key, sizeof(key), "tty[%llx:%llx]", (unsigned long long)p->st.st_rdev,
		 (unsigned long long)p->st.st_dev);
	if (opts_external(ctx->opts, key))
		return tty_dump_external(ctx, p, id);
	ret = tty_index(p, &k, &index);
	if (ret)
		return ret;
	info_id = tty_info_id(index, k.master);

	/* The path entry takes the next id and is written first, as in CRIU. */
	regf_id = dump_next_file_id(ctx);
	ret = reg_dump(ctx, p, regf_id) ?: tty_info_dump(ctx, p, &k, info_id, index);
	return ret ?: tty_file_write(ctx, p, id, info_id, &regf_id);
}

/* --- once every task is dumped --- */

/*
 * A live slave whose master is not in the tree belongs to a terminal
 * outside: a shell job's, which restore replaces by its own, and only one.
 */
static int tty_check_pairs(struct dump_ctx *ctx, struct tty_dump *td)
{
	const struct tty_seen *outside = NULL;

	for (size_t i = 0; i < td->nr; i++) {
		const struct tty_seen *s = &td->seen[i];

		if (s->kind.type != TTY_TYPE__PTY || s->kind.master || s->hangup ||
		    tty_seen_lookup(td, tty_info_id(s->index, true)))
			continue;
		if (!ctx->opts->shell_job) {
			pr_err("unsupported: pid %d fd %d is /dev/pts/%d, a terminal whose master is not in the tree (use --shell-job)",
			       s->pid, s->fd, s->index);
			return -ENOTSUP;
		}
		if (outside) {
			pr_err("unsupported: pid %d fd %d is /dev/pts/%d, a second terminal from outside (pid %d fd %d has /dev/pts/%d): a shell job has one",
			       s->pid, s->fd, s->index, outside->pid, outside->fd, outside->index);
			return -ENOTSUP;
		}
		outside = s;
	}
	return 0;
}

/*
 * /dev/tty is restored by making its pty the controlling terminal of the
 * task that opens it, so, as CRIU demands, that task must also hold the
 * pty of the session it names, with the session leader's group in the
 * foreground.
 */
static int tty_check_ctty(struct tty_dump *td)
{
	for (size_t i = 0; i < td->nr; i++) {
		const struct tty_seen *c = &td->seen[i], *pty = NULL;

		if (c->kind.type != TTY_TYPE__CTTY)
			continue;
		for (size_t j = 0; j < td->nr && !pty; j++) {
			const struct tty_seen *s = &td->seen[j];

			if (s->kind.type == TTY_TYPE__PTY && s->sid == c->sid && s->pgrp == c->sid)
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

/* --- queued bytes --- */

/*
 * A master in packet mode starts each read with a status byte: keep the
 * data only.  The image holds what one read would give, as CRIU's does:
 * one TIOCPKT_DATA byte, then every byte of data (tty_take_queue).
 */
static size_t tty_unpacket(char *buf, size_t n)
{
	if (!n || buf[0] != TIOCPKT_DATA)
		return 0;	/* a report of a status change, not data */
	memmove(buf, buf + 1, n - 1);
	return n - 1;
}

/* The bytes of @s's queue to put back: its image data but the packet byte. */
static const char *tty_queue_bytes(const struct tty_seen *s, size_t *len)
{
	size_t skip = s->packet && s->nr_queued ? 1 : 0;

	*len = s->nr_queued - skip;
	return s->queued + skip;
}

/* Read all @s would read next, without waiting; its file's flags put back. */
static int tty_take_queue(struct tty_seen *s)
{
	int flags = fcntl(s->lfd, F_GETFL), ret = 0;
	ssize_t n;

	s->queued = malloc(TTY_QUEUE_MAX);
	if (!s->queued) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	if (flags < 0 || fcntl(s->lfd, F_SETFL, flags | O_NONBLOCK)) {
		pr_perror("pid %d fd %d: cannot read the terminal's queue", s->pid, s->fd);
		return -errno;
	}
	if (s->packet)
		s->queued[s->nr_queued++] = TIOCPKT_DATA;
	while (!ret && s->nr_queued < TTY_QUEUE_MAX) {
		n = read(s->lfd, s->queued + s->nr_queued, TTY_QUEUE_MAX - s->nr_queued);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || (n < 0 && (errno == EAGAIN || errno == EIO)))
			break;
		if (n < 0) {
			ret = -errno;
			pr_perror("pid %d fd %d: cannot read the terminal's queue", s->pid, s->fd);
		} else {
			s->nr_queued += s->packet ? tty_unpacket(s->queued + s->nr_queued, n) : (size_t)n;
		}
	}
	if (!ret && s->nr_queued == TTY_QUEUE_MAX) {
		pr_err("pid %d fd %d: more than %u bytes queued in a terminal", s->pid, s->fd,
		       TTY_QUEUE_MAX);
		ret = -E2BIG;
	}
	if (s->packet && s->nr_queued == 1)
		s->nr_queued = 0;	/* no data behind the packet byte */
	if (fcntl(s->lfd, F_SETFL, flags) && !ret) {
		pr_perror("pid %d fd %d: cannot put the terminal's flags back", s->pid, s->fd);
		ret = -errno;
	}
	return ret;
}

/* The slave of live master @m, when the tree holds it too; NULL otherwise. */
static struct tty_seen *tty_pair_slave(struct tty_dump *td, const struct tty_seen *m)
{
	struct tty_seen *s;

	if (m->kind.type != TTY_TYPE__PTY || !m->kind.master || m->lfd < 0)
		return NULL;
	s = tty_seen_lookup(td, tty_info_id(m->index, false));
	return s && s->lfd >= 0 ? s : NULL;
}

static int tty_data_write(struct dump_ctx *ctx, struct img **img, const struct tty_seen *s)
{
	TtyDataEntry e = TTY_DATA_ENTRY__INIT;
	int ret;

	if (!s->nr_queued)
		return 0;
	ret = files_img_lazy(ctx, img, IMG_TTY_DATA, 0);
	if (ret)
		return ret;
	e.tty_id = s->info_id;
	e.data.data = (uint8_t *)s->queued;
	e.data.len = s->nr_queued;
	pr_info("terminal %#x: %zu bytes queued", s->info_id, s->nr_queued);
	return img_write_msg(*img, &e.base);
}

/* Give every pair back what was read out of it. */
static int tty_put_back(struct tty_dump *td)
{
	int ret = 0;

	for (size_t i = 0; td->taken && i < td->nr; i++) {
		struct tty_seen *m = &td->seen[i], *s = tty_pair_slave(td, m);
		const char *mb, *sb;
		size_t ml, sl;

		if (!s)
			continue;
		mb = tty_queue_bytes(m, &ml);
		sb = tty_queue_bytes(s, &sl);
		ret = tty_refill(m->lfd, s->lfd, mb, ml, sb, sl) ?: ret;
	}
	td->taken = false;
	return ret;
}

/*
 * Both queues of each pair the tree holds whole, into tty-data.img, and
 * back into the kernel unless the tree is to be killed.
 */
static int tty_dump_queues(struct dump_ctx *ctx, struct tty_dump *td)
{
	struct img *img = NULL;
	int ret = 0, err;

	for (size_t i = 0; !ret && i < td->nr; i++) {
		struct tty_seen *m = &td->seen[i], *s = tty_pair_slave(td, m);

		if (!s)
			continue;
		td->taken = true;
		ret = tty_take_queue(m) ?: tty_take_queue(s) ?: tty_data_write(ctx, &img, m) ?:
		      tty_data_write(ctx, &img, s);
	}
	err = img_close(img);
	ret = ret ?: err;
	if (!ret && ctx->opts->leave_running)
		ret = tty_put_back(td);
	return ret;
}

static int tty_dump_finish(struct dump_ctx *ctx)
{
	struct files_priv *priv = ctx->files_priv;
	struct tty_dump *td = priv ? priv->tty_priv : NULL;
	int ret, err;

	if (!td)
		return 0;
	ret = tty_check_pairs(ctx, td) ?: tty_check_ctty(td) ?: tty_dump_queues(ctx, td);
	err = img_close(td->info_img);
	td->info_img = NULL;
	return ret ?: err;
}

static void tty_dump_undo(struct dump_ctx *ctx)
{
	struct files_priv *priv = ctx->files_priv;

	if (priv && priv->tty_priv && tty_put_back(priv->tty_priv))
		pr_warn("bytes queued in a terminal could not all be put back");
}

static void tty_dump_cleanup(struct dump_ctx *ctx)
{
	struct files_priv *priv = ctx->files_priv;
	struct tty_dump *td = priv ? priv->tty_priv : NULL;

	if (!td)
		return;
	img_close(td->info_img);
	for (size_t i = 0; i < td->nr; i++) {
		if (td->seen[i].lfd >= 0)
			close(td->seen[i].lfd);
		free(td->seen[i].queued);
	}
	free(td->seen);
	free(td);
	priv->tty_priv = NULL;
}

/* --- putting bytes back (tty.c's header) --- */

static int tty_sti(int fd, const unsigned char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (ioctl(fd, TIOCSTI, &buf[i])) {
			pr_perror("cannot put %zu queued bytes back into a terminal", len - i);
			return -errno;
		}
	}
	return 0;
}

/*
 * @t with nothing done to a byte that comes in but the line editing
 * itself: no echo, no signal, no mapping.  ICANON stays, so the lines
 * stay lines.
 */
static void tty_quiet(struct termios *t)
{
	t->c_iflag &= ~(ISTRIP | INLCR | IGNCR | ICRNL | IUCLC);
	t->c_lflag &= ~(ISIG | IEXTEN | ECHO | ECHOE | ECHOK | ECHONL | ECHOCTL | ECHOPRT | ECHOKE);
}

/* Set @t, and @locked (which could forbid @t) first: TIOCSLCKTRMIOS. */
static int tty_set_termios(int fd, const struct termios *t, const struct termios *locked)
{
	if (ioctl(fd, TIOCSLCKTRMIOS, locked) || ioctl(fd, TCSETS, t)) {
		pr_perror("cannot set a terminal's settings");
		return -errno;
	}
	return 0;
}

static int tty_refill_slave(int slave, const void *buf, size_t len)
{
	struct termios t, quiet, locked, none;
	int ret;

	memset(&none, 0, sizeof(none));
	if (ioctl(slave, TCGETS, &t) || ioctl(slave, TIOCGLCKTRMIOS, &locked)) {
		pr_perror("cannot read a terminal's settings");
		return -errno;
	}
	quiet = t;
	tty_quiet(&quiet);
	ret = tty_set_termios(slave, &quiet, &none);
	if (!ret)
		ret = tty_sti(slave, buf, len);
	/* The settings go back even if the bytes did not all go in. */
	if (ioctl(slave, TCSETS, &t) || ioctl(slave, TIOCSLCKTRMIOS, &locked)) {
		pr_perror("cannot put a terminal's settings back");
		ret = ret ?: -errno;
	}
	return ret;
}

int tty_refill(int master, int slave, const void *to_master, size_t mlen,
	       const void *to_slave, size_t slen)
{
	int ret = 0;

	if (mlen)
		ret = tty_sti(master, to_master, mlen);
	if (slen)
		ret = tty_refill_slave(slave, to_slave, slen) ?: ret;
	return ret;
}

/* --- the kind --- */

static int tty_match(struct dump_ctx *ctx, struct file_parms *p)
{
	struct tty_kind k;

	(void)ctx;
	return S_ISCHR(p->st.st_mode) && tty_kind_of(p->st.st_rdev, &k);
}

static const void *tty_part(const FileEntry *fe)
{
	return fe->tty;
}

const struct fd_kind tty_fd_kind = {
	.name = "tty",
	.type = FD_TYPES__TTY,
	.match = tty_match,
	.dump = tty_dump,
	.dump_finish = tty_dump_finish,
	.dump_undo = tty_dump_undo,
	.dump_cleanup = tty_dump_cleanup,
	.part = tty_part,
	.inherit_key = tty_inherit_key,
	.fown = tty_restore_fown,
	.open = tty_restore_open,
	.prepared = tty_restore_prepared,
	.installed = tty_restore_installed,
	.arm = tty_restore_arm,
	.restore_cleanup = tty_restore_cleanup,
};
