/*
 * cgroup.c - the dump half of cgroups (cgroup.h): each thread's set, and
 * cgroup.img with the sets, the hierarchies and the directories under
 * every path a set names, with their properties.
 *
 * The sets are found from /proc/PID/task/TID/cgroup, controllers in name
 * order, as CRIU lists them.  The directories are read through a mount
 * of each hierarchy of stasis's own (fsmount: nothing appears in any
 * mount table), or through --cgroup-yard.  When the root has its own
 * cgroup namespace, the part of each path above that namespace's root
 * (cgns_prefix) is found by reading the root's cgroup file from inside it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "log.h"
#include "parts.h"

struct cg_member {
	char *name, *path;
	uint32_t prefix;		/* cgns_prefix; 0: none */
};

struct cg_set {
	uint32_t id;
	struct cg_member *m;		/* sorted by name */
	size_t n;
};

struct cg_prop {
	char *name, *value;
	struct stat st;
};

struct cg_dir {
	char *path;			/* in its hierarchy, "/" for the root */
	struct stat st;
	struct cg_prop *props;
	size_t nr_props;
	struct cg_dir **kids;
	size_t nr_kids;
};

struct cg_hier {
	char **cnames;
	size_t n;
	int fd;				/* its mount, once opened; -1 */
	bool threaded;
	struct cg_dir **heads;
	size_t nr_heads;
};

static struct {
	bool ready;
	const struct opts *opts;
	struct cg_set *sets;		/* sets[0] is stasis's own, CG_SET_STASIS */
	size_t nr_sets;
	struct cg_hier *h;
	size_t nr_h;
	uint32_t root_set;
} cg;

/* --- reading /proc/.../cgroup --- */

static void members_free(struct cg_member *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(m[i].name);
		free(m[i].path);
	}
	free(m);
}

static bool dump_controller(const char *name)
{
	if (!cg.opts->nr_cg_dump_ctls)
		return true;
	for (size_t i = 0; i < cg.opts->nr_cg_dump_ctls; i++)
		if (!strcmp(cg.opts->cg_dump_ctls[i], name))
			return true;
	return false;
}

/* One "ID:NAMES:PATH" line into @m, kept sorted by name. */
static int add_line(char *line, struct cg_member **m, size_t *n)
{
	char *name = strchr(line, ':'), *path;
	struct cg_member *nm;
	size_t at;

	path = name ? strchr(name + 1, ':') : NULL;
	if (!path)
		return -EINVAL;
	*path++ = '\0';
	name++;
	path[strcspn(path, "\n")] = '\0';
	if (!dump_controller(name))
		return 0;
	nm = realloc(*m, (*n + 1) * sizeof(*nm));
	if (!nm)
		return -ENOMEM;
	*m = nm;
	for (at = 0; at < *n && strcmp(nm[at].name, name) < 0; at++)
		;
	memmove(&nm[at + 1], &nm[at], (*n - at) * sizeof(*nm));
	nm[at].name = strdup(name);
	nm[at].path = strdup(path);
	nm[at].prefix = 0;
	(*n)++;
	return nm[at].name && nm[at].path ? 0 : -ENOMEM;
}

static int read_members(const char *file, struct cg_member **m, size_t *n)
{
	char line[4096], buf[8192];
	FILE *f = fopen(file, "re");
	int ret = 0;

	*m = NULL;
	*n = 0;
	if (!f) {
		pr_perror("cannot open %s", file);
		return -errno;
	}
	/* Our own buffer: stdio sizes none by an fstat, and reads it at once. */
	setvbuf(f, buf, _IOFBF, sizeof(buf));
	while (!ret && fgets(line, sizeof(line), f))
		ret = add_line(line, m, n);
	fclose(f);
	if (ret == -EINVAL)
		pr_err("%s: a line is not ID:CONTROLLERS:PATH", file);
	if (ret) {
		members_free(*m, *n);
		*m = NULL;
		*n = 0;
	}
	return ret;
}

/* Add controller @c to *@h, a new hierarchy when *@h is NULL. */
static int hier_add_name(struct cg_hier **h, const char *c)
{
	char **cn;

	if (!*h) {
		struct cg_hier *nh = realloc(cg.h, (cg.nr_h + 1) * sizeof(*nh));

		if (!nh)
			return -ENOMEM;
		cg.h = nh;
		*h = &cg.h[cg.nr_h++];
		memset(*h, 0, sizeof(**h));
		(*h)->fd = -1;
	}
	cn = realloc((*h)->cnames, ((*h)->n + 1) * sizeof(*cn));
	if (!cn)
		return -ENOMEM;
	(*h)->cnames = cn;
	cn[(*h)->n] = strdup(c);
	if (!cn[(*h)->n])
		return -ENOMEM;
	(*h)->n++;
	return 0;
}

/*
 * The hierarchies stasis is in, as CRIU lists them: each of real
 * controllers (co-mounted ones together), cgroup v2 as the name "";
 * name= hierarchies are added when a set names them.
 */
static int init_hierarchies(const struct cg_member *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *names, *save = NULL, *c;
		struct cg_hier *h = NULL;
		int ret = 0;

		if (!m[i].name[0]) {
			ret = hier_add_name(&h, "");
			if (ret)
				return ret;
			continue;
		}
		names = strdup(m[i].name);
		if (!names)
			return -ENOMEM;
		for (c = strtok_r(names, ",", &save); !ret && c; c = strtok_r(NULL, ",", &save))
			if (strncmp(c, "name=", 5))
				ret = hier_add_name(&h, c);
		free(names);
		if (ret)
			return ret;
	}
	return 0;
}

/* Stasis's own set, the first: tasks in it stay where the restore is. */
static int init_stasis_set(void)
{
	struct cg_member *m;
	size_t n;
	int ret = read_members("/proc/self/cgroup", &m, &n);

	if (ret)
		return ret;
	cg.sets = calloc(1, sizeof(*cg.sets));
	if (!cg.sets) {
		members_free(m, n);
		return -ENOMEM;
	}
	cg.sets[0] = (struct cg_set){ .id = CG_SET_STASIS, .m = m, .n = n };
	cg.nr_sets = 1;
	return init_hierarchies(m, n);
}

/* --- the directories under a set's paths --- */

static bool is_subpath(const char *path, const char *parent)
{
	size_t n = strlen(parent);

	if (!strcmp(parent, "/"))
		return strcmp(path, "/") != 0;
	return !strncmp(path, parent, n) && path[n] == '/';
}

static int read_prop(int dfd, const char *name, struct cg_prop *p)
{
	char buf[1024];
	ssize_t len = 0;
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	int disable;

	if (fd < 0 || fstat(fd, &p->st)) {
		pr_perror("cannot read cgroup property %s", name);
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	/* Only their owner and mode matter: which tasks are in comes from the sets. */
	if (strcmp(name, "cgroup.procs") && strcmp(name, "tasks"))
		len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len < 0) {
		pr_perror("cannot read cgroup property %s", name);
		return -errno;
	}
	buf[len] = '\0';
	if (len && buf[len - 1] == '\n')
		buf[len - 1] = '\0';
	if (strtoll(buf, NULL, 10) == LLONG_MAX)
		strcpy(buf, "-1");
	/* What is written back is the switch, not the report. */
	if (!strcmp(name, "memory.oom_control") && sscanf(buf, "oom_kill_disable %d", &disable) == 1)
		snprintf(buf, sizeof(buf), "%d", disable);
	p->name = strdup(name);
	p->value = strdup(buf);
	return p->name && p->value ? 0 : -ENOMEM;
}

static int add_props_of(struct cg_hier *h, struct cg_dir *d, int dfd, const char *ctl)
{
	size_t nr;
	const char *const *names = cgp_props(ctl, &nr);

	for (size_t i = 0; i < nr; i++) {
		struct cg_prop *np;
		int ret;

		if (faccessat(dfd, names[i], F_OK, 0))
			continue;	/* not on this kernel, or not at the root */
		np = realloc(d->props, (d->nr_props + 1) * sizeof(*np));
		if (!np)
			return -ENOMEM;
		d->props = np;
		np += d->nr_props;
		memset(np, 0, sizeof(*np));
		ret = read_prop(dfd, names[i], np);
		d->nr_props++;
		if (ret)
			return ret;
		if (!strcmp(np->name, "tasks") ||
		    (!strcmp(np->name, "cgroup.type") && !strcmp(np->value, "threaded")))
			h->threaded = true;
	}
	return 0;
}

static int add_props(struct cg_hier *h, struct cg_dir *d, int dfd)
{
	bool v2 = h->n == 1 && !h->cnames[0][0];
	int ret = 0;

	for (size_t i = 0; !v2 && !ret && i < h->n; i++)
		ret = add_props_of(h, d, dfd, h->cnames[i]);
	return ret ?: add_props_of(h, d, dfd, v2 ? "" : "*v1");
}

static int dir_list_add(struct cg_dir ***list, size_t *n, struct cg_dir *d)
{
	struct cg_dir **nl = realloc(*list, (*n + 1) * sizeof(*nl));

	if (!nl)
		return -ENOMEM;
	*list = nl;
	nl[(*n)++] = d;
	return 0;
}

/*
 * Put @d in the tree of @h under its nearest dumped parent; dumped
 * directories below it move under it.  1 if @path was there already.
 */
static int place_dir(struct cg_hier *h, struct cg_dir *d)
{
	struct cg_dir ***list = &h->heads;
	size_t *n = &h->nr_heads;
	size_t i, kept;

again:
	for (i = 0; i < *n; i++) {
		struct cg_dir *o = (*list)[i];

		if (!strcmp(o->path, d->path))
			return 1;
		if (is_subpath(d->path, o->path)) {
			list = &o->kids;
			n = &o->nr_kids;
			goto again;
		}
	}
	for (i = kept = 0; i < *n; i++) {
		struct cg_dir *o = (*list)[i];

		if (is_subpath(o->path, d->path)) {
			if (dir_list_add(&d->kids, &d->nr_kids, o))
				return -ENOMEM;
		} else {
			(*list)[kept++] = o;
		}
	}
	*n = kept;
	return dir_list_add(list, n, d);
}

static void dir_free(struct cg_dir *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nr_props; i++) {
		free(d->props[i].name);
		free(d->props[i].value);
	}
	for (size_t i = 0; i < d->nr_kids; i++)
		dir_free(d->kids[i]);
	free(d->props);
	free(d->kids);
	free(d->path);
	free(d);
}

static int walk(struct cg_hier *h, int hfd, const char *path)
{
	struct cg_dir *d = calloc(1, sizeof(*d));
	struct dirent *de;
	DIR *dir;
	int dfd, ret;

	if (!d || !(d->path = strdup(path))) {
		free(d);
		return -ENOMEM;
	}
	dfd = openat(hfd, path[1] ? path + 1 : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fstat(dfd, &d->st)) {
		pr_perror("cannot open cgroup %s of %s", path, h->cnames[0][0] ? h->cnames[0] : "v2");
		ret = -errno;
		goto fail;
	}
	ret = place_dir(h, d);
	if (ret) {
		close(dfd);
		dir_free(ret == 1 ? d : NULL);
		return ret == 1 ? 0 : ret;
	}
	pr_info("cgroup %s of %s dumped", path, h->cnames[0][0] ? h->cnames[0] : "v2");
	ret = add_props(h, d, dfd);
	dir = ret ? NULL : fdopendir(dfd);
	if (!dir) {
		close(dfd);
		return ret ?: -errno;
	}
	while (!ret && (de = readdir(dir))) {
		char sub[PATH_MAX];

		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", path[1] ? path : "", de->d_name) >=
		    (int)sizeof(sub))
			ret = -ENAMETOOLONG;
		else
			ret = walk(h, hfd, sub);
	}
	closedir(dir);
	return ret;
fail:
	if (dfd >= 0)
		close(dfd);
	dir_free(d);
	return ret;
}

static struct cg_hier *hier_of(const char *name)
{
	struct cg_hier *h;

	for (size_t i = 0; i < cg.nr_h; i++)
		if (cg_names_match(cg.h[i].cnames, cg.h[i].n, name))
			return &cg.h[i];
	if (strncmp(name, "name=", 5)) {
		pr_err("unsupported: cgroup controller %s is not one stasis itself is in", name);
		return NULL;
	}
	h = realloc(cg.h, (cg.nr_h + 1) * sizeof(*h));
	if (!h)
		return NULL;
	cg.h = h;
	h = &cg.h[cg.nr_h];
	memset(h, 0, sizeof(*h));
	h->fd = -1;
	h->cnames = calloc(1, sizeof(char *));
	if (!h->cnames || !(h->cnames[0] = strdup(name))) {
		free(h->cnames);
		return NULL;
	}
	h->n = 1;
	cg.nr_h++;
	return h;
}

/* --cgroup-root: the walk starts there instead. */
static const char *walk_root(const struct cg_member *m)
{
	const char *root = m->path;

	for (size_t i = 0; i < cg.opts->nr_cg_roots; i++) {
		const struct opts_cg_root *r = &cg.opts->cg_roots[i];

		if (!r->controller || !strcmp(r->controller, m->name))
			root = r->path;
	}
	return root;
}

static int collect_set(const struct cg_set *s)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < s->n; i++) {
		struct cg_hier *h = hier_of(s->m[i].name);

		if (!h)
			return -ENOTSUP;
		if (cg.opts->manage_cgroups == CG_MODE_IGNORE)
			continue;
		/* Once per dump: each mount and unmount may kill and remake a hierarchy. */
		if (h->fd < 0)
			h->fd = cg_open_hierarchy(h->cnames, h->n, cg.opts);
		if (h->fd < 0)
			return h->fd;
		ret = walk(h, h->fd, walk_root(&s->m[i]));
	}
	return ret;
}

static bool same_set(const struct cg_set *s, const struct cg_member *m, size_t n)
{
	if (s->n != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(s->m[i].name, m[i].name) || strcmp(s->m[i].path, m[i].path) ||
		    s->m[i].prefix != m[i].prefix)
			return false;
	return true;
}

/* The id of the set of @m (taken over); a new one is collected. */
static int get_set(struct cg_member *m, size_t n, uint32_t *id)
{
	struct cg_set *ns;

	for (size_t i = 0; i < cg.nr_sets; i++) {
		if (same_set(&cg.sets[i], m, n)) {
			members_free(m, n);
			*id = cg.sets[i].id;
			return 0;
		}
	}
	ns = realloc(cg.sets, (cg.nr_sets + 1) * sizeof(*ns));
	if (!ns) {
		members_free(m, n);
		return -ENOMEM;
	}
	cg.sets = ns;
	ns += cg.nr_sets;
	*ns = (struct cg_set){ .id = cg.nr_sets + 1, .m = m, .n = n };
	cg.nr_sets++;
	*id = ns->id;
	pr_info("cgroup set %u is new", *id);
	return collect_set(ns);
}

/* --- the cgroup namespace's prefix --- */

/* @inside, from within the root's cgroup namespace, is a suffix of @m's path. */
static int set_prefix(struct cg_member *m, const struct cg_member *inside, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t el, il;

		if (strcmp(inside[i].name, m->name) || !strcmp(inside[i].path, m->path))
			continue;
		el = strlen(m->path);
		il = strlen(inside[i].path + 1);
		if (il > el || strcmp(m->path + el - il, inside[i].path + 1)) {
			pr_err("cgroup %s of %s: %s seen from its namespace is not a suffix", m->path,
			       m->name, inside[i].path);
			return -EINVAL;
		}
		m->prefix = el - il;
		if (m->prefix && m->path[m->prefix - 1] == '/')
			m->prefix--;
	}
	return 0;
}

/* Read @file with stasis in the cgroup namespace @nsfd for a moment. */
static int read_inside(int nsfd, const char *file, struct cg_member **m, size_t *n)
{
	int own = open("/proc/self/ns/cgroup", O_RDONLY | O_CLOEXEC), ret;

	if (own < 0 || setns(nsfd, CLONE_NEWCGROUP)) {
		pr_perror("cannot enter the root's cgroup namespace");
		ret = -errno;
		goto out;
	}
	ret = read_members(file, m, n);
	if (setns(own, CLONE_NEWCGROUP)) {
		pr_perror("cannot return to stasis's own cgroup namespace");
		ret = ret ?: -errno;
	}
out:
	if (own >= 0)
		close(own);
	return ret;
}

static int root_prefixes(pid_t pid, pid_t tid, struct cg_member *m, size_t n)
{
	struct cg_member *in = NULL;
	struct stat mine, its;
	char path[64];
	size_t nin = 0;
	int nsfd, ret;

	snprintf(path, sizeof(path), "/proc/%d/ns/cgroup", pid);
	if (stat(path, &its) || stat("/proc/self/ns/cgroup", &mine))
		return errno == ENOENT ? 0 : -errno;
	if (its.st_ino == mine.st_ino)
		return 0;
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0)
		return -errno;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/cgroup", pid, tid);
	ret = read_inside(nsfd, path, &in, &nin);
	close(nsfd);
	for (size_t i = 0; !ret && i < n; i++)
		ret = set_prefix(&m[i], in, nin);
	members_free(in, nin);
	return ret;
}

/* A task below the root is in the same cgroup namespace: the root's prefixes. */
static void stray_prefixes(struct cg_member *m, size_t n)
{
	const struct cg_set *root = &cg.sets[cg.root_set - 1];

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < root->n; j++)
			if (!strcmp(m[i].name, root->m[j].name) &&
			    strlen(m[i].path) >= root->m[j].prefix)
				m[i].prefix = root->m[j].prefix;
}

/* --- the part --- */

static int cgroup_dump_gather(struct dump_ctx *ctx, struct dump_task *t)
{
	bool root = t == &ctx->tasks[0];
	int ret = 0;

	if (!cg.ready) {
		cg.opts = ctx->opts;
		cg.ready = true;
		ret = cgp_init(ctx->opts->cgroup_props, ctx->opts->cgroup_props_file) ?:
		      init_stasis_set();
		if (ret)
			return ret;
	}
	t->cg_sets = calloc(t->ct->nr_threads, sizeof(*t->cg_sets));
	if (!t->cg_sets)
		return -ENOMEM;
	for (int i = 0; !ret && i < t->ct->nr_threads; i++) {
		pid_t tid = t->ct->threads[i];
		struct cg_member *m;
		char path[64];
		size_t n;

		snprintf(path, sizeof(path), "/proc/%d/task/%d/cgroup", t->pid, tid);
		ret = read_members(path, &m, &n);
		if (ret)
			break;
		if (root)
			ret = root_prefixes(t->pid, tid, m, n);
		else if (cg.root_set)
			stray_prefixes(m, n);
		if (ret) {
			members_free(m, n);
			break;
		}
		ret = get_set(m, n, &t->cg_sets[i]);
		if (!ret && root && !i)
			cg.root_set = t->cg_sets[0];
	}
	if (ret)
		pr_err("pid %d: cannot dump its cgroups", t->pid);
	return ret;
}

static void cgroup_dump_done(struct dump_task *t)
{
	free(t->cg_sets);
	t->cg_sets = NULL;
}

/* --- cgroup.img --- */

static void perms_of(CgroupPerms *p, const struct stat *st)
{
	cgroup_perms__init(p);
	p->mode = st->st_mode;
	p->uid = st->st_uid;
	p->gid = st->st_gid;
}

static void entry_free(CgroupDirEntry *e)
{
	for (size_t i = 0; i < e->n_children; i++) {
		entry_free(e->children[i]);
	}
	for (size_t i = 0; i < e->n_properties; i++)
		free(e->properties[i]->perms);
	if (e->n_properties)
		free(e->properties[0]);
	free(e->properties);
	free(e->children);
	free(e->dir_perms);
	free(e);
}

static CgroupDirEntry *dir_entry(const struct cg_dir *d, const char *parent)
{
	CgroupDirEntry *e = calloc(1, sizeof(*e));
	CgroupPropEntry *pe;

	if (!e)
		return NULL;
	cgroup_dir_entry__init(e);
	/* The name below the parent; a head's is its path without the leading '/'. */
	e->dir_name = d->path + (parent && strcmp(parent, "/") ? strlen(parent) : 0) + 1;
	if (!strcmp(d->path, "/"))
		e->dir_name = d->path + 1;
	e->dir_perms = malloc(sizeof(*e->dir_perms));
	e->properties = calloc(d->nr_props, sizeof(*e->properties));
	pe = calloc(d->nr_props ?: 1, sizeof(*pe));
	e->children = calloc(d->nr_kids, sizeof(*e->children));
	if (!e->dir_perms || (d->nr_props && !e->properties) || !pe ||
	    (d->nr_kids && !e->children)) {
		free(pe);
		entry_free(e);
		return NULL;
	}
	perms_of(e->dir_perms, &d->st);
	for (size_t i = 0; i < d->nr_props; i++) {
		cgroup_prop_entry__init(&pe[i]);
		pe[i].name = d->props[i].name;
		pe[i].value = d->props[i].value;
		pe[i].perms = malloc(sizeof(*pe[i].perms));
		e->properties[e->n_properties++] = &pe[i];
		if (!pe[i].perms) {
			entry_free(e);
			return NULL;
		}
		perms_of(pe[i].perms, &d->props[i].st);
	}
	if (!d->nr_props)
		free(pe);
	for (size_t i = 0; i < d->nr_kids; i++) {
		e->children[i] = dir_entry(d->kids[i], d->path);
		if (!e->children[i]) {
			entry_free(e);
			return NULL;
		}
		e->n_children++;
	}
	return e;
}

static int fill_entry(CgroupEntry *ce, CgSetEntry *se, CgMemberEntry **me, CgControllerEntry *cc)
{
	size_t nm = 0;

	for (size_t i = 1; i < cg.nr_sets; i++) {
		const struct cg_set *s = &cg.sets[i];
		CgSetEntry *e = &se[ce->n_sets];

		cg_set_entry__init(e);
		e->id = s->id;
		e->ctls = calloc(s->n, sizeof(*e->ctls));
		ce->sets[ce->n_sets++] = e;
		if (s->n && !e->ctls)
			return -ENOMEM;
		for (size_t j = 0; j < s->n; j++, nm++) {
			cg_member_entry__init(me[nm]);
			me[nm]->name = s->m[j].name;
			me[nm]->path = s->m[j].path;
			me[nm]->has_cgns_prefix = s->m[j].prefix != 0;
			me[nm]->cgns_prefix = s->m[j].prefix;
			e->ctls[e->n_ctls++] = me[nm];
		}
	}
	for (size_t i = 0; i < cg.nr_h; i++) {
		const struct cg_hier *h = &cg.h[i];
		CgControllerEntry *c = &cc[i];

		cg_controller_entry__init(c);
		c->cnames = h->cnames;
		c->n_cnames = h->n;
		c->has_is_threaded = true;
		c->is_threaded = h->threaded;
		c->dirs = calloc(h->nr_heads, sizeof(*c->dirs));
		ce->controllers[ce->n_controllers++] = c;
		if (h->nr_heads && !c->dirs)
			return -ENOMEM;
		for (size_t j = 0; j < h->nr_heads; j++) {
			c->dirs[j] = dir_entry(h->heads[j], NULL);
			if (!c->dirs[j])
				return -ENOMEM;
			c->n_dirs++;
		}
	}
	return 0;
}

static void entry_release(CgroupEntry *ce, CgSetEntry *se, CgMemberEntry **me, size_t nm,
			  CgControllerEntry *cc)
{
	for (size_t i = 0; i < ce->n_sets; i++)
		free(ce->sets[i]->ctls);
	for (size_t i = 0; i < ce->n_controllers; i++) {
		for (size_t j = 0; j < ce->controllers[i]->n_dirs; j++)
			entry_free(ce->controllers[i]->dirs[j]);
		free(ce->controllers[i]->dirs);
	}
	for (size_t i = 0; me && i < nm; i++)
		free(me[i]);
	free(me);
	free(se);
	free(cc);
	free(ce->sets);
	free(ce->controllers);
}

static int cgroup_dump_finish(struct dump_ctx *ctx)
{
	CgroupEntry ce;
	CgSetEntry *se;
	CgMemberEntry **me;
	CgControllerEntry *cc;
	size_t nm = 0;
	int ret = -ENOMEM;

	/* Every task in stasis's own cgroups: as CRIU, nothing to write. */
	if (!cg.ready || (cg.nr_sets == 1 && cg.root_set == CG_SET_STASIS))
		return 0;
	for (size_t i = 1; i < cg.nr_sets; i++)
		nm += cg.sets[i].n;
	cgroup_entry__init(&ce);
	ce.sets = calloc(cg.nr_sets, sizeof(*ce.sets));
	ce.controllers = calloc(cg.nr_h + 1, sizeof(*ce.controllers));
	se = calloc(cg.nr_sets, sizeof(*se));
	me = calloc(nm + 1, sizeof(*me));
	cc = calloc(cg.nr_h + 1, sizeof(*cc));
	for (size_t i = 0; me && i < nm; i++)
		if (!(me[i] = malloc(sizeof(**me))))
			goto out;
	if (ce.sets && ce.controllers && se && me && cc)
		ret = fill_entry(&ce, se, me, cc);
	if (!ret)
		ret = img_write_one(ctx->dirfd, IMG_CGROUP, 0, &ce.base);
out:
	entry_release(&ce, se, me, nm, cc);
	return ret;
}

static void cgroup_dump_cleanup(struct dump_ctx *ctx)
{
	(void)ctx;
	for (size_t i = 0; i < cg.nr_sets; i++)
		members_free(cg.sets[i].m, cg.sets[i].n);
	for (size_t i = 0; i < cg.nr_h; i++) {
		for (size_t j = 0; j < cg.h[i].n; j++)
			free(cg.h[i].cnames[j]);
		for (size_t j = 0; j < cg.h[i].nr_heads; j++)
			dir_free(cg.h[i].heads[j]);
		free(cg.h[i].heads);
		free(cg.h[i].cnames);
		if (cg.h[i].fd >= 0)
			close(cg.h[i].fd);
	}
	free(cg.sets);
	free(cg.h);
	memset(&cg, 0, sizeof(cg));
	cgp_fini();
}

const struct task_part_ops cgroup_part = {
	.name = "cgroup",
	.fail = "enter its cgroups",
	.dump_gather = cgroup_dump_gather,
	.dump_done = cgroup_dump_done,
	.dump_finish = cgroup_dump_finish,
	.dump_cleanup = cgroup_dump_cleanup,
	.read = cgroup_rst_read,
	.prepare = cgroup_rst_prepare,
	.task = cgroup_rst_task,
	.arm = cgroup_rst_arm,
	.cleanup = cgroup_rst_cleanup,
};

/* "FROZEN"/"FREEZING" (v1's freezer.state) or "1" (v2's cgroup.freeze). */
static bool frozen(const char *path)
{
	char file[4096], buf[32] = "";
	bool v2 = false;
	ssize_t n;
	int fd;

	snprintf(file, sizeof(file), "%s/freezer.state", path);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(file, sizeof(file), "%s/cgroup.freeze", path);
		fd = open(file, O_RDONLY | O_CLOEXEC);
		v2 = true;
	}
	if (fd < 0)
		return false;	/* no freezer there: nothing is frozen by it */
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	return v2 ? buf[0] == '1' : strncmp(buf, "THAWED", 6) != 0;
}

int cgroup_check_freezer(const char *path)
{
	if (!path)
		return 0;
	if (frozen(path)) {
		pr_err("unsupported: the freezer cgroup %s is frozen (a paused container): "
		       "its tasks cannot stop for the dump; thaw it first", path);
		return -ENOTSUP;
	}
	pr_info("--freeze-cgroup %s: left thawed, the tree is seized task by task", path);
	return 0;
}
