/*
 * files.c - regular files open in several ways, and the working directory.
 *
 * Sets up, before READY, in a temporary directory under /tmp that is also
 * made the working directory:
 *   fd 10  "data" O_RDWR, at offset 12345
 *   fd 11  "log" O_WRONLY|O_APPEND, after two appends
 *   fd 12  "data" O_RDONLY, FD_CLOEXEC, at offset 777
 *   fd 20  "shared" O_RDWR at offset 100, and fd 21 its dup() (one open
 *          file, one offset), and fd 22 an F_DUPFD_CLOEXEC of it too
 *   fd 23  "shared" opened again, O_RDWR at offset 200: its own offset
 *   fd 30  "gone" O_RDWR, written, then unlinked
 *
 * Checks after SIGTERM:
 *   - the working directory is the same directory (path and inode);
 *   - for each descriptor: F_GETFL, F_GETFD, the /proc/self/fd link and the
 *     pos/flags/ino lines of /proc/self/fdinfo as before, and the same
 *     inode, size and link count as fstat() said before (fd 30 aside for
 *     the inode: an unlinked file can only be restored as a new one);
 *   - the offsets: read at 10 and 12 gives the file's bytes from there,
 *     a write to 12 fails with EBADF, a write to 11 goes to the end;
 *   - 20, 21, 22 share one offset: moving 20 moves 21 and 22; 23 keeps its
 *     own;
 *   - fd 30: link "<path> (deleted)", st_nlink 0, the written bytes.
 */
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

#define DATA_LEN	65536
#define DATA_OFF	12345
#define RO_OFF		777
#define SHARED_OFF	100
#define OWN_OFF		200
#define GONE_LEN	5000
#define FDINFO_LEN	256

enum { F_DATA, F_LOG, F_RO, F_SH, F_SH_DUP, F_SH_DUPC, F_SH_OWN, F_GONE, NR_FILES };

struct file {
	int fd;
	const char *name;	/* in the temporary directory */
	int flags;		/* for open() */
	bool new_inode;		/* unlinked: a restore makes a new one */
	/* recorded before READY */
	int fl, fd_flags;
	char link[PATH_MAX];
	char fdinfo[FDINFO_LEN];
	struct stat st;
};

static struct file files[NR_FILES] = {
	[F_DATA]	= { 10, "data", O_RDWR },
	[F_LOG]		= { 11, "log", O_WRONLY | O_APPEND | O_CREAT },
	[F_RO]		= { 12, "data", O_RDONLY | O_CLOEXEC },
	[F_SH]		= { 20, "shared", O_RDWR | O_CREAT },
	[F_SH_DUP]	= { 21, "shared", 0 },	/* dup() of 20 */
	[F_SH_DUPC]	= { 22, "shared", 0 },	/* F_DUPFD_CLOEXEC of 20 */
	[F_SH_OWN]	= { 23, "shared", O_RDWR },
	[F_GONE]	= { 30, "gone", O_RDWR | O_CREAT, true },
};

static char tmpdir[] = "/tmp/stasis-files.XXXXXX";

static uint8_t pattern(uint64_t seed, size_t i)
{
	return (uint8_t)((i * 151 + (i >> 8) * 7 + (i >> 16) * 13) ^ seed);
}

static int write_pattern(int fd, size_t len, uint64_t seed)
{
	uint8_t buf[4096];

	for (size_t off = 0; off < len; off += sizeof(buf)) {
		size_t n = len - off < sizeof(buf) ? len - off : sizeof(buf);

		for (size_t i = 0; i < n; i++)
			buf[i] = pattern(seed, off + i);
		if (write(fd, buf, n) != (ssize_t)n) {
			fail("write fd %d: %m", fd);
			return -1;
		}
	}
	return 0;
}

/*
 * The pos:, flags: and (if @ino) ino: lines of /proc/self/fdinfo/@fd,
 * joined.
 */
static int read_fdinfo(int fd, bool ino, char *buf, size_t len)
{
	char path[64], line[128];
	size_t used = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return -1;
	buf[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "pos:", 4) && strncmp(line, "flags:", 6) &&
		    (!ino || strncmp(line, "ino:", 4)))
			continue;
		line[strcspn(line, "\n")] = ' ';
		used += (size_t)snprintf(buf + used, len - used, "%s", line);
		if (used >= len)
			break;
	}
	fclose(f);
	return 0;
}

static int record(struct file *f)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", f->fd);
	n = readlink(path, f->link, sizeof(f->link) - 1);
	f->fl = fcntl(f->fd, F_GETFL);
	f->fd_flags = fcntl(f->fd, F_GETFD);
	if (n < 0 || f->fl < 0 || f->fd_flags < 0 || fstat(f->fd, &f->st) ||
	    read_fdinfo(f->fd, !f->new_inode, f->fdinfo, sizeof(f->fdinfo))) {
		fail("fd %d (%s): %m", f->fd, f->name);
		return -1;
	}
	f->link[n] = '\0';
	return 0;
}

static int check_file(const struct file *want)
{
	struct file now = *want;
	int bad = 0;

	if (record(&now))
		return -1;
	if (now.fl != want->fl) {
		fail("fd %d (%s): F_GETFL %#o, was %#o", now.fd, now.name,
		     now.fl, want->fl);
		bad = 1;
	}
	if (now.fd_flags != want->fd_flags) {
		fail("fd %d (%s): F_GETFD %#x, was %#x", now.fd, now.name,
		     now.fd_flags, want->fd_flags);
		bad = 1;
	}
	if (strcmp(now.link, want->link)) {
		fail("fd %d (%s): links to '%s', was '%s'", now.fd, now.name,
		     now.link, want->link);
		bad = 1;
	}
	if (strcmp(now.fdinfo, want->fdinfo)) {
		fail("fd %d (%s): fdinfo '%s', was '%s'", now.fd, now.name,
		     now.fdinfo, want->fdinfo);
		bad = 1;
	}
	if ((!want->new_inode && (now.st.st_dev != want->st.st_dev ||
				  now.st.st_ino != want->st.st_ino)) ||
	    now.st.st_size != want->st.st_size ||
	    now.st.st_nlink != want->st.st_nlink) {
		fail("fd %d (%s): inode %lu, size %lld, %lu links, was %lu, %lld, %lu",
		     now.fd, now.name, (unsigned long)now.st.st_ino,
		     (long long)now.st.st_size, (unsigned long)now.st.st_nlink,
		     (unsigned long)want->st.st_ino, (long long)want->st.st_size,
		     (unsigned long)want->st.st_nlink);
		bad = 1;
	}
	return bad ? -1 : 0;
}

static off_t pos(int fd)
{
	return lseek(fd, 0, SEEK_CUR);
}

/* Read @len bytes from @fd's offset: pattern @seed from @off. */
static int check_read(int fd, off_t off, size_t len, uint64_t seed, const char *what)
{
	uint8_t buf[256];
	ssize_t n;

	if (len > sizeof(buf))
		len = sizeof(buf);
	n = read(fd, buf, len);
	if (n != (ssize_t)len) {
		fail("%s: read %zu bytes from fd %d: %zd (%m)", what, len, fd, n);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != pattern(seed, (size_t)off + i)) {
			fail("%s: byte %lld is %#x, want %#x", what,
			     (long long)off + (long long)i, buf[i],
			     pattern(seed, (size_t)off + i));
			return -1;
		}
	}
	return 0;
}

static int check_offsets(void)
{
	int sh = files[F_SH].fd, dup1 = files[F_SH_DUP].fd;
	int dupc = files[F_SH_DUPC].fd, own = files[F_SH_OWN].fd;
	off_t p;
	int bad = 0;

	/* The fdinfo pos lines said where they were; now use them. */
	if (check_read(files[F_DATA].fd, DATA_OFF, 64, 0x33, "data at 12345"))
		bad = 1;
	if (check_read(files[F_RO].fd, RO_OFF, 64, 0x33, "read-only data at 777"))
		bad = 1;
	if (write(files[F_RO].fd, "x", 1) != -1 || errno != EBADF) {
		fail("write to O_RDONLY fd %d did not fail with EBADF (%m)",
		     files[F_RO].fd);
		bad = 1;
	}

	/* One open file: moving one descriptor moves the others. */
	if (lseek(sh, 4321, SEEK_SET) != 4321) {
		fail("lseek fd %d: %m", sh);
		return -1;
	}
	if ((p = pos(dup1)) != 4321 || pos(dupc) != 4321) {
		fail("fd %d moved to 4321, but its dups %d and %d are at %lld and %lld",
		     sh, dup1, dupc, (long long)p, (long long)pos(dupc));
		bad = 1;
	}
	if ((p = pos(own)) != OWN_OFF) {
		fail("fd %d (opened on its own) moved with fd %d: at %lld, want %d",
		     own, sh, (long long)p, OWN_OFF);
		bad = 1;
	}
	return bad ? -1 : 0;
}

/* An append goes to the end, wherever the offset is. */
static int check_append(void)
{
	int fd = files[F_LOG].fd;
	off_t size = files[F_LOG].st.st_size;
	struct stat st;
	char last;
	int rd;

	if (write(fd, "!", 1) != 1) {
		fail("append to fd %d: %m", fd);
		return -1;
	}
	if (fstat(fd, &st) || st.st_size != size + 1) {
		fail("appending one byte to fd %d: size %lld, want %lld", fd,
		     (long long)st.st_size, (long long)size + 1);
		return -1;
	}
	rd = open("log", O_RDONLY);
	if (rd < 0 || pread(rd, &last, 1, size) != 1 || last != '!') {
		fail("the byte appended to fd %d is not at the end of log", fd);
		if (rd >= 0)
			close(rd);
		return -1;
	}
	close(rd);
	return 0;
}

static int check_gone(void)
{
	const struct file *f = &files[F_GONE];
	static const char suffix[] = " (deleted)";
	size_t len = strlen(f->link), sl = sizeof(suffix) - 1;
	uint8_t buf[GONE_LEN];
	int bad = 0;
	ssize_t n;

	if (len < sl || strcmp(f->link + len - sl, suffix)) {
		fail("fd %d: link '%s' does not end with '%s'", f->fd, f->link, suffix);
		bad = 1;
	}
	if (f->st.st_nlink != 0) {
		fail("fd %d: %lu links, want 0", f->fd, (unsigned long)f->st.st_nlink);
		bad = 1;
	}
	n = pread(f->fd, buf, sizeof(buf), 0);
	if (n < 0) {
		fail("fd %d: read back: %m", f->fd);
		return -1;
	}
	if (n != GONE_LEN) {
		fail("fd %d: read back %zd bytes, want %d", f->fd, n, GONE_LEN);
		return -1;
	}
	for (size_t i = 0; i < GONE_LEN; i++) {
		if (buf[i] != pattern(0x44, i)) {
			fail("unlinked file: byte %zu is %#x, want %#x", i,
			     buf[i], pattern(0x44, i));
			return -1;
		}
	}
	return bad ? -1 : 0;
}

static int open_at(struct file *f)
{
	int fd = open(f->name, f->flags, 0644);

	if (fd < 0) {
		fail("open %s: %m", f->name);
		return -1;
	}
	if (fd != f->fd) {
		if (dup3(fd, f->fd, f->flags & O_CLOEXEC) != f->fd) {
			fail("dup3 to %d: %m", f->fd);
			return -1;
		}
		close(fd);
	}
	return 0;
}

static int setup(void)
{
	int fd;

	if (!mkdtemp(tmpdir) || chdir(tmpdir)) {
		fail("temporary directory %s: %m", tmpdir);
		return -1;
	}
	fd = open("data", O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0 || write_pattern(fd, DATA_LEN, 0x33)) {
		fail("create data: %m");
		return -1;
	}
	close(fd);

	for (int i = 0; i < NR_FILES; i++) {
		if (i == F_SH_DUP || i == F_SH_DUPC)
			continue;
		if (open_at(&files[i]))
			return -1;
	}
	if (dup2(files[F_SH].fd, files[F_SH_DUP].fd) != files[F_SH_DUP].fd ||
	    fcntl(files[F_SH].fd, F_DUPFD_CLOEXEC, files[F_SH_DUPC].fd) !=
	    files[F_SH_DUPC].fd) {
		fail("dup fd %d: %m", files[F_SH].fd);
		return -1;
	}

	if (lseek(files[F_DATA].fd, DATA_OFF, SEEK_SET) != DATA_OFF ||
	    lseek(files[F_RO].fd, RO_OFF, SEEK_SET) != RO_OFF)
		return -1;
	if (write(files[F_LOG].fd, "first line\n", 11) != 11 ||
	    write(files[F_LOG].fd, "second\n", 7) != 7) {
		fail("write log: %m");
		return -1;
	}
	if (write_pattern(files[F_SH].fd, 8192, 0x55) ||
	    lseek(files[F_SH].fd, SHARED_OFF, SEEK_SET) != SHARED_OFF ||
	    lseek(files[F_SH_OWN].fd, OWN_OFF, SEEK_SET) != OWN_OFF)
		return -1;
	if (write_pattern(files[F_GONE].fd, GONE_LEN, 0x44) || unlink("gone")) {
		fail("unlinked file: %m");
		return -1;
	}
	return 0;
}

/* By full path: the working directory may be wrong. */
static void cleanup(void)
{
	static const char *const names[] = { "data", "log", "shared", "gone" };
	char path[sizeof(tmpdir) + 16];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
		unlink(path);
	}
	rmdir(tmpdir);
}

int main(int argc, char **argv)
{
	char cwd[PATH_MAX];
	struct stat cwd_st, st;
	int bad = 0;

	test_init(argc, argv);
	if (setup())
		goto out;
	for (int i = 0; i < NR_FILES; i++)
		if (record(&files[i]))
			goto out;
	if (stat(".", &cwd_st)) {
		fail("stat .: %m");
		goto out;
	}

	test_ready();
	test_waitsig();

	if (!getcwd(cwd, sizeof(cwd))) {
		fail("getcwd: %m");
		bad = 1;
	} else if (strcmp(cwd, tmpdir)) {
		fail("working directory '%s', was '%s'", cwd, tmpdir);
		bad = 1;
	}
	if (stat(".", &st) || st.st_ino != cwd_st.st_ino ||
	    st.st_dev != cwd_st.st_dev) {
		fail("working directory is not the same directory (inode %lu, was %lu)",
		     (unsigned long)st.st_ino, (unsigned long)cwd_st.st_ino);
		bad = 1;
	}
	for (int i = 0; i < NR_FILES; i++)
		if (check_file(&files[i]))
			bad = 1;
	if (check_gone())
		bad = 1;
	if (!bad && (check_offsets() || check_append()))
		bad = 1;
	if (!bad)
		pass();
out:
	cleanup();
	return test_result();
}
