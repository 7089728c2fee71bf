/*
 * bench/floor/floor.S — the boot benchmark's floor: a PVH ELF whose first
 * instruction writes status 0 to isa-debug-exit (port 0xf4), so QEMU exits
 * with code 1. Booting it costs what QEMU (and firmware on q35) cost alone.
 */
	.section .note.pvh, "a", @note
	.balign 4
	.long 4, 4, 18          /* namesz "Xen\0", descsz, XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.balign 4
	.long floor_start

	.section .text, "ax"
	.code32
	.globl floor_start
floor_start:
	xorl %eax, %eax
	outl %eax, $0xf4
1:	cli
	hlt
	jmp 1b
