/*
 * timerfd.c - timerfd files.
 *
 * fdinfo shows the clock, the expirations not yet read, the flags of the
 * last timerfd_settime() and the time left before the next expiration,
 * relative even for a TFD_TIMER_ABSTIME timer (as CRIU records it).
 * At restore the timer is made disarmed and armed only just before the
 * tree runs again (timerfd_restore_arm), so the time spent restoring is
 * not taken from what was left; the unread expirations go back with
 * TFD_IOC_SET_TICKS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "files/files.h"
#include "files/kind.h"
#include "timerfd.pb-c.h"
#include "fdinfo.pb-c.h"
#include "log.h"

#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS	_IOW('T', 0, uint64_t)
#endif

static int parse_pair(const char *fdinfo, const char *key, uint64_t *sec, uint64_t *nsec)
{
	const char *v = files_fdinfo_field(fdinfo, key);
	unsigned long long s, ns;

	if (!v || sscanf(v, "(%llu, %llu)", &s, &ns) != 2)
		return -EINVAL;
	*sec = s;
	*nsec = ns;
	return 0;
}

static int parse_timerfd(const struct file_parms *p, const char *fdinfo, TimerfdEntry *tfe)
{
	uint64_t clockid, flags;
	int ret;

	ret = files_fdinfo_u64(fdinfo, "clockid", 10, &clockid, p->pid, p->fd) ?:
	      files_fdinfo_u64(fdinfo, "ticks", 10, &tfe->ticks, p->pid, p->fd) ?:
	      files_fdinfo_u64(fdinfo, "settime flags", 8, &flags, p->pid, p->fd);
	if (ret)
		return ret;
	tfe->clockid = clockid;
	tfe->settime_flags = flags;
	if (parse_pair(fdinfo, "it_value", &tfe->vsec, &tfe->vnsec) ||
	    parse_pair(fdinfo, "it_interval", &tfe->isec, &tfe->insec)) {
		pr_err("/proc/%d/fdinfo/%d: no timer values in a timerfd's fdinfo", p->pid, p->fd);
		return -EINVAL;
	}
	return 0;
}

static int timerfd_dump(struct dump_ctx *ctx, struct file_parms *p, uint32_t id)
{
	TimerfdEntry tfe = TIMERFD_ENTRY__INIT;
	FileEntry fe = FILE_ENTRY__INIT;
	char fdinfo[1024];
	int ret;

	ret = files_read_fdinfo(p->pid, p->fd, fdinfo, sizeof(fdinfo));
	if (ret)
		return ret;
	ret = parse_timerfd(p, fdinfo, &tfe);
	if (ret)
		return ret;
	pr_debug("pid %d fd %d: timerfd clock %u, %llu ticks, left %llu.%09llu s, every %llu.%09llu s",
		 p->pid, p->fd, tfe.clockid, (unsigned long long)tfe.ticks,
		 (unsigned long long)tfe.vsec, (unsigned long long)tfe.vnsec,
		 (unsigned long long)tfe.isec, (unsigned long long)tfe.insec);

	tfe.id = id;
	tfe.flags = p->flags;
	tfe.fown = &p->fown;
	fe.type = FD_TYPES__TIMERFD;
	fe.id = id;
	fe.tfd = &tfe;
	return img_write_msg(ctx->files_img, &fe.base);
}

static int timerfd_restore_open(struct rst_ctx *ctx, struct rst_file *f)
{
	const TimerfdEntry *tfe = f->fe->tfd;
	int fd;

	if (tfe->vnsec >= 1000000000ULL || tfe->insec >= 1000000000ULL) {
		pr_err("timerfd id %u: nanoseconds out of range", f->fe->id);
		return -EINVAL;
	}
	fd = timerfd_create(tfe->clockid, (tfe->flags & O_NONBLOCK) ? TFD_NONBLOCK : 0);
	if (fd < 0) {
		pr_perror("timerfd id %u: cannot create it on clock %u", f->fe->id, tfe->clockid);
		return -errno;
	}
	return rst_pool_add(ctx, fd);
}

/*
 * Arm timerfd @f (just before the tree runs) with what was left of it.
 * An absolute timer's deadline is now plus what was left: the image
 * keeps no more.
 */
static int timerfd_restore_arm(struct rst_ctx *ctx, struct rst_file *f)
{
	const FileEntry *fe = f->fe;
	const TimerfdEntry *tfe = fe->tfd;
	int fd = f->fd;
	struct itimerspec its = {
		.it_value = { .tv_sec = tfe->vsec, .tv_nsec = tfe->vnsec },
		.it_interval = { .tv_sec = tfe->isec, .tv_nsec = tfe->insec },
	};
	uint64_t ticks = tfe->ticks;

	(void)ctx;
	/* A periodic timer due this very moment is still armed. */
	if (!its.it_value.tv_sec && !its.it_value.tv_nsec &&
	    (its.it_interval.tv_sec || its.it_interval.tv_nsec))
		its.it_value.tv_nsec = 1;
	if (tfe->settime_flags & TFD_TIMER_ABSTIME) {
		struct timespec now;

		if (clock_gettime(tfe->clockid, &now)) {
			pr_perror("timerfd id %u: cannot read clock %u", fe->id, tfe->clockid);
			return -errno;
		}
		its.it_value.tv_sec += now.tv_sec;
		its.it_value.tv_nsec += now.tv_nsec;
		if (its.it_value.tv_nsec >= 1000000000L) {
			its.it_value.tv_sec++;
			its.it_value.tv_nsec -= 1000000000L;
		}
	}
	if ((its.it_value.tv_sec || its.it_value.tv_nsec) &&
	    timerfd_settime(fd, tfe->settime_flags, &its, NULL)) {
		pr_perror("timerfd id %u: cannot arm it", fe->id);
		return -errno;
	}
	if (ticks && ioctl(fd, TFD_IOC_SET_TICKS, &ticks)) {
		pr_perror("timerfd id %u: cannot put back %llu expirations", fe->id,
			  (unsigned long long)ticks);
		return -errno;
	}
	return 0;
}

static int timerfd_match(struct dump_ctx *ctx, struct file_parms *p)
{
	(void)ctx;
	return files_anon_is(p, "anon_inode:[timerfd]");
}

static const void *timerfd_part(const FileEntry *fe)
{
	return fe->tfd;
}

static const FownEntry *timerfd_fown(struct rst_ctx *ctx, const FileEntry *fe)
{
	(void)ctx;
	return fe->tfd->fown;
}

const struct fd_kind timerfd_fd_kind = {
	.name = "timerfd",
	.type = FD_TYPES__TIMERFD,
	.match = timerfd_match,
	.dump = timerfd_dump,
	.part = timerfd_part,
	.fown = timerfd_fown,
	.open = timerfd_restore_open,
	.arm = timerfd_restore_arm,
};
