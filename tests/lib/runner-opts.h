/*
 * runner-opts.h - the conformance runner's command line (runner-opts.c):
 * what tests/conformance/runner.c is asked to do.
 */
#ifndef STASIS_RUNNER_OPTS_H
#define STASIS_RUNNER_OPTS_H

#include <stdbool.h>
#include <stdio.h>

#define DEFAULT_TIMEOUT	30		/* seconds, for each step */
#define DEFAULT_TOPDIR	"/tmp/stasis-conf"

struct opts {
	bool cr;		/* checkpoint and restore, not --no-cr */
	bool stop;		/* SIGSTOP the test around the step */
	bool pidns;		/* the test is init of its own pid namespace */
	bool between_may_fail;	/* any exit of the between-step will do */
	bool then_cr;		/* --then-cr: dump and restore after the between-step */
	int cycles;		/* dumps and restores in a row */
	char **between;		/* CMD split on spaces, room left for PID */
	char **alter;		/* --alter CMD: run on the images before the restore */
	char **dump_opts;	/* --dump-opts "OPT...": more options for the dump */
	char **restore_opts;	/* --restore-opts "OPT...": and for the restore */
	const char *stasis;
	const char *workdir;
	int timeout;
	char **argv;		/* the test program and its arguments */
};

/* The usage text, into @f. */
void runner_usage(FILE *f);

/* @argv into @o (--help prints the usage and exits 0): 0, or -1 for bad usage. */
int runner_parse_opts(int argc, char **argv, struct opts *o);

#endif
