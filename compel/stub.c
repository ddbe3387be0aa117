/*
 * stub.c - remote calls that a task survives our death in.
 *
 * A remote call sets a thread's registers to ours and steps it through a
 * syscall instruction.  Were compel to die then, the thread would run on
 * from the instruction after it, on our registers.  So the instruction we
 * use is followed by the thread's own way back: the parasite blob's stub
 * (PARASITE_STUB_OFF in parasite-proto.h), copied into room at the end of
 * the task's vDSO that nothing uses (past its ELF headers, segments and
 * sections, and all zeros), with the thread's struct parasite_cure right
 * after it and %r12 pointing there.  While compel lives, it stops the
 * thread at the call's exit and the stub's jump is never taken.
 *
 * The vDSO is written through /proc/PID/mem, as a debugger sets a
 * breakpoint: the task gets a private copy of that page, with the same
 * code.  The room is zeroed again when the tree is released.  A task
 * whose vDSO has no room makes remote calls as before, unprotected.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* The name the parasite's memfd gets, for memfd_create() to read in the task. */
static const char stub_name[16] = "stasis-parasite";
#define STUB_NAME_OFF	(PARASITE_STUB_LEN + sizeof(struct parasite_cure))
#define STUB_BYTES	(STUB_NAME_OFF + sizeof(stub_name))

static bool vdso_range(pid_t pid, unsigned long *start, unsigned long *end)
{
	char path[64], line[512];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, "[vdso]") && sscanf(line, "%lx-%lx", start, end) == 2;
	if (f)
		fclose(f);
	return found;
}

static unsigned long max_ul(unsigned long a, unsigned long b)
{
	return a > b ? a : b;
}

/* Where the vDSO's ELF image ends: headers, segments, sections. */
static unsigned long elf_end(int mem, unsigned long base, unsigned long len)
{
	Elf64_Ehdr eh;
	unsigned long end = sizeof(eh);

	if (pread(mem, &eh, sizeof(eh), base) != sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_shentsize != sizeof(Elf64_Shdr) ||
	    eh.e_phoff > len || eh.e_shoff > len)
		return len;
	end = max_ul(end, eh.e_phoff + (unsigned long)eh.e_phnum * sizeof(Elf64_Phdr));
	end = max_ul(end, eh.e_shoff + (unsigned long)eh.e_shnum * sizeof(Elf64_Shdr));
	for (int i = 0; i < eh.e_phnum && end < len; i++) {
		Elf64_Phdr ph;

		if (pread(mem, &ph, sizeof(ph), base + eh.e_phoff + i * sizeof(ph)) != sizeof(ph))
			return len;
		end = max_ul(end, ph.p_offset + ph.p_filesz);
	}
	for (int i = 0; i < eh.e_shnum && end < len; i++) {
		Elf64_Shdr sh;

		if (pread(mem, &sh, sizeof(sh), base + eh.e_shoff + i * sizeof(sh)) != sizeof(sh))
			return len;
		if (sh.sh_type != SHT_NOBITS)
			end = max_ul(end, sh.sh_offset + sh.sh_size);
	}
	return end;
}

static bool all_zero(int mem, unsigned long at, size_t len)
{
	unsigned char buf[STUB_BYTES];

	if (len > sizeof(buf) || pread(mem, buf, len, at) != (ssize_t)len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (buf[i])
			return false;
	return true;
}

/* Find room in @t's vDSO and put the stub's code there, once. */
void compel_stub_setup(struct task *t)
{
	unsigned long start, end, at;
	char path[64];
	int mem;

	if (t->stub_tried)
		return;
	t->stub_tried = true;
	if (!vdso_range(t->pub.pid, &start, &end))
		return;
	snprintf(path, sizeof(path), "/proc/%d/mem", t->pub.pid);
	mem = open(path, O_RDWR | O_CLOEXEC);
	if (mem < 0)
		return;
	at = start + ((elf_end(mem, start, end - start) + 15) & ~15UL);
	if (at + STUB_BYTES > end || !all_zero(mem, at, STUB_BYTES) ||
	    pwrite(mem, compel_parasite_blob + PARASITE_STUB_OFF, PARASITE_STUB_LEN, at) !=
		    PARASITE_STUB_LEN ||
	    pwrite(mem, stub_name, sizeof(stub_name), at + STUB_NAME_OFF) != sizeof(stub_name)) {
		cpr_debug("pid %d: no room for the stub in its vDSO", t->pub.pid);
		close(mem);
		return;
	}
	t->stub = at;
	t->stub_mem = mem;
}

/*
 * Enter @ctl's next remote call through the stub: its cure goes next to
 * it and %r12 points there.  The address to enter at, or 0 when the stub
 * is missing or another thread's call holds it.
 */
unsigned long compel_stub_enter(struct compel_ctl *ctl, struct user_regs_struct *regs)
{
	struct task *t = ctl->task;
	struct parasite_cure c;
	unsigned long data = t->stub + PARASITE_STUB_LEN;

	if (!t->stub || (t->stub_owner && t->stub_owner != ctl))
		return 0;
	compel_fill_cure(&c, &ctl->regs, ctl->sigmask);
	if (pwrite(t->stub_mem, &c, sizeof(c), data) != sizeof(c))
		return 0;
	t->stub_owner = ctl;
	regs->r12 = data;
	return t->stub;
}

/* Where the task reads the parasite memfd's name, or 0 without a stub. */
unsigned long compel_stub_name(const struct task *t)
{
	return t->stub ? t->stub + STUB_NAME_OFF : 0;
}

/* @ctl's registers are its own again: the stub is free. */
void compel_stub_leave(struct compel_ctl *ctl)
{
	if (ctl->task->stub_owner == ctl)
		ctl->task->stub_owner = NULL;
}

/* Give the vDSO its zeros back. */
void compel_stub_remove(struct task *t)
{
	static const unsigned char zero[STUB_BYTES];

	if (t->stub && pwrite(t->stub_mem, zero, STUB_BYTES, t->stub) != STUB_BYTES)
		cpr_warn("pid %d: cannot clear the stub in its vDSO: %m", t->pub.pid);
	if (t->stub)
		close(t->stub_mem);
	t->stub = 0;
}
