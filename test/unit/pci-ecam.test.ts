// kernel/platform/acpi/mcfg.ts and kernel/drivers/pci's configuration access: MCFG tables built
// per PCI Firmware 3.x §4.1.2 (good, damaged, truncated, inside an RSDT walk),
// and bus enumeration through a fake ECAM window (PCIe Base §7.2.2) and through
// the legacy ports 0xCF8/0xCFC serving the same fake functions.
import { describe, expect, it } from "vitest";
import { FakeHost, type MmioDevice, type PortDevice } from "../platform/host.js";
import { loadKernel } from "../platform/wasm.js";
import { checksum, le16, le32, le64, sdt } from "./acpi-tables.js";

type E = {
  mcfg(p: number): number; acpiEcam(rsdp: bigint): number; access(base: bigint, endBus: number): number;
  scan(): number; read32(b: number, d: number, f: number, off: number): number;
  write32(b: number, d: number, f: number, off: number, v: number): void;
};

/** One allocation structure: base, segment, start bus, end bus, reserved. */
const entry = (base: bigint, seg: number, start: number, end: number) => [...le64(base), ...le16(seg), start, end, 0, 0, 0, 0];
const mcfgTable = (...entries: number[][]) => sdt("MCFG", [0, 0, 0, 0, 0, 0, 0, 0, ...entries.flat()]);

describe("MCFG", () => {
  it("gives q35's ECAM window: 0xb0000000, segment 0, buses 0-255", async () => {
    const k = await loadKernel<E>("test/unit/wasm/pci.ts");
    expect(k.str(k.exports.mcfg(k.bytesIn(mcfgTable(entry(0xb0000000n, 0, 0, 255))))))
      .toBe("0xb0000000 segment 0 buses 0-255|");
  });
  it("lists several segments and a 64-bit base", async () => {
    const k = await loadKernel<E>("test/unit/wasm/pci.ts");
    const t = mcfgTable(entry(0xe0000000n, 0, 0, 15), entry(0x4000000000n, 1, 16, 31));
    expect(k.str(k.exports.mcfg(k.bytesIn(t)))).toBe("0xe0000000 segment 0 buses 0-15;0x4000000000 segment 1 buses 16-31|");
  });
  it("drops a zero base, an unaligned base and an inverted bus range, saying so", async () => {
    const k = await loadKernel<E>("test/unit/wasm/pci.ts");
    const t = mcfgTable(entry(0n, 0, 0, 255), entry(0xb0000800n, 0, 0, 255), entry(0xb0000000n, 0, 9, 3), entry(0xb0000000n, 0, 0, 7));
    const [ok, problems] = k.str(k.exports.mcfg(k.bytesIn(t))).split("|");
    expect(ok).toBe("0xb0000000 segment 0 buses 0-7");
    expect(problems.split(";")).toHaveLength(3);
    expect(problems).toContain("MCFG entry 0 unusable");
  });
  it("ignores an entry cut short by the table length, and random bytes never break it", async () => {
    const k = await loadKernel<E>("test/unit/wasm/pci.ts");
    const t = mcfgTable(entry(0xb0000000n, 0, 0, 255), entry(0xc0000000n, 0, 0, 255));
    new DataView(t.buffer).setUint32(4, t.length - 1, true);
    expect(k.str(k.exports.mcfg(k.bytesIn(t)))).toBe("0xb0000000 segment 0 buses 0-255|");
    let seed = 11;
    for (let n = 0; n < 100; n++) {
      const body = Array.from({ length: n }, () => (seed = (seed * 48271) % 2147483647) & 0xff);
      expect(k.str(k.exports.mcfg(k.bytesIn(sdt("MCFG", body))))).toMatch(/\|/);
    }
  });
  it("is found by the RSDT walk beside the MADT", async () => {
    const host = new FakeHost();
    host.addPhys(0x7fe0000n, sdt("APIC", [...le32(0xfee00000), ...le32(1)]));
    host.addPhys(0x7fe1000n, mcfgTable(entry(0xb0000000n, 0, 0, 255)));
    host.addPhys(0x7fe2000n, sdt("RSDT", [...le32(0x7fe0000), ...le32(0x7fe1000)]));
    const rsdp = new Uint8Array(20);
    rsdp.set(Buffer.from("RSD PTR ", "ascii"), 0);
    rsdp.set(le32(0x7fe2000), 16);
    checksum(rsdp, 8, 20);
    host.addPhys(0xf5a00n, rsdp);
    const k = await loadKernel<E>("test/unit/wasm/pci.ts", host);
    expect(k.str(k.exports.acpiEcam(0xf5a00n))).toBe("APIC,MCFG|0xb0000000 segment 0 buses 0-255|");
  });
});

interface Fn { cfg: Uint8Array; barSizes: number[] }

/** PCI functions behind both an ECAM window and mechanism #1 ports: the same
 *  4 KiB configuration spaces, BARs that answer all-ones with their size mask. */
class FakePci implements MmioDevice {
  size: bigint;
  fns = new Map<number, Fn>();
  private addr = 0;
  ecamAccesses = 0;
  portAccesses = 0;
  constructor(public base: bigint, buses: number) { this.size = BigInt(buses) << 20n; }

  add(bus: number, dev: number, fn: number, vendor: number, device: number, cls: number, barSizes: number[] = [], extra?: [number, number]): void {
    const cfg = new Uint8Array(4096);
    const v = new DataView(cfg.buffer);
    v.setUint16(0, vendor, true); v.setUint16(2, device, true);
    v.setUint32(8, cls << 8, true);
    barSizes.forEach((s, i) => { if (s) v.setUint32(0x10 + 4 * i, 0xfe000000 - i * 0x100000, true); });
    if (extra) v.setUint32(extra[0], extra[1], true);
    this.fns.set((bus << 8) | (dev << 3) | fn, { cfg, barSizes });
  }
  private rd(key: number, off: number, w: number): number {
    const f = this.fns.get(key);
    if (!f) return w === 1 ? 0xff : w === 2 ? 0xffff : 0xffffffff;
    const v = new DataView(f.cfg.buffer);
    return w === 1 ? v.getUint8(off) : w === 2 ? v.getUint16(off, true) : v.getUint32(off, true);
  }
  private wr(key: number, off: number, w: number, val: number): void {
    const f = this.fns.get(key);
    if (!f) return;
    const v = new DataView(f.cfg.buffer);
    const bar = (off - 0x10) >> 2;
    if (off >= 0x10 && off < 0x28) {
      // Unimplemented BARs are hardwired to zero (PCI 3.0 §6.2.5.1).
      if (w !== 4 || !f.barSizes[bar]) return;
      val = val === 0xffffffff ? (~(f.barSizes[bar] - 1) >>> 0) : (val & ~(f.barSizes[bar] - 1)) >>> 0;
    }
    if (w === 1) v.setUint8(off, val); else if (w === 2) v.setUint16(off, val, true); else v.setUint32(off, val >>> 0, true);
  }
  read(offset: bigint, w: 1 | 2 | 4 | 8): bigint {
    this.ecamAccesses++;
    const o = Number(offset);
    return BigInt(this.rd(o >> 12, o & 0xfff, w));
  }
  write(offset: bigint, w: 1 | 2 | 4 | 8, value: bigint): void;
  write(port: number, w: 1 | 2 | 4, value: number): void;
  write(a: bigint | number, w: 1 | 2 | 4 | 8, value: bigint | number): void {
    if (typeof a === "bigint") {
      this.ecamAccesses++;
      const o = Number(a);
      this.wr(o >> 12, o & 0xfff, w, Number(value));
      return;
    }
    this.portAccesses++;
    if (a === 0xcf8 && w === 4) this.addr = Number(value) >>> 0;
    else if (a >= 0xcfc && (this.addr & 0x80000000) !== 0) this.wr((this.addr >> 8) & 0xffff, (this.addr & 0xfc) + (a - 0xcfc), w, Number(value));
  }
  portRead(port: number, w: 1 | 2 | 4): number {
    this.portAccesses++;
    if (port === 0xcf8) return this.addr;
    if ((this.addr & 0x80000000) === 0) return 0xffffffff;
    return this.rd((this.addr >> 8) & 0xffff, (this.addr & 0xfc) + (port - 0xcfc), w);
  }
}

function machine(buses = 256) {
  const host = new FakeHost();
  const pci = new FakePci(0xb0000000n, buses);
  pci.add(0, 0, 0, 0x8086, 0x29c0, 0x060000);                                          // q35 host bridge
  pci.add(0, 3, 0, 0x1af4, 0x1042, 0x010000, [0x1000, 0, 0, 0, 0x4000], [0x100, 0x12345678]); // virtio-blk, extended-space word
  host.mmio.push(pci);
  const ports: PortDevice = { read: (p, w) => pci.portRead(p, w), write: (p, w, v) => pci.write(p, w, v) };
  for (let p = 0xcf8; p < 0xd00; p++) host.ports.set(p, ports);
  return { host, pci };
}

const WANT = "00:00.0 8086:29c0 class 60000 bars \n00:03.0 1af4:1042 class 10000 bars 0=0x1000@0xfe000000,4=0x4000@0xfdc00000";

describe("PCI configuration access", () => {
  it("enumerates through ECAM without touching ports 0xCF8/0xCFC", async () => {
    const { host, pci } = machine();
    const k = await loadKernel<E>("test/unit/wasm/pci.ts", host);
    expect(k.str(k.exports.access(0xb0000000n, 255))).toBe("ECAM at 0xb0000000 segment 0 buses 0-255 (ACPI MCFG)");
    expect(k.str(k.exports.scan())).toBe(WANT);
    expect(pci.ecamAccesses).toBeGreaterThan(32);
    expect(pci.portAccesses).toBe(0);
  });
  it("enumerates the same functions through the ports when there is no MCFG", async () => {
    const { host, pci } = machine();
    const k = await loadKernel<E>("test/unit/wasm/pci.ts", host);
    expect(k.str(k.exports.access(0n, 0))).toBe("ports 0xcf8/0xcfc");
    expect(k.str(k.exports.scan())).toBe(WANT);
    expect(pci.ecamAccesses).toBe(0);
    expect(pci.portAccesses).toBeGreaterThan(32);
  });
  it("reaches extended configuration space (offset >= 0x100) and writes land in the right function", async () => {
    const { host, pci } = machine();
    const k = await loadKernel<E>("test/unit/wasm/pci.ts", host);
    k.exports.access(0xb0000000n, 255);
    expect(k.exports.read32(0, 3, 0, 0x100) >>> 0).toBe(0x12345678);
    k.exports.write32(0, 3, 0, 0x104, 0xcafef00d);
    expect(new DataView(pci.fns.get(3 << 3)!.cfg.buffer).getUint32(0x104, true)).toBe(0xcafef00d);
    expect(k.exports.read32(0, 4, 0, 0) >>> 0).toBe(0xffffffff);        // no function there
  });
  it("uses the ports for a bus outside the MCFG's range", async () => {
    const { host, pci } = machine(1);
    const k = await loadKernel<E>("test/unit/wasm/pci.ts", host);
    k.exports.access(0xb0000000n, 0);
    pci.add(2, 0, 0, 0x1af4, 0x1041, 0x020000);
    expect(k.exports.read32(2, 0, 0, 0) >>> 0).toBe(0x10411af4);
    expect(pci.ecamAccesses).toBe(0);
    expect(pci.portAccesses).toBeGreaterThan(0);
  });
});
