/*
 * container.c - a tree as a container runtime makes it, for
 * tests/restore/container.sh, which starts it as init (pid 1) of a pid
 * namespace of its own:
 *
 *   container DIR
 *
 * Before READY it makes its own mount, net, ipc and uts namespaces and:
 *   mounts: the host's detached but / and /dev; a proc of its pid
 *     namespace on /proc; a tmpfs "stasis-box" on DIR holding f "hello
 *     container" (open at offset 6) and sub/g "inside";
 *   uts: host name stasis-box, domain name stasis-dom;
 *   ipc: a SysV shm segment of 64 KiB holding a pattern, attached in the
 *     root and (inherited) in its child, and a message queue holding two
 *     messages;
 *   net: lo up; then the script adds a veth stxc0 (10.241.0.2/24, up)
 *     whose peer stxh0 it keeps in the host's namespace (the kernel finds
 *     a pid given for a namespace in the caller's pid namespace: the
 *     host's pids mean nothing in here);
 *   a child that waits.
 *
 * Checks after SIGTERM: pid 1 with its child (same pid, parent 1) there,
 * /proc is its pid namespace's, each namespace is still not the host's,
 * and all of the state above.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stasis_test.h"

#define SHM_SIZE	(64 << 10)
#define NS_FLAGS	(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)

static const char *const ns_names[] = { "mnt", "net", "ipc", "uts" };
#define NR_NS		(sizeof(ns_names) / sizeof(ns_names[0]))

struct msg {
	long type;
	char text[16];
};

static const char *dir;
static ino_t host_ns[NR_NS];
static int shm_id, msg_id, file_fd;
static unsigned char *shm;	/* the root's attachment, its child's too */
static pid_t child;

static ino_t ns_ino(const char *name)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/self/ns/%s", name);
	return stat(path, &st) ? 0 : st.st_ino;
}

static bool sh(const char *cmd)
{
	return system(cmd) == 0;
}

static int put(const char *rel, const char *data)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	close(open(path, O_WRONLY | O_CREAT | O_EXCL, 0644));
	return test_write_file(path, data);
}

static int setup_mounts(void)
{
	char path[PATH_MAX];

	test_detach_mounts();
	if (umount2("/proc", MNT_DETACH) || mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV |
						 MS_NOEXEC, NULL))
		return fail("cannot mount the pid namespace's proc: %m"), -1;
	if (mount("stasis-box", dir, "tmpfs", 0, "size=1m,mode=755"))
		return fail("cannot mount a tmpfs on %s: %m", dir), -1;
	snprintf(path, sizeof(path), "%s/sub", dir);
	if (mkdir(path, 0755) || put("f", "hello container") || put("sub/g", "inside"))
		return fail("cannot fill the tmpfs: %m"), -1;
	snprintf(path, sizeof(path), "%s/f", dir);
	file_fd = open(path, O_RDWR);
	if (file_fd < 0 || lseek(file_fd, 6, SEEK_SET) != 6)
		return fail("cannot open %s: %m", path), -1;
	return 0;
}

static int setup_ipc(void)
{
	struct msg m1 = { 1, "first" }, m2 = { 7, "second" };
	shm_id = shmget(IPC_PRIVATE, SHM_SIZE, 0600 | IPC_CREAT);
	shm = shm_id < 0 ? (void *)-1 : shmat(shm_id, NULL, 0);
	if (shm == (void *)-1)
		return fail("shm: %m"), -1;
	for (int i = 0; i < SHM_SIZE; i++)
		shm[i] = (unsigned char)(i * 7 + 3);
	msg_id = msgget(IPC_PRIVATE, 0600 | IPC_CREAT);
	if (msg_id < 0 || msgsnd(msg_id, &m1, sizeof(m1.text), 0) ||
	    msgsnd(msg_id, &m2, sizeof(m2.text), 0))
		return fail("msg: %m"), -1;
	return 0;
}

static int setup(void)
{
	if (getpid() != 1)
		return fail("not init of a pid namespace (pid %d)", getpid()), -1;
	/* As a runtime's init: a session inside the pid namespace. */
	if (setsid() < 0)
		return fail("setsid: %m"), -1;
	for (size_t i = 0; i < NR_NS; i++)
		host_ns[i] = ns_ino(ns_names[i]);
	if (unshare(NS_FLAGS))
		return fail("unshare: %m"), -1;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return fail("cannot make the mounts private: %m"), -1;
	if (!sh("ip link set lo up"))
		return fail("cannot set lo up"), -1;
	if (setup_mounts() || setup_ipc())
		return -1;
	if (sethostname("stasis-box", 10) || setdomainname("stasis-dom", 10))
		return fail("cannot name the host: %m"), -1;
	child = fork();
	if (child < 0)
		return fail("fork: %m"), -1;
	if (!child)
		for (;;)
			pause();
	return 0;
}

static void check_file(const char *rel, const char *want)
{
	char path[PATH_MAX], buf[64];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if (test_read_line(path, buf, sizeof(buf)) || strcmp(buf, want))
		fail("%s holds \"%s\", not \"%s\"", path, buf, want);
}

static void check_tree(void)
{
	char self[16] = "", state;
	pid_t ppid;

	if (getpid() != 1)
		fail("pid %d, not 1", getpid());
	if (test_proc_stat(child, &state, &ppid) || ppid != 1)
		fail("the child %d is not there as a child of pid 1", child);
	if (readlink("/proc/self", self, sizeof(self) - 1) < 0 || strcmp(self, "1"))
		fail("/proc is not the pid namespace's: /proc/self is \"%s\"", self);
	for (size_t i = 0; i < NR_NS; i++)
		if (ns_ino(ns_names[i]) == host_ns[i])
			fail("the %s namespace is the host's", ns_names[i]);
}

static void check_ipc(void)
{
	struct shmid_ds ds;
	struct msg m;
	unsigned char *p;
	int bad = 0;

	if (shmctl(shm_id, IPC_STAT, &ds) || ds.shm_nattch != 2 || ds.shm_segsz != SHM_SIZE)
		fail("shm %d: attached %lu times, not in the root and its child",
		     shm_id, (unsigned long)ds.shm_nattch);
	p = shmat(shm_id, NULL, SHM_RDONLY);
	if (p == (void *)-1) {
		fail("shm %d: %m", shm_id);
	} else {
		for (int i = 0; i < SHM_SIZE; i++)
			bad += p[i] != (unsigned char)(i * 7 + 3) || shm[i] != p[i];
		if (bad)
			fail("shm %d: %d bytes differ", shm_id, bad);
		/* The root's attachment is the segment itself, not a copy. */
		shm[100] ^= 0xff;
		if (p[100] != (unsigned char)(shm[100]))
			fail("the root's attachment at %p is not segment %d", (void *)shm, shm_id);
		shmdt(p);
	}
	if (msgrcv(msg_id, &m, sizeof(m.text), 0, IPC_NOWAIT) < 0 || m.type != 1 ||
	    strcmp(m.text, "first") ||
	    msgrcv(msg_id, &m, sizeof(m.text), 0, IPC_NOWAIT) < 0 || m.type != 7 ||
	    strcmp(m.text, "second"))
		fail("the message queue lost its messages: %m");
}

static void check(void)
{
	char buf[16] = "", host[32] = "", domain[32] = "";

	check_tree();
	if (gethostname(host, sizeof(host)) || strcmp(host, "stasis-box") ||
	    getdomainname(domain, sizeof(domain)) || strcmp(domain, "stasis-dom"))
		fail("names \"%s\" \"%s\", not stasis-box stasis-dom", host, domain);
	check_file("f", "hello container");
	check_file("sub/g", "inside");
	if (read(file_fd, buf, 9) != 9 || strcmp(buf, "container"))
		fail("the open file is not at offset 6: \"%s\"", buf);
	if (!sh("grep -q ' /proc .* - proc ' /proc/self/mountinfo"))
		fail("no proc on /proc");
	if (!sh("ip -o addr show dev stxc0 | grep -q 'inet 10.241.0.2/24'") ||
	    !sh("ip -o link show dev stxc0 | grep -q 'state UP\\|,UP'"))
		fail("stxc0 is not up with 10.241.0.2/24");
	check_ipc();
}

int main(int argc, char **argv)
{
	test_init(argc, argv);
	if (argc < 2) {
		fail("usage: container DIR");
		return test_result();
	}
	dir = argv[1];
	if (setup())
		return test_result();
	test_ready();
	test_waitsig();
	check();
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	pass();
	return test_result();
}
