/*
 * proc-stat.c - what /proc/PID/stat says of a task: its state, its
 * parent, its flags and its exit code; whether a thread is on its way
 * out; and the head of a /proc/PID/maps line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* The fields of /proc/PID/stat we need; the name may hold spaces and ')'. */
int compel_read_stat(pid_t pid, struct proc_stat *st)
{
	char path[64], buf[1024], *p, *tok, *save = NULL;
	int fd, field;
	ssize_t r;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return -ESRCH;
	buf[r] = '\0';
	p = strrchr(buf, ')');
	if (!p)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	/* Fields after the name: 3 is the state, 4 the parent, 9 the flags, 52 the exit code. */
	for (field = 3, tok = strtok_r(p + 1, " \n", &save); tok;
	     field++, tok = strtok_r(NULL, " \n", &save)) {
		if (field == 3)
			st->state = tok[0];
		else if (field == 4)
			st->ppid = atoi(tok);
		else if (field == 9)
			st->flags = strtoul(tok, NULL, 10);
		else if (field == 52)
			st->exit_code = atoi(tok);
	}
	return field > 4 ? 0 : -EINVAL;
}

/* A thread on its way out refuses ptrace with EPERM: tell that apart. */
bool compel_thread_exiting(pid_t tid)
{
	struct proc_stat st;

	return compel_read_stat(tid, &st) || st.state == 'Z' || st.state == 'X';
}

bool compel_maps_range(const char *line, unsigned long *start, unsigned long *end,
		       char perms[5])
{
	char *p;

	*start = strtoul(line, &p, 16);
	if (p == line || *p != '-')
		return false;
	line = p + 1;
	*end = strtoul(line, &p, 16);
	if (p == line || *p != ' ' || strlen(p + 1) < 4)
		return false;
	memcpy(perms, p + 1, 4);
	perms[4] = '\0';
	return true;
}
