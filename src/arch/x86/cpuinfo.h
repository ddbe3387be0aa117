/*
 * cpuinfo.h - the CPU an image was dumped on (cpuinfo.img) and whether
 * this one can run it, as CRIU's --cpu-cap decides.
 *
 * The dump writes what CPUID says of this CPU, laid out as CRIU 4.2 does.
 * The restore compares the image's CPU with this one before it creates any
 * task: the xsave features and sizes (fpu), the instruction sets user code
 * may have picked at start-up (ins), or every capability word (cpu).  It
 * also refuses registers whose xsave state this kernel has not enabled
 * (XCR0), which rt_sigreturn would otherwise reject by killing the task.
 */
#ifndef STASIS_ARCH_X86_CPUINFO_H
#define STASIS_ARCH_X86_CPUINFO_H

#include <stdbool.h>

struct opts;
struct rst_ctx;

/* --cpu-cap bits.  The values are CRIU's: RPC's cpu_cap carries them. */
#define CPU_CAP_NONE	0u
#define CPU_CAP_FPU	(1u << 0)	/* xsave features and xsave sizes */
#define CPU_CAP_CPU	(1u << 1)	/* every capability word equal */
#define CPU_CAP_INS	(1u << 2)	/* the instruction set extensions */
#define CPU_CAP_IMAGE	(1u << 3)	/* --cpu-cap given: cpuinfo.img must exist */
#define CPU_CAP_ALL	(CPU_CAP_FPU | CPU_CAP_CPU | CPU_CAP_INS)
#define CPU_CAP_DEFAULT	(CPU_CAP_FPU | CPU_CAP_INS)

/*
 * Apply --cpu-cap[=ARG] to *@caps: ARG is a comma-separated list of fpu,
 * cpu, ins, all, none, each negated by a leading '^'; no ARG means all.
 * 0, or -EINVAL after logging the bad word.
 */
int cpu_cap_parse(const char *arg, unsigned int *caps);

/* Write cpuinfo.img for this CPU into @dirfd; 0 or -errno. */
int cpuinfo_dump(int dirfd);

/*
 * Check cpuinfo.img in @dirfd against this CPU for the checks in @caps.
 * A missing image is an error when @required, else nothing is checked.
 * 0, -ENOTSUP when this CPU cannot stand in, -EINVAL for a bad image.
 */
int cpuinfo_check(int dirfd, unsigned int caps, bool required);

/* The restore's check, before any task exists: cpuinfo.img and registers. */
int cpuinfo_restore_check(struct rst_ctx *ctx);

/* `stasis cpuinfo dump|check -D DIR`, as CRIU's; 0 or -errno. */
int cr_cpuinfo(const struct opts *o);

#endif
