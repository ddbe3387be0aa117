/*
 * counter.c - the demo's program: counts once every 200 ms into a log
 * file, so that a dump, and later a restore, can be seen in it.
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	FILE *log = fopen(argc > 1 ? argv[1] : "counter.log", "a");

	if (!log)
		return 1;
	setvbuf(log, NULL, _IOLBF, 0);
	for (unsigned long n = 1;; n++) {
		fprintf(log, "%lu\n", n);
		nanosleep(&(struct timespec){ 0, 200 * 1000 * 1000 }, NULL);
	}
}
