// kernel/platform/acpi/mcfg.ts — the MCFG table (PCI Firmware Specification 3.x §4.1.2,
// listed in ACPI 6.5 §5.2.6): where each PCI segment's memory-mapped
// configuration space (ECAM, PCIe Base §7.2.2) lives.
//
//   0   SDT header (36 bytes, "MCFG")
//   36  reserved (8 bytes)
//   44  allocation structures, 16 bytes each:
//         +0  u64 base address of the ECAM region (for bus 0, even if startBus > 0)
//         +8  u16 PCI segment group
//         +10 u8  start bus, +11 u8 end bus
//         +12 u32 reserved
//
// Entries with a zero or unaligned base, or end < start, are dropped: firmware
// data is checked, never trusted.
import { u8At, u32At } from "./bytes";

export class EcamRegion {
  constructor(public base: u64, public segment: u32, public startBus: u32, public endBus: u32) {}

  /** Bytes of the window the region decodes: 1 MiB per bus (32 devices × 8 functions × 4 KiB). */
  size(): u64 { return <u64>(this.endBus - this.startBus + 1) << 20; }

  /** Physical address of (bus, dev, fn, off) inside this region. */
  address(bus: u32, dev: u32, fn: u32, off: u32): u64 {
    return this.base + ((<u64>bus << 20) | (<u64>(dev & 31) << 15) | (<u64>(fn & 7) << 12) | <u64>(off & 0xfff));
  }

  covers(bus: u32): bool { return bus >= this.startBus && bus <= this.endBus; }

  toString(): string {
    return "0x" + this.base.toString(16) + " segment " + this.segment.toString() +
      " buses " + this.startBus.toString() + "-" + this.endBus.toString();
  }
}


const FIRST_ENTRY: i32 = 44;
const ENTRY_BYTES: i32 = 16;
const MAX_ENTRIES: i32 = 64;

/** The allocation structures of an MCFG table's bytes (header included; the
 *  header's checksum was checked by readTable). Problems go to `problems`. */
export function parseMcfg(t: Uint8Array, problems: string[]): EcamRegion[] {
  const out = new Array<EcamRegion>();
  const len = <i32>min(<u32>t.length, u32At(t, 4));
  for (let o = FIRST_ENTRY, n = 0; o + ENTRY_BYTES <= len && n < MAX_ENTRIES; o += ENTRY_BYTES, n++) {
    const base = <u64>u32At(t, o) | (<u64>u32At(t, o + 4) << 32);
    const segment = u8At(t, o + 8) | (u8At(t, o + 9) << 8);
    const start = u8At(t, o + 10);
    const end = u8At(t, o + 11);
    if (base == 0 || (base & 0xfffff) != 0 || end < start) {
      problems.push("MCFG entry " + n.toString() + " unusable (base 0x" + base.toString(16) +
        ", buses " + start.toString() + "-" + end.toString() + ")");
      continue;
    }
    out.push(new EcamRegion(base, segment, start, end));
  }
  return out;
}
