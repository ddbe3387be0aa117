/*
 * task-misc.h - a process's small settings in its core image: resource
 * limits, oom_score_adj, membarrier registrations (task-misc.c).
 */
#ifndef STASIS_TASK_MISC_H
#define STASIS_TASK_MISC_H

#include <sys/resource.h>

#include "core.pb-c.h"
#include "dump-ctx.h"
#include "rlimit.pb-c.h"

#define TASK_NR_RLIMITS	16

struct rst_task;
struct rst_args;

/* Every limit of @pid into @rlim[TASK_NR_RLIMITS]. */
int task_read_rlimits(pid_t pid, struct rlimit *rlim);

/* The membarrier registrations of @t into @tc (the parasite asks). */
int task_misc_dump(struct dump_task *t, TaskCoreEntry *tc);

/* The restorer's limits, the hard ones kept to what this process may set. */
void task_rlimits_args(TaskRlimitsEntry *rl, struct rst_args *a);

/* In the restored task, before the restorer: oom_score_adj, membarrier. */
int task_misc_restore(struct rst_task *t);

#endif
