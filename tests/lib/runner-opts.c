/*
 * runner-opts.c - the conformance runner's command line (runner-opts.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner-opts.h"

void runner_usage(FILE *f)
{
	fprintf(f,
		"usage: runner [--no-cr | --between CMD [--between-may-fail] [--then-cr]] [--stop]\n"
		"              [--cycles N] [--pidns]\n"
		"              [--dump-opts \"OPT...\"] [--restore-opts \"OPT...\"]\n"
		"              [--stasis PATH] [--workdir DIR] [--timeout SEC] PROGRAM [ARGS...]\n"
		"\n"
		"Run a conformance test program, checkpoint and restore it with\n"
		"stasis unless --no-cr, and print PASS, FAIL or SKIP.\n"
		"  --between CMD   run `CMD PID` on the live test instead of the dump and\n"
		"                  restore; CMD is a path, with arguments split on spaces,\n"
		"                  output to WORKDIR/between.out; it must exit 0 and leave\n"
		"                  the test alive\n"
		"  --between-may-fail  any exit of CMD will do (fault injection)\n"
		"  --then-cr       after CMD, dump and restore the test too\n"
		"  --alter CMD     run `CMD IMGDIR` between the dump and the restore (to\n"
		"                  alter the images on purpose: the test must then FAIL)\n"
		"  --cycles N      dump and restore N times in a row (default 1)\n"
		"  --pidns         start the test as init of a new pid namespace\n"
		"  --dump-opts \"OPT...\"  more options for the dump, split on spaces\n"
		"  --restore-opts \"OPT...\"  more options for the restore, split on spaces\n"
		"  --stop          SIGSTOP the test after READY; it must still be stopped\n"
		"                  after the step, then gets SIGCONT and SIGTERM\n"
		"  --stasis PATH   the stasis binary (default: ../stasis from the runner's dir)\n"
		"  --workdir DIR   images, logs, result file (default: %s/PROGRAM)\n"
		"  --timeout SEC   limit for each step (default: %d)\n",
		DEFAULT_TOPDIR, DEFAULT_TIMEOUT);
}

/* CMD split on spaces, with a slot for PID and the NULL after it. */
static char **split_cmd(const char *cmd)
{
	char *copy = strdup(cmd), *save, *word;
	char **argv;
	size_t n = 0;

	/* No more words than one in two characters, plus PID and NULL. */
	argv = calloc(strlen(cmd) / 2 + 3, sizeof(*argv));
	if (!copy || !argv)
		goto err;
	for (word = strtok_r(copy, " ", &save); word;
	     word = strtok_r(NULL, " ", &save))
		argv[n++] = word;
	if (n)
		return argv;
err:
	free(argv);
	free(copy);
	return NULL;
}

/* @arg split as split_cmd() into *@argv, or a message naming @what: 0 or -1. */
static int split_opt(char ***argv, const char *arg, const char *what)
{
	*argv = split_cmd(arg);
	if (*argv)
		return 0;
	fprintf(stderr, "runner: bad %s '%s'\n", what, arg);
	return -1;
}

int runner_parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "no-cr",	no_argument,		NULL, 'n' },
		{ "between",	required_argument,	NULL, 'b' },
		{ "between-may-fail", no_argument,	NULL, 'f' },
		{ "then-cr",	no_argument,		NULL, 'T' },
		{ "alter",	required_argument,	NULL, 'a' },
		{ "dump-opts",	required_argument,	NULL, 'd' },
		{ "restore-opts", required_argument,	NULL, 'r' },
		{ "stop",	no_argument,		NULL, 'S' },
		{ "pidns",	no_argument,		NULL, 'P' },
		{ "cycles",	required_argument,	NULL, 'c' },
		{ "stasis",	required_argument,	NULL, 's' },
		{ "workdir",	required_argument,	NULL, 'w' },
		{ "timeout",	required_argument,	NULL, 't' },
		{ "help",	no_argument,		NULL, 'h' },
		{ }
	};
	char *end;
	long val;
	int c;

	*o = (struct opts){ .cr = true, .cycles = 1, .timeout = DEFAULT_TIMEOUT };
	/* '+': options end at PROGRAM, whose own options are its business. */
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			o->cr = false;
			break;
		case 'b':
			if (split_opt(&o->between, optarg, "between command"))
				return -1;
			break;
		case 'f':
			o->between_may_fail = true;
			break;
		case 'T':
			o->then_cr = true;
			break;
		case 'a':
			if (split_opt(&o->alter, optarg, "alter command"))
				return -1;
			break;
		case 'd':
			if (split_opt(&o->dump_opts, optarg, "dump options"))
				return -1;
			break;
		case 'r':
			if (split_opt(&o->restore_opts, optarg, "restore options"))
				return -1;
			break;
		case 'S':
			o->stop = true;
			break;
		case 'P':
			o->pidns = true;
			break;
		case 'c':
			val = strtol(optarg, &end, 10);
			if (*end || val <= 0 || val > 100) {
				fprintf(stderr, "runner: bad cycles '%s'\n", optarg);
				return -1;
			}
			o->cycles = (int)val;
			break;
		case 's':
			o->stasis = optarg;
			break;
		case 'w':
			o->workdir = optarg;
			break;
		case 't':
			val = strtol(optarg, &end, 10);
			if (*end || val <= 0 || val > 86400) {
				fprintf(stderr, "runner: bad timeout '%s'\n", optarg);
				return -1;
			}
			o->timeout = (int)val;
			break;
		case 'h':
			runner_usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	if ((o->between_may_fail || o->then_cr) && !o->between) {
		fprintf(stderr, "runner: --between-may-fail and --then-cr need --between\n");
		return -1;
	}
	if (optind >= argc)
		return -1;
	o->argv = argv + optind;
	return 0;
}
