/*
 * head-x86.S - the restorer's entry, and the two things C cannot say:
 * a clone whose child runs on a new stack, and the final rt_sigreturn.
 */
	.section .head.text, "ax"
	.globl	rst_head
rst_head:
	andq	$-16, %rsp		/* %rdi = struct rst_args *, from stasis */
	call	rst_main
	ud2

	.text
/*
 * long rst_clone3(struct clone_args *ca, size_t size, void (*fn)(void *), void *arg)
 * The child starts on ca->stack + ca->stack_size and calls fn(arg), which
 * never returns.  %r8 and %r9 survive the syscall, %rcx and %r11 do not.
 */
	.globl	rst_clone3
	.hidden	rst_clone3
rst_clone3:
	movq	%rdx, %r9
	movq	%rcx, %r8
	movl	$435, %eax		/* __NR_clone3 */
	syscall
	testq	%rax, %rax
	jnz	1f
	xorl	%ebp, %ebp
	movq	%r8, %rdi
	call	*%r9
	ud2
1:	ret

/* void rst_sigreturn(uint64_t sp): %rsp at the frame's ucontext. */
	.globl	rst_sigreturn
	.hidden	rst_sigreturn
rst_sigreturn:
	movq	%rdi, %rsp
	movl	$15, %eax		/* __NR_rt_sigreturn */
	syscall
	ud2

	.section .note.GNU-stack, "", @progbits
