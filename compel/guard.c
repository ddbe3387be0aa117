/*
 * guard.c - a parasite that outlives compel gives its task back itself.
 *
 * A task running the parasite, or stepping through a remote call, has our
 * registers and a full signal mask.  If compel dies (SIGKILL, a crash, the
 * OOM killer) ptrace lets go of it and it would run on in our code for
 * good.  The kernel tells it instead: each guarded area's @tracer word
 * holds this thread's tid with FUTEX_WAITERS and is linked into this
 * thread's robust futex list, so when the thread dies the kernel marks the
 * word FUTEX_OWNER_DIED and wakes whoever waits on it, across processes,
 * since the area is shared memory.  The parasite waits on that word and on
 * its command word together (parasite.c) and then cures itself
 * (parasite_cure in head-x86.S).
 *
 * The list is per thread, so it is kept per thread; glibc's own list head
 * (for robust mutexes, which compel does not use) is put back as soon as
 * nothing is guarded.  A forked child starts with no list at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"

#ifndef NT_X86_SHSTK
#define NT_X86_SHSTK	0x204
#endif

static __thread struct robust_list_head guard_head;
static __thread struct robust_list_head *libc_head;
static __thread size_t libc_len;
static __thread unsigned int guard_nr;

/*
 * iretq and the jumps of the self-cure break a shadow stack's rules: a
 * thread with one is not guarded.  The kernel shows a thread's shadow
 * stack pointer (NT_X86_SHSTK) only while it has one enabled.
 */
bool compel_guard_possible(pid_t tid)
{
	uint64_t ssp;
	struct iovec iov = { &ssp, sizeof(ssp) };

	return ptrace(PTRACE_GETREGSET, tid, NT_X86_SHSTK, &iov) != 0;
}

static int guard_register(void)
{
	long ret;

	if (!guard_head.list.next)
		guard_head.list.next = &guard_head.list;
	guard_head.futex_offset = (long)offsetof(struct parasite_area, tracer) -
				  (long)offsetof(struct parasite_area, robust_next);
	ret = syscall(SYS_get_robust_list, 0, &libc_head, &libc_len);
	if (!ret)
		ret = syscall(SYS_set_robust_list, &guard_head, sizeof(guard_head));
	if (ret) {
		cpr_warn("no robust futex list (%m): a parasite cannot outlive stasis safely");
		return -errno;
	}
	return 0;
}

int compel_guard_arm(struct parasite_area *area)
{
	struct robust_list *e = (struct robust_list *)&area->robust_next;

	if (!guard_nr && guard_register())
		return -ENOSYS;
	area->tracer = (uint32_t)gettid() | FUTEX_WAITERS;
	e->next = guard_head.list.next;
	guard_head.list.next = e;
	guard_nr++;
	return 0;
}

void compel_guard_disarm(struct parasite_area *area)
{
	struct robust_list *e = (struct robust_list *)&area->robust_next;
	struct robust_list *p;

	if (!area->tracer)
		return;
	for (p = &guard_head.list; p->next != &guard_head.list; p = p->next)
		if (p->next == e) {
			p->next = e->next;
			break;
		}
	area->tracer = 0;
	if (--guard_nr == 0 && libc_head)
		syscall(SYS_set_robust_list, libc_head, libc_len);
}

/* Does the memory at @addr of @pid begin with our parasite's code? */
static bool holds_our_blob(int memfd, unsigned long addr)
{
	size_t len = compel_parasite_blob_end - compel_parasite_blob;
	char buf[4096];

	for (size_t off = 0; off < len; off += sizeof(buf)) {
		size_t n = len - off < sizeof(buf) ? len - off : sizeof(buf);

		if (pread(memfd, buf, n, addr + off) != (ssize_t)n ||
		    memcmp(buf, compel_parasite_blob + off, n))
			return false;
	}
	return true;
}

/*
 * What a task that cured itself keeps is the parasite's mapping: rwxs, of
 * the memfd named "stasis-parasite", or else shared anonymous memory of
 * exactly @len bytes starting with our code.  Nothing runs there any more;
 * the next infection unmaps it, so that it is never dumped.  The first
 * such area's address and its length in *@found, or 0.
 */
unsigned long compel_find_leftover(pid_t pid, size_t len, size_t *found_len)
{
	char path[64], line[512], perms[8];
	unsigned long start, end, found = 0;
	FILE *maps;
	int memfd;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	maps = fopen(path, "re");
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	memfd = open(path, O_RDONLY | O_CLOEXEC);
	while (maps && memfd >= 0 && !found && fgets(line, sizeof(line), maps)) {
		if (!compel_maps_range(line, &start, &end, perms) || strcmp(perms, "rwxs"))
			continue;
		if (strstr(line, "/memfd:stasis-parasite (deleted)") ||
		    (end - start == len && strstr(line, "/dev/zero (deleted)") &&
		     holds_our_blob(memfd, start))) {
			found = start;
			*found_len = end - start;
		}
	}
	if (maps)
		fclose(maps);
	if (memfd >= 0)
		close(memfd);
	return found;
}
