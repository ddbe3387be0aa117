/*
 * busy-threads.c - six threads and 64 MiB of touched memory, forever: a
 * target to kill while it is being dumped (tests/dump/hostile.sh).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MEM	(64u << 20)

static void *nap(void *arg)
{
	for (;;)
		usleep(1000);
	return arg;
}

int main(void)
{
	char *mem = malloc(MEM);
	pthread_t th;

	if (!mem)
		return 1;
	memset(mem, 1, MEM);
	for (int i = 0; i < 5; i++)
		if (pthread_create(&th, NULL, nap, NULL))
			return 1;
	for (unsigned i = 0;; i++) {
		mem[(i * 4099u) % MEM]++;
		usleep(100);
	}
}
