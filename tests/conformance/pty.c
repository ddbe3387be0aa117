/*
 * pty.c - pseudo-terminals held inside the tree, with sessions on them.
 *
 * Sets up, before READY (R is the test, a session leader with no
 * terminal; the runner makes it one):
 *   fd 5, 6  pty A: master and slave; A is R's controlling terminal, R's
 *            group in front; the slave in canonical mode without echo,
 *            its erase character ^H, 33 rows by 77 columns.  Queued: two
 *            lines for the slave to read, one line (ONLCR: "\r\n") for the
 *            master.
 *   fd 7     /dev/tty (that is A, through R's session)
 *   fd 8, 9  pty B: master in packet mode; slave raw, owned by 4321:4322,
 *            exclusive, then the pair locked.  Queued: bytes with ^C in
 *            them for the slave (raw: no signal), three for the master.
 *   fd 10    a slave of pty C, whose master was closed: hung up
 *   fd 11    the master of pty D, the controlling terminal of the session
 *            of child S (S holds no fd of it), with S's child G's group
 *            in front
 *
 * Checks after SIGTERM (S and G check their part, R waits for them):
 *   - every byte queued comes out once, as it went in, and nothing else
 *     (no echo, no CR/NL mapping done twice, no status byte lost);
 *   - A's settings and window size; R's session owns A, its group in
 *     front; /dev/tty is still device 5:0 and writes to A;
 *   - B is in packet mode, locked (a new open of the slave fails), its
 *     slave exclusive and owned by 4321:4322;
 *   - C's slave is hung up: read gives 0, write EIO;
 *   - D belongs to S's session, G's group in front; S opens /dev/tty.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "stasis_test.h"

#define A_MASTER	5
#define A_SLAVE		6
#define A_TTY		7
#define B_MASTER	8
#define B_SLAVE		9
#define C_SLAVE		10
#define D_MASTER	11

#define B_UID		4321
#define B_GID		4322
#define A_ROWS		33
#define A_COLS		77

static const char a_in[] = "first line\nsecond line\n";
static const char a_out[] = "to the master\n";
static const char b_in[] = "raw\x03" "bytes\x7f";
static const char b_out[] = "pkt";

static pid_t child_s;
static int go_pipe[2] = { -1, -1 };

/* Put @fd at number @want. */
static int place(int fd, int want, const char *what)
{
	if (fd < 0) {
		fail("%s: %m", what);
		return -1;
	}
	if (fd != want) {
		if (dup2(fd, want) != want) {
			fail("dup2 %s: %m", what);
			return -1;
		}
		close(fd);
	}
	return 0;
}

/* A new pty: its master at @m, its slave at @s (no controlling terminal taken). */
static int pty_pair(int m, int s, int sflags)
{
	int fd = posix_openpt(O_RDWR | O_NOCTTY);

	if (place(fd, m, "posix_openpt") || grantpt(m) || unlockpt(m))
		return fail("pty: %m"), -1;
	if (s < 0)
		return 0;
	return place(open(ptsname(m), O_RDWR | O_NOCTTY | sflags), s, "open the slave");
}

static int write_all(int fd, const char *buf, size_t len, const char *what)
{
	if (write(fd, buf, len) != (ssize_t)len)
		return fail("write to %s: %m", what), -1;
	return 0;
}

/* Wait until @fd has something to read (the tty layer delivers through a work queue). */
static void wait_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	poll(&p, 1, 2000);
}

static int setup_a(void)
{
	struct termios t;
	struct winsize w = { .ws_row = A_ROWS, .ws_col = A_COLS };

	if (pty_pair(A_MASTER, A_SLAVE, 0))
		return -1;
	if (ioctl(A_SLAVE, TIOCSCTTY, 0))
		return fail("TIOCSCTTY: %m"), -1;
	if (place(open("/dev/tty", O_RDWR), A_TTY, "open /dev/tty"))
		return -1;
	if (tcgetattr(A_SLAVE, &t))
		return fail("tcgetattr: %m"), -1;
	t.c_lflag &= ~(ECHO | ECHOE | ECHOK);
	t.c_cc[VERASE] = '\b';
	if (tcsetattr(A_SLAVE, TCSANOW, &t) || ioctl(A_SLAVE, TIOCSWINSZ, &w))
		return fail("set A's settings: %m"), -1;
	if (write_all(A_MASTER, a_in, strlen(a_in), "A's master") ||
	    write_all(A_SLAVE, a_out, strlen(a_out), "A's slave"))
		return -1;
	wait_readable(A_MASTER);
	wait_readable(A_SLAVE);
	return 0;
}

static int setup_b(void)
{
	struct termios t;
	int one = 1;

	if (pty_pair(B_MASTER, B_SLAVE, O_NONBLOCK))
		return -1;
	if (tcgetattr(B_SLAVE, &t))
		return fail("tcgetattr: %m"), -1;
	cfmakeraw(&t);
	if (tcsetattr(B_SLAVE, TCSANOW, &t) || ioctl(B_MASTER, TIOCPKT, &one) ||
	    fchown(B_SLAVE, B_UID, B_GID) || ioctl(B_SLAVE, TIOCEXCL))
		return fail("set B's settings: %m"), -1;
	if (write_all(B_MASTER, b_in, strlen(b_in), "B's master") ||
	    write_all(B_SLAVE, b_out, strlen(b_out), "B's slave"))
		return -1;
	wait_readable(B_MASTER);
	wait_readable(B_SLAVE);
	if (ioctl(B_MASTER, TIOCSPTLCK, &one))
		return fail("TIOCSPTLCK: %m"), -1;
	return 0;
}

static int setup_c(void)
{
	int m = open("/dev/ptmx", O_RDWR | O_NOCTTY);

	if (m < 0 || grantpt(m) || unlockpt(m))
		return fail("C: %m"), -1;
	if (place(open(ptsname(m), O_RDWR | O_NOCTTY), C_SLAVE, "open C's slave"))
		return -1;
	close(m);
	return 0;
}

/* --- S, leader of its own session on pty D, and G in front --- */

static int s_check(pid_t g)
{
	int fd = open("/dev/tty", O_RDWR);
	pid_t fg;

	if (fd < 0) {
		test_msg("S: cannot open /dev/tty: %m\n");
		return 1;
	}
	if (ioctl(fd, TIOCGPGRP, &fg) || fg != g) {
		test_msg("S: group %d in front, want %d\n", fg, g);
		return 1;
	}
	close(fd);
	return 0;
}

static void __attribute__((noreturn)) run_s(const char *slave, int ready)
{
	pid_t g;
	int fd, status = 1;
	char c;

	close(go_pipe[1]);
	if (setsid() < 0 || (fd = open(slave, O_RDWR)) < 0)
		_exit(2);
	g = fork();
	if (g == 0) {
		setpgid(0, 0);
		read(go_pipe[0], &c, 1);	/* the end of file: R is done */
		_exit(0);
	}
	setpgid(g, g);
	signal(SIGTTOU, SIG_IGN);
	if (g < 0 || tcsetpgrp(fd, g))
		_exit(3);
	close(fd);
	if (write(ready, "s", 1) != 1)
		_exit(4);
	read(go_pipe[0], &c, 1);
	status = s_check(g);
	waitpid(g, NULL, 0);
	_exit(status);
}

static int setup_d(void)
{
	int ready[2];
	char c;

	if (pty_pair(D_MASTER, -1, 0) || pipe(ready) || pipe(go_pipe))
		return fail("D: %m"), -1;
	child_s = fork();
	if (child_s == 0) {
		close(ready[0]);
		run_s(ptsname(D_MASTER), ready[1]);
	}
	close(ready[1]);
	close(go_pipe[0]);
	if (child_s < 0 || read(ready[0], &c, 1) != 1)
		return fail("S did not start"), -1;
	close(ready[0]);
	return 0;
}

/* --- checks --- */

/* Everything @fd holds now, up to @size bytes, as successive reads give it. */
static ssize_t drain(int fd, char *buf, size_t size)
{
	int fl = fcntl(fd, F_GETFL);
	size_t len = 0;
	ssize_t n;

	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	wait_readable(fd);
	while (len < size && (n = read(fd, buf + len, size - len)) > 0)
		len += n;
	fcntl(fd, F_SETFL, fl);
	return len;
}

static void expect(int fd, const char *want, size_t wlen, const char *what)
{
	char buf[256];
	ssize_t n = drain(fd, buf, sizeof(buf));

	if (n != (ssize_t)wlen || memcmp(buf, want, wlen))
		fail("%s: read %zd bytes \"%.*s\", want %zu \"%.*s\"", what, n, (int)(n > 0 ? n : 0),
		     buf, wlen, (int)wlen, want);
}

static void check_a(void)
{
	struct termios t;
	struct winsize w;
	struct stat st;
	pid_t sid = 0, fg = 0;

	expect(A_SLAVE, a_in, strlen(a_in), "A's slave");
	expect(A_MASTER, "to the master\r\n", 15, "A's master");
	if (tcgetattr(A_SLAVE, &t) || (t.c_lflag & ECHO) || !(t.c_lflag & ICANON) ||
	    t.c_cc[VERASE] != '\b')
		fail("A's settings changed (lflag %#x, erase %#x)", t.c_lflag, t.c_cc[VERASE]);
	if (ioctl(A_SLAVE, TIOCGWINSZ, &w) || w.ws_row != A_ROWS || w.ws_col != A_COLS)
		fail("A's window is %ux%u, want %ux%u", w.ws_row, w.ws_col, A_ROWS, A_COLS);
	if (ioctl(A_SLAVE, TIOCGSID, &sid) || sid != getpid())
		fail("A belongs to session %d, want ours (%d): %m", sid, getpid());
	if (ioctl(A_SLAVE, TIOCGPGRP, &fg) || fg != getpgrp())
		fail("group %d in front of A, want ours (%d)", fg, getpgrp());
	if (fstat(A_TTY, &st) || st.st_rdev != makedev(5, 0))
		fail("fd %d is no longer /dev/tty", A_TTY);
	if (write_all(A_TTY, "via tty\n", 8, "/dev/tty") == 0)
		expect(A_MASTER, "via tty\r\n", 9, "A's master, written through /dev/tty");
}

static void check_b(void)
{
	char want[sizeof(b_out)];
	struct stat st;
	int lock = 0, excl = 0, fd;

	want[0] = TIOCPKT_DATA;
	memcpy(want + 1, b_out, strlen(b_out));
	expect(B_MASTER, want, strlen(b_out) + 1, "B's master (packet mode)");
	expect(B_SLAVE, b_in, strlen(b_in), "B's slave (raw)");
	if (ioctl(B_MASTER, TIOCGPTLCK, &lock) || !lock)
		fail("B is not locked");
	fd = open(ptsname(B_MASTER), O_RDWR | O_NOCTTY);
	if (fd >= 0 || errno != EIO)
		fail("B's slave opens while locked (fd %d, %m)", fd);
	if (ioctl(B_SLAVE, TIOCGEXCL, &excl) || !excl)
		fail("B's slave is not exclusive");
	if (fstat(B_SLAVE, &st) || st.st_uid != B_UID || st.st_gid != B_GID)
		fail("B's slave belongs to %u:%u, want %u:%u", st.st_uid, st.st_gid, B_UID, B_GID);
}

static void check_c(void)
{
	char c;

	if (read(C_SLAVE, &c, 1) != 0)
		fail("C's slave is not hung up: read does not give 0");
	if (write(C_SLAVE, "x", 1) >= 0 || errno != EIO)
		fail("C's slave is not hung up: write does not fail with EIO");
}

static void check_d(void)
{
	pid_t sid = 0;
	int status;

	if (ioctl(D_MASTER, TIOCGSID, &sid) || sid != child_s)
		fail("D belongs to session %d, want S's (%d)", sid, child_s);
	close(go_pipe[1]);
	if (waitpid(child_s, &status, 0) != child_s || !WIFEXITED(status) || WEXITSTATUS(status))
		fail("S failed its checks (status %#x)", status);
}

int main(int argc, char **argv)
{
	test_init(argc, argv);
	signal(SIGHUP, SIG_IGN);
	if (setup_a() || setup_b() || setup_c() || setup_d()) {
		if (child_s > 0)
			kill(child_s, SIGKILL);
		return test_result();
	}
	test_ready();
	test_waitsig();
	check_a();
	check_b();
	check_c();
	check_d();
	pass();
	return test_result();
}
