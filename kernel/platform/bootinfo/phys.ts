// kernel/platform/bootinfo/phys.ts — reading physical memory below 4 GiB into a new
// array (firmware tables: kernel/platform/acpi), through the phys_read host import.
import { phys_read } from "..";

/** Reads len bytes of physical memory, or null when the range is unreadable. */
export function readPhys(addr: u64, len: u32): Uint8Array | null {
  const buf = new Uint8Array(len);
  if (len == 0) return buf;
  if (phys_read(buf.dataStart, addr, len) != len) return null;
  return buf;
}
