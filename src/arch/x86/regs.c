/*
 * regs.c - x86_64 registers: read them with ptrace, lay them out as CRIU's
 * thread_info_x86 (general registers, the FXSAVE area, each xsave
 * component the CPU has enabled, TLS descriptors).
 */
#include <cpuid.h>
#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "log.h"
#include "regs.h"

#define XSAVE_MAX		(64 << 10)
#define NT_X86_SHSTK_NOTE	0x204

/* xsave components (Intel SDM vol. 1, 13.1) */
#define XFEATURE_YMM		2
#define XFEATURE_BNDREGS	3
#define XFEATURE_BNDCSR		4
#define XFEATURE_OPMASK		5
#define XFEATURE_ZMM_HI256	6
#define XFEATURE_HI16_ZMM	7
#define XFEATURE_PKRU		9

/* The kernel's restart codes, as a syscall leaves them in ax. */
#define ERESTARTSYS		512
#define ERESTARTNOINTR		513
#define ERESTARTNOHAND		514
#define ERESTART_RESTARTBLOCK	516

int x86_regs_read(pid_t tid, struct x86_thread_regs *r)
{
	struct iovec iov;

	memset(r, 0, sizeof(*r));
	if (ptrace(PTRACE_GETREGS, tid, NULL, &r->regs)) {
		pr_perror("tid %d: PTRACE_GETREGS", tid);
		return -errno;
	}
	r->xsave = malloc(XSAVE_MAX);
	if (!r->xsave)
		return -ENOMEM;
	iov.iov_base = r->xsave;
	iov.iov_len = XSAVE_MAX;
	if (ptrace(PTRACE_GETREGSET, tid, NT_X86_XSTATE, &iov)) {
		pr_perror("tid %d: PTRACE_GETREGSET(NT_X86_XSTATE)", tid);
		x86_regs_free(r);
		return -errno;
	}
	r->xsave_len = iov.iov_len;
	for (int i = 0; i < X86_TLS_ENTRIES; i++) {
		r->tls[i].entry_number = X86_TLS_FIRST + i;
		if (ptrace(PTRACE_GET_THREAD_AREA, tid, X86_TLS_FIRST + i, &r->tls[i])) {
			pr_perror("tid %d: PTRACE_GET_THREAD_AREA", tid);
			x86_regs_free(r);
			return -errno;
		}
	}
	/* Only threads with a shadow stack have this regset. */
	iov.iov_base = &r->ssp;
	iov.iov_len = sizeof(r->ssp);
	if (ptrace(PTRACE_GETREGSET, tid, NT_X86_SHSTK_NOTE, &iov))
		r->ssp = 0;
	return 0;
}

void x86_regs_free(struct x86_thread_regs *r)
{
	free(r->xsave);
	r->xsave = NULL;
}

/*
 * The xsave layout, read once: each CPUID is a trap to the hypervisor in
 * a virtual machine (microseconds), and every thread dumped or restored
 * asked for eight of them.
 */
#define XFEATURES	32

static struct {
	pthread_once_t once;
	uint64_t xcr0;
	unsigned off[XFEATURES], size[XFEATURES];
	unsigned xstate_size;		/* CPUID's size of the area for XCR0 */
} layout = { .once = PTHREAD_ONCE_INIT };

static void layout_read(void)
{
	unsigned lo, hi, eax, ebx, ecx, edx;

	__cpuid(1, eax, ebx, ecx, edx);
	if (!(ecx & bit_OSXSAVE)) {
		layout.xcr0 = 3;	/* x87 and SSE only */
		layout.xstate_size = 512;
		return;
	}
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	layout.xcr0 = (uint64_t)hi << 32 | lo;
	__cpuid_count(0xd, 0, eax, ebx, ecx, edx);
	layout.xstate_size = layout.xcr0 == 3 ? 512 : ebx;
	for (int nr = 2; nr < XFEATURES; nr++) {
		if (!(layout.xcr0 & (1ULL << nr)))
			continue;
		__cpuid_count(0xd, nr, eax, ebx, ecx, edx);
		layout.size[nr] = eax;
		layout.off[nr] = ebx;
	}
}

/* Offset of xsave component @nr in the standard layout (CPUID leaf 0xd); 0 if not enabled. */
static unsigned xfeature_offset(int nr, unsigned *size)
{
	pthread_once(&layout.once, layout_read);
	*size = nr < XFEATURES ? layout.size[nr] : 0;
	return nr < XFEATURES ? layout.off[nr] : 0;
}

/* The user xsave features this CPU and kernel have enabled (XCR0). */
static uint64_t xfeatures_enabled(void)
{
	pthread_once(&layout.once, layout_read);
	return layout.xcr0;
}

/* Copy component @nr into @dst (@words of @wsize bytes) if enabled and present. */
static size_t copy_component(const struct x86_thread_regs *r, uint64_t xcr0, int nr,
			     void *dst, size_t words, size_t wsize)
{
	unsigned size, off;

	if (!(xcr0 & (1ULL << nr)))
		return 0;
	off = xfeature_offset(nr, &size);
	if (size < words * wsize || off + words * wsize > r->xsave_len)
		return 0;
	memcpy(dst, (const char *)r->xsave + off, words * wsize);
	return words;
}

static void fill_gpregs(UserX86RegsEntry *g, const struct user_regs_struct *u)
{
	user_x86_regs_entry__init(g);
	g->r15 = u->r15;
	g->r14 = u->r14;
	g->r13 = u->r13;
	g->r12 = u->r12;
	g->bp = u->rbp;
	g->bx = u->rbx;
	g->r11 = u->r11;
	g->r10 = u->r10;
	g->r9 = u->r9;
	g->r8 = u->r8;
	g->ax = u->rax;
	g->cx = u->rcx;
	g->dx = u->rdx;
	g->si = u->rsi;
	g->di = u->rdi;
	g->orig_ax = u->orig_rax;
	g->ip = u->rip;
	g->cs = u->cs;
	g->flags = u->eflags;
	g->sp = u->rsp;
	g->ss = u->ss;
	g->fs_base = u->fs_base;
	g->gs_base = u->gs_base;
	g->ds = u->ds;
	g->es = u->es;
	g->fs = u->fs;
	g->gs = u->gs;
	g->has_mode = 1;
	g->mode = USER_X86_REGS_MODE__NATIVE;
}

/* Make the stored registers resume as the interrupted call should, after a restore. */
static void adjust_for_restart(UserX86RegsEntry *g, pid_t tid)
{
	if ((int64_t)g->orig_ax < 0)
		return;
	switch ((int64_t)g->ax) {
	case -ERESTARTSYS:
	case -ERESTARTNOINTR:
	case -ERESTARTNOHAND:
		g->ax = g->orig_ax;
		g->ip -= 2;	/* back onto the syscall instruction */
		break;
	case -ERESTART_RESTARTBLOCK:
		/*
		 * Its restart block lives in the kernel and cannot travel.
		 * poll() is made again with its own arguments: it may wait
		 * its whole timeout again, later but never early, where an
		 * EINTR kills programs that expect none (GNU tail -f).  The
		 * others (nanosleep, futex) report EINTR as CRIU does:
		 * nanosleep has written the time left for its caller.
		 */
		if (g->orig_ax == SYS_poll) {
			g->ax = g->orig_ax;
			g->ip -= 2;
			break;
		}
		pr_info("tid %d will resume with its system call interrupted (EINTR)", tid);
		g->ax = -EINTR;
		break;
	}
}

static void fill_fpregs(struct x86_thread_info *o, const struct x86_thread_regs *r)
{
	const unsigned char *x = r->xsave;
	UserX86FpregsEntry *f = &o->fpregs;
	UserX86XsaveEntry *xs = &o->xsave;
	uint64_t xcr0 = xfeatures_enabled();

	user_x86_fpregs_entry__init(f);
	/* The legacy FXSAVE area: the first 512 bytes. */
	f->cwd = *(const uint16_t *)(x + 0);
	f->swd = *(const uint16_t *)(x + 2);
	f->twd = *(const uint16_t *)(x + 4);
	f->fop = *(const uint16_t *)(x + 6);
	f->rip = *(const uint64_t *)(x + 8);
	f->rdp = *(const uint64_t *)(x + 16);
	f->mxcsr = *(const uint32_t *)(x + 24);
	f->mxcsr_mask = *(const uint32_t *)(x + 28);
	memcpy(o->st_space, x + 32, sizeof(o->st_space));
	memcpy(o->xmm_space, x + 160, sizeof(o->xmm_space));
	f->n_st_space = 32;
	f->st_space = o->st_space;
	f->n_xmm_space = 64;
	f->xmm_space = o->xmm_space;

	if (r->xsave_len <= 512)
		return;
	user_x86_xsave_entry__init(xs);
	user_x86_cet_entry__init(&o->cet);
	xs->xstate_bv = *(const uint64_t *)(x + 512);
	xs->n_ymmh_space = copy_component(r, xcr0, XFEATURE_YMM, o->ymmh_space, 64, 4);
	xs->ymmh_space = o->ymmh_space;
	xs->n_bndreg_state = copy_component(r, xcr0, XFEATURE_BNDREGS, o->bndreg, 8, 8);
	xs->bndreg_state = o->bndreg;
	xs->n_bndcsr_state = copy_component(r, xcr0, XFEATURE_BNDCSR, o->bndcsr, 8, 8);
	xs->bndcsr_state = o->bndcsr;
	xs->n_opmask_reg = copy_component(r, xcr0, XFEATURE_OPMASK, o->opmask, 8, 8);
	xs->opmask_reg = o->opmask;
	xs->n_zmm_upper = copy_component(r, xcr0, XFEATURE_ZMM_HI256, o->zmm_upper, 64, 8);
	xs->zmm_upper = o->zmm_upper;
	xs->n_hi16_zmm = copy_component(r, xcr0, XFEATURE_HI16_ZMM, o->hi16_zmm, 128, 8);
	xs->hi16_zmm = o->hi16_zmm;
	xs->n_pkru = copy_component(r, xcr0, XFEATURE_PKRU, o->pkru, 1, 4);
	xs->pkru = o->pkru;
	o->cet.ssp = r->ssp;
	xs->cet = &o->cet;
	f->xsave = xs;
}

static void fill_tls(struct x86_thread_info *o, const struct x86_thread_regs *r)
{
	for (int i = 0; i < X86_TLS_ENTRIES; i++) {
		const struct user_desc *u = &r->tls[i];
		UserDescT *d = &o->tls[i];

		user_desc_t__init(d);
		d->entry_number = u->entry_number;
		d->base_addr = u->base_addr;
		d->limit = u->limit;
		d->seg_32bit = u->seg_32bit;
		d->contents_h = (u->contents >> 1) & 1;
		d->contents_l = u->contents & 1;
		d->read_exec_only = u->read_exec_only;
		d->limit_in_pages = u->limit_in_pages;
		d->seg_not_present = u->seg_not_present;
		d->usable = u->useable;
		o->tls_ptrs[i] = d;
	}
	o->ti.n_tls = X86_TLS_ENTRIES;
	o->ti.tls = o->tls_ptrs;
}

void x86_thread_info_fill(struct x86_thread_info *o, const struct x86_thread_regs *r,
			  uint64_t clear_tid_addr, pid_t tid)
{
	thread_info_x86__init(&o->ti);
	o->ti.clear_tid_addr = clear_tid_addr;
	fill_gpregs(&o->gpregs, &r->regs);
	adjust_for_restart(&o->gpregs, tid);
	o->ti.gpregs = &o->gpregs;
	fill_fpregs(o, r);
	o->ti.fpregs = &o->fpregs;
	fill_tls(o, r);
}

/* --- restore: a signal frame that rt_sigreturn turns back into the thread --- */

#define FP_XSTATE_MAGIC1	0x46505853u
#define FP_XSTATE_MAGIC2	0x46505845u
#define UC_FP_XSTATE		0x1
#define UC_SIGCONTEXT_SS	0x2
#define UC_STRICT_RESTORE_SS	0x4
#define SIGINFO_BYTES		128
#define FRAME_HEAD		(8 + sizeof(struct x86_ucontext) + SIGINFO_BYTES)

/* The kernel's x86_64 struct ucontext, with its struct sigcontext inside. */
struct x86_ucontext {
	uint64_t flags, link;
	uint64_t ss_sp;
	int32_t ss_flags, ss_pad;
	uint64_t ss_size;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t di, si, bp, bx, dx, ax, cx, sp, ip, eflags;
	uint16_t cs, gs, fs, ss;
	uint64_t err, trapno, oldmask, cr2, fpstate;
	uint64_t reserved[8];
	uint64_t sigmask;
};

/* The xsave area the kernel takes from a frame: CPUID's size for XCR0. */
static size_t xstate_size(void)
{
	pthread_once(&layout.once, layout_read);
	return layout.xstate_size;
}

size_t x86_sigframe_size(void)
{
	/* The head, then the xsave area 64-aligned, then MAGIC2. */
	return ((FRAME_HEAD + 63) & ~63ul) + xstate_size() + 4 + 64;
}

/* Put image component @n (@words of @wsize bytes) at its CPUID offset. */
static int put_component(uint8_t *x, size_t len, uint64_t xcr0, int nr, const void *src,
			 size_t n, size_t words, size_t wsize)
{
	unsigned size, off;

	if (!n)
		return 0;
	if (n != words || !(xcr0 & (1ull << nr))) {
		pr_err("the image has xsave component %d, this CPU does not", nr);
		return -ENOTSUP;
	}
	off = xfeature_offset(nr, &size);
	if (size < words * wsize || off + words * wsize > len)
		return -EINVAL;
	memcpy(x + off, src, words * wsize);
	return 0;
}

static int fill_xsave(uint8_t *x, size_t len, const UserX86FpregsEntry *f)
{
	const UserX86XsaveEntry *xs = f->xsave;
	uint64_t xcr0 = xfeatures_enabled();
	int ret = 0;

	if (f->n_st_space != 32 || f->n_xmm_space != 64) {
		pr_err("the image's FPU registers are malformed");
		return -EINVAL;
	}
	*(uint16_t *)(x + 0) = f->cwd;
	*(uint16_t *)(x + 2) = f->swd;
	*(uint16_t *)(x + 4) = f->twd;
	*(uint16_t *)(x + 6) = f->fop;
	*(uint64_t *)(x + 8) = f->rip;
	*(uint64_t *)(x + 16) = f->rdp;
	*(uint32_t *)(x + 24) = f->mxcsr;
	*(uint32_t *)(x + 28) = f->mxcsr_mask;
	memcpy(x + 32, f->st_space, 128);
	memcpy(x + 160, f->xmm_space, 256);
	/* The software-reserved bytes tell the kernel an xsave area follows. */
	*(uint32_t *)(x + 464) = FP_XSTATE_MAGIC1;
	*(uint32_t *)(x + 468) = len + 4;
	*(uint64_t *)(x + 472) = xcr0;
	*(uint32_t *)(x + 480) = len;
	*(uint32_t *)(x + len) = FP_XSTATE_MAGIC2;
	if (!xs || len <= 512) {
		*(uint64_t *)(x + 512) = 3;
		return 0;
	}
	if (xs->xstate_bv & ~xcr0) {
		pr_err("the image has xsave state %#" PRIx64 " this CPU lacks (XCR0 %#" PRIx64 ")",
		       xs->xstate_bv & ~xcr0, xcr0);
		return -ENOTSUP;
	}
	*(uint64_t *)(x + 512) = xs->xstate_bv;
	ret = ret ?: put_component(x, len, xcr0, XFEATURE_YMM, xs->ymmh_space, xs->n_ymmh_space, 64, 4);
	ret = ret ?: put_component(x, len, xcr0, XFEATURE_BNDREGS, xs->bndreg_state,
				   xs->n_bndreg_state, 8, 8);
	ret = ret ?: put_component(x, len, xcr0, XFEATURE_BNDCSR, xs->bndcsr_state,
				   xs->n_bndcsr_state, 8, 8);
	ret = ret ?: put_component(x, len, xcr0, XFEATURE_OPMASK, xs->opmask_reg,
				   xs->n_opmask_reg, 8, 8);
	ret = ret ?: put_component(x, len, xcr0, XFEATURE_ZMM_HI256, xs->zmm_upper,
				   xs->n_zmm_upper, 64, 8);
	ret = ret ?: put_component(x, len, xcr0, XFEATURE_HI16_ZMM, xs->hi16_zmm,
				   xs->n_hi16_zmm, 128, 8);
	ret = ret ?: put_component(x, len, xcr0, XFEATURE_PKRU, xs->pkru, xs->n_pkru, 1, 4);
	return ret;
}

int x86_sigframe_build(void *frame, const ThreadInfoX86 *ti, uint64_t sigmask,
		       uint64_t ss_sp, uint64_t ss_size, int ss_flags)
{
	struct x86_ucontext *uc = (struct x86_ucontext *)((uint8_t *)frame + 8);
	uint8_t *fp = (uint8_t *)(((uintptr_t)frame + FRAME_HEAD + 63) & ~63ul);
	const UserX86RegsEntry *g = ti->gpregs;

	if (!g || !ti->fpregs) {
		pr_err("the image has no registers for a thread");
		return -EINVAL;
	}
	if (g->mode != USER_X86_REGS_MODE__NATIVE) {
		pr_err("unsupported: a 32-bit (compat) task");
		return -ENOTSUP;
	}
	if (ti->fpregs->xsave && ti->fpregs->xsave->cet && ti->fpregs->xsave->cet->ssp) {
		pr_err("unsupported: a thread with a shadow stack");
		return -ENOTSUP;
	}
	uc->flags = UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS;
	uc->ss_sp = ss_sp;
	uc->ss_size = ss_size;
	uc->ss_flags = ss_flags;
	uc->r8 = g->r8;
	uc->r9 = g->r9;
	uc->r10 = g->r10;
	uc->r11 = g->r11;
	uc->r12 = g->r12;
	uc->r13 = g->r13;
	uc->r14 = g->r14;
	uc->r15 = g->r15;
	uc->di = g->di;
	uc->si = g->si;
	uc->bp = g->bp;
	uc->bx = g->bx;
	uc->dx = g->dx;
	uc->ax = g->ax;
	uc->cx = g->cx;
	uc->sp = g->sp;
	uc->ip = g->ip;
	uc->eflags = g->flags;
	uc->cs = g->cs;
	uc->ss = g->ss;
	uc->fpstate = (uintptr_t)fp;
	uc->sigmask = sigmask;
	return fill_xsave(fp, xstate_size(), ti->fpregs);
}
