// kernel/bootinfo/memmap.ts — the physical memory map as the boot protocol
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

/** Total bytes of usable RAM. */
export function ramTotal(map: MemRegion[]): u64 {
  let total: u64 = 0;
  for (let i = 0; i < map.length; i++) {
    const r = unchecked(map[i]);
    if (r.type == MEM_RAM) total += r.length;
  }
  return total;
}

/** The end of the RAM region containing addr, or 0 if addr is not in RAM.
 *  Adjacent RAM regions are treated as one. */
export function ramEndFrom(map: MemRegion[], addr: u64): u64 {
  let end: u64 = 0;
  let grew = true;
  while (grew) {
    grew = false;
    for (let i = 0; i < map.length; i++) {
      const r = unchecked(map[i]);
      if (r.type != MEM_RAM) continue;
      const probe = end == 0 ? addr : end;
      if (r.base <= probe && probe < r.end || (end != 0 && r.base == end)) {
        if (r.end > end) { end = r.end; grew = true; }
      }
    }
  }
  return end;
}
