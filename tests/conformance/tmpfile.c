/*
 * tmpfile.c - a file opened with O_TMPFILE: it never had a name.  After a
 * restore the fd is open read-write at its offset, still has no link, and
 * holds its bytes.  (O_TMPFILE's flags carry O_DIRECTORY, which a restore
 * must not ask of the file it opens again.)
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stasis_test.h"

#define LEN	8192
#define OFF	100

static void pattern(unsigned char *buf)
{
	for (int i = 0; i < LEN; i++)
		buf[i] = (unsigned char)(i * 7 + 3);
}

int main(int argc, char **argv)
{
	unsigned char want[LEN], got[LEN];
	struct stat st;
	int fd, fl;

	test_init(argc, argv);
	pattern(want);
	fd = open(".", O_TMPFILE | O_RDWR, 0600);
	if (fd < 0) {
		skip("O_TMPFILE in the work directory: %m");
		return test_result();
	}
	if (write(fd, want, LEN) != LEN || lseek(fd, OFF, SEEK_SET) != OFF) {
		fail("cannot fill the file: %m");
		return test_result();
	}
	test_ready();
	test_waitsig();

	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) != O_RDWR) {
		fail("fd flags %#o, want O_RDWR", fl);
		return test_result();
	}
	if (lseek(fd, 0, SEEK_CUR) != OFF) {
		fail("offset %lld, want %d", (long long)lseek(fd, 0, SEEK_CUR), OFF);
		return test_result();
	}
	if (fstat(fd, &st) || st.st_nlink != 0 || st.st_size != LEN) {
		fail("links %lu, size %lld; want 0 and %d", (unsigned long)st.st_nlink,
		     (long long)st.st_size, LEN);
		return test_result();
	}
	if (pread(fd, got, LEN, 0) != LEN || memcmp(got, want, LEN)) {
		fail("the file's bytes changed");
		return test_result();
	}
	pass();
	return test_result();
}
