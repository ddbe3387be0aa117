/*
 * clone-vm-prog.c - a process and a child that shares its memory
 * (CLONE_VM, not a thread): two tasks of one address space, which
 * tests/dump/hostile.sh dumps.  Both wait for a signal for good.
 */
#include <sched.h>
#include <signal.h>
#include <unistd.h>

static char stack[64 << 10];

static int child(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return 0;
}

int main(void)
{
	if (clone(child, stack + sizeof(stack), CLONE_VM | SIGCHLD, NULL) < 0)
		return 1;
	for (;;)
		pause();
}
