/*
 * cgroup-restore.c - the restore half of cgroups (cgroup.h).
 *
 * In the controller, before the fork: each hierarchy of cgroup.img is
 * opened (a detached mount, or its directory in --cgroup-yard) into the
 * pool, and its dumped directories are made as --manage-cgroups says:
 *
 *   none    every directory must exist; nothing is changed
 *   props   every directory must exist; their properties are written
 *   soft    missing ones are made with their properties (the default)
 *   full    missing ones are made; every one gets its properties
 *   strict  none may exist; all are made with their properties
 *   ignore  cgroups are not touched: the tree stays where stasis is
 *
 * The properties a cgroup needs before anything enters it (cpuset's cpus
 * and mems, devices, a few of memory's, a v2 thread type) are written as
 * it is made; the rest once the tree is in, before it runs.  Each task
 * moves itself into its set before its fds and memory (so that what it
 * allocates is charged there), threads in a set of their own are moved by
 * the controller once the restorer has made them.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "inventory.pb-c.h"
#include "log.h"
#include "rst-ctx.h"

/* A directory whose properties are written before the tree runs. */
struct rst_cgdir {
	size_t ctl;
	char *path;
	const CgroupDirEntry *e;
};

static struct {
	CgroupEntry *ce;
	uint32_t root_set;		/* stasis's set at dump: tasks in it stay */
	unsigned int mode;
	int *hfd;			/* per controller: pool fd, or -1 */
	struct rst_cgdir *props;
	size_t nr_props;
} rs;

static const char *mode_name(unsigned int m)
{
	switch (m) {
	case CG_MODE_NONE: return "none";
	case CG_MODE_PROPS: return "props";
	case CG_MODE_FULL: return "full";
	case CG_MODE_STRICT: return "strict";
	case CG_MODE_IGNORE: return "ignore";
	}
	return "soft";
}

/* @path relative to its hierarchy's root, for openat(). */
static const char *rel(const char *path)
{
	while (*path == '/')
		path++;
	return *path ? path : ".";
}

static const CgSetEntry *set_by_id(uint32_t id)
{
	for (size_t i = 0; rs.ce && i < rs.ce->n_sets; i++)
		if (rs.ce->sets[i]->id == id)
			return rs.ce->sets[i];
	return NULL;
}

static int ctl_of(const char *name)
{
	for (size_t i = 0; i < rs.ce->n_controllers; i++) {
		const CgControllerEntry *c = rs.ce->controllers[i];

		if (cg_names_match(c->cnames, c->n_cnames, name))
			return i;
	}
	return -1;
}

/* A task's set: its main thread's (CRIU's thread_core), or the old per-task field. */
static uint32_t task_set(const struct rst_task *t, size_t thread)
{
	const CoreEntry *c = t->cores ? t->cores[thread] : NULL;

	if (!c)
		return 0;
	if (c->thread_core && c->thread_core->has_cg_set)
		return c->thread_core->cg_set;
	return c->tc && c->tc->has_cg_set ? c->tc->cg_set : 0;
}

/* --- reading: cgroup.img, and --cgroup-root --- */

/* Does --cgroup-root's controller list @ctl name one of @c's controllers? */
static bool root_opt_matches(const CgControllerEntry *c, const char *ctl)
{
	for (size_t k = 0; k < c->n_cnames; k++)
		if (cg_names_match(&c->cnames[k], 1, ctl))
			return true;
	return false;
}

static const char *new_root(const struct opts *o, const CgControllerEntry *c)
{
	const char *global = NULL;

	for (size_t i = 0; i < o->nr_cg_roots; i++) {
		if (!o->cg_roots[i].controller)
			global = o->cg_roots[i].path;
		else if (root_opt_matches(c, o->cg_roots[i].controller))
			return o->cg_roots[i].path;
	}
	return global;
}

/* @root followed by @rest ("" or "/a/b"), one '/' between. */
static char *join(const char *root, const char *rest)
{
	size_t n = strlen(root);
	char *s;

	while (n > 1 && root[n - 1] == '/')
		n--;
	if (asprintf(&s, "%.*s%s%s", (int)n, root, *rest && *rest != '/' ? "/" : "",
		     n == 1 && *rest == '/' ? rest + 1 : rest) < 0)
		return NULL;
	return s;
}

/*
 * Head directory @e of controller @c moves to @root, and with it every
 * path of a set below it (CRIU's --cgroup-root).
 */
static int rewrite_head(const CgControllerEntry *c, CgroupDirEntry *e, const char *root)
{
	size_t dl = strlen(e->dir_name);
	char *dir = NULL;

	for (size_t i = 0; i < rs.ce->n_sets; i++) {
		CgSetEntry *s = rs.ce->sets[i];

		for (size_t j = 0; j < s->n_ctls; j++) {
			CgMemberEntry *m = s->ctls[j];
			const char *rest;
			char *np;

			if (!cg_names_match(c->cnames, c->n_cnames, m->name) ||
			    strncmp(m->path + 1, e->dir_name, dl) ||
			    (dl && m->path[dl + 1] && m->path[dl + 1] != '/'))
				continue;
			rest = m->path + 1 + dl;
			if (m->has_cgns_prefix && m->cgns_prefix && m->cgns_prefix <= strlen(m->path))
				rest = m->path + m->cgns_prefix;
			np = join(root, rest);
			if (!np)
				return -ENOMEM;
			pr_info("cgroup %s of %s is now %s", m->path, m->name, np);
			free(m->path);
			m->path = np;
			if (m->has_cgns_prefix && m->cgns_prefix)
				m->cgns_prefix = strlen(root);
		}
	}
	dir = strdup(root);
	if (!dir)
		return -ENOMEM;
	free(e->dir_name);
	e->dir_name = dir;
	return 0;
}

static int rewrite_roots(const struct opts *o)
{
	for (size_t i = 0; i < rs.ce->n_controllers; i++) {
		const CgControllerEntry *c = rs.ce->controllers[i];
		const char *root = new_root(o, c);

		for (size_t j = 0; root && j < c->n_dirs; j++) {
			int ret = rewrite_head(c, c->dirs[j], root);

			if (ret)
				return ret;
		}
	}
	return 0;
}

/* Does @path have a ".." component (it would leave its hierarchy)? */
static bool leaves(const char *path)
{
	for (const char *p = path; p; p = strchr(p, '/')) {
		while (*p == '/')
			p++;
		if (p[0] == '.' && p[1] == '.' && (!p[2] || p[2] == '/'))
			return true;
	}
	return false;
}

static int check_dirs(CgroupDirEntry **ents, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (leaves(ents[i]->dir_name)) {
			pr_err("cgroup.img: directory %s leaves its hierarchy", ents[i]->dir_name);
			return -EINVAL;
		}
		if (check_dirs(ents[i]->children, ents[i]->n_children))
			return -EINVAL;
	}
	return 0;
}

static int check_image(void)
{
	for (size_t i = 0; i < rs.ce->n_controllers; i++) {
		if (!rs.ce->controllers[i]->n_cnames) {
			pr_err("cgroup.img: a hierarchy without controllers");
			return -EINVAL;
		}
		if (check_dirs(rs.ce->controllers[i]->dirs, rs.ce->controllers[i]->n_dirs))
			return -EINVAL;
	}
	for (size_t i = 0; i < rs.ce->n_sets; i++) {
		const CgSetEntry *s = rs.ce->sets[i];

		for (size_t j = 0; j < s->n_ctls; j++) {
			if (ctl_of(s->ctls[j]->name) < 0 || s->ctls[j]->path[0] != '/' ||
			    leaves(s->ctls[j]->path)) {
				pr_err("cgroup.img: set %u: %s:%s is not a cgroup of a dumped hierarchy",
				       s->id, s->ctls[j]->name, s->ctls[j]->path);
				return -EINVAL;
			}
		}
	}
	return 0;
}

int cgroup_rst_read(struct rst_ctx *ctx)
{
	InventoryEntry *inv;
	int ret;

	rs.mode = ctx->opts->manage_cgroups;
	ret = img_read_one(ctx->dirfd, IMG_INVENTORY, 0, &inventory_entry__descriptor,
			   (ProtobufCMessage **)&inv);
	if (ret)
		return ret;
	rs.root_set = inv->has_root_cg_set ? inv->root_cg_set : CG_SET_STASIS;
	img_free_msg(&inv->base);
	ret = img_read_one(ctx->dirfd, IMG_CGROUP, 0, &cgroup_entry__descriptor,
			   (ProtobufCMessage **)&rs.ce);
	if (ret == -ENOENT)
		return 0;	/* every task was in the dumper's cgroups */
	if (ret)
		return ret;
	for (size_t i = 0; i < ctx->nr_tasks; i++) {
		const struct rst_task *t = &ctx->tasks[i];

		for (size_t j = 0; !t->zombie && j < t->nr_threads; j++) {
			uint32_t id = task_set(t, j);

			if (id && id != rs.root_set && !set_by_id(id)) {
				pr_err("pid %d: its cgroup set %u is not in cgroup.img", t->tids[j], id);
				return -EINVAL;
			}
		}
	}
	return check_image() ?: rewrite_roots(ctx->opts);
}

/* --- making the directories --- */

static int write_value(int fd, const char *path, const char *name, const char *v, size_t len)
{
	if (write(fd, v, len) == (ssize_t)len)
		return 0;
	/* Deprecated by the kernel (it says so): CRIU lets it pass too. */
	if (errno == EOPNOTSUPP && !strcmp(name, "memory.kmem.limit_in_bytes"))
		return 0;
	pr_perror("cannot write \"%.*s\" to cgroup %s/%s", (int)len, v, path, name);
	return -errno;
}

/* cgroup.subtree_control: what is enabled now goes, what was comes. */
static int write_subtree(int fd, const char *path, const char *value)
{
	char cur[1024], line[2048], *save = NULL, *w;
	size_t off = 0;
	ssize_t n = read(fd, cur, sizeof(cur) - 1);
	char want[1024];

	if (n < 0)
		return -errno;
	cur[n] = '\0';
	snprintf(want, sizeof(want), "%s", value);
	for (w = strtok_r(cur, " \n", &save); w; w = strtok_r(NULL, " \n", &save))
		off += snprintf(line + off, sizeof(line) - off, "-%s ", w);
	for (w = strtok_r(want, " \n", &save); w; w = strtok_r(NULL, " \n", &save))
		off += snprintf(line + off, sizeof(line) - off, "+%s ", w);
	if (off >= sizeof(line))
		return -E2BIG;
	if (!off)
		return 0;
	return write_value(fd, path, "cgroup.subtree_control", line, off - 1);
}

static int write_prop(int hfd, const char *path, const CgroupPropEntry *p, const char *name,
		      const char *value)
{
	char file[PATH_MAX];
	bool subtree = !strcmp(name, "cgroup.subtree_control");
	int fd, ret = 0;

	snprintf(file, sizeof(file), "%s/%s", rel(path), name);
	fd = openat(hfd, file, (subtree ? O_RDWR : O_WRONLY) | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("cannot open cgroup property %s/%s", path, name);
		return -errno;
	}
	if (p->perms && (fchown(fd, p->perms->uid, p->perms->gid) ||
			 fchmod(fd, p->perms->mode & 07777))) {
		pr_perror("cannot give cgroup property %s/%s its owner and mode", path, name);
		ret = -errno;
	} else if (!strcmp(name, "cgroup.procs") || !strcmp(name, "tasks")) {
		ret = 0;	/* only the perms: who is in comes from the sets */
	} else if (subtree) {
		ret = write_subtree(fd, path, value);
	} else if (!strcmp(name, "net_prio.ifpriomap") || !strcmp(name, "devices.allow")) {
		/* One line a write: the kernel reads only the first.  Interfaces may differ. */
		for (const char *l = value; *l && (!ret || *name == 'n');) {
			size_t len = strcspn(l, "\n");

			ret = write_value(fd, path, name, l, len);
			l += len + (l[len] == '\n');
		}
		ret = *name == 'n' ? 0 : ret;
	} else if (strcmp(name, "cgroup.type") || !strcmp(value, "threaded")) {
		ret = write_value(fd, path, name, value, strlen(value));
	}
	close(fd);
	return ret;
}

static bool is_special(const char *name)
{
	static const char *const special[] = {
		"cpuset.cpus", "cpuset.mems", "devices.list", "memory.kmem.limit_in_bytes",
		"memory.swappiness", "memory.oom_control", "memory.use_hierarchy", "cgroup.type",
	};

	for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++)
		if (!strcmp(name, special[i]))
			return true;
	return false;
}

/* What must be set before a task or a child enters a cgroup just made. */
static int special_props(int hfd, const char *path, const CgroupDirEntry *e)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < e->n_properties; i++) {
		const CgroupPropEntry *p = e->properties[i];

		if (!is_special(p->name))
			continue;
		/* The kernel's defaults: writing them may be refused for nothing. */
		if ((!strcmp(p->name, "memory.swappiness") && !strcmp(p->value, "60")) ||
		    (!strcmp(p->name, "memory.oom_control") && !strcmp(p->value, "0")))
			continue;
		if (!strcmp(p->name, "devices.list")) {
			/* A list is read, a deny-all and allows are written. */
			CgroupPropEntry q = *p;

			q.perms = NULL;
			ret = write_prop(hfd, path, &q, "devices.deny", "a");
			if (!ret && p->value[0])
				ret = write_prop(hfd, path, &q, "devices.allow", p->value);
			continue;
		}
		ret = write_prop(hfd, path, p, p->name, p->value);
	}
	return ret;
}

static int set_dir_perms(int hfd, const char *path, const CgroupPerms *perms)
{
	if (!perms)
		return 0;
	if (fchownat(hfd, rel(path), perms->uid, perms->gid, 0) ||
	    fchmodat(hfd, rel(path), perms->mode & 07777, 0)) {
		pr_perror("cannot give cgroup %s its owner and mode", path);
		return -errno;
	}
	return 0;
}

static int mkdir_p(int hfd, const char *path)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", rel(path));
	for (char *p = buf;; p++) {
		if (*p && *p != '/')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdirat(hfd, buf, 0755) && errno != EEXIST) {
			pr_perror("cannot make cgroup %s", buf);
			return -errno;
		}
		if (!c)
			return 0;
		*p = c;
	}
}

static int want_props(size_t ctl, const char *path, const CgroupDirEntry *e)
{
	struct rst_cgdir *n = realloc(rs.props, (rs.nr_props + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	rs.props = n;
	n += rs.nr_props;
	n->ctl = ctl;
	n->e = e;
	n->path = strdup(path);
	if (!n->path)
		return -ENOMEM;
	rs.nr_props++;
	return 0;
}

static int make_dirs(size_t ctl, const char *parent, CgroupDirEntry **ents, size_t n);

static int make_dir(size_t ctl, const char *parent, const CgroupDirEntry *e)
{
	int hfd = rs.hfd[ctl], ret;
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s%s%s", parent, *e->dir_name ? "/" : "",
		     e->dir_name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if (faccessat(hfd, rel(path), F_OK, 0) == 0) {
		if (rs.mode == CG_MODE_STRICT) {
			pr_err("cgroup %s exists (--manage-cgroups=strict)", path);
			return -EEXIST;
		}
		ret = rs.mode == CG_MODE_NONE ? 0 : set_dir_perms(hfd, path, e->dir_perms);
		if (!ret && rs.mode != CG_MODE_NONE && rs.mode != CG_MODE_SOFT)
			ret = want_props(ctl, path, e);
	} else if (errno != ENOENT) {
		pr_perror("cannot look at cgroup %s", path);
		return -errno;
	} else if (rs.mode == CG_MODE_NONE || rs.mode == CG_MODE_PROPS) {
		pr_err("cgroup %s does not exist (--manage-cgroups=%s)", path, mode_name(rs.mode));
		return -ENOENT;
	} else {
		pr_info("cgroup %s made", path);
		ret = mkdir_p(hfd, path) ?: set_dir_perms(hfd, path, e->dir_perms) ?:
		      special_props(hfd, path, e) ?: want_props(ctl, path, e);
	}
	return ret ?: make_dirs(ctl, path, e->children, e->n_children);
}

static int make_dirs(size_t ctl, const char *parent, CgroupDirEntry **ents, size_t n)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < n; i++)
		ret = make_dir(ctl, parent, ents[i]);
	return ret;
}

int cgroup_rst_prepare(struct rst_ctx *ctx)
{
	int ret = 0;

	if (!rs.ce || !rs.ce->n_sets || rs.mode == CG_MODE_IGNORE)
		return 0;
	rs.hfd = malloc(rs.ce->n_controllers * sizeof(*rs.hfd));
	if (!rs.hfd)
		return -ENOMEM;
	for (size_t i = 0; i < rs.ce->n_controllers; i++)
		rs.hfd[i] = -1;
	for (size_t i = 0; !ret && i < rs.ce->n_controllers; i++) {
		const CgControllerEntry *c = rs.ce->controllers[i];
		int fd = cg_open_hierarchy(c->cnames, c->n_cnames, ctx->opts);

		if (fd < 0)
			return fd;
		rs.hfd[i] = rst_pool_add(ctx, fd);
		if (rs.hfd[i] < 0)
			return rs.hfd[i];
		ret = make_dirs(i, "", c->dirs, c->n_dirs);
	}
	return ret;
}

/* --- moving tasks --- */

/* Write "@what" into @file of cgroup @path of controller @ctl. */
static int cg_write(size_t ctl, const char *path, const char *file, const char *what)
{
	char f[PATH_MAX];
	int fd, ret = 0;

	snprintf(f, sizeof(f), "%s/%s", rel(path), file);
	fd = openat(rs.hfd[ctl], f, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, what, strlen(what)) < 0) {
		pr_perror("cannot write %s into cgroup %s/%s", what, path, file);
		ret = -errno;
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

int cgroup_rst_task(struct rst_ctx *ctx, struct rst_task *t)
{
	uint32_t id = task_set(t, 0);
	const CgSetEntry *s;
	int ret = 0;

	(void)ctx;
	if (!rs.hfd || !id || id == rs.root_set)
		return 0;
	s = set_by_id(id);
	for (size_t i = 0; !ret && s && i < s->n_ctls; i++) {
		pr_debug("pid %d enters %s:%s", t->pid, s->ctls[i]->name, s->ctls[i]->path);
		/* "0" is the writer, whatever pid namespace it is in. */
		ret = cg_write(ctl_of(s->ctls[i]->name), s->ctls[i]->path, "cgroup.procs", "0");
	}
	return ret;
}

int cgroup_enter_ns_root(struct rst_ctx *ctx, struct rst_task *t)
{
	uint32_t id = task_set(t, 0);
	const CgSetEntry *s = set_by_id(id);
	int ret = 0;

	(void)ctx;
	for (size_t i = 0; !ret && rs.hfd && s && i < s->n_ctls; i++) {
		const CgMemberEntry *m = s->ctls[i];
		char *root;

		if (!m->has_cgns_prefix || !m->cgns_prefix || m->cgns_prefix > strlen(m->path))
			continue;
		root = strndup(m->path, m->cgns_prefix);
		if (!root)
			return -ENOMEM;
		ret = cg_write(ctl_of(m->name), root, "cgroup.procs", "0");
		free(root);
	}
	return ret;
}

/*
 * Is @tid, as stasis sees it, thread @tid of @pid?  Not where the tree has
 * a pid namespace of its own: its numbers are not stasis's there.
 */
static bool same_numbers(pid_t pid, pid_t tid)
{
	char path[64], line[128];
	int tgid = -1, nspids = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Tgid:", 5))
			tgid = atoi(line + 5);
		else if (!strncmp(line, "NSpid:", 6))
			for (char *p = strtok(line + 6, " \t\n"); p; p = strtok(NULL, " \t\n"))
				nspids++;
	}
	fclose(f);
	return tgid == pid && nspids == 1;
}

/* A thread in a set of its own: moved in each threaded hierarchy. */
static int move_thread(pid_t pid, pid_t tid, uint32_t id)
{
	const CgSetEntry *s = set_by_id(id);
	char buf[16];
	int ret = 0;

	if (!same_numbers(pid, tid)) {
		pr_err("not supported yet: thread %d of pid %d in cgroups of its own, in a tree "
		       "with a pid namespace of its own", tid, pid);
		return -ENOTSUP;
	}

	snprintf(buf, sizeof(buf), "%d", tid);
	for (size_t i = 0; !ret && s && i < s->n_ctls; i++) {
		int c = ctl_of(s->ctls[i]->name);
		const CgControllerEntry *ce = rs.ce->controllers[c];

		if (!ce->has_is_threaded || !ce->is_threaded)
			continue;	/* every thread is where its process is */
		ret = cg_write(c, s->ctls[i]->path, ce->cnames[0][0] ? "tasks" : "cgroup.threads",
			       buf);
	}
	return ret;
}

int cgroup_rst_arm(struct rst_ctx *ctx)
{
	int ret = 0;

	if (!rs.hfd)
		return 0;
	for (size_t i = 0; !ret && i < ctx->nr_tasks; i++) {
		const struct rst_task *t = &ctx->tasks[i];

		for (size_t j = 1; !ret && !t->zombie && j < t->nr_threads; j++) {
			uint32_t id = task_set(t, j);

			if (id && id != rs.root_set && id != task_set(t, 0))
				ret = move_thread(t->pid, t->tids[j], id);
		}
	}
	for (size_t i = 0; !ret && i < rs.nr_props; i++) {
		const struct rst_cgdir *d = &rs.props[i];

		if (!*rel(d->path) || !strcmp(rel(d->path), "."))
			continue;	/* a hierarchy's root is the kernel's */
		for (size_t j = 0; !ret && j < d->e->n_properties; j++) {
			const CgroupPropEntry *p = d->e->properties[j];

			if (is_special(p->name) || !strcmp(p->name, "freezer.state"))
				continue;
			ret = write_prop(rs.hfd[d->ctl], d->path, p, p->name, p->value);
		}
	}
	return ret;
}

void cgroup_rst_cleanup(struct rst_ctx *ctx)
{
	(void)ctx;
	for (size_t i = 0; i < rs.nr_props; i++)
		free(rs.props[i].path);
	free(rs.props);
	free(rs.hfd);
	if (rs.ce)
		img_free_msg(&rs.ce->base);
	memset(&rs, 0, sizeof(rs));
}
