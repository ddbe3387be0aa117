/*
 * counter.c - counts in its memory and writes each number over FILE,
 * every 10 ms: restored, it goes on from the number it had.  With "tty"
 * after FILE, each number goes to stdout too (a terminal's slave).
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec nap = { 0, 10 * 1000 * 1000 };
	unsigned long n = 0;
	char buf[32];
	int fd;

	if (argc < 2 || argc > 3 || (fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0)
		return 2;
	for (;;) {
		int len = snprintf(buf, sizeof(buf), "%020lu\n", ++n);

		if (pwrite(fd, buf, len, 0) != len)
			return 1;
		if (argc == 3 && write(1, buf, len) != len)
			return 1;
		nanosleep(&nap, NULL);
	}
}
