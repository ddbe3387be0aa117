/*
 * head-x86.S - the parasite's entry, and the way back it takes on its own.
 *
 * compel starts the task at parasite_head with %rsp at the top of the
 * parasite stack and %rdi pointing at the shared area; parasite_main()
 * never returns.
 */
	.section .head.text, "ax"
	.globl	parasite_head
parasite_head:
	andq	$-16, %rsp		/* the ABI's alignment at a call */
	call	parasite_main
1:	jmp	1b

/*
 * The stub, PARASITE_STUB_OFF to PARASITE_STUB_OFF + PARASITE_STUB_LEN:
 * compel copies these bytes (relative jumps only) into unused room at the
 * end of the task's vDSO and enters every remote call there, with %r12 at
 * the calling thread's struct parasite_cure written next to it.  compel
 * stops the thread at the call's exit and puts its registers back; the
 * jump is taken only when compel died before it could.
 */
	.org	16
parasite_stub:
	syscall
	jmp	parasite_cure

/*
 * %r12: a struct parasite_cure (parasite-proto.h); %rsp: a stack a
 * signal handler may run on once the mask is back.  The mask first, then
 * every general register, then iretq sets %rip, %rflags and %rsp at once.
 * No sigreturn: it would reset the restart block of an interrupted sleep.
 */
parasite_cure:
	movl	$14, %eax		/* rt_sigprocmask */
	movl	$2, %edi		/* SIG_SETMASK */
	leaq	160(%r12), %rsi		/* PARASITE_CURE_SIGMASK_OFF */
	xorl	%edx, %edx
	movl	$8, %r10d
	syscall
	movq	%r12, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbp
	popq	%rbx
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rax
	popq	%rcx
	popq	%rdx
	popq	%rsi
	popq	%rdi
	iretq
	.org	80			/* PARASITE_STUB_OFF + PARASITE_STUB_LEN */

/* The parasite's own way back: %rdi is the struct parasite_cure. */
	.globl	parasite_cure_self
	.hidden	parasite_cure_self
parasite_cure_self:
	movq	%rdi, %r12
	jmp	parasite_cure

	.section .note.GNU-stack, "", @progbits
