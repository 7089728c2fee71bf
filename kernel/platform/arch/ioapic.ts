// kernel/platform/arch/ioapic.ts — I/O APICs: an index/data register pair in MMIO and
// one 64-bit redirection entry per input pin (82093AA datasheet §3.2; the
// layout below). A GSI lands on the I/O APIC whose range [gsiBase, gsiBase +
// pins) holds it.
//
//   redirection entry (two 32-bit halves, IOREDTBL = 0x10 + 2 * pin):
//   63      56 55           17 16   15    14   13    12   11   10  8 7      0
//   ┌─────────┬───────────────┬────┬─────┬────┬─────┬────┬────┬─────┬────────┐
//   │ dest ID │   reserved    │mask│trig │rIRR│ pol │stat│dmod│ dlv │ vector │
//   └─────────┴───────────────┴────┴─────┴────┴─────┴────┴────┴─────┴────────┘
//   trig 1 = level; pol 1 = active low; dmod 0 = physical; dlv 000 = fixed.
import { mmio_read32, mmio_write32 } from "..";

const IOREGSEL: u64 = 0x00;
const IOWIN: u64 = 0x10;
const REG_ID: u32 = 0x00;
const REG_VERSION: u32 = 0x01;
const REG_REDTBL: u32 = 0x10;

export const RED_MASKED: u32 = 1 << 16;
export const RED_LEVEL: u32 = 1 << 15;
export const RED_ACTIVE_LOW: u32 = 1 << 13;

export const DEFAULT_IOAPIC_BASE: u64 = 0xfec00000;

export class IoApic {
  pins: u32 = 0;
  version: u32 = 0;
  constructor(public id: u32, public base: u64, public gsiBase: u32) {}

  read(reg: u32): u32 {
    mmio_write32(this.base + IOREGSEL, reg);
    return mmio_read32(this.base + IOWIN);
  }

  write(reg: u32, v: u32): void {
    mmio_write32(this.base + IOREGSEL, reg);
    mmio_write32(this.base + IOWIN, v);
  }

  /** Reads the version register; false when nothing sensible answers there
   *  (all ones or zero: no device at that address). */
  probe(): bool {
    const v = this.read(REG_VERSION);
    if (v == 0xffffffff || v == 0) return false;
    this.version = v & 0xff;
    this.pins = ((v >> 16) & 0xff) + 1;
    return this.pins >= 2 && this.pins <= 240;
  }

  handles(gsi: u32): bool {
    return gsi >= this.gsiBase && gsi < this.gsiBase + this.pins;
  }

  maskAll(): void {
    for (let p: u32 = 0; p < this.pins; p++) {
      this.write(REG_REDTBL + 2 * p, RED_MASKED);
      this.write(REG_REDTBL + 2 * p + 1, 0);
    }
  }

  /** Routes a pin as a fixed, physically addressed interrupt to destApic. */
  route(gsi: u32, vector: u32, destApic: u32, level: bool, activeLow: bool): void {
    const pin = gsi - this.gsiBase;
    let lo = vector & 0xff;
    if (level) lo |= RED_LEVEL;
    if (activeLow) lo |= RED_ACTIVE_LOW;
    // Destination first, unmask last: the entry is never live half-written.
    this.write(REG_REDTBL + 2 * pin, RED_MASKED);
    this.write(REG_REDTBL + 2 * pin + 1, (destApic & 0xff) << 24);
    this.write(REG_REDTBL + 2 * pin, lo);
  }

  mask(gsi: u32): void {
    const pin = gsi - this.gsiBase;
    this.write(REG_REDTBL + 2 * pin, this.read(REG_REDTBL + 2 * pin) | RED_MASKED);
  }

  entry(gsi: u32): u64 {
    const pin = gsi - this.gsiBase;
    return (<u64>this.read(REG_REDTBL + 2 * pin + 1) << 32) | this.read(REG_REDTBL + 2 * pin);
  }
}

export { REG_ID as IOAPIC_REG_ID };
