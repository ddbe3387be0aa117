/*
 * dump.h - the dump pipeline (dump.c).  Objects include dump-ctx.h.
 */
#ifndef STASIS_DUMP_H
#define STASIS_DUMP_H

#include "dump-ctx.h"

int cr_dump(const struct opts *o);
/*
 * SIGTERM, SIGINT and SIGHUP stop a dump at its next step, which cures
 * the tree (cr_dump sets this up; main does it before the log is opened,
 * so that a signal never finds a started dump without it).
 */
void dump_catch_stop_signals(void);

/* The steps of one task's dump (dump.c), as dump-pipe.c runs them. */
struct dump_steps {
	bool (*is_zombie)(const struct dump_task *t);
	/* On the tracer, first: what the others rely on (the task's checks, its ids). */
	int (*ready)(struct dump_ctx *ctx, struct dump_task *t);
	/* Would infecting @b show in what @a's body reads (the same memory or fd table)? */
	bool (*shares)(const struct dump_task *a, const struct dump_task *b);
	/*
	 * On the tracer, after ready and ahead of its turn: begin's first
	 * half, up to a wait that then passes while the tracer waits for
	 * the task before it (the infection's first remote call).
	 */
	int (*prime)(struct dump_ctx *ctx, struct dump_task *t);
	/* On the tracer: gathered, infected, the parasite's first answers (the rest, if primed). */
	int (*begin)(struct dump_ctx *ctx, struct dump_task *t);
	/* The parts, on any thread; a zombie's own. */
	int (*body)(struct dump_ctx *ctx, struct dump_task *t);
	/* On the tracer, after begin whatever it did: freed and cured; @ret or the cure's. */
	int (*end)(struct dump_ctx *ctx, struct dump_task *t, int ret);
};

/*
 * The tree's tasks in order, the body of one on a second thread while
 * the next begins on this one (dump-pipe.c); 0 or the first failure,
 * every task cured either way.
 */
int dump_pipe_run(struct dump_ctx *ctx, const struct dump_steps *steps);

#endif
