/*
 * pages.c - the parasite moves a task's memory out through a pipe, and
 * runs system calls on our behalf; both checked against what the task
 * really holds.  Prints PASS/FAIL lines for tests/run.sh.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stasis/compel.h"

#define AREA_SIZE	(8 << 20)
#define PIPE_SIZE	(1 << 20)

static uint64_t pattern(uint64_t i)
{
	i ^= i << 13;
	i ^= i >> 7;
	i ^= i << 17;
	return i * 0x9e3779b97f4a7c15ULL;
}

/* The victim: fill memory, tell the parent where, then wait to be killed. */
static void victim(int wr)
{
	uint64_t *p = mmap(NULL, AREA_SIZE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		_exit(1);
	for (size_t i = 0; i < AREA_SIZE / 8; i++)
		p[i] = pattern(i);
	if (write(wr, &p, sizeof(p)) != sizeof(p))
		_exit(1);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;)
		pause();
}

static void report(bool ok, const char *what)
{
	printf("%s: compel %s\n", ok ? "PASS" : "FAIL", what);
}

/* Have the parasite make a pipe in the task; take its read end with pidfd_getfd. */
static int remote_pipe(struct compel_ctl *ctl, pid_t pid, int *remote_wr, int *local_rd)
{
	union compel_rpc_args *a = compel_rpc_area(ctl);
	int fds[2], pidfd, ret;

	a->sys.nr = SYS_pipe2;
	a->sys.args[0] = compel_remote_addr(ctl, &a->pages.iovs[0]);
	a->sys.args[1] = O_CLOEXEC;
	ret = compel_rpc(ctl, COMPEL_CMD_SYSCALL);
	if (ret || a->sys.ret)
		return -1;
	memcpy(fds, &a->pages.iovs[0], sizeof(fds));
	a->sys.nr = SYS_fcntl;
	a->sys.args[0] = fds[1];
	a->sys.args[1] = F_SETPIPE_SZ;
	a->sys.args[2] = PIPE_SIZE;
	if (compel_rpc(ctl, COMPEL_CMD_SYSCALL) || a->sys.ret < PIPE_SIZE)
		return -1;
	pidfd = syscall(SYS_pidfd_open, pid, 0);
	*local_rd = syscall(SYS_pidfd_getfd, pidfd, fds[0], 0);
	close(pidfd);
	*remote_wr = fds[1];
	a->sys.nr = SYS_close;	/* the task keeps only the write end */
	a->sys.args[0] = fds[0];
	if (*local_rd < 0 || compel_rpc(ctl, COMPEL_CMD_SYSCALL))
		return -1;
	return 0;
}

/* Pull AREA_SIZE bytes from @addr through the pipe, one pipeful per command. */
static bool pages_match(struct compel_ctl *ctl, int remote_wr, int rd, uint64_t addr)
{
	union compel_rpc_args *a = compel_rpc_area(ctl);
	uint64_t *buf = malloc(PIPE_SIZE);
	bool ok = buf != NULL;

	for (size_t off = 0; ok && off < AREA_SIZE; off += PIPE_SIZE) {
		size_t got = 0;

		a->pages.pipe_fd = remote_wr;
		a->pages.nr_iovs = PIPE_SIZE / 4096;
		a->pages.done = 0;
		a->pages.flags = 0;
		for (uint32_t i = 0; i < a->pages.nr_iovs; i++) {
			a->pages.iovs[i].base = addr + off + i * 4096;
			a->pages.iovs[i].len = 4096;
		}
		ok = !compel_rpc_start(ctl, COMPEL_CMD_DUMP_PAGES);
		while (ok && got < PIPE_SIZE) {
			ssize_t r = read(rd, (char *)buf + got, PIPE_SIZE - got);

			ok = r > 0;
			got += r > 0 ? r : 0;
		}
		ok = !compel_rpc_wait(ctl) && ok;
		for (size_t i = 0; ok && i < PIPE_SIZE / 8; i++)
			ok = buf[i] == pattern(off / 8 + i);
	}
	free(buf);
	return ok;
}

int main(void)
{
	struct compel_tree *tree = NULL;
	struct compel_ctl *ctl = NULL;
	int p[2], rd = -1, remote_wr = -1, status;
	uint64_t addr;
	bool ok;
	pid_t pid;

	if (pipe(p))
		return 1;
	pid = fork();
	if (pid == 0)
		victim(p[1]);
	ok = read(p[0], &addr, sizeof(addr)) == sizeof(addr);
	ok = ok && !compel_tree_seize(pid, &tree) && !compel_prepare(tree, pid, &ctl) &&
	     !compel_infect(ctl);
	report(ok, "infects a forked victim");
	ok = ok && !remote_pipe(ctl, pid, &remote_wr, &rd);
	report(ok, "parasite runs system calls for us (pipe2, fcntl, close)");
	ok = ok && pages_match(ctl, remote_wr, rd, addr);
	report(ok, "DUMP_PAGES moves 8 MiB through a pipe, byte-exact");
	if (ctl) {
		union compel_rpc_args *a = compel_rpc_area(ctl);

		if (a && remote_wr >= 0) {
			a->sys.nr = SYS_close;
			a->sys.args[0] = remote_wr;
			compel_rpc(ctl, COMPEL_CMD_SYSCALL);
		}
		report(!compel_cure(ctl), "cures after moving pages");
	}
	compel_tree_release(tree, 0);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	report(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "victim ran until killed");
	return 0;
}
