/*
 * vfork-prog.c - a parent waiting in vfork() while its child sleeps 2 s
 * and exits 7 (tests/dump/hostile.sh dumps it with -R meanwhile).
 *
 *   vfork-prog OUT   writes "PARENT_WAITED CHILD_STATUS" to OUT at the end:
 *                    seconds the parent stayed in vfork, the child's exit code
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct timespec two = { 2, 0 };
	double t0 = now(), t1;
	FILE *f;
	int st = 0;
	pid_t pid;

	if (argc != 2)
		return 2;
	pid = vfork();
	if (pid == 0) {
		/* A nanosleep cut short by the dump would end the wait early. */
		while (nanosleep(&two, &two))
			;
		_exit(7);
	}
	t1 = now();
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return 1;
	f = fopen(argv[1], "w");
	if (!f)
		return 1;
	fprintf(f, "%.2f %d\n", t1 - t0, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return fclose(f) ? 1 : 0;
}
