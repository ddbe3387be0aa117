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
 * code.  Where the vDSO has no room, the stub goes past the code of an
 * executable file mapping (room_elsewhere).  The room is zeroed again when
 * the tree is released (a killed dump leaves it filled: the next one takes
 * it as it is).  A task with no room anywhere makes remote calls as
 * before, unprotected, and the log says so.
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

/* Are the STUB_BYTES at @img + @at free: zeros, or the stub a killed dump left? */
static bool find_room_at(const unsigned char *img, unsigned long at)
{
	bool zero = true;

	for (unsigned long i = at; i < at + STUB_BYTES; i++)
		zero &= !img[i];
	return zero || (!memcmp(img + at, compel_parasite_blob + PARASITE_STUB_OFF,
				PARASITE_STUB_LEN) &&
			!memcmp(img + at + STUB_NAME_OFF, stub_name, sizeof(stub_name)));
}

/* Room for the stub at the end of the vDSO image @img: its offset, or 0. */
static unsigned long find_room(const unsigned char *img, unsigned long len)
{
	unsigned long at = (elf_end(img, len) + 15) & ~15UL;

	return at + STUB_BYTES <= len && find_room_at(img, at) ? at : 0;
}

/* Is the room at @at of the task free for the stub: zeros, or a stub left there? */
static bool room_free(int mem, unsigned long at)
{
	unsigned char buf[STUB_BYTES];

	return pread(mem, buf, sizeof(buf), at) == sizeof(buf) &&
	       find_room_at(buf, 0);
}

/* Room in the vDSO, past its ELF image: the address, or 0. */
static unsigned long room_in_vdso(struct task *t, int mem)
{
	unsigned long len = t->vdso_end - t->vdso_start, off = 0;
	unsigned char *img;

	if (!t->vdso_start || len > VDSO_MAX || compel_fault_hit(COMPEL_FAULT_VDSO_ROOM) ||
	    !(img = malloc(len)))
		return 0;
	if (pread(mem, img, len, t->vdso_start) == (ssize_t)len)
		off = find_room(img, len);
	free(img);
	return off ? t->vdso_start + off : 0;
}

/*
 * Room past the end of the code in an executable mapping of a file: the
 * rest of its last page shows bytes of the file that belong to no part of
 * that segment (its ELF program header says where the segment ends).
 */
static unsigned long room_in_text(pid_t pid, int mem, unsigned long start, unsigned long end,
				  unsigned long pgoff)
{
	char path[96];
	Elf64_Ehdr eh;
	int fd;
	unsigned long at = 0;

	snprintf(path, sizeof(path), "/proc/%d/map_files/%lx-%lx", pid, start, end);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (pread(fd, &eh, sizeof(eh), 0) == sizeof(eh) && !memcmp(eh.e_ident, ELFMAG, SELFMAG) &&
	    eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_phentsize == sizeof(Elf64_Phdr)) {
		for (int i = 0; !at && i < eh.e_phnum; i++) {
			Elf64_Phdr ph;
			unsigned long seg_end;

			if (pread(fd, &ph, sizeof(ph), eh.e_phoff + i * sizeof(ph)) != sizeof(ph) ||
			    ph.p_type != PT_LOAD || !(ph.p_flags & PF_X) ||
			    pgoff < (ph.p_offset & ~4095UL) || pgoff >= ph.p_offset + ph.p_filesz)
				continue;
			seg_end = start + (ph.p_offset + ph.p_filesz - pgoff);
			seg_end = (seg_end + 15) & ~15UL;
			if (seg_end + STUB_BYTES <= end && room_free(mem, seg_end))
				at = seg_end;
		}
	}
	close(fd);
	return at;
}

/* No room in the vDSO: the first executable file mapping with some. */
static unsigned long room_elsewhere(pid_t pid, int mem)
{
	char path[64], line[512], perms[8];
	unsigned long start, end, pgoff, ino, at = 0;
	FILE *maps;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	maps = fopen(path, "re");
	while (maps && !at && fgets(line, sizeof(line), maps))
		if (sscanf(line, "%lx-%lx %7s %lx %*s %lu", &start, &end, perms, &pgoff, &ino) == 5 &&
		    ino && !strcmp(perms, "r-xp"))
			at = room_in_text(pid, mem, start, end, pgoff);
	if (maps)
		fclose(maps);
	return at;
}

/*
 * Put the stub's code in room of @t's (once per task, with its syscall
 * instruction: compel_prepare_thread): in its vDSO, or else past
 * the code of one of its executable mappings (that page then becomes the
 * task's own copy, as a breakpoint's would).
 */
void compel_stub_setup(struct task *t, int mem)
{
	unsigned long at = 0;

	at = room_in_vdso(t, mem);
	if (!at) {
		cpr_debug("pid %d: no room for the stub in its vDSO", t->pub.pid);
		at = room_elsewhere(t->pub.pid, mem);
	}
	if (!at ||
	    pwrite(mem, compel_parasite_blob + PARASITE_STUB_OFF, PARASITE_STUB_LEN, at) !=
		    PARASITE_STUB_LEN ||
	    pwrite(mem, stub_name, sizeof(stub_name), at + STUB_NAME_OFF) != sizeof(stub_name)) {
		cpr_warn("pid %d: no room for the stub: its remote calls are not protected",
			 t->pub.pid);
		close(mem);
		return;
	}
	cpr_debug("pid %d: the stub is at 0x%lx", t->pub.pid, at);
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
	/* Its cure is there from its last call: the same registers, the same cure. */
	if (t->stub_owner == ctl) {
		regs->r12 = data;
		return t->stub;
	}
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
	compel_stub_forget(t);
}

/* No more remote calls: the task is about to be killed, stub and all. */
void compel_stub_forget(struct task *t)
{
	if (t->stub)
		close(t->stub_mem);
	t->stub = 0;
}
