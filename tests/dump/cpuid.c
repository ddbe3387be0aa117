/*
 * cpuid.c - what this CPU says, for tests/dump/cpuinfo.sh to compare with
 * the cpuinfo.img stasis wrote:
 *
 *   cpuid LEAF SUBLEAF   prints "EAX EBX ECX EDX" in decimal
 *   cpuid xcr0           prints XCR0 (the xsave features the kernel enabled)
 */
#include <cpuid.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	unsigned int a, b, c, d, lo, hi;

	if (argc == 2 && !strcmp(argv[1], "xcr0")) {
		__cpuid(1, a, b, c, d);
		if (!(c & bit_OSXSAVE)) {
			printf("3\n");
			return 0;
		}
		__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
		printf("%" PRIu64 "\n", (uint64_t)hi << 32 | lo);
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: cpuid LEAF SUBLEAF | cpuid xcr0\n");
		return 2;
	}
	__cpuid_count(strtoul(argv[1], NULL, 0), strtoul(argv[2], NULL, 0), a, b, c, d);
	printf("%u %u %u %u\n", a, b, c, d);
	return 0;
}
