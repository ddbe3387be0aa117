/*
 * check.h - the probes behind `stasis check`.
 *
 * Every probe asks the running kernel (never a version number) and returns
 * 0 when what it looks for works here, or -1 after saying what is missing,
 * the way CRIU's check does.  check.c runs them by category; the table of
 * --feature names lives in check-features.c.
 */
#ifndef STASIS_CHECK_H
#define STASIS_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

typedef int (*check_fn)(void);

struct check_feature {
	const char *name;	/* CRIU's --feature name */
	check_fn probe;
};

/* CRIU 4.2's --feature names, in its order. */
extern const struct check_feature check_features[];
extern const size_t check_nr_features;

const struct check_feature *check_find_feature(const char *name);
/* The names, comma-separated and wrapped at @width after @indent (--help). */
void check_print_features(FILE *f, const char *indent, int width);

/* Helpers the probes share (check-util.c). */

/* Run @fn(@arg) in a forked child; 0 when it returned 0 there. */
int check_in_child(int (*fn)(void *), void *arg);
/*
 * A child that ran @setup (when given), then sits stopped under our
 * ptrace (seized and interrupted); -1 if that failed.
 */
pid_t check_traced_child(int (*setup)(void));
void check_kill(pid_t pid);
/* /proc/self/fdinfo/@fd into @buf (NUL-terminated); 0 or -1. */
int check_read_fdinfo(int fd, char *buf, size_t len);
/* First line of @path into @buf without its newline; 0 or -1. */
int check_read_line(const char *path, char *buf, size_t len);
/*
 * Run @argv (found in PATH) with its stdout into @out; the exit status,
 * or -1 if it could not run.
 */
int check_run(char *const argv[], char *out, size_t len);
/*
 * In a child: a mount namespace of its own, nothing propagating back,
 * and a fresh tmpfs on /tmp to play in.  0 or -1.
 */
int check_private_tmp(void);

/* Category 1: what any dump or restore needs (check-basic.c). */
int check_map_files(void);
int check_ns_last_pid(void);
int check_kcmp(void);
int check_prctl_cat1(void);
int check_fcntl(void);
int check_proc_stat(void);
int check_fdinfo_ext(void);
int check_unaligned_vmsplice(void);
int check_tty(void);
int check_ipc(void);
int check_sigqueueinfo(void);
int check_ptrace_peeksiginfo(void);
int check_special_mapping_mremap(void);

/* Category 2 checks that are no --feature of their own (check-basic.c). */
int check_prctl_cat2(void);
int check_posix_timers(void);
int check_clone_parent_vs_pid(void);

/* Sockets and network (check-net.c). */
int check_sock_diag(void);
int check_sock_peek_off(void);
int check_tcp(void);
int check_so_gets(void);
int check_tcp_window(void);
int check_tun_extra(void);
int check_tcp_half_closed(void);
int check_tun(void);
int check_tun_ns(void);
int check_sk_ns(void);
int check_sk_unix_file(void);
int check_sockopt_buf_lock(void);
int check_ipv6_freebind(void);

/* Netlink-based probes (check-netlink.c). */
int check_net_diag_raw(void);
int check_nsid(void);
int check_link_nsid(void);
int check_newifindex(void);

/* Firewall tools (check-net.c). */
int check_has_ipt_legacy(void);
int check_network_lock_nftables(void);
int check_nftables(void);

/* Mounts (check-fs.c). */
int check_mnt_id(void);
int check_fdinfo_lock(void);
int check_autofs(void);
int check_move_mount_set_group(void);
int check_overlayfs_maps(void);

/* Processes, memory, ptrace (check-features.c). */
int check_mem_dirty_track(void);
int check_aio_remap(void);
int check_timerfd(void);
int check_userns(void);
int check_seccomp_suspend(void);
int check_seccomp_filters(void);
int check_loginuid(void);
int check_cgroupns(void);
int check_compat_cr(void);
int check_uffd(void);
int check_uffd_noncoop(void);
int check_can_map_vdso(void);
int check_kcmp_epoll(void);
int check_timens(void);
int check_external_net_ns(void);
int check_clone3_set_tid(void);
int check_pidfd_store(void);
int check_ns_pid(void);
int check_apparmor_stacking(void);
bool check_have_apparmor(void);
int check_memfd_hugetlb(void);
int check_openat2(void);
int check_get_rseq_conf(void);
int check_pagemap_scan(void);
int check_timer_cr_ids(void);
int check_breakpoints(void);
int check_pagemap_scan_guard_pages(void);

#endif
