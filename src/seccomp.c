/*
 * seccomp.c - seccomp modes and filters, dumped and restored.
 *
 * A thread in filter mode has a chain of BPF programs, the newest run
 * first.  PTRACE_SECCOMP_GET_FILTER reads them by position, 0 being the
 * oldest; PTRACE_SECCOMP_GET_METADATA adds the flag the kernel keeps
 * (SECCOMP_FILTER_FLAG_LOG).  seccomp.img holds every chain as CRIU writes
 * it: a chain's newest filter first, each older one pointing with @prev
 * at the one after it in age, and the thread core naming its oldest.  The
 * restore walks from there, installing the oldest first, so the chain
 * comes back in its order.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>

#include "dump-ctx.h"
#include "log.h"
#include "parts.h"
#include "rst-ctx.h"
#include "restorer.h"
#include "seccomp.h"

#include "core.pb-c.h"
#include "seccomp.pb-c.h"

#define MAX_CHAIN	4096	/* the kernel caps a chain's instructions at 32768 */

/* --- dump --- */

struct chain {
	SeccompFilter **f;	/* the oldest first */
	int nr;
};

struct seccomp_dump {
	SeccompFilter **filters;	/* seccomp.img's entries */
	size_t nr, cap;
};

static void filter_free(SeccompFilter *f)
{
	if (f)
		free(f->filter.data);
	free(f);
}

static void chain_free(struct chain *c)
{
	for (int i = 0; i < c->nr; i++)
		filter_free(c->f[i]);
	free(c->f);
	c->f = NULL;
	c->nr = 0;
}

static SeccompFilter *fetch_filter(pid_t tid, int pos)
{
	struct __ptrace_seccomp_metadata meta = { .filter_off = pos };
	SeccompFilter *f = calloc(1, sizeof(*f));
	long n = ptrace(PTRACE_SECCOMP_GET_FILTER, tid, pos, NULL);

	if (!f || n <= 0)
		goto err;
	seccomp_filter__init(f);
	f->filter.len = n * sizeof(struct sock_filter);
	f->filter.data = malloc(f->filter.len);
	if (!f->filter.data || ptrace(PTRACE_SECCOMP_GET_FILTER, tid, pos, f->filter.data) != n)
		goto err;
	f->has_flags = 1;
	/* Kernels before 4.16 have no metadata: no flags then. */
	if (ptrace(PTRACE_SECCOMP_GET_METADATA, tid, sizeof(meta), &meta) >= 0)
		f->flags = meta.flags;
	return f;
err:
	if (n < 0 && errno != ENOENT)
		pr_perror("tid %d: cannot read its seccomp filter %d", tid, pos);
	filter_free(f);
	return NULL;
}

static int fetch_chain(pid_t tid, struct chain *c)
{
	c->f = calloc(MAX_CHAIN, sizeof(*c->f));
	if (!c->f)
		return -ENOMEM;
	for (c->nr = 0; c->nr < MAX_CHAIN; c->nr++) {
		errno = 0;
		c->f[c->nr] = fetch_filter(tid, c->nr);
		if (!c->f[c->nr])
			break;
	}
	if (errno != ENOENT || !c->nr) {
		pr_err("tid %d: cannot read its seccomp filters", tid);
		return errno ? -errno : -EIO;
	}
	return 0;
}

static bool chains_equal(const struct chain *a, const struct chain *b)
{
	if (a->nr != b->nr)
		return false;
	for (int i = 0; i < a->nr; i++)
		if (a->f[i]->filter.len != b->f[i]->filter.len || a->f[i]->flags != b->f[i]->flags ||
		    memcmp(a->f[i]->filter.data, b->f[i]->filter.data, a->f[i]->filter.len))
			return false;
	return true;
}

/* Move @c's filters into the image, newest first; the oldest's place. */
static int add_chain(struct seccomp_dump *sd, struct chain *c, uint32_t extra_flags,
		     uint32_t *oldest)
{
	if (sd->nr + c->nr > sd->cap) {
		size_t cap = (sd->nr + c->nr) * 2;
		SeccompFilter **n = realloc(sd->filters, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		sd->filters = n;
		sd->cap = cap;
	}
	for (int i = c->nr - 1; i >= 0; i--) {
		SeccompFilter *f = c->f[i];

		f->flags |= extra_flags;
		if (i != c->nr - 1) {
			f->has_prev = 1;
			f->prev = sd->nr - 1;
		}
		sd->filters[sd->nr++] = f;
		c->f[i] = NULL;
	}
	*oldest = sd->nr - 1;
	c->nr = 0;
	return 0;
}

static struct seccomp_dump *dump_state(struct dump_ctx *ctx)
{
	if (!ctx->seccomp_priv)
		ctx->seccomp_priv = calloc(1, sizeof(struct seccomp_dump));
	return ctx->seccomp_priv;
}

int seccomp_dump_task(struct dump_ctx *ctx, const pid_t *tids, struct seccomp_thread *st,
		      int nr)
{
	struct seccomp_dump *sd;
	struct chain *c;
	bool shared = nr > 1;
	int ret = 0;

	for (int i = 0; i < nr; i++) {
		if (st[i].mode != SECCOMP_MODE_FILTER)
			shared = false;
		if (st[i].mode > SECCOMP_MODE_FILTER) {
			pr_err("unsupported: tid %d has seccomp mode %d", tids[i], st[i].mode);
			return -ENOTSUP;
		}
	}
	if (!(sd = dump_state(ctx)) || !(c = calloc(nr, sizeof(*c))))
		return -ENOMEM;
	for (int i = 0; !ret && i < nr; i++)
		if (st[i].mode == SECCOMP_MODE_FILTER)
			ret = fetch_chain(tids[i], &c[i]);
	for (int i = 1; !ret && shared && i < nr; i++)
		shared = chains_equal(&c[0], &c[i]);
	if (!ret && shared) {
		/* One chain for all: the leader's, synced to every thread at restore. */
		ret = add_chain(sd, &c[0], SECCOMP_FILTER_FLAG_TSYNC, &st[0].filter);
		for (int i = 1; i < nr; i++)
			st[i].mode = 0;
	}
	for (int i = 0; !ret && !shared && i < nr; i++)
		if (st[i].mode == SECCOMP_MODE_FILTER)
			ret = add_chain(sd, &c[i], 0, &st[i].filter);
	for (int i = 0; i < nr; i++)
		chain_free(&c[i]);
	free(c);
	return ret;
}

int seccomp_dump_image(struct dump_ctx *ctx)
{
	struct seccomp_dump *sd = ctx->seccomp_priv;
	SeccompEntry e;

	seccomp_entry__init(&e);
	if (sd) {
		e.n_seccomp_filters = sd->nr;
		e.seccomp_filters = sd->filters;
	}
	return img_write_one(ctx->dirfd, IMG_SECCOMP, 0, &e.base);
}

void seccomp_dump_cleanup(struct dump_ctx *ctx)
{
	struct seccomp_dump *sd = ctx->seccomp_priv;

	if (!sd)
		return;
	for (size_t i = 0; i < sd->nr; i++)
		filter_free(sd->filters[i]);
	free(sd->filters);
	free(sd);
	ctx->seccomp_priv = NULL;
}

/* --- restore --- */

/*
 * Walk thread @tid's chain from its oldest filter @from; @fn sees each, the
 * oldest first.  The number of filters, or -EINVAL for a chain that leaves
 * the image, loops, or holds no whole BPF program.
 */
static int walk_chain(const SeccompEntry *e, pid_t tid, uint32_t from,
		      void (*fn)(const SeccompFilter *f, void *arg), void *arg)
{
	uint32_t at = from;
	size_t n;

	for (n = 0; n <= (e ? e->n_seccomp_filters : 0); n++) {
		const SeccompFilter *f;

		if (!e || at >= e->n_seccomp_filters)
			break;
		f = e->seccomp_filters[at];
		if (!f->filter.len || f->filter.len % sizeof(struct sock_filter) ||
		    f->filter.len / sizeof(struct sock_filter) > BPF_MAXINSNS)
			break;
		if (fn)
			fn(f, arg);
		if (!f->has_prev)
			return n + 1;
		at = f->prev;
	}
	pr_err("tid %d: its seccomp filter chain (from %u) is not in seccomp.img", tid, from);
	return -EINVAL;
}

static int thread_mode(const CoreEntry *c, pid_t tid)
{
	const ThreadCoreEntry *thc = c->thread_core;
	int mode = thc->has_seccomp_mode ? thc->seccomp_mode : 0;

	if (mode > SECCOMP_MODE_FILTER) {
		pr_err("unsupported: tid %d has seccomp mode %d", tid, mode);
		return -ENOTSUP;
	}
	if (mode == SECCOMP_MODE_FILTER && !thc->has_seccomp_filter) {
		pr_err("tid %d: in seccomp filter mode with no filter", tid);
		return -EINVAL;
	}
	return mode;
}

int seccomp_restore_read(struct rst_ctx *ctx)
{
	SeccompEntry *e = NULL;
	int ret;

	ret = img_read_one(ctx->dirfd, IMG_SECCOMP, 0, &seccomp_entry__descriptor,
			   (ProtobufCMessage **)&e);
	if (ret && ret != -ENOENT && ret != -EINVAL)
		return ret;
	ctx->seccomp = e;
	for (size_t i = 0; i < ctx->nr_tasks; i++) {
		const struct rst_task *t = &ctx->tasks[i];

		for (size_t k = 0; !t->zombie && k < t->nr_threads; k++) {
			int mode = thread_mode(t->cores[k], t->tids[k]);

			if (mode == SECCOMP_MODE_FILTER)
				mode = walk_chain(e, t->tids[k],
						  t->cores[k]->thread_core->seccomp_filter, NULL, NULL);
			if (mode < 0)
				return mode;
		}
	}
	return 0;
}

static void add_size(const SeccompFilter *f, void *arg)
{
	*(size_t *)arg += sizeof(struct rst_seccomp_filter) + f->filter.len;
}

size_t seccomp_restore_size(struct rst_ctx *ctx, const struct rst_task *t)
{
	size_t size = 0;

	for (size_t k = 0; k < t->nr_threads; k++) {
		const ThreadCoreEntry *thc = t->cores[k]->thread_core;

		if (thread_mode(t->cores[k], t->tids[k]) == SECCOMP_MODE_FILTER &&
		    walk_chain(ctx->seccomp, t->tids[k], thc->seccomp_filter, add_size, &size) > 0)
			size += 64;
	}
	return size;
}

struct fill {
	struct rst_seccomp_filter *out;
	struct rst_alloc *al;
};

static void fill_one(const SeccompFilter *f, void *arg)
{
	struct fill *fl = arg;
	void *insns = rst_alloc(fl->al, f->filter.len, 8);

	memcpy(insns, f->filter.data, f->filter.len);
	fl->out->insns = (uintptr_t)insns;
	fl->out->len = f->filter.len / sizeof(struct sock_filter);
	fl->out->flags = f->has_flags ? f->flags : 0;
	fl->out++;
}

int seccomp_restore_args(struct rst_ctx *ctx, const struct rst_task *t, struct rst_args *a,
			 struct rst_alloc *al)
{
	for (size_t k = 0; k < t->nr_threads; k++) {
		const ThreadCoreEntry *thc = t->cores[k]->thread_core;
		struct rst_thread *th = &a->threads[k];
		struct fill fl = { NULL, al };
		int n;

		th->seccomp_mode = thread_mode(t->cores[k], t->tids[k]);
		if (th->seccomp_mode < 0)
			return th->seccomp_mode;
		if (th->seccomp_mode != SECCOMP_MODE_FILTER)
			continue;
		n = walk_chain(ctx->seccomp, t->tids[k], thc->seccomp_filter, NULL, NULL);
		if (n < 0)
			return n;
		fl.out = rst_alloc(al, n * sizeof(*fl.out), 8);
		th->filters = (uintptr_t)fl.out;
		th->nr_filters = n;
		walk_chain(ctx->seccomp, t->tids[k], thc->seccomp_filter, fill_one, &fl);
	}
	return 0;
}

void seccomp_restore_free(struct rst_ctx *ctx)
{
	if (ctx->seccomp)
		img_free_msg(&((SeccompEntry *)ctx->seccomp)->base);
	ctx->seccomp = NULL;
}

static size_t seccomp_part_args_size(struct rst_ctx *ctx, struct rst_task *t)
{
	return seccomp_restore_size(ctx, t);
}

static int seccomp_part_args(struct rst_ctx *ctx, struct rst_task *t, struct rst_args *a,
			     struct rst_alloc *al, const struct rst_range *region)
{
	(void)region;
	return seccomp_restore_args(ctx, t, a, al);
}

/* Each thread's mode is in its core (core.c); the filters are here. */
const struct task_part_ops seccomp_part = {
	.name = "seccomp",
	.fail = "prepare its seccomp filters",
	.dump_finish = seccomp_dump_image,
	.dump_cleanup = seccomp_dump_cleanup,
	.read = seccomp_restore_read,
	.args_size = seccomp_part_args_size,
	.args = seccomp_part_args,
	.cleanup = seccomp_restore_free,
};
