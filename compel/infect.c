/*
 * infect.c - remote system calls, the parasite, and curing.
 *
 * How a task is given back untouched.  When seized it sits in the kernel's
 * signal path (the interrupt stop) with its registers as user space left
 * them; if it was inside a system call, orig_ax holds the call and ax the
 * kernel's "restart me" code.  We save all of that, and the signal mask,
 * block every signal while we work (pending ones stay pending), and run
 * our calls with orig_ax = -1 so that no restart logic fires on our
 * behalf.  To give the task back we restore the registers and the mask and
 * bring it to the interrupt stop once more (PTRACE_INTERRUPT + PTRACE_CONT)
 * so that on detach the kernel finishes the signal path exactly as it
 * would have: the interrupted call restarts, a nanosleep through its
 * restart block with its original deadline.  Nothing we run touches that
 * restart block: our calls do not set one, and the parasite's futex waits
 * have no timeout.  No rt_sigreturn is used either, since it would reset it.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define PARASITE_PAGE	4096UL
#define ROUND_PAGE(x)	(((x) + PARASITE_PAGE - 1) & ~(PARASITE_PAGE - 1))
#define RPC_TIMEOUT_MS	10000
#define MAX_LEFTOVERS	16	/* parasites of killed dumps unmapped at once */

#ifndef MFD_EXEC
#define MFD_EXEC	0x0010U
#endif

static struct task *tree_find(struct compel_tree *tree, pid_t pid)
{
	for (size_t i = 0; i < tree->nr; i++)
		if (tree->tasks[i].pub.pid == pid)
			return &tree->tasks[i];
	return NULL;
}

/* The task of @tree that thread @tid belongs to. */
static struct task *tree_find_thread(struct compel_tree *tree, pid_t tid)
{
	for (size_t i = 0; i < tree->nr; i++)
		for (int k = 0; k < tree->tasks[i].pub.nr_threads; k++)
			if (tree->tasks[i].tids[k] == tid)
				return &tree->tasks[i];
	return NULL;
}

/*
 * Once per task: a syscall instruction, the stub, whether a parasite may
 * be left there; its /proc/PID/mem opened once for all of it.
 */
static int task_setup(struct task *t)
{
	char path[64];
	int mem, ret;

	snprintf(path, sizeof(path), "/proc/%d/mem", t->pub.pid);
	mem = open(path, O_RDWR | O_CLOEXEC);
	if (mem < 0) {
		ret = -errno;
		cpr_err("pid %d: cannot open its mem: %m", t->pub.pid);
		return ret;
	}
	ret = compel_find_syscall_insn(t->pub.pid, mem, &t->syscall_ip, &t->vdso_start,
				       &t->vdso_end, &t->leftovers);
	if (ret)
		close(mem);
	else
		compel_stub_setup(t, mem);
	return ret;
}

int compel_prepare_thread(struct compel_tree *tree, pid_t tid, struct compel_ctl **out)
{
	struct task *t = tree_find_thread(tree, tid);
	struct compel_ctl *ctl;
	int ret;

	if (!t) {
		cpr_err("tid %d: not a thread of the seized tree", tid);
		return -ESRCH;
	}
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return -ENOMEM;
	ctl->tree = tree;
	ctl->task = t;
	ctl->tid = tid;
	ctl->where = STOP_EVENT;

	ret = compel_get_regs(ctl->tid, &ctl->regs);
	if (!ret)
		ret = compel_get_xsave(ctl->tid, &ctl->xsave, &ctl->xsave_len);
	if (!ret && ptrace(PTRACE_GETSIGMASK, ctl->tid, sizeof(ctl->sigmask), &ctl->sigmask)) {
		ret = -errno;
		cpr_err("tid %d: PTRACE_GETSIGMASK: %m", ctl->tid);
	}
	/* Once per task: its threads share its memory. */
	if (!ret && !t->syscall_ip)
		ret = task_setup(t);
	if (!ret)
		ctl->syscall_ip = t->syscall_ip;
	if (ret) {
		free(ctl->xsave);
		free(ctl);
		return ret;
	}
	*out = ctl;
	return 0;
}

int compel_prepare(struct compel_tree *tree, pid_t pid, struct compel_ctl **out)
{
	struct task *t = tree_find(tree, pid);

	if (!t || !t->pub.nr_threads) {
		cpr_err("pid %d: not a live task of the seized tree", pid);
		return -ESRCH;
	}
	return compel_prepare_thread(tree, t->tids[0], out);
}

/*
 * A task seized in a group stop can owe us one more interrupt stop (the
 * seize itself traps it, and so does our PTRACE_INTERRUPT).  It comes at
 * the first resume, before the task has run: resuming once more is right.
 */
#define MAX_RETRAPS	4

/*
 * Resume to the next syscall stop (entry or exit, as @what says); with
 * @resumed, the thread was resumed already (remote_call_start()).
 */
static int step_to_syscall_stop(struct compel_ctl *ctl, const char *what, bool resumed)
{
	int status, ret;

	for (int i = 0; i < MAX_RETRAPS; i++) {
		if (resumed)
			resumed = false;
		else if (ptrace(PTRACE_SYSCALL, ctl->tid, NULL, NULL)) {
			ret = -errno;
			cpr_err("tid %d: PTRACE_SYSCALL: %m", ctl->tid);
			return ret;
		}
		ret = compel_wait_stop(ctl->tid, &status);
		if (ret)
			return ret;
		if (compel_is_syscall_stop(status))
			return 0;
		if (compel_is_sigstop(status)) {
			ctl->task->stop_owed = true;
			continue;
		}
		if (!compel_is_event_stop(status))
			break;
	}
	cpr_err("tid %d: stopped with status 0x%x instead of at the %s of a remote call",
		ctl->tid, status, what);
	return -EIO;
}

/*
 * Block every signal before the first register of the task is changed:
 * from here on curing (ours, or the task's own) is what undoes our work.
 */
static int block_signals(struct compel_ctl *ctl)
{
	uint64_t all = ~0ULL;

	if (ctl->masked)
		return 0;
	if (ptrace(PTRACE_SETSIGMASK, ctl->tid, sizeof(all), &all)) {
		cpr_err("tid %d: PTRACE_SETSIGMASK: %m", ctl->tid);
		return -errno;
	}
	ctl->masked = true;
	return 0;
}

/*
 * Where a remote call enters: the stub in the task's vDSO, after which
 * the thread finds its way back if we die in the middle (stub.c), or
 * else the syscall instruction the task has.
 */
static unsigned long remote_entry(struct compel_ctl *ctl, struct user_regs_struct *regs)
{
	unsigned long ip = compel_stub_enter(ctl, regs);

	return ip ? ip : ctl->syscall_ip;
}

/*
 * A remote call in two halves: the thread set on its way to the call's
 * entry, then (remote_call_finish) stepped through it.  Between the two
 * it runs on its own, and the caller may do other work.
 */
static int remote_call_start(struct compel_ctl *ctl, long nr, const unsigned long args[6])
{
	struct user_regs_struct regs = ctl->regs;
	int ret;

	ret = block_signals(ctl);
	if (ret)
		return ret;
	compel_set_syscall_regs(&regs, remote_entry(ctl, &regs), nr, args);
	ret = compel_set_regs(ctl->tid, &regs);
	if (ret)
		return ret;
	ctl->where = STOP_SYSCALL;	/* whatever happens next, we left the interrupt stop */
	if (ptrace(PTRACE_SYSCALL, ctl->tid, NULL, NULL)) {
		ret = -errno;
		cpr_err("tid %d: PTRACE_SYSCALL: %m", ctl->tid);
		return ret;
	}
	ctl->started_nr = nr;
	return 0;
}

static int remote_call_finish(struct compel_ctl *ctl, long *res)
{
	struct user_regs_struct regs;
	long nr = ctl->started_nr;
	int ret;

	ctl->started_nr = 0;
	ret = step_to_syscall_stop(ctl, "entry", true);
	if (!ret)
		ret = step_to_syscall_stop(ctl, "exit", false);
	if (!ret)
		ret = compel_get_regs(ctl->tid, &regs);
	if (ret)
		return ret;
	*res = compel_syscall_result(&regs);
	cpr_debug("tid %d: remote syscall %ld = %ld", ctl->tid, nr, *res);
	return 0;
}

static int remote_call(struct compel_ctl *ctl, long nr, long *res, const unsigned long args[6])
{
	return remote_call_start(ctl, nr, args) ?: remote_call_finish(ctl, res);
}

int compel_syscall(struct compel_ctl *ctl, long nr, long *res,
		   unsigned long a1, unsigned long a2, unsigned long a3,
		   unsigned long a4, unsigned long a5, unsigned long a6)
{
	const unsigned long args[6] = { a1, a2, a3, a4, a5, a6 };
	int ret;

	if (ctl->failed || ctl->where == STOP_RUNNING || ctl->started_nr) {
		cpr_err("tid %d: cannot run a remote call now", ctl->tid);
		return -EINVAL;
	}
	ret = remote_call(ctl, nr, res, args);
	if (!ret && compel_fault_hit(COMPEL_FAULT_SYSCALL))
		ret = -EFAULT;
	if (ret)
		ctl->failed = true;
	return ret;
}

/* A remote call that must succeed; its failure is logged as @what. */
static int remote_ok(struct compel_ctl *ctl, const char *what, long nr, long *res,
		     unsigned long a1, unsigned long a2, unsigned long a3,
		     unsigned long a4, unsigned long a5, unsigned long a6)
{
	const unsigned long args[6] = { a1, a2, a3, a4, a5, a6 };
	long r;
	int ret = remote_call(ctl, nr, &r, args);

	if (ret)
		return ret;
	if (r < 0 && r > -4096) {
		cpr_err("pid %d: remote %s failed: %s", ctl->task->pub.pid, what, strerror(-r));
		return r;
	}
	if (res)
		*res = r;
	return 0;
}

static size_t parasite_code_size(void)
{
	return ROUND_PAGE(compel_parasite_blob_end - compel_parasite_blob);
}

/* The parasites killed dumps left in the task, unmapped (guard.c). */
static int unmap_leftovers(struct compel_ctl *ctl)
{
	unsigned long addr;
	size_t len;

	/* Only a shared executable area can be one: none there, no look. */
	if (!ctl->task->leftovers)
		return 0;
	for (int i = 0; i < MAX_LEFTOVERS &&
			(addr = compel_find_leftover(ctl->task->pub.pid, ctl->map_len, &len)); i++) {
		int ret = remote_ok(ctl, "munmap of a parasite left behind", __NR_munmap, NULL,
				    addr, len, 0, 0, 0, 0);

		if (ret)
			return ret;
		cpr_info("pid %d: unmapped the parasite a killed stasis left at 0x%lx",
			 ctl->task->pub.pid, addr);
	}
	return 0;
}

/* A remote call whose failure is an answer, not an error: nothing logged. */
static long remote_try(struct compel_ctl *ctl, long nr, unsigned long a1, unsigned long a2,
		       unsigned long a3, unsigned long a4, unsigned long a5, unsigned long a6)
{
	const unsigned long args[6] = { a1, a2, a3, a4, a5, a6 };
	long r;

	return remote_call(ctl, nr, &r, args) ?: r;
}

/*
 * The parasite's memory as a memfd named "stasis-parasite" (the name read
 * from the stub's room), so that a killed dump's mapping is known by its
 * name.  The memfd is sized here, through /proc/PID/fd: a local truncate
 * instead of a remote one (each remote call is two ptrace stops), and the
 * same open file gives our view of it.  The task's fd is left for the
 * parasite to close as it starts (*@rfd), a remote call less.  0, its
 * address, *@lfd and *@rfd, or non-zero: then shared anonymous memory will
 * do (no stub, or exec memfds forbidden by vm.memfd_noexec).
 */
static int map_named(struct compel_ctl *ctl, long *addr, int *lfd, int *rfd)
{
	unsigned long name = compel_stub_name(ctl->task);
	char path[64];
	long fd, r;

	if (!name)
		return -ENOENT;
	if (ctl->started_nr == __NR_memfd_create)	/* compel_infect_start() */
		fd = remote_call_finish(ctl, &r) ?: r;
	else
		fd = remote_try(ctl, __NR_memfd_create, name, MFD_CLOEXEC | MFD_EXEC, 0, 0, 0, 0);
	if (fd == -EINVAL)	/* kernels before 6.3 know no MFD_EXEC */
		fd = remote_try(ctl, __NR_memfd_create, name, MFD_CLOEXEC, 0, 0, 0, 0);
	if (fd < 0)
		return fd;
	snprintf(path, sizeof(path), "/proc/%d/fd/%ld", ctl->task->pub.pid, fd);
	*lfd = open(path, O_RDWR | O_CLOEXEC);
	r = *lfd < 0 || ftruncate(*lfd, ctl->map_len) ? -errno : 0;
	if (!r)
		r = remote_try(ctl, __NR_mmap, 0, ctl->map_len, PROT_READ | PROT_WRITE | PROT_EXEC,
			       MAP_SHARED, fd, 0);
	if (r < 0 && r > -4096) {
		remote_try(ctl, __NR_close, fd, 0, 0, 0, 0, 0);
		if (*lfd >= 0)
			close(*lfd);
		*lfd = -1;
		return r;
	}
	*addr = r;
	*rfd = fd;
	return 0;
}

/*
 * The parasite's memory, mapped in the task by remote calls and here
 * through the memfd, or the map_files link of shared anonymous memory.
 */
static int map_parasite(struct compel_ctl *ctl)
{
	size_t code = parasite_code_size();
	size_t area = ROUND_PAGE(sizeof(struct parasite_area));
	char path[96];
	long addr = 0;
	int fd = -1, rfd = -1, ret;

	ctl->map_len = code + area + PARASITE_STACK_SIZE;
	ret = unmap_leftovers(ctl);
	if (!ret && map_named(ctl, &addr, &fd, &rfd))
		ret = remote_ok(ctl, "mmap of the parasite", __NR_mmap, &addr, 0, ctl->map_len,
				PROT_READ | PROT_WRITE | PROT_EXEC, MAP_SHARED | MAP_ANONYMOUS, -1,
				0);
	if (ret)
		return ret;
	ctl->remote_map = addr;
	/* The next infection of this task looks again (a cure can fail). */
	ctl->task->leftovers = true;
	snprintf(path, sizeof(path), "/proc/%d/map_files/%lx-%lx", ctl->task->pub.pid,
		 ctl->remote_map, ctl->remote_map + ctl->map_len);
	if (fd < 0)
		fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		cpr_err("cannot open %s: %m", path);
		return -errno;
	}
	ctl->local_map = mmap(NULL, ctl->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (ctl->local_map == MAP_FAILED) {
		ret = -errno;
		ctl->local_map = NULL;
		cpr_err("%s: mmap: %m", path);
	}
	close(fd);
	if (ret) {
		if (rfd >= 0)
			remote_try(ctl, __NR_close, rfd, 0, 0, 0, 0, 0);
		return ret;
	}
	memcpy(ctl->local_map, compel_parasite_blob,
	       compel_parasite_blob_end - compel_parasite_blob);
	ctl->area = (struct parasite_area *)((char *)ctl->local_map + code);
	ctl->area->memfd = rfd;
	return 0;
}

/*
 * Start the parasite on its own stack, its first command (@first) posted
 * before it runs: it answers at once instead of going to sleep first and
 * being woken for it (a wait and a wake-up less).
 */
static int start_parasite(struct compel_ctl *ctl, enum compel_cmd first)
{
	struct user_regs_struct regs = ctl->regs;
	size_t code = parasite_code_size();
	int ret;

	regs.rip = ctl->remote_map;
	regs.rsp = ctl->remote_map + ctl->map_len;
	regs.rdi = ctl->remote_map + code;
	regs.orig_rax = -1;
	/* Its way back is in place before it can first run. */
	compel_fill_cure(&ctl->area->cure, &ctl->regs, ctl->sigmask);
	if (compel_guard_possible(ctl->tid))
		compel_guard_arm(ctl->area);
	ctl->area->cmd = first;
	__atomic_store_n(&ctl->area->cmd_seq, 1, __ATOMIC_RELEASE);
	ret = compel_set_regs(ctl->tid, &regs);
	if (ret)
		return ret;
	compel_stub_leave(ctl);		/* it is in the parasite now, not at the stub */
	if (ptrace(PTRACE_CONT, ctl->tid, NULL, NULL)) {
		ret = -errno;
		cpr_err("tid %d: PTRACE_CONT: %m", ctl->tid);
		return ret;
	}
	ctl->where = STOP_RUNNING;
	ctl->busy = true;
	return 0;
}

int compel_infect_start(struct compel_ctl *ctl)
{
	unsigned long name = compel_stub_name(ctl->task);
	const unsigned long args[6] = { name, MFD_CLOEXEC | MFD_EXEC };
	int ret;

	if (ctl->failed || ctl->remote_map || ctl->started_nr || ctl->where == STOP_RUNNING) {
		cpr_err("tid %d: cannot start an infection now", ctl->tid);
		return -EINVAL;
	}
	/*
	 * Without the stub's name compel_infect() maps shared anonymous
	 * memory, and where a parasite may be left it first looks for one
	 * (remote calls of their own): nothing to start then.
	 */
	if (!name || ctl->task->leftovers)
		return 0;
	ret = remote_call_start(ctl, __NR_memfd_create, args);
	if (ret)
		ctl->failed = true;
	return ret;
}

int compel_infect_with(struct compel_ctl *ctl, enum compel_cmd first)
{
	int ret;

	if (ctl->failed || ctl->remote_map || ctl->where == STOP_RUNNING ||
	    (ctl->started_nr && ctl->started_nr != __NR_memfd_create)) {
		cpr_err("tid %d: cannot infect now", ctl->tid);
		return -EINVAL;
	}
	ret = map_parasite(ctl);
	if (!ret && compel_fault_hit(COMPEL_FAULT_INFECT))
		ret = -EFAULT;
	if (!ret)
		ret = start_parasite(ctl, first);
	if (!ret) {
		ret = compel_rpc_wait(ctl);
		/* It ran: its answer, a failure too, waits for the caller's compel_rpc(). */
		if (!ctl->failed && !ctl->busy) {
			ctl->answered = first;
			ret = 0;
		}
	}
	if (ret) {
		cpr_err("pid %d: the parasite could not be started", ctl->task->pub.pid);
		ctl->failed = true;
		return ret;
	}
	cpr_debug("pid %d: parasite at 0x%lx", ctl->task->pub.pid, ctl->remote_map);
	return 0;
}

int compel_infect(struct compel_ctl *ctl)
{
	return compel_infect_with(ctl, COMPEL_CMD_NOP);
}

union compel_rpc_args *compel_rpc_area(struct compel_ctl *ctl)
{
	return ctl->area ? &ctl->area->args : NULL;
}

static long futex(uint32_t *uaddr, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, uaddr, op, val, ts, NULL, 0);
}

/* Wait for the parasite to finish command @seq; it may also have crashed. */
static int wait_done(struct compel_ctl *ctl, uint32_t seq)
{
	struct timespec nap = { 0, 20 * 1000 * 1000 };
	int waited = 0, retraps = 0, status;

	for (;;) {
		uint32_t done = __atomic_load_n(&ctl->area->done_seq, __ATOMIC_ACQUIRE);
		pid_t r;

		if (done == seq)
			return 0;
		futex(&ctl->area->done_seq, FUTEX_WAIT, done, &nap);
		/* Answered: no need to ask whether it stopped or died. */
		if (__atomic_load_n(&ctl->area->done_seq, __ATOMIC_ACQUIRE) == seq)
			return 0;
		r = waitpid(ctl->tid, &status, __WALL | WNOHANG);
		if (r == ctl->tid && WIFSTOPPED(status) && compel_is_sigstop(status) &&
		    retraps++ < MAX_RETRAPS) {
			ctl->task->stop_owed = true;
			if (!ptrace(PTRACE_CONT, ctl->tid, NULL, NULL))
				continue;
		}
		if (r == ctl->tid && WIFSTOPPED(status) && compel_is_event_stop(status) &&
		    retraps++ < MAX_RETRAPS) {
			/* The interrupt stop owed since the seize: see above. */
			if (!ptrace(PTRACE_CONT, ctl->tid, NULL, NULL))
				continue;
		}
		if (r == ctl->tid) {
			/* It stopped on its own: a fault in the parasite, or a kill. */
			cpr_err("pid %d: the parasite stopped with status 0x%x", ctl->task->pub.pid,
				status);
			ctl->where = WIFSTOPPED(status) ? STOP_SYSCALL : STOP_RUNNING;
			return -EFAULT;
		}
		waited += 20;
		if (waited >= RPC_TIMEOUT_MS) {
			cpr_err("pid %d: the parasite did not answer in %d ms",
				ctl->task->pub.pid, RPC_TIMEOUT_MS);
			return -ETIMEDOUT;
		}
	}
}

int compel_rpc_syscall(struct compel_ctl *ctl, long nr, long *res,
		       unsigned long a1, unsigned long a2, unsigned long a3,
		       unsigned long a4, unsigned long a5, unsigned long a6)
{
	const unsigned long args[6] = { a1, a2, a3, a4, a5, a6 };
	struct compel_syscall_args *s;
	int ret;

	if (!ctl->area)
		return -EINVAL;
	s = &ctl->area->args.sys;
	s->nr = nr;
	memcpy(s->args, args, sizeof(s->args));
	s->ret = 0;
	ret = compel_rpc(ctl, COMPEL_CMD_SYSCALL);
	if (!ret)
		*res = s->ret;
	return ret;
}

void *compel_scratch(struct compel_ctl *ctl, size_t size, unsigned long *remote)
{
	if (!ctl->area || size > COMPEL_SCRATCH_SIZE)
		return NULL;
	memset(ctl->area->scratch, 0, size);
	*remote = compel_remote_addr(ctl, ctl->area->scratch);
	return ctl->area->scratch;
}

unsigned long compel_remote_addr(struct compel_ctl *ctl, const void *local)
{
	return ctl->remote_map + ((const char *)local - (const char *)ctl->local_map);
}

int compel_rpc_start(struct compel_ctl *ctl, enum compel_cmd cmd)
{
	uint32_t seq;

	if (ctl->where != STOP_RUNNING || !ctl->area || ctl->busy || ctl->task->parked == ctl) {
		cpr_err("tid %d: no idle parasite is running", ctl->tid);
		return -EINVAL;
	}
	ctl->answered = 0;
	ctl->area->cmd = cmd;
	seq = ctl->area->cmd_seq + 1;
	__atomic_store_n(&ctl->area->cmd_seq, seq, __ATOMIC_RELEASE);
	futex(&ctl->area->cmd_seq, FUTEX_WAKE, 1, NULL);
	ctl->busy = true;
	return 0;
}

int compel_rpc_wait(struct compel_ctl *ctl)
{
	int ret;

	if (!ctl->busy) {
		cpr_err("tid %d: no command to wait for", ctl->tid);
		return -EINVAL;
	}
	ret = wait_done(ctl, ctl->area->cmd_seq);
	if (!ret && compel_fault_hit(COMPEL_FAULT_RPC))
		ret = -EFAULT;
	if (ret) {
		ctl->failed = true;
		return ret;
	}
	ctl->busy = false;
	if (ctl->area->ret)
		cpr_err("pid %d: parasite command %d failed: %s", ctl->task->pub.pid,
			ctl->area->cmd, strerror(-ctl->area->ret));
	return ctl->area->ret;
}

int compel_rpc(struct compel_ctl *ctl, enum compel_cmd cmd)
{
	int ret;

	/* The first command, answered as the parasite started (compel_infect_with). */
	if (cmd != COMPEL_CMD_NOP && ctl->answered == cmd && ctl->area && !ctl->failed) {
		ctl->answered = 0;
		return ctl->area->ret;	/* a failure was logged as it came */
	}
	ret = compel_rpc_start(ctl, cmd);

	return ret ? ret : compel_rpc_wait(ctl);
}

/* Stop a running parasite where it waits: the interrupt stop again. */
static int stop_parasite(struct compel_ctl *ctl)
{
	int status, ret;

	if (ptrace(PTRACE_INTERRUPT, ctl->tid, NULL, NULL)) {
		ret = -errno;
		cpr_err("tid %d: PTRACE_INTERRUPT: %m", ctl->tid);
		return ret;
	}
	for (int i = 0; i < MAX_RETRAPS; i++) {
		ret = compel_wait_stop(ctl->tid, &status);
		if (ret || !compel_is_sigstop(status))
			break;
		ctl->task->stop_owed = true;
		if (ptrace(PTRACE_CONT, ctl->tid, NULL, NULL)) {
			ret = -errno;
			cpr_err("tid %d: PTRACE_CONT: %m", ctl->tid);
		}
	}
	if (ret)
		return ret;
	ctl->where = compel_is_event_stop(status) ? STOP_EVENT : STOP_SYSCALL;
	return 0;
}

/*
 * With the task's own registers back in place, pass through the interrupt
 * stop again so that detaching finishes its signal path (and restarts an
 * interrupted call) exactly as it would have without us.
 */
static int back_to_interrupt_stop(struct compel_ctl *ctl)
{
	int status, ret;

	if (ptrace(PTRACE_INTERRUPT, ctl->tid, NULL, NULL) ||
	    ptrace(PTRACE_CONT, ctl->tid, NULL, NULL)) {
		ret = -errno;
		cpr_err("tid %d: cannot bring it back to the interrupt stop: %m", ctl->tid);
		return ret;
	}
	for (int i = 0; i < MAX_RETRAPS; i++) {
		ret = compel_wait_stop(ctl->tid, &status);
		if (ret)
			return ret;
		if (!compel_is_sigstop(status))
			break;
		ctl->task->stop_owed = true;
		if (ptrace(PTRACE_CONT, ctl->tid, NULL, NULL)) {
			ret = -errno;
			cpr_err("tid %d: PTRACE_CONT: %m", ctl->tid);
			return ret;
		}
	}
	if (!compel_is_event_stop(status)) {
		cpr_err("tid %d: stopped with status 0x%x on the way back", ctl->tid, status);
		return -EIO;
	}
	ctl->where = STOP_EVENT;
	return 0;
}

static int unmap_parasite(struct compel_ctl *ctl)
{
	int ret = 0;

	if (ctl->area)
		compel_guard_disarm(ctl->area);
	/* A parasite that never ran left the task the fd of its memory. */
	if (ctl->area && ctl->area->memfd >= 0) {
		remote_try(ctl, __NR_close, ctl->area->memfd, 0, 0, 0, 0, 0);
		ctl->area->memfd = -1;
	}
	if (ctl->remote_map) {
		if (compel_fault_hit(COMPEL_FAULT_CURE))
			ret = -EFAULT;
		else
			ret = remote_ok(ctl, "munmap of the parasite", __NR_munmap, NULL,
					ctl->remote_map, ctl->map_len, 0, 0, 0, 0);
		/* An injected fault must not leave it mapped: try once more. */
		if (ret == -EFAULT)
			ret = remote_ok(ctl, "munmap of the parasite", __NR_munmap, NULL,
					ctl->remote_map, ctl->map_len, 0, 0, 0, 0) ?: -EFAULT;
		ctl->remote_map = 0;
	}
	if (ctl->local_map)
		munmap(ctl->local_map, ctl->map_len);
	ctl->local_map = NULL;
	ctl->area = NULL;
	return ret;
}

int compel_cure(struct compel_ctl *ctl)
{
	int ret = 0, err;

	if (!ctl)
		return 0;
	if (ctl->task->parked == ctl)
		ctl->task->parked = NULL;
	/* A started infection (compel_infect_start) is stopped at its end; the memfd goes. */
	if (ctl->started_nr) {
		long fd = -1;

		ret = remote_call_finish(ctl, &fd);
		if (!ret && fd >= 0)
			remote_try(ctl, __NR_close, fd, 0, 0, 0, 0, 0);
	}
	if (ctl->where == STOP_RUNNING)
		ret = stop_parasite(ctl);
	if (!ret || ctl->where != STOP_RUNNING) {
		err = unmap_parasite(ctl);
		ret = ret ?: err;
	}
	/* Registers, FPU state and mask go back even if something failed above. */
	err = compel_set_regs(ctl->tid, &ctl->regs);
	ret = ret ?: err;
	err = compel_set_xsave(ctl->tid, ctl->xsave, ctl->xsave_len);
	ret = ret ?: err;
	if (ptrace(PTRACE_SETSIGMASK, ctl->tid, sizeof(ctl->sigmask), &ctl->sigmask)) {
		cpr_err("tid %d: PTRACE_SETSIGMASK: %m", ctl->tid);
		ret = ret ?: -errno;
	}
	if (ctl->where != STOP_EVENT) {
		err = back_to_interrupt_stop(ctl);
		ret = ret ?: err;
	}
	compel_stub_leave(ctl);
	free(ctl->xsave);
	free(ctl);
	return ret;
}

int compel_park(struct compel_ctl *ctl)
{
	struct task *t = ctl->task;

	if (ctl->where != STOP_RUNNING || !ctl->area || ctl->busy || ctl->failed ||
	    (t->parked && t->parked != ctl)) {
		cpr_err("tid %d: no idle parasite to park", ctl->tid);
		return -EINVAL;
	}
	t->parked = ctl;
	cpr_debug("pid %d: parasite parked until the release", t->pub.pid);
	return 0;
}

/*
 * A parked parasite's task is dead: what is ours of it goes.  Its guard
 * stayed armed through the kill (were we to die before it, the parasite
 * would cure itself); its memfd, already closed in the task, dies with
 * our view of it.  Nothing is left in the task to unmap: unmap_parasite()
 * then only disarms the guard and drops our view.
 */
void compel_park_drop(struct compel_ctl *ctl)
{
	ctl->task->parked = NULL;
	ctl->remote_map = 0;
	unmap_parasite(ctl);
	free(ctl->xsave);
	free(ctl);
}
