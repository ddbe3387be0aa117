/*
 * seize.c - stop a whole process tree with ptrace and let it go again.
 *
 * Every thread is seized (PTRACE_SEIZE) and interrupted (PTRACE_INTERRUPT):
 * unlike SIGSTOP this leaves no signal behind and stops a task inside the
 * kernel's signal path, where an interrupted system call is restarted as
 * if nothing happened once we detach.  Threads and children created while
 * we work are found by reading /proc again until nothing new appears; a
 * stopped task cannot create any more.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

size_t compel_tree_nr_tasks(const struct compel_tree *tree)
{
	return tree->nr;
}

const struct compel_task *compel_tree_task(const struct compel_tree *tree, size_t i)
{
	return i < tree->nr ? &tree->tasks[i].pub : NULL;
}

static int tracer_of(pid_t tid)
{
	char path[64], line[256];
	int tracer = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "TracerPid: %d", &tracer) == 1)
			break;
	fclose(f);
	return tracer;
}

/*
 * Wait until @tid, seized and interrupted, is stopped by us.  *@stopped is
 * the signal of the group stop (SIGSTOP, job control) it was in already,
 * or 0.
 */
static int seize_wait(pid_t tid, int *stopped)
{
	int status, ret, tries;

	for (tries = 0; tries < 64; tries++) {
		ret = compel_wait_stop(tid, &status);
		if (ret)
			return ret;
		if (compel_is_event_stop(status)) {
			*stopped = WSTOPSIG(status) != SIGTRAP ? WSTOPSIG(status) : 0;
			return 0;
		}
		/*
		 * A signal was on its way in before our interrupt: let it go
		 * where it was going; the interrupt stop follows.
		 */
		cpr_debug("tid %d: passing signal %d on while seizing", tid, WSTOPSIG(status));
		if (ptrace(PTRACE_CONT, tid, NULL, (void *)(long)WSTOPSIG(status))) {
			ret = -errno;
			cpr_err("tid %d: PTRACE_CONT: %m", tid);
			return ret;
		}
	}
	cpr_err("tid %d: does not stop", tid);
	ptrace(PTRACE_DETACH, tid, NULL, NULL);
	return -EAGAIN;
}

/*
 * Seize and interrupt a child's leader as soon as it is found, and wait
 * for its stop only when its turn comes: the stops of a task's children
 * overlap (each a wake-up on another core) instead of following one
 * another.  Quietly: if this fails, its turn does it again and says why.
 */
static void seize_early(struct task *t)
{
	if (ptrace(PTRACE_SEIZE, t->pub.pid, NULL, (void *)(long)SEIZE_OPTIONS))
		return;
	ptrace(PTRACE_INTERRUPT, t->pub.pid, NULL, NULL);
	t->pending = t->pub.pid;
}

/* Let go of a leader seized early whose turn never came. */
static void unseize_early(struct task *t)
{
	int stopped;

	if (t->pending && !seize_wait(t->pending, &stopped))
		ptrace(PTRACE_DETACH, t->pending, NULL, NULL);
	t->pending = 0;
}

/* Seize and interrupt @tid: 0, -ESRCH if it is gone or going, or another -errno, said. */
static int seize_begin(pid_t tid)
{
	int ret;

	if (ptrace(PTRACE_SEIZE, tid, NULL, (void *)(long)SEIZE_OPTIONS)) {
		ret = -errno;
		if (ret == -ESRCH || compel_thread_exiting(tid))
			return -ESRCH;
		if (tracer_of(tid)) {
			cpr_err("tid %d is already traced by pid %d", tid, tracer_of(tid));
			return -EBUSY;
		}
		cpr_err("tid %d: PTRACE_SEIZE: %s", tid, strerror(-ret));
		return ret;
	}
	if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL)) {
		ret = -errno;
		cpr_err("tid %d: PTRACE_INTERRUPT: %m", tid);
		ptrace(PTRACE_DETACH, tid, NULL, NULL);
		return ret;
	}
	return 0;
}

static struct task *find_task(struct compel_tree *tree, pid_t pid)
{
	for (size_t i = 0; i < tree->nr; i++)
		if (tree->tasks[i].pub.pid == pid)
			return &tree->tasks[i];
	return NULL;
}

static bool has_thread(const struct task *t, pid_t tid)
{
	for (int i = 0; i < t->pub.nr_threads; i++)
		if (t->tids[i] == tid)
			return true;
	return false;
}

static int add_task(struct compel_tree *tree, pid_t pid)
{
	struct proc_stat st;
	struct task *t;
	int ret;

	if (tree->nr == tree->cap) {
		size_t cap = tree->cap ? tree->cap * 2 : 16;
		struct task *n = realloc(tree->tasks, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		tree->tasks = n;
		tree->cap = cap;
	}
	ret = compel_read_stat(pid, &st);
	if (ret)
		return ret;
	t = &tree->tasks[tree->nr++];
	memset(t, 0, sizeof(*t));
	t->pub.pid = pid;
	t->pub.ppid = st.ppid;
	t->pub.state = COMPEL_TASK_ALIVE;
	if (st.state == 'Z') {
		t->pub.state = COMPEL_TASK_ZOMBIE;
		t->pub.exit_code = st.exit_code;
	}
	return 0;
}

static int add_thread(struct task *t, pid_t tid)
{
	if (t->pub.nr_threads == t->cap) {
		int cap = t->cap ? t->cap * 2 : 8;
		pid_t *n = realloc(t->tids, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		t->tids = n;
		t->cap = cap;
	}
	/* The group leader goes first. */
	if (tid == t->pub.pid && t->pub.nr_threads) {
		memmove(t->tids + 1, t->tids, t->pub.nr_threads * sizeof(pid_t));
		t->tids[0] = tid;
	} else {
		t->tids[t->pub.nr_threads] = tid;
	}
	t->pub.nr_threads++;
	t->pub.threads = t->tids;
	return 0;
}

/*
 * io_uring's kernel threads (iou-sqp, iou-wrk) are listed among a task's
 * threads but never return to user space: they cannot stop for us nor
 * run a remote call.  The task is refused, naming its ring if it is open.
 */
static int refuse_io_worker(pid_t pid, pid_t tid)
{
	char path[64], link[64];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		char fdpath[320];
		ssize_t n;

		snprintf(fdpath, sizeof(fdpath), "%s/%s", path, de->d_name);
		n = readlink(fdpath, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (!strcmp(link, "anon_inode:[io_uring]")) {
			cpr_err("unsupported: pid %d fd %s is an io_uring (its kernel thread %d cannot be frozen)",
				pid, de->d_name, tid);
			closedir(d);
			return -ENOTSUP;
		}
	}
	if (d)
		closedir(d);
	cpr_err("unsupported: pid %d uses an io_uring (its kernel thread %d cannot be frozen)", pid, tid);
	return -ENOTSUP;
}

/* The threads of @t listed in /proc not seized yet, in *@tids (malloc'ed). */
static int list_new_threads(struct task *t, pid_t **tids, size_t *nr)
{
	size_t cap = 0;
	struct dirent *de;
	char path[64];
	DIR *d;

	*tids = NULL;
	*nr = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", t->pub.pid);
	d = opendir(path);
	if (!d) {
		/* Gone already (a child that exited while the tree was collected). */
		if (errno == ENOENT || errno == ESRCH)
			cpr_debug("pid %d: gone before its threads were listed", t->pub.pid);
		else
			cpr_err("pid %d: cannot list its threads: %m", t->pub.pid);
		return -ESRCH;
	}
	while ((de = readdir(d))) {
		pid_t tid = atoi(de->d_name);

		if (tid <= 0 || has_thread(t, tid))
			continue;
		if (*nr == cap) {
			pid_t *n = realloc(*tids, (cap = cap ? cap * 2 : 8) * sizeof(*n));

			if (!n) {
				closedir(d);
				free(*tids);
				*tids = NULL;
				return -ENOMEM;
			}
			*tids = n;
		}
		(*tids)[(*nr)++] = tid;
	}
	closedir(d);
	return 0;
}

/*
 * Seize the threads of @t not seized yet; *@changed if any was.  All are
 * interrupted first, then waited for: their stops overlap.  Whatever
 * fails, every thread interrupted is waited for and kept, for the
 * release to let go.
 */
static int seize_threads(struct task *t, bool *changed)
{
	pid_t *tids;
	int *res;
	size_t nr;
	int ret = list_new_threads(t, &tids, &nr);

	if (ret)
		return ret;
	res = calloc(nr ?: 1, sizeof(*res));
	if (!res) {
		free(tids);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nr; i++) {
		struct proc_stat st;

		/* An io_uring worker is seized but never stops; it is never the leader. */
		if (tids[i] != t->pub.pid && !compel_read_stat(tids[i], &st) &&
		    (st.flags & PF_IO_WORKER))
			res[i] = refuse_io_worker(t->pub.pid, tids[i]);
		else if (tids[i] == t->pending)
			t->pending = 0;
		else
			res[i] = seize_begin(tids[i]);
	}
	for (size_t i = 0; i < nr; i++) {
		pid_t tid = tids[i];
		int stopped = 0, r = res[i];

		if (!r) {
			*changed = true;
			r = seize_wait(tid, &stopped) ?: add_thread(t, tid);
			/* An injected failure once a thread is held: all must be let go. */
			if (!r && compel_fault_hit(COMPEL_FAULT_SEIZE))
				r = -EFAULT;
			if (!r && stopped && tid == t->pub.pid) {
				t->pub.state = COMPEL_TASK_STOPPED;
				t->pub.stop_signo = stopped;
			}
		}
		/* A thread that just exited is no failure; its leader gone, the task is. */
		if (r == -ESRCH && tid != t->pub.pid)
			r = 0;
		ret = ret ?: r;
	}
	free(res);
	free(tids);
	return ret;
}

/* Add the children of every thread of @t we have not seen yet. */
static int add_children(struct compel_tree *tree, size_t ti, bool *changed)
{
	for (int i = 0; i < tree->tasks[ti].pub.nr_threads; i++) {
		char path[96];
		pid_t child;
		int ret = 0;
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/task/%d/children",
			 tree->tasks[ti].pub.pid, tree->tasks[ti].tids[i]);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (!ret && fscanf(f, "%d", &child) == 1)
			if (!find_task(tree, child)) {
				ret = add_task(tree, child);
				if (!ret && tree->tasks[tree->nr - 1].pub.state != COMPEL_TASK_ZOMBIE)
					seize_early(&tree->tasks[tree->nr - 1]);
				*changed = true;
			}
		fclose(f);
		if (ret && ret != -ESRCH && ret != -ENOENT)
			return ret;
	}
	return 0;
}

/*
 * Task @i (not the root) died while we were seizing it: let go of what we
 * hold of it, and keep it as a zombie if it is one, or forget it.
 */
static int task_vanished(struct compel_tree *tree, size_t i)
{
	struct task *t = &tree->tasks[i];
	struct proc_stat st;

	unseize_early(t);
	for (int k = 0; k < t->pub.nr_threads; k++)
		ptrace(PTRACE_DETACH, t->tids[k], NULL, NULL);
	free(t->tids);
	t->tids = NULL;
	t->pub.threads = NULL;
	t->pub.nr_threads = 0;
	t->cap = 0;
	if (!compel_read_stat(t->pub.pid, &st) && st.state == 'Z') {
		cpr_debug("pid %d became a zombie while seized", t->pub.pid);
		t->pub.state = COMPEL_TASK_ZOMBIE;
		t->pub.exit_code = st.exit_code;
		return 0;
	}
	cpr_debug("pid %d exited while seized", t->pub.pid);
	memmove(t, t + 1, (tree->nr - i - 1) * sizeof(*t));
	tree->nr--;
	return 1;
}

int compel_tree_seize(pid_t root, struct compel_tree **out)
{
	struct compel_tree *tree = calloc(1, sizeof(*tree));
	bool changed = true;
	int ret;

	if (!tree)
		return -ENOMEM;
	ret = add_task(tree, root);
	if (ret) {
		cpr_err("pid %d: no such process", root);
		free(tree);
		return ret;
	}
	if (tree->tasks[0].pub.state == COMPEL_TASK_ZOMBIE) {
		cpr_err("pid %d is a zombie", root);
		free(tree);
		return -ESRCH;
	}
	while (!ret && changed) {
		changed = false;
		for (size_t i = 0; !ret && i < tree->nr; i++) {
			if (tree->tasks[i].pub.state == COMPEL_TASK_ZOMBIE)
				continue;
			ret = seize_threads(&tree->tasks[i], &changed);
			if (ret == -ESRCH && i > 0) {
				if (task_vanished(tree, i))
					i--;	/* the next task moved into slot i */
				ret = 0;
				continue;
			}
			if (!ret)
				ret = add_children(tree, i, &changed);
		}
	}
	if (ret) {
		if (ret == -ESRCH)
			cpr_err("pid %d exited while being seized", root);
		compel_tree_release(tree, 0);
		return ret;
	}
	cpr_info("seized %zu tasks of the tree at %d", tree->nr, root);
	*out = tree;
	return 0;
}

/*
 * Reap killed thread @tid if it is gone: 1 when reaped (or not ours to
 * wait for any more: ECHILD), 0 while it still exits, or -errno.
 */
static int reap_killed(pid_t tid)
{
	int status;
	pid_t r;

	do
		r = waitpid(tid, &status, __WALL | WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r < 0 && errno == ECHILD)
		return 1;
	if (r < 0) {
		cpr_err("tid %d: waiting for it to die: %m", tid);
		return -errno;
	}
	if (!r)
		return 0;
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		cpr_warn("tid %d ended with status %#x, not killed", tid, status);
	return 1;
}

/*
 * Killed tasks stay traced, and we wait for each thread's exit as its
 * tracer, as CRIU does: the dump returns only once nothing of the tree
 * runs.  An init of a pid namespace exits last of it (its last thread
 * waits until every other task of the namespace is released), and a
 * caller that looks right after us (runc, reading its container's state)
 * must find it dead, not still exiting.  A traced zombie waits for us
 * before anyone else may reap it, and which thread exits last is the
 * kernel's choice, so we reap whichever is ready, round after round,
 * rather than block on one (wait(-1) would take children of ours that
 * are not the tree's).
 */
static int kill_tree(struct compel_tree *tree)
{
	const struct timespec tick = { 0, 1000000 };
	sigset_t chld, old;
	size_t left = 0;
	int ret = 0;

	/*
	 * Each exit sends us, the tracer, a SIGCHLD: held from before the
	 * kills, it wakes the wait below as soon as a thread is there to
	 * reap, instead of at the next tick (a tree's exits take a few ms).
	 */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	for (size_t i = 0; i < tree->nr; i++) {
		if (!tree->tasks[i].pub.nr_threads)
			continue;
		kill(tree->tasks[i].pub.pid, SIGKILL);
		left += tree->tasks[i].pub.nr_threads;
	}
	while (left) {
		size_t before = left;

		for (size_t i = 0; i < tree->nr; i++) {
			struct task *t = &tree->tasks[i];

			for (int k = 0; k < t->pub.nr_threads; k++) {
				int r;

				if (!t->tids[k])
					continue;
				r = reap_killed(t->tids[k]);
				if (r < 0) {
					ret = r;
					goto out;
				}
				if (r) {
					t->tids[k] = 0;
					left--;
				}
			}
		}
		if (left == before)
			sigtimedwait(&chld, NULL, &tick);
	}
out:
	sigprocmask(SIG_SETMASK, &old, NULL);
	compel_keepers_release(tree);
	return ret;
}

int compel_tree_release(struct compel_tree *tree, unsigned flags)
{
	int ret = 0;

	if (!tree)
		return 0;
	/* A task that runs on gets its parked parasite's cure, through the stub still there. */
	for (size_t i = 0; i < tree->nr && !(flags & COMPEL_RELEASE_KILL); i++) {
		int err = compel_cure(tree->tasks[i].parked);

		ret = ret ?: err;
	}
	for (size_t i = 0; i < tree->nr; i++)
		unseize_early(&tree->tasks[i]);
	/* Made while the stubs still protect the remote calls that make them. */
	for (size_t i = 0; i < tree->nr && (flags & COMPEL_RELEASE_KILL); i++)
		compel_keeper_spawn(tree, &tree->tasks[i]);
	/* Zeros written into the vDSO of a task about to die would be wasted. */
	for (size_t i = 0; i < tree->nr; i++) {
		if (flags & COMPEL_RELEASE_KILL)
			compel_stub_forget(&tree->tasks[i]);
		else
			compel_stub_remove(&tree->tasks[i]);
	}
	if (flags & COMPEL_RELEASE_KILL) {
		ret = kill_tree(tree);
		for (size_t i = 0; i < tree->nr; i++)
			if (tree->tasks[i].parked)
				compel_park_drop(tree->tasks[i].parked);
	}
	for (size_t i = 0; i < tree->nr && !(flags & COMPEL_RELEASE_KILL); i++) {
		struct task *t = &tree->tasks[i];

		/* Pending again before the detach: the task stops as it would have. */
		if (t->stop_owed && t->pub.state != COMPEL_TASK_STOPPED)
			kill(t->pub.pid, SIGSTOP);
		/*
		 * Detaching from the interrupt stop resumes the thread where it
		 * was; a task that was in a group stop goes back into it.
		 */
		for (int k = 0; k < t->pub.nr_threads; k++)
			if (ptrace(PTRACE_DETACH, t->tids[k], NULL, NULL) &&
			    errno != ESRCH) {
				cpr_err("tid %d: PTRACE_DETACH: %m", t->tids[k]);
				ret = -errno;
			}
	}
	for (size_t i = 0; i < tree->nr; i++)
		free(tree->tasks[i].tids);
	free(tree->tasks);
	free(tree);
	return ret;
}
