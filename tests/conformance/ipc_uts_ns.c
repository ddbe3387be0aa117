/*
 * ipc_uts_ns.c - a task in UTS and IPC namespaces of its own, with SysV
 * objects in the IPC one.
 *
 * Sets up, before READY (after unshare(CLONE_NEWUTS | CLONE_NEWIPC)):
 *   host name "stasis-ns-test", domain name "stasis.example";
 *   sysctls kernel/sem "250 32000 32 128", msgmax 12345, msgmnb 20000,
 *     shmmax near 2^64 (above 2^63), shmall 1000000;
 *   shm A: id 5 (through shm_next_id), IPC_PRIVATE, 3 pages + 100 bytes,
 *     mode 0640, pages 0 and 2 and the tail filled, page 1 left zero;
 *   shm B: key 0x1234, 1 page, owner 1000:1001, mode 0600, one byte set;
 *   sem: key 0x5678, 5 semaphores valued 1..5, mode 0600;
 *   msg: id 4242, IPC_PRIVATE, qbytes 8000, messages (type 1, 10 bytes),
 *     (type 2, 0 bytes), (type 7, 3000 bytes);
 *   shm_next_id left at 777, unused.
 *
 * Checks after SIGTERM: every one of those as it was, and both namespaces
 * still other than those it started in (the restore made new ones).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "stasis_test.h"

#define PG		4096
#define A_SIZE		(3 * PG + 100)
#define A_ID		5
#define MSG_ID		4242
#define KEY_B		0x1234
#define KEY_SEM		0x5678

static int set_sysctl(const char *name, const char *val)
{
	char path[96];

	snprintf(path, sizeof(path), "/proc/sys/kernel/%s", name);
	return test_write_file(path, val);
}

static void check_sysctl(const char *name, const char *want)
{
	char path[96], buf[128] = "";
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/kernel/%s", name);
	fd = open(path, O_RDONLY);
	n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	if (n < 0) {
		fail("read %s: %m", path);
		return;
	}
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	for (char *p = buf; *p; p++)
		if (*p == '\t')
			*p = ' ';
	if (strcmp(buf, want))
		fail("%s is \"%s\", want \"%s\"", name, buf, want);
}

static unsigned char a_byte(size_t off)
{
	if (off >= PG && off < 2 * PG)
		return 0;
	return (unsigned char)(off * 7 + 3) | 1;
}

static const struct {
	long type;
	size_t len;
} msgs[] = { { 1, 10 }, { 2, 0 }, { 7, 3000 } };

struct mbuf {
	long mtype;
	char mtext[4096];
};

static int setup_msg(void)
{
	struct msqid_ds ds;
	struct mbuf m;
	int id;

	if (set_sysctl("msg_next_id", "4242"))
		return -1;
	id = msgget(IPC_PRIVATE, 0600 | IPC_CREAT);
	if (id != MSG_ID || msgctl(id, IPC_STAT, &ds))
		return -1;
	ds.msg_qbytes = 8000;
	if (msgctl(id, IPC_SET, &ds))
		return -1;
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		m.mtype = msgs[i].type;
		for (size_t j = 0; j < msgs[i].len; j++)
			m.mtext[j] = (char)(i * 31 + j);
		if (msgsnd(id, &m, msgs[i].len, IPC_NOWAIT))
			return -1;
	}
	return 0;
}

static int setup_ipc(void)
{
	unsigned short vals[5] = { 1, 2, 3, 4, 5 };
	struct shmid_ds ds;
	unsigned char *p;
	int a, b, s;

	if (set_sysctl("sem", "250 32000 32 128") || set_sysctl("msgmax", "12345") ||
	    set_sysctl("msgmnb", "20000") || set_sysctl("shmmax", "18446744073692774000") ||
	    set_sysctl("shmall", "1000000") ||
	    set_sysctl("shm_next_id", "5"))
		return -1;
	a = shmget(IPC_PRIVATE, A_SIZE, 0640 | IPC_CREAT);
	if (a != A_ID || (p = shmat(a, NULL, 0)) == (void *)-1)
		return -1;
	for (size_t i = 0; i < A_SIZE; i++)
		if (a_byte(i))
			p[i] = a_byte(i);
	shmdt(p);
	b = shmget(KEY_B, PG, 0600 | IPC_CREAT);
	if (b < 0 || (p = shmat(b, NULL, 0)) == (void *)-1 || shmctl(b, IPC_STAT, &ds))
		return -1;
	p[100] = 0x5a;
	shmdt(p);
	ds.shm_perm.uid = 1000;
	ds.shm_perm.gid = 1001;
	if (shmctl(b, IPC_SET, &ds))
		return -1;
	s = semget(KEY_SEM, 5, 0600 | IPC_CREAT);
	if (s < 0 || semctl(s, 0, SETALL, vals))
		return -1;
	return setup_msg() ?: set_sysctl("shm_next_id", "777");
}

static void check_shm(void)
{
	struct shmid_ds ds;
	unsigned char *p;
	int b;

	if (shmctl(A_ID, IPC_STAT, &ds)) {
		fail("shm %d: %m", A_ID);
	} else {
		if (ds.shm_segsz != A_SIZE || (ds.shm_perm.mode & 0777) != 0640)
			fail("shm %d: size %zu mode %o", A_ID, ds.shm_segsz, ds.shm_perm.mode);
		p = shmat(A_ID, NULL, SHM_RDONLY);
		if (p == (void *)-1) {
			fail("shmat %d: %m", A_ID);
		} else {
			for (size_t i = 0; i < A_SIZE; i++)
				if (p[i] != a_byte(i)) {
					fail("shm %d: byte %zu is %#x, want %#x", A_ID, i, p[i],
					     a_byte(i));
					break;
				}
			shmdt(p);
		}
	}
	b = shmget(KEY_B, 0, 0);
	if (b < 0 || shmctl(b, IPC_STAT, &ds)) {
		fail("shm key %#x: %m", KEY_B);
		return;
	}
	if (ds.shm_segsz != PG || (ds.shm_perm.mode & 0777) != 0600 || ds.shm_perm.uid != 1000 ||
	    ds.shm_perm.gid != 1001)
		fail("shm key %#x: size %zu mode %o owner %u:%u", KEY_B, ds.shm_segsz,
		     ds.shm_perm.mode, ds.shm_perm.uid, ds.shm_perm.gid);
	p = shmat(b, NULL, SHM_RDONLY);
	if (p == (void *)-1 || p[100] != 0x5a || p[99] || p[101])
		fail("shm key %#x: contents", KEY_B);
	if (p != (void *)-1)
		shmdt(p);
}

static void check_sem_msg(void)
{
	unsigned short vals[5] = { 0 };
	struct msqid_ds ds;
	struct mbuf m;
	int s;

	s = semget(KEY_SEM, 0, 0);
	if (s < 0 || semctl(s, 0, GETALL, vals))
		fail("sem key %#x: %m", KEY_SEM);
	for (int i = 0; i < 5; i++)
		if (vals[i] != i + 1)
			fail("sem %d: value %u, want %d", i, vals[i], i + 1);
	if (msgctl(MSG_ID, IPC_STAT, &ds)) {
		fail("msg %d: %m", MSG_ID);
		return;
	}
	if (ds.msg_qnum != 3 || ds.msg_qbytes != 8000)
		fail("msg %d: %lu messages, qbytes %lu", MSG_ID, (unsigned long)ds.msg_qnum,
		     (unsigned long)ds.msg_qbytes);
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		ssize_t n = msgrcv(MSG_ID, &m, sizeof(m.mtext), 0, IPC_NOWAIT);

		if (n != (ssize_t)msgs[i].len || m.mtype != msgs[i].type) {
			fail("message %zu: %zd bytes of type %ld", i, n, m.mtype);
			continue;
		}
		for (size_t j = 0; j < msgs[i].len; j++)
			if (m.mtext[j] != (char)(i * 31 + j)) {
				fail("message %zu: byte %zu", i, j);
				break;
			}
	}
}

/* The inodes of the namespaces the test started in: stasis's. */
static ino_t host_ns[2];
static const char *const ns_names[2] = { "uts", "ipc" };

static ino_t ns_ino(const char *name)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/self/ns/%s", name);
	return stat(path, &st) ? 0 : st.st_ino;
}

static void check_ns(void)
{
	for (int i = 0; i < 2; i++)
		if (!host_ns[i] || ns_ino(ns_names[i]) == host_ns[i])
			fail("the %s namespace is the one the test started in", ns_names[i]);
}

static void check(void)
{
	struct utsname u;

	check_ns();
	if (uname(&u) || strcmp(u.nodename, "stasis-ns-test") ||
	    strcmp(u.domainname, "stasis.example"))
		fail("names \"%s\" \"%s\"", u.nodename, u.domainname);
	check_sysctl("sem", "250 32000 32 128");
	check_sysctl("msgmax", "12345");
	check_sysctl("msgmnb", "20000");
	check_sysctl("shmmax", "18446744073692774000");
	check_sysctl("shmall", "1000000");
	check_sysctl("shm_next_id", "777");
	check_sysctl("msg_next_id", "-1");
	check_shm();
	check_sem_msg();
}

int main(int argc, char **argv)
{
	test_init(argc, argv);
	for (int i = 0; i < 2; i++)
		host_ns[i] = ns_ino(ns_names[i]);
	if (unshare(CLONE_NEWUTS | CLONE_NEWIPC)) {
		skip("unshare(CLONE_NEWUTS | CLONE_NEWIPC): %m");
		return test_result();
	}
	if (sethostname("stasis-ns-test", 14) || setdomainname("stasis.example", 14) ||
	    setup_ipc()) {
		fail("setup: %m");
		return test_result();
	}
	test_ready();
	test_waitsig();
	check();
	pass();
	return test_result();
}
