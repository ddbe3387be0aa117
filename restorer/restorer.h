/*
 * restorer.h - the contract between stasis and the restorer blob.
 *
 * In each restored task, stasis (src/restore.c, mem-restore.c, core.c) maps one
 * region where neither it nor the target has memory, copies the blob to
 * its start and fills a struct rst_args after it, all pointers already
 * pointing inside the region.  It then jumps to the blob's entry with
 * %rdi = the args and %rsp at args->stack_top.  The blob:
 *
 *   1. unmaps everything outside the region, the vvar/vdso it keeps;
 *   2. moves the kernel's vvar and vdso where src/vdso.c planned: to the
 *      dumped addresses, or clear of the task's areas when the image's
 *      vDSO is rebuilt as a proxy; in between, while they are aside, the
 *      areas filled before the fork move from their staging range to
 *      their places;
 *   3. maps every VMA, reads its pages from the pages image, copies the
 *      vDSO proxy's bytes in, makes the AIO rings again over their
 *      areas, registers the lazy areas with the task's userfaultfd
 *      (restore --lazy-pages: a daemon fills them), sets the protections
 *      and madvise flags;
 *   4. restores the mm fields (PR_SET_MM_MAP) and the rlimits;
 *   5. creates the other threads with their TIDs (clone3 set_tid);
 *   6. in every thread: TLS bases, robust list, rseq, clear-tid address,
 *      name, scheduling, credentials; then reports ready and waits for
 *      the whole tree (stage RST_STAGE_GO);
 *   7. sets the timers, queues the pending signals, closes the service
 *      fds, and every thread returns into its saved registers through
 *      rt_sigreturn from the frame stasis built.
 *
 * stasis traces every thread from stage RST_STAGE_GO on, stops it at the
 * exit of that rt_sigreturn, unmaps the whole region (blob, args, stacks
 * and the shared area at its end) with a system call it runs in the task,
 * stops the task if it was stopped, and lets it go: nothing of the
 * restore is left in the task (src/restore-finish.c).
 *
 * The blob cannot log.  On failure it writes the step and errno into
 * the shared area and exits the whole task; stasis reports it.
 *
 * Only fixed-size types here: this header is built into both.
 */
#ifndef STASIS_RESTORER_H
#define STASIS_RESTORER_H

#include <stdint.h>

/* The stages every restored task goes through, in order. */
enum rst_stage {
	RST_STAGE_FORKED,	/* every task exists, sessions made */
	RST_STAGE_PGRP,		/* process groups joined */
	RST_STAGE_READY,	/* memory, threads, everything but the last step */
	RST_STAGE_GO,		/* run */
	RST_STAGE_NR,
};

#define RST_ERR_MSG	160

/* One MAP_SHARED area seen by the controller and every restored task. */
struct rst_shared {
	int32_t stage;			/* futex: the stage now open */
	int32_t done[RST_STAGE_NR];	/* futex: tasks through each stage */
	int32_t error;			/* the first failure: -errno */
	int32_t err_pid;
	int32_t fill_helpers;		/* tasks whose pages several threads read (for the log) */
	char err_msg[RST_ERR_MSG];
};

struct rst_vma {
	uint64_t start, end, pgoff;
	uint64_t madv;			/* bit N: madvise(MADV N) */
	int32_t prot, flags;		/* for mmap */
	int32_t fd;			/* -1: anonymous */
	int32_t fill;			/* pages are read into it: map it writable first */
	int32_t guard;			/* not an area: a guard region installed in one */
	int32_t lazy;			/* registered with the userfaultfd: pages come later */
	int32_t premap;			/* mapped and filled before the fork: moved in */
	/*
	 * SysV shared memory: RST_SYSV_ATTACH, shmat() segment fd (its id)
	 * here with shmflg (the whole segment); RST_SYSV_PART, a later part
	 * of an attachment an area before made.  Both get prot afterwards.
	 */
	int32_t sysv;
	int32_t shmflg;
	int32_t pad;
};
#define RST_SYSV_ATTACH		1
#define RST_SYSV_PART		2

/* Pages contiguous in memory and in one pages image (the dump's, or a parent's). */
struct rst_run {
	uint64_t addr, len, off;
	int32_t fd;			/* the pages image they are in */
	int32_t pad;
};

/*
 * An AIO ring (io_setup context) to make again.  Its area is in vmas as
 * plain anonymous memory, filled with the dumped ring; the restorer makes
 * a new context with io_setup(nr_req), brings its tail and events to the
 * dumped ones and moves the new ring over the area (src/aio.c).
 */
struct rst_aio {
	uint64_t addr, len;
	uint32_t nr_req;		/* for io_setup() */
	uint32_t nr;			/* the ring's events: what len holds */
};

/* The kernel's AIO ring header (struct aio_ring, fs/aio.c); the events follow. */
struct rst_aio_hdr {
	uint32_t id;			/* the kernel's index of the context: not ours to set */
	uint32_t nr, head, tail, magic;
	uint32_t compat_features, incompat_features, header_length;
};

#define RST_AIO_MAGIC		0xa10a10a1u
#define RST_AIO_EVENT_SIZE	32	/* struct io_event */

/* The kernel's vvar and vdso pieces the restorer moves, at most. */
#define RST_MOVES_MAX	8

/* A region to move (vvar, vdso), whole areas only. */
struct rst_move {
	uint64_t from, to, len;
};

struct rst_range {
	uint64_t start, end;
};

/* The fill's threads at most, one per core; TIDs they may take, in order. */
#define RST_FILL_THREADS	4
#define RST_HELPER_TIDS		8

/* A thread of the fill but the leader. */
struct rst_fill_thread {
	int32_t tid;			/* futex: set while it runs, cleared at its exit */
	int32_t pad;
	uint64_t stack_top;
};

/* Kept through the unmap: the region, the vvar/vdso pieces, the premapped areas. */
#define RST_KEEP_MAX	(RST_MOVES_MAX + 2)

struct rst_timespec {
	int64_t sec, nsec;
};

struct rst_itimer {
	int64_t interval_sec, interval_usec, value_sec, value_usec;
};

struct rst_posix_timer {
	int32_t id, clock, signo, notify, notify_tid, pad;
	uint64_t sival;
	struct rst_timespec interval, value;
};

struct rst_rlimit {
	uint64_t cur, max;
};

#define RST_RLIM_NR	16
#define RST_NGROUPS_MAX	64

struct rst_creds {
	uint32_t uid, euid, suid, fsuid, gid, egid, sgid, fsgid;
	uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
	uint32_t secbits, nr_groups;
	uint32_t groups[RST_NGROUPS_MAX];
	int32_t no_new_privs, pad;
};

/* One seccomp filter, as seccomp(SECCOMP_SET_MODE_FILTER) takes it. */
struct rst_seccomp_filter {
	uint64_t insns;			/* struct sock_filter[len] */
	uint32_t len, flags;
};

struct rst_thread {
	int32_t tid;
	int32_t pdeath_sig;
	uint64_t frame;			/* the rt_sigframe; %rsp = frame + 8 */
	uint64_t stack_top;		/* the blob's stack for this thread */
	uint64_t fs_base, gs_base;
	uint64_t clear_tid;
	uint64_t robust_list, robust_len;
	uint64_t rseq, rseq_len, rseq_sig;
	uint64_t siginfo;		/* pending for this thread: 128 bytes each */
	uint32_t nr_siginfo;
	int32_t has_sched, sched_policy, sched_prio, sched_nice, pad;
	char comm[16];
	struct rst_creds creds;
	int32_t has_creds;
	int32_t seccomp_mode;		/* 0 none, 1 strict, 2 filters */
	uint64_t filters;		/* struct rst_seccomp_filter[], the oldest first */
	uint32_t nr_filters, pad2;
};

struct rst_mm {
	uint64_t start_code, end_code, start_data, end_data, start_stack;
	uint64_t start_brk, brk, arg_start, arg_end, env_start, env_end;
	uint64_t auxv;			/* address of the saved auxv words */
	uint32_t auxv_size;		/* bytes */
	int32_t exe_fd;			/* -1: leave it */
	/* 0 or 1, set once the creds are: a change of euid resets it; -1: leave it. */
	int32_t dumpable, pad;
};

/*
 * A POSIX lock of the task's, taken by the restorer once the pool's fds
 * are closed: closing any fd of a file drops the POSIX locks on it.
 */
struct rst_posix_lock {
	int32_t fd, type;		/* F_RDLCK, F_WRLCK */
	int64_t start, len;		/* len 0: to the end of the file */
};

struct rst_args {
	struct rst_shared *shared;
	int32_t pid, stopped;		/* stopped: the signal stasis stops it with at the end, or 0 */
	int32_t pad0, pad1;

	/* Step 1-2. */
	struct rst_range keep[RST_KEEP_MAX];	/* sorted; the rest is unmapped */
	uint32_t nr_keep;
	uint32_t nr_moves;
	struct rst_move moves[RST_MOVES_MAX];	/* vvar, vvar_vclock, vdso */
	uint64_t move_tmp;		/* scratch room in the region for them */

	/* Step 3. */
	struct rst_vma *vmas;
	uint32_t nr_vmas;
	int32_t pages_fd;		/* -1: no pages */
	struct rst_run *runs;
	uint32_t nr_runs;
	int32_t uffd;			/* --lazy-pages: lazy areas registered here; -1 */
	struct rst_aio *aios;		/* made once the pages are in */
	uint32_t nr_aios;
	uint32_t pad_aios;
	/*
	 * Areas mapped and filled before the fork (src/mem-premap.c), in a
	 * staging range clear of every area: moved to their places, then
	 * the rest of the range (fillers between them) unmapped.
	 */
	struct rst_move *premap;
	uint32_t nr_premap;
	uint32_t pad_premap;
	struct rst_range premap_range;	/* empty: none */
	/*
	 * The fill on several cores (src/mem-fill.c): the runs cut in
	 * slices of a few MiB, slice k being runs[slices[k], slices[k + 1]);
	 * the leader and nr_fill - 1 threads of the blob's own each take
	 * the next slice not taken (fill_next) until none is left, so that
	 * a thread the machine leaves waiting holds up no more than one
	 * (nr_fill 0 or 1: the leader reads them all).  A thread takes the
	 * next of helper_tids the kernel grants (clone3 set_tid): TIDs stasis
	 * chose outside every pid of the images, so that none the tree's own
	 * threads get later is taken; they have exited before those are
	 * made.  A thread that cannot start leaves its slices to the others.
	 */
	uint32_t nr_fill;
	uint32_t nr_slices;
	uint32_t *slices;		/* nr_slices + 1 */
	int32_t fill_next;
	int32_t pad_fill;
	struct rst_fill_thread fill[RST_FILL_THREADS];
	int32_t helper_tids[RST_HELPER_TIDS];
	/* The vDSO proxy: its bytes, copied into its area (mapped, fill set). */
	uint64_t proxy_src, proxy_dst, proxy_len;	/* len 0: none */

	/* Step 4. */
	struct rst_mm mm;
	struct rst_rlimit rlimits[RST_RLIM_NR];
	uint32_t nr_rlimits;

	/* Step 5-6. */
	uint32_t nr_threads;
	struct rst_thread *threads;	/* threads[0] is the leader */
	int32_t threads_ready;		/* futex, counted by the blob */
	int32_t pad3;

	/* Step 7. */
	struct rst_itimer itimers[3];
	struct rst_posix_timer *timers;
	uint32_t nr_timers;
	uint32_t nr_siginfo;
	uint64_t siginfo;		/* pending for the whole process */
	int32_t close_from;		/* the first service fd */
	int32_t close_after_go;		/* fd table shared: others still map from the pool */
	struct rst_posix_lock *locks;	/* taken once the fds above are closed */
	uint32_t nr_locks;
	uint32_t pad_locks;
};

/* Each thread's stack in the region. */
#define RST_THREAD_STACK	(64ul << 10)

/* The blob's entry: stasis jumps here, %rdi = args, %rsp = leader's stack. */
#define RST_ENTRY_OFFSET	0

#endif
