/*
 * head-x86.S - the parasite's entry.  compel starts the task here with
 * %rsp at the top of the parasite stack and %rdi pointing at the shared
 * area; parasite_main() never returns.
 */
	.section .head.text, "ax"
	.globl	parasite_head
parasite_head:
	andq	$-16, %rsp		/* the ABI's alignment at a call */
	call	parasite_main
1:	jmp	1b

	.section .note.GNU-stack, "", @progbits
