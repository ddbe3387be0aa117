/*
 * regs.h - an x86_64 thread's registers as CRIU's images hold them.
 */
#ifndef STASIS_ARCH_X86_REGS_H
#define STASIS_ARCH_X86_REGS_H

#include <asm/ldt.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "core-x86.pb-c.h"

#define X86_TLS_ENTRIES		3	/* GDT_ENTRY_TLS_MIN .. +2 */
#define X86_TLS_FIRST		12

/* What ptrace gives of one thread. */
struct x86_thread_regs {
	struct user_regs_struct regs;
	void *xsave;			/* NT_X86_XSTATE, the standard (uncompacted) layout */
	size_t xsave_len;
	struct user_desc tls[X86_TLS_ENTRIES];
	uint64_t ssp;			/* shadow stack pointer, 0 without one */
};

/* Read the registers of stopped thread @tid.  Free with x86_regs_free(). */
int x86_regs_read(pid_t tid, struct x86_thread_regs *r);
void x86_regs_free(struct x86_thread_regs *r);

/* Storage for one ThreadInfoX86 and everything it points to. */
struct x86_thread_info {
	ThreadInfoX86 ti;
	UserX86RegsEntry gpregs;
	UserX86FpregsEntry fpregs;
	UserX86XsaveEntry xsave;
	UserX86CetEntry cet;
	UserDescT tls[X86_TLS_ENTRIES];
	UserDescT *tls_ptrs[X86_TLS_ENTRIES];
	uint32_t st_space[32], xmm_space[64], ymmh_space[64], pkru[1];
	uint64_t bndreg[8], bndcsr[8], opmask[8], zmm_upper[64], hi16_zmm[128];
};

/*
 * Fill @out from @r for the image.  A thread stopped inside a system call
 * is stored the way it must resume after a restore: restartable calls
 * pointed back at their syscall instruction, and calls that only the
 * kernel's restart block could resume (nanosleep) returning -EINTR.
 */
void x86_thread_info_fill(struct x86_thread_info *out, const struct x86_thread_regs *r,
			  uint64_t clear_tid_addr, pid_t tid);

/* Bytes a signal frame takes, the xsave area included. */
size_t x86_sigframe_size(void);

/*
 * Build at @frame (x86_sigframe_size() bytes, zeroed) the rt_sigframe that
 * rt_sigreturn, with %rsp = @frame + 8, turns into the registers of @ti,
 * the signal mask @sigmask and the alternate stack given.
 */
int x86_sigframe_build(void *frame, const ThreadInfoX86 *ti, uint64_t sigmask,
		       uint64_t ss_sp, uint64_t ss_size, int ss_flags);

#endif
