/*
 * imgcmp.c - is a stasis dump equivalent to CRIU's dump of the same
 * program?  Addresses, ids, pids and timings aside:
 *
 *   imgcmp CRIU_IMG_DIR STASIS_IMG_DIR
 *
 * Tasks are matched by their place in pstree.img, and file names carrying
 * a pid or an id are renamed accordingly.  Both dumps must hold the same
 * set of images; each pair must decode to JSON of the same shape (the
 * same keys everywhere, the same number of entries), and fields that say
 * what the program is (fd numbers, file kinds and flags, modes, names,
 * task states, signal dispositions, credentials, limits...) must be equal.
 * Prints one PASS/FAIL line per image.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "imgjson.h"
#include "json.h"
#include "log.h"

static int failures;

/*
 * Keys whose values depend on the run, not on the program (and the
 * network lock's method on the build: Debian's CRIU defaults to iptables,
 * stasis to nftables).
 */
static const char *const ignored[] = {
	"id", "pipe_id", "shmid", "pages_id", "vm_id", "files_id", "fs_id", "sighand_id",
	"pid_ns_id", "net_ns_id", "ipc_ns_id", "uts_ns_id", "mnt_ns_id", "user_ns_id",
	"cgroup_ns_id", "time_ns_id", "cwd_id", "root_id", "exe_file_id", "pid", "ppid",
	"pgid", "sid", "threads", "dump_criu_run_id", "network_lock_method", "futex_rla",
	"rseq_abi_pointer",
	"clear_tid_addr", "gpregs", "fpregs", "mm_saved_auxv", "pos", "size", "bytes",
	"extra", "tv_sec", "tv_nsec", "vaddr", "nr_pages", "compat_nr_pages",
	"start", "end", "pgoff", "sigaction", "restorer", "inode_id", "build_id",
	"mm_start_code", "mm_end_code", "mm_start_data", "mm_end_data", "mm_start_stack",
	"mm_start_brk", "mm_brk", "mm_arg_start", "mm_arg_end", "mm_env_start",
	"mm_env_end", "dump", "ino", "dev", "rdev", NULL,
};

static bool is_ignored(const char *key)
{
	for (int i = 0; ignored[i]; i++)
		if (!strcmp(ignored[i], key))
			return true;
	return false;
}

static bool same(const struct json *a, const struct json *b, const char *key,
		 char *why, size_t len, const char *path);

/*
 * Limits are the machine's (RLIMIT_NPROC and RLIMIT_SIGPENDING follow its
 * memory), not the program's: the program inherited ours, so stasis's
 * value must be what getrlimit() gives here, whatever CRIU saw elsewhere.
 */
static bool same_rlimit(const struct json *b, const char *path, char *why, size_t len)
{
	const char *at = strstr(path, "/rlimits/rlimits[");
	struct rlimit rl;
	uint64_t got = 0, want;
	int res;

	if (sscanf(at + strlen("/rlimits/rlimits["), "%d]", &res) != 1 ||
	    getrlimit(res, &rl) || !json_get_u64(b, &got)) {
		snprintf(why, len, "%.400s: cannot compare with this machine's limit", path);
		return false;
	}
	want = strstr(path, "]/cur") ? rl.rlim_cur : rl.rlim_max;
	if (got == want)
		return true;
	snprintf(why, len, "%.400s: this machine %llu, stasis %llu", path,
		 (unsigned long long)want, (unsigned long long)got);
	return false;
}

static bool same_obj(const struct json *a, const struct json *b, char *why, size_t len,
		     const char *path)
{
	char sub[1024];

	for (size_t i = 0; i < a->obj.n; i++) {
		const struct json *o = json_obj_get(b, a->obj.k[i]);

		snprintf(sub, sizeof(sub), "%.500s/%.200s", path, a->obj.k[i]);
		if (!o) {
			snprintf(why, len, "%.400s: only in CRIU's dump", sub);
			return false;
		}
		if (!same(a->obj.v[i], o, a->obj.k[i], why, len, sub))
			return false;
	}
	for (size_t i = 0; i < b->obj.n; i++)
		if (!json_obj_get(a, b->obj.k[i])) {
			snprintf(why, len, "%.300s/%.100s: only in stasis's dump", path, b->obj.k[i]);
			return false;
		}
	return true;
}

static bool same(const struct json *a, const struct json *b, const char *key,
		 char *why, size_t len, const char *path)
{
	char sub[1024];

	if (key && is_ignored(key))
		return true;
	if (a->type != b->type) {
		snprintf(why, len, "%.400s: different kinds of value", path);
		return false;
	}
	if (a->type == JSON_OBJECT)
		return same_obj(a, b, why, len, path);
	if (strstr(path, "/rlimits/rlimits[") && key)
		return same_rlimit(b, path, why, len);
	if (a->type == JSON_ARRAY) {
		if (a->arr.n != b->arr.n) {
			snprintf(why, len, "%.400s: %zu entries in CRIU's dump, %zu in stasis's",
				 path, a->arr.n, b->arr.n);
			return false;
		}
		for (size_t i = 0; i < a->arr.n; i++) {
			snprintf(sub, sizeof(sub), "%.700s[%zu]", path, i);
			if (!same(a->arr.v[i], b->arr.v[i], NULL, why, len, sub))
				return false;
		}
		return true;
	}
	/* Register-like values printed in hex are addresses or run state. */
	if (a->type == JSON_STRING && !strncmp(a->str.s, "0x", 2) && !strncmp(b->str.s, "0x", 2))
		return true;
	if (!json_equal(a, b)) {
		struct sbuf x = { 0 }, y = { 0 };

		json_print(&x, a, 0);
		json_print(&y, b, 0);
		snprintf(why, len, "%.300s: CRIU %.60s, stasis %.60s", path, x.s, y.s);
		free(x.s);
		free(y.s);
		return false;
	}
	return true;
}

static struct json *decode(const char *dir, const char *name)
{
	char path[4096];
	struct json *j = NULL;
	struct img *img;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (img_open_any(&img, path))
		return NULL;
	if (img_to_json(img, true, true, &j))
		j = NULL;
	img_close(img);
	return j;
}

/* Pids in pstree order, and each task's files_id from its ids image. */
struct tasks {
	long pid[64], files_id[64];
	int nr;
	long tid[256];		/* every thread, in pstree order */
	int nr_tids;
};

static int load_tasks(const char *dir, struct tasks *t)
{
	struct json *ps = decode(dir, "pstree.img"), *e;
	char name[64];

	if (!ps)
		return -1;
	e = json_obj_get(ps, "entries");
	for (size_t i = 0; i < e->arr.n && i < 64; i++) {
		struct json *ids;
		int64_t v = 0;

		struct json *th = json_obj_get(e->arr.v[i], "threads");

		json_get_i64(json_obj_get(e->arr.v[i], "pid"), &v);
		t->pid[t->nr] = v;
		for (size_t k = 0; th && k < th->arr.n && t->nr_tids < 256; k++) {
			int64_t tid = 0;

			json_get_i64(th->arr.v[k], &tid);
			t->tid[t->nr_tids++] = tid;
		}
		snprintf(name, sizeof(name), "ids-%ld.img", (long)v);
		ids = decode(dir, name);
		v = 0;
		if (ids)
			json_get_i64(json_obj_get(json_obj_get(ids, "entries")->arr.v[0], "files_id"), &v);
		t->files_id[t->nr++] = v;
		json_free(ids);
	}
	json_free(ps);
	return 0;
}

/* The name stasis's dump gives the image CRIU named @name. */
static void map_name(const char *name, const struct tasks *c, const struct tasks *s,
		     char *out, size_t len)
{
	const char *dash = strrchr(name, '-');
	char prefix[64];
	long n;

	snprintf(out, len, "%s", name);
	if (!dash || dash - name >= (long)sizeof(prefix) || sscanf(dash + 1, "%ld.img", &n) != 1)
		return;
	memcpy(prefix, name, dash - name);
	prefix[dash - name] = '\0';
	for (int i = 0; i < c->nr_tids && i < s->nr_tids; i++)
		if (!strcmp(prefix, "core") && c->tid[i] == n)
			snprintf(out, len, "%s-%ld.img", prefix, s->tid[i]);
	for (int i = 0; i < c->nr && i < s->nr; i++) {
		if (strcmp(prefix, "fdinfo") && c->pid[i] == n)
			snprintf(out, len, "%s-%ld.img", prefix, s->pid[i]);
		if (!strcmp(prefix, "fdinfo") && c->files_id[i] == n)
			snprintf(out, len, "%s-%ld.img", prefix, s->files_id[i]);
	}
}

static void compare(const char *cdir, const char *sdir, const char *name, const char *sname)
{
	struct json *a = decode(cdir, name), *b = decode(sdir, sname);
	struct json *ea, *eb;
	char why[512] = "";
	bool ok;

	if (!a || !b) {
		printf("FAIL: dump like CRIU: %s: %s\n", name, b ? "CRIU's does not decode" :
		       "missing or undecodable in stasis's dump");
		failures++;
		goto out;
	}
	ea = json_obj_get(a, "entries");
	eb = json_obj_get(b, "entries");
	/* Which pages are present depends on the run: only the head must agree. */
	if (!strncmp(name, "pagemap-", 8))
		ok = ea->arr.n >= 1 && eb->arr.n >= 1;
	else
		ok = same(a, b, NULL, why, sizeof(why), name);
	if (ok) {
		printf("PASS: dump like CRIU: %s as %s\n", name, sname);
	} else {
		printf("FAIL: dump like CRIU: %s: %s\n", name, why);
		failures++;
	}
out:
	json_free(a);
	json_free(b);
}

int main(int argc, char **argv)
{
	struct tasks c = { 0 }, s = { 0 };
	struct dirent *de;
	DIR *d;

	if (argc != 3) {
		fprintf(stderr, "usage: imgcmp CRIU_IMG_DIR STASIS_IMG_DIR\n");
		return 2;
	}
	log_set_level(LOG_MSG);
	if (load_tasks(argv[1], &c) || load_tasks(argv[2], &s) || c.nr != s.nr) {
		printf("FAIL: dump like CRIU: the process trees differ (%d tasks, %d)\n", c.nr, s.nr);
		return 1;
	}
	d = opendir(argv[1]);
	while (d && (de = readdir(d))) {
		char sname[256];

		if (de->d_name[0] == '.' || !strncmp(de->d_name, "pages-", 6) ||
		    strstr(de->d_name, ".log"))
			continue;
		map_name(de->d_name, &c, &s, sname, sizeof(sname));
		compare(argv[1], argv[2], de->d_name, sname);
	}
	if (d)
		closedir(d);
	return failures ? 1 : 0;
}
