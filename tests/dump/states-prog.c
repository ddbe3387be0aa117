/*
 * states-prog.c - a process that sets up the per-task state a dump must
 * record (tests/dump/states.sh checks the images):
 *   SIGUSR1 handler with SA_RESTART and a mask of SIGINT; SIGQUIT ignored
 *   SIGUSR2 blocked, and one queued with si_value 4242 (pending)
 *   SIGWINCH blocked
 *   sigaltstack of 64 KiB
 *   ITIMER_VIRTUAL 100 s, a POSIX timer (CLOCK_MONOTONIC, SIGRTMIN+2) in 50 s
 *   RLIMIT_NOFILE soft 512, RLIMIT_CORE 0; umask 027; nice 5
 * It writes "ready" to ./state, then sleeps.  On SIGTERM it checks the
 * queued SIGUSR2 is still pending with its value, writes "OK" or the
 * problem to ./state, and exits.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t done;

static void on_usr1(int sig) { (void)sig; }
static void on_term(int sig) { (void)sig; done = 1; }

static void say(const char *what)
{
	FILE *f = fopen("state", "w");

	if (f) {
		fprintf(f, "%s\n", what);
		fclose(f);
	}
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_RESTART };
	struct itimerval itv = { { 0, 0 }, { 100, 0 } };
	struct itimerspec its = { { 0, 0 }, { 50, 0 } };
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL };
	struct rlimit nofile = { 512, 4096 }, core = { 0, 0 };
	stack_t ss = { .ss_size = 64 << 10 };
	sigset_t block;
	siginfo_t si;
	timer_t timer;

	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGINT);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGTERM, on_term);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	sigaddset(&block, SIGWINCH);
	sigprocmask(SIG_BLOCK, &block, NULL);
	sigqueue(getpid(), SIGUSR2, (union sigval){ .sival_int = 4242 });
	ss.ss_sp = malloc(ss.ss_size);
	sigaltstack(&ss, NULL);
	setitimer(ITIMER_VIRTUAL, &itv, NULL);
	sev.sigev_signo = SIGRTMIN + 2;
	timer_create(CLOCK_MONOTONIC, &sev, &timer);
	timer_settime(timer, 0, &its, NULL);
	setrlimit(RLIMIT_NOFILE, &nofile);
	setrlimit(RLIMIT_CORE, &core);
	umask(027);
	if (nice(5) < 0)
		return 1;
	say("ready");
	while (!done)
		pause();
	/* The queued signal must have survived the dump, value and all. */
	if (sigtimedwait(&block, &si, &(struct timespec){ 0, 0 }) != SIGUSR2)
		say("SIGUSR2 no longer pending");
	else if (si.si_value.sival_int != 4242)
		say("SIGUSR2 lost its value");
	else
		say("OK");
	return 0;
}
