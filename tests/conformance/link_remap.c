/*
 * link_remap.c - unlinked files that need CRIU's options: a file whose
 * name is gone while a hard link elsewhere lives (--link-remap), and a
 * ghost over the default 1 MiB ghost limit (--ghost-limit).  The runner
 * dumps it with "--link-remap --ghost-limit=4M" (tests/restore/run.sh).
 *
 * Sets up, before READY, in a temporary directory T:
 *   fd 60  T/file O_RDWR, linked as T/other, then T/file unlinked and
 *          LINKED_LEN bytes written to it, at offset 10
 *   fd 61  T/big O_RDWR, BIG_LEN bytes (allocated) written, unlinked
 *
 * Checks after SIGTERM:
 *   - fd 60 is the inode T/other is (same device and inode), with
 *     st_nlink 1, LINKED_LEN bytes of the pattern, at offset 10;
 *   - T holds T/other only: the name the dump gave the file is gone;
 *   - fd 61: an unlinked regular file of BIG_LEN bytes of the pattern.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stasis_test.h"

#define LINKED_FD	60
#define BIG_FD		61
#define LINKED_LEN	1000
#define LINKED_OFF	10
#define BIG_LEN		(2u << 20)

static char tmpdir[] = "/tmp/stasis-lremap.XXXXXX";
static char other[PATH_MAX];

static uint8_t pattern(size_t i, int seed)
{
	return (uint8_t)(i * 13 + (i >> 9) + seed);
}

static int fill(int fd, size_t len, int seed)
{
	static uint8_t buf[65536];

	for (size_t off = 0; off < len; off += sizeof(buf)) {
		size_t n = len - off < sizeof(buf) ? len - off : sizeof(buf);

		for (size_t i = 0; i < n; i++)
			buf[i] = pattern(off + i, seed);
		if (pwrite(fd, buf, n, off) != (ssize_t)n)
			return -1;
	}
	return 0;
}

static int same_bytes(int fd, size_t len, int seed, const char *what)
{
	static uint8_t buf[65536];

	for (size_t off = 0; off < len; off += sizeof(buf)) {
		size_t n = len - off < sizeof(buf) ? len - off : sizeof(buf);

		if (pread(fd, buf, n, off) != (ssize_t)n) {
			fail("%s: read at %zu: %m", what, off);
			return -1;
		}
		for (size_t i = 0; i < n; i++) {
			if (buf[i] != pattern(off + i, seed)) {
				fail("%s: byte %zu is %#x, was %#x", what, off + i, buf[i],
				     pattern(off + i, seed));
				return -1;
			}
		}
	}
	return 0;
}

static int open_at(const char *name, int to)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || dup2(fd, to) != to) {
		fail("%s: %m", path);
		return -1;
	}
	close(fd);
	return unlink(path) ? -1 : 0;
}

static int setup(void)
{
	char path[PATH_MAX];

	if (!mkdtemp(tmpdir)) {
		fail("temporary directory %s: %m", tmpdir);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/file", tmpdir);
	snprintf(other, sizeof(other), "%s/other", tmpdir);
	if (close(open(path, O_RDWR | O_CREAT | O_EXCL, 0600)) || link(path, other)) {
		fail("%s and its link %s: %m", path, other);
		return -1;
	}
	return 0;
}

static int setup_files(void)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/file", tmpdir);
	/* Open, then unlink: only the other name is left. */
	fd = open(path, O_RDWR);
	if (fd < 0 || dup2(fd, LINKED_FD) != LINKED_FD || unlink(path) ||
	    fill(LINKED_FD, LINKED_LEN, 1) || lseek(LINKED_FD, LINKED_OFF, SEEK_SET) != LINKED_OFF) {
		fail("%s: %m", path);
		return -1;
	}
	close(fd);
	if (open_at("big", BIG_FD) || fill(BIG_FD, BIG_LEN, 2)) {
		fail("big file: %m");
		return -1;
	}
	return 0;
}

static int check_linked(void)
{
	struct stat st, ost;

	if (fstat(LINKED_FD, &st) || stat(other, &ost)) {
		fail("stat fd %d or %s: %m", LINKED_FD, other);
		return -1;
	}
	if (st.st_dev != ost.st_dev || st.st_ino != ost.st_ino || st.st_nlink != 1) {
		fail("fd %d: inode %lu nlink %lu, want %s's inode %lu and nlink 1", LINKED_FD,
		     (unsigned long)st.st_ino, (unsigned long)st.st_nlink, other,
		     (unsigned long)ost.st_ino);
		return -1;
	}
	if (lseek(LINKED_FD, 0, SEEK_CUR) != LINKED_OFF) {
		fail("fd %d: offset %lld, was %d", LINKED_FD,
		     (long long)lseek(LINKED_FD, 0, SEEK_CUR), LINKED_OFF);
		return -1;
	}
	return same_bytes(LINKED_FD, LINKED_LEN, 1, "linked file");
}

static int check_dir(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	int bad = 0;

	if (!d) {
		fail("opendir %s: %m", tmpdir);
		return -1;
	}
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    strcmp(e->d_name, "other")) {
			fail("%s/%s is left behind", tmpdir, e->d_name);
			bad = -1;
		}
	}
	closedir(d);
	return bad;
}

static int check_big(void)
{
	struct stat st;

	if (fstat(BIG_FD, &st) || !S_ISREG(st.st_mode) || st.st_nlink ||
	    st.st_size != BIG_LEN) {
		fail("fd %d: not an unlinked %u-byte file: nlink %lu size %lld", BIG_FD, BIG_LEN,
		     (unsigned long)st.st_nlink, (long long)st.st_size);
		return -1;
	}
	return same_bytes(BIG_FD, BIG_LEN, 2, "big ghost");
}

int main(int argc, char **argv)
{
	int bad;

	test_init(argc, argv);
	if (setup() || setup_files()) {
		unlink(other);
		rmdir(tmpdir);
		return test_result();
	}
	test_ready();
	test_waitsig();

	bad = check_linked() | check_dir() | check_big();
	unlink(other);
	rmdir(tmpdir);
	if (!bad)
		pass();
	return test_result();
}
