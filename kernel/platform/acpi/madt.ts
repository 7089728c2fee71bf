// kernel/platform/acpi/madt.ts — the MADT ("APIC", ACPI 6.5 §5.2.12): local APIC
// address, processors, I/O APICs, interrupt source overrides.
import { u8At, u16At, u32At, u64At } from "./bytes";

export class IoApicInfo {
  constructor(public id: u32, public address: u64, public gsiBase: u32) {}
}

/** An ISA IRQ delivered on a different GSI, or with non-ISA polarity/trigger. */
export class IrqOverride {
  constructor(public isaIrq: u32, public gsi: u32, public level: bool, public activeLow: bool) {}
}

export class Madt {
  lapicAddress: u64 = 0;
  /** MADT flags bit 0: a dual 8259 is present and must be masked. */
  pcatCompat: bool = false;
  ioApics: IoApicInfo[] = [];
  overrides: IrqOverride[] = [];
  cpus: i32 = 0;
}

/** Parses a MADT ("APIC") table's bytes (header included). */
export function parseMadt(t: Uint8Array): Madt {
  const m = new Madt();
  m.lapicAddress = <u64>u32At(t, 36);
  m.pcatCompat = (u32At(t, 40) & 1) != 0;
  const len = <i32>min(<u32>t.length, u32At(t, 4));
  let o = 44;
  while (o + 2 <= len) {
    const type = u8At(t, o);
    const elen = <i32>u8At(t, o + 1);
    if (elen < 2 || o + elen > len) break;
    if (type == 0 && elen >= 8) {                 // processor local APIC
      if ((u32At(t, o + 4) & 3) != 0) m.cpus++;   // enabled or online-capable
    } else if (type == 1 && elen >= 12) {         // I/O APIC
      m.ioApics.push(new IoApicInfo(u8At(t, o + 2), <u64>u32At(t, o + 4), u32At(t, o + 8)));
    } else if (type == 2 && elen >= 10) {         // interrupt source override
      const flags = u16At(t, o + 8);
      const pol = flags & 3, trig = (flags >> 2) & 3;
      // 00 = conforms to the bus (ISA: edge, active high); 11 = low / level.
      m.overrides.push(new IrqOverride(u8At(t, o + 3), u32At(t, o + 4), trig == 3, pol == 3));
    } else if (type == 5 && elen >= 12) {         // local APIC address override
      m.lapicAddress = u64At(t, o + 4);
    } else if (type == 9 && elen >= 16) {         // processor local x2APIC
      if ((u32At(t, o + 8) & 3) != 0) m.cpus++;
    }
    o += elen;
  }
  return m;
}
