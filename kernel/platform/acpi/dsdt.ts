// kernel/platform/acpi/dsdt.ts — virtio-mmio devices described by ACPI: QEMU microvm
// with ACPI on (its default) lists them in the DSDT instead of the command
// line, as Device objects with _HID "LNRO0005" and a _CRS holding a
// Memory32Fixed descriptor (ACPI 6.4 §6.4.3.4, tag 0x86) and an Extended
// Interrupt descriptor (§6.4.3.6, tag 0x89). We do not run AML: the DSDT is
// scanned for the _HID string and the two descriptors that follow it.
import { u8At, u32At, bytesAre } from "./bytes";
import { readTable } from "./tables";
import { AcpiInfo } from "./info";

/** One device's register window and interrupt (0: none given). */
export class AcpiMmioDevice {
  constructor(public base: u64, public size: u64, public irq: u32) {}
}

/** Every LNRO0005 device in the DSDT acpiInfo() found; problems reading it go to problems. */
export function acpiMmioDevices(info: AcpiInfo, problems: string[]): AcpiMmioDevice[] {
  const out = new Array<AcpiMmioDevice>();
  if (info.dsdtAddress == 0) return out;
  const d = readTable(info.dsdtAddress, problems);
  if (d === null) return out;
  const HID = "LNRO0005";
  for (let o = 36; o + HID.length <= d.length; o++) {
    if (!bytesAre(d, o, HID)) continue;
    let base: u64 = 0;
    let size: u64 = 0;
    let irq: u32 = 0xffffffff;
    // The _CRS follows within the same small Device body.
    for (let p = o + HID.length; p + 9 <= d.length && p < o + 160; p++) {
      if (bytesAre(d, p, HID)) break;
      if (base == 0 && u8At(d, p) == 0x86 && u8At(d, p + 1) == 9 && u8At(d, p + 2) == 0) {
        base = <u64>u32At(d, p + 4);
        size = <u64>u32At(d, p + 8);
      } else if (irq == 0xffffffff && base != 0 && u8At(d, p) == 0x89 && u8At(d, p + 2) == 0 && u8At(d, p + 4) >= 1) {
        irq = u32At(d, p + 5);
      }
      if (base != 0 && irq != 0xffffffff) break;
    }
    if (base != 0 && size != 0) out.push(new AcpiMmioDevice(base, size, irq == 0xffffffff ? 0 : irq));
  }
  return out;
}
