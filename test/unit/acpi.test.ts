// kernel/platform/acpi: the MADT parser on tables built per ACPI 6.5 §5.2.12, and the
// RSDP → RSDT/XSDT → MADT/HPET walk over fake physical memory, including
// damaged tables (bad checksum, truncated entries) that must be skipped.
import { describe, expect, it } from "vitest";
import { FakeHost } from "../platform/host.js";
import { loadKernel } from "../platform/wasm.js";
import { checksum, le16, le32, le64, sdt } from "./acpi-tables.js";

type E = { madt(p: number): number; acpi(rsdp: bigint): number };

/** q35-like MADT: one CPU, I/O APIC 0 at 0xfec00000, IRQ0→GSI2, IRQ9 level/low. */
function madtBody(extra: number[] = []): number[] {
  return [
    ...le32(0xfee00000), ...le32(1),
    0, 8, 0, 0, ...le32(1),                                   // local APIC, enabled
    1, 12, 0, 0, ...le32(0xfec00000), ...le32(0),             // I/O APIC
    2, 10, 0, 0, ...le32(2), ...le16(0),                      // IRQ0 → GSI 2, conforming
    2, 10, 0, 9, ...le32(9), ...le16(0xd),                    // IRQ9: flags 0xd = level (11), active high (01)
    2, 10, 0, 11, ...le32(11), ...le16(0xf),                  // IRQ11 level, active low
    ...extra,
  ];
}

async function kernel(host = new FakeHost()) {
  return loadKernel<E>("test/unit/wasm/mm.ts", host);
}

describe("MADT", () => {
  it("lists I/O APICs, overrides with trigger/polarity, CPUs, the LAPIC address", async () => {
    const k = await kernel();
    const t = sdt("APIC", madtBody());
    expect(k.str(k.exports.madt(k.bytesIn(t))))
      .toBe("lapic=0xfee00000 pcat=1 cpus=1 ioapic0@0xfec00000+0 irq0->2Ehi irq9->9Lhi irq11->11Llo");
  });
  it("honours a LAPIC address override and stops at a truncated entry", async () => {
    const k = await kernel();
    const t = sdt("APIC", madtBody([5, 12, 0, 0, ...le64(0xfee10000n), 1, 12, 1, 0, ...le32(0xfec10000)]));
    const cut = t.slice(0, t.length - 4);                       // last I/O APIC entry cut short
    new DataView(cut.buffer).setUint32(4, cut.length, true);
    expect(k.str(k.exports.madt(k.bytesIn(cut)))).toBe(
      "lapic=0xfee10000 pcat=1 cpus=1 ioapic0@0xfec00000+0 irq0->2Ehi irq9->9Lhi irq11->11Llo");
  });
  it("never reads past a zero-length or oversized entry, whatever the bytes", async () => {
    const k = await kernel();
    let seed = 7;
    for (let n = 0; n < 200; n++) {
      const body = Array.from({ length: 8 + (n % 60) }, () => (seed = (seed * 48271) % 2147483647) & 0xff);
      const r = k.str(k.exports.madt(k.bytesIn(sdt("APIC", body))));
      expect(r).toMatch(/^lapic=0x/);
    }
  });
});

describe("ACPI table walk", () => {
  function machine(opts: { badHpet?: boolean; xsdt?: boolean } = {}) {
    const host = new FakeHost();
    const madt = sdt("APIC", madtBody());
    const hpet = sdt("HPET", [...le32(0x8086a201), 0, 64, 0, 0, ...le64(0xfed00000n), 0, ...le16(0x80), 0]);
    if (opts.badHpet) hpet[20] ^= 0xff;
    host.addPhys(0x7fe0000n, madt);
    host.addPhys(0x7fe1000n, hpet);
    const root = opts.xsdt
      ? sdt("XSDT", [...le64(0x7fe0000n), ...le64(0x7fe1000n)])
      : sdt("RSDT", [...le32(0x7fe0000), ...le32(0x7fe1000)]);
    host.addPhys(0x7fe2000n, root);
    const rsdp = new Uint8Array(36);
    rsdp.set(Buffer.from("RSD PTR ", "ascii"), 0);
    rsdp.set(Buffer.from("SKIFF ", "ascii"), 9);
    rsdp[15] = opts.xsdt ? 2 : 0;
    rsdp.set(le32(opts.xsdt ? 0 : 0x7fe2000), 16);
    if (opts.xsdt) { rsdp.set(le32(36), 20); rsdp.set(le64(0x7fe2000n), 24); checksum(rsdp, 32, 36); }
    checksum(rsdp, 8, 20);
    host.addPhys(0xf5a00n, rsdp);
    return host;
  }
  it("follows RSDP → RSDT to the MADT and the HPET", async () => {
    const k = await kernel(machine());
    expect(k.str(k.exports.acpi(0xf5a00n))).toBe("APIC,HPET|madt|hpet=0xfed00000|");
  });
  it("uses the XSDT when the RSDP is revision 2", async () => {
    const k = await kernel(machine({ xsdt: true }));
    expect(k.str(k.exports.acpi(0xf5a00n))).toBe("APIC,HPET|madt|hpet=0xfed00000|");
  });
  it("skips a table with a bad checksum and says so", async () => {
    const k = await kernel(machine({ badHpet: true }));
    expect(k.str(k.exports.acpi(0xf5a00n))).toBe("APIC|madt|hpet=0x0|ACPI table HPET checksum bad");
  });
  it("finds the RSDP by scanning the BIOS area when the boot info has none", async () => {
    const host = machine();
    host.addPhys(0xe0000n, new Uint8Array(0x15a00));   // the rest of the scan range reads as zeros
    host.phys.sort((a, b) => Number(a.base - b.base));
    const k = await kernel(host);
    // The fake phys_read needs one region per read: give it one covering 0xe0000..0xfffff.
    const whole = new Uint8Array(0x20000);
    const rsdp = host.phys.find((r) => r.base === 0xf5a00n)!.bytes;
    whole.set(rsdp, 0xf5a00 - 0xe0000);
    host.phys = host.phys.filter((r) => r.base < 0xe0000n || r.base > 0xfffffn);
    host.addPhys(0xe0000n, whole);
    expect(k.str(k.exports.acpi(0n))).toBe("APIC,HPET|madt|hpet=0xfed00000|");
  });
});

describe("virtio-mmio devices in the DSDT (QEMU microvm's LNRO0005)", () => {
  const kernel = (host: FakeHost) => loadKernel<{ acpiMmio(rsdp: bigint): number }>("test/unit/wasm/dsdt.ts", host);
  /** A Device body as iasl emits it: _HID "LNRO0005", then _CRS with Memory32Fixed and Extended Interrupt. */
  const device = (base: number, irq: number) => [
    ...Buffer.from("_HID\x0dLNRO0005\x00", "latin1"),
    ...Buffer.from("_CRS\x11\x1a\x0a\x17", "latin1"),
    0x86, 9, 0, 1, ...le32(base), ...le32(0x200),             // Memory32Fixed, read/write
    0x89, 6, 0, 1, 1, ...le32(irq),                           // Extended Interrupt, one
    0x79, 0,
  ];
  function machine(dsdtBody: number[], badDsdt = false) {
    const host = new FakeHost();
    const dsdt = sdt("DSDT", dsdtBody);
    if (badDsdt) dsdt[40] ^= 0xff;
    host.addPhys(0x7fe3000n, dsdt);
    const fadt = new Array<number>(244 - 36).fill(0);
    fadt.splice(40 - 36, 4, ...le32(0x7fe3000));             // DSDT; X_DSDT (@140) left 0
    host.addPhys(0x7fe4000n, sdt("FACP", fadt));
    host.addPhys(0x7fe2000n, sdt("RSDT", [...le32(0x7fe4000)]));
    const rsdp = new Uint8Array(20);
    rsdp.set(Buffer.from("RSD PTR ", "ascii"), 0);
    rsdp.set(le32(0x7fe2000), 16);
    checksum(rsdp, 8, 20);
    host.addPhys(0xf5a00n, rsdp);
    return host;
  }
  it("finds each device's window and interrupt through RSDP → RSDT → FADT → DSDT", async () => {
    const k = await kernel(machine([...device(0xfeb00000, 16), ...device(0xfeb00200, 17)]));
    expect(k.str(k.exports.acpiMmio(0xf5a00n))).toBe("0xfeb00000+0x200@16 0xfeb00200+0x200@17|");
  });
  it("a DSDT with a bad checksum yields no devices and a problem", async () => {
    const k = await kernel(machine(device(0xfeb00000, 16), true));
    expect(k.str(k.exports.acpiMmio(0xf5a00n))).toBe("|ACPI table DSDT checksum bad");
  });
  it("survives a _HID with no _CRS after it and garbage around it", async () => {
    let seed = 3;
    const junk = Array.from({ length: 300 }, () => (seed = (seed * 48271) % 2147483647) & 0xff);
    const k = await kernel(machine([...junk, ...Buffer.from("LNRO0005", "latin1"), ...junk]));
    expect(k.str(k.exports.acpiMmio(0xf5a00n))).toMatch(/^(0x[0-9a-f]+\+0x[0-9a-f]+@\d+ ?)*\|$/);
  });
});
