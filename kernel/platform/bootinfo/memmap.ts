// kernel/platform/bootinfo/memmap.ts — the physical memory map as the boot protocol
// reported it (E820 types, which PVH and Multiboot2 both use).

export const MEM_RAM: u32 = 1;
export const MEM_RESERVED: u32 = 2;
export const MEM_ACPI: u32 = 3;
export const MEM_NVS: u32 = 4;
export const MEM_UNUSABLE: u32 = 5;

/** Entries beyond this are ignored: no real map has more, and a corrupt
 *  count must not make us allocate without bound. */
export const MAX_MEMMAP_ENTRIES: i32 = 128;

export class MemRegion {
  constructor(public base: u64, public length: u64, public type: u32) {}
  get end(): u64 { return this.base + this.length; }
}

export function typeName(t: u32): string {
  switch (t) {
    case MEM_RAM: return "ram";
    case MEM_RESERVED: return "reserved";
    case MEM_ACPI: return "acpi";
    case MEM_NVS: return "nvs";
    case MEM_UNUSABLE: return "unusable";
    default: return "type" + t.toString();
  }
}
