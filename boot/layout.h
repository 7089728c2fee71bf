/*
 * boot/layout.h — where everything lives in guest-physical memory.
 * The loader owns these addresses; the kernel asks it for linear_base() and
 * works in the page sizes of kernel/core/mm/layout.ts (test/unit/shared-facts.test.ts
 * checks that the two agree: linear memory starts on a page boundary).
 *
 *   0x0000_0000 ┌──────────────────────────────┐
 *               │ real-mode IVT, BDA, EBDA      │  never touched
 *   0x0008_0000 │ (firmware, PVH start_info,    │  read once by the kernel
 *               │  Multiboot2 info, cmdline)    │  (boot info may also sit higher)
 *   0x000A_0000 │ VGA hole / option ROMs / BIOS │  not RAM (ACPI RSDP scan: 0xE0000..)
 *   0x0010_0000 ├──────────────────────────────┤ ← IMAGE_BASE (1 MiB): ELF loaded here
 *               │ .multiboot2 .text .rodata     │
 *               │ .data .bss (page tables,      │
 *               │  loader stack, IDT)           │
 *   __image_end ├──────────────────────────────┤ ← rounded up to 4 KiB
 *               │ Wasm linear memory            │  linearBase: offset 0 of the Wasm
 *               │  static data, shadow stack    │  memory; phys = linearBase + offset,
 *               │  ┌ grown in 64 KiB Wasm pages, interleaved as each asks:
 *               │  │ AS heap (TLSF) chunks       │  owner Heap
 *               │  │ page-pool chunks (mm/pages) │  4 KiB pages: DMA, NetBuffers, App
 *               │  └ ...                         │  (DMA addresses need no table)
 *               │  heap reserve                 │  the pool leaves this for TLSF
 *   RAM end     ├──────────────────────────────┤  linear memory never grows past here
 *               │ (PCI hole, LAPIC 0xFEE0_0000, │  MMIO: reached only through the
 *               │  IOAPIC 0xFEC0_0000, HPET     │  host imports mmio_read/mmio_write
 *               │  0xFED0_0000, virtio-mmio     │  (the kernel's drivers, kernel/platform/arch,
 *               │  0xFEB0_0000, BARs)           │  kernel/drivers/virtio, hold the addresses)
 *   4 GiB       └──────────────────────────────┘  identity-mapped with 2 MiB pages
 *
 *   512 GiB + linear_base: the alias through which Wasm code reaches linear
 *   memory, mapped only up to memory.size; the unmapped rest of the 512 GiB
 *   slot is its guard region (boot/paging.c).
 */
#ifndef SKIFF_LAYOUT_H
#define SKIFF_LAYOUT_H

#define IMAGE_BASE        0x100000
#define IDENTITY_MAP_GIB  4          /* 0..4 GiB mapped 1:1, 2 MiB pages */
/* The 256 interrupt stubs sit at this fixed address (link.ld asserts it), so
 * entry.S can assemble the IDT as data instead of the loader building it at
 * boot: a gate splits its handler's address into bit fields, which only an
 * absolute address lets the assembler compute. */
#define ISR_BASE          0x100000   /* = IMAGE_BASE: first in the image */
#define LINEAR_ALIGN      4096       /* linear memory starts page-aligned */
/* Linear memory is reached through an alias this far above its physical
 * address (PML4 slot 1), mapped only up to its current size: the rest of the
 * slot is the guard region that turns out-of-bounds accesses into page faults
 * (boot/paging.c). LINEAR_MAP_GIB bounds the physical end of linear memory. */
#define LINEAR_VIRT_OFFSET (1ull << 39)
#define LINEAR_MAP_GIB    5
#define LOADER_STACK_SIZE 0x10000    /* 64 KiB: the only stack; Wasm calls run on it */
#define FAULT_STACK_SIZE  0x2000     /* IST stack for double faults and NMIs */
/* Unmapped pages below the loader stack: overflowing into them faults. Larger
 * than any single frame (C is built with -fstack-clash-protection, which
 * probes frames over a page one page at a time anyway). */
#define STACK_GUARD_SIZE  0x4000

#endif
