/*
 * restorer.c - the blob that turns a restoring task into the dumped one.
 *
 * Built like the parasite: -nostdlib -fpie -mgeneral-regs-only, no
 * relocations, linked flat at 0.  It runs from a region stasis chose to be
 * free in both its own layout and the dumped one, after everything else
 * of stasis is gone from the address space; restorer.h has the steps.
 *
 * It never returns: every thread ends in rt_sigreturn, or the task exits
 * with the failure written to the shared area.  It leaves the region
 * mapped: stasis catches each thread at the exit of that rt_sigreturn and
 * unmaps it from outside (src/restore-finish.c), as code cannot unmap the
 * page it runs from.
 */
#include <stddef.h>
#include <stdint.h>

#include <asm/prctl.h>
#include <asm/unistd.h>
#include <linux/aio_abi.h>
#include <linux/capability.h>
#include <linux/errno.h>
#include <linux/futex.h>
#include <linux/memfd.h>
#include <linux/mman.h>
#include <linux/prctl.h>
#include <linux/resource.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <linux/securebits.h>
#include <linux/signal.h>
#include <linux/time.h>
#include <linux/uio.h>
#include <linux/userfaultfd.h>

#include "nolibc.h"
#include "restorer.h"

#ifndef PR_TIMER_CREATE_RESTORE_IDS
#define PR_TIMER_CREATE_RESTORE_IDS	77
#define PR_TIMER_CREATE_RESTORE_IDS_ON	1
#define PR_TIMER_CREATE_RESTORE_IDS_OFF	0
#endif

#define TASK_TOP	0x7ffffffff000ul
#define PAGE		4096ul
#define IOV_BATCH	256

long rst_clone3(void *ca, size_t size, void (*fn)(void *), void *arg);
void rst_sigreturn(uint64_t sp) __attribute__((noreturn));

static struct rst_args *g_args;

/* Kernel's struct clone_args (clone3). */
struct clone_args_k {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
	uint64_t set_tid, set_tid_size, cgroup;
};

static void futex_wake(int32_t *addr)
{
	sys6(__NR_futex, (long)addr, FUTEX_WAKE, 0x7fffffff, 0, 0, 0);
}

/* Wait while *@addr == @val; no timeout, so a restart block is never set. */
static void futex_wait(int32_t *addr, int32_t val)
{
	while (__atomic_load_n(addr, __ATOMIC_ACQUIRE) == val)
		sys6(__NR_futex, (long)addr, FUTEX_WAIT, val, 0, 0, 0);
}

static void copy_str(char *dst, size_t size, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < size && src[i]; i++)
		dst[i] = src[i];
	dst[i] = 0;
}

/* Record the first failure of the tree, wake the controller, and die. */
static void __attribute__((noreturn)) die(const char *what, long err)
{
	struct rst_shared *sh = g_args->shared;
	int32_t zero = 0;

	if (__atomic_compare_exchange_n(&sh->error, &zero, (int32_t)(err ? err : -1), 0,
					__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
		sh->err_pid = g_args->pid;
		copy_str(sh->err_msg, sizeof(sh->err_msg), what);
	}
	for (int s = 0; s < RST_STAGE_NR; s++)
		futex_wake(&sh->done[s]);
	futex_wake(&sh->stage);
	for (;;)
		sys1(__NR_exit_group, 1);
}

static void check(long ret, const char *what)
{
	if (ret < 0)
		die(what, ret);
}

/* Step 1: nothing of stasis stays but the region, vvar and vdso. */
static void unmap_others(struct rst_args *a)
{
	uint64_t from = PAGE;

	for (uint32_t i = 0; i <= a->nr_keep; i++) {
		uint64_t to = i < a->nr_keep ? a->keep[i].start : TASK_TOP;

		if (to > from)
			check(sys2(__NR_munmap, from, to - from), "unmap the restoring program");
		if (i < a->nr_keep)
			from = a->keep[i].end;
	}
}

/* Step 2: through scratch room first, so that no move lands on another. */
static void move_vdso_aside(struct rst_args *a)
{
	uint64_t tmp = a->move_tmp;

	for (uint32_t i = 0; i < a->nr_moves; i++) {
		struct rst_move *m = &a->moves[i];
		long ret = sys5(__NR_mremap, m->from, m->len, m->len,
				MREMAP_MAYMOVE | MREMAP_FIXED, tmp);

		check(ret, "move the vdso/vvar aside");
		m->from = tmp;
		tmp += m->len;
	}
}

static void move_vdso_home(struct rst_args *a)
{
	for (uint32_t i = 0; i < a->nr_moves; i++) {
		struct rst_move *m = &a->moves[i];

		check(sys5(__NR_mremap, m->from, m->len, m->len,
			   MREMAP_MAYMOVE | MREMAP_FIXED, m->to), "move the vdso/vvar into place");
	}
}

/*
 * The areas filled before the fork, with the pages they share with the
 * parent's and children's copies: mremap() keeps the pages, and so the
 * sharing.  The staging range is clear of every area of the image, and
 * the vdso's pieces are aside, so no move lands on anything.
 */
static void move_premapped(struct rst_args *a)
{
	for (uint32_t i = 0; i < a->nr_premap; i++) {
		struct rst_move *m = &a->premap[i];
		long ret = sys5(__NR_mremap, m->from, m->len, m->len,
				MREMAP_MAYMOVE | MREMAP_FIXED, m->to);

		if (ret >= 0 && (uint64_t)ret != m->to)
			ret = -EFAULT;
		check(ret, "move a premapped memory area into place");
	}
	if (a->premap_range.end > a->premap_range.start)
		check(sys2(__NR_munmap, a->premap_range.start,
			   a->premap_range.end - a->premap_range.start),
		      "unmap the staging range of the premapped areas");
}

/* The advice that decides what the fill's page faults allocate; one at most. */
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL	102
#endif
#define MADV_BEFORE_FILL	(1ull << MADV_HUGEPAGE | 1ull << MADV_NOHUGEPAGE)

static void map_vmas(struct rst_args *a)
{
	for (uint32_t i = 0; i < a->nr_vmas; i++) {
		struct rst_vma *v = &a->vmas[i];
		int prot = v->prot | (v->fill ? PROT_WRITE : 0);
		long ret;

		if (v->guard || v->premap || v->sysv == RST_SYSV_PART)
			continue;
		if (v->sysv) {
			ret = sys3(__NR_shmat, v->fd, v->start, v->shmflg);
			if (ret >= 0 && (uint64_t)ret != v->start)
				ret = -EFAULT;
			check(ret, "attach SysV shared memory");
			continue;
		}
		ret = sys6(__NR_mmap, v->start, v->end - v->start, prot, v->flags | MAP_FIXED,
			   v->fd, v->pgoff);
		if (ret >= 0 && (uint64_t)ret != v->start)
			ret = -EFAULT;
		check(ret, "map a memory area");
		/*
		 * Transparent huge pages as the task had them, from the
		 * first page read in: an area it gave MADV_HUGEPAGE is
		 * filled with huge pages (512 times fewer faults), one it
		 * gave MADV_NOHUGEPAGE never gets them, whatever the
		 * system's default.  protect_vmas() gives the same advice
		 * again, with the rest.
		 */
		if (v->fill && (v->madv & MADV_BEFORE_FILL))
			check(sys3(__NR_madvise, v->start, v->end - v->start,
				   v->madv & (1ull << MADV_HUGEPAGE) ? MADV_HUGEPAGE : MADV_NOHUGEPAGE),
			      "madvise a memory area");
	}
}

/* Read @total bytes at @off into @iov[0..@n), however short the reads. */
static void read_batch(int fd, struct iovec *iov, int n, uint64_t off, uint64_t total)
{
	while (total) {
		long ret = sys5(__NR_preadv, fd, iov, n, off, 0);

		if (ret == 0)
			ret = -EIO;	/* the pages image is shorter than its pagemap */
		check(ret, "read pages from the pages image");
		off += ret;
		total -= ret;
		/* A short read: step over what was read. */
		while (ret && n) {
			if ((uint64_t)ret >= iov[0].iov_len) {
				ret -= iov[0].iov_len;
				for (int k = 1; k < n; k++)
					iov[k - 1] = iov[k];
				n--;
			} else {
				iov[0].iov_base = (char *)iov[0].iov_base + ret;
				iov[0].iov_len -= ret;
				ret = 0;
			}
		}
	}
}

/*
 * Read runs that follow each other in the file with one preadv, at most
 * FILL_CHUNK bytes at a time.  Each piece of FILL_POPULATE bytes or more
 * is populated first (MADV_POPULATE_WRITE): the kernel allocates its
 * frames in one go instead of a page fault each inside the read, and in
 * chunks small enough that what it zeroes is still in the cache when the
 * read overwrites it.  Only the pages read are populated, so the task
 * ends up with the same resident pages; the advice is a hint, and a
 * kernel without it (before 5.14) leaves the faults to the read.
 */
#ifndef FILL_CHUNK
#define FILL_CHUNK	(1ul << 20)
#endif
#ifndef FILL_POPULATE
#define FILL_POPULATE	(64ul << 10)
#endif

static void fill_runs(struct rst_args *a, uint32_t i, uint32_t end)
{
	struct iovec iov[IOV_BATCH];
	uint64_t done = 0;	/* bytes of runs[i] already read */

	while (i < end) {
		uint64_t off = a->runs[i].off + done, total = 0;
		int fd = a->runs[i].fd, n = 0;

		while (i < end && n < IOV_BATCH && total < FILL_CHUNK &&
		       a->runs[i].fd == fd && a->runs[i].off + done == off + total) {
			struct rst_run *r = &a->runs[i];
			uint64_t len = r->len - done;

			if (len > FILL_CHUNK - total)
				len = FILL_CHUNK - total;
			iov[n].iov_base = (void *)(r->addr + done);
			iov[n].iov_len = len;
			if (len >= FILL_POPULATE)
				sys3(__NR_madvise, r->addr + done, len, MADV_POPULATE_WRITE);
			total += len;
			n++;
			done += len;
			if (done == r->len) {
				i++;
				done = 0;
			}
		}
		read_batch(fd, iov, n, off, total);
	}
}

/* Read the slices no thread has taken yet, one at a time. */
static void fill_slices(struct rst_args *a)
{
	uint32_t k;

	while ((k = (uint32_t)__atomic_fetch_add(&a->fill_next, 1, __ATOMIC_RELAXED)) <
	       a->nr_slices)
		fill_runs(a, a->slices[k], a->slices[k + 1]);
}

static void __attribute__((noreturn)) fill_helper_main(void *arg)
{
	(void)arg;
	fill_slices(g_args);
	for (;;)
		sys1(__NR_exit, 0);
}

/* Start thread @th with the next TID of ours from *@next; false if none was free. */
static int fill_helper_start(struct rst_args *a, struct rst_fill_thread *th, uint32_t *next)
{
	for (; *next < RST_HELPER_TIDS && a->helper_tids[*next] > 0; (*next)++) {
		uint64_t tid = (uint64_t)a->helper_tids[*next];
		struct clone_args_k ca = {
			.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
				 CLONE_THREAD | CLONE_SYSVSEM | CLONE_CHILD_CLEARTID,
			.child_tid = (uint64_t)&th->tid,
			.stack = th->stack_top - RST_THREAD_STACK,
			.stack_size = RST_THREAD_STACK,
			.set_tid = (uint64_t)&tid,
			.set_tid_size = 1,
		};

		/* Set before it can exit: the kernel clears it then. */
		__atomic_store_n(&th->tid, (int32_t)tid, __ATOMIC_RELEASE);
		if (rst_clone3(&ca, sizeof(ca), fill_helper_main, NULL) > 0) {
			(*next)++;
			return 1;
		}
		__atomic_store_n(&th->tid, 0, __ATOMIC_RELEASE);
	}
	return 0;
}

/*
 * Allocating and zeroing the frames is most of a big fill's time, and
 * the kernel does it for each thread at once: one per core.  The
 * threads are gone (their TIDs free again) before the task's own
 * threads are made.
 */
static void fill_pages(struct rst_args *a)
{
	uint32_t next = 0, started = 1, k;
	int32_t tid;

	if (a->nr_fill < 2) {
		fill_runs(a, 0, a->nr_runs);
		return;
	}
	while (started < a->nr_fill && fill_helper_start(a, &a->fill[started], &next))
		started++;
	if (started > 1)
		__atomic_add_fetch(&a->shared->fill_helpers, 1, __ATOMIC_RELAXED);
	fill_slices(a);
	for (k = 1; k < started; k++) {
		while ((tid = __atomic_load_n(&a->fill[k].tid, __ATOMIC_ACQUIRE)))
			futex_wait(&a->fill[k].tid, tid);
	}
}

/* The vDSO proxy: the image's vDSO with its entries patched, from the region. */
static void copy_proxy(struct rst_args *a)
{
	if (a->proxy_len)
		memcpy((void *)a->proxy_dst, (const void *)a->proxy_src, a->proxy_len);
}

/*
 * Step 3, AIO rings.  A new context's ring starts empty, its tail (which
 * the kernel keeps for itself and copies into the header) at 0.  Requests
 * that complete at once, writes to a memfd, move that tail on; reaping
 * them as they come (moving the head, which the task may write too)
 * keeps room in the ring, until the head stops at the dumped one.  Where
 * the dumped events wrap around the ring's end, the tail goes round once
 * more to get behind them.  The kernel's count of free slots then agrees
 * with the events left in the ring.
 */
#define AIO_BATCH	64

static void aio_move_tail(uint64_t ctx, volatile struct rst_aio_hdr *ring, uint32_t count,
			  uint32_t head)
{
	char byte = 0;
	struct iocb cb = {
		.aio_lio_opcode = IOCB_CMD_PWRITE,
		.aio_buf = (uint64_t)&byte,
		.aio_nbytes = 1,
	};
	struct iocb *cbs[AIO_BATCH];
	uint32_t done = 0;
	long fd;

	if (!count)
		return;
	fd = sys2(__NR_memfd_create, "stasis-aio", MFD_CLOEXEC);
	check(fd, "create a memfd to move an AIO ring's tail");
	cb.aio_fildes = fd;
	for (int i = 0; i < AIO_BATCH; i++)
		cbs[i] = &cb;
	while (done < count) {
		uint32_t n = count - done < AIO_BATCH ? count - done : AIO_BATCH;
		long ret = sys3(__NR_io_submit, ctx, n, cbs);

		check(ret ? ret : -EAGAIN, "submit requests to move an AIO ring's tail");
		done += ret;
		ring->head = done < head ? done : head;
	}
	sys1(__NR_close, fd);
}

static void restore_aio(const struct rst_aio *r)
{
	const uint64_t hdr = sizeof(struct rst_aio_hdr);
	volatile struct rst_aio_hdr *old = (void *)r->addr, *ring;
	uint32_t head = old->head, tail = old->tail, from;
	uint64_t ctx = 0;
	long ret;

	/* The pages image is checked for length only: this is the ring's first sight of it. */
	if (old->magic != RST_AIO_MAGIC || old->header_length != hdr || old->nr != r->nr ||
	    tail >= r->nr || r->len <= hdr)
		die("use the dumped AIO ring: its header is not a ring's", -EINVAL);
	check(sys2(__NR_io_setup, r->nr_req, &ctx), "make an AIO context again (io_setup)");
	ring = (void *)ctx;
	if (ring->nr != r->nr)
		die("make an AIO ring of the dumped size (io_setup made another: other CPUs?)",
		    -EINVAL);
	/* The kernel reads the head modulo nr: the task may have written any value. */
	from = head % r->nr;
	aio_move_tail(ctx, ring, tail >= from ? tail : r->nr + tail, from);
	/* The events, not the header: its id is the new context's. */
	memcpy((char *)ctx + hdr, (const char *)r->addr + hdr, r->len - hdr);
	ring->head = head;
	/* Over the area that held the dumped ring: the context's id becomes its address. */
	ret = sys5(__NR_mremap, ctx, r->len, r->len, MREMAP_MAYMOVE | MREMAP_FIXED, r->addr);
	if (ret >= 0 && (uint64_t)ret != r->addr)
		ret = -EFAULT;
	check(ret, "move an AIO ring to its address");
}

static void restore_aios(struct rst_args *a)
{
	for (uint32_t i = 0; i < a->nr_aios; i++)
		restore_aio(&a->aios[i]);
}

/*
 * restore --lazy-pages: the lazy areas got none of their lazy pages; from
 * here on a touch of a missing page waits for the lazy-pages daemon,
 * which holds the other end of this userfaultfd.  The task keeps no fd.
 */
static void register_lazy(struct rst_args *a)
{
	if (a->uffd < 0)
		return;
	for (uint32_t i = 0; i < a->nr_vmas; i++) {
		struct rst_vma *v = &a->vmas[i];
		struct uffdio_register reg = {
			.range = { .start = v->start, .len = v->end - v->start },
			.mode = UFFDIO_REGISTER_MODE_MISSING,
		};

		if (!v->lazy || v->guard)
			continue;
		check(sys3(__NR_ioctl, a->uffd, UFFDIO_REGISTER, (long)&reg),
		      "register a lazy area with userfaultfd");
	}
	sys1(__NR_close, a->uffd);
}

static void protect_vmas(struct rst_args *a)
{
	for (uint32_t i = 0; i < a->nr_vmas; i++) {
		struct rst_vma *v = &a->vmas[i];
		uint64_t len = v->end - v->start;

		/* Guards come last, in areas mapped and filled by now. */
		if (v->guard) {
			check(sys3(__NR_madvise, v->start, len, MADV_GUARD_INSTALL),
			      "install a guard region");
			continue;
		}
		/*
		 * A premapped area was staged read-write, and maybe kept from
		 * inheriting (MADV_DONTFORK) until the children had forked.
		 */
		if (v->premap)
			check(sys3(__NR_madvise, v->start, len, MADV_DOFORK), "madvise a memory area");
		if ((v->fill && (!(v->prot & PROT_WRITE) || v->premap)) || v->sysv)
			check(sys3(__NR_mprotect, v->start, len, v->prot), "set a memory area's protection");
		for (int adv = 0; adv < 64; adv++) {
			if (v->madv & (1ull << adv))
				check(sys3(__NR_madvise, v->start, len, adv), "madvise a memory area");
		}
	}
}

/* The kernel's struct flock. */
struct kflock {
	int16_t l_type, l_whence;
	int32_t pad;
	int64_t l_start, l_len;
	int32_t l_pid, pad2;
};

/*
 * Close the service fds and the pool, then take the task's POSIX locks:
 * closing an fd of a locked file would have dropped them.
 */
static void close_pool(struct rst_args *a)
{
	sys3(__NR_close_range, a->close_from, ~0u, 0);
	for (uint32_t i = 0; i < a->nr_locks; i++) {
		struct kflock fl = {
			.l_type = a->locks[i].type, .l_whence = 0,	/* SEEK_SET */
			.l_start = a->locks[i].start, .l_len = a->locks[i].len,
		};

		check(sys3(__NR_fcntl, a->locks[i].fd, 6 /* F_SETLK */, &fl), "take a POSIX lock again");
	}
}

/* Kernel's struct prctl_mm_map. */
struct mm_map {
	uint64_t start_code, end_code, start_data, end_data, start_brk, brk, start_stack;
	uint64_t arg_start, arg_end, env_start, env_end;
	uint64_t auxv;
	uint32_t auxv_size;
	uint32_t exe_fd;
};

static void restore_mm(struct rst_args *a)
{
	struct rst_mm *m = &a->mm;
	struct mm_map map = {
		.start_code = m->start_code, .end_code = m->end_code,
		.start_data = m->start_data, .end_data = m->end_data,
		.start_brk = m->start_brk, .brk = m->brk, .start_stack = m->start_stack,
		.arg_start = m->arg_start, .arg_end = m->arg_end,
		.env_start = m->env_start, .env_end = m->env_end,
		.auxv = m->auxv, .auxv_size = m->auxv_size,
		.exe_fd = (uint32_t)m->exe_fd,
	};

	check(sys5(__NR_prctl, PR_SET_MM, PR_SET_MM_MAP, &map, sizeof(map), 0),
	      "restore the mm fields (PR_SET_MM_MAP)");
	for (uint32_t i = 0; i < a->nr_rlimits; i++) {
		struct rlimit64 r = { a->rlimits[i].cur, a->rlimits[i].max };

		check(sys4(__NR_prlimit64, 0, i, &r, 0), "restore an rlimit");
	}
}

struct cap_header {
	uint32_t version;
	int pid;
};

struct cap_data {
	uint32_t effective, permitted, inheritable;
};

static void set_caps(uint64_t eff, uint64_t prm, uint64_t inh)
{
	struct cap_header h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct cap_data d[2] = {
		{ (uint32_t)eff, (uint32_t)prm, (uint32_t)inh },
		{ (uint32_t)(eff >> 32), (uint32_t)(prm >> 32), (uint32_t)(inh >> 32) },
	};

	check(sys2(__NR_capset, &h, d), "restore capabilities");
}

static uint64_t get_permitted(void)
{
	struct cap_header h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct cap_data d[2];

	check(sys2(__NR_capget, &h, d), "read capabilities");
	return d[0].permitted | (uint64_t)d[1].permitted << 32;
}

/*
 * Credentials are per thread.  Keep the capabilities across the uid
 * change (SECBIT_KEEP_CAPS), use them for what needs them, then drop to
 * the dumped sets.
 */
static void restore_creds(struct rst_creds *c)
{
	uint64_t prm;

	check(sys2(__NR_prctl, PR_SET_SECUREBITS, c->secbits | SECBIT_KEEP_CAPS),
	      "set securebits");
	check(sys2(__NR_setgroups, c->nr_groups, c->groups), "restore groups");
	check(sys3(__NR_setresgid, c->gid, c->egid, c->sgid), "restore gids");
	sys1(__NR_setfsgid, c->fsgid);
	check(sys3(__NR_setresuid, c->uid, c->euid, c->suid), "restore uids");
	sys1(__NR_setfsuid, c->fsuid);
	/* Effective again from what is still permitted, for what follows. */
	prm = get_permitted();
	set_caps(prm, prm, c->cap_inh);
	for (int cap = 0; cap < 64; cap++) {
		if (!(c->cap_bnd & (1ull << cap)))
			sys2(__NR_prctl, PR_CAPBSET_DROP, cap);	/* EINVAL past the last cap */
	}
	check(sys2(__NR_prctl, PR_SET_SECUREBITS, c->secbits), "restore securebits");
	set_caps(c->cap_eff, c->cap_prm, c->cap_inh);
	for (int cap = 0; cap < 64; cap++) {
		if (c->cap_amb & (1ull << cap))
			check(sys5(__NR_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0),
			      "restore ambient capabilities");
	}
	if (c->no_new_privs)
		check(sys5(__NR_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "set no_new_privs");
}

struct sched_param_k {
	int prio;
};

static void queue_signals(int pid, int tid, uint64_t siginfo, uint32_t nr)
{
	for (uint32_t i = 0; i < nr; i++) {
		int32_t *si = (int32_t *)(siginfo + 128ull * i);
		long ret;

		if (tid)
			ret = sys4(__NR_rt_tgsigqueueinfo, pid, tid, si[0], si);
		else
			ret = sys3(__NR_rt_sigqueueinfo, pid, si[0], si);
		check(ret, "queue a pending signal again");
	}
}

/*
 * Seccomp after the last stage opens: stasis traces the task from then on
 * with PTRACE_O_SUSPEND_SECCOMP, so no filter stops what the restorer still
 * does, and none applies before the task's own code runs.  Filters need
 * CAP_SYS_ADMIN or no_new_privs: they go in before the credentials drop
 * privileges; strict mode needs nothing and goes last.
 */
static void restore_seccomp_creds(struct rst_thread *t)
{
	struct rst_seccomp_filter *f = (struct rst_seccomp_filter *)t->filters;

	for (uint32_t i = 0; t->seccomp_mode == SECCOMP_MODE_FILTER && i < t->nr_filters; i++) {
		struct {
			uint16_t len, pad[3];
			uint64_t filter;
		} prog = { (uint16_t)f[i].len, { 0 }, f[i].insns };

		check(sys3(__NR_seccomp, SECCOMP_SET_MODE_FILTER, f[i].flags, &prog),
		      "install a seccomp filter");
	}
	if (t->has_creds)
		restore_creds(&t->creds);
	if (t->seccomp_mode == SECCOMP_MODE_STRICT)
		check(sys2(__NR_prctl, PR_SET_SECCOMP, SECCOMP_MODE_STRICT),
		      "enter seccomp strict mode");
}

/* What each thread sets for itself; creds last, as they drop privileges. */
static void thread_setup(struct rst_args *a, struct rst_thread *t)
{
	check(sys2(__NR_arch_prctl, ARCH_SET_FS, t->fs_base), "set fs_base");
	if (t->gs_base)
		check(sys2(__NR_arch_prctl, ARCH_SET_GS, t->gs_base), "set gs_base");
	sys1(__NR_set_tid_address, t->clear_tid);
	if (t->robust_len)
		check(sys2(__NR_set_robust_list, t->robust_list, t->robust_len),
		      "restore the robust futex list");
	if (t->rseq)
		check(sys4(__NR_rseq, t->rseq, t->rseq_len, 0, t->rseq_sig), "register rseq");
	sys5(__NR_prctl, PR_SET_NAME, (long)t->comm, 0, 0, 0);
	if (t->has_sched) {
		struct sched_param_k sp = { t->sched_prio };

		check(sys3(__NR_sched_setscheduler, 0, t->sched_policy, &sp), "restore scheduling");
		check(sys3(__NR_setpriority, PRIO_PROCESS, 0, t->sched_nice), "restore nice");
	}
	queue_signals(a->pid, t->tid, t->siginfo, t->nr_siginfo);
	if (t->has_creds && !t->seccomp_mode)
		restore_creds(&t->creds);
}

static void wait_go(struct rst_args *a)
{
	struct rst_shared *sh = a->shared;
	int32_t st;

	while ((st = __atomic_load_n(&sh->stage, __ATOMIC_ACQUIRE)) < RST_STAGE_GO)
		futex_wait(&sh->stage, st);
}

static void thread_main(void *arg)
{
	struct rst_thread *t = arg;
	struct rst_args *a = g_args;

	thread_setup(a, t);
	/*
	 * Already now: the leader's death signal is what takes the task
	 * down with a restore that fails, and a thread starts with none.
	 * One system call less after GO, where stasis traces each of them.
	 */
	sys2(__NR_prctl, PR_SET_PDEATHSIG, t->pdeath_sig);
	__atomic_add_fetch(&a->threads_ready, 1, __ATOMIC_SEQ_CST);
	futex_wake(&a->threads_ready);
	wait_go(a);
	if (t->seccomp_mode)
		restore_seccomp_creds(t);
	rst_sigreturn(t->frame + 8);
}

static void create_threads(struct rst_args *a)
{
	for (uint32_t i = 1; i < a->nr_threads; i++) {
		struct rst_thread *t = &a->threads[i];
		uint64_t tid = t->tid;
		struct clone_args_k ca = {
			.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
				 CLONE_THREAD | CLONE_SYSVSEM,
			.stack = t->stack_top - RST_THREAD_STACK,
			.stack_size = RST_THREAD_STACK,
			.set_tid = (uint64_t)&tid,
			.set_tid_size = 1,
		};

		check(rst_clone3(&ca, sizeof(ca), thread_main, t), "create a thread with its TID");
	}
}

static void set_timers(struct rst_args *a)
{
	for (int which = 0; which < 3; which++) {
		struct rst_itimer *it = &a->itimers[which];
		long v[4] = { it->interval_sec, it->interval_usec, it->value_sec, it->value_usec };

		if (v[0] || v[1] || v[2] || v[3])
			check(sys3(__NR_setitimer, which, v, 0), "restore an interval timer");
	}
	if (!a->nr_timers)
		return;
	check(sys2(__NR_prctl, PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_ON),
	      "ask for timers by id (PR_TIMER_CREATE_RESTORE_IDS)");
	for (uint32_t i = 0; i < a->nr_timers; i++) {
		struct rst_posix_timer *pt = &a->timers[i];
		struct {
			uint64_t value;
			int32_t signo, notify, tid, pad[11];
		} sev = { pt->sival, pt->signo, pt->notify, pt->notify_tid, { 0 } };
		struct rst_timespec its[2] = { pt->interval, pt->value };
		int32_t id = pt->id;

		check(sys3(__NR_timer_create, pt->clock, &sev, &id), "create a POSIX timer");
		if (id != pt->id)
			die("a POSIX timer got another id", -EINVAL);
		if (pt->value.sec || pt->value.nsec)
			check(sys4(__NR_timer_settime, id, 0, its, 0), "arm a POSIX timer");
	}
	sys2(__NR_prctl, PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_OFF);
}

static void stage_done(struct rst_shared *sh, int stage)
{
	__atomic_add_fetch(&sh->done[stage], 1, __ATOMIC_SEQ_CST);
	futex_wake(&sh->done[stage]);
}

static void set_dumpable(struct rst_args *a)
{
	if (a->mm.dumpable >= 0)
		check(sys2(__NR_prctl, PR_SET_DUMPABLE, a->mm.dumpable), "restore dumpable");
}

void rst_main(struct rst_args *a)
{
	struct rst_thread *leader = &a->threads[0];

	g_args = a;
	if (a->nr_keep > RST_KEEP_MAX || a->nr_moves > RST_MOVES_MAX)
		die("more vDSO/vvar areas than the restorer holds", -EINVAL);
	unmap_others(a);
	move_vdso_aside(a);
	move_premapped(a);
	move_vdso_home(a);
	map_vmas(a);
	fill_pages(a);
	copy_proxy(a);
	restore_aios(a);
	register_lazy(a);
	protect_vmas(a);
	restore_mm(a);
	create_threads(a);
	set_timers(a);
	queue_signals(a->pid, 0, a->siginfo, a->nr_siginfo);
	thread_setup(a, leader);

	/* Every other thread set up: nothing needs the service fds now. */
	for (;;) {
		int32_t n = __atomic_load_n(&a->threads_ready, __ATOMIC_ACQUIRE);

		if ((uint32_t)n + 1 >= a->nr_threads)
			break;
		futex_wait(&a->threads_ready, n);
	}
	/* After every thread's creds: a change of euid made the mm undumpable. */
	set_dumpable(a);
	if (!a->close_after_go)
		close_pool(a);
	stage_done(a->shared, RST_STAGE_READY);
	wait_go(a);
	if (a->close_after_go)
		close_pool(a);
	/*
	 * Until now the task died with its parent (restore.c sets that, so
	 * that a restore killed half way leaves nothing behind); from now
	 * on it is the dumped one's setting (stasis, which traces the task
	 * now, kills it if it dies).
	 */
	sys2(__NR_prctl, PR_SET_PDEATHSIG, leader->pdeath_sig);
	if (leader->seccomp_mode) {
		restore_seccomp_creds(leader);
		set_dumpable(a);
	}
	rst_sigreturn(leader->frame + 8);
}
