/*
 * compel.h - seize a process tree, run code inside its tasks, and leave no
 * trace.  Part of stasis; usable on its own (libcompel).
 *
 * The life of a seized tree:
 *
 *	compel_tree_seize(root)            every thread of every task stopped
 *	  compel_prepare(tree, pid)        one task taken over for remote work
 *	    compel_syscall(ctl, ...)       run a system call inside it
 *	    compel_infect(ctl)             map and start the parasite
 *	      compel_rpc(ctl, cmd)         have the parasite run a command
 *	  compel_cure(ctl)                 parasite gone, task exactly as found
 *	  (or compel_park(ctl)             left in place for a kill; cured if none)
 *	compel_tree_release(tree, flags)   detach: everyone runs on (or is killed)
 *
 * "Exactly as found" means: every register including the whole xsave area,
 * the signal mask and pending signals, and any interrupted system call.  A
 * task stopped in nanosleep() goes on sleeping until its original deadline
 * once released; a blocked read() stays blocked; a futex wait sees no
 * spurious wakeup.  Tasks that were stopped (SIGSTOP, job control) are
 * stopped again after release.  Zombies are recorded, never touched.
 *
 * Threading: a tree and everything made from it belong to the thread that
 * seized it (ptrace is per tracer thread).
 *
 * Errors: functions return 0 or a negative errno and log the reason through
 * the callback set with compel_set_log().  No failing call leaves a task
 * stopped or a parasite mapped behind it: after an error in compel_prepare,
 * compel_syscall, compel_infect or compel_rpc, compel_cure still restores
 * the task, and compel_tree_release always detaches everything.
 */
#ifndef STASIS_COMPEL_H
#define STASIS_COMPEL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* --- logging --- */

enum compel_log_level {
	COMPEL_LOG_ERROR = 1,
	COMPEL_LOG_WARN = 2,
	COMPEL_LOG_INFO = 3,
	COMPEL_LOG_DEBUG = 4,
};

/* @fn gets every message at or below @level; NULL silences the library. */
typedef void (*compel_log_fn)(int level, const char *msg, void *arg);
void compel_set_log(compel_log_fn fn, void *arg, int level);

/* --- the tree --- */

enum compel_task_state {
	COMPEL_TASK_ALIVE = 1,
	COMPEL_TASK_STOPPED = 2,	/* was in group stop when seized */
	COMPEL_TASK_ZOMBIE = 3,		/* recorded, not seized */
};

struct compel_task {
	pid_t pid;		/* thread group id */
	pid_t ppid;		/* parent, as the kernel reports it */
	int state;		/* enum compel_task_state */
	int exit_code;		/* zombies: the wait status the parent will see */
	int nr_threads;		/* 0 for zombies */
	const pid_t *threads;	/* thread ids, the group leader first */
	int stop_signo;		/* COMPEL_TASK_STOPPED: the signal that stopped it */
};

struct compel_tree;

/*
 * Seize and stop @root and all its descendants, every thread, including
 * threads and children created while the freeze is under way.  A task
 * traced by someone else is an error (-EBUSY).  The library waits for
 * ptrace stops on SIGCHLD: the caller must not ignore it (SIG_IGN), and
 * its other threads should block it, or a stop may be noticed late.
 */
int compel_tree_seize(pid_t root, struct compel_tree **tree);

size_t compel_tree_nr_tasks(const struct compel_tree *tree);
/* Tasks in discovery order: the root first, a parent before its children. */
const struct compel_task *compel_tree_task(const struct compel_tree *tree, size_t i);

enum {
	COMPEL_RELEASE_KILL = 1 << 0,	/* SIGKILL every task instead of resuming */
};

/*
 * Detach from everything (resumed, or re-stopped if it was stopped), or
 * with COMPEL_RELEASE_KILL kill it and return once every thread is dead;
 * frees @tree.  Parked parasites (compel_park) are cured first, or with
 * COMPEL_RELEASE_KILL die with their tasks.
 */
int compel_tree_release(struct compel_tree *tree, unsigned flags);

/*
 * With COMPEL_RELEASE_KILL, a task holding much memory frees its pid
 * before its memory (keeper.c): @fn(@arg) is called once every task of the
 * tree is dead and reaped, its pids free; compel_tree_release() then
 * returns while the kernel frees that memory (a thread of ours reaps the
 * keepers).
 */
void compel_tree_on_pids_free(struct compel_tree *tree, void (*fn)(void *), void *arg);

/* --- remote work in one task --- */

struct compel_ctl;

/* Take over task @pid (its group leader) of @tree for remote work. */
int compel_prepare(struct compel_tree *tree, pid_t pid, struct compel_ctl **ctl);

/*
 * The same for one thread @tid of a task (any thread, the leader too).  A
 * thread's ctl runs remote calls only, no parasite; memory for their
 * arguments can come from the leader's parasite area (compel_remote_addr).
 */
int compel_prepare_thread(struct compel_tree *tree, pid_t tid, struct compel_ctl **ctl);

/* Run system call @nr with up to six arguments; *@ret gets its result (-errno on failure). */
int compel_syscall(struct compel_ctl *ctl, long nr, long *ret,
		   unsigned long a1, unsigned long a2, unsigned long a3,
		   unsigned long a4, unsigned long a5, unsigned long a6);

/*
 * Map the parasite into the task (a memfd shared with us) and start it on
 * its own stack, with all signals blocked.  It then serves compel_rpc().
 */
int compel_infect(struct compel_ctl *ctl);

/*
 * compel_infect()'s first step started without waiting for it: the thread
 * runs on toward its first remote call while the caller does other work
 * (another task's), and compel_infect() goes on from there.  Nothing else
 * may be asked of @ctl in between; compel_cure() still undoes it.  0, or
 * -errno (then only compel_cure() is allowed).
 */
int compel_infect_start(struct compel_ctl *ctl);

/*
 * The parasite's commands.  Arguments and results pass through the shared
 * area returned by compel_rpc_area(), laid out as struct compel_rpc_args.
 */
enum compel_cmd {
	COMPEL_CMD_NOP = 1,		/* answer, nothing else */
	COMPEL_CMD_GET_SIGACTS,		/* out: sigacts[1..64] */
	COMPEL_CMD_GET_ITIMERS,		/* out: itimers[ITIMER_REAL..PROF] */
	COMPEL_CMD_GET_MISC,		/* out: misc */
	COMPEL_CMD_DUMP_PAGES,		/* in: pages; vmsplice them into pages.pipe_fd */
	COMPEL_CMD_SYSCALL,		/* in/out: sys; a system call made by the parasite */
	COMPEL_CMD_GET_TASK,		/* out: task; GET_SIGACTS, GET_ITIMERS and GET_MISC at once */
	COMPEL_CMD_NR,
};

/* The kernel's struct sigaction for rt_sigaction(2). */
struct compel_sigaction {
	uint64_t handler;
	uint64_t flags;
	uint64_t restorer;
	uint64_t mask;
};

struct compel_itimer {
	int64_t interval_sec, interval_usec;
	int64_t value_sec, value_usec;
};

struct compel_misc {
	uint32_t umask;
	int32_t pid, sid, pgid, tid;
	uint32_t personality;
	int32_t dumpable;		/* prctl(PR_GET_DUMPABLE) */
	int32_t child_subreaper;	/* prctl(PR_GET_CHILD_SUBREAPER) */
	int32_t pdeath_sig;		/* prctl(PR_GET_PDEATHSIG) */
	int32_t no_new_privs;		/* prctl(PR_GET_NO_NEW_PRIVS) */
	int32_t thp_disabled;		/* prctl(PR_GET_THP_DISABLE) */
	int32_t securebits;		/* prctl(PR_GET_SECUREBITS), of the calling thread */
	int64_t brk;			/* brk(0): the heap's current end */
	int64_t membarrier;		/* membarrier(MEMBARRIER_CMD_GET_REGISTRATIONS) */
	uint64_t tid_address;		/* prctl(PR_GET_TID_ADDRESS), of the calling thread */
	int64_t tid_address_ret;	/* and that call's result */
	uint64_t ss_sp, ss_size;	/* sigaltstack(), of the calling thread */
	int32_t ss_flags;
	int32_t ss_ret;			/* and that call's result */
};

/* Everything GET_TASK tells: a task's state in one round trip. */
struct compel_task_info {
	struct compel_sigaction sigacts[64];
	struct compel_itimer itimers[3];
	struct compel_misc misc;
};

#define COMPEL_MAX_IOVS	1024

struct compel_page_iov {
	uint64_t base;		/* address in the task */
	uint64_t len;		/* bytes, a multiple of the page size */
};

struct compel_pages {
	int32_t pipe_fd;	/* in the task: write end of a pipe */
	uint32_t nr_iovs;
	uint32_t flags;		/* vmsplice(2) flags */
	uint32_t done;		/* out: iovecs fully moved */
	struct compel_page_iov iovs[COMPEL_MAX_IOVS];
};

struct compel_syscall_args {
	int64_t nr;
	uint64_t args[6];	/* pointers must be task addresses: compel_remote_addr() */
	int64_t ret;		/* out: result, -errno on failure */
};

union compel_rpc_args {
	struct compel_syscall_args sys;
	struct compel_sigaction sigacts[64];	/* index = signal - 1 */
	struct compel_itimer itimers[3];
	struct compel_misc misc;
	struct compel_task_info task;
	struct compel_pages pages;
};

union compel_rpc_args *compel_rpc_area(struct compel_ctl *ctl);

/* Where @local, a place inside compel_rpc_area(), is in the task's memory. */
unsigned long compel_remote_addr(struct compel_ctl *ctl, const void *local);

/* Run @cmd in the parasite and wait for it; 0 or the command's -errno. */
int compel_rpc(struct compel_ctl *ctl, enum compel_cmd cmd);

/*
 * As compel_infect(), with @first as the parasite's first command in place
 * of the check that it runs: it answers as it starts, and a compel_rpc()
 * of @first right after returns that answer without a round trip.
 */
int compel_infect_with(struct compel_ctl *ctl, enum compel_cmd first);

/*
 * System call @nr inside the task, made by its parasite (pass 0 for the
 * arguments it does not take): 0 and the call's own result (a -errno included) in
 * *@res, or compel's -errno when the parasite could not make it.
 */
int compel_rpc_syscall(struct compel_ctl *ctl, long nr, long *res,
		       unsigned long a1, unsigned long a2, unsigned long a3,
		       unsigned long a4, unsigned long a5, unsigned long a6);

/*
 * Memory for a call's in and out buffers, shared by us and the task:
 * @size bytes (at most COMPEL_SCRATCH_SIZE) of the parasite's area, zeroed,
 * whose address in the task goes in *@remote; NULL if @ctl has no parasite
 * or @size is too large.  There is one: each call reuses it.  A thread's
 * remote calls (compel_syscall) may use its leader's.
 */
#define COMPEL_SCRATCH_SIZE	4096
void *compel_scratch(struct compel_ctl *ctl, size_t size, unsigned long *remote);

/*
 * The same in two halves, for commands the caller must serve while they
 * run (the reading end of a pipe that DUMP_PAGES fills).
 */
int compel_rpc_start(struct compel_ctl *ctl, enum compel_cmd cmd);
int compel_rpc_wait(struct compel_ctl *ctl);

/*
 * Undo compel_prepare and compel_infect: stop and unmap the parasite,
 * restore registers, xsave state and signal mask.  The task stays stopped
 * under the tree until compel_tree_release().  Frees @ctl.
 */
int compel_cure(struct compel_ctl *ctl);

/*
 * Leave @ctl's idle parasite where it is instead of curing it, when the
 * tree is to be killed: compel_tree_release() with COMPEL_RELEASE_KILL
 * then kills the task as it is and frees @ctl, so the cure's stops and
 * remote calls are never made.  Released any other way (the dump failed,
 * or the tree runs on after all), the task is cured first: it is given
 * back exactly as found all the same.  compel_cure(ctl) still cures it
 * earlier, for another task that shares its memory.  A parked @ctl takes
 * no more commands.  0, or -EINVAL when it has no idle parasite.
 */
int compel_park(struct compel_ctl *ctl);

/* --- testing --- */

/* Make one step fail on purpose, as if the kernel had refused it. */
enum compel_fault {
	COMPEL_FAULT_NONE,
	COMPEL_FAULT_SEIZE,	/* after some threads are seized */
	COMPEL_FAULT_SYSCALL,	/* after the remote call ran */
	COMPEL_FAULT_INFECT,	/* after the parasite is mapped, before it runs */
	COMPEL_FAULT_RPC,	/* after the command was sent */
	COMPEL_FAULT_CURE,	/* the unmap of the parasite */
	COMPEL_FAULT_VDSO_ROOM,	/* not a failure: the vDSO is taken to have no room for the stub */
};

void compel_set_fault(enum compel_fault fault);

#ifdef __cplusplus
}
#endif

#endif
