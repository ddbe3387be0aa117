/*
 * restorer-blob.S - the restorer, built from restorer/, embedded as bytes.
 * Its size with .bss is in restorer_blob_size (src/restore.c maps that much).
 */
	.section .rodata
	.balign	64
	.globl	restorer_blob
	.type	restorer_blob, @object
restorer_blob:
	.incbin	"restorer.bin"
	.globl	restorer_blob_end
restorer_blob_end:

	.section .note.GNU-stack, "", @progbits
