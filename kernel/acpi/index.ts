// kernel/acpi/index.ts — just enough ACPI to find interrupt hardware: the RSDP
// (from the boot information, else the BIOS area scan of ACPI 6.5 §5.2.5.1),
// the RSDT/XSDT, the MADT (§5.2.12: local APIC address, I/O APICs, interrupt
// source overrides), the HPET table (IA-PC HPET spec §3.2.4) and the MCFG
// (PCI Firmware spec §4.1.2: where ECAM configuration space is; mcfg.ts).
// Tables come from firmware but are still checked: bad lengths or checksums
// make us skip a table, never read out of bounds or abort.
import { readPhys } from "../bootinfo";
import { BootInfo } from "../bootinfo";
import { println } from "../console";
import { EcamRegion, parseMcfg } from "./mcfg";

export { EcamRegion, parseMcfg } from "./mcfg";

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

export class AcpiInfo {
  rsdpAddress: u64 = 0;
  revision: u32 = 0;
  /** Signatures of every table found, for the boot log. */
  tables: string[] = [];
  madt: Madt | null = null;
  hpetAddress: u64 = 0;
  /** MCFG: memory-mapped PCI configuration space, per segment and bus range. */
  ecam: EcamRegion[] = [];
  problems: string[] = [];
}

function u8At(b: Uint8Array, o: i32): u32 { return o >= 0 && o < b.length ? <u32>unchecked(b[o]) : 0; }
function u16At(b: Uint8Array, o: i32): u32 { return u8At(b, o) | (u8At(b, o + 1) << 8); }
function u32At(b: Uint8Array, o: i32): u32 { return u16At(b, o) | (u16At(b, o + 2) << 16); }
function u64At(b: Uint8Array, o: i32): u64 { return <u64>u32At(b, o) | (<u64>u32At(b, o + 4) << 32); }

function sum(b: Uint8Array, len: i32): u32 {
  let s: u32 = 0;
  for (let i = 0; i < len && i < b.length; i++) s += unchecked(b[i]);
  return s & 0xff;
}

function sig(b: Uint8Array, o: i32, n: i32): string {
  let s = "";
  for (let i = 0; i < n; i++) {
    const c = u8At(b, o + i);
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : "?";
  }
  return s;
}

const MAX_TABLE: u32 = 1 << 20;
const MAX_TABLES: i32 = 64;

/** Checks "RSD PTR " and the ACPI 1.0 checksum of a 20+ byte candidate. */
export function isRsdp(b: Uint8Array): bool {
  return b.length >= 20 && sig(b, 0, 8) == "RSD PTR " && sum(b, 20) == 0;
}

/** Scans the first KiB of the EBDA and 0xE0000..0xFFFFF on 16-byte boundaries. */
function scanForRsdp(): u64 {
  const ebdaSeg = readPhys(0x40e, 2);
  if (ebdaSeg !== null) {
    const ebda = <u64>u16At(ebdaSeg, 0) << 4;
    if (ebda >= 0x80000 && ebda < 0xa0000) {
      const found = scanRange(ebda, 1024);
      if (found != 0) return found;
    }
  }
  return scanRange(0xe0000, 0x20000);
}

function scanRange(start: u64, len: u32): u64 {
  const b = readPhys(start, len);
  if (b === null) return 0;
  for (let o = 0; o + 20 <= b.length; o += 16) {
    if (u32At(b, o) == 0x20445352 && u32At(b, o + 4) == 0x20525450) {   // "RSD " "PTR "
      if (sum(b.subarray(o, o + 20), 20) == 0) return start + <u64>o;
    }
  }
  return 0;
}

/** Reads one system description table with its header checked; null if bad. */
export function readTable(addr: u64, problems: string[]): Uint8Array | null {
  const head = readPhys(addr, 36);
  if (head === null) return null;
  const len = u32At(head, 4);
  if (len < 36 || len > MAX_TABLE) {
    problems.push("ACPI table at 0x" + addr.toString(16) + " has length " + len.toString());
    return null;
  }
  const t = readPhys(addr, len);
  if (t === null) return null;
  if (sum(t, <i32>len) != 0) {
    problems.push("ACPI table " + sig(t, 0, 4) + " checksum bad");
    return null;
  }
  return t;
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

/** Finds and parses the tables; rsdpAt = 0 means "search for it". */
export function parseAcpi(rsdpAt: u64, rsdpCopy: Uint8Array | null): AcpiInfo {
  const info = new AcpiInfo();
  let rsdp: Uint8Array | null = null;
  if (rsdpCopy !== null && isRsdp(rsdpCopy)) {
    rsdp = rsdpCopy;
  } else {
    let at = rsdpAt;
    if (at == 0) at = scanForRsdp();
    if (at == 0) return info;
    rsdp = readPhys(at, 36);
    if (rsdp === null || !isRsdp(rsdp)) {
      info.problems.push("no valid RSDP at 0x" + at.toString(16));
      return info;
    }
    info.rsdpAddress = at;
  }
  info.revision = u8At(rsdp, 15);
  // Prefer the XSDT (64-bit entries) when revision >= 2 gives one.
  let useX = false;
  let root: u64 = <u64>u32At(rsdp, 16);
  if (info.revision >= 2 && rsdp.length >= 36) {
    const x = u64At(rsdp, 24);
    if (x != 0) { root = x; useX = true; }
  }
  const rt = readTable(root, info.problems);
  if (rt === null) {
    info.problems.push("ACPI root table unreadable");
    return info;
  }
  const step = useX ? 8 : 4;
  const n = min((rt.length - 36) / step, MAX_TABLES);
  for (let i = 0; i < n; i++) {
    const o = 36 + i * step;
    const addr = useX ? u64At(rt, o) : <u64>u32At(rt, o);
    const t = readTable(addr, info.problems);
    if (t === null) continue;
    const s = sig(t, 0, 4);
    info.tables.push(s);
    if (s == "APIC") info.madt = parseMadt(t);
    else if (s == "HPET" && t.length >= 56 && u8At(t, 40) == 0) info.hpetAddress = u64At(t, 44);
    else if (s == "MCFG") info.ecam = parseMcfg(t, info.problems);
  }
  return info;
}

let current: AcpiInfo | null = null;

/** Parses ACPI once from the boot information. `acpi=off` on the command
 *  line skips it (as Linux does). */
export function acpiInfo(boot: BootInfo): AcpiInfo {
  if (current === null) {
    const off = boot.cmdline.get("acpi") == "off";
    const info = off ? new AcpiInfo() : parseAcpi(boot.rsdp, boot.rsdpCopy);
    current = info;
    if (!boot.cmdline.has("quiet")) for (let i = 0; i < info.problems.length; i++) println("acpi: " + info.problems[i]);
  }
  return current!;
}
