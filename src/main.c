/*
 * main.c - the stasis command line.  Actions and options follow CRIU's.
 * For now only `--version` and the action list exist; dump, restore and
 * check arrive with their issues.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"

#define STASIS_VERSION	"0.1"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: stasis ACTION [options]\n"
		"\n"
		"Checkpoint/restore in userspace, compatible with CRIU.\n"
		"Actions: dump, restore, check, pre-dump, page-server, lazy-pages, swrk\n"
		"Image tool: stasis-crit (build/crit)\n");
}

int main(int argc, char **argv)
{
	log_set_prog("stasis");
	if (argc < 2) {
		usage(stderr);
		return 1;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf("Version: %s (stasis, CRIU-compatible images v2)\n", STASIS_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	pr_err("not supported yet: %s", argv[1]);
	return 1;
}
