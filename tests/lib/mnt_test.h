/*
 * mnt_test.h - paths under a test's own directory, for the mount
 * namespace tests (mnt_ns, mnt_ns2, user_mnt_ns): files written, tmpfs mounted
 * and mounts looked up by their place relative to mnt_base.
 */
#ifndef STASIS_MNT_TEST_H
#define STASIS_MNT_TEST_H

#include <stddef.h>
#include <sys/types.h>

/* The test's directory, set by the test before anything below is called. */
extern char mnt_base[64];

/* mnt_base/@rel (mnt_base itself for ""), into @out. */
void mnt_path(char *out, size_t size, const char *rel);

/* Create or truncate mnt_base/@rel holding @data: 0, or -1 with errno. */
int mnt_put(const char *rel, const char *data);

/* A tmpfs named @src mounted on mnt_base/@rel (made if missing): 0, or -1 with errno. */
int mnt_tmpfs(const char *src, const char *rel);

/* The source of the mount on mnt_base/@rel in this task's mount table, into @src ("" if none). */
void mnt_source(const char *rel, char *src, size_t size);

/*
 * The tree both mount namespace tests start from: a tmpfs @base_fs on
 * mnt_base holding "f" ("root-file"), a shared tmpfs @sh_fs on sh with an
 * empty sh/sub, an empty two; then a child running @child(ready, go)
 * forked, and waited for until it wrote to ready.  Its pid into *@pid,
 * the write end of go into *@go: 0, or -1 with errno.
 */
int mnt_setup_tree(const char *base_fs, const char *sh_fs, int (*child)(int ready, int go),
		   pid_t *pid, int *go);

#endif
