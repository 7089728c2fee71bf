// kernel/mm/layout.ts — where everything lives in guest-physical memory; the
// kernel's copy of boot/layout.h (keep the two in step).
//
//   0x0000_0000 ┌──────────────────────────────┐
//               │ real-mode IVT, BDA, EBDA      │  never touched
//   0x0008_0000 │ (firmware, PVH start_info,    │  read once by the kernel
//               │  Multiboot2 info, cmdline)    │  (boot info may also sit higher)
//   0x000A_0000 │ VGA hole / option ROMs / BIOS │  not RAM (ACPI RSDP scan: 0xE0000..)
//   0x0010_0000 ├──────────────────────────────┤ ← IMAGE_BASE (1 MiB): ELF loaded here
//               │ .multiboot2 .text .rodata     │
//               │ .data .bss (page tables,      │
//               │  loader stack, IDT)           │
//   __image_end ├──────────────────────────────┤ ← rounded up to 4 KiB = linear_base()
//               │ Wasm linear memory            │  phys = linearBase + offset
//               │  static data, shadow stack    │
//               │  ┌ grown in 64 KiB Wasm pages, interleaved as each asks:
//               │  │ AS heap (TLSF) chunks       │  owner Heap
//               │  │ page-pool chunks (mm/pages) │  4 KiB pages: DMA, NetBuffers, App
//               │  └ ...                         │
//               │  heap reserve                 │  the pool leaves this for TLSF
//   RAM end     ├──────────────────────────────┤  linear memory never grows past here
//               │ (PCI hole, LAPIC 0xFEE0_0000, │  MMIO: reached only through the
//               │  IOAPIC 0xFEC0_0000, HPET     │  host imports mmio_read/mmio_write
//               │  0xFED0_0000, virtio-mmio     │
//               │  0xFEB0_0000, BARs)           │
//   4 GiB       └──────────────────────────────┘  identity-mapped with 2 MiB pages

export const IMAGE_BASE: u64 = 0x100000;
export const IDENTITY_MAP_BYTES: u64 = 4 << 30;
export const LINEAR_ALIGN: u64 = 4096;
export const PAGE_SIZE: i32 = 4096;
export const PAGE_SHIFT: i32 = 12;
export const WASM_PAGE_SIZE: i32 = 65536;
export const LAPIC_DEFAULT_BASE: u64 = 0xfee00000;
export const IOAPIC_DEFAULT_BASE: u64 = 0xfec00000;
export const HPET_DEFAULT_BASE: u64 = 0xfed00000;
export const VIRTIO_MMIO_MICROVM_BASE: u64 = 0xfeb00000;
