/*
 * sockopts.c - the SOL_SOCKET options of a socket (sockopts.h), saved
 * in CRIU's SkOptsEntry, for every family that keeps one.
 */
#include <errno.h>
#include <linux/filter.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "files/sockopts.h"
#include "log.h"

#ifndef SO_GET_FILTER
#define SO_GET_FILTER	SO_ATTACH_FILTER
#endif

static int get_int(int fd, int opt, const char *name, int *v)
{
	socklen_t len = sizeof(*v);

	if (!getsockopt(fd, SOL_SOCKET, opt, v, &len))
		return 0;
	pr_perror("socket: cannot read %s", name);
	return -errno;
}

#define GET_INT(fd, opt, v)	get_int(fd, opt, #opt, v)

static int get_tmo(int fd, int opt, const char *name, uint64_t *sec, uint64_t *usec)
{
	struct timeval tv;
	socklen_t len = sizeof(tv);

	if (getsockopt(fd, SOL_SOCKET, opt, &tv, &len)) {
		pr_perror("socket: cannot read %s", name);
		return -errno;
	}
	*sec = tv.tv_sec;
	*usec = tv.tv_usec;
	return 0;
}

/* The flags kept as has_x/x pairs, always saved. */
static int dump_flags(int fd, int family, SkOptsEntry *o)
{
	int ret, v;

#define FLAG(opt, field)						\
	do {								\
		ret = GET_INT(fd, opt, &v);				\
		if (ret)						\
			return ret;					\
		o->has_##field = true;					\
		o->field = !!v;						\
	} while (0)
	FLAG(SO_REUSEADDR, reuseaddr);
	FLAG(SO_REUSEPORT, so_reuseport);
	/* Only these families say whose they are: CRIU keeps it for them. */
	if (family == AF_UNIX || family == AF_NETLINK) {
		FLAG(SO_PASSCRED, so_passcred);
		FLAG(SO_PASSSEC, so_passsec);
	}
	FLAG(SO_DONTROUTE, so_dontroute);
	FLAG(SO_NO_CHECK, so_no_check);
	FLAG(SO_BROADCAST, so_broadcast);
	FLAG(SO_KEEPALIVE, so_keepalive);
	FLAG(SO_OOBINLINE, so_oobinline);
#undef FLAG
	return 0;
}

static int dump_bound_dev(int fd, SkOptsEntry *o)
{
	char dev[IFNAMSIZ + 1] = "";
	socklen_t len = IFNAMSIZ;

	if (getsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, &len)) {
		pr_perror("socket: cannot read SO_BINDTODEVICE");
		return -errno;
	}
	if (!len || !dev[0])
		return 0;
	o->so_bound_dev = strdup(dev);
	return o->so_bound_dev ? 0 : -ENOMEM;
}

/*
 * A classic BPF filter attached with SO_ATTACH_FILTER: its instructions
 * one to a word, as CRIU packs them (code, jt, jf, k from the top).
 * One attached as eBPF has no classic program to read back.
 */
static int dump_filter(int fd, SkOptsEntry *o)
{
	struct sock_filter *f;
	socklen_t n = 0;
	int ret = 0;

	/* Asked with no room, the kernel answers how many instructions. */
	if (getsockopt(fd, SOL_SOCKET, SO_GET_FILTER, NULL, &n)) {
		ret = -errno;
		if (ret == -EACCES)
			pr_err("unsupported: a socket filter attached as eBPF, which has no "
			       "classic program to read back");
		else
			pr_perror("socket: cannot read its filter");
		return ret;
	}
	if (!n)
		return 0;
	f = calloc(n, sizeof(*f));
	o->so_filter = calloc(n, sizeof(*o->so_filter));
	if (!f || !o->so_filter)
		ret = -ENOMEM;
	else if (getsockopt(fd, SOL_SOCKET, SO_GET_FILTER, f, &n))
		ret = -errno;
	for (socklen_t i = 0; !ret && i < n; i++)
		o->so_filter[i] = (uint64_t)f[i].code << 48 | (uint64_t)f[i].jt << 40 |
				  (uint64_t)f[i].jf << 32 | f[i].k;
	if (!ret)
		o->n_so_filter = n;
	else if (ret != -ENOMEM)
		pr_err("socket: cannot read its filter of %u instructions: %s", n,
		       strerror(-ret));
	free(f);
	return ret;
}

int sockopts_dump(int fd, int family, SkOptsEntry *o)
{
	struct linger lg = { 0, 0 };
	socklen_t len = sizeof(lg);
	int ret, v;

	ret = GET_INT(fd, SO_SNDBUF, &v);
	o->so_sndbuf = v;
	ret = ret ?: GET_INT(fd, SO_RCVBUF, &v);
	o->so_rcvbuf = v;
	/* Older kernels have no SO_BUF_LOCK: nothing to keep then. */
	len = sizeof(v);
	o->has_so_buf_lock = !getsockopt(fd, SOL_SOCKET, SO_BUF_LOCK, &v, &len);
	o->so_buf_lock = o->has_so_buf_lock ? v : 0;
	ret = ret ?: GET_INT(fd, SO_PRIORITY, &v);
	o->has_so_priority = true;
	o->so_priority = v;
	ret = ret ?: GET_INT(fd, SO_RCVLOWAT, &v);
	o->has_so_rcvlowat = true;
	o->so_rcvlowat = v;
	/* Setting a mark takes CAP_NET_ADMIN: the default is not kept. */
	ret = ret ?: GET_INT(fd, SO_MARK, &v);
	o->has_so_mark = !ret && v;
	o->so_mark = v;
	ret = ret ?: get_tmo(fd, SO_SNDTIMEO, "SO_SNDTIMEO", &o->so_snd_tmo_sec,
			     &o->so_snd_tmo_usec);
	ret = ret ?: get_tmo(fd, SO_RCVTIMEO, "SO_RCVTIMEO", &o->so_rcv_tmo_sec,
			     &o->so_rcv_tmo_usec);
	ret = ret ?: dump_flags(fd, family, o);
	len = sizeof(lg);
	if (!ret && getsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, &len)) {
		pr_perror("socket: cannot read SO_LINGER");
		ret = -errno;
	}
	o->has_so_linger = lg.l_onoff;
	o->so_linger = lg.l_linger;
	ret = ret ?: dump_bound_dev(fd, o);
	ret = ret ?: dump_filter(fd, o);
	if (ret)
		sockopts_free(o);
	return ret;
}

void sockopts_free(SkOptsEntry *o)
{
	free(o->so_bound_dev);
	free(o->so_filter);
	o->so_bound_dev = NULL;
	o->so_filter = NULL;
	o->n_so_filter = 0;
}

static int set_opt(int fd, int opt, const char *name, const void *v, socklen_t len)
{
	if (!setsockopt(fd, SOL_SOCKET, opt, v, len))
		return 0;
	pr_perror("socket: cannot set %s", name);
	return -errno;
}

static int set_int(int fd, int opt, const char *name, int v)
{
	return set_opt(fd, opt, name, &v, sizeof(v));
}

#define SET_INT(fd, opt, v)	set_int(fd, opt, #opt, v)

static int restore_filter(int fd, const SkOptsEntry *o)
{
	struct sock_fprog prog = { .len = o->n_so_filter };
	int ret;

	if (!o->n_so_filter)
		return 0;
	if (o->n_so_filter > BPF_MAXINSNS) {
		pr_err("socket: a filter of %zu instructions, over %d", o->n_so_filter,
		       BPF_MAXINSNS);
		return -EINVAL;
	}
	prog.filter = calloc(o->n_so_filter, sizeof(*prog.filter));
	if (!prog.filter)
		return -ENOMEM;
	for (size_t i = 0; i < o->n_so_filter; i++) {
		uint64_t w = o->so_filter[i];

		prog.filter[i] = (struct sock_filter){ w >> 48, w >> 40, w >> 32, (uint32_t)w };
	}
	ret = set_opt(fd, SO_ATTACH_FILTER, "SO_ATTACH_FILTER", &prog, sizeof(prog));
	free(prog.filter);
	return ret;
}

/* The has_x/x flags: a fresh socket has them all off. */
static int restore_flags(int fd, const SkOptsEntry *o)
{
	int ret = 0;

#define FLAG(opt, field)						\
	do {								\
		if (!ret && o->has_##field && o->field)			\
			ret = SET_INT(fd, opt, 1);			\
	} while (0)
	FLAG(SO_PASSCRED, so_passcred);
	FLAG(SO_PASSSEC, so_passsec);
	FLAG(SO_DONTROUTE, so_dontroute);
	FLAG(SO_NO_CHECK, so_no_check);
	FLAG(SO_BROADCAST, so_broadcast);
	FLAG(SO_KEEPALIVE, so_keepalive);
	FLAG(SO_OOBINLINE, so_oobinline);
#undef FLAG
	return ret;
}

int sockopts_restore(int fd, const SkOptsEntry *o)
{
	struct timeval snd = { o->so_snd_tmo_sec, o->so_snd_tmo_usec };
	struct timeval rcv = { o->so_rcv_tmo_sec, o->so_rcv_tmo_usec };
	struct linger lg = { 1, o->so_linger };
	int ret;

	/*
	 * The kernel doubles what it is given, and reports the doubled
	 * size; the forced sizes lock both buffers, and the saved mask of
	 * locks comes after them.
	 */
	ret = SET_INT(fd, SO_SNDBUFFORCE, o->so_sndbuf / 2);
	ret = ret ?: SET_INT(fd, SO_RCVBUFFORCE, o->so_rcvbuf / 2);
	if (!ret && o->has_so_buf_lock)
		ret = SET_INT(fd, SO_BUF_LOCK, o->so_buf_lock);
	if (!ret && o->has_so_priority)
		ret = SET_INT(fd, SO_PRIORITY, o->so_priority);
	if (!ret && o->has_so_rcvlowat)
		ret = SET_INT(fd, SO_RCVLOWAT, o->so_rcvlowat);
	if (!ret && o->has_so_mark)
		ret = SET_INT(fd, SO_MARK, o->so_mark);
	ret = ret ?: restore_flags(fd, o);
	if (!ret && o->has_so_linger)
		ret = set_opt(fd, SO_LINGER, "SO_LINGER", &lg, sizeof(lg));
	ret = ret ?: set_opt(fd, SO_SNDTIMEO, "SO_SNDTIMEO", &snd, sizeof(snd));
	ret = ret ?: set_opt(fd, SO_RCVTIMEO, "SO_RCVTIMEO", &rcv, sizeof(rcv));
	if (!ret && o->so_bound_dev)
		ret = set_opt(fd, SO_BINDTODEVICE, "SO_BINDTODEVICE", o->so_bound_dev,
			      strlen(o->so_bound_dev));
	return ret ?: restore_filter(fd, o);
}

int sockopts_restore_reuse(int fd, const SkOptsEntry *o)
{
	int ret = SET_INT(fd, SO_REUSEADDR, o->has_reuseaddr && o->reuseaddr);

	return ret ?: SET_INT(fd, SO_REUSEPORT, o->has_so_reuseport && o->so_reuseport);
}
