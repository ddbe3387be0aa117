/*
 * user_ns.c - a task in a user namespace of its own (uid and gid 0..65535
 * mapped onto 100000..165535 here), with UTS and IPC namespaces made from
 * inside it, and a child that changed its ids and capabilities there.
 * The restore (with the runner's --pidns) must make the user namespace
 * first and the others owned by it.
 *
 * Sets up, before READY:
 *   before the user namespace: file /tmp/stasis-user_ns.PID.owned (owner
 *     100005:100006 here, 5:6 inside; removed at the end) and file
 *     ...PID.ghost (100007:100008, unlinked, kept open);
 *   then unshare(CLONE_NEWUSER), the maps written by a helper child that
 *     stays outside, and ids 0 taken inside;
 *   unshare(CLONE_NEWUTS | CLONE_NEWIPC): host name "stasis-userns",
 *     kernel/msgmax 23456 (an ipc sysctl only the namespace's root may
 *     write), a SysV shm owned by 9:10;
 *   a memfd owned by 11:12;
 *   child C: groups 20 21, gids 30 31 32, uids 1000 1001 1002,
 *     CAP_KILL effective, CAP_KILL and CAP_NET_BIND_SERVICE permitted,
 *     CAP_NET_BIND_SERVICE inheritable and ambient, CAP_SYS_ADMIN out of
 *     its bounding set.
 *
 * Checks after SIGTERM: the maps; the root's ids 0 and full capabilities
 * inside; the owners of the files, the ghost, the memfd and the shm as the
 * namespace sees them; the host name and msgmax; C's ids, groups and
 * capabilities (C checks its own and answers on a pipe).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stasis_test.h"

#define MAP		"0 100000 65536\n"
#define HOST(id)	(100000 + (id))

struct caps {
	uint64_t eff, prm, inh;
};

static int ofd = -1, gfd = -1, mfd = -1, shm = -1;
static struct caps root_caps;

static int get_caps(struct caps *c)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -1;
	c->eff = d[0].effective | (uint64_t)d[1].effective << 32;
	c->prm = d[0].permitted | (uint64_t)d[1].permitted << 32;
	c->inh = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
	return 0;
}

static int set_caps(const struct caps *c)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = {
		{ (uint32_t)c->eff, (uint32_t)c->prm, (uint32_t)c->inh },
		{ (uint32_t)(c->eff >> 32), (uint32_t)(c->prm >> 32), (uint32_t)(c->inh >> 32) },
	};

	return syscall(SYS_capset, &h, d);
}

static char owned[64];

static int make_files(void)
{
	char ghost[64];

	snprintf(owned, sizeof(owned), "/tmp/stasis-user_ns.%d.owned", getpid());
	snprintf(ghost, sizeof(ghost), "/tmp/stasis-user_ns.%d.ghost", getpid());
	ofd = open(owned, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	gfd = open(ghost, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (ofd < 0 || gfd < 0 || fchown(ofd, HOST(5), HOST(6)) || fchown(gfd, HOST(7), HOST(8)) ||
	    write(gfd, "boo", 3) != 3 || unlink(ghost))
		return -1;
	return 0;
}


static int make_ns_objects(void)
{
	struct shmid_ds ds;

	if (unshare(CLONE_NEWUTS | CLONE_NEWIPC) || sethostname("stasis-userns", 13) ||
	    test_write_file("/proc/sys/kernel/msgmax", "23456"))
		return -1;
	shm = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	if (shm < 0 || shmctl(shm, IPC_STAT, &ds))
		return -1;
	ds.shm_perm.uid = 9;
	ds.shm_perm.gid = 10;
	if (shmctl(shm, IPC_SET, &ds))
		return -1;
	mfd = memfd_create("owned", MFD_CLOEXEC);
	return mfd < 0 || fchown(mfd, 11, 12) ? -1 : 0;
}

#define BIT(c)	(1ULL << (c))

/* C: its ids and capabilities as the header says. */
static int child_setup(void)
{
	static const gid_t groups[] = { 20, 21 };
	struct caps c = { BIT(CAP_KILL), BIT(CAP_KILL) | BIT(CAP_NET_BIND_SERVICE),
			  BIT(CAP_NET_BIND_SERVICE) };

	if (prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN) || setgroups(2, groups) ||
	    setresgid(30, 31, 32) || prctl(PR_SET_KEEPCAPS, 1) || setresuid(1000, 1001, 1002) ||
	    set_caps(&c) ||
	    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0))
		return -1;
	return 0;
}

/* C after the restore: 0 if all is as set, else a message on stderr. */
static int child_check(void)
{
	uid_t r, e, s;
	gid_t rg, eg, sg, groups[8];
	struct caps c;
	int n = getgroups(8, groups);

	if (getresuid(&r, &e, &s) || r != 1000 || e != 1001 || s != 1002)
		return 1;
	if (getresgid(&rg, &eg, &sg) || rg != 30 || eg != 31 || sg != 32)
		return 2;
	if (n != 2 || groups[0] != 20 || groups[1] != 21)
		return 3;
	if (get_caps(&c) || c.eff != BIT(CAP_KILL) ||
	    c.prm != (BIT(CAP_KILL) | BIT(CAP_NET_BIND_SERVICE)) || c.inh != BIT(CAP_NET_BIND_SERVICE))
		return 4;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_BIND_SERVICE, 0, 0) != 1 ||
	    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_KILL, 0, 0) != 0)
		return 5;
	if (prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN) != 0 || prctl(PR_CAPBSET_READ, CAP_KILL) != 1)
		return 6;
	return 0;
}

static pid_t start_child(int go[2], int back[2])
{
	pid_t pid;
	char c;

	if (pipe(go) || pipe(back))
		return -1;
	pid = fork();
	if (pid != 0)
		return pid;
	c = child_setup() ? 'E' : 'R';
	if (write(back[1], &c, 1) != 1)
		_exit(1);
	while (read(go[0], &c, 1) < 0 && errno == EINTR)
		;
	c = '0' + child_check();
	_exit(write(back[1], &c, 1) == 1 ? 0 : 1);
}

static void check_owner(const char *what, int fd, uid_t uid, gid_t gid)
{
	struct stat st;

	if (fstat(fd, &st))
		fail("%s: fstat: %m", what);
	else if (st.st_uid != uid || st.st_gid != gid)
		fail("%s: owned by %u:%u, not %u:%u", what, st.st_uid, st.st_gid, uid, gid);
}

static void check_map(const char *name)
{
	char path[64], buf[128] = "";
	unsigned int a, b, n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/%s", name);
	f = fopen(path, "re");
	if (!f || !fgets(buf, sizeof(buf), f) || sscanf(buf, "%u %u %u", &a, &b, &n) != 3 ||
	    a != 0 || b != 100000 || n != 65536)
		fail("%s: \"%s\"", name, buf);
	if (f && fgets(buf, sizeof(buf), f))
		fail("%s: more than one extent: \"%s\"", name, buf);
	if (f)
		fclose(f);
}

static void check_root(void)
{
	uid_t r, e, s;
	struct shmid_ds ds;
	struct utsname u;
	struct caps c;
	char buf[32] = "";
	int fd;

	check_map("uid_map");
	check_map("gid_map");
	if (getresuid(&r, &e, &s) || r || e || s)
		fail("root: uids %u %u %u, not 0", r, e, s);
	if (get_caps(&c) || c.eff != root_caps.eff || c.prm != root_caps.prm)
		fail("root: capabilities %#llx/%#llx, were %#llx/%#llx",
		     (unsigned long long)c.eff, (unsigned long long)c.prm,
		     (unsigned long long)root_caps.eff, (unsigned long long)root_caps.prm);
	check_owner("owned", ofd, 5, 6);
	check_owner("ghost", gfd, 7, 8);
	check_owner("memfd", mfd, 11, 12);
	if (shmctl(shm, IPC_STAT, &ds))
		fail("shm %d: %m", shm);
	else if (ds.shm_perm.uid != 9 || ds.shm_perm.gid != 10)
		fail("shm: owned by %u:%u, not 9:10", ds.shm_perm.uid, ds.shm_perm.gid);
	if (uname(&u) || strcmp(u.nodename, "stasis-userns"))
		fail("host name \"%s\"", u.nodename);
	fd = open("/proc/sys/kernel/msgmax", O_RDONLY);
	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0 || atoi(buf) != 23456)
		fail("msgmax \"%s\"", buf);
	if (fd >= 0)
		close(fd);
}

int main(int argc, char **argv)
{
	int go[2], back[2], status;
	pid_t child;
	char c = 0;

	test_init(argc, argv);
	if (make_files()) {
		fail("files: %m");
		return test_result();
	}
	if (test_enter_userns(MAP)) {
		unlink(owned);
		skip("no user namespace here: %m");
		return test_result();
	}
	if (make_ns_objects() || get_caps(&root_caps)) {
		fail("setup inside the user namespace: %m");
		return test_result();
	}
	child = start_child(go, back);
	if (child < 0 || read(back[0], &c, 1) != 1 || c != 'R') {
		fail("child: setup failed (%c)", c);
		return test_result();
	}
	test_ready();
	test_waitsig();
	check_root();
	if (write(go[1], "g", 1) != 1 || read(back[0], &c, 1) != 1 || c != '0')
		fail("child: check %c failed (1 uids, 2 gids, 3 groups, 4 caps, 5 ambient, 6 bounding)",
		     c);
	if (waitpid(child, &status, 0) != child || status)
		fail("child: ended with status %#x", status);
	/* As root of the namespace, which maps its owner: /tmp lets it. */
	if (unlink(owned))
		fail("cannot remove %s: %m", owned);
	pass();
	return test_result();
}
