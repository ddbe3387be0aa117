/*
 * traced.c - a task someone else already traces cannot be seized: the
 * error says who holds it, and nothing of the tree is left stopped.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stasis/compel.h"

static char last_error[256];

static void log_cb(int level, const char *msg, void *arg)
{
	(void)level;
	(void)arg;
	snprintf(last_error, sizeof(last_error), "%s", msg);
}

static char state_of(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return '?';
	p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	return p ? p[2] : '?';
}

int main(void)
{
	struct compel_tree *tree = NULL;
	int sync[2], ret, status;
	pid_t victim, tracer;
	char c;

	if (pipe(sync))
		return 1;
	victim = fork();
	if (victim == 0) {
		/* A child of ours: it sleeps until killed. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	tracer = fork();
	if (tracer == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		c = ptrace(PTRACE_SEIZE, victim, NULL, NULL) ? 'n' : 'y';
		if (write(sync[1], &c, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	if (read(sync[0], &c, 1) != 1 || c != 'y') {
		printf("FAIL: compel refuses a traced task: could not trace it for the test\n");
		goto out;
	}
	/* Asleep in pause() before we start: on a busy machine it may still be on its way. */
	for (int i = 0; i < 500 && state_of(victim) != 'S'; i++)
		usleep(10000);
	compel_set_log(log_cb, NULL, COMPEL_LOG_ERROR);
	ret = compel_tree_seize(victim, &tree);
	if (ret == -EBUSY && strstr(last_error, "already traced by"))
		printf("PASS: compel refuses a traced task (%s)\n", last_error);
	else
		printf("FAIL: compel refuses a traced task: got %d (%s)\n", ret, last_error);
	if (!ret)
		compel_tree_release(tree, 0);
	/* Untouched: still sleeping, still the other tracer's. */
	if (state_of(victim) == 'S')
		printf("PASS: compel leaves a refused task as it was\n");
	else
		printf("FAIL: compel leaves a refused task as it was: state %c\n", state_of(victim));
out:
	kill(tracer, SIGKILL);
	waitpid(tracer, &status, 0);
	kill(victim, SIGKILL);
	waitpid(victim, &status, 0);
	return 0;
}
