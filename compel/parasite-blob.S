/*
 * parasite-blob.S - the parasite, built from parasite/, embedded as bytes.
 * The build puts parasite.bin on the assembler's include path.
 */
	.section .rodata
	.balign	64
	.globl	compel_parasite_blob
	.type	compel_parasite_blob, @object
compel_parasite_blob:
	.incbin	"parasite.bin"
	.globl	compel_parasite_blob_end
compel_parasite_blob_end:

	.section .note.GNU-stack, "", @progbits
