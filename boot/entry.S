/*
 * boot/entry.S — the first instructions: PVH and Multiboot2 entry in 32-bit
 * protected mode, identity page tables, long mode, SSE, then loader_main().
 * Also the 256 interrupt stubs. Follows the PVH boot ABI (xen/include/public/
 * arch-x86/hvm/start_info.h), Multiboot2 §3.1 and Intel SDM vol. 3 §9.8.5.
 */
#include "layout.h"
#include "hostif.h"

#define MB2_MAGIC        0xe85250d6
#define MB2_ARCH_I386    0
#define XEN_ELFNOTE_PHYS32_ENTRY 18

#define CR0_PE (1 << 0)
#define CR0_MP (1 << 1)
#define CR0_EM (1 << 2)
#define CR0_WP (1 << 16)
#define CR0_PG (1 << 31)
#define CR4_PAE (1 << 5)
#define CR4_OSFXSR (1 << 9)
#define CR4_OSXMMEXCPT (1 << 10)
#define MSR_EFER 0xc0000080
#define EFER_LME (1 << 8)

/* Multiboot2 header: must lie 8-aligned within the first 32 KiB of the file.
 * No Multiboot1 header on purpose: QEMU tries Multiboot1 before PVH and
 * refuses an ELF64 carrying one. GRUB loads our ELF by its program headers. */
	.section .multiboot2, "a"
	.balign 8
mb2_header:
	.long MB2_MAGIC
	.long MB2_ARCH_I386
	.long mb2_header_end - mb2_header
	.long -(MB2_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header))
	.balign 8
	.short 0, 0             /* end tag */
	.long 8
mb2_header_end:

/* PVH entry note. It must sit in a PT_NOTE segment: QEMU scans only those. */
	.section .note.pvh, "a", @note
	.balign 4
	.long 4                 /* namesz: "Xen\0" */
	.long 4                 /* descsz */
	.long XEN_ELFNOTE_PHYS32_ENTRY
	.asciz "Xen"
	.balign 4
	.long _start32

	.section .text.boot, "ax"
	.code32
	.globl _start32
/* Entered with paging off, flat segments, interrupts off.
 *   Multiboot2: eax = 0x36d76289, ebx = physical address of the info tags.
 *   PVH:        ebx = physical address of hvm_start_info (magic 0x336ec578).
 * No stack is given; GRUB's GDTR may point anywhere, so load our own. */
_start32:
	cli
	cld
	movl %eax, %ebp                 /* keep magic and info across the bss wipe */
	movl %ebx, %esi
	rdtsc                           /* boot-time benchmark: TSC at the first instruction */
	movl %eax, entry_tsc
	movl %edx, entry_tsc + 4
	movl %esi, %edx

	movl $__bss_start, %edi         /* zero .bss (page tables, IDT, state); */
	movl $__bss_end, %ecx           /* the stacks sit after it, not zeroed */
	subl %edi, %ecx
	shrl $2, %ecx                   /* dwords: each REP iteration costs the same */
	xorl %eax, %eax                 /* under TCG, so not byte by byte */
	rep stosl
	movl $__bss_end, %ecx           /* then the 0..3 bytes left */
	subl %edi, %ecx
	rep stosb

	movl %ebp, boot_magic
	movl %edx, boot_info
	movl $loader_stack_top, %esp

	/* Identity map 0..4 GiB with 2 MiB pages: PML4[0] → PDPT[0..3] → PD0..3. */
	movl $pdpt, %eax
	orl $3, %eax                    /* present | writable */
	movl %eax, pml4

	movl $pd, %eax
	movl $pdpt, %edi
	movl $IDENTITY_MAP_GIB, %ecx
1:	movl %eax, %ebx
	orl $3, %ebx
	movl %ebx, (%edi)
	addl $4096, %eax
	addl $8, %edi
	loop 1b

	movl $pd, %edi
	xorl %eax, %eax                 /* physical address, low 32 bits */
	xorl %ebx, %ebx                 /* high 32 bits */
	movl $(IDENTITY_MAP_GIB * 512), %ecx
2:	movl %eax, %edx
	orl $0x83, %edx                 /* present | writable | 2 MiB page */
	movl %edx, (%edi)
	movl %ebx, 4(%edi)
	addl $0x200000, %eax
	adcl $0, %ebx
	addl $8, %edi
	loop 2b

	/* The loader stack's guard pages (below it, in .stack) must fault: map
	 * the 2 MiB region holding them with 4 KiB pages instead, those left
	 * out. Running into them replaces counting call depth on every Wasm
	 * call (loader.c reports it as the trap "call stack exhausted"). */
	movl $stack_guard, %eax
	andl $~0x1fffff, %eax           /* the region's base */
	movl %eax, %edx
	shrl $21, %edx                  /* its PD entry (below 4 GiB: one PD run) */
	movl $pt_guard, %ebx
	orl $3, %ebx                    /* present | writable, a page table */
	movl %ebx, pd(,%edx,8)
	movl $pt_guard, %edi
	movl $512, %ecx
7:	xorl %ebx, %ebx
	cmpl $stack_guard, %eax
	jb 8f
	cmpl $stack_guard_end, %eax
	jb 9f                           /* a guard page: not present */
8:	movl %eax, %ebx
	orl $3, %ebx
9:	movl %ebx, (%edi)
	movl $0, 4(%edi)
	addl $4096, %eax
	addl $8, %edi
	loop 7b

	movl $pml4, %eax
	movl %eax, %cr3

	/* PAE for long mode; OSFXSR/OSXMMEXCPT because gcc -O2 emits SSE moves
	 * even in integer code, and it must work before any C runs. */
	movl %cr4, %eax
	orl $(CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT), %eax
	movl %eax, %cr4

	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr

	movl %cr0, %eax
	andl $~CR0_EM, %eax             /* no x87 emulation: SSE would #UD */
	orl $(CR0_PE | CR0_MP | CR0_WP | CR0_PG), %eax
	movl %eax, %cr0

	lgdt gdt64_ptr
	ljmp $0x08, $start64

	.code64
start64:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	xorw %ax, %ax
	movw %ax, %fs
	movw %ax, %gs
	leaq loader_stack_top(%rip), %rsp   /* 16-byte aligned: ABI wants that at a call */
	fninit
	movl boot_magic(%rip), %edi
	movl boot_info(%rip), %esi
	call loader_main
3:	cli
	hlt
	jmp 3b

	.section .data
	.balign 8
gdt64:
	.quad 0
	.quad 0x00af9a000000ffff        /* 0x08: 64-bit code, DPL 0 */
	.quad 0x00cf92000000ffff        /* 0x10: data */
	.quad 0, 0                      /* 0x18: TSS, filled by loader.c (16 bytes) */
gdt64_end:
	.globl gdt64
gdt64_ptr:
	.short gdt64_end - gdt64 - 1
	.long gdt64

/* The IDT (SDM vol. 3 §6.14.1), assembled: 64-bit interrupt gates, present,
 * DPL 0, selector 0x08, to isr_stubs + 16 * vector; NMI and double fault on
 * IST1 so they have a stack even when the loader stack is exhausted. */
	.section .data
	.balign 16
	.globl idt_table, idt_table_end
idt_table:
	.set vec, 0
	.rept 256
	.short (ISR_BASE + 16 * vec) & 0xffff
	.short 0x08
	.if (vec == 2) || (vec == 8)
	.byte 1
	.else
	.byte 0
	.endif
	.byte 0x8e
	.short ((ISR_BASE + 16 * vec) >> 16) & 0xffff
	.long 0                         /* offset bits 63..32: the image is below 4 GiB */
	.long 0
	.set vec, vec + 1
	.endr
idt_table_end:

	.section .data
	.balign 4
	.globl boot_magic, boot_info
boot_magic: .long 0
boot_info:  .long 0
	.balign 8
	.globl entry_tsc
entry_tsc:  .quad 0                 /* in .data: the bss wipe must not clear it */

	.section .bss
	.balign 4096
	.globl pml4
pml4: .space 4096
pdpt: .space 4096
	/* Stacks need no zeroing: link.ld places .stack after __bss_end. */
	.section .stack, "aw", @nobits
	.balign 4096
pd:   .space 4096 * IDENTITY_MAP_GIB /* fully written above */
pt_guard: .space 4096                /* fully written above */
	.globl stack_guard, stack_guard_end
stack_guard: .space STACK_GUARD_SIZE  /* never mapped */
stack_guard_end:
	.globl loader_stack_bottom, loader_stack_top
loader_stack_bottom: .space LOADER_STACK_SIZE
loader_stack_top:
	.globl fault_stack_top
	.balign 16
	.space FAULT_STACK_SIZE
fault_stack_top:

/*
 * Interrupt stubs, 16 bytes apart so loader.c computes each address as
 * isr_stubs + 16 * vector. Each pushes a dummy error code where the CPU
 * pushes none (SDM vol. 3 §6.15), then its vector.
 *   0..31   exceptions → exception_common → C (fatal: print and exit)
 *   32..255 interrupts → irq_common: record the vector, EOI, iretq. No C and
 *           no SSE here, so the interrupted code's registers stay intact.
 */
	.section .text.isr, "ax"
	.balign 16
	.globl isr_stubs
isr_stubs:                          /* at ISR_BASE: link.ld */
	.set vec, 0
	.rept 256
	.balign 16
	.if (vec == 8) || (vec == 10) || (vec == 11) || (vec == 12) || (vec == 13) || (vec == 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	pushq $vec
	.else
	pushq $0
	pushq $vec
	.endif
	.if vec < 32
	jmp exception_common
	.else
	jmp irq_common
	.endif
	.set vec, vec + 1
	.endr

exception_common:
	pushq %r15
	pushq %r14
	pushq %r13
	pushq %r12
	pushq %r11
	pushq %r10
	pushq %r9
	pushq %r8
	pushq %rbp
	pushq %rdi
	pushq %rsi
	pushq %rdx
	pushq %rcx
	pushq %rbx
	pushq %rax
	movq %rsp, %rdi                 /* struct trap_frame * */
	andq $~15, %rsp
	call exception_handler          /* does not return */
4:	cli
	hlt
	jmp 4b

/* Stack: vector, error code, RIP, CS, RFLAGS, RSP, SS. */
irq_common:
	pushq %rax
	pushq %rcx
	pushq %rdx
	movq 24(%rsp), %rax             /* vector */
	lock btsq %rax, irq_pending(%rip)
	lock incq irq_count(%rip)
	cmpq $0xff, %rax                /* LAPIC spurious vector: no EOI (SDM §10.9) */
	je 6f
	movl eoi_mode(%rip), %ecx
	cmpl $EOI_XAPIC, %ecx
	jne 5f
	movq eoi_addr(%rip), %rdx       /* xAPIC: write 0 to the EOI register */
	movl $0, (%rdx)
	jmp 6f
5:	cmpl $EOI_X2APIC, %ecx
	jne 6f
	movl $0x80b, %ecx               /* x2APIC: EOI MSR */
	xorl %eax, %eax
	xorl %edx, %edx
	wrmsr
6:	popq %rdx
	popq %rcx
	popq %rax
	addq $16, %rsp                  /* vector and error code */
	iretq

	.section .bss
	.balign 64
	.globl irq_pending, irq_count, eoi_mode, eoi_addr
irq_pending: .space 32              /* one bit per vector */
irq_count:   .space 8
eoi_addr:    .space 8
eoi_mode:    .space 4                /* EOI_NONE, EOI_XAPIC, EOI_X2APIC (hostif.h) */
