/*
 * proc.h - the /proc files stasis reads, parsed: the one place that knows
 * their formats.
 * Each function returns 0 or -errno (logged).
 */
#ifndef STASIS_PROC_H
#define STASIS_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* /proc/PID/stat: the fields stasis uses, read once per task by the dump. */
struct proc_stat {
	char state;
	pid_t ppid, pgid, sid;
	uint32_t flags;		/* PF_* of the task */
	int exit_code;
	/* The mm's layout, for mm-PID.img. */
	uint64_t vsize;		/* bytes mapped, all areas */
	uint64_t start_code, end_code, start_stack, start_data, end_data, start_brk;
	uint64_t arg_start, arg_end, env_start, env_end;
	int nr_fields;		/* how many fields the line had */
};

int proc_read_stat(pid_t pid, struct proc_stat *st);

/* A line of /proc/PID/maps, or the line that opens an area in smaps. */
struct proc_maps_line {
	uint64_t start, end, pgoff, ino;
	unsigned int maj, min;
	char perms[5];
	const char *name;	/* into the line; "" for none */
};
/* Parse @line into @m (by hand: sscanf cost more than the read); false if it is none. */
bool proc_parse_maps_line(const char *line, struct proc_maps_line *m);
/* The state letter of /proc/@pid/stat ('R', 'S', 'Z', ...), or -errno, not logged. */
int proc_state(pid_t pid);

/* /proc/PID/task/TID/status: identity and signal-related lines. */
struct proc_status {
	uint32_t uid[4], gid[4];	/* real, effective, saved, fs */
	uint32_t *groups;		/* malloc'ed; free it */
	int nr_groups;
	uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
	bool no_new_privs;
	int seccomp;			/* 0 disabled, 1 strict, 2 filter */
	uint32_t umask;
	bool has_umask;			/* kernels before 4.7 show none */
};

int proc_read_status(pid_t pid, pid_t tid, struct proc_status *st);

/* The thread's name, without the newline. */
int proc_read_comm(pid_t pid, pid_t tid, char *buf, size_t len);

/* open("/proc/@pid/@name", @flags | O_CLOEXEC); the fd or -errno (logged). */
int proc_open(pid_t pid, const char *name, int flags);
/* Read all of a small /proc/@pid/@name into @buf (NUL-terminated); its length or -errno. */
ssize_t proc_read_small(pid_t pid, const char *name, char *buf, size_t size);

/*
 * /proc/sys/@name (e.g. "kernel/sem") as text, without its trailing
 * newline; its length or -errno, not logged: ENOENT says this kernel has
 * no such sysctl, which callers treat each in their way.  The file is the
 * one of the caller's current namespaces.
 */
int proc_sys_read(const char *name, char *buf, size_t size);
/* Write @val into /proc/sys/@name; 0 or -errno, not logged. */
int proc_sys_write(const char *name, const char *val);

/* personality, loginuid and oom_score_adj of a process. */
int proc_read_task_misc(pid_t pid, uint32_t *personality, uint32_t *loginuid,
			int32_t *oom_score_adj);

/*
 * The inode of /proc/@pid/ns/@name, pid 0 for stasis's own (0, or -errno); from a
 * cache between proc_ns_cache(true) and (false): while the tree is frozen.
 */
int proc_ns_ino(pid_t pid, const char *name, ino_t *ino);
void proc_ns_cache(bool on);

#endif
