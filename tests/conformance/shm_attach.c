/*
 * shm_attach.c - SysV shared memory attached in two tasks of a tree in an
 * IPC namespace of its own.
 *
 * Sets up, before READY (after unshare(CLONE_NEWIPC)):
 *   segment S, 3 pages, each page filled with its own byte, attached
 *     read-write at P; its first page then made read-only (mprotect: the
 *     attachment is two areas, as the kernel splits it);
 *   segment T, a page and 100 bytes, filled through an attachment since
 *     detached, attached read-only at Q;
 *   C, a child forked after: it has both attachments at the same
 *     addresses, and attaches S once more, read-write, at P2.
 *
 * Checks after SIGTERM: in R and in C, the contents at every address, the
 *   protections /proc/self/maps shows, the segments' attach counts as
 *   before (the kernel counts areas: S 5, T 2); R writes a byte into S at
 *   P, and C sees it at P and at P2 (the same pages).
 *
 * shm_host.c builds it with SHM_HOST: no IPC namespace of its own, the
 * segments are the host's (T made with IPC_PRIVATE, no key to collide).
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stasis_test.h"

#define PG		4096
#define S_SIZE		(3 * PG)
#define T_SIZE		(PG + 100)
#define MARK		0x5a

static int s_id, t_id;
static char *p, *q, *p2;
static int go[2] = { -1, -1 }, ready[2] = { -1, -1 };
static int bad;		/* failures seen by this process */

/* The permissions /proc/self/maps shows for the area at @addr ("r--s"). */
static int maps_perms(const void *addr, char *perms)
{
	unsigned long start;
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	int ret = -1;

	if (!f)
		return -1;
	while (ret && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%*x %4s", &start, perms) == 2 && start == (unsigned long)addr)
			ret = 0;
	fclose(f);
	return ret;
}

static void check_perms(const char *who, const void *addr, const char *want)
{
	char perms[8] = "";

	if (maps_perms(addr, perms))
		bad++, fail("%s: no area at %p", who, addr);
	else if (strcmp(perms, want))
		bad++, fail("%s: the area at %p is %s, not %s", who, addr, perms, want);
}

static void check_bytes(const char *who, const char *at, size_t len, char want)
{
	for (size_t i = 0; i < len; i++) {
		if (at[i] != want) {
			bad++;
			fail("%s: byte %zu at %p is %#x, not %#x", who, i, at, at[i], want);
			return;
		}
	}
}

/* S's page i holds 'a' + i; T holds 't' (to its last byte). */
static void check_contents(const char *who, const char *s, const char *t)
{
	for (int i = 0; i < 3; i++)
		check_bytes(who, s + i * PG, PG, (char)('a' + i));
	if (t)
		check_bytes(who, t, T_SIZE, 't');
}

static unsigned long nattch(int id)
{
	struct shmid_ds ds;

	return shmctl(id, IPC_STAT, &ds) ? 0 : ds.shm_nattch;
}

static void check_nattch(int id, const char *name, unsigned long want)
{
	unsigned long n = nattch(id);

	if (n != want)
		fail("%s is attached %lu times, not %lu", name, n, want);
}

static int setup(void)
{
	char *w;

#ifdef SHM_HOST
	key_t t_key = IPC_PRIVATE;
#else
	key_t t_key = 0x7a7a;

	if (unshare(CLONE_NEWIPC))
		return skip("unshare(CLONE_NEWIPC): %m"), -1;
#endif
	s_id = shmget(IPC_PRIVATE, S_SIZE, 0600 | IPC_CREAT);
	t_id = shmget(t_key, T_SIZE, 0600 | IPC_CREAT);
	if (s_id < 0 || t_id < 0)
		return fail("shmget: %m"), -1;
	p = shmat(s_id, NULL, 0);
	w = shmat(t_id, NULL, 0);
	if (p == (void *)-1 || w == (void *)-1)
		return fail("shmat: %m"), -1;
	for (int i = 0; i < 3; i++)
		memset(p + i * PG, 'a' + i, PG);
	memset(w, 't', T_SIZE);
	shmdt(w);
	q = shmat(t_id, NULL, SHM_RDONLY);
	if (q == (void *)-1 || mprotect(p, PG, PROT_READ))
		return fail("shmat or mprotect: %m"), -1;
#ifdef SHM_HOST
	/* Removed while attached: they go with the tree (shm_host.sh). */
	if (getenv("SHM_HOST_RMID") && (shmctl(s_id, IPC_RMID, NULL) || shmctl(t_id, IPC_RMID, NULL)))
		return fail("shmctl(IPC_RMID): %m"), -1;
#endif
	return 0;
}

static void __attribute__((noreturn)) run_child(void)
{
	char c;

	p2 = shmat(s_id, NULL, 0);
	if (p2 == (void *)-1) {
		fail("child: shmat: %m");
		_exit(1);
	}
	if (write(ready[1], &p2, sizeof(p2)) != sizeof(p2))
		_exit(1);
	while (read(go[0], &c, 1) < 0 && errno == EINTR)
		;
	/* R wrote MARK at the start of S's second page. */
	check_bytes("C at P", p, PG, 'a');
	check_bytes("C at P", p + PG, 1, MARK);
	check_bytes("C at P", p + PG + 1, PG - 1, 'b');
	check_bytes("C at P", p + 2 * PG, PG, 'c');
	check_bytes("C at P2", p2 + PG, 1, MARK);
	check_bytes("C at Q", q, T_SIZE, 't');
	check_perms("C", p, "r--s");
	check_perms("C", p + PG, "rw-s");
	check_perms("C", q, "r--s");
	check_perms("C", p2, "rw-s");
	_exit(bad ? 1 : 0);
}

int main(int argc, char **argv)
{
	unsigned long s_att, t_att;
	int status = 0;
	pid_t c;

	test_init(argc, argv);
	if (setup())
		return test_result();
	if (pipe(go) || pipe(ready))
		return fail("pipe: %m"), test_result();
	c = fork();
	if (c < 0)
		return fail("fork: %m"), test_result();
	if (c == 0) {
		close(go[1]);
		run_child();
	}
	close(go[0]);
	if (read(ready[0], &p2, sizeof(p2)) != sizeof(p2))
		return fail("the child died before it was ready"), test_result();
	s_att = nattch(s_id);
	t_att = nattch(t_id);
	test_msg("S %d at %p (and %p in the child), attached %lu times; T %d at %p, %lu", s_id,
		 p, p2, s_att, t_id, q, t_att);
	test_ready();
	test_waitsig();

	check_contents("R", p, q);
	check_perms("R", p, "r--s");
	check_perms("R", p + PG, "rw-s");
	check_perms("R", q, "r--s");
	check_nattch(s_id, "S", s_att);
	check_nattch(t_id, "T", t_att);
	/* The first page is read-only: write into the second, then restore it. */
	p[PG] = MARK;
	close(go[1]);
	if (waitpid(c, &status, 0) != c || !WIFEXITED(status) || WEXITSTATUS(status))
		fail("the child failed (status %#x)", status);
	memset(p + PG, 'b', 1);
	shmctl(s_id, IPC_RMID, NULL);
	shmctl(t_id, IPC_RMID, NULL);
	pass();
	return test_result();
}
