/*
 * dump-pipe.c - two tasks of a tree in flight at once.
 *
 * Dumping a task is a part that needs the thread tracing the tree (the
 * registers and state ptrace tells, the parasite's start and cure: each
 * a wait for the task to stop, run, stop again on the other core) and a
 * larger part that does not (/proc, the images, the pages; the parasite's
 * later commands).  Here a second thread of ours does the larger part of
 * task N while the tracer prepares task N+1, so that the waits of one
 * hide behind the work of the other.  The parts' dump_task hooks run on
 * that thread in the tree's order, one task at a time, as they would in
 * turn: the images are the same.  What they still need of the tracer
 * (a thread's remote calls, a parasite command) goes through
 * dump_on_tracer(), which the tracer serves while it waits.  A task
 * that shares its memory or fd table with the one whose body runs waits
 * for that one's end: its parasite and memfd would show in what is read.
 * Before the tracer waits for task N's body, task N+2 is primed: made
 * ready, gathered and sent on its way to its first remote call, which
 * it makes while we wait instead of while we watch (on two cores the
 * second thread's core is often where it wakes, busy).
 *
 * A failure on either side stops the pipe: the task in flight finishes
 * its part, every infected task is cured, and the dump fails as any.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>

#include "dump.h"
#include "log.h"

struct dump_pipe {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	const struct dump_steps *steps;
	struct dump_ctx *ctx;

	struct dump_task *job;		/* posted to the second thread */
	bool busy, stop;
	int job_ret;

	/* A call the second thread asks of the tracer. */
	int (*call)(void *);
	void *call_arg;
	bool call_posted, call_done;
	int call_ret;
};

/* The pipe of the dump under way, for dump_on_tracer(); NULL when none. */
static struct dump_pipe *active;
static pthread_t tracer;

int dump_on_tracer(int (*fn)(void *), void *arg)
{
	struct dump_pipe *p = active;
	int ret;

	if (!p || pthread_equal(pthread_self(), tracer))
		return fn(arg);
	pthread_mutex_lock(&p->lock);
	p->call = fn;
	p->call_arg = arg;
	p->call_done = false;
	p->call_posted = true;
	pthread_cond_broadcast(&p->cond);
	while (!p->call_done)
		pthread_cond_wait(&p->cond, &p->lock);
	ret = p->call_ret;
	pthread_mutex_unlock(&p->lock);
	return ret;
}

static void *pipe_main(void *arg)
{
	struct dump_pipe *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct dump_task *t;
		int ret;

		while (!p->job && !p->stop)
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->stop)
			break;
		t = p->job;
		p->job = NULL;
		pthread_mutex_unlock(&p->lock);
		ret = p->steps->body(p->ctx, t);
		pthread_mutex_lock(&p->lock);
		p->job_ret = ret;
		p->busy = false;
		pthread_cond_broadcast(&p->cond);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Wait for the second thread's task, serving its calls; that task's result. */
static int pipe_wait(struct dump_pipe *p)
{
	int ret;

	pthread_mutex_lock(&p->lock);
	while (p->busy || p->call_posted) {
		if (p->call_posted) {
			int (*fn)(void *) = p->call;
			void *arg = p->call_arg;

			p->call_posted = false;
			pthread_mutex_unlock(&p->lock);
			ret = fn(arg);
			pthread_mutex_lock(&p->lock);
			p->call_ret = ret;
			p->call_done = true;
			pthread_cond_broadcast(&p->cond);
			continue;
		}
		pthread_cond_wait(&p->cond, &p->lock);
	}
	ret = p->job_ret;
	p->job_ret = 0;
	pthread_mutex_unlock(&p->lock);
	return ret;
}

static void pipe_post(struct dump_pipe *p, struct dump_task *t)
{
	pthread_mutex_lock(&p->lock);
	p->job = t;
	p->busy = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/*
 * The task the second thread had, when it is done with it: its end (the
 * cure) here, on the tracer.  0, or the first failure of the two.
 */
static int pipe_finish(struct dump_pipe *p, struct dump_task *t)
{
	int ret = pipe_wait(p);

	return t ? p->steps->end(p->ctx, t, ret) : ret;
}

static int pipe_start(struct dump_pipe *p)
{
	sigset_t all, old;
	int ret;

	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	/* Signals (a SIGTERM that stops the dump) go to the tracer, as before. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&p->thread, NULL, pipe_main, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		pthread_cond_destroy(&p->cond);
		pthread_mutex_destroy(&p->lock);
		return -ret;
	}
	tracer = pthread_self();
	active = p;
	return 0;
}

static void pipe_stop(struct dump_pipe *p)
{
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	active = NULL;
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
}

/*
 * Before waiting for @prev's body: @next made ready and primed (*@ready,
 * *@primed), so that its first wait passes during ours, unless it is a
 * zombie or shares with @prev or @cur, infected both (its infection would
 * show in what they read).  0, or the failure of either step.
 */
static int pipe_prime(struct dump_pipe *p, const struct dump_task *prev,
		      const struct dump_task *cur, struct dump_task *next,
		      struct dump_task **ready, struct dump_task **primed)
{
	const struct dump_steps *s = p->steps;
	int ret;

	if (!s->prime || s->is_zombie(next))
		return 0;
	*ready = next;
	ret = s->ready(p->ctx, next);
	if (ret || (prev && s->shares(prev, next)) || (cur && s->shares(cur, next)))
		return ret;
	*primed = next;
	return s->prime(p->ctx, next);
}

int dump_pipe_run(struct dump_ctx *ctx, const struct dump_steps *steps)
{
	struct dump_pipe *p = calloc(1, sizeof(*p));
	struct dump_task *prev = NULL;	/* with the second thread, infected */
	struct dump_task *ready = NULL;	/* the next task, made ready ahead */
	struct dump_task *primed = NULL;	/* the next task, primed */
	int ret, err;

	if (!p)
		return -ENOMEM;
	p->ctx = ctx;
	p->steps = steps;
	ret = pipe_start(p);
	if (ret) {
		free(p);
		return ret;
	}
	pr_debug("dumping the tree's %zu tasks two at a time", ctx->nr_tasks);
	for (size_t i = 0; !ret && i < ctx->nr_tasks; i++) {
		struct dump_task *t = &ctx->tasks[i];
		bool zombie = steps->is_zombie(t);

		/* A zombie has nothing to prepare: its turn comes after the last. */
		if (t != ready)
			ret = zombie ? 0 : steps->ready(ctx, t);
		/* Its infection would show in the body under way: that one ends first. */
		if (!ret && prev && !zombie && t != primed && steps->shares(prev, t)) {
			ret = pipe_finish(p, prev);
			prev = NULL;
		}
		primed = NULL;
		ret = ret ?: (zombie ? 0 : steps->begin(ctx, t));
		if (!ret && i + 1 < ctx->nr_tasks)
			ret = pipe_prime(p, prev, zombie ? NULL : t, &ctx->tasks[i + 1], &ready, &primed);
		err = pipe_finish(p, prev);
		prev = NULL;
		ret = ret ?: err;
		if (ret) {
			if (!zombie)
				steps->end(ctx, t, ret);
			if (primed)
				steps->end(ctx, primed, ret);
			break;
		}
		pipe_post(p, t);
		prev = zombie ? NULL : t;
	}
	err = pipe_finish(p, prev);
	ret = ret ?: err;
	pipe_stop(p);
	free(p);
	return ret;
}
