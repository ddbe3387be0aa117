/*
 * creds_umask.c - credentials, capabilities and the umask, all away from
 * their defaults.  Needs root; skips without it.
 *
 * Sets up, before READY, starting as root (the result file is already
 * open, so reports still get written afterwards):
 *   umask 027
 *   bounding set without CAP_SYS_BOOT and CAP_MKNOD
 *   supplementary groups 60000, 5, 1234, 100
 *   setresgid(1000, 1001, 1002)         (fsgid follows: 1001)
 *   PR_SET_KEEPCAPS 1                   (a secure bit)
 *   setresuid(2000, 2001, 0)            (fsuid 2001; saved uid 0 keeps
 *                                        the permitted set)
 *   capset: effective {CHOWN, KILL}, permitted as it was less
 *   CAP_SYS_MODULE, inheritable {NET_RAW, SYS_PTRACE}
 *   ambient {NET_RAW}
 * The process is now not dumpable (PR_GET_DUMPABLE follows suid_dumpable).
 *
 * Checks after SIGTERM, against what was recorded before READY:
 * getresuid(), getresgid(), fsuid, fsgid, getgroups(), the umask,
 * capget() (all three sets, both words), the bounding and ambient sets,
 * securebits, keepcaps, dumpable and no_new_privs, and the Uid, Gid,
 * Groups, Cap*, NoNewPrivs and Umask lines of /proc/self/status.  Then a
 * file created in /tmp with mode 0777 must get mode 0750, owner 2001 and
 * group 1001.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "stasis_test.h"

#define UMASK		027
#define NGROUPS		4
#define STATUS_LEN	1024
#define FSUID		2001
#define FSGID		1001

static const gid_t groups[NGROUPS] = { 60000, 5, 1234, 100 };

struct creds {
	uid_t ruid, euid, suid, fsuid;
	gid_t rgid, egid, sgid, fsgid;
	int ngroups;
	gid_t groups[NGROUPS + 1];
	unsigned int umask;
	struct __user_cap_data_struct cap[2];
	uint64_t bset, ambient;
	int securebits, keepcaps, dumpable, nnp;
	char status[STATUS_LEN];
};

static int cap_last;

static int read_cap_last(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int last = -1;

	if (f) {
		if (fscanf(f, "%d", &last) != 1)
			last = -1;
		fclose(f);
	}
	return last < 0 || last > 63 ? CAP_LAST_CAP : last;
}

static int capget2(struct __user_cap_data_struct cap[2])
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};

	return (int)syscall(SYS_capget, &hdr, cap);
}

static int capset2(const struct __user_cap_data_struct cap[2])
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};

	return (int)syscall(SYS_capset, &hdr, cap);
}

/* The lines of /proc/self/status that hold credentials, joined. */
static int status_lines(char *buf, size_t len, unsigned int *umask_out)
{
	static const char *const keys[] = {
		"Umask:", "Uid:", "Gid:", "Groups:", "CapInh:", "CapPrm:",
		"CapEff:", "CapBnd:", "CapAmb:", "NoNewPrivs:",
	};
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	size_t used = 0;

	if (!f)
		return -1;
	buf[0] = '\0';
	*umask_out = ~0u;
	while (fgets(line, sizeof(line), f) && used < len) {
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			if (strncmp(line, keys[i], strlen(keys[i])))
				continue;
			if (i == 0)
				*umask_out = (unsigned int)strtoul(line + 6, NULL, 8);
			line[strcspn(line, "\n")] = ' ';
			used += (size_t)snprintf(buf + used, len - used, "%s", line);
			break;
		}
	}
	fclose(f);
	return 0;
}

static int record(struct creds *c)
{
	memset(c, 0, sizeof(*c));
	if (getresuid(&c->ruid, &c->euid, &c->suid) ||
	    getresgid(&c->rgid, &c->egid, &c->sgid)) {
		fail("getres[ug]id: %m");
		return -1;
	}
	/* An invalid id changes nothing and returns the current one. */
	c->fsuid = (uid_t)setfsuid((uid_t)-1);
	c->fsgid = (gid_t)setfsgid((gid_t)-1);
	c->ngroups = getgroups(NGROUPS + 1, c->groups);
	if (c->ngroups < 0) {
		fail("getgroups: %m");
		return -1;
	}
	if (capget2(c->cap)) {
		fail("capget: %m");
		return -1;
	}
	for (int cap = 0; cap <= cap_last; cap++) {
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1)
			c->bset |= 1ull << cap;
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) == 1)
			c->ambient |= 1ull << cap;
	}
	c->securebits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
	c->keepcaps = prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0);
	c->dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	c->nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	if (status_lines(c->status, sizeof(c->status), &c->umask)) {
		fail("/proc/self/status: %m");
		return -1;
	}
	return 0;
}

#define CMP(field, fmt)							\
	do {								\
		if (now->field != was->field) {				\
			fail(#field " " fmt ", was " fmt, now->field,	\
			     was->field);				\
			bad = 1;					\
		}							\
	} while (0)

static int compare(const struct creds *now, const struct creds *was)
{
	int bad = 0;

	CMP(ruid, "%u");
	CMP(euid, "%u");
	CMP(suid, "%u");
	CMP(fsuid, "%u");
	CMP(rgid, "%u");
	CMP(egid, "%u");
	CMP(sgid, "%u");
	CMP(fsgid, "%u");
	CMP(umask, "%#o");
	for (int i = 0; i < 2; i++) {
		const struct __user_cap_data_struct *n = &now->cap[i], *w = &was->cap[i];

		if (n->effective != w->effective || n->permitted != w->permitted ||
		    n->inheritable != w->inheritable) {
			fail("capabilities %d-%d: effective %#x permitted %#x inheritable %#x, were %#x %#x %#x",
			     32 * i, 32 * i + 31, n->effective, n->permitted,
			     n->inheritable, w->effective, w->permitted,
			     w->inheritable);
			bad = 1;
		}
	}
	CMP(bset, "%#" PRIx64);
	CMP(ambient, "%#" PRIx64);
	CMP(securebits, "%#x");
	CMP(keepcaps, "%d");
	CMP(dumpable, "%d");
	CMP(nnp, "%d");
	if (now->ngroups != was->ngroups ||
	    memcmp(now->groups, was->groups,
		   (size_t)now->ngroups * sizeof(gid_t))) {
		char ns[128] = "", ws[128] = "";
		size_t nl = 0, wl = 0;

		for (int i = 0; i < now->ngroups && nl < sizeof(ns); i++)
			nl += (size_t)snprintf(ns + nl, sizeof(ns) - nl, " %u",
					       now->groups[i]);
		for (int i = 0; i < was->ngroups && wl < sizeof(ws); i++)
			wl += (size_t)snprintf(ws + wl, sizeof(ws) - wl, " %u",
					       was->groups[i]);
		fail("supplementary groups:%s, were:%s", ns, ws);
		bad = 1;
	}
	if (strcmp(now->status, was->status)) {
		fail("/proc/self/status: '%s', was '%s'", now->status, was->status);
		bad = 1;
	}
	return bad ? -1 : 0;
}

/* A new file gets the umask, fsuid and fsgid. */
static int check_new_file(void)
{
	char path[64];
	struct stat st;
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/tmp/stasis-creds_umask.%d", getpid());
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0777);
	if (fd < 0) {
		fail("create %s as uid %d: %m", path, FSUID);
		return -1;
	}
	if (fstat(fd, &st)) {
		fail("fstat %s: %m", path);
		ret = -1;
	} else if ((st.st_mode & 07777) != (0777 & ~UMASK) ||
		   st.st_uid != FSUID || st.st_gid != FSGID) {
		fail("new file: mode %#o owner %u group %u, want %#o %u %u",
		     st.st_mode & 07777, st.st_uid, st.st_gid,
		     0777 & ~UMASK, FSUID, FSGID);
		ret = -1;
	}
	close(fd);
	unlink(path);
	return ret;
}

static int setup(void)
{
	struct __user_cap_data_struct cap[2];

	umask(UMASK);
	if (prctl(PR_CAPBSET_DROP, CAP_SYS_BOOT, 0, 0, 0) ||
	    prctl(PR_CAPBSET_DROP, CAP_MKNOD, 0, 0, 0)) {
		fail("PR_CAPBSET_DROP: %m");
		return -1;
	}
	if (setgroups(NGROUPS, groups)) {
		fail("setgroups: %m");
		return -1;
	}
	if (setresgid(1000, FSGID, 1002)) {
		fail("setresgid: %m");
		return -1;
	}
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0)) {
		fail("PR_SET_KEEPCAPS: %m");
		return -1;
	}
	if (setresuid(2000, FSUID, 0)) {
		fail("setresuid: %m");
		return -1;
	}
	if (capget2(cap)) {
		fail("capget: %m");
		return -1;
	}
	cap[0].effective = 1u << CAP_CHOWN | 1u << CAP_KILL;
	cap[1].effective = 0;
	cap[0].permitted &= ~(1u << CAP_SYS_MODULE);
	cap[0].inheritable = 1u << CAP_NET_RAW | 1u << CAP_SYS_PTRACE;
	cap[1].inheritable = 0;
	if (capset2(cap)) {
		fail("capset: %m");
		return -1;
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_RAW, 0, 0)) {
		fail("PR_CAP_AMBIENT_RAISE: %m");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct creds was, now;
	struct __user_cap_data_struct cap[2];
	int bad = 0;

	test_init(argc, argv);
	cap_last = read_cap_last();
	if (geteuid() != 0 || capget2(cap) ||
	    !(cap[0].effective & (1u << CAP_SETUID)) ||
	    !(cap[0].effective & (1u << CAP_SETPCAP))) {
		skip("needs root with CAP_SETUID and CAP_SETPCAP");
		return test_result();
	}
	if (setup() || record(&was))
		return test_result();
	if (was.umask != UMASK || was.fsuid != FSUID || was.fsgid != FSGID ||
	    was.ngroups != NGROUPS || was.suid != 0) {
		fail("set up wrong: umask %#o fsuid %u fsgid %u, %d groups, saved uid %u",
		     was.umask, was.fsuid, was.fsgid, was.ngroups, was.suid);
		return test_result();
	}
	if (check_new_file())
		return test_result();
	test_msg("dumpable %d, securebits %#x", was.dumpable, was.securebits);

	test_ready();
	test_waitsig();

	if (record(&now) || compare(&now, &was))
		bad = 1;
	if (check_new_file())
		bad = 1;
	if (!bad)
		pass();
	return test_result();
}
