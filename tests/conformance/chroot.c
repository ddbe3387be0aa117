/*
 * chroot.c - a task whose root is not stasis's: it chroots into its work
 * directory.  After a restore its root is that directory still, and the
 * restore itself, which reads /proc after setting the root, got through.
 */
#include <sys/stat.h>
#include <unistd.h>

#include "stasis_test.h"

int main(int argc, char **argv)
{
	struct stat want, got;

	test_init(argc, argv);
	if (stat(".", &want) || chroot(".") || chdir("/")) {
		fail("cannot chroot into the work directory: %m");
		return test_result();
	}
	test_ready();
	test_waitsig();
	if (stat("/", &got)) {
		fail("stat /: %m");
		return test_result();
	}
	if (got.st_dev != want.st_dev || got.st_ino != want.st_ino) {
		fail("root is %lu:%lu, was %lu:%lu", (unsigned long)got.st_dev,
		     (unsigned long)got.st_ino, (unsigned long)want.st_dev,
		     (unsigned long)want.st_ino);
		return test_result();
	}
	pass();
	return test_result();
}
