/*
 * memfd_exec.c - a memfd the task runs as a program (execveat with
 * AT_EMPTY_PATH), also mapped shared read-write.  memfd_create()'s own
 * description holds no write access to the inode; after a restore the
 * memfd must still run (no ETXTBSY), and hold its bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stasis_test.h"

static const char script[] = "#!/bin/true\n";

/* Fork, run the memfd, and say whether it exited 0; else the errno it hit. */
static int run_memfd(int fd)
{
	static char *const argv[] = { "true", NULL }, *const envp[] = { NULL };
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
		_exit(errno & 0x7f);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int main(int argc, char **argv)
{
	char *map;
	int fd, err;

	test_init(argc, argv);
	fd = memfd_create("script", 0);
	if (fd < 0 || write(fd, script, sizeof(script) - 1) != sizeof(script) - 1) {
		fail("memfd: %m");
		return test_result();
	}
	map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		fail("mmap: %m");
		return test_result();
	}
	err = run_memfd(fd);
	if (err) {
		skip("this kernel does not run a memfd before any checkpoint (%d)", err);
		return test_result();
	}
	test_ready();
	test_waitsig();
	err = run_memfd(fd);
	if (err) {
		fail("the memfd no longer runs: %s", err > 0 ? strerror(err) : "killed");
		return test_result();
	}
	if (memcmp(map, script, sizeof(script) - 1)) {
		fail("the shared mapping lost the script's bytes");
		return test_result();
	}
	pass();
	return test_result();
}
