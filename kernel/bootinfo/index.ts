// kernel/bootinfo/index.ts — what the boot protocol told us: command line,
// physical memory map, ACPI RSDP. Parsed from PVH's hvm_start_info (Xen
// arch-x86/hvm/start_info.h) or Multiboot2's tag list (Multiboot2 spec §3.6),
// read out of physical memory through the phys_read host import. The structures
// come from the hypervisor or boot loader, but are still checked: a bad length
// or count truncates what we read, it never aborts the kernel.
import { boot_protocol, boot_info, phys_read } from "../platform";
import { MemRegion, MAX_MEMMAP_ENTRIES } from "./memmap";
import { Cmdline, MAX_CMDLINE } from "./cmdline";

export * from "./memmap";
export * from "./cmdline";

export const BOOT_UNKNOWN: u32 = 0;
export const BOOT_PVH: u32 = 1;
export const BOOT_MULTIBOOT2: u32 = 2;

const PVH_MAGIC: u32 = 0x336ec578;
const MB2_TAG_END: u32 = 0;
const MB2_TAG_CMDLINE: u32 = 1;
const MB2_TAG_BOOTLOADER: u32 = 2;
const MB2_TAG_BASIC_MEMINFO: u32 = 4;
const MB2_TAG_MMAP: u32 = 6;
const MB2_TAG_ACPI_OLD: u32 = 14;
const MB2_TAG_ACPI_NEW: u32 = 15;
/** Largest Multiboot2 info block we read. */
const MB2_MAX_INFO: u32 = 65536;

export class BootInfo {
  protocol: u32 = BOOT_UNKNOWN;
  cmdline: Cmdline = new Cmdline("");
  memmap: MemRegion[] = [];
  /** Physical address of the ACPI RSDP, or 0 (for Multiboot2: of our copy's source unknown,
   *  so rsdpCopy holds the bytes instead). */
  rsdp: u64 = 0;
  rsdpCopy: Uint8Array | null = null;
  bootloader: string = "";
  /** What went wrong while reading, for the boot log; empty when all was well. */
  problems: string[] = [];

  protocolName(): string {
    if (this.protocol == BOOT_PVH) return "PVH";
    if (this.protocol == BOOT_MULTIBOOT2) return "Multiboot2";
    return "unknown";
  }
}

/** Reads len bytes of physical memory, or null when the range is unreachable. */
export function readPhys(addr: u64, len: u32): Uint8Array | null {
  const buf = new Uint8Array(len);
  if (len == 0) return buf;
  if (phys_read(buf.dataStart, addr, len) != len) return null;
  return buf;
}

function u32At(b: Uint8Array, off: i32): u32 {
  if (off < 0 || off + 4 > b.length) return 0;
  return load<u32>(b.dataStart + <usize>off);
}
function u64At(b: Uint8Array, off: i32): u64 {
  if (off < 0 || off + 8 > b.length) return 0;
  return load<u64>(b.dataStart + <usize>off);
}

/** A NUL-terminated string at a physical address, at most MAX_CMDLINE bytes. */
export function readCString(addr: u64): string {
  if (addr == 0) return "";
  const chunk = readPhys(addr, <u32>MAX_CMDLINE);
  if (chunk === null) return "";
  let n = 0;
  while (n < chunk.length && chunk[n] != 0) n++;
  return String.UTF8.decode(chunk.buffer.slice(0, n));
}

export function parseBootInfo(protocol: u32, addr: u64): BootInfo {
  const info = new BootInfo();
  info.protocol = protocol;
  if (protocol == BOOT_PVH) parsePvh(info, addr);
  else if (protocol == BOOT_MULTIBOOT2) parseMultiboot2(info, addr);
  else info.problems.push("no boot information (neither PVH nor Multiboot2)");
  return info;
}

// struct hvm_start_info: magic u32 @0, version u32 @4, flags u32 @8,
// nr_modules u32 @12, modlist_paddr u64 @16, cmdline_paddr u64 @24,
// rsdp_paddr u64 @32; version >= 1: memmap_paddr u64 @40, memmap_entries u32 @48.
// struct hvm_memmap_table_entry: addr u64, size u64, type u32, reserved u32 (24 bytes).
function parsePvh(info: BootInfo, addr: u64): void {
  const si = readPhys(addr, 56);
  if (si === null || u32At(si, 0) != PVH_MAGIC) {
    info.problems.push("PVH start_info unreadable or bad magic");
    return;
  }
  const version = u32At(si, 4);
  info.cmdline = new Cmdline(readCString(u64At(si, 24)));
  info.rsdp = u64At(si, 32);
  info.bootloader = "PVH v" + version.toString();
  if (version < 1) {
    info.problems.push("PVH start_info version 0 carries no memory map");
    return;
  }
  let entries = u32At(si, 48);
  if (entries > <u32>MAX_MEMMAP_ENTRIES) {
    info.problems.push("PVH memory map has " + entries.toString() + " entries; reading " + MAX_MEMMAP_ENTRIES.toString());
    entries = MAX_MEMMAP_ENTRIES;
  }
  const table = readPhys(u64At(si, 40), entries * 24);
  if (table === null) {
    info.problems.push("PVH memory map unreadable");
    return;
  }
  for (let i: i32 = 0; i < <i32>entries; i++) {
    const o = i * 24;
    const len = u64At(table, o + 8);
    if (len == 0) continue;
    info.memmap.push(new MemRegion(u64At(table, o), len, u32At(table, o + 16)));
  }
}

// Multiboot2 info: total_size u32 @0, reserved u32 @4, then tags from @8, each
// type u32, size u32, payload; tags start 8-aligned; type 0 ends the list.
function parseMultiboot2(info: BootInfo, addr: u64): void {
  const head = readPhys(addr, 8);
  if (head === null) {
    info.problems.push("Multiboot2 info unreadable");
    return;
  }
  let total = u32At(head, 0);
  if (total < 16 || total > MB2_MAX_INFO) {
    info.problems.push("Multiboot2 info size " + total.toString() + " out of range");
    total = total < 16 ? 16 : MB2_MAX_INFO;
  }
  const b = readPhys(addr, total);
  if (b === null) {
    info.problems.push("Multiboot2 info unreadable");
    return;
  }
  let off = 8;
  let basicUpperKiB: u32 = 0;
  let sawMmap = false;
  while (off + 8 <= b.length) {
    const type = u32At(b, off);
    const size = u32At(b, off + 4);
    if (type == MB2_TAG_END) break;
    if (size < 8 || off + <i32>size > b.length) {
      info.problems.push("Multiboot2 tag " + type.toString() + " has bad size " + size.toString());
      break;
    }
    if (type == MB2_TAG_CMDLINE) {
      info.cmdline = new Cmdline(cString(b, off + 8, off + <i32>size));
    } else if (type == MB2_TAG_BOOTLOADER) {
      info.bootloader = cString(b, off + 8, off + <i32>size);
    } else if (type == MB2_TAG_BASIC_MEMINFO) {
      basicUpperKiB = u32At(b, off + 12);
    } else if (type == MB2_TAG_MMAP) {
      const entrySize = <i32>u32At(b, off + 8);
      if (entrySize < 24) {
        info.problems.push("Multiboot2 memory map entry size " + entrySize.toString());
      } else {
        sawMmap = true;
        let e = off + 16;
        while (e + 24 <= off + <i32>size && info.memmap.length < MAX_MEMMAP_ENTRIES) {
          const len = u64At(b, e + 8);
          if (len != 0) info.memmap.push(new MemRegion(u64At(b, e), len, u32At(b, e + 16)));
          e += entrySize;
        }
      }
    } else if (type == MB2_TAG_ACPI_OLD || type == MB2_TAG_ACPI_NEW) {
      info.rsdpCopy = Uint8Array.wrap(b.buffer.slice(off + 8, off + <i32>size));
    }
    off += (<i32>size + 7) & ~7;
  }
  if (!sawMmap && basicUpperKiB != 0) {
    // Fall back to basic meminfo: RAM from 1 MiB up.
    info.memmap.push(new MemRegion(0x100000, <u64>basicUpperKiB * 1024, 1));
  }
}

function cString(b: Uint8Array, from: i32, to: i32): string {
  let end = from;
  while (end < to && b[end] != 0) end++;
  return String.UTF8.decode(b.buffer.slice(from, end));
}

let current: BootInfo | null = null;

/** Parses the boot information once; later calls return the same object. */
export function bootInfo(): BootInfo {
  let c = current;
  if (c === null) {
    c = parseBootInfo(boot_protocol(), boot_info());
    current = c;
  }
  return c;
}
