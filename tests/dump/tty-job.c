/*
 * tty-job.c - a shell job on a terminal, without a shell or a terminal,
 * for tests/dump/tty.sh.
 *
 *   tty-job launch DIR [-2] -- PROGRAM [ARGS...]
 *
 * plays the terminal emulator and the shell: it becomes a child subreaper
 * (PID 1 here reaps no orphans), makes a pty, and starts PROGRAM in DIR
 * in a session of its own with the pty slave as its controlling terminal
 * and stdio, set to the termios and window size below.  It writes the
 * program's pid to DIR/pid and the slave's name to DIR/tty, and copies
 * whatever comes out of the master to DIR/out, so the program never
 * blocks on a full terminal.  -2 makes a second pty whose slave the
 * program gets as fd 5 (not its controlling terminal).  It exits when
 * every process it started is gone; SIGTERM kills them all first.
 *
 *   tty-job prog [fork] [devtty] [childtty]
 *
 * is the job: it opens the terminal again as fd 4 (a second open file of
 * the same terminal), with "devtty" /dev/tty as fd 3, sets TIOCEXCL,
 * with "fork" forks a child that holds the same files (with "childtty"
 * the child opens /dev/tty as fd 3 itself), writes what it
 * sees of its terminal to "seen" (for the test to compare with the
 * images), writes "tick N" lines to its stdout every 20 ms and "ready"
 * to "state".  On SIGUSR2 it checks that its terminal is as it was
 * (settings, session, foreground group, exclusive mode, /dev/tty), writes
 * "OK" or "BAD: why" to "state" and exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* What the launcher sets, so that nothing in the images is a default. */
#define WS_ROW		37
#define WS_COL		111
#define WS_XPIXEL	555
#define WS_YPIXEL	666
#define CC_VINTR	0x0b
#define CC_VMIN		3
#define CC_VTIME	7

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

static int put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* --- the launcher --- */

static int open_pty(int *master, char *name, size_t len)
{
	*master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*master < 0 || grantpt(*master) || unlockpt(*master) ||
	    ptsname_r(*master, name, len)) {
		perror("tty-job: pty");
		return -1;
	}
	return 0;
}

/* Distinct values everywhere: the test finds them in tty-info.img. */
static int set_terminal(int fd)
{
	struct winsize ws = { WS_ROW, WS_COL, WS_XPIXEL, WS_YPIXEL };
	struct termios t;

	if (tcgetattr(fd, &t))
		return -1;
	t.c_lflag &= ~ECHO;
	t.c_iflag |= IUTF8;
	t.c_cc[VINTR] = CC_VINTR;
	t.c_cc[VMIN] = CC_VMIN;
	t.c_cc[VTIME] = CC_VTIME;
	cfsetspeed(&t, B9600);
	if (tcsetattr(fd, TCSANOW, &t))
		return -1;
	return ioctl(fd, TIOCSWINSZ, &ws);
}

static void job_child(const char *dir, const char *slave, const char *slave2, char **argv)
{
	int fd, fd2;

	if (setsid() < 0)
		_exit(120);
	/* Nothing inherited (a flock(1) around the suite holds fd 3): fds 3 and 4 are ours. */
	syscall(SYS_close_range, 3, ~0U, 0);
	/* A session leader without a terminal: this open makes it the controlling one. */
	fd = open(slave, O_RDWR);
	if (fd < 0 || ioctl(fd, TIOCSCTTY, 0) || set_terminal(fd))
		_exit(121);
	if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		_exit(122);
	if (slave2) {
		fd2 = open(slave2, O_RDWR | O_NOCTTY);
		if (fd2 < 0 || dup2(fd2, 5) < 0)
			_exit(123);
	}
	/* A shell passes nothing else on. */
	syscall(SYS_close_range, slave2 ? 6 : 3, ~0U, 0);
	if (chdir(dir))
		_exit(124);
	signal(SIGTERM, SIG_DFL);
	execv(argv[0], argv);
	_exit(127);
}

/* Copy what the master has to @out; false once the slave side is closed everywhere. */
static bool drain(int master, int out)
{
	char buf[4096];
	ssize_t n;

	for (;;) {
		n = read(master, buf, sizeof(buf));
		if (n > 0) {
			if (write(out, buf, n) != n)
				return false;
			continue;
		}
		return n < 0 && errno == EAGAIN;
	}
}

/* SIGKILL every child we have now (orphans of the job come to us). */
static void kill_children(void)
{
	char path[64];
	FILE *f;
	int pid;

	snprintf(path, sizeof(path), "/proc/self/task/%d/children", getpid());
	f = fopen(path, "r");
	if (!f)
		return;
	while (fscanf(f, "%d", &pid) == 1)
		kill(pid, SIGKILL);
	fclose(f);
}

static int launch(int argc, char **argv)
{
	char slave[64], slave2[64], path[4096];
	int master, master2 = -1, out, status, i = 3, result = 0;
	const char *dir;
	bool two = false, open_end = true;
	pid_t pid, r;

	if (argc < 5)
		return 2;
	dir = argv[2];
	if (!strcmp(argv[i], "-2")) {
		two = true;
		i++;
	}
	if (i >= argc || strcmp(argv[i], "--"))
		return 2;
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	/* No SA_RESTART: poll must return to act on SIGTERM. */
	sigaction(SIGTERM, &(struct sigaction){ .sa_handler = on_signal }, NULL);
	if (open_pty(&master, slave, sizeof(slave)))
		return 1;
	if (two && open_pty(&master2, slave2, sizeof(slave2)))
		return 1;
	snprintf(path, sizeof(path), "%s/out", dir);
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	if (out < 0)
		return 1;
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0)
		job_child(dir, slave, two ? slave2 : NULL, &argv[i + 1]);
	fcntl(master, F_SETFL, O_NONBLOCK);
	snprintf(path, sizeof(path), "%s/tty", dir);
	put_file(path, slave);
	snprintf(path, sizeof(path), "%s/pid", dir);
	snprintf(slave, sizeof(slave), "%d\n", pid);
	put_file(path, slave);

	for (;;) {
		if (got_signal) {
			kill(-pid, SIGKILL);
			kill_children();
		}
		if (open_end)
			open_end = drain(master, out);
		r = waitpid(-1, &status, WNOHANG);
		if (r == pid)
			result = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		if (r < 0 && errno == ECHILD)
			break;	/* everything is reaped */
		if (r <= 0)
			poll(&(struct pollfd){ .fd = master, .events = open_end ? POLLIN : 0 }, 1, 20);
	}
	drain(master, out);
	if (master2 >= 0)
		close(master2);
	close(master);
	close(out);
	return result;
}

/* --- the job --- */

/* c_cc as CRIU's images hold it: four characters a word, the first in the low byte. */
static void cc_words(const struct termios *t, char *buf, size_t len)
{
	size_t off = 0;

	for (size_t w = 0; w < 19; w++) {
		uint32_t v = 0;

		for (size_t b = 0; b < 4; b++)
			if (w * 4 + b < sizeof(t->c_cc))
				v |= (uint32_t)t->c_cc[w * 4 + b] << (8 * b);
		off += snprintf(buf + off, len - off, "%s%u", w ? "," : "", v);
	}
}

/* One line the test compares with tty-info.img; jq reads it as an object. */
static int write_seen(const struct termios *t, const struct winsize *ws)
{
	char cc[256], line[1024];

	cc_words(t, cc, sizeof(cc));
	snprintf(line, sizeof(line),
		 "{\"sid\":%d,\"pgrp\":%d,\"c_iflag\":%u,\"c_oflag\":%u,\"c_cflag\":%u,"
		 "\"c_lflag\":%u,\"c_line\":%u,\"c_cc\":[%s],\"ws_row\":%u,\"ws_col\":%u,"
		 "\"ws_xpixel\":%u,\"ws_ypixel\":%u}\n",
		 tcgetsid(0), tcgetpgrp(0), t->c_iflag, t->c_oflag, t->c_cflag, t->c_lflag,
		 t->c_line, cc, ws->ws_row, ws->ws_col, ws->ws_xpixel, ws->ws_ypixel);
	return put_file("seen", line);
}

/* Field by field: struct termios has padding. */
static bool same_termios(const struct termios *a, const struct termios *b)
{
	return a->c_iflag == b->c_iflag && a->c_oflag == b->c_oflag &&
	       a->c_cflag == b->c_cflag && a->c_lflag == b->c_lflag &&
	       a->c_line == b->c_line && !memcmp(a->c_cc, b->c_cc, sizeof(a->c_cc)) &&
	       cfgetispeed(a) == cfgetispeed(b) && cfgetospeed(a) == cfgetospeed(b);
}

/* Whatever differs from the start, or NULL. */
static const char *check_terminal(const struct termios *t0, const struct winsize *w0)
{
	struct termios t;
	struct winsize ws;
	int excl = 0;

	if (tcgetattr(0, &t) || ioctl(0, TIOCGWINSZ, &ws))
		return "cannot read the terminal";
	if (!same_termios(&t, t0))
		return "termios changed";
	if (memcmp(&ws, w0, sizeof(ws)))
		return "window size changed";
	if (ws.ws_row != WS_ROW || ws.ws_col != WS_COL || t.c_cc[VMIN] != CC_VMIN)
		return "not the launcher's settings";
	if (tcgetsid(0) != getpid() || tcgetpgrp(0) != getpgrp())
		return "not the session's terminal, or not in the foreground";
	if (ioctl(0, TIOCGEXCL, &excl) || !excl)
		return "exclusive mode lost";
	if (fcntl(3, F_GETFD) >= 0 && tcgetattr(3, &t))
		return "/dev/tty does not answer";
	if (tcgetattr(4, &t))
		return "the second open of the terminal does not answer";
	return NULL;
}

/* open(@path) as fd @want. */
static int open_as(const char *path, int flags, int want)
{
	int fd = open(path, flags);

	if (fd < 0)
		return -1;
	if (fd != want) {
		if (dup2(fd, want) < 0)
			return -1;
		close(fd);
	}
	return 0;
}

/* A child holding the job's files; ready once it has opened what it opens. */
static pid_t start_child(bool devtty)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		if (devtty && open_as("/dev/tty", O_RDWR, 3))
			_exit(1);
		close(p[1]);
		for (;;)
			pause();
	}
	close(p[1]);
	/* EOF: the child is ready (or gone, which the check finds). */
	while (pid > 0 && read(p[0], &c, 1) < 0 && errno == EINTR)
		;
	close(p[0]);
	return pid;
}

static int prog(int argc, char **argv)
{
	bool do_fork = false, devtty = false, childtty = false;
	struct timespec tick = { 0, 20 * 1000000 };
	struct termios t0;
	struct winsize w0;
	const char *bad;
	char msg[256];
	pid_t child = 0;
	unsigned long n = 0;

	for (int i = 2; i < argc; i++) {
		do_fork |= !strcmp(argv[i], "fork");
		devtty |= !strcmp(argv[i], "devtty");
		childtty |= !strcmp(argv[i], "childtty");
	}
	do_fork |= childtty;
	signal(SIGUSR2, on_signal);
	if (devtty && open_as("/dev/tty", O_RDWR, 3))
		return put_file("state", "BAD: cannot open /dev/tty\n"), 1;
	if (open_as(ttyname(0), O_RDWR | O_NOCTTY, 4))
		return put_file("state", "BAD: cannot open the terminal again\n"), 1;
	if (ioctl(0, TIOCEXCL) || tcgetattr(0, &t0) || ioctl(0, TIOCGWINSZ, &w0) ||
	    write_seen(&t0, &w0))
		return put_file("state", "BAD: cannot set up the terminal\n"), 1;
	if (do_fork) {
		child = start_child(childtty);
		if (child < 0)
			return put_file("state", "BAD: cannot start the child\n"), 1;
	}
	put_file("state", "ready\n");
	while (got_signal != SIGUSR2) {
		printf("tick %lu\n", n++);
		fflush(stdout);
		nanosleep(&tick, NULL);
	}
	bad = check_terminal(&t0, &w0);
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	snprintf(msg, sizeof(msg), "%s%s\n", bad ? "BAD: " : "OK", bad ? bad : "");
	put_file("state", msg);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "launch"))
		return launch(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "prog"))
		return prog(argc, argv);
	fprintf(stderr, "usage: tty-job launch DIR [-2] -- PROGRAM [ARGS...]\n"
			"       tty-job prog [fork] [devtty] [childtty]\n");
	return 2;
}
