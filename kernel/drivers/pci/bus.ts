// kernel/drivers/pci/bus.ts — PCI configuration space, bus enumeration, BAR sizing,
// capability lists and MSI-X tables (PCI Local Bus 3.0 §6, PCI Firmware 3.x;
// MSI-X per PCIe Base §7.7.2). Configuration space is reached through ECAM
// (PCIe Base §7.2.2: memory-mapped, 4 KiB per function) where ACPI's MCFG
// describes it for segment 0 (q35: 0xb0000000), else through the legacy
// mechanism #1 ports 0xCF8/0xCFC, which q35 and pc both decode.
// Everything read here comes from devices: bad values are skipped, not trusted.
import { inl, outl, inw, outw, inb, mmio_read8, mmio_read16, mmio_read32, mmio_write16, mmio_write32 } from "../../platform";
import { acpiInfo, EcamRegion } from "../../platform/acpi";
import { bootInfo } from "../../platform/bootinfo";
import { println } from "../../core/console";

const CONFIG_ADDRESS: u32 = 0xcf8;
const CONFIG_DATA: u32 = 0xcfc;

// Type 0/1 header offsets (PCI 3.0 §6.1).
export const PCI_VENDOR_ID: u32 = 0x00;
export const PCI_DEVICE_ID: u32 = 0x02;
export const PCI_COMMAND: u32 = 0x04;
export const PCI_STATUS: u32 = 0x06;
export const PCI_CLASS_REVISION: u32 = 0x08;
export const PCI_HEADER_TYPE: u32 = 0x0e;
export const PCI_BAR0: u32 = 0x10;
export const PCI_SECONDARY_BUS: u32 = 0x19;
export const PCI_SUBSYSTEM_ID: u32 = 0x2e;
export const PCI_CAP_PTR: u32 = 0x34;
export const PCI_INTERRUPT_LINE: u32 = 0x3c;
export const PCI_INTERRUPT_PIN: u32 = 0x3d;

export const CMD_IO: u32 = 1 << 0;
export const CMD_MEMORY: u32 = 1 << 1;
export const CMD_BUS_MASTER: u32 = 1 << 2;
export const CMD_INTX_DISABLE: u32 = 1 << 10;
const STATUS_CAP_LIST: u32 = 1 << 4;

export const CAP_MSI: u8 = 0x05;
export const CAP_VENDOR: u8 = 0x09;
export const CAP_MSIX: u8 = 0x11;

/** Mechanism #1 address (PCI 3.0 §3.2.2.3.2): enable bit, bus, device, function, dword. */
function address(bus: u32, dev: u32, fn: u32, off: u32): u32 {
  return 0x80000000 | (bus << 16) | (dev << 11) | (fn << 8) | (off & 0xfc);
}

// --- which mechanism reaches configuration space ------------------------------

/** The ECAM region in use (segment 0), or null for the ports. */
// @ts-ignore: decorator
@lazy
let ecam: EcamRegion | null = null;
let configured = false;
let announce = false;

/** Chooses the access mechanism: `r` for ECAM, null for ports 0xCF8/0xCFC.
 *  Unit tests call it; the kernel lets configure() ask ACPI. */
export function useEcam(r: EcamRegion | null): void {
  ecam = r;
  configured = true;
}

/** From ACPI's MCFG: the segment 0 region that starts at bus 0 and lies inside
 *  the loader's 0..4 GiB identity map (an access beyond it would fault). */
function configure(): void {
  configured = true;
  const boot = bootInfo();
  announce = !boot.cmdline.has("quiet");
  if (boot.cmdline.has("pci.ports")) return;             // force the legacy mechanism
  const regions = acpiInfo(boot).ecam;
  for (let i = 0; i < regions.length; i++) {
    const r = regions[i];
    if (r.segment == 0 && r.startBus == 0 && r.base + r.size() <= 0x100000000) { ecam = r; return; }
  }
}

/** "ECAM at 0xb0000000 segment 0 buses 0-255 (ACPI MCFG)" or "ports 0xcf8/0xcfc". */
export function pciConfigAccess(): string {
  if (!configured) configure();
  const r = ecam;
  return r !== null ? "ECAM at " + r.toString() + " (ACPI MCFG)" : "ports 0xcf8/0xcfc";
}

/** The ECAM address for a function's register, or 0 to use the ports. */
// @ts-ignore: decorator
@inline
function ecamAt(bus: u32, dev: u32, fn: u32, off: u32): u64 {
  if (!configured) configure();
  const r = ecam;
  return r !== null && r.covers(bus) ? r.address(bus, dev, fn, off) : 0;
}

export function configRead32(bus: u32, dev: u32, fn: u32, off: u32): u32 {
  const a = ecamAt(bus, dev, fn, off & 0xffc);
  if (a != 0) return mmio_read32(a);
  outl(CONFIG_ADDRESS, address(bus, dev, fn, off));
  return inl(CONFIG_DATA);
}
export function configRead16(bus: u32, dev: u32, fn: u32, off: u32): u32 {
  const a = ecamAt(bus, dev, fn, off & 0xffe);
  if (a != 0) return mmio_read16(a);
  outl(CONFIG_ADDRESS, address(bus, dev, fn, off));
  return inw(CONFIG_DATA + (off & 2));
}
export function configRead8(bus: u32, dev: u32, fn: u32, off: u32): u32 {
  const a = ecamAt(bus, dev, fn, off);
  if (a != 0) return mmio_read8(a);
  outl(CONFIG_ADDRESS, address(bus, dev, fn, off));
  return inb(CONFIG_DATA + (off & 3));
}
export function configWrite32(bus: u32, dev: u32, fn: u32, off: u32, v: u32): void {
  const a = ecamAt(bus, dev, fn, off & 0xffc);
  if (a != 0) { mmio_write32(a, v); return; }
  outl(CONFIG_ADDRESS, address(bus, dev, fn, off));
  outl(CONFIG_DATA, v);
}
export function configWrite16(bus: u32, dev: u32, fn: u32, off: u32, v: u32): void {
  const a = ecamAt(bus, dev, fn, off & 0xffe);
  if (a != 0) { mmio_write16(a, v); return; }
  outl(CONFIG_ADDRESS, address(bus, dev, fn, off));
  outw(CONFIG_DATA + (off & 2), v);
}

export class Bar {
  /** Physical (memory) or port (I/O) address; 0 when unassigned. */
  base: u64 = 0;
  size: u64 = 0;
  isIo: bool = false;
  is64: bool = false;
  prefetchable: bool = false;
}

export class PciDevice {
  vendor: u32 = 0;
  device: u32 = 0;
  classCode: u32 = 0;   // class << 16 | subclass << 8 | prog-if
  headerType: u32 = 0;
  subsystemId: u32 = 0;
  bars: Bar[] = [];
  irqLine: u32 = 0xff;
  irqPin: u32 = 0;

  constructor(public bus: u32, public dev: u32, public fn: u32) {}

  read32(off: u32): u32 { return configRead32(this.bus, this.dev, this.fn, off); }
  read16(off: u32): u32 { return configRead16(this.bus, this.dev, this.fn, off); }
  read8(off: u32): u32 { return configRead8(this.bus, this.dev, this.fn, off); }
  write32(off: u32, v: u32): void { configWrite32(this.bus, this.dev, this.fn, off, v); }
  write16(off: u32, v: u32): void { configWrite16(this.bus, this.dev, this.fn, off, v); }

  /** "00:03.0" */
  address(): string {
    return hex2(this.bus) + ":" + hex2(this.dev) + "." + this.fn.toString();
  }

  enable(bits: u32): void {
    this.write16(PCI_COMMAND, this.read16(PCI_COMMAND) | bits);
  }
  disable(bits: u32): void {
    this.write16(PCI_COMMAND, this.read16(PCI_COMMAND) & ~bits);
  }

  /** Config-space offsets of every capability with this id, in list order.
   *  Bounded: a looping list ends after 48 entries (PCI 3.0 §6.7). */
  capabilities(id: u8): u32[] {
    const out = new Array<u32>();
    if ((this.read16(PCI_STATUS) & STATUS_CAP_LIST) == 0) return out;
    let p = this.read8(PCI_CAP_PTR) & 0xfc;
    for (let n = 0; n < 48 && p >= 0x40; n++) {
      if (<u8>this.read8(p) == id) out.push(p);
      p = this.read8(p + 1) & 0xfc;
    }
    return out;
  }
}

function hex2(v: u32): string {
  const s = v.toString(16);
  return s.length < 2 ? "0" + s : s;
}

/** Reads and sizes the six BARs of a type 0 header (PCI 3.0 §6.2.5.1):
 *  decoding is turned off while all-ones is written, then restored. */
function readBars(d: PciDevice): void {
  const cmd = d.read16(PCI_COMMAND);
  d.write16(PCI_COMMAND, cmd & ~(CMD_IO | CMD_MEMORY));
  for (let i: u32 = 0; i < 6; i++) {
    const off = PCI_BAR0 + 4 * i;
    const b = new Bar();
    const orig = d.read32(off);
    d.write32(off, 0xffffffff);
    const mask = d.read32(off);
    d.write32(off, orig);
    if ((orig & 1) != 0) {
      b.isIo = true;
      b.base = <u64>(orig & 0xfffffffc);
      const m = mask & 0xfffffffc;
      b.size = m == 0 ? 0 : <u64>((~m + 1) & 0xffff);
    } else {
      b.is64 = ((orig >> 1) & 3) == 2;
      b.prefetchable = (orig & 8) != 0;
      let base = <u64>(orig & 0xfffffff0);
      let m = <u64>(mask & 0xfffffff0);
      if (b.is64 && i < 5) {
        const hiOff = off + 4;
        const hiOrig = d.read32(hiOff);
        d.write32(hiOff, 0xffffffff);
        const hiMask = d.read32(hiOff);
        d.write32(hiOff, hiOrig);
        base |= <u64>hiOrig << 32;
        m |= <u64>hiMask << 32;
      } else if (m != 0) {
        m |= 0xffffffff00000000;
      }
      b.base = base;
      b.size = m == 0 ? 0 : ~m + 1;
    }
    d.bars.push(b);
    if (b.is64 && i < 5) {
      d.bars.push(new Bar());   // the upper half occupies the next slot
      i++;
    }
  }
  d.write16(PCI_COMMAND, cmd);
}

// @ts-ignore: decorator
@lazy
const found = new Array<PciDevice>();
let scanned = false;

function scanBus(bus: u32, depth: i32): void {
  if (depth > 8) return;
  for (let dev: u32 = 0; dev < 32; dev++) {
    let fns: u32 = 1;
    for (let fn: u32 = 0; fn < fns; fn++) {
      const id = configRead32(bus, dev, fn, PCI_VENDOR_ID);
      const vendor = id & 0xffff;
      if (vendor == 0xffff || vendor == 0) continue;
      const d = new PciDevice(bus, dev, fn);
      d.vendor = vendor;
      d.device = id >> 16;
      d.classCode = d.read32(PCI_CLASS_REVISION) >> 8;
      d.headerType = d.read8(PCI_HEADER_TYPE);
      if (fn == 0 && (d.headerType & 0x80) != 0) fns = 8;
      const type = d.headerType & 0x7f;
      if (type == 0) {
        d.subsystemId = d.read16(PCI_SUBSYSTEM_ID);
        d.irqLine = d.read8(PCI_INTERRUPT_LINE);
        d.irqPin = d.read8(PCI_INTERRUPT_PIN);
        readBars(d);
      }
      found.push(d);
      // A PCI-to-PCI bridge: its secondary bus holds more devices.
      if (type == 1) {
        const sec = d.read8(PCI_SECONDARY_BUS);
        if (sec > bus) scanBus(sec, depth + 1);
      }
    }
  }
}

/** Every function on every bus reachable from bus 0 (enumerated once). */
export function pciDevices(): PciDevice[] {
  if (!scanned) {
    scanned = true;
    // No host bridge answering at 00:00.0 means no PCI (microvm): skip the scan.
    const id = configRead32(0, 0, 0, PCI_VENDOR_ID);
    if ((id & 0xffff) != 0xffff && (id & 0xffff) != 0) scanBus(0, 0);
    if (announce && found.length > 0) {
      println("pci: " + found.length.toString() + " functions, configuration space through " + pciConfigAccess());
    }
  }
  return found;
}

/** The MSI-X capability (PCIe Base §7.7.2): table in a BAR, one 16-byte entry
 *  per vector: message address lo/hi, data, vector control (bit 0 masked). */
export class MsiX {
  cap: u32 = 0;
  tableSize: u32 = 0;
  table: u64 = 0;

  constructor(public dev: PciDevice) {}

  /** Finds and locates the table; null when absent or its BAR is unusable. */
  static find(d: PciDevice): MsiX | null {
    const caps = d.capabilities(CAP_MSIX);
    if (caps.length == 0) return null;
    const m = new MsiX(d);
    m.cap = caps[0];
    const ctrl = d.read16(m.cap + 2);
    m.tableSize = (ctrl & 0x7ff) + 1;
    const t = d.read32(m.cap + 4);
    const bir = t & 7;
    if (bir >= <u32>d.bars.length) return null;
    const bar = d.bars[bir];
    if (bar.isIo || bar.base == 0 || bar.base >= 0x100000000) return null;
    m.table = bar.base + <u64>(t & ~7);
    return m;
  }

  setEntry(i: u32, addr: u64, data: u32): void {
    const e = this.table + <u64>(16 * i);
    mmio_write32(e + 12, 1);            // mask while changing
    mmio_write32(e, <u32>addr);
    mmio_write32(e + 4, <u32>(addr >> 32));
    mmio_write32(e + 8, data);
    mmio_write32(e + 12, 0);            // unmask
  }

  maskEntry(i: u32): void {
    mmio_write32(this.table + <u64>(16 * i) + 12, 1);
  }

  entryMasked(i: u32): bool {
    return (mmio_read32(this.table + <u64>(16 * i) + 12) & 1) != 0;
  }

  /** Message control bit 15: MSI-X Enable; bit 14: Function Mask. */
  enable(): void {
    const ctrl = this.dev.read16(this.cap + 2);
    this.dev.write16(this.cap + 2, (ctrl | 0x8000) & ~0x4000);
    this.dev.enable(CMD_INTX_DISABLE);
  }
  disable(): void {
    const ctrl = this.dev.read16(this.cap + 2);
    this.dev.write16(this.cap + 2, ctrl & ~0x8000);
  }
}
