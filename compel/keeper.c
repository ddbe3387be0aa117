/*
 * keeper.c - a killed task's pid freed before its memory.
 *
 * A task that exits frees its address space first and its pid last: for
 * a GiB of memory that is tens of milliseconds in which a restore on the
 * same host cannot have the pid back (a live migration between two
 * namespaces of one machine waits for exactly that).  So before a task
 * with much memory is killed, it is made to clone a keeper: a process that
 * shares its memory (CLONE_VM) and never runs an instruction of its own.
 * The keeper is born traced by us (CLONE_PTRACE from a task we seized: it
 * stops before it first returns to user space) and dies with us should we
 * die (PTRACE_O_EXITKILL, set on its parent just before, is inherited).
 * The task's exit then drops one user of the memory, not the last, and its
 * pid is free once it is reaped.  The keeper is killed right after; its
 * exit frees the memory while the caller, told the pids are free, goes on,
 * and a thread of ours reaps it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

/* Below this many resident pages (64 MiB) the exit is quick: no keeper. */
#define KEEPER_MIN_PAGES	16384UL

/* Read /proc/@path into @buf; its length, or -errno. */
static ssize_t read_proc(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return -errno;
	r = read(fd, buf, size - 1);
	close(fd);
	if (r < 0)
		return -errno;
	buf[r] = '\0';
	return r;
}

/*
 * The last pid of @pid's NSpid line, its pid in its own namespace; *@nested
 * says whether that namespace is below ours.  0 if unknown.
 */
static pid_t inner_pid(pid_t pid, bool *nested)
{
	char path[64], buf[4096], *line, *tok, *save = NULL;
	pid_t last = 0;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (read_proc(path, buf, sizeof(buf)) <= 0)
		return 0;
	line = strstr(buf, "\nNSpid:");
	if (!line || !strtok_r(line + 1, " \t\n", &save))
		return 0;
	/* The tokens after "NSpid:", up to the end of its line. */
	while ((tok = strtok_r(NULL, " \t", &save))) {
		char *nl = strchr(tok, '\n');

		last = (pid_t)atoi(tok);
		n++;
		if (nl)
			break;
	}
	*nested = n > 1;
	return last;
}

/*
 * Worth a keeper: much memory, and in our pid namespace.  A task in one
 * below dies with its init, which waits for every task there, the keeper
 * too, and a keeper we trace is not its to reap until we have.
 */
static bool task_is_big(pid_t pid)
{
	unsigned long size, resident;
	char path[64], buf[256];
	bool nested = true;

	/* statm first: it is short, and most tasks of a tree are small. */
	snprintf(path, sizeof(path), "/proc/%d/statm", pid);
	if (read_proc(path, buf, sizeof(buf)) <= 0 ||
	    sscanf(buf, "%lu %lu", &size, &resident) != 2 || resident < KEEPER_MIN_PAGES)
		return false;
	return inner_pid(pid, &nested) && !nested;
}

/*
 * The clone() in the task returned @vpid: a task in our pid namespace
 * (task_is_big), so the same pid here; found among the thread's children,
 * to be sure it is the keeper.
 */
static pid_t find_child(pid_t tid, pid_t vpid)
{
	char path[96], buf[4096], *s, *save = NULL;
	pid_t found = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", tid, tid);
	if (read_proc(path, buf, sizeof(buf)) <= 0)
		return 0;
	for (s = strtok_r(buf, " \n", &save); s && !found; s = strtok_r(NULL, " \n", &save)) {
		if ((pid_t)atoi(s) == vpid)
			found = vpid;
	}
	return found;
}

/*
 * A pid stays taken while a process group or session bears it, and the
 * keeper is born in its parent's: it makes a session of its own (setsid),
 * run from its first stop at @ip, a syscall instruction of the memory it
 * shares with its parent.
 */
static int keeper_setsid(pid_t pid, unsigned long ip)
{
	static const unsigned long none[6];
	struct user_regs_struct regs;
	int status, ret;
	long r;

	ret = compel_wait_stop(pid, &status);
	if (!ret && !compel_is_event_stop(status))
		ret = -EIO;
	ret = ret ?: compel_get_regs(pid, &regs);
	if (ret)
		return ret;
	compel_set_syscall_regs(&regs, ip, __NR_setsid, none);
	ret = compel_set_regs(pid, &regs);
	/* To the call's entry, then to its exit. */
	for (int i = 0; !ret && i < 2; i++) {
		if (ptrace(PTRACE_SYSCALL, pid, NULL, NULL))
			return -errno;
		ret = compel_wait_stop(pid, &status);
		if (!ret && !compel_is_syscall_stop(status))
			ret = -EIO;
	}
	ret = ret ?: compel_get_regs(pid, &regs);
	r = ret ? 0 : compel_syscall_result(&regs);
	return ret ?: r < 0 ? (int)r : 0;
}

/* Wait for the keeper @pid we traced to be gone (its memory freed). */
static void reap_keeper(pid_t pid)
{
	int status;
	pid_t r;

	for (;;) {
		r = waitpid(pid, &status, __WALL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || WIFEXITED(status) || WIFSIGNALED(status))
			break;
	}
}

void compel_keeper_spawn(struct compel_tree *tree, struct task *t)
{
	struct compel_ctl *ctl;
	long vpid = -1;
	int ret;

	t->keeper = 0;
	if (!t->pub.nr_threads || !task_is_big(t->pub.pid))
		return;
	/* The clone is a remote call: the parasite goes first (the kill follows all the same). */
	if (t->parked && compel_cure(t->parked))
		return;
	/* Committed to the kill: if we die from here on, the kernel finishes it. */
	if (ptrace(PTRACE_SETOPTIONS, t->tids[0], NULL,
		   (void *)(long)(SEIZE_OPTIONS | PTRACE_O_EXITKILL)))
		return;
	ret = compel_prepare(tree, t->pub.pid, &ctl);
	if (ret)
		return;
	ret = compel_syscall(ctl, __NR_clone, &vpid, CLONE_VM | CLONE_PTRACE | SIGCHLD,
			     0, 0, 0, 0, 0);
	/* The task is killed next whatever the cure says: only the keeper matters here. */
	compel_cure(ctl);
	if (!ret && vpid > 0)
		t->keeper = find_child(t->tids[0], (pid_t)vpid);
	ret = t->keeper ? keeper_setsid(t->keeper, t->syscall_ip) : 0;
	if (ret) {
		/* Its parent still holds the memory: this exit is quick. */
		kill(t->keeper, SIGKILL);
		reap_keeper(t->keeper);
		t->keeper = 0;
	}
	if (!t->keeper)
		cpr_warn("pid %d: no keeper of its memory (%ld): its exit frees it first",
			 t->pub.pid, ret ? (long)ret : vpid);
	else
		cpr_debug("pid %d: keeper %d holds its memory until its pid is free",
			  t->pub.pid, t->keeper);
}

struct keepers {
	size_t nr;
	pid_t pids[];
};

static void *reap_keepers(void *arg)
{
	struct keepers *k = arg;

	for (size_t i = 0; i < k->nr; i++)
		reap_keeper(k->pids[i]);
	free(k);
	return NULL;
}

/*
 * Once the keepers are killed, their exits free the memory on their own:
 * the caller need not wait for that (tens of milliseconds a GiB).  A
 * thread of ours reaps them as their tracer, so that a long-lived caller
 * (the RPC service) keeps no traced zombie; a caller that exits first
 * leaves them to their parent, as it would have.
 */
static void reap_keepers_later(struct keepers *k)
{
	pthread_attr_t attr;
	pthread_t th;
	int ret;

	ret = pthread_attr_init(&attr);
	if (!ret) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&attr, 64 << 10);
		ret = pthread_create(&th, &attr, reap_keepers, k);
		pthread_attr_destroy(&attr);
	}
	if (ret)
		reap_keepers(k);
}

void compel_keepers_release(struct compel_tree *tree)
{
	struct keepers *k = calloc(1, sizeof(*k) + tree->nr * sizeof(pid_t));

	for (size_t i = 0; i < tree->nr; i++) {
		pid_t pid = tree->tasks[i].keeper;

		if (!pid)
			continue;
		kill(pid, SIGKILL);
		tree->tasks[i].keeper = 0;
		if (k)
			k->pids[k->nr++] = pid;
		else
			reap_keeper(pid);	/* no memory for the list: now, in turn */
	}
	if (tree->on_pids_free)
		tree->on_pids_free(tree->on_pids_free_arg);
	if (k && k->nr)
		reap_keepers_later(k);
	else
		free(k);
}

void compel_tree_on_pids_free(struct compel_tree *tree, void (*fn)(void *), void *arg)
{
	tree->on_pids_free = fn;
	tree->on_pids_free_arg = arg;
}
