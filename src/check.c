/*
 * check.c - `stasis check`, as CRIU's `criu check`.
 *
 *   check                   what every dump and restore needs ("category 1");
 *                           the first missing piece ends it: "Does not look good."
 *   check --extra           also what specific trees need (category 2)
 *   check --experimental    also autofs and compat tasks (category 3)
 *   check --all             both
 *   check --feature NAME    one feature: "NAME is supported" and exit 0, or 1
 *   check --feature list    the names
 *
 * Category 2 and 3 failures are tolerated: the run ends with "Looks good
 * but some kernel features are missing..." and exit status 1.  The probes
 * live in check-*.c.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "log.h"
#include "opts.h"

#define CHECK_GOOD	"Looks good."
#define CHECK_BAD	"Does not look good."
#define CHECK_MAYBE	"Looks good but some kernel features are missing\n" \
			"which, depending on your process tree, may cause\n" \
			"dump or restore failure."

/* CRIU's category 1, then what stasis itself cannot work without. */
static const check_fn required[] = {
	check_map_files,
	check_sock_diag,
	check_ns_last_pid,
	check_sock_peek_off,
	check_kcmp,
	check_prctl_cat1,
	check_fcntl,
	check_proc_stat,
	check_tcp,
	check_fdinfo_ext,
	check_unaligned_vmsplice,
	check_tty,
	check_so_gets,
	check_ipc,
	check_sigqueueinfo,
	check_ptrace_peeksiginfo,
	check_special_mapping_mremap,
	/* stasis forks the tree with clone3(set_tid), takes fds with pidfd_getfd(). */
	check_clone3_set_tid,
	check_pidfd_store,
};

/* Category 2, in CRIU's order (--extra). */
static const check_fn extra[] = {
	check_prctl_cat2,
	check_seccomp_suspend,
	check_seccomp_filters,
	check_mem_dirty_track,
	check_posix_timers,
	check_tun_extra,
	check_timerfd,
	check_mnt_id,
	check_aio_remap,
	check_fdinfo_lock,
	check_clone_parent_vs_pid,
	check_cgroupns,
	check_tcp_window,
	check_tcp_half_closed,
	check_userns,
	check_loginuid,
	check_can_map_vdso,
	check_uffd,
	check_uffd_noncoop,
	check_sk_ns,
	check_kcmp_epoll,
	check_net_diag_raw,
	check_clone3_set_tid,
	check_timens,
	check_newifindex,
	check_pidfd_store,
	check_ns_pid,
	check_network_lock_nftables,
	check_sockopt_buf_lock,
	check_memfd_hugetlb,
	check_move_mount_set_group,
	check_openat2,
	check_get_rseq_conf,
	check_ipv6_freebind,
	check_pagemap_scan,
	check_overlayfs_maps,
	check_timer_cr_ids,
	check_pagemap_scan_guard_pages,
};

/* Category 3 (--experimental). */
static const check_fn experimental[] = {
	check_autofs,
	check_compat_cr,
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Run @n checks; how many failed. */
static int run_all(const check_fn *fns, size_t n)
{
	int failed = 0;

	for (size_t i = 0; i < n; i++)
		if (fns[i]())
			failed++;
	return failed;
}

static void list_features(void)
{
	char line[2048];
	size_t off = 0;

	for (size_t i = 0; i < check_nr_features && off < sizeof(line); i++)
		off += snprintf(line + off, sizeof(line) - off, "%s%s", i ? " " : "",
				check_features[i].name);
	pr_msg("%s", line);
}

static int check_one(const char *name)
{
	const struct check_feature *f;

	if (!strcmp(name, "list")) {
		list_features();
		return 0;
	}
	f = check_find_feature(name);
	if (!f) {
		/* A bad option: CRIU says so before it applies -v, so whatever -v says. */
		if (log_get_level() < LOG_ERROR)
			log_set_level(LOG_ERROR);
		pr_err("Unknown feature %s", name);
		return -1;
	}
	if (f->probe())
		return -1;
	pr_msg("%s is supported", f->name);
	return 0;
}

int cr_check(const struct opts *o)
{
	int failed = 0;

	if (o->feature)
		return check_one(o->feature);

	/* Stop at the first missing necessity: one clear message, not a flood. */
	for (size_t i = 0; i < ARRAY_SIZE(required); i++) {
		if (required[i]()) {
			pr_warn("%s", CHECK_BAD);
			return -1;
		}
	}
	if (o->check_extra) {
		failed += run_all(extra, ARRAY_SIZE(extra));
		if (check_have_apparmor())
			failed += check_apparmor_stacking() ? 1 : 0;
	}
	if (o->check_experimental)
		failed += run_all(experimental, ARRAY_SIZE(experimental));
	/* Optional: it only warns. */
	check_breakpoints();

	pr_msg("%s", failed ? CHECK_MAYBE : CHECK_GOOD);
	return failed ? -1 : 0;
}

/* The names for --help, wrapped at @width after @indent. */
void check_print_features(FILE *f, const char *indent, int width)
{
	int col = width;

	for (size_t i = 0; i < check_nr_features; i++) {
		const char *name = check_features[i].name;
		int len = strlen(name) + 1;	/* and its comma */

		if (col + 1 + len > width) {
			fprintf(f, "%s\n%s", i ? "," : "", indent);
			col = strlen(indent);
		} else {
			fprintf(f, ", ");
			col += 2;
		}
		fprintf(f, "%s", name);
		col += len - 1;
	}
	fprintf(f, "\n");
}
