/*
 * user_ns2.c - what a tree in a user namespace of its own keeps in the net
 * and mount namespaces made from inside it: things the kernel refuses
 * root of the host, or lets it do only from inside (ZDTM's uns flavor).
 *
 * Sets up, before READY: a mount namespace of its own with every mount but
 * /, /proc and /dev detached; ids 0 of a user namespace (uid and gid
 * 0..65535 on 100000..165535 here); then from inside it net and mount
 * namespaces, and under B = /tmp/stasis-user_ns2.PID a tmpfs holding:
 *   ping: lo up, net.ipv4.ping_group_range "0 0" (gid 0 inside alone), a
 *     ping socket (the kernel makes one only for a gid in that range);
 *   link: B/sub/f open, linked as B/f2, then B/sub/f and B/sub removed (the
 *     dump names the inode again: only the owner's ids may, on this tmpfs);
 *   B/ov: a tmpfs holding y "under", covered by another holding z "over";
 *   B/unb: an unbindable tmpfs holding u "unb";
 *   scm: a datagram pair bound to abstract names, each end sent over
 *     itself and over the other (in flight in its own queue);
 *   B/pts: a devpts of its own; its pty's slave bound on B/console, only
 *     the master held.
 *
 * Checks after SIGTERM: the range, and an echo answered on the ping
 * socket; the linked file's content, its one link B/f2, no other name
 * left in B; z, then y once B/ov's top is taken off; u, and B/unb still
 * unbindable; the sockets come out of the queues in order, each the one
 * whose name it had; B/console the pty's slave, and what is written there
 * read on the master.
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stasis_test.h"

#define MAP	"0 100000 65536\n"

static char base[64];
static int ping = -1, linked = -1, master = -1, ska[2] = { -1, -1 };
static int pty_index = -1;

static void at(char *out, const char *rel)
{
	snprintf(out, PATH_MAX, "%s%s%s", base, *rel ? "/" : "", rel);
}

static int put(const char *rel, const char *data)
{
	char path[PATH_MAX];
	int fd, ret;

	at(path, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	ret = write(fd, data, strlen(data)) == (ssize_t)strlen(data) ? 0 : -1;
	close(fd);
	return ret;
}

static int do_mount(const char *src, const char *rel, const char *type, unsigned long flags,
		    const char *opts)
{
	char path[PATH_MAX];

	at(path, rel);
	if (mount(src, path, type, flags, opts)) {
		fail("mount %s on %s: %m", src ? src : "(none)", path);
		return -1;
	}
	return 0;
}


static int lo_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = -1;

	if (s >= 0 && !ioctl(s, SIOCGIFFLAGS, &ifr)) {
		ifr.ifr_flags |= IFF_UP;
		ret = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	if (s >= 0)
		close(s);
	return ret;
}

static int make_ping(void)
{
	if (lo_up() || test_write_file("/proc/sys/net/ipv4/ping_group_range", "0 0"))
		return -1;
	ping = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_ICMP);
	return ping < 0 ? -1 : 0;
}

static int make_linked(void)
{
	char f[PATH_MAX], f2[PATH_MAX], sub[PATH_MAX];

	at(sub, "sub");
	at(f, "sub/f");
	at(f2, "f2");
	if (mkdir(sub, 0755))
		return -1;
	linked = open(f, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (linked < 0 || write(linked, "linked", 6) != 6 || link(f, f2) || unlink(f) || rmdir(sub))
		return -1;
	return 0;
}

static int make_mounts(void)
{
	char path[PATH_MAX];

	at(path, "ov");
	if (mkdir(path, 0755))
		return -1;
	at(path, "unb");
	if (mkdir(path, 0755))
		return -1;
	if (do_mount("stasis-ov1", "ov", "tmpfs", 0, NULL) || put("ov/y", "under") ||
	    do_mount("stasis-ov2", "ov", "tmpfs", 0, NULL) || put("ov/z", "over") ||
	    do_mount("stasis-unb", "unb", "tmpfs", 0, NULL) || put("unb/u", "unb") ||
	    do_mount(NULL, "unb", NULL, MS_UNBINDABLE, NULL))
		return -1;
	return 0;
}

static int send_fd(int via, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 }, c = 0;
	struct iovec iov = { &c, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *ch = CMSG_FIRSTHDR(&mh);

	ch->cmsg_level = SOL_SOCKET;
	ch->cmsg_type = SCM_RIGHTS;
	ch->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(ch), &fd, sizeof(int));
	return sendmsg(via, &mh, 0) == 1 ? 0 : -1;
}

static int recv_fd(int via)
{
	char cbuf[CMSG_SPACE(sizeof(int))], c;
	struct iovec iov = { &c, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *ch;
	int fd = -1;

	if (recvmsg(via, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) != 1)
		return -1;
	ch = CMSG_FIRSTHDR(&mh);
	if (ch && ch->cmsg_type == SCM_RIGHTS && ch->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&fd, CMSG_DATA(ch), sizeof(int));
	return fd;
}

static socklen_t sk_name(struct sockaddr_un *sa, int i)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	return offsetof(struct sockaddr_un, sun_path) + 1 +
	       snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "stasis-un2-%d", i);
}

static int make_scm(void)
{
	struct sockaddr_un sa;

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, ska))
		return -1;
	for (int i = 0; i < 2; i++)
		if (bind(ska[i], (struct sockaddr *)&sa, sk_name(&sa, i)))
			return -1;
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 2; j++)
			if (send_fd(ska[i], ska[j]))
				return -1;
	return 0;
}

static int make_console(void)
{
	char path[PATH_MAX], pts[PATH_MAX], slave[PATH_MAX + 16];
	int unlock = 0, fd;

	at(path, "pts");
	if (mkdir(path, 0755) ||
	    do_mount("devpts", "pts", "devpts", 0, "newinstance,ptmxmode=0666,mode=0620"))
		return -1;
	at(pts, "pts/ptmx");
	master = open(pts, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock) || ioctl(master, TIOCGPTN, &pty_index))
		return -1;
	at(path, "console");
	fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	close(fd);
	at(pts, "pts");
	snprintf(slave, sizeof(slave), "%s/%d", pts, pty_index);
	return mount(slave, path, NULL, MS_BIND, NULL);
}

static int setup(void)
{
	char path[PATH_MAX];

	if (unshare(CLONE_NEWNET | CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		fail("net and mount namespaces from inside the user namespace: %m");
		return -1;
	}
	if (do_mount("stasis-un2", "", "tmpfs", 0, "mode=755"))
		return -1;
	if (make_ping()) {
		fail("a ping socket: %m");
		return -1;
	}
	if (make_linked() || make_mounts() || make_scm() || make_console()) {
		at(path, "");
		fail("setup under %s: %m", path);
		return -1;
	}
	return 0;
}

static void check_ping(void)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct icmphdr req = { .type = ICMP_ECHO, .un.echo.sequence = htons(7) }, *rep;
	struct pollfd pfd = { ping, POLLIN, 0 };
	char buf[256] = "", range[32] = "";
	int fd = open("/proc/sys/net/ipv4/ping_group_range", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0 || read(fd, range, sizeof(range) - 1) <= 0 || strcmp(range, "0\t0\n"))
		fail("ping_group_range \"%s\", not \"0 0\"", range);
	if (fd >= 0)
		close(fd);
	if (sendto(ping, &req, sizeof(req), 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
		fail("ping: sendto: %m");
		return;
	}
	if (poll(&pfd, 1, 5000) != 1) {
		fail("ping: no echo came back");
		return;
	}
	n = recv(ping, buf, sizeof(buf), 0);
	rep = (struct icmphdr *)buf;
	if (n < (ssize_t)sizeof(*rep) || rep->type != ICMP_ECHOREPLY ||
	    rep->un.echo.sequence != htons(7))
		fail("ping: a reply of %zd bytes, type %d", n, n > 0 ? rep->type : -1);
}

static void check_contents(const char *rel, const char *want)
{
	char path[PATH_MAX], buf[64] = "";
	int fd;

	at(path, rel);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) < 0 || strcmp(buf, want))
		fail("%s: \"%s\", not \"%s\" (%m)", path, buf, want);
	if (fd >= 0)
		close(fd);
}

static void check_linked(void)
{
	static const char *const names[] = { "f2", "ov", "unb", "pts", "console" };
	char path[PATH_MAX], buf[16] = "";
	struct stat a, b;
	struct dirent *de;
	DIR *d;

	at(path, "f2");
	if (pread(linked, buf, sizeof(buf) - 1, 0) != 6 || strcmp(buf, "linked"))
		fail("the linked file holds \"%s\"", buf);
	if (fstat(linked, &a) || stat(path, &b) || a.st_ino != b.st_ino || a.st_nlink != 1)
		fail("the linked file is not %s alone (%lu links)", path,
		     (unsigned long)a.st_nlink);
	at(path, "");
	d = opendir(path);
	while (d && (de = readdir(d))) {
		size_t i = 0;

		while (i < sizeof(names) / sizeof(names[0]) && strcmp(de->d_name, names[i]))
			i++;
		if (de->d_name[0] != '.' && i == sizeof(names) / sizeof(names[0]))
			fail("%s/%s is left", path, de->d_name);
	}
	if (d)
		closedir(d);
}

static void check_mounts(void)
{
	char path[PATH_MAX], line[1024], want[PATH_MAX + 8];
	bool unb = false;
	FILE *f;

	check_contents("ov/z", "over");
	check_contents("unb/u", "unb");
	at(path, "unb");
	snprintf(want, sizeof(want), " %s ", path);
	f = fopen("/proc/self/mountinfo", "re");
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, want) && strstr(line, " unbindable "))
			unb = true;
	if (f)
		fclose(f);
	if (!unb)
		fail("%s is no longer unbindable", path);
	at(path, "ov");
	if (umount2(path, 0))
		fail("cannot take the top tmpfs off %s: %m", path);
	else
		check_contents("ov/y", "under");
}

static void check_scm(void)
{
	struct sockaddr_un sa, want;
	int skc = ska[0];

	for (int i = 0; i < 3; i++) {
		socklen_t len = sizeof(sa), wlen = sk_name(&want, i % 2);

		skc = recv_fd(skc);
		if (skc < 0) {
			fail("scm: receive %d: %m", i);
			return;
		}
		if (getsockname(skc, (struct sockaddr *)&sa, &len) || len != wlen ||
		    memcmp(&sa, &want, len))
			fail("scm: socket %d came back as another than %d", i, i % 2);
	}
}

static void check_console(void)
{
	char path[PATH_MAX], buf[16] = "";
	struct stat con, pts;
	struct pollfd pfd = { master, POLLIN, 0 };
	int fd;

	at(path, "pts");
	if (stat(path, &pts)) {
		fail("%s: %m", path);
		return;
	}
	at(path, "console");
	if (stat(path, &con) || !S_ISCHR(con.st_mode) || con.st_dev != pts.st_dev ||
	    minor(con.st_rdev) != (unsigned int)pty_index) {
		fail("%s is not pty %d's slave", path, pty_index);
		return;
	}
	fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 || write(fd, "hi", 2) != 2) {
		fail("cannot write on %s: %m", path);
	} else if (poll(&pfd, 1, 5000) != 1 || read(master, buf, sizeof(buf) - 1) != 2 ||
		   strcmp(buf, "hi")) {
		fail("the master read \"%s\", not \"hi\"", buf);
	}
	if (fd >= 0)
		close(fd);
}

int main(int argc, char **argv)
{
	test_init(argc, argv);
	snprintf(base, sizeof(base), "/tmp/stasis-user_ns2.%d", getpid());
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		skip("a mount namespace of its own: %m");
		return test_result();
	}
	test_detach_mounts();
	/* A run killed on the way left it (empty: its tmpfs went with the namespace). */
	rmdir(base);
	/* Owned by root of the user namespace, which removes it at the end. */
	if (mkdir(base, 0755) || chown(base, 100000, 100000) || test_enter_userns(MAP)) {
		skip("no user namespace here: %m");
		rmdir(base);
		return test_result();
	}
	if (setup())
		return test_result();
	test_ready();
	test_waitsig();
	check_ping();
	check_linked();
	check_mounts();
	check_scm();
	check_console();
	/* Only the mount point is on the host: the rest goes with the namespaces. */
	if (chdir("/") || umount2(base, MNT_DETACH) || rmdir(base))
		test_msg("cannot remove %s: %s", base, strerror(errno));
	pass();
	return test_result();
}
