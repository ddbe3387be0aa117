/*
 * runner-util.h - small helpers of the conformance runner (runner-util.c).
 */
#ifndef STASIS_RUNNER_UTIL_H
#define STASIS_RUNNER_UTIL_H

#include <sys/types.h>

/* A wait status in words ("exit 1", "signal 9"), in a static buffer. */
const char *describe_status(int status);
/* mkdir -p @path; 0 or -1. */
int mkdir_p(const char *path);
/* Remove what is in directory @path (not below); 0 or -1. */
int empty_dir(const char *path);
/* The parent of @pid from /proc/PID/stat, or -1. */
pid_t proc_ppid(pid_t pid);
/* The state letter of @pid from /proc/PID/stat, or 0. */
char proc_state(pid_t pid);
/*
 * The huge page pool's size (/proc/sys/vm/nr_hugepages), -1 if unknown;
 * and setting it back to @nr when a test raised it and was killed before
 * it could put it back itself.
 */
long hugepages_get(void);
/* fork(), or with @newpid a clone into a new pid namespace; as fork(). */
pid_t fork_maybe_newpid(int newpid);
/* The pid in file @path, and its NSpid's last (innermost) entry; 0 or -1. */
int read_pidfile(const char *path, pid_t *pid, pid_t *inner);
void hugepages_put_back(long nr);

#endif
