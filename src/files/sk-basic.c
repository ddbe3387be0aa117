/*
 * sk-basic.c - SOL_SOCKET options of netlink and packet sockets, read
 * from our copy of the socket at dump and set on the new one at restore
 * (sk-basic.h).
 */
#include <errno.h>
#include <linux/filter.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "files/sk-basic.h"
#include "log.h"

#define FILTER_MAX	4096	/* BPF_MAXINSNS: the longest classic program */

static bool get_int(int fd, int opt, int *v)
{
	socklen_t len = sizeof(*v);

	return !getsockopt(fd, SOL_SOCKET, opt, v, &len);
}

static bool get_tmo(int fd, int opt, uint64_t *sec, uint64_t *usec)
{
	struct timeval tv;
	socklen_t len = sizeof(tv);

	if (getsockopt(fd, SOL_SOCKET, opt, &tv, &len))
		return false;
	*sec = tv.tv_sec;
	*usec = tv.tv_usec;
	return true;
}

/*
 * A classic filter, one sock_filter per 64-bit word as CRIU keeps it.
 * The first call asks only for its length.  An eBPF program reads as no
 * filter at all: the kernel keeps no classic form of it.
 */
static int dump_filter(int fd, SkOptsEntry *o, const char *what)
{
	socklen_t len = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_GET_FILTER, NULL, &len) || !len)
		return 0;
	if (len > FILTER_MAX) {
		pr_err("%s: a socket filter of %u instructions", what, (unsigned)len);
		return -EINVAL;
	}
	o->so_filter = calloc(len, sizeof(uint64_t));
	if (!o->so_filter)
		return -ENOMEM;
	if (getsockopt(fd, SOL_SOCKET, SO_GET_FILTER, o->so_filter, &len)) {
		pr_perror("%s: cannot read its socket filter", what);
		return -errno;
	}
	o->n_so_filter = len;
	return 0;
}

static int dump_bound_dev(int fd, SkOptsEntry *o)
{
	char dev[IFNAMSIZ + 1] = "";
	socklen_t len = IFNAMSIZ;

	if (getsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, &len) || !len || !dev[0])
		return 0;
	dev[len < IFNAMSIZ ? len : IFNAMSIZ] = 0;
	o->so_bound_dev = strdup(dev);
	return o->so_bound_dev ? 0 : -ENOMEM;
}

int sk_basic_dump(int fd, SkOptsEntry *o, const char *what)
{
	int v;

	if (get_int(fd, SO_SNDBUF, &v))
		o->so_sndbuf = v;
	if (get_int(fd, SO_RCVBUF, &v))
		o->so_rcvbuf = v;
	get_tmo(fd, SO_SNDTIMEO, &o->so_snd_tmo_sec, &o->so_snd_tmo_usec);
	get_tmo(fd, SO_RCVTIMEO, &o->so_rcv_tmo_sec, &o->so_rcv_tmo_usec);
	if ((o->has_so_priority = get_int(fd, SO_PRIORITY, &v)))
		o->so_priority = v;
	if ((o->has_so_rcvlowat = get_int(fd, SO_RCVLOWAT, &v)))
		o->so_rcvlowat = v;
	/* CRIU writes a mark only when there is one. */
	if ((o->has_so_mark = get_int(fd, SO_MARK, &v) && v))
		o->so_mark = v;
	if ((o->has_so_passcred = get_int(fd, SO_PASSCRED, &v)))
		o->so_passcred = v;
	return dump_filter(fd, o, what) ?: dump_bound_dev(fd, o);
}

void sk_basic_free(SkOptsEntry *o)
{
	free(o->so_filter);
	o->so_filter = NULL;
	o->n_so_filter = 0;
	free(o->so_bound_dev);
	o->so_bound_dev = NULL;
}

static int set_int(int fd, int opt, int v, const char *what, const char *name)
{
	if (!setsockopt(fd, SOL_SOCKET, opt, &v, sizeof(v)))
		return 0;
	pr_perror("%s: cannot set %s to %d", what, name, v);
	return -errno;
}

static int set_tmo(int fd, int opt, uint64_t sec, uint64_t usec, const char *what)
{
	struct timeval tv = { .tv_sec = sec, .tv_usec = usec };

	if (usec >= 1000000 || sec > INT32_MAX) {
		pr_err("%s: a timeout of %llu s %llu us", what, (unsigned long long)sec,
		       (unsigned long long)usec);
		return -EINVAL;
	}
	if (!setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv)))
		return 0;
	pr_perror("%s: cannot set a timeout", what);
	return -errno;
}

static int restore_filter(int fd, const SkOptsEntry *o, const char *what)
{
	struct sock_fprog prog = {
		.len = o->n_so_filter,
		.filter = (struct sock_filter *)o->so_filter,
	};

	if (!o->n_so_filter)
		return 0;
	if (o->n_so_filter > FILTER_MAX) {
		pr_err("%s: a socket filter of %zu instructions", what, o->n_so_filter);
		return -EINVAL;
	}
	if (!setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)))
		return 0;
	pr_perror("%s: cannot attach its socket filter again", what);
	return -errno;
}

static int restore_bound_dev(int fd, const SkOptsEntry *o, const char *what)
{
	if (!o->so_bound_dev || !o->so_bound_dev[0])
		return 0;
	if (!setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, o->so_bound_dev,
			strnlen(o->so_bound_dev, IFNAMSIZ)))
		return 0;
	pr_perror("%s: cannot bind it to device %s again", what, o->so_bound_dev);
	return -errno;
}

/* The buffers read doubled (the kernel's overhead) and are set halved. */
int sk_basic_restore(int fd, const SkOptsEntry *o, const char *what)
{
	int ret;

	ret = set_int(fd, SO_SNDBUFFORCE, o->so_sndbuf / 2, what, "SO_SNDBUF") ?:
	      set_int(fd, SO_RCVBUFFORCE, o->so_rcvbuf / 2, what, "SO_RCVBUF") ?:
	      set_tmo(fd, SO_SNDTIMEO, o->so_snd_tmo_sec, o->so_snd_tmo_usec, what) ?:
	      set_tmo(fd, SO_RCVTIMEO, o->so_rcv_tmo_sec, o->so_rcv_tmo_usec, what);
	if (!ret && o->has_so_priority)
		ret = set_int(fd, SO_PRIORITY, o->so_priority, what, "SO_PRIORITY");
	if (!ret && o->has_so_rcvlowat)
		ret = set_int(fd, SO_RCVLOWAT, o->so_rcvlowat, what, "SO_RCVLOWAT");
	if (!ret && o->has_so_mark)
		ret = set_int(fd, SO_MARK, o->so_mark, what, "SO_MARK");
	if (!ret && o->has_so_passcred)
		ret = set_int(fd, SO_PASSCRED, o->so_passcred, what, "SO_PASSCRED");
	return ret ?: restore_filter(fd, o, what) ?: restore_bound_dev(fd, o, what);
}
