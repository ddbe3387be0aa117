/*
 * time.c - a time namespace: its monotonic and boot clocks (timens-ID.img).
 *
 * The image holds the two clocks as the tree saw them at the dump.  A
 * restore makes a new time namespace whose offsets put them back there:
 * a task measuring elapsed time sees none pass while it was dumped, on
 * this host or another one booted at another time.  The offsets of a time
 * namespace can only be set before a task is in it, so the controller
 * makes it for its children (unshare), sets them, and forks the root into
 * it.  As CRIU, a tree in stasis's own time namespace gets timens-0.img.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include "dump-ctx.h"
#include "log.h"
#include "ns/ns.h"
#include "rst-ctx.h"
#include "timens.pb-c.h"

#define NSEC	1000000000L

/* Called with stasis in the namespace: its clocks are the namespace's. */
static int time_dump(struct dump_ctx *ctx, uint32_t id)
{
	struct timespec mono, boot;
	Timespec m, b;
	TimensEntry e;

	if (clock_gettime(CLOCK_MONOTONIC, &mono) || clock_gettime(CLOCK_BOOTTIME, &boot)) {
		pr_perror("time namespace %u: cannot read its clocks", id);
		return -errno;
	}
	timespec__init(&m);
	timespec__init(&b);
	m.tv_sec = mono.tv_sec;
	m.tv_nsec = mono.tv_nsec;
	b.tv_sec = boot.tv_sec;
	b.tv_nsec = boot.tv_nsec;
	timens_entry__init(&e);
	e.monotonic = &m;
	e.boottime = &b;
	return img_write_one(ctx->dirfd, IMG_TIMENS, id, &e.base);
}

int ns_time_dump_own(struct dump_ctx *ctx)
{
	return time_dump(ctx, 0);
}

/*
 * The offsets of the namespace the controller's children are born in: a
 * new one starts with those of the namespace it was made from, stasis's
 * own, which need not be the host's (ZDTM itself runs in one).
 */
static int read_offsets(struct timespec *mono, struct timespec *boot)
{
	char name[32];
	long long sec;
	long nsec;
	FILE *f;

	memset(mono, 0, sizeof(*mono));
	memset(boot, 0, sizeof(*boot));
	f = rst_fopen_self("timens_offsets");
	if (!f) {
		pr_perror("cannot read stasis's time namespace offsets");
		return -errno;
	}
	while (fscanf(f, "%31s %lld %ld", name, &sec, &nsec) == 3) {
		struct timespec *ts = !strcmp(name, "monotonic") ? mono :
				      !strcmp(name, "boottime") ? boot : NULL;

		if (ts) {
			ts->tv_sec = sec;
			ts->tv_nsec = nsec;
		}
	}
	fclose(f);
	return 0;
}

/*
 * The offset, from the host's clock, that makes clock @clk read @want now
 * in the new namespace; "CLK SEC NSEC\n" into @buf.  @own: the offset of
 * the namespace stasis reads @clk in.
 */
static int offset_line(char *buf, size_t len, clockid_t clk, const Timespec *want,
		       const struct timespec *own)
{
	struct timespec now;
	int64_t sec;
	long nsec;

	if (!want) {
		pr_err("timens image: a clock is missing");
		return -EINVAL;
	}
	clock_gettime(clk, &now);
	sec = (int64_t)want->tv_sec - (now.tv_sec - own->tv_sec);
	nsec = (long)want->tv_nsec - (now.tv_nsec - own->tv_nsec);
	while (nsec < 0) {
		nsec += NSEC;
		sec--;
	}
	while (nsec >= NSEC) {
		nsec -= NSEC;
		sec++;
	}
	return snprintf(buf, len, "%d %" PRId64 " %ld\n", clk, sec, nsec);
}

/*
 * In the controller, after unshare(CLONE_NEWTIME): the namespace its
 * children are born in has no task yet, so its offsets can still be set.
 */
static int time_restore(struct rst_ctx *ctx, uint32_t id)
{
	struct timespec own_mono, own_boot;
	char buf[128];
	TimensEntry *e;
	int ret, fd, n;

	ret = read_offsets(&own_mono, &own_boot);
	if (ret)
		return ret;
	ret = img_read_one(ctx->dirfd, IMG_TIMENS, id, &timens_entry__descriptor,
			   (ProtobufCMessage **)&e);
	if (ret == -ENOENT)
		pr_err("timens-%u.img: missing, named by the root's ids", id);
	if (ret)
		return ret;
	n = offset_line(buf, sizeof(buf), CLOCK_MONOTONIC, e->monotonic, &own_mono);
	if (n > 0)
		n += offset_line(buf + n, sizeof(buf) - n, CLOCK_BOOTTIME, e->boottime, &own_boot);
	img_free_msg(&e->base);
	if (n < 0)
		return n;
	fd = rst_open_self("timens_offsets", O_WRONLY);
	if (fd < 0 || write(fd, buf, n) != n) {
		pr_perror("time namespace %u: cannot set its clocks' offsets", id);
		ret = -errno;
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

const struct ns_operations time_ns_ops = {
	.name = "time",
	.cflag = CLONE_NEWTIME,
	.dump = time_dump,
	.restore = time_restore,
};
