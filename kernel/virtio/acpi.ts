// kernel/virtio/acpi.ts — virtio-mmio devices described by ACPI: QEMU microvm
// with ACPI on (its default) lists them in the DSDT instead of the command
// line, as Device objects with _HID "LNRO0005" and a _CRS holding a
// Memory32Fixed descriptor (ACPI 6.4 §6.4.3.4, tag 0x86) and an Extended
// Interrupt descriptor (§6.4.3.6, tag 0x89). We do not run AML: the DSDT is
// scanned for the _HID string and the two descriptors that follow it.
import { BootInfo, readPhys } from "../bootinfo";
import { isRsdp, readTable } from "../acpi";
import { MmioSlot } from "./transport/mmio";

function rd8(b: Uint8Array, o: i32): u32 { return o >= 0 && o < b.length ? <u32>unchecked(b[o]) : 0; }
function rd32(b: Uint8Array, o: i32): u32 { return rd8(b, o) | (rd8(b, o + 1) << 8) | (rd8(b, o + 2) << 16) | (rd8(b, o + 3) << 24); }
function rd64(b: Uint8Array, o: i32): u64 { return <u64>rd32(b, o) | (<u64>rd32(b, o + 4) << 32); }
function is(b: Uint8Array, o: i32, s: string): bool {
  for (let i = 0; i < s.length; i++) if (rd8(b, o + i) != <u32>s.charCodeAt(i)) return false;
  return true;
}

/** The DSDT's bytes (from the FADT's X_DSDT or DSDT field), or null. */
function findDsdt(boot: BootInfo, problems: string[]): Uint8Array | null {
  let rsdp: Uint8Array | null = boot.rsdpCopy;
  if (rsdp === null || !isRsdp(rsdp!)) {
    if (boot.rsdp == 0) return null;
    rsdp = readPhys(boot.rsdp, 36);
    if (rsdp === null || !isRsdp(rsdp!)) return null;
  }
  const r = rsdp!;
  let root: u64 = <u64>rd32(r, 16);
  let step = 4;
  if (rd8(r, 15) >= 2 && r.length >= 36 && rd64(r, 24) != 0) { root = rd64(r, 24); step = 8; }
  const rt = readTable(root, problems);
  if (rt === null) return null;
  for (let o = 36; o + step <= rt.length && o < 36 + 64 * step; o += step) {
    const addr = step == 8 ? rd64(rt, o) : <u64>rd32(rt, o);
    const t = readTable(addr, problems);
    if (t === null || !is(t, 0, "FACP")) continue;
    // FADT: DSDT u32 @40; X_DSDT u64 @140 (ACPI 2.0+), preferred when set.
    let dsdt: u64 = t.length >= 148 ? rd64(t, 140) : 0;
    if (dsdt == 0) dsdt = <u64>rd32(t, 40);
    if (dsdt == 0) return null;
    return readTable(dsdt, problems);
  }
  return null;
}

/** Every LNRO0005 device's register window and interrupt. */
export function acpiMmioSlots(boot: BootInfo, problems: string[]): MmioSlot[] {
  const out = new Array<MmioSlot>();
  if (boot.cmdline.get("acpi") == "off") return out;
  const d = findDsdt(boot, problems);
  if (d === null) return out;
  const HID = "LNRO0005";
  for (let o = 36; o + HID.length <= d.length; o++) {
    if (!is(d, o, HID)) continue;
    let base: u64 = 0;
    let size: u64 = 0;
    let irq: u32 = 0xffffffff;
    // The _CRS follows within the same small Device body.
    for (let p = o + HID.length; p + 9 <= d.length && p < o + 160; p++) {
      if (is(d, p, HID)) break;
      if (base == 0 && rd8(d, p) == 0x86 && rd8(d, p + 1) == 9 && rd8(d, p + 2) == 0) {
        base = <u64>rd32(d, p + 4);
        size = <u64>rd32(d, p + 8);
      } else if (irq == 0xffffffff && base != 0 && rd8(d, p) == 0x89 && rd8(d, p + 2) == 0 && rd8(d, p + 4) >= 1) {
        irq = rd32(d, p + 5);
      }
      if (base != 0 && irq != 0xffffffff) break;
    }
    if (base != 0 && size != 0) out.push(new MmioSlot(base, size, irq == 0xffffffff ? 0 : irq));
  }
  return out;
}
