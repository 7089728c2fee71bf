// kernel/platform/acpi/tables.ts — finding the RSDP (the boot information's, else the
// BIOS area scan of ACPI 6.5 §5.2.5.1) and reading one system description
// table with its length and checksum checked (§5.2.6).
import { readPhys } from "../bootinfo";
import { u16At, u32At, checksum, signature } from "./bytes";

export const MAX_TABLE: u32 = 1 << 20;
export const MAX_TABLES: i32 = 64;

/** Checks "RSD PTR " and the ACPI 1.0 checksum of a 20+ byte candidate. */
export function isRsdp(b: Uint8Array): bool {
  return b.length >= 20 && signature(b, 0, 8) == "RSD PTR " && checksum(b, 20) == 0;
}

/** Scans the first KiB of the EBDA and 0xE0000..0xFFFFF on 16-byte boundaries. */
export function scanForRsdp(): u64 {
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
      if (checksum(b.subarray(o, o + 20), 20) == 0) return start + <u64>o;
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
  if (checksum(t, <i32>len) != 0) {
    problems.push("ACPI table " + signature(t, 0, 4) + " checksum bad");
    return null;
  }
  return t;
}

