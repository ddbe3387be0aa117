/*
 * migrant.c - a program that keeps writing its memory while it is moved
 * (tests/pages/migrate.sh, bench/migrate.sh).
 *
 *   migrant MIB RATE_MB RESULT
 *
 * Maps MIB of anonymous memory, writes every page once, then rewrites
 * pages round-robin at RATE_MB megabytes a second for as long as it runs.
 * Each page carries its index and the generation it was written in, and
 * its other words follow from those two; a table in other pages holds the
 * generation each page should have.  On SIGUSR1 it checks every page
 * against the table and writes "ok PAGES WRITES" or "bad page N: ..." to
 * RESULT; SIGTERM ends it.  A page a migration lost, or brought back from
 * an older dump than the table's, fails the check.
 *
 * It writes "ready PID" to RESULT once every page is written.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE		4096UL
#define WORDS		(PAGE / sizeof(uint64_t))
#define MIB		(1024UL * 1024)
#define TICK_NS		10000000L	/* 10 ms between bursts */

static volatile sig_atomic_t want_check, want_stop;
static uint64_t *mem, *gens;
static unsigned long npages, writes;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		want_check = 1;
	else
		want_stop = 1;
}

static uint64_t word(unsigned long page, uint64_t gen, unsigned long i)
{
	return (page * 0x9e3779b97f4a7c15ULL) ^ (gen << 20) ^ (i * 0xff51afd7ed558ccdULL);
}

static void write_page(unsigned long page)
{
	uint64_t *p = mem + page * WORDS, gen = gens[page] + 1;

	p[0] = page;
	p[1] = gen;
	for (unsigned long i = 2; i < WORDS; i++)
		p[i] = word(page, gen, i);
	gens[page] = gen;
	writes++;
}

static void check(const char *result)
{
	char msg[160] = "";
	FILE *f;

	for (unsigned long n = 0; n < npages && !msg[0]; n++) {
		const uint64_t *p = mem + n * WORDS;

		if (p[0] != n || p[1] != gens[n]) {
			snprintf(msg, sizeof(msg), "bad page %lu: index %llu gen %llu, want gen %llu",
				 n, (unsigned long long)p[0], (unsigned long long)p[1],
				 (unsigned long long)gens[n]);
			break;
		}
		for (unsigned long i = 2; i < WORDS; i++) {
			if (p[i] != word(n, p[1], i)) {
				snprintf(msg, sizeof(msg), "bad page %lu: word %lu torn", n, i);
				break;
			}
		}
	}
	if (!msg[0])
		snprintf(msg, sizeof(msg), "ok %lu %lu", npages, writes);
	f = fopen(result, "w");
	if (f) {
		fprintf(f, "%s\n", msg);
		fclose(f);
	}
}

static void ready(const char *result)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", result);
	f = fopen(tmp, "w");
	if (f) {
		fprintf(f, "ready %d\n", getpid());
		fclose(f);
		rename(tmp, result);
	}
}

int main(int argc, char **argv)
{
	struct timespec tick = { 0, TICK_NS };
	unsigned long per_tick, next = 0;
	struct sigaction sa = { .sa_handler = on_signal };

	if (argc != 4) {
		fprintf(stderr, "usage: migrant MIB RATE_MB RESULT\n");
		return 2;
	}
	npages = strtoul(argv[1], NULL, 0) * MIB / PAGE;
	per_tick = strtoul(argv[2], NULL, 0) * MIB / PAGE / (1000000000L / TICK_NS);
	mem = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	gens = mmap(NULL, npages * sizeof(*gens), PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!npages || mem == MAP_FAILED || gens == MAP_FAILED) {
		perror("migrant: mmap");
		return 1;
	}
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (unsigned long n = 0; n < npages; n++)
		write_page(n);
	ready(argv[3]);
	while (!want_stop) {
		for (unsigned long k = 0; k < per_tick; k++) {
			write_page(next);
			next = (next + 1) % npages;
		}
		nanosleep(&tick, NULL);
		if (want_check) {
			want_check = 0;
			check(argv[3]);
		}
	}
	return 0;
}
