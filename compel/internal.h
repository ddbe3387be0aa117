/*
 * internal.h - what the pieces of libcompel share.
 */
#ifndef STASIS_COMPEL_INTERNAL_H
#define STASIS_COMPEL_INTERNAL_H

#include <stdbool.h>
#include <sys/types.h>
#include <sys/user.h>

#include "stasis/compel.h"
#include "parasite-proto.h"

struct task {
	struct compel_task pub;
	pid_t *tids;		/* seized threads; pub.threads points here */
	int cap;
	bool stop_owed;		/* a SIGSTOP we held back: raised again on release */
	unsigned long syscall_ip;	/* a syscall instruction of its; 0: not looked for yet */
	unsigned long vdso_start, vdso_end;
	unsigned long stub;		/* stub.c: in its vDSO, 0 if none */
	int stub_mem;			/* its /proc/PID/mem, while stub is set */
	bool leftovers;			/* a parasite may be mapped there: look */
	struct compel_ctl *stub_owner;	/* the thread whose cure the stub holds */
	pid_t keeper;			/* keeper.c: holds its memory while it dies, or 0 */
	pid_t pending;			/* the leader, seized and interrupted, its stop not waited for */
	struct compel_ctl *parked;	/* compel_park(): its idle parasite, cured or killed at release */
};

struct compel_tree {
	struct task *tasks;
	size_t nr, cap;
	void (*on_pids_free)(void *arg);	/* compel_tree_on_pids_free() */
	void *on_pids_free_arg;
};

/* The options every thread is seized with. */
#define SEIZE_OPTIONS	(PTRACE_O_TRACESYSGOOD | PTRACE_O_SUSPEND_SECCOMP)

/* keeper.c: before the kill, a process holding @t's memory if it is big. */
void compel_keeper_spawn(struct compel_tree *tree, struct task *t);
/* After it: the keepers killed, the caller told; a thread of ours reaps them. */
void compel_keepers_release(struct compel_tree *tree);
/* infect.c: after the kill, a parked parasite's ctl freed without a cure. */
void compel_park_drop(struct compel_ctl *ctl);

/* Where the task we work in is stopped, which decides how we give it back. */
enum stop_kind {
	STOP_EVENT,		/* PTRACE_EVENT_STOP inside get_signal(): as seized */
	STOP_SYSCALL,		/* syscall-exit-stop after a remote call */
	STOP_RUNNING,		/* not stopped: the parasite is running */
};

struct compel_ctl {
	struct compel_tree *tree;
	struct task *task;
	pid_t tid;

	/* The task as found: given back exactly by compel_cure(). */
	struct user_regs_struct regs;
	void *xsave;
	size_t xsave_len;
	uint64_t sigmask;

	unsigned long syscall_ip;	/* a syscall instruction in the task */
	enum stop_kind where;

	/* The parasite, once infected. */
	unsigned long remote_map;	/* its address in the task, 0 if none */
	size_t map_len;
	void *local_map;		/* our view of the same memfd */
	struct parasite_area *area;
	bool masked;			/* we blocked its signals */
	bool busy;			/* a command is running */
	bool failed;			/* a step failed: only curing is allowed */
	long started_nr;		/* a remote call started, not finished (compel_infect_start) */
	enum compel_cmd answered;	/* the first command, answered at the start; 0 none */
};

/* log.c */
void compel_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define cpr_err(fmt, ...)	compel_log(COMPEL_LOG_ERROR, fmt, ##__VA_ARGS__)
#define cpr_warn(fmt, ...)	compel_log(COMPEL_LOG_WARN, fmt, ##__VA_ARGS__)
#define cpr_info(fmt, ...)	compel_log(COMPEL_LOG_INFO, fmt, ##__VA_ARGS__)
#define cpr_debug(fmt, ...)	compel_log(COMPEL_LOG_DEBUG, fmt, ##__VA_ARGS__)
/* True when @fault is the one injected (compel_set_fault); logs it. */
bool compel_fault_hit(enum compel_fault fault);

/* guard.c */
bool compel_guard_possible(pid_t tid);
int compel_guard_arm(struct parasite_area *area);
void compel_guard_disarm(struct parasite_area *area);
unsigned long compel_find_leftover(pid_t pid, size_t len, size_t *found);

/* stub.c */
/* @mem: the task's /proc/PID/mem, read-write; kept with the stub, or closed. */
void compel_stub_setup(struct task *t, int mem);
unsigned long compel_stub_enter(struct compel_ctl *ctl, struct user_regs_struct *regs);
void compel_stub_leave(struct compel_ctl *ctl);
unsigned long compel_stub_name(const struct task *t);
void compel_stub_remove(struct task *t);
void compel_stub_forget(struct task *t);

/* proc-stat.c */
struct proc_stat {
	char state;
	pid_t ppid;
	unsigned long flags;	/* PF_* */
	int exit_code;
};
#define PF_IO_WORKER	0x00000010	/* a kernel thread of io_uring's in the group */
int compel_read_stat(pid_t pid, struct proc_stat *st);
/* Gone, a zombie, or dying: it will stop for us no more. */
bool compel_thread_exiting(pid_t tid);
/*
 * "start-end perms ..." of a /proc/PID/maps line, without sscanf (a
 * task's maps are read at each infection); false if it is not one.
 */
bool compel_maps_range(const char *line, unsigned long *start, unsigned long *end,
		       char perms[5]);

/* ptrace.c */
int compel_wait_stop(pid_t tid, int *status);
bool compel_is_event_stop(int status);
bool compel_is_syscall_stop(int status);
bool compel_is_sigstop(int status);

/* regs-x86.c */
int compel_get_regs(pid_t tid, struct user_regs_struct *regs);
int compel_set_regs(pid_t tid, const struct user_regs_struct *regs);
int compel_get_xsave(pid_t tid, void **buf, size_t *len);
int compel_set_xsave(pid_t tid, void *buf, size_t len);
void compel_set_syscall_regs(struct user_regs_struct *regs, unsigned long ip, long nr,
			     const unsigned long args[6]);
long compel_syscall_result(const struct user_regs_struct *regs);
void compel_fill_cure(struct parasite_cure *c, const struct user_regs_struct *regs,
		      uint64_t sigmask);
/*
 * A syscall instruction of @pid (read through @memfd, its /proc/PID/mem),
 * where its vDSO is (0, 0: none), and whether it has an rwxs area.
 */
int compel_find_syscall_insn(pid_t pid, int memfd, unsigned long *ip, unsigned long *vdso_start,
			     unsigned long *vdso_end, bool *rwxs);

/* The parasite blob, linked in from parasite-blob.S. */
extern const unsigned char compel_parasite_blob[];
extern const unsigned char compel_parasite_blob_end[];

#endif
