/*
 * nolibc.h - what the two blobs that run inside other tasks share: the
 * parasite (parasite/) and the restorer (restorer/).  Both are built
 * -nostdlib -ffreestanding -mgeneral-regs-only: no libc, and no vector
 * register touched, so a task's FPU state is never disturbed.
 *
 * Include it from one .c file per blob: memset and memcpy are defined
 * here, because the compiler may emit calls to them even with
 * -fno-builtin (a struct set to zero, a struct copied).
 */
#ifndef STASIS_NOLIBC_H
#define STASIS_NOLIBC_H

#include <stddef.h>

/* A system call with up to six arguments: the result or -errno. */
static inline long sys6(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

#define sys0(nr)			sys6(nr, 0, 0, 0, 0, 0, 0)
#define sys1(nr, a)			sys6(nr, (long)(a), 0, 0, 0, 0, 0)
#define sys2(nr, a, b)			sys6(nr, (long)(a), (long)(b), 0, 0, 0, 0)
#define sys3(nr, a, b, c)		sys6(nr, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define sys4(nr, a, b, c, d)		sys6(nr, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define sys5(nr, a, b, c, d, e)		sys6(nr, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)

void *memset(void *s, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);

void *memset(void *s, int c, size_t n)
{
	unsigned char *p = s;

	while (n--)
		*p++ = c;
	return s;
}

void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;

	while (n--)
		*dp++ = *sp++;
	return d;
}

#endif
