/*
 * regs-x86.c - x86_64 registers: the general ones, the whole xsave area,
 * and where a system call instruction can be found in a task.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"

/* The kernel's own restart codes: user space never sees them otherwise. */
#define ERESTARTSYS_		512
#define ERESTARTNOINTR_		513
#define ERESTARTNOHAND_		514
#define ERESTART_RESTARTBLOCK_	516

#define CURE_RAX		10	/* gpr[] index of rax */

/* Larger than any xsave area a CPU has today (AMX makes it ~11 KiB). */
#define XSAVE_MAX	(64 << 10)

int compel_get_regs(pid_t tid, struct user_regs_struct *regs)
{
	if (ptrace(PTRACE_GETREGS, tid, NULL, regs)) {
		cpr_err("tid %d: PTRACE_GETREGS: %m", tid);
		return -errno;
	}
	return 0;
}

int compel_set_regs(pid_t tid, const struct user_regs_struct *regs)
{
	if (ptrace(PTRACE_SETREGS, tid, NULL, regs)) {
		cpr_err("tid %d: PTRACE_SETREGS: %m", tid);
		return -errno;
	}
	return 0;
}

int compel_get_xsave(pid_t tid, void **out, size_t *len)
{
	struct iovec iov;
	void *buf = malloc(XSAVE_MAX);

	if (!buf)
		return -ENOMEM;
	iov.iov_base = buf;
	iov.iov_len = XSAVE_MAX;
	if (ptrace(PTRACE_GETREGSET, tid, NT_X86_XSTATE, &iov)) {
		cpr_err("tid %d: PTRACE_GETREGSET(NT_X86_XSTATE): %m", tid);
		free(buf);
		return -errno;
	}
	*out = buf;
	*len = iov.iov_len;
	return 0;
}

int compel_set_xsave(pid_t tid, void *buf, size_t len)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };

	if (ptrace(PTRACE_SETREGSET, tid, NT_X86_XSTATE, &iov)) {
		cpr_err("tid %d: PTRACE_SETREGSET(NT_X86_XSTATE): %m", tid);
		return -errno;
	}
	return 0;
}

/*
 * orig_ax = -1 tells the kernel the task is not inside a system call, so
 * resuming it from a signal stop does not try to restart one.
 */
void compel_set_syscall_regs(struct user_regs_struct *regs, unsigned long ip, long nr,
			     const unsigned long args[6])
{
	regs->rip = ip;
	regs->rax = nr;
	regs->orig_rax = -1;
	regs->rdi = args[0];
	regs->rsi = args[1];
	regs->rdx = args[2];
	regs->r10 = args[3];
	regs->r8 = args[4];
	regs->r9 = args[5];
}

long compel_syscall_result(const struct user_regs_struct *regs)
{
	return (long)regs->rax;
}

/* Look for the bytes 0f 05 (syscall) in [start, end) of @pid's memory. */
static int scan_for_syscall(int memfd, unsigned long start, unsigned long end, unsigned long *ip)
{
	unsigned char buf[4096];

	for (unsigned long at = start; at < end; at += sizeof(buf) - 1) {
		size_t want = end - at < sizeof(buf) ? end - at : sizeof(buf);
		ssize_t r = pread(memfd, buf, want, at);

		if (r < 2)
			return -ENOENT;
		for (ssize_t i = 0; i + 1 < r; i++)
			if (buf[i] == 0x0f && buf[i + 1] == 0x05) {
				*ip = at + i;
				return 0;
			}
	}
	return -ENOENT;
}

/*
 * Remote calls run through a syscall instruction the task already has, so
 * that no byte of its memory is changed.  The vDSO has one (the fallback
 * of its clock functions); any other executable mapping will do.  One
 * read of the maps serves the stub (the vDSO) and the search for a
 * parasite a killed dump left behind (*@rwxs: some shared executable
 * writable area is there).
 */
int compel_find_syscall_insn(pid_t pid, int memfd, unsigned long *ip, unsigned long *vdso_start,
			     unsigned long *vdso_end, bool *rwxs)
{
	char path[64], line[512], perms[5], buf[16384];
	unsigned long start, end, vdso_s = 0, vdso_e = 0;
	FILE *maps;
	int ret = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	maps = fopen(path, "re");
	if (!maps) {
		ret = -errno;
		cpr_err("pid %d: cannot open its maps: %m", pid);
		return ret;
	}
	/* Read in large pieces, with no fstat for stdio to size its buffer. */
	setvbuf(maps, buf, _IOFBF, sizeof(buf));
	*rwxs = false;
	while (fgets(line, sizeof(line), maps)) {
		if (!compel_maps_range(line, &start, &end, perms))
			continue;
		if (strstr(line, "[vdso]")) {
			vdso_s = start;
			vdso_e = end;
		}
		if (!strcmp(perms, "rwxs"))
			*rwxs = true;
	}
	*vdso_start = vdso_s;
	*vdso_end = vdso_e;
	if (vdso_s)
		ret = scan_for_syscall(memfd, vdso_s, vdso_e, ip);
	rewind(maps);
	while (ret && fgets(line, sizeof(line), maps))
		if (compel_maps_range(line, &start, &end, perms) &&
		    perms[0] == 'r' && perms[2] == 'x')
			ret = scan_for_syscall(memfd, start, end, ip);
	if (ret)
		cpr_err("pid %d: no syscall instruction found in its memory", pid);
	fclose(maps);
	return ret;
}

/*
 * What the task must look like when it comes back without us: its
 * registers, with an interrupted system call set up to run again as the
 * kernel would have done on the way out of the interrupt stop (there is
 * no signal handler in between).  @regs are those of that stop.
 */
void compel_fill_cure(struct parasite_cure *c, const struct user_regs_struct *regs,
		      uint64_t sigmask)
{
	_Static_assert(offsetof(struct user_regs_struct, orig_rax) == sizeof(c->gpr),
		       "the general registers come first, in the order of parasite_cure");

	memcpy(c->gpr, regs, sizeof(c->gpr));
	c->iret[0] = regs->rip;
	c->iret[1] = regs->cs;
	c->iret[2] = regs->eflags;
	c->iret[3] = regs->rsp;
	c->iret[4] = regs->ss;
	c->sigmask = sigmask;
	if ((long)regs->orig_rax < 0)
		return;
	switch ((long)regs->rax) {
	case -ERESTARTSYS_:
	case -ERESTARTNOINTR_:
	case -ERESTARTNOHAND_:
		c->gpr[CURE_RAX] = regs->orig_rax;
		c->iret[0] -= 2;	/* back onto the syscall instruction */
		break;
	case -ERESTART_RESTARTBLOCK_:
		c->gpr[CURE_RAX] = SYS_restart_syscall;
		c->iret[0] -= 2;
		break;
	}
}
