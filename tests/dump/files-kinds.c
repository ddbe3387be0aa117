/*
 * files-kinds.c - a process holding one of each kind of open file that
 * stasis dumps, for tests/dump/files.sh.
 *
 *   files-kinds MODE      (run in an empty directory, stdio on /dev/null)
 *
 * MODE "all" opens, in this order:
 *   3  fifo "fifo-rw" O_RDWR, holding FIFO_BYTES bytes
 *   4  fifo "fifo-ro" O_RDONLY|O_NONBLOCK (empty)
 *   5  eventfd, counter EFD_COUNT, EFD_CLOEXEC|EFD_NONBLOCK
 *   6  dup of 5 (same open file, no FD_CLOEXEC)
 *   7  "small", SMALL_SIZE bytes, O_RDWR at SMALL_POS, then unlinked
 *   8  "sparse", SPARSE_SIZE bytes with two data runs, then unlinked
 *   9  "small" again, O_RDONLY (another open file, same inode)
 *   10 the directory, O_DIRECTORY
 *   11 symlink "lnk" -> "small", O_PATH|O_NOFOLLOW
 *   12 "owned", with F_SETOWN(self) and F_SETSIG(SIGIO_SIG)
 *   13 pipe read end, pipe of PIPE_SIZE bytes, full
 *   14 its write end
 *   15 /dev/kmsg O_WRONLY (CRIU records no position for it)
 *   16 fifo "fifo-gone" O_RDWR holding 2 bytes, then unlinked
 * and then starts a child sharing its fd table (CLONE_FILES) and forks a
 * child of its own (which closes fd 15).
 * MODE "pattern" writes the pipe's contents to stdout and exits.
 * Other modes open one file stasis cannot hold yet (a vsock or XDP socket,
 * an established TCP connection without --tcp-established, a userfaultfd, a foreign net namespace, a memfd, a semaphore eventfd), or nothing ("none").
 *
 * It writes "ready" to the file "state" and waits for SIGUSR2; then it
 * checks that everything is still as it left it (pipe and fifo contents,
 * eventfd counter, positions), writes "OK" or "FAIL: why" to "state",
 * and kills its process group.
 */
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define FIFO_BYTES	50
#define EFD_COUNT	7
#define SMALL_SIZE	100
#define SMALL_POS	10
#define SPARSE_SIZE	100000
#define SPARSE_RUN2	65536
#define PIPE_SIZE	(1 << 20)
#define SIGIO_SIG	SIGUSR1

static char buf[PIPE_SIZE];
static char stack[65536];

static void put_state(const char *s)
{
	int fd = open("state.tmp", O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, s, strlen(s)) < 0 || close(fd) || rename("state.tmp", "state"))
		_exit(3);
}

static void __attribute__((noreturn)) die(const char *what)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "FAIL: setup: %s: %m\n", what);
	put_state(msg);
	_exit(2);
}

/* Open something that must land on fd @want. */
static void expect_fd(int fd, int want, const char *what)
{
	if (fd != want)
		die(what);
}

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 7 + i / 4096);
}

static int sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return 0;
}

static void open_all(void)
{
	int sync[2];
	char c;
	int p[2];
	size_t i;

	if (mkfifo("fifo-rw", 0600) || mkfifo("fifo-ro", 0640) || mkfifo("fifo-gone", 0600))
		die("mkfifo");
	expect_fd(open("fifo-rw", O_RDWR), 3, "fifo-rw");
	memset(buf, 'f', FIFO_BYTES);
	if (write(3, buf, FIFO_BYTES) != FIFO_BYTES)
		die("write fifo");
	expect_fd(open("fifo-ro", O_RDONLY | O_NONBLOCK), 4, "fifo-ro");
	expect_fd(eventfd(EFD_COUNT, EFD_CLOEXEC | EFD_NONBLOCK), 5, "eventfd");
	expect_fd(dup2(5, 6), 6, "dup2");

	expect_fd(open("small", O_RDWR | O_CREAT | O_TRUNC, 0640), 7, "small");
	memset(buf, 's', SMALL_SIZE);
	if (write(7, buf, SMALL_SIZE) != SMALL_SIZE || lseek(7, SMALL_POS, SEEK_SET) != SMALL_POS)
		die("write small");
	expect_fd(open("sparse", O_RDWR | O_CREAT | O_TRUNC, 0600), 8, "sparse");
	memset(buf, 'a', 4096);
	if (pwrite(8, buf, 4096, 0) != 4096 || pwrite(8, buf, 4096, SPARSE_RUN2) != 4096 ||
	    ftruncate(8, SPARSE_SIZE))
		die("write sparse");
	expect_fd(open("small", O_RDONLY), 9, "small again");
	if (symlink("small", "lnk"))
		die("symlink");
	if (unlink("small") || unlink("sparse"))
		die("unlink");
	expect_fd(open(".", O_RDONLY | O_DIRECTORY), 10, "directory");
	expect_fd(open("lnk", O_PATH | O_NOFOLLOW), 11, "symlink");

	expect_fd(open("owned", O_RDWR | O_CREAT | O_TRUNC, 0600), 12, "owned");
	if (fcntl(12, F_SETOWN, getpid()) || fcntl(12, F_SETSIG, SIGIO_SIG))
		die("F_SETOWN");

	if (pipe(p) || p[0] != 13 || p[1] != 14)
		die("pipe");
	if (fcntl(13, F_SETPIPE_SZ, PIPE_SIZE) != PIPE_SIZE)
		die("F_SETPIPE_SZ");
	for (i = 0; i < PIPE_SIZE; i++)
		buf[i] = pattern(i);
	if (write(14, buf, PIPE_SIZE) != PIPE_SIZE)
		die("fill pipe");

	expect_fd(open("/dev/kmsg", O_WRONLY), 15, "/dev/kmsg");
	expect_fd(open("fifo-gone", O_RDWR), 16, "fifo-gone");
	if (write(16, "gh", 2) != 2 || unlink("fifo-gone"))
		die("fifo-gone");

	if (clone(sleeper, stack + sizeof(stack), CLONE_FILES | SIGCHLD, NULL) < 0)
		die("clone");
	/* "ready" must wait until the child has closed its fd 15: a pipe says when. */
	if (pipe(sync))
		die("sync pipe");
	switch (fork()) {
	case -1:
		die("fork");
	case 0:
		close(15);
		close(sync[0]);
		if (write(sync[1], "c", 1) != 1)
			die("sync write");
		close(sync[1]);
		sleeper(NULL);
	}
	close(sync[1]);
	if (read(sync[0], &c, 1) != 1)
		die("sync read");
	close(sync[0]);
}

/* A net namespace that is not ours, held by nothing but the fd returned. */
static int foreign_netns(void)
{
	char path[64], c;
	int p[2], fd;
	pid_t pid;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid == 0) {
		if (unshare(CLONE_NEWNET) == 0)
			(void)!write(p[1], "x", 1);
		pause();
		_exit(0);
	}
	close(p[1]);
	fd = -1;
	if (pid > 0 && read(p[0], &c, 1) == 1) {
		snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
		fd = open(path, O_RDONLY);
	}
	close(p[0]);
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	/* The pipe took the low numbers: the caller wants fd 3. */
	if (fd > 3 && dup2(fd, 3) == 3) {
		close(fd);
		fd = 3;
	}
	return fd;
}

/* An established TCP connection over loopback: its accepting end as fd 3. */
/* A socket of a family no kind takes: vsock, else XDP (kernels differ in which they have). */
static int unknown_socket(void)
{
	int fd = socket(AF_VSOCK, SOCK_STREAM, 0);

	return fd >= 0 ? fd : socket(AF_XDP, SOCK_RAW, 0);
}

static int tcp_connection(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM, 0), s;

	if (l < 0 || c < 0 || bind(l, (struct sockaddr *)&a, len) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &len) || connect(c, (struct sockaddr *)&a, len))
		return -1;
	s = accept(l, NULL, NULL);
	/* The client end out of the way, the listener's number to the accepted one. */
	if (s < 0 || dup2(c, 100) != 100 || dup2(s, l) != l)
		return -1;
	close(c);
	close(s);
	return l;
}

static int open_one(const char *mode)
{
	int fd;

	if (!strcmp(mode, "socket"))
		fd = unknown_socket();
	else if (!strcmp(mode, "tcp"))
		fd = tcp_connection();
	else if (!strcmp(mode, "netns"))
		fd = foreign_netns();
	else if (!strcmp(mode, "uffd"))
		fd = syscall(SYS_userfaultfd, O_CLOEXEC);
	else if (!strcmp(mode, "memfd"))
		fd = memfd_create("kinds", 0);
	else if (!strcmp(mode, "semaphore"))
		fd = eventfd(1, EFD_SEMAPHORE);
	else if (!strcmp(mode, "none"))
		return 0;
	else
		return -1;
	if (fd != 3)
		die(mode);
	return 0;
}

/* Everything as it was left; NULL or what is wrong. */
static const char *check_all(void)
{
	uint64_t count = 0;
	int n = 0;
	size_t i, got = 0;
	ssize_t r;

	if (ioctl(13, FIONREAD, &n) || n != PIPE_SIZE)
		return "pipe lost data";
	while (got < PIPE_SIZE && (r = read(13, buf + got, PIPE_SIZE - got)) > 0)
		got += r;
	for (i = 0; i < PIPE_SIZE; i++)
		if ((uint8_t)buf[i] != pattern(i))
			return "pipe data changed";
	if (read(3, buf, sizeof(buf)) != FIFO_BYTES)
		return "fifo lost data";
	if (read(5, &count, sizeof(count)) != sizeof(count) || count != EFD_COUNT)
		return "eventfd counter changed";
	if (lseek(7, 0, SEEK_CUR) != SMALL_POS)
		return "position changed";
	return NULL;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "all", *bad = NULL;
	char msg[128];
	sigset_t set;
	int sig;

	if (!strcmp(mode, "pattern")) {
		/* What the pipe holds, for the test to compare pipes-data.img with. */
		for (size_t i = 0; i < PIPE_SIZE; i++)
			buf[i] = pattern(i);
		return write(1, buf, PIPE_SIZE) == PIPE_SIZE ? 0 : 1;
	}
	close_range(3, ~0U, 0);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (!strcmp(mode, "all"))
		open_all();
	else if (open_one(mode))
		die("unknown mode");
	put_state("ready\n");

	while (sigwait(&set, &sig))
		;
	if (!strcmp(mode, "all"))
		bad = check_all();
	if (bad)
		snprintf(msg, sizeof(msg), "FAIL: %s\n", bad);
	put_state(bad ? msg : "OK\n");
	kill(0, SIGKILL);
	return 0;
}
