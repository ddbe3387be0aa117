/*
 * parasite-proto.h - the memory the parasite shares with compel.
 *
 * The blob is mapped at P; the layout of the mapping is
 *	[P, P + code)		the blob (code and data, position independent)
 *	[area, area + size)	struct parasite_area, page aligned
 *	[stack, stack + size)	the parasite's stack, growing down from its end
 *
 * One command at a time: compel fills args and cmd, then bumps cmd_seq and
 * wakes it; the parasite runs the command, stores ret, sets done_seq to
 * cmd_seq and wakes that.  Both words are futexes on shared memory.
 *
 * If stasis dies while the parasite runs (SIGKILL, a crash, the OOM
 * killer), nobody is left to take the task back, so the task does it on its
 * own.  compel puts its tid in @tracer with FUTEX_WAITERS and links the
 * word into its robust futex list: when compel's thread dies the kernel
 * sets FUTEX_OWNER_DIED there and wakes the parasite, which waits on both
 * words.  It then puts back the signal mask and every register kept in
 * @cure and returns to where the task was (parasite_cure in head-x86.S).
 * A thread in a remote call does the same through the stub compel copies
 * into the task's vDSO (PARASITE_STUB_OFF, compel/stub.c).
 */
#ifndef STASIS_PARASITE_PROTO_H
#define STASIS_PARASITE_PROTO_H

#include <stdint.h>

#include "stasis/compel.h"

/*
 * A thread's state as the parasite gives it back: the general registers in
 * the order of struct user_regs_struct, then what iretq pops, then the
 * signal mask.  compel has already applied any restart of an interrupted
 * system call.  parasite_cure in head-x86.S depends on these offsets.
 */
struct parasite_cure {
	uint64_t gpr[15];	/* r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi */
	uint64_t iret[5];	/* rip cs rflags rsp ss */
	uint64_t sigmask;
};

#define PARASITE_CURE_SIGMASK_OFF	160

struct parasite_area {
	uint32_t cmd_seq;
	uint32_t done_seq;
	int32_t cmd;
	int32_t ret;
	uint32_t tracer;	/* compel's tid | FUTEX_WAITERS; 0 when not guarded */
	int32_t memfd;		/* the task's fd of this area: closed as the parasite starts; -1 none */
	uint64_t robust_next;	/* the robust list entry of @tracer */
	struct parasite_cure cure;	/* the thread running the parasite */
	union compel_rpc_args args;
	uint8_t scratch[COMPEL_SCRATCH_SIZE];	/* compel_scratch() */
};

_Static_assert(__builtin_offsetof(struct parasite_cure, sigmask) == PARASITE_CURE_SIGMASK_OFF,
	       "parasite_cure in head-x86.S reads the mask here");

/*
 * The stub: bytes of the blob that hold a syscall instruction followed by
 * the cure of the calling thread, self-contained (compel/stub.c).
 */
#define PARASITE_STUB_OFF	16
#define PARASITE_STUB_LEN	64

#define PARASITE_STACK_SIZE	(64 << 10)

#endif
