/*
 * ext-unix-prog.c PATH - a datagram socket connected to PATH, a socket of
 * someone outside the dumped tree (as a daemon's is to syslog's
 * /dev/log).  It sends "before" at once, writes "ready" to ./state, and
 * sends "after" at each SIGUSR1.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static volatile sig_atomic_t asked;

static void on_usr1(int sig)
{
	(void)sig;
	asked = 1;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_DGRAM, 0);
	FILE *f;

	if (argc != 2 || s < 0)
		return 2;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[1]);
	signal(SIGUSR1, on_usr1);
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) || send(s, "before", 6, 0) != 6)
		return 1;
	f = fopen("state", "w");
	if (!f)
		return 1;
	fputs("ready", f);
	fclose(f);
	for (;;) {
		pause();
		if (asked && send(s, "after", 5, 0) != 5)
			return 1;
		asked = 0;
	}
}
