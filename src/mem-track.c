/*
 * mem-track.c - write tracking between the dumps of a chain (mem-track.h).
 *
 * The kernel facts this rests on (Linux 6.7 and later):
 *  - a userfaultfd works on the mm of the process that made it, whoever
 *    holds it later: one made in the task (a remote system call) and
 *    taken with pidfd_getfd registers and tracks the task's areas from
 *    here, and the task's own fd can be closed at once, so it never sees it;
 *  - in async write-protect mode (UFFD_FEATURE_WP_ASYNC) a write to a
 *    protected page is let through by the kernel, which only drops the
 *    page's protection: nobody needs to read the userfaultfd;
 *  - PAGEMAP_SCAN on /proc/PID/pagemap reports a page without protection
 *    as PAGE_IS_WRITTEN and, with PM_SCAN_WP_MATCHING, protects again
 *    every page it reports, in the same walk;
 *  - an anonymous area says PAGE_IS_WPALLOWED only with
 *    UFFD_FEATURE_WP_UNPOPULATED; WP_MATCHING silently steps over areas
 *    that are not, so mem.c asks for it only on areas registered here;
 *  - closing the last reference unregisters every area and lifts every
 *    protection: pages then read as written, and a chain whose holder died
 *    falls back to whole dumps by itself.  An area unmapped and mapped
 *    again, or moved by mremap, is unregistered the same way.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/userfaultfd.h>

#include "dump-ctx.h"
#include "log.h"
#include "mem.h"
#include "mem-dump.h"
#include "mem-track.h"
#include "pagemap-scan.h"

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY		1
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED	(1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC		(1 << 15)
#endif
#define TRACK_FEATURES	(UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED)
#define HOLDER_COMM	"stasis-track"

static int pidfd_open(pid_t pid)
{
	return syscall(SYS_pidfd_open, pid, 0);
}

static int pidfd_getfd(int pidfd, int fd)
{
	return syscall(SYS_pidfd_getfd, pidfd, fd, 0);
}

/* Field 22 of /proc/PID/stat, and its comm; 0 when the task is gone. */
static uint64_t proc_start(pid_t pid, char *comm, size_t len)
{
	char path[64], buf[1024], *p, *e;
	unsigned long long start = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strchr(buf, '(');
	e = strrchr(buf, ')');
	if (!p || !e || e < p)
		return 0;
	if (comm)
		snprintf(comm, len, "%.*s", (int)(e - p - 1), p + 1);
	/* After ") ": state is field 3; the start time is field 22. */
	if (sscanf(e + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
		   "%*d %*d %llu", &start) != 1)
		return 0;
	return start;
}

static struct track_task *track_add(struct track *tr, pid_t pid)
{
	struct track_task *tt;

	if (tr->nr == tr->cap) {
		size_t cap = tr->cap ? tr->cap * 2 : 16;

		tt = realloc(tr->tasks, cap * sizeof(*tt));
		if (!tt)
			return NULL;
		tr->tasks = tt;
		tr->cap = cap;
	}
	tt = &tr->tasks[tr->nr++];
	*tt = (struct track_task){ .pid = pid, .uffd = -1 };
	return tt;
}

struct track_task *track_task_of(struct dump_ctx *ctx, pid_t pid)
{
	struct track *tr = ctx->track;

	for (size_t i = 0; tr && i < tr->nr; i++)
		if (tr->tasks[i].pid == pid)
			return &tr->tasks[i];
	return NULL;
}

static bool in_tree(struct dump_ctx *ctx, pid_t pid)
{
	for (size_t i = 0; i < ctx->nr_tasks; i++)
		if (ctx->tasks[i].pid == pid)
			return true;
	return false;
}

/* One "task PID START FD" line of the parent's holder: take its userfaultfd. */
static int adopt_task(struct dump_ctx *ctx, int holder, pid_t pid, uint64_t start, int fd)
{
	struct track_task *tt;

	if (!in_tree(ctx, pid) || proc_start(pid, NULL, 0) != start) {
		pr_info("pid %d: not the task the parent dump tracked", pid);
		return 0;
	}
	tt = track_add(ctx->track, pid);
	if (!tt)
		return -ENOMEM;
	tt->start = start;
	tt->uffd = pidfd_getfd(holder, fd);
	if (tt->uffd < 0) {
		pr_warn("pid %d: cannot take its userfaultfd from the holder: %m", pid);
		return 0;
	}
	tt->parent = true;
	return 0;
}

/* The parent's TRACK_FILE: its holder, checked alive and the same process. */
static int read_parent(struct dump_ctx *ctx)
{
	struct track *tr = ctx->track;
	unsigned long long start, hstart;
	char comm[32], line[128];
	int fd, hpid, pid, ufd, ret = 0;
	FILE *f;

	fd = openat(ctx->parent_dirfd, TRACK_FILE, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_info("the parent dump tracks no memory: every page is dumped");
		return 0;
	}
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	if (!fgets(line, sizeof(line), f) || sscanf(line, "holder %d %llu", &hpid, &hstart) != 2 ||
	    hpid <= 0) {
		pr_warn("%s of the parent dump is unreadable: every page is dumped", TRACK_FILE);
		goto out;
	}
	tr->holder_pidfd = pidfd_open(hpid);
	/* After the pidfd: the pid checked is the one it refers to. */
	if (tr->holder_pidfd < 0 || proc_start(hpid, comm, sizeof(comm)) != hstart ||
	    strcmp(comm, HOLDER_COMM)) {
		pr_info("the parent dump's tracking ended (holder %d gone): every page is dumped",
			hpid);
		if (tr->holder_pidfd >= 0)
			close(tr->holder_pidfd);
		tr->holder_pidfd = -1;
		goto out;
	}
	while (!ret && fgets(line, sizeof(line), f))
		if (sscanf(line, "task %d %llu %d", &pid, &start, &ufd) == 3)
			ret = adopt_task(ctx, tr->holder_pidfd, pid, start, ufd);
out:
	fclose(f);
	return ret;
}

int track_open(struct dump_ctx *ctx)
{
	const struct opts *o = ctx->opts;
	struct track *tr;

	if (!ctx->pre_dump && !o->track_mem && ctx->parent_dirfd < 0)
		return 0;
	tr = calloc(1, sizeof(*tr));
	if (!tr)
		return -ENOMEM;
	tr->arm = ctx->pre_dump || o->track_mem;
	tr->holder_pidfd = tr->new_holder_pidfd = -1;
	ctx->track = tr;
	if (ctx->parent_dirfd < 0)
		return 0;
	/* CRIU's link from a dump to its parent, relative to the images directory. */
	if (symlinkat(o->prev_images_dir, ctx->dirfd, "parent")) {
		pr_perror("cannot link the parent images %s", o->prev_images_dir);
		return -errno;
	}
	return read_parent(ctx);
}

/* A system call in @t, through its parasite when it has one. */
static int task_syscall(struct dump_task *t, long nr, long *res, unsigned long a1)
{
	if (compel_rpc_area(t->ctl))
		return compel_rpc_syscall(t->ctl, nr, res, a1, 0, 0, 0, 0, 0);
	return compel_syscall(t->ctl, nr, res, a1, 0, 0, 0, 0, 0);
}

/* A userfaultfd made in @t, moved here: the task keeps no fd of it. */
static int make_uffd(struct dump_task *t)
{
	long rfd, closed;
	int pidfd, fd, ret;

	ret = task_syscall(t, __NR_userfaultfd, &rfd,
			   O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (ret)
		return ret;
	if (rfd < 0) {
		pr_warn("pid %d: userfaultfd: %s", t->pid, strerror((int)-rfd));
		return (int)rfd;
	}
	pidfd = pidfd_open(t->pid);
	fd = pidfd < 0 ? -1 : pidfd_getfd(pidfd, (int)rfd);
	ret = fd < 0 ? -errno : 0;
	if (pidfd >= 0)
		close(pidfd);
	/* Whatever came of it, the task's fd goes: its table is as it was. */
	if (task_syscall(t, __NR_close, &closed, rfd) || closed) {
		pr_err("pid %d: cannot close the userfaultfd made in it", t->pid);
		if (fd >= 0)
			close(fd);
		return -EIO;
	}
	if (ret)
		pr_warn("pid %d: cannot take its userfaultfd: %s", t->pid, strerror(-ret));
	return ret ?: fd;
}

/*
 * A userfaultfd for @t (made in the task if the parent's holder had
 * none), ready for write-protection in async mode; 0, or -errno when
 * this task cannot be tracked (said).
 */
static int track_task_uffd(struct dump_ctx *ctx, struct dump_task *t, struct track_task **out)
{
	struct uffdio_api api = { .api = UFFD_API, .features = TRACK_FEATURES };
	struct track_task *tt = track_task_of(ctx, t->pid);
	int fd;

	if (!tt) {
		tt = track_add(ctx->track, t->pid);
		if (!tt)
			return -ENOMEM;
		tt->start = proc_start(t->pid, NULL, 0);
	}
	*out = tt;
	if (tt->uffd >= 0)
		return 0;
	fd = make_uffd(t);
	if (fd < 0)
		return fd;
	if (ioctl(fd, UFFDIO_API, &api)) {
		pr_warn("pid %d: no asynchronous write-protection here: %m", t->pid);
		close(fd);
		return -ENOTSUP;
	}
	tt->uffd = fd;
	return 0;
}

/* Register [@start, @end) of @tt's task for write-protection; true on success. */
static bool track_register(struct track_task *tt, uint64_t start, uint64_t end)
{
	struct uffdio_register r = {
		.range = { .start = start, .len = end - start },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};

	if (tt->uffd < 0)
		return false;
	if (!ioctl(tt->uffd, UFFDIO_REGISTER, &r))
		return true;
	/* Another userfaultfd has it (the task's own): its pages are dumped whole. */
	pr_info("pid %d: %" PRIx64 "-%" PRIx64 " not tracked: %m", tt->pid, start, end);
	return false;
}

/*
 * Which areas tracking covers: the private writable ones whose pages a
 * dump finds by scanning (mem.c's DUMP_SCAN), less hugetlb ones.
 */
static bool vma_trackable(const VmaEntry *e)
{
	return (e->status & VMA_AREA_REGULAR) &&
	       (e->status & (VMA_ANON_PRIVATE | VMA_FILE_PRIVATE)) &&
	       !(e->status & (VMA_AREA_VDSO | VMA_AREA_VVAR | VMA_AREA_AIORING)) &&
	       !(e->flags & (MAP_DROPPABLE | MAP_HUGETLB)) && (e->prot & PROT_WRITE);
}

int track_arm(struct dump_ctx *ctx, struct dump_task *t, const struct vma_list *l, uint8_t **wp)
{
	struct track_task *tt;
	int ret;

	*wp = NULL;
	if (!ctx->track || !ctx->track->arm)
		return 0;
	ret = track_task_uffd(ctx, t, &tt);
	if (ret == -ENOMEM)
		return ret;
	if (ret) {
		pr_warn("pid %d: its memory cannot be tracked: the next dump takes all of it",
			t->pid);
		return 0;
	}
	*wp = calloc(l->nr ? l->nr : 1, 1);
	if (!*wp)
		return -ENOMEM;
	for (size_t i = 0; i < l->nr; i++)
		if (vma_trackable(&l->v[i]))
			(*wp)[i] = track_register(tt, l->v[i].start, l->v[i].end);
	ctx->track->armed_any = true;
	return 0;
}

/* --- the holder --- */

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Close every fd but the @nr in @keep (sorted). */
static void close_others(const int *keep, size_t nr)
{
	int from = 0;

	for (size_t i = 0; i < nr; i++) {
		if (keep[i] > from)
			syscall(SYS_close_range, from, keep[i] - 1, 0);
		from = keep[i] + 1;
	}
	syscall(SYS_close_range, from, ~0U, 0);
}

/*
 * The holder: keeps the userfaultfds open, nothing else (no log, no
 * terminal, no lock its parents held), and leaves when every task it
 * tracks has exited or when the next dump of the chain retires it.
 */
static void __attribute__((noreturn)) holder_main(struct track *tr, int wfd)
{
	struct pollfd *p = calloc(tr->nr, sizeof(*p));
	int *keep = calloc(2 * tr->nr + 1, sizeof(*keep));
	size_t nk = 0, live = 0;
	pid_t me = getpid();
	sigset_t none;

	if (!p || !keep)
		_exit(1);
	setsid();
	prctl(PR_SET_NAME, HOLDER_COMM);
	for (int sig = 1; sig < _NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (size_t i = 0; i < tr->nr; i++) {
		p[i].fd = -1;
		if (tr->tasks[i].uffd < 0)
			continue;
		keep[nk++] = tr->tasks[i].uffd;
		p[i].fd = pidfd_open(tr->tasks[i].pid);
		p[i].events = POLLIN;
		if (p[i].fd >= 0) {
			keep[nk++] = p[i].fd;
			live++;
		}
	}
	if (write(wfd, &me, sizeof(me)) != sizeof(me))
		_exit(1);
	qsort(keep, nk, sizeof(*keep), cmp_int);
	close_others(keep, nk);
	while (live) {
		if (poll(p, tr->nr, -1) < 0)
			continue;
		for (size_t i = 0; i < tr->nr; i++) {
			if (p[i].fd >= 0 && p[i].revents) {
				close(p[i].fd);
				p[i].fd = -1;
				live--;
			}
		}
	}
	_exit(0);
}

/* A detached holder of @tr's userfaultfds: its pid, or -errno. */
static pid_t holder_spawn(struct track *tr)
{
	pid_t child, holder = -1;
	int p[2], st;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	child = fork();
	if (!child) {
		/* Twice: the holder is nobody's child here, and no zombie of ours. */
		if (fork())
			_exit(0);
		holder_main(tr, p[1]);
	}
	close(p[1]);
	if (child > 0)
		waitpid(child, &st, 0);
	if (child < 0 || read(p[0], &holder, sizeof(holder)) != sizeof(holder))
		holder = -ECHILD;
	close(p[0]);
	if (holder < 0)
		pr_err("cannot start the process that keeps memory tracked");
	return holder;
}

static int write_track_file(struct track *tr, int dirfd, pid_t holder)
{
	int fd = openat(dirfd, TRACK_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int ret = 0;

	if (fd < 0) {
		pr_perror("cannot write %s", TRACK_FILE);
		return -errno;
	}
	if (dprintf(fd, "holder %d %" PRIu64 "\n", holder, proc_start(holder, NULL, 0)) < 0)
		ret = -EIO;
	for (size_t i = 0; !ret && i < tr->nr; i++)
		if (tr->tasks[i].uffd >= 0 &&
		    dprintf(fd, "task %d %" PRIu64 " %d\n", tr->tasks[i].pid, tr->tasks[i].start,
			    tr->tasks[i].uffd) < 0)
			ret = -EIO;
	if (close(fd) && !ret)
		ret = -errno;
	if (ret)
		pr_err("cannot write %s: %s", TRACK_FILE, strerror(-ret));
	return ret;
}

static void kill_holder(int pidfd)
{
	if (pidfd >= 0)
		syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
}

int track_finish(struct dump_ctx *ctx, int dirfd, bool ok)
{
	struct track *tr = ctx->track;
	bool any = false;
	pid_t holder;
	int ret;

	if (!tr || !ok || !tr->arm)
		return 0;
	for (size_t i = 0; i < tr->nr; i++)
		any |= tr->tasks[i].uffd >= 0;
	if (!any)
		return 0;
	holder = holder_spawn(tr);
	if (holder < 0)
		return holder;
	tr->new_holder_pidfd = pidfd_open(holder);
	ret = tr->new_holder_pidfd < 0 ? -errno : write_track_file(tr, dirfd, holder);
	if (ret)
		kill(holder, SIGKILL);
	else
		pr_info("memory stays tracked by process %d", holder);
	return ret;
}

void track_close(struct dump_ctx *ctx, bool ok)
{
	struct track *tr = ctx->track;

	if (!tr)
		return;
	/*
	 * A finished dump replaces the parent's holder (or ends tracking);
	 * a failed one that protected pages again spent it: what was written
	 * since the parent is known nowhere now.  Either way the next dump
	 * against that parent must dump every page, which the holder's
	 * death makes it do.
	 */
	if (ok || tr->armed_any)
		kill_holder(tr->holder_pidfd);
	if (!ok)
		kill_holder(tr->new_holder_pidfd);
	if (tr->holder_pidfd >= 0)
		close(tr->holder_pidfd);
	if (tr->new_holder_pidfd >= 0)
		close(tr->new_holder_pidfd);
	for (size_t i = 0; i < tr->nr; i++)
		if (tr->tasks[i].uffd >= 0)
			close(tr->tasks[i].uffd);
	free(tr->tasks);
	free(tr);
	ctx->track = NULL;
}

/* --- stasis check --feature mem_dirty_track --- */

/* Do @n pages at @m read as written (@want) after a scan that protects them? */
static int probe_scan(int pm, char *m, uint64_t flags, const bool *want, int n)
{
	struct page_region regs[4];
	struct pm_scan_arg a = {
		.size = sizeof(a),
		.flags = flags,
		.start = (uintptr_t)m,
		.end = (uintptr_t)m + n * 4096,
		.vec = (uintptr_t)regs,
		.vec_len = 4,
		.category_mask = PAGE_IS_WPALLOWED,
		.return_mask = PAGE_IS_WRITTEN,
	};
	long r = ioctl(pm, PAGEMAP_SCAN, &a);

	if (r < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		uintptr_t pg = (uintptr_t)m + i * 4096;
		bool written = false;

		for (long k = 0; k < r; k++)
			if (regs[k].start <= pg && pg < regs[k].end)
				written = regs[k].categories & PAGE_IS_WRITTEN;
		if (written != want[i])
			return -EPROTO;
	}
	return 0;
}

int track_probe(const char **why)
{
	struct uffdio_api api = { .api = UFFD_API, .features = TRACK_FEATURES };
	static const bool all[2] = { true, true }, first[2] = { true, false };
	char *m = MAP_FAILED;
	int uffd, pm = -1, ret;

	*why = "no userfaultfd";
	uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (uffd < 0)
		return -errno;
	ret = -ENOTSUP;
	*why = "no asynchronous userfaultfd write-protection (Linux 6.7)";
	if (ioctl(uffd, UFFDIO_API, &api))
		goto out;
	m = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		goto out;
	m[0] = m[4096] = 1;
	{
		struct uffdio_register r = {
			.range = { (uintptr_t)m, 2 * 4096 }, .mode = UFFDIO_REGISTER_MODE_WP,
		};

		*why = "userfaultfd cannot write-protect anonymous memory";
		if (ioctl(uffd, UFFDIO_REGISTER, &r))
			goto out;
	}
	*why = "no PAGEMAP_SCAN (Linux 6.7)";
	pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pm < 0)
		goto out;
	ret = probe_scan(pm, m, PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC, all, 2);
	if (!ret) {
		m[0] = 2;
		*why = "PAGEMAP_SCAN does not see which pages were written";
		ret = probe_scan(pm, m, 0, first, 2);
	}
out:
	if (pm >= 0)
		close(pm);
	if (m != MAP_FAILED)
		munmap(m, 2 * 4096);
	close(uffd);
	if (!ret)
		*why = NULL;
	return ret;
}
