/*
 * proc.c - parsers for /proc files.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"

/* Read small file @path into @buf, NUL-terminated; -errno, and what failed in *@failed, not logged. */
static int read_quiet(const char *path, char *buf, size_t len, const char **failed)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	*failed = "open";
	if (fd < 0)
		return -errno;
	r = read(fd, buf, len - 1);
	if (r < 0) {
		int err = errno;

		close(fd);
		*failed = "read";
		return -err;
	}
	close(fd);
	buf[r] = '\0';
	return 0;
}

static int read_small(const char *path, char *buf, size_t len)
{
	const char *failed;
	int ret = read_quiet(path, buf, len, &failed);

	if (ret) {
		errno = -ret;
		pr_perror("cannot %s %s", failed, path);
	}
	return ret;
}

int proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	const char *failed;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	ret = read_quiet(path, buf, sizeof(buf), &failed);
	if (ret)
		return ret;
	/* The name may hold spaces and parentheses: the state follows the last ')'. */
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] ? p[2] : -EINVAL;
}

/*
 * The number at *@p in @base, which @sep must follow (0: anything);
 * *@p moves past @sep.  false if there is none.
 */
static bool take_num(const char **p, int base, char sep, unsigned long long *v)
{
	char *e;

	*v = strtoull(*p, &e, base);
	if (e == *p || (sep && *e != sep))
		return false;
	*p = sep ? e + 1 : e;
	return true;
}

/* "start-end perms pgoff maj:min ino   name" */
bool proc_parse_maps_line(const char *line, struct proc_maps_line *m)
{
	unsigned long long start, end, pgoff, maj, min, ino;
	const char *p = line;

	if (!take_num(&p, 16, '-', &start) || !take_num(&p, 16, ' ', &end) ||
	    strnlen(p, 5) < 5 || p[4] != ' ')
		return false;
	memcpy(m->perms, p, 4);
	m->perms[4] = '\0';
	p += 5;
	if (!take_num(&p, 16, ' ', &pgoff) || !take_num(&p, 16, ':', &maj) ||
	    !take_num(&p, 16, ' ', &min) || !take_num(&p, 10, 0, &ino))
		return false;
	while (*p == ' ')
		p++;
	m->start = start;
	m->end = end;
	m->pgoff = pgoff;
	m->maj = maj;
	m->min = min;
	m->ino = ino;
	m->name = p;
	return true;
}

int proc_read_stat(pid_t pid, struct proc_stat *st)
{
	char path[64], buf[2048], *p, *tok, *save = NULL;
	int field, ret;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	ret = read_small(path, buf, sizeof(buf));
	if (ret)
		return ret;
	/* The name may hold spaces and parentheses: fields start after the last ')'. */
	p = strrchr(buf, ')');
	if (!p) {
		pr_err("%s: cannot parse", path);
		return -EINVAL;
	}
	memset(st, 0, sizeof(*st));
	/* Fields numbered as proc(5) numbers them. */
	for (field = 3, tok = strtok_r(p + 1, " \n", &save); tok;
	     field++, tok = strtok_r(NULL, " \n", &save)) {
		switch (field) {
		case 3: st->state = tok[0]; break;
		case 4: st->ppid = atoi(tok); break;
		case 5: st->pgid = atoi(tok); break;
		case 6: st->sid = atoi(tok); break;
		case 9: st->flags = strtoul(tok, NULL, 10); break;
		case 23: st->vsize = strtoull(tok, NULL, 10); break;
		case 26: st->start_code = strtoull(tok, NULL, 10); break;
		case 27: st->end_code = strtoull(tok, NULL, 10); break;
		case 28: st->start_stack = strtoull(tok, NULL, 10); break;
		case 45: st->start_data = strtoull(tok, NULL, 10); break;
		case 46: st->end_data = strtoull(tok, NULL, 10); break;
		case 47: st->start_brk = strtoull(tok, NULL, 10); break;
		case 48: st->arg_start = strtoull(tok, NULL, 10); break;
		case 49: st->arg_end = strtoull(tok, NULL, 10); break;
		case 50: st->env_start = strtoull(tok, NULL, 10); break;
		case 51: st->env_end = strtoull(tok, NULL, 10); break;
		case 52: st->exit_code = atoi(tok); break;
		}
		st->nr_fields = field;
	}
	return 0;
}

static int parse_groups(const char *s, struct proc_status *st)
{
	char *copy = strdup(s), *tok, *save = NULL;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save)) {
		uint32_t *n = realloc(st->groups, (st->nr_groups + 1) * sizeof(*n));

		if (!n) {
			free(copy);
			return -ENOMEM;
		}
		st->groups = n;
		st->groups[st->nr_groups++] = strtoul(tok, NULL, 10);
	}
	free(copy);
	return 0;
}

int proc_read_status(pid_t pid, pid_t tid, struct proc_status *st)
{
	char path[96], line[1024], buf[4096];
	int ret = 0;
	FILE *f;

	memset(st, 0, sizeof(*st));
	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	f = fopen(path, "re");
	if (!f) {
		pr_perror("cannot open %s", path);
		return -errno;
	}
	/* The whole file in one read, and no fstat for stdio to size its buffer. */
	setvbuf(f, buf, _IOFBF, sizeof(buf));
	while (!ret && fgets(line, sizeof(line), f)) {
		unsigned long long v;
		int n;

		/* Most of its fifty lines are none of ours: no sscanf for them. */
		if (!strchr("UGCNS", line[0]))
			continue;
		if (sscanf(line, "Uid: %u %u %u %u", &st->uid[0], &st->uid[1], &st->uid[2],
			   &st->uid[3]) == 4)
			continue;
		if (sscanf(line, "Gid: %u %u %u %u", &st->gid[0], &st->gid[1], &st->gid[2],
			   &st->gid[3]) == 4)
			continue;
		if (!strncmp(line, "Groups:", 7))
			ret = parse_groups(line + 7, st);
		else if (sscanf(line, "CapInh: %llx", &v) == 1)
			st->cap_inh = v;
		else if (sscanf(line, "CapPrm: %llx", &v) == 1)
			st->cap_prm = v;
		else if (sscanf(line, "CapEff: %llx", &v) == 1)
			st->cap_eff = v;
		else if (sscanf(line, "CapBnd: %llx", &v) == 1)
			st->cap_bnd = v;
		else if (sscanf(line, "CapAmb: %llx", &v) == 1)
			st->cap_amb = v;
		else if (sscanf(line, "NoNewPrivs: %d", &n) == 1)
			st->no_new_privs = n;
		else if (sscanf(line, "Seccomp: %d", &n) == 1)
			st->seccomp = n;
		else if (sscanf(line, "Umask: %o", &n) == 1) {
			st->umask = n;
			st->has_umask = true;
		}
	}
	fclose(f);
	return ret;
}

int proc_read_comm(pid_t pid, pid_t tid, char *buf, size_t len)
{
	char path[96];
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", pid, tid);
	ret = read_small(path, buf, len);
	if (!ret)
		buf[strcspn(buf, "\n")] = '\0';
	return ret;
}

int proc_read_task_misc(pid_t pid, uint32_t *personality, uint32_t *loginuid,
			int32_t *oom_score_adj)
{
	char path[64], buf[64];
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/personality", pid);
	ret = read_small(path, buf, sizeof(buf));
	if (ret)
		return ret;
	*personality = strtoul(buf, NULL, 16);
	snprintf(path, sizeof(path), "/proc/%d/loginuid", pid);
	ret = read_small(path, buf, sizeof(buf));
	if (ret)
		return ret;
	*loginuid = strtoul(buf, NULL, 10);
	snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", pid);
	ret = read_small(path, buf, sizeof(buf));
	if (ret)
		return ret;
	*oom_score_adj = atoi(buf);
	return 0;
}

int proc_open(pid_t pid, const char *name, int flags)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	fd = open(path, flags | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("cannot open %s", path);
		return -errno;
	}
	return fd;
}

int proc_sys_read(const char *name, char *buf, size_t size)
{
	char path[256];
	ssize_t n;
	int fd, err;

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	while (n > 0 && buf[n - 1] == '\n')
		n--;
	buf[n] = '\0';
	return (int)n;
}

int proc_sys_write(const char *name, const char *val)
{
	size_t len = strlen(val);
	char path[256];
	ssize_t n;
	int fd, err;

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	return n == (ssize_t)len ? 0 : -EIO;
}

ssize_t proc_read_small(pid_t pid, const char *name, char *buf, size_t size)
{
	size_t len = 0;
	int fd = proc_open(pid, name, O_RDONLY);

	if (fd < 0)
		return fd;
	while (len < size - 1) {
		ssize_t r = read(fd, buf + len, size - 1 - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = -errno;

			pr_perror("cannot read /proc/%d/%s", pid, name);
			close(fd);
			return err;
		}
		if (!r)
			break;
		len += r;
	}
	close(fd);
	buf[len] = '\0';
	return len;
}

/*
 * The namespaces of the tree's tasks, read once per dump: a frozen task
 * cannot change them, and each part of the dump (the checks, the ids, the
 * files' mount namespace) asked again: 22 stats per task.  Only between
 * proc_ns_cache(true) and proc_ns_cache(false), and never for stasis
 * itself, which may move.
 */
#define NS_CACHE_SIZE	2048	/* a power of two */

static const char *const ns_cache_names[] = {
	"pid", "net", "ipc", "uts", "time", "mnt", "user", "cgroup",
	"time_for_children", "pid_for_children",
};
#define NS_CACHE_NAMES	(sizeof(ns_cache_names) / sizeof(ns_cache_names[0]))

static struct ns_cache_entry {
	pid_t pid;		/* 0: free */
	uint8_t kind;
	int err;		/* the stat's -errno, or 0 */
	ino_t ino;
} *ns_cache;
static pid_t ns_cache_self;

void proc_ns_cache(bool on)
{
	free(ns_cache);
	ns_cache = on ? calloc(NS_CACHE_SIZE, sizeof(*ns_cache)) : NULL;
	ns_cache_self = getpid();
}

/*
 * The inode of a namespace, from its link's text ("net:[4026531840]"):
 * half the cost of a stat, which follows the link into nsfs.
 */
static int ns_stat(pid_t pid, const char *name, ino_t *ino)
{
	char path[64], link[64], *open, *end;
	unsigned long long v;
	ssize_t len;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, name);
	else
		snprintf(path, sizeof(path), "/proc/self/ns/%s", name);
	len = readlink(path, link, sizeof(link) - 1);
	if (len < 0)
		return -errno;
	link[len] = '\0';
	open = strchr(link, '[');
	v = open ? strtoull(open + 1, &end, 10) : 0;
	if (!open || end == open + 1 || *end != ']') {
		pr_err("%s: unexpected link \"%s\"", path, link);
		return -EINVAL;
	}
	*ino = v;
	return 0;
}

/* The tracer and dump-pipe.c's second thread both ask. */
static pthread_mutex_t ns_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static int ns_cache_ino(pid_t pid, const char *name, ino_t *ino);

int proc_ns_ino(pid_t pid, const char *name, ino_t *ino)
{
	int ret;

	pthread_mutex_lock(&ns_cache_lock);
	ret = ns_cache_ino(pid, name, ino);
	pthread_mutex_unlock(&ns_cache_lock);
	return ret;
}

static int ns_cache_ino(pid_t pid, const char *name, ino_t *ino)
{
	struct ns_cache_entry *e = NULL;
	size_t kind, h;

	for (kind = 0; kind < NS_CACHE_NAMES; kind++)
		if (!strcmp(ns_cache_names[kind], name))
			break;
	if (!ns_cache || kind == NS_CACHE_NAMES || pid <= 0 || pid == ns_cache_self)
		return ns_stat(pid, name, ino);
	h = ((size_t)pid * NS_CACHE_NAMES + kind) * 2654435761u;
	for (size_t i = 0; i < NS_CACHE_SIZE; i++) {
		e = &ns_cache[(h + i) & (NS_CACHE_SIZE - 1)];
		if (!e->pid || (e->pid == pid && e->kind == kind))
			break;
		e = NULL;
	}
	if (!e)
		return ns_stat(pid, name, ino);
	if (!e->pid) {
		e->err = ns_stat(pid, name, &e->ino);
		e->pid = pid;
		e->kind = kind;
	}
	*ino = e->ino;
	return e->err;
}
