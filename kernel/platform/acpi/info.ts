// kernel/platform/acpi/info.ts — what the kernel takes from ACPI, parsed once: the
// RSDT/XSDT's tables, the MADT (madt.ts), the HPET table (IA-PC HPET spec
// §3.2.4), the MCFG (mcfg.ts) and where the DSDT is (dsdt.ts scans it).
// Tables come from firmware but are still checked: bad lengths or checksums
// make us skip a table, never read out of bounds or abort.
import { readPhys, BootInfo } from "../bootinfo";
import { println } from "../../core/console";
import { u8At, u32At, u64At, signature } from "./bytes";
import { isRsdp, scanForRsdp, readTable, MAX_TABLES } from "./tables";
import { Madt, parseMadt } from "./madt";
import { EcamRegion, parseMcfg } from "./mcfg";

export class AcpiInfo {
  rsdpAddress: u64 = 0;
  revision: u32 = 0;
  /** Signatures of every table found, for the boot log. */
  tables: string[] = [];
  madt: Madt | null = null;
  hpetAddress: u64 = 0;
  /** MCFG: memory-mapped PCI configuration space, per segment and bus range. */
  ecam: EcamRegion[] = [];
  /** Physical address of the DSDT (from the FADT), or 0. */
  dsdtAddress: u64 = 0;
  problems: string[] = [];
}

/** The FADT's DSDT address: X_DSDT (u64 @140, ACPI 2.0+) when set, else DSDT (u32 @40). */
function fadtDsdt(t: Uint8Array): u64 {
  const x: u64 = t.length >= 148 ? u64At(t, 140) : 0;
  return x != 0 ? x : <u64>u32At(t, 40);
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
    const s = signature(t, 0, 4);
    info.tables.push(s);
    if (s == "APIC") info.madt = parseMadt(t);
    else if (s == "HPET" && t.length >= 56 && u8At(t, 40) == 0) info.hpetAddress = u64At(t, 44);
    else if (s == "MCFG") info.ecam = parseMcfg(t, info.problems);
    else if (s == "FACP") info.dsdtAddress = fadtDsdt(t);
  }
  return info;
}

// @ts-ignore: decorator
@lazy
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
