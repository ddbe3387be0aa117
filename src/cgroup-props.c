/*
 * cgroup-props.c - which properties of a controller are dumped (CRIU's
 * lists, changed by --cgroup-props and --cgroup-props-file), and the
 * hierarchies themselves: names and detached mounts (cgroup.h).
 *
 * A property list is written as CRIU reads it:
 *
 *   "memory":
 *    - "strategy": "merge"
 *    - "properties": ["memory.high", "memory.low"]
 *
 * "replace" drops the built-in list of that controller, "merge" adds to it.
 * Only the quoted words and the brackets carry meaning.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "log.h"

struct cgp {
	char *name;
	char **props;
	size_t nr;
};

static struct cgp *cgps;
static size_t nr_cgps;

/* The built-in lists: CRIU's, so that both dump the same values. */
static const char *const builtin[] = {
	"cpu", "cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.rt_period_us",
	"cpu.rt_runtime_us", NULL,
	/* limit_in_bytes before memsw.limit_in_bytes: the kernel wants that order. */
	"memory", "memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.swappiness",
	"memory.soft_limit_in_bytes", "memory.move_charge_at_immigrate", "memory.oom_control",
	"memory.use_hierarchy", "memory.kmem.limit_in_bytes", "memory.kmem.tcp.limit_in_bytes", NULL,
	"cpuset", "cpuset.cpus", "cpuset.mems", "cpuset.memory_migrate", "cpuset.cpu_exclusive",
	"cpuset.mem_exclusive", "cpuset.mem_hardwall", "cpuset.memory_spread_page",
	"cpuset.memory_spread_slab", "cpuset.sched_load_balance",
	"cpuset.sched_relax_domain_level", NULL,
	"blkio", "blkio.weight", NULL,
	"freezer", NULL,
	"perf_event", NULL,
	"net_cls", "net_cls.classid", NULL,
	"net_prio", "net_prio.ifpriomap", NULL,
	"pids", "pids.max", NULL,
	"devices", "devices.list", NULL,
	/* Every v1 hierarchy's own files, and cgroup v2's ("" is its name). */
	"*v1", "cgroup.clone_children", "notify_on_release", "cgroup.procs", "tasks", NULL,
	"", "cgroup.subtree_control", "cgroup.max.descendants", "cgroup.max.depth",
	"cgroup.freeze", "cgroup.type", NULL,
	NULL,
};

static struct cgp *cgp_find(const char *name, bool create)
{
	struct cgp *n;

	for (size_t i = 0; i < nr_cgps; i++)
		if (!strcmp(cgps[i].name, name))
			return &cgps[i];
	if (!create)
		return NULL;
	n = realloc(cgps, (nr_cgps + 1) * sizeof(*n));
	if (!n)
		return NULL;
	cgps = n;
	n += nr_cgps;
	memset(n, 0, sizeof(*n));
	n->name = strdup(name);
	if (!n->name)
		return NULL;
	nr_cgps++;
	return n;
}

static int cgp_add(struct cgp *c, const char *prop)
{
	char **n;

	for (size_t i = 0; i < c->nr; i++)
		if (!strcmp(c->props[i], prop))
			return 0;
	n = realloc(c->props, (c->nr + 2) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	c->props = n;
	n[c->nr] = strdup(prop);
	if (!n[c->nr])
		return -ENOMEM;
	n[++c->nr] = NULL;
	return 0;
}

static void cgp_clear(struct cgp *c)
{
	for (size_t i = 0; i < c->nr; i++)
		free(c->props[i]);
	c->nr = 0;
	if (c->props)
		c->props[0] = NULL;
}

/* The next token of @s from *@pos: a quoted word (in @word), '[' or ']'; 0 at the end. */
static int next_token(const char *s, size_t *pos, char *word, size_t size)
{
	size_t i = *pos, n = 0;

	while (s[i] && s[i] != '"' && s[i] != '[' && s[i] != ']') {
		if (!isspace((unsigned char)s[i]) && s[i] != ':' && s[i] != '-' && s[i] != ',')
			return -EINVAL;
		i++;
	}
	if (!s[i]) {
		*pos = i;
		return 0;
	}
	if (s[i] != '"') {
		*pos = i + 1;
		return s[i];
	}
	for (i++; s[i] && s[i] != '"'; i++) {
		if (n + 1 >= size)
			return -EINVAL;
		word[n++] = s[i];
	}
	if (!s[i])
		return -EINVAL;
	word[n] = '\0';
	*pos = i + 1;
	return '"';
}

static int parse_block(const char *s, size_t *pos, const char *ctl)
{
	char word[256], strategy[16];
	struct cgp *c;
	int tok, ret;

	if (next_token(s, pos, word, sizeof(word)) != '"' || strcmp(word, "strategy") ||
	    next_token(s, pos, strategy, sizeof(strategy)) != '"' ||
	    next_token(s, pos, word, sizeof(word)) != '"' || strcmp(word, "properties") ||
	    next_token(s, pos, word, sizeof(word)) != '[')
		return -EINVAL;
	if (strcmp(strategy, "merge") && strcmp(strategy, "replace")) {
		pr_err("cgroup properties of %s: unknown strategy \"%s\" (merge, replace)", ctl,
		       strategy);
		return -EINVAL;
	}
	c = cgp_find(ctl, true);
	if (!c)
		return -ENOMEM;
	if (!strcmp(strategy, "replace"))
		cgp_clear(c);
	while ((tok = next_token(s, pos, word, sizeof(word))) == '"') {
		ret = cgp_add(c, word);
		if (ret)
			return ret;
	}
	return tok == ']' ? 0 : -EINVAL;
}

static int parse_stream(const char *s, const char *what)
{
	char ctl[128];
	size_t pos = 0;
	int tok, ret;

	while ((tok = next_token(s, &pos, ctl, sizeof(ctl))) == '"') {
		ret = parse_block(s, &pos, ctl);
		if (ret) {
			if (ret == -EINVAL)
				pr_err("%s: malformed at byte %zu (\"controller\": - \"strategy\": "
				       "\"merge|replace\" - \"properties\": [\"name\", ...])", what, pos);
			return ret;
		}
	}
	if (tok) {
		pr_err("%s: malformed at byte %zu", what, pos);
		return -EINVAL;
	}
	return 0;
}

static int parse_file(const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = fopen(path, "re");
	int ret;

	if (!f) {
		pr_perror("--cgroup-props-file: cannot open %s", path);
		return -errno;
	}
	ret = getdelim(&buf, &len, '\0', f) < 0 && ferror(f) ? -EIO : 0;
	fclose(f);
	if (!ret)
		ret = parse_stream(buf ? buf : "", path);
	free(buf);
	return ret;
}

int cgp_init(const char *stream, const char *file)
{
	const char *const *p = builtin;
	int ret = 0;

	cgp_fini();
	while (*p && !ret) {
		struct cgp *c = cgp_find(*p, true);

		if (!c)
			return -ENOMEM;
		for (p++; *p && !ret; p++)
			ret = cgp_add(c, *p);
		p++;
	}
	if (!ret && stream)
		ret = parse_stream(stream, "--cgroup-props");
	if (!ret && file)
		ret = parse_file(file);
	return ret;
}

const char *const *cgp_props(const char *controller, size_t *nr)
{
	const struct cgp *c = cgp_find(controller, false);

	*nr = c ? c->nr : 0;
	return c && c->props ? (const char *const *)c->props : NULL;
}

void cgp_fini(void)
{
	for (size_t i = 0; i < nr_cgps; i++) {
		cgp_clear(&cgps[i]);
		free(cgps[i].props);
		free(cgps[i].name);
	}
	free(cgps);
	cgps = NULL;
	nr_cgps = 0;
}

/* --- hierarchies --- */

/* Is @word one of the comma-separated names of @list? */
static bool in_list(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; p; p = strchr(p, ',')) {
		if (*p == ',')
			p++;
		if (!strncmp(p, word, n) && (p[n] == ',' || !p[n]))
			return true;
	}
	return false;
}

bool cg_names_match(char *const *cnames, size_t n, const char *name)
{
	if (n == 1 && !cnames[0][0])
		return !name[0];	/* cgroup v2 */
	for (size_t i = 0; i < n; i++)
		if (!in_list(name, cnames[i]))
			return false;
	return n > 0;
}

int cg_yard_name(char *const *cnames, size_t n, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const char *c = cnames[i];

		if (!strncmp(c, "name=", 5))
			c += 5;
		else if (!c[0])
			c = "unified";
		off += snprintf(buf + off, off < size ? size - off : 0, "%s%s", i ? "," : "", c);
	}
	if (!n || off >= size)
		return -ENAMETOOLONG;
	return 0;
}

/*
 * A detached mount made with the new mount API: CRIU's way too.  A v1
 * hierarchy with no cgroup below its root dies when its last mount goes
 * (ours too), and one mounted while it dies makes the kernel restart the
 * create, which fsconfig() then answers EBUSY: made again, a moment later.
 */
static int try_mount(char *const *cnames, size_t n, bool v2)
{
	bool named_only = !v2;
	int fs, fd, ret = 0;

	fs = fsopen(v2 ? "cgroup2" : "cgroup", FSOPEN_CLOEXEC);
	if (fs < 0)
		return -errno;
	for (size_t i = 0; !v2 && !ret && i < n; i++) {
		if (!strncmp(cnames[i], "name=", 5)) {
			ret = fsconfig(fs, FSCONFIG_SET_STRING, "name", cnames[i] + 5, 0);
		} else {
			ret = fsconfig(fs, FSCONFIG_SET_FLAG, cnames[i], NULL, 0);
			named_only = false;
		}
	}
	/* A name alone finds a hierarchy; "none" also makes it when it is gone. */
	if (!ret && named_only)
		ret = fsconfig(fs, FSCONFIG_SET_FLAG, "none", NULL, 0);
	if (!ret)
		ret = fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
	fd = ret ? -errno : fsmount(fs, FSMOUNT_CLOEXEC, 0);
	if (fd == -1)
		fd = -errno;
	close(fs);
	return fd;
}

static int fresh_mount(char *const *cnames, size_t n)
{
	bool v2 = n == 1 && !cnames[0][0];
	int fd = -EBUSY;

	for (int i = 0; fd == -EBUSY && i < 200; i++) {
		if (i)
			usleep(10000);
		fd = try_mount(cnames, n, v2);
	}
	if (fd < 0) {
		errno = -fd;
		pr_perror("cannot mount the cgroup hierarchy of %s", v2 ? "cgroup v2" : cnames[0]);
	}
	return fd;
}

/* --cgroup-yard: the directory of this hierarchy there, mounted if missing. */
static int yard_dir(char *const *cnames, size_t n, const char *yard)
{
	char name[256], path[4096];
	int fd, mfd, ret;

	ret = cg_yard_name(cnames, n, name, sizeof(name));
	if (ret)
		return ret;
	if (snprintf(path, sizeof(path), "%s/%s", yard, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 || errno != ENOENT) {
		if (fd < 0)
			pr_perror("--cgroup-yard: cannot open %s", path);
		return fd < 0 ? -errno : fd;
	}
	mfd = fresh_mount(cnames, n);
	if (mfd < 0)
		return mfd;
	if (mkdir(path, 0700) && errno != EEXIST) {
		pr_perror("--cgroup-yard: cannot make %s", path);
		close(mfd);
		return -errno;
	}
	ret = move_mount(mfd, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH);
	close(mfd);
	if (ret) {
		pr_perror("--cgroup-yard: cannot mount the hierarchy at %s", path);
		return -errno;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		pr_perror("--cgroup-yard: cannot open %s", path);
	return fd < 0 ? -errno : fd;
}

int cg_open_hierarchy(char *const *cnames, size_t n, const struct opts *o)
{
	char yard[3072];

	if (!n)
		return -EINVAL;
	if (!o->cgroup_yard)
		return fresh_mount(cnames, n);
	/* A relative yard is in the work directory, as CRIU finds it. */
	if (o->cgroup_yard[0] == '/')
		snprintf(yard, sizeof(yard), "%s", o->cgroup_yard);
	else
		snprintf(yard, sizeof(yard), "%s/%s", o->work_dir ? o->work_dir : o->images_dir,
			 o->cgroup_yard);
	return yard_dir(cnames, n, yard);
}
