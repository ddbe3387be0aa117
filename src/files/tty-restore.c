/*
 * tty-restore.c - terminals at restore.
 *
 * A pty comes back under its number.  /dev/ptmx hands out the lowest free
 * one, so it is opened until it gives the one wanted, the lower ones held
 * meanwhile, as CRIU does.  The controller makes each pair once, when the
 * first of its entries is opened (the master's first, with its flags),
 * with a slave of its own to set it up: settings, the slave's owner,
 * packet mode, the queued bytes (tty.c's header).  Every slave entry is a
 * fresh open of the slave through its master (TIOCGPTPEER: no path, no
 * devpts to find).  Once every entry is open (prepared), a pair gets what
 * would refuse later opens, its lock and exclusive mode, and a pair whose
 * master the tree no longer held is hung up, by closing the master made
 * for it.
 *
 * Sessions.  A session leader of the tree whose terminal is one of these
 * takes it as its controlling terminal once its fds are in place
 * (installed: TIOCSCTTY) and puts the dumped foreground group in front
 * (TIOCSPGRP).  /dev/tty opens whatever terminal the opener controls, so
 * the controller opens it through a short-lived child that takes the pty
 * for a moment and lets go of it again (TIOCNOTTY) before any task needs
 * it; the child shares our fd table, so its open is ours.
 *
 * The console, virtual terminals and serial lines are opened by path.  A
 * shell job's terminal (a slave whose master was outside) is replaced by
 * the terminal stasis runs on.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "files/files.h"
#include "files/kind.h"
#include "files/tty.h"
#include "fdinfo.pb-c.h"
#include "log.h"
#include "ns/ns.h"
#include "notify.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER	_IO('T', 0x41)
#endif

/* A pair made here. */
struct rst_pty {
	int index;
	int master;		/* ours; -1 once closed to hang the slaves up */
	int slave;		/* ours, to set the pair up */
	bool fake;		/* the tree held no master: hung up once all are open */
};

/* A terminal a session leader of the tree takes as its controlling terminal. */
struct rst_ctty {
	uint32_t sid, pgrp;	/* the session, and its foreground group */
	int fd;			/* a pool fd of the terminal */
	bool own;		/* that pool fd is ours to close */
	uint32_t info_id;
};

struct tty_rst {
	TtyInfoEntry **infos;
	size_t nr_infos;
	TtyDataEntry **data;
	size_t nr_data;
	bool loaded;
	struct rst_pty *ptys;
	size_t nr_ptys, cap_ptys;
	struct rst_ctty *cttys;
	size_t nr_cttys, cap_cttys;
	bool foreground;	/* a shell job's terminal handed to its group */
};

static int tty_load(struct rst_ctx *ctx, struct tty_rst *tr)
{
	int ret;

	ret = files_img_read_all(ctx, IMG_TTY_INFO, 0, &tty_info_entry__descriptor,
				 (void ***)&tr->infos, &tr->nr_infos);
	if (ret == -ENOENT)
		pr_err("tty-info.img: missing, and files.img has terminals");
	if (ret)
		return ret;
	ret = files_img_read_all(ctx, IMG_TTY_DATA, 0, &tty_data_entry__descriptor,
				 (void ***)&tr->data, &tr->nr_data);
	if (ret && ret != -ENOENT)
		return ret;
	tr->loaded = true;
	return 0;
}

static struct tty_rst *tty_rst(struct rst_ctx *ctx)
{
	struct files_rst_priv *priv = files_rst_priv(ctx);
	struct tty_rst *tr;

	if (!priv)
		return NULL;
	if (!priv->tty_priv)
		priv->tty_priv = calloc(1, sizeof(struct tty_rst));
	tr = priv->tty_priv;
	if (!tr)
		pr_err("out of memory");
	else if (!tr->loaded && tty_load(ctx, tr))
		return NULL;
	return tr;
}

static const TtyInfoEntry *tty_info(const struct tty_rst *tr, uint32_t id)
{
	for (size_t i = 0; i < tr->nr_infos; i++)
		if (tr->infos[i]->id == id)
			return tr->infos[i];
	return NULL;
}

/* What end @id would read next, as tty-data.img has it. */
static const ProtobufCBinaryData *tty_data(const struct tty_rst *tr, uint32_t id)
{
	for (size_t i = 0; i < tr->nr_data; i++)
		if (tr->data[i]->tty_id == id)
			return &tr->data[i]->data;
	return NULL;
}

/* The pty entry @ie is checked for what restore leans on. */
static int tty_pty_index(const TtyInfoEntry *ie, int *index)
{
	if (!ie->pty || ie->pty->index > MAX_PTY_INDEX || ie->id >> 1 != ie->pty->index) {
		pr_err("tty-info.img: pty entry %#x has no index, or another than its id's", ie->id);
		return -EINVAL;
	}
	*index = (int)ie->pty->index;
	return 0;
}

/* The files.img entry of the master of pty @index, or NULL. */
static struct rst_file *pty_master_file(struct rst_ctx *ctx, int index)
{
	for (size_t i = 0; i < ctx->nr_files; i++) {
		const FileEntry *fe = ctx->files[i].fe;

		if (fe->type == FD_TYPES__TTY && fe->tty &&
		    fe->tty->tty_info_id == tty_info_id(index, true))
			return &ctx->files[i];
	}
	return NULL;
}

/* The path the dump opened the master by (/dev/ptmx, /dev/pts/ptmx). */
static const char *pty_master_path(struct rst_ctx *ctx, const struct rst_file *mf)
{
	struct rst_file *reg;

	if (!mf || !mf->fe->tty->has_regf_id)
		return "/dev/ptmx";
	reg = rst_file_by_id(ctx, mf->fe->tty->regf_id);
	if (!reg || reg->fe->type != FD_TYPES__REG || !reg->fe->reg)
		return "/dev/ptmx";
	return reg->fe->reg->name;
}

/*
 * @path opened until it gives pty @index, the lower numbers it hands out
 * on the way held and then let go.  The master, or -errno.
 */
static int ptmx_open_index(const char *path, int index, int flags)
{
	int *held = calloc(index + 1, sizeof(*held)), nr = 0, fd = -1, ret = 0;
	unsigned int got;

	if (!held) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	while (!ret) {
		fd = open(path, (flags & ~O_CLOEXEC) | O_NOCTTY | O_CLOEXEC);
		if (fd < 0 || ioctl(fd, TIOCGPTN, &got)) {
			ret = -errno;
			pr_perror("cannot open a pty master at %s", path);
		} else if (got == (unsigned int)index) {
			break;
		} else if (got > (unsigned int)index || nr == index) {
			pr_err("cannot restore pty %d: the number is taken", index);
			ret = -EBUSY;
		} else {
			held[nr++] = fd;
			fd = -1;
		}
	}
	while (nr)
		close(held[--nr]);
	free(held);
	if (ret && fd >= 0)
		close(fd);
	return ret ?: fd;
}

/*
 * Masters made while the mounts were (tty_premake_pty()), each taken by
 * pty_make() for its number; those never taken are closed at cleanup.
 */
static struct premade {
	int index;
	int master;
} premade[16];
static size_t nr_premade;

int tty_premake_pty(int devpts, int index)
{
	uid_t uid = userns_host_uid(0);
	gid_t gid = userns_host_gid(0);
	bool as_root = (uid || gid) && uid != (uid_t)-1 && gid != (gid_t)-1;
	char path[64];
	int fd;

	if (nr_premade == sizeof(premade) / sizeof(premade[0])) {
		pr_err("unsupported: more than %zu ptys bound elsewhere", nr_premade);
		return -ENOTSUP;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d/ptmx", devpts);
	/*
	 * The slave belongs to whoever made the pair: made as root of the
	 * tree's user namespace (the dump has no entry of a slave no task
	 * holds, to give it back its owner), so that the tree may open it.
	 */
	if (as_root) {
		fd = userns_fs_as(uid, gid);
		if (fd)
			return fd;
	}
	fd = ptmx_open_index(path, index, O_RDWR);
	if (as_root)
		userns_fs_as((uid_t)-1, 0);
	if (fd < 0)
		return fd;
	premade[nr_premade++] = (struct premade){ index, fd };
	return 0;
}

/* The master made for pty @index while the mounts were, now ours, or -1. */
static int premade_take(int index)
{
	for (size_t i = 0; i < nr_premade; i++) {
		int fd = premade[i].master;

		if (premade[i].index != index)
			continue;
		premade[i] = premade[--nr_premade];
		return fd;
	}
	return -1;
}

/* CRIU's words of c_cc hold the bytes of glibc's c_cc[] in memory order (tty.c). */
static void termios_from(struct termios *t, const TermiosEntry *e)
{
	size_t n = e->n_c_cc * sizeof(*e->c_cc);

	memset(t, 0, sizeof(*t));
	t->c_iflag = e->c_iflag;
	t->c_oflag = e->c_oflag;
	t->c_cflag = e->c_cflag;
	t->c_lflag = e->c_lflag;
	t->c_line = e->c_line;
	memcpy(t->c_cc, e->c_cc, n < sizeof(t->c_cc) ? n : sizeof(t->c_cc));
}

/* The slave's settings and owner, from whichever end has them. */
static int pty_settings(int slave, const TtyInfoEntry *mi, const TtyInfoEntry *si)
{
	const TtyInfoEntry *ie = si && si->termios ? si : mi;
	struct termios t, locked;
	struct winsize w;

	if (si && si->has_uid && si->has_gid &&
	    fchown(slave, userns_host_uid(si->uid), userns_host_gid(si->gid))) {
		pr_perror("pty %u: cannot give the slave to %u:%u", si->pty->index, si->uid,
			  si->gid);
		return -errno;
	}
	if (!ie || !ie->termios || !ie->termios_locked || !ie->winsize)
		return 0;
	termios_from(&t, ie->termios);
	termios_from(&locked, ie->termios_locked);
	w = (struct winsize){ ie->winsize->ws_row, ie->winsize->ws_col, ie->winsize->ws_xpixel,
			      ie->winsize->ws_ypixel };
	if (ioctl(slave, TCSETS, &t) || ioctl(slave, TIOCSLCKTRMIOS, &locked) ||
	    ioctl(slave, TIOCSWINSZ, &w)) {
		pr_perror("pty %u: cannot set its settings", ie->pty->index);
		return -errno;
	}
	return 0;
}

static int pty_fill(struct tty_rst *tr, const struct rst_pty *p)
{
	const ProtobufCBinaryData *m = tty_data(tr, tty_info_id(p->index, true));
	const ProtobufCBinaryData *s = tty_data(tr, tty_info_id(p->index, false));
	size_t skip;
	int pkt = 0;

	if (tty_info(tr, tty_info_id(p->index, true)) &&
	    tty_info(tr, tty_info_id(p->index, true))->packet_mode)
		pkt = 1;
	if (pkt && ioctl(p->master, TIOCPKT, &pkt)) {
		pr_perror("pty %d: cannot set packet mode", p->index);
		return -errno;
	}
	/* A packet-mode master's data starts with the status byte of its read (tty.c). */
	skip = pkt && m && m->len && m->data[0] == TIOCPKT_DATA;
	return tty_refill(p->master, p->slave, m ? m->data + skip : NULL, m ? m->len - skip : 0,
			  s ? s->data : NULL, s ? s->len : 0);
}

/* Make pty @index: master (with @flags), our slave, settings, queued bytes. */
static int pty_make(struct rst_ctx *ctx, struct tty_rst *tr, int index, int flags, bool fake)
{
	const TtyInfoEntry *mi = tty_info(tr, tty_info_id(index, true));
	const TtyInfoEntry *si = tty_info(tr, tty_info_id(index, false));
	struct rst_pty p = { .index = index, .slave = -1, .fake = fake };
	int unlock = 0, ret;

	ret = files_grow(&tr->ptys, &tr->cap_ptys, tr->nr_ptys, sizeof(*tr->ptys));
	if (ret)
		return ret;
	p.master = premade_take(index);
	if (p.master >= 0 && fcntl(p.master, F_SETFL, flags)) {
		pr_perror("pty %d: cannot set the flags of its master", index);
		close(p.master);
		return -EIO;
	}
	if (p.master < 0)
		p.master = ptmx_open_index(pty_master_path(ctx, pty_master_file(ctx, index)),
					   index, flags);
	if (p.master < 0)
		return p.master;
	if (ioctl(p.master, TIOCSPTLCK, &unlock)) {
		ret = -errno;
		pr_perror("pty %d: cannot unlock it", index);
		goto err;
	}
	p.slave = ioctl(p.master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (p.slave < 0) {
		ret = -errno;
		pr_perror("pty %d: cannot open its slave", index);
		goto err;
	}
	ret = pty_settings(p.slave, mi, si) ?: (fake ? 0 : pty_fill(tr, &p));
	if (ret)
		goto err;
	pr_info("pty %d made%s", index, fake ? ", to be hung up" : "");
	tr->ptys[tr->nr_ptys++] = p;
	return 0;
err:
	if (p.slave >= 0)
		close(p.slave);
	close(p.master);
	return ret;
}

static struct rst_pty *pty_find(struct tty_rst *tr, int index)
{
	for (size_t i = 0; i < tr->nr_ptys; i++)
		if (tr->ptys[i].index == index)
			return &tr->ptys[i];
	return NULL;
}

/*
 * Pty @index, made on first use: through the master's entry when the
 * tree held one (its flags are the master's), else as a fake master.
 */
static struct rst_pty *pty_get(struct rst_ctx *ctx, struct tty_rst *tr, int index)
{
	struct rst_file *mf = pty_master_file(ctx, index);
	struct rst_pty *p = pty_find(tr, index);

	if (!p && mf && files_restore_open(ctx, mf->fe->id) < 0)
		return NULL;
	if (!p && !mf && pty_make(ctx, tr, index, O_RDWR, true))
		return NULL;
	p = pty_find(tr, index);
	if (!p)
		pr_err("pty %d: not made", index);
	return p;
}

/* Is pty @index's slave a shell job's terminal: alive, with its master outside? */
static bool pty_outside(const struct tty_rst *tr, int index)
{
	const TtyInfoEntry *si = tty_info(tr, tty_info_id(index, false));

	return !tty_info(tr, tty_info_id(index, true)) && si && si->termios;
}

/*
 * The terminal stasis runs on: the first of stdin, stdout, stderr that is
 * one, else /dev/tty.  A new fd on it, or -errno.
 */
static int controller_tty(struct rst_ctx *ctx, const FileEntry *fe)
{
	int fd;

	if (!ctx->opts || !ctx->opts->shell_job) {
		pr_err("unsupported: file id %u is a terminal from outside the tree; restore a shell job with --shell-job (-j)",
		       fe->id);
		return -ENOTSUP;
	}
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
	pr_info("file id %u: the terminal is ours", fe->id);
	return fd;
}

/*
 * --orphan-pts-master: the slave's master was outside the tree (a
 * container's console).  A new pair with the slave's number and settings
 * stands for it, made once, and its master goes to the RPC client, which
 * becomes the other end of the terminal.
 */
static int orphan_pts(struct rst_ctx *ctx, struct tty_rst *tr, int index)
{
	struct rst_pty *p = pty_find(tr, index);
	int ret;

	if (p)
		return 0;
	ret = pty_make(ctx, tr, index, O_RDWR, false);
	if (ret)
		return ret;
	p = pty_find(tr, index);
	ret = notify_fd(ctx->opts, NOTIFY_ORPHAN_PTS_MASTER, p->master);
	if (ret == -ENOTCONN)
		pr_err("pty %d: --orphan-pts-master needs an RPC client to take the master", index);
	return ret;
}

static int pty_open(struct rst_ctx *ctx, struct tty_rst *tr, struct rst_file *f,
		    const TtyInfoEntry *ie)
{
	const TtyFileEntry *tfe = f->fe->tty;
	struct rst_pty *p;
	int index, fd, ret;

	ret = tty_pty_index(ie, &index);
	if (ret)
		return ret;
	if (pty_outside(tr, index) && ctx->opts && ctx->opts->orphan_pts_master) {
		ret = orphan_pts(ctx, tr, index);
		if (ret)
			return ret;
	} else if (pty_outside(tr, index)) {
		return controller_tty(ctx, f->fe);
	}
	if (ie->id & 1) {
		/* The master's own entry: the pair is made with it. */
		ret = pty_make(ctx, tr, index, tfe->flags, false);
		if (ret)
			return ret;
		fd = fcntl(tr->ptys[tr->nr_ptys - 1].master, F_DUPFD_CLOEXEC, 0);
	} else {
		p = pty_get(ctx, tr, index);
		if (!p)
			return -EIO;
		fd = ioctl(p->master, TIOCGPTPEER, (tfe->flags & ~O_CLOEXEC) | O_NOCTTY | O_CLOEXEC);
	}
	if (fd < 0) {
		pr_perror("file id %u: cannot open pty %d", f->fe->id, index);
		return -errno;
	}
	return fd;
}

/* The pty of session @sid that restore makes, or NULL. */
static struct rst_pty *pty_of_session(struct rst_ctx *ctx, struct tty_rst *tr, uint32_t sid)
{
	int index;

	for (size_t i = 0; sid && i < tr->nr_infos; i++) {
		const TtyInfoEntry *ie = tr->infos[i];

		if (ie->type != TTY_TYPE__PTY || ie->sid != sid || tty_pty_index(ie, &index) ||
		    pty_outside(tr, index))
			continue;
		return pty_get(ctx, tr, index);
	}
	return NULL;
}

/* In the child of ctty_open(): take @slave, open /dev/tty into @slot, let go. */
static int __attribute__((noreturn)) ctty_child(int slave, int slot, int flags)
{
	sigset_t all;
	int fd;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0))
		_exit(1);
	fd = open("/dev/tty", (flags & ~O_CLOEXEC) | O_CLOEXEC);
	if (fd < 0 || dup3(fd, slot, O_CLOEXEC) < 0)
		_exit(2);
	close(fd);
	_exit(ioctl(slave, TIOCNOTTY) ? 3 : 0);
}

/* /dev/tty as a task of @p's session would open it, with @flags (tty-restore.c's header). */
static int ctty_open(const struct rst_pty *p, int flags)
{
	int slot = open("/dev/null", O_RDONLY | O_CLOEXEC), status;
	pid_t pid;

	if (slot < 0) {
		pr_perror("cannot open /dev/null");
		return -errno;
	}
	pid = syscall(SYS_clone, CLONE_FILES | SIGCHLD, 0, NULL, NULL, 0);
	if (pid == 0)
		ctty_child(p->slave, slot, flags);
	if (pid < 0 || waitpid(pid, &status, 0) != pid) {
		int err = -errno;

		pr_perror("cannot start a child to open /dev/tty");
		close(slot);
		return err;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		pr_err("pty %d: /dev/tty could not be opened on it (step %d of 3 failed)", p->index,
		       WIFEXITED(status) ? WEXITSTATUS(status) : 0);
		close(slot);
		return -EIO;
	}
	return slot;
}

static int ctty_file_open(struct rst_ctx *ctx, struct tty_rst *tr, struct rst_file *f,
			  const TtyInfoEntry *ie)
{
	struct rst_pty *p = pty_of_session(ctx, tr, ie->sid);

	if (!p)
		return controller_tty(ctx, f->fe);
	return ctty_open(p, f->fe->tty->flags);
}

int tty_restore_open(struct rst_ctx *ctx, struct rst_file *f)
{
	const TtyFileEntry *tfe = f->fe->tty;
	struct tty_rst *tr = tty_rst(ctx);
	const TtyInfoEntry *ie;
	int fd;

	if (!tr)
		return -EINVAL;
	ie = tty_info(tr, tfe->tty_info_id);
	if (!ie) {
		pr_err("file id %u: terminal %#x is not in tty-info.img", f->fe->id, tfe->tty_info_id);
		return -EINVAL;
	}
	switch (ie->type) {
	case TTY_TYPE__PTY:
		fd = pty_open(ctx, tr, f, ie);
		break;
	case TTY_TYPE__CTTY:
		fd = ctty_file_open(ctx, tr, f, ie);
		break;
	case TTY_TYPE__EXT_TTY:
		pr_err("unsupported: file id %u is an external terminal: give it with --inherit-fd fd[N]:tty[%x:%x]",
		       f->fe->id, ie->rdev, ie->dev);
		return -ENOTSUP;
	case TTY_TYPE__CONSOLE:
	case TTY_TYPE__VT:
	case TTY_TYPE__SERIAL:
		fd = tfe->has_regf_id ? reg_restore_path(ctx, tfe->regf_id, tfe->flags | O_NOCTTY) :
					-EINVAL;
		break;
	default:
		pr_err("unsupported: file id %u is a terminal of type %d", f->fe->id, ie->type);
		return -ENOTSUP;
	}
	return fd < 0 ? fd : rst_pool_add(ctx, fd);
}

int tty_inherit_key(struct rst_ctx *ctx, const FileEntry *fe, char *buf, size_t size)
{
	struct tty_rst *tr = tty_rst(ctx);
	const TtyInfoEntry *ie = tr ? tty_info(tr, fe->tty->tty_info_id) : NULL;

	if (!ie)
		return -ENOENT;
	snprintf(buf, size, "tty[%x:%x]", ie->rdev, ie->dev);
	return 0;
}

const FownEntry *tty_restore_fown(struct rst_ctx *ctx, const FileEntry *fe)
{
	struct tty_rst *tr = tty_rst(ctx);
	const TtyInfoEntry *ie = tr ? tty_info(tr, fe->tty->tty_info_id) : NULL;

	/* A shell job's terminal is ours: its owner stays ours. */
	if (!ie || (ie->type == TTY_TYPE__PTY && ie->pty && pty_outside(tr, ie->pty->index)))
		return NULL;
	return fe->tty->fown;
}

/*
 * Just before the tree runs: a shell job restored on our terminal gets its
 * foreground, as a job the shell started would (keys like ^C and ^Z then
 * signal it), when it is a process group of its own and stasis is the
 * foreground job now; one in our group has it already.
 */
int tty_restore_arm(struct rst_ctx *ctx, struct rst_file *f)
{
	const struct rst_task *root = &ctx->tasks[0];
	struct tty_rst *tr = tty_rst(ctx);
	const TtyInfoEntry *ie = tr ? tty_info(tr, f->fe->tty->tty_info_id) : NULL;
	bool ours = ie && ie->type == TTY_TYPE__PTY && ie->pty && pty_outside(tr, ie->pty->index);

	if (!ours || tr->foreground || root->sid == root->pid || root->pgid != root->pid)
		return 0;
	tr->foreground = true;
	if (tcgetpgrp(f->fd) != getpgrp())
		return 0;
	if (tcsetpgrp(f->fd, root->real)) {
		pr_perror("cannot make the shell job %d the terminal's foreground", root->real);
		return -errno;
	}
	pr_info("the shell job %d has the terminal's foreground", root->real);
	return 0;
}

/* --- once every entry is open --- */

/*
 * Terminal @ie (pool fd @fd) is the controlling terminal of its session:
 * its leader must be a live task of the tree, which takes it (installed).
 */
static int ctty_add(struct rst_ctx *ctx, struct tty_rst *tr, const TtyInfoEntry *ie, int fd,
		    bool own)
{
	struct rst_task *leader = rst_task_by_pid(ctx, ie->sid);
	int ret;

	if (!leader || leader->sid != leader->pid || leader->zombie) {
		pr_err("unsupported: terminal %#x is the controlling terminal of session %u, whose leader is not a live task of the tree",
		       ie->id, ie->sid);
		ret = -ENOTSUP;
	} else {
		ret = files_grow(&tr->cttys, &tr->cap_cttys, tr->nr_cttys, sizeof(*tr->cttys));
	}
	if (ret) {
		if (own)
			close(fd);
		return ret;
	}
	tr->cttys[tr->nr_cttys++] = (struct rst_ctty){ ie->sid, ie->pgrp, fd, own, ie->id };
	return 0;
}

/* Pty @p, if it is the terminal of a session: a pool fd of its slave for the leader. */
static int pty_pick_session(struct rst_ctx *ctx, struct tty_rst *tr, struct rst_pty *p)
{
	const TtyInfoEntry *mi = tty_info(tr, tty_info_id(p->index, true));
	const TtyInfoEntry *si = tty_info(tr, tty_info_id(p->index, false));
	const TtyInfoEntry *ie = mi && mi->sid ? mi : si;
	int fd;

	if (!ie || !ie->sid)
		return 0;
	fd = fcntl(p->slave, F_DUPFD_CLOEXEC, 0);
	fd = fd < 0 ? -errno : rst_pool_add(ctx, fd);
	return fd < 0 ? fd : ctty_add(ctx, tr, ie, fd, true);
}

/* External terminals (--inherit-fd) that are the terminal of a session. */
static int ext_pick_sessions(struct rst_ctx *ctx, struct tty_rst *tr)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < ctx->nr_files; i++) {
		const struct rst_file *f = &ctx->files[i];
		const TtyInfoEntry *ie;

		if (f->fe->type != FD_TYPES__TTY || !f->fe->tty || f->fd < 0)
			continue;
		ie = tty_info(tr, f->fe->tty->tty_info_id);
		if (!ie || ie->type != TTY_TYPE__EXT_TTY || !ie->sid)
			continue;
		for (size_t j = 0; j < tr->nr_cttys; j++)
			if (tr->cttys[j].info_id == ie->id)
				ie = NULL;
		if (ie)
			ret = ctty_add(ctx, tr, ie, f->fd, false);
	}
	return ret;
}

/* What would refuse the opens above, now that they are done. */
static int pty_seal(struct tty_rst *tr, struct rst_pty *p)
{
	const TtyInfoEntry *mi = tty_info(tr, tty_info_id(p->index, true));
	const TtyInfoEntry *si = tty_info(tr, tty_info_id(p->index, false));
	int one = 1;

	if (p->fake) {
		/* The last close of a master hangs its slaves up. */
		close(p->master);
		p->master = -1;
		return 0;
	}
	if ((mi && mi->locked && ioctl(p->master, TIOCSPTLCK, &one)) ||
	    (mi && mi->exclusive && ioctl(p->master, TIOCEXCL)) ||
	    (si && si->exclusive && ioctl(p->slave, TIOCEXCL))) {
		pr_perror("pty %d: cannot lock it", p->index);
		return -errno;
	}
	return 0;
}

int tty_restore_prepared(struct rst_ctx *ctx)
{
	struct files_rst_priv *priv = ctx->files_priv;
	struct tty_rst *tr = priv ? priv->tty_priv : NULL;
	int ret = 0;

	for (size_t i = 0; tr && !ret && i < tr->nr_ptys; i++) {
		struct rst_pty *p = &tr->ptys[i];

		if (!p->fake)
			ret = pty_pick_session(ctx, tr, p);
		if (!ret)
			ret = pty_seal(tr, p);
	}
	return ret ?: (tr ? ext_pick_sessions(ctx, tr) : 0);
}

/* In session leader @t: its controlling terminal, and the group in front. */
int tty_restore_installed(struct rst_ctx *ctx, struct rst_task *t)
{
	struct files_rst_priv *priv = ctx->files_priv;
	struct tty_rst *tr = priv ? priv->tty_priv : NULL;
	pid_t pgrp;

	for (size_t i = 0; tr && i < tr->nr_cttys; i++) {
		const struct rst_ctty *c = &tr->cttys[i];

		if (c->sid != (uint32_t)t->pid)
			continue;
		if (ioctl(c->fd, TIOCSCTTY, 0)) {
			pr_perror("pid %d: cannot take terminal %#x as its own", t->pid, c->info_id);
			return -errno;
		}
		pgrp = c->pgrp;
		if (pgrp && ioctl(c->fd, TIOCSPGRP, &pgrp)) {
			pr_perror("pid %d: cannot put group %d in front of terminal %#x", t->pid,
				  pgrp, c->info_id);
			return -errno;
		}
		pr_info("pid %d: terminal %#x is its own, group %d in front", t->pid, c->info_id,
			pgrp);
	}
	return 0;
}

void tty_restore_cleanup(struct rst_ctx *ctx)
{
	struct files_rst_priv *priv = ctx->files_priv;
	struct tty_rst *tr = priv ? priv->tty_priv : NULL;

	while (nr_premade)
		close(premade[--nr_premade].master);
	if (!tr)
		return;
	for (size_t i = 0; i < tr->nr_ptys; i++) {
		struct rst_pty *p = &tr->ptys[i];

		if (p->master >= 0)
			close(p->master);
		if (p->slave >= 0)
			close(p->slave);
	}
	for (size_t i = 0; i < tr->nr_cttys; i++)
		if (tr->cttys[i].own)
			close(tr->cttys[i].fd);
	free(tr->ptys);
	free(tr->cttys);
	files_msgs_free((void **)tr->infos, tr->nr_infos);
	files_msgs_free((void **)tr->data, tr->nr_data);
	free(tr);
	priv->tty_priv = NULL;
}
