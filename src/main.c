/*
 * main.c - the stasis command line: CRIU's actions and options.
 *
 *   stasis dump -t PID -D DIR [-R] [-j] [-v4 -o dump.log]
 *   stasis restore -D DIR [-d] [-j] [--pidfile FILE] [-v4 -o restore.log]
 *   stasis check [--extra] [--experimental] [--all] [--feature NAME]
 *   stasis cpuinfo dump|check [-D DIR] [--cpu-cap=...]
 *   stasis page-server -D DIR --port P [--address A] [-d] [--status-fd FD]
 *   stasis lazy-pages -D DIR [-W DIR] [-d] [--status-fd FD] [--page-server --address A --port P]
 *
 * The log goes to -o FILE inside the work directory (-W, by default the
 * images directory), as CRIU's does.  Exit status 0 on success, 1 on any
 * failure, as CRIU's.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86/cpuinfo.h"
#include "check.h"
#include "dump.h"
#include "lazy.h"
#include "log.h"
#include "opts.h"
#include "mem-chain.h"
#include "page-server.h"
#include "rpc.h"
#include "stasis/compel.h"

#define STASIS_VERSION	"0.1"

int cr_dump(const struct opts *o);
int cr_check(const struct opts *o);
int cr_restore(const struct opts *o, int *exit_code, pid_t *root);
int restore_exec_cmd(char *const *cmd, int out_fd);

static void usage(FILE *f)
{
	fprintf(f,
		"usage: stasis ACTION [options]\n"
		"\n"
		"Checkpoint/restore in userspace, compatible with CRIU.\n"
		"\n"
		"Actions:\n"
		"  dump         checkpoint a process tree (-t PID -D DIR; -R to leave it running)\n"
		"  restore      bring a dumped tree back (-D DIR; -d to detach, --pidfile FILE;\n"
		"               --exec-cmd -- CMD...: stasis becomes CMD once the tree runs)\n"
		"  check        check the kernel has what stasis needs\n"
		"  cpuinfo dump|check  write cpuinfo.img to -D DIR, or check this CPU against it\n"
		"  pre-dump     write the tree's memory and leave it running, tracking what it\n"
		"               writes next (-t PID -D DIR [--prev-images-dir ../PREV])\n"
		"  page-server  take a dump's pages over TCP into -D DIR (--port P, --address A, -d);\n"
		"               --lazy-pages: serve -D DIR's pages to a lazy-pages --page-server\n"
		"  dedup        free in -D DIR's parent images every page DIR holds again\n"
		"  swrk FD      serve CRIU's RPC on the SOCK_SEQPACKET socket FD (runc, podman)\n"
		"  service      serve CRIU's RPC on --address PATH (-d: as a daemon, --pidfile)\n"
		"  lazy-pages   serve the memory of a restore --lazy-pages from -D DIR's pages\n"
		"               (it listens in -W DIR, by default -D; -d, --status-fd FD;\n"
		"               --page-server --address A --port P: the pages from there)\n"
		"\n"
		"Dump options: --page-server --address A --port P: pages go to a page server\n"
		"\n"
		"Common options: -D DIR, -W DIR, -o FILE, -v[0-4], --config FILE,\n"
		"--no-default-config.  Image tool: stasis-crit.\n"
		"\n"
		"Check options:\n"
		"  --extra               add check for extra kernel features\n"
		"  --experimental        add check for experimental kernel features\n"
		"  --all                 same as --extra --experimental\n"
		"  --feature FEAT        only check a particular feature, one of:");
	check_print_features(f, "                            ", 80);
}

/* Route libcompel's messages into our log. */
static void compel_log_cb(int level, const char *msg, void *arg)
{
	(void)arg;
	log_printf(level, "%s", msg);
}

/* -o is relative to the work directory, as in CRIU. */
static int setup_log(const struct opts *o)
{
	const char *dir = o->work_dir ? o->work_dir : o->images_dir;
	char path[4096];

	log_set_level(o->verbosity);
	compel_set_log(compel_log_cb, NULL, o->verbosity);
	if (!o->log_file || !strcmp(o->log_file, "-"))
		return 0;
	/* A dump creates its images directory; the log lives there too. */
	if ((!strcmp(o->action, "dump") || !strcmp(o->action, "pre-dump")) && dir)
		mkdir(dir, 0755);
	if (o->log_file[0] == '/' || !dir)
		snprintf(path, sizeof(path), "%s", o->log_file);
	else
		snprintf(path, sizeof(path), "%s/%s", dir, o->log_file);
	return log_open(path);
}

/*
 * Fds 0-2 open, on /dev/null where the caller closed them: otherwise the
 * first pipe or file we open takes one, and a program we run (nft, ip,
 * tar) finds its input or output at that number closed across the exec
 * (dup2 onto itself keeps O_CLOEXEC) and does nothing, silently.
 */
static void std_fds_open(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		if (open("/dev/null", O_RDWR) != fd)
			break;
	}
}

int main(int argc, char **argv)
{
	struct opts o;
	sigset_t chld;
	int ret, code = 0;

	log_set_prog("stasis");
	std_fds_open();
	/*
	 * An ignored SIGCHLD is inherited across exec, and with it ptrace stops
	 * would not wake libcompel's waits: stasis wants its children's news.
	 */
	signal(SIGCHLD, SIG_DFL);
	/*
	 * Blocked in every thread (threads inherit it): libcompel sleeps on it
	 * with sigtimedwait(), and one our page writer took would be lost.
	 */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	if (argc > 1 && (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version"))) {
		printf("Version: %s (stasis, CRIU-compatible images v2)\n", STASIS_VERSION);
		return 0;
	}
	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	if (opts_parse(argc, argv, &o))
		return 1;
	if (!o.action) {
		usage(stderr);
		return 1;
	}
	if (strcmp(o.action, "dump") && strcmp(o.action, "check") && strcmp(o.action, "restore") &&
	    strcmp(o.action, "cpuinfo") && strcmp(o.action, "page-server") &&
	    strcmp(o.action, "pre-dump") && strcmp(o.action, "swrk") &&
	    strcmp(o.action, "service") && strcmp(o.action, "dedup") &&
	    strcmp(o.action, "lazy-pages")) {
		fprintf(stderr, "not supported yet: %s\n", o.action);
		return 1;
	}
	/* The RPC opens each request's log itself, where the request says. */
	if (!strcmp(o.action, "swrk")) {
		/* libcompel says all; the level each request sets filters it. */
		compel_set_log(compel_log_cb, NULL, LOG_DEBUG);
		return cr_swrk(&o) ? 1 : 0;
	}
	if (!strcmp(o.action, "dump") || !strcmp(o.action, "pre-dump"))
		dump_catch_stop_signals();
	if (setup_log(&o))
		return 1;
	if (!strcmp(o.action, "service"))
		ret = cr_service(&o);
	else if (!strcmp(o.action, "dump") || !strcmp(o.action, "pre-dump"))
		ret = cr_dump(&o);
	else if (!strcmp(o.action, "restore"))
		ret = cr_restore(&o, &code, NULL) ?: (o.exec_cmd ? restore_exec_cmd(o.exec_cmd, -1) : 0);
	else if (!strcmp(o.action, "cpuinfo"))
		ret = cr_cpuinfo(&o);
	else if (!strcmp(o.action, "page-server"))
		ret = cr_page_server(&o);
	else if (!strcmp(o.action, "lazy-pages"))
		ret = cr_lazy_pages(&o);
	else if (!strcmp(o.action, "dedup"))
		ret = mem_chain_dedup(o.images_dir);
	else
		ret = cr_check(&o);
	log_close();
	return ret ? 1 : code;
}
