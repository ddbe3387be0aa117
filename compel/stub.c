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
 * code.  The room is zeroed again when the tree is released (a killed
 * dump leaves it filled: the next one takes it as it is).  A task
 * whose vDSO has no room makes remote calls as before, unprotected.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* The name the parasite's memfd gets, for memfd_create() to read in the task. */
static const char stub_name[16] = "stasis-parasite";
#define STUB_NAME_OFF	(PARASITE_STUB_LEN + sizeof(struct parasite_cure))
#define STUB_BYTES	(STUB_NAME_OFF + sizeof(stub_name))

static unsigned long max_ul(unsigned long a, unsigned long b)
{
	return a > b ? a : b;
}

#define VDSO_MAX	(64 << 10)

/* Where the vDSO's ELF image @img (@len bytes) ends: headers, segments, sections. */
static unsigned long elf_end(const unsigned char *img, unsigned long len)
{
	const Elf64_Ehdr *eh = (const void *)img;
	unsigned long end = sizeof(*eh);

	if (len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_phentsize != sizeof(Elf64_Phdr) ||
	    eh->e_shentsize != sizeof(Elf64_Shdr) ||
	    eh->e_phoff + (unsigned long)eh->e_phnum * sizeof(Elf64_Phdr) > len ||
	    eh->e_shoff + (unsigned long)eh->e_shnum * sizeof(Elf64_Shdr) > len)
		return len;
	end = max_ul(end, eh->e_phoff + (unsigned long)eh->e_phnum * sizeof(Elf64_Phdr));
	end = max_ul(end, eh->e_shoff + (unsigned long)eh->e_shnum * sizeof(Elf64_Shdr));
	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const void *)(img + eh->e_phoff + i * sizeof(*ph));

		end = max_ul(end, ph->p_offset + ph->p_filesz);
	}
	for (int i = 0; i < eh->e_shnum; i++) {
		const Elf64_Shdr *sh = (const void *)(img + eh->e_shoff + i * sizeof(*sh));

		if (sh->sh_type != SHT_NOBITS)
			end = max_ul(end, sh->sh_offset + sh->sh_size);
	}
	return end;
}

/*
 * Room for the stub at the end of the vDSO image @img: its offset, or 0.
 * It is all zeros, or holds the stub a killed dump left there (its code
 * and name; the cure between is that dump's, never to be used).
 */
static unsigned long find_room(const unsigned char *img, unsigned long len)
{
	unsigned long at = (elf_end(img, len) + 15) & ~15UL;
	bool zero = true;

	if (at + STUB_BYTES > len)
		return 0;
	for (unsigned long i = at; i < at + STUB_BYTES; i++)
		zero &= !img[i];
	if (zero || (!memcmp(img + at, compel_parasite_blob + PARASITE_STUB_OFF,
			     PARASITE_STUB_LEN) &&
		     !memcmp(img + at + STUB_NAME_OFF, stub_name, sizeof(stub_name))))
		return at;
	return 0;
}

/* Find room in @t's vDSO and put the stub's code there, once. */
void compel_stub_setup(struct task *t)
{
	unsigned long len = t->vdso_end - t->vdso_start, off = 0;
	unsigned char *img;
	char path[64];
	int mem;

	if (t->stub_tried)
		return;
	t->stub_tried = true;
	if (!t->vdso_start || len > VDSO_MAX || !(img = malloc(len)))
		return;
	snprintf(path, sizeof(path), "/proc/%d/mem", t->pub.pid);
	mem = open(path, O_RDWR | O_CLOEXEC);
	if (mem >= 0 && pread(mem, img, len, t->vdso_start) == (ssize_t)len)
		off = find_room(img, len);
	free(img);
	if (!off ||
	    pwrite(mem, compel_parasite_blob + PARASITE_STUB_OFF, PARASITE_STUB_LEN,
		   t->vdso_start + off) != PARASITE_STUB_LEN ||
	    pwrite(mem, stub_name, sizeof(stub_name), t->vdso_start + off + STUB_NAME_OFF) !=
		    sizeof(stub_name)) {
		cpr_debug("pid %d: no room for the stub in its vDSO", t->pub.pid);
		if (mem >= 0)
			close(mem);
		return;
	}
	t->stub = t->vdso_start + off;
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
