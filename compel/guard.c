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
#include <linux/futex.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

static __thread struct robust_list_head guard_head;
static __thread struct robust_list_head *libc_head;
static __thread size_t libc_len;
static __thread unsigned int guard_nr;

/*
 * iretq and the jumps of the self-cure break a shadow stack's rules: a
 * thread with one (x86_Thread_features: shstk) is not guarded.
 */
bool compel_guard_possible(pid_t pid, pid_t tid)
{
	char path[64], line[256];
	bool ok = true;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "x86_Thread_features:", 20) && strstr(line, "shstk"))
			ok = false;
	fclose(f);
	return ok;
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
