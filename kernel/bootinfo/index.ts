// kernel/bootinfo/index.ts — what the boot protocol told us: command line,
// physical memory map, ACPI RSDP. Parsed from PVH's hvm_start_info (Xen
// arch-x86/hvm/start_info.h) or Multiboot2's tag list (Multiboot2 spec §3.6),
// read out of physical memory through the phys_read host import. The structures
// come from the hypervisor or boot loader, but are still checked: a bad length
// or count truncates what we read, it never aborts the kernel.
//
// Two layers. readBootRaw() copies what matters into static buffers without
// allocating — the boot path runs before anything has touched the heap, and
// under TCG every distinct line of code run at boot costs translation time —
// and the kernel's own boot decisions (quiet, the RAM bound) read those
// buffers. bootInfo() builds the objects apps use (strings, arrays) from them
// on first call.
import { boot_protocol, boot_info, phys_read } from "../platform";
import { MemRegion, MAX_MEMMAP_ENTRIES, MEM_RAM } from "./memmap";
import { Cmdline, MAX_CMDLINE, wordsHave } from "./cmdline";
import { BOOT_UNKNOWN, BOOT_PVH, BOOT_MULTIBOOT2, protocolName } from "./protocol";

export * from "./memmap";
export * from "./cmdline";
export * from "./protocol";

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
  /** Physical address of the ACPI RSDP, or 0 (for Multiboot2: of our copy's source unknown,
   *  so rsdpCopy holds the bytes instead). */
  rsdp: u64 = 0;
  rsdpCopy: Uint8Array | null = null;
  bootloader: string = "";
  /** Set for the object bootInfo() returns: the lists below are then built
   *  from the boot-time buffers on first access (an app that only prints
   *  the command line never builds the memory map). Not for apps. */
  rawBacked: bool = false;
  private cmdlineObj: Cmdline | null = null;
  private memmapList: MemRegion[] | null = null;
  private problemList: string[] | null = null;

  get cmdline(): Cmdline {
    let c = this.cmdlineObj;
    if (c === null) {
      c = new Cmdline(this.rawBacked ? cmdline() : "");
      this.cmdlineObj = c;
    }
    return c;
  }
  set cmdline(c: Cmdline) { this.cmdlineObj = c; }

  get memmap(): MemRegion[] {
    let m = this.memmapList;
    if (m === null) {
      m = new Array<MemRegion>();
      if (this.rawBacked) {
        for (let i = 0; i < mapCount; i++) m.push(new MemRegion(memmapBase(i), memmapLength(i), memmapType(i)));
      }
      this.memmapList = m;
    }
    return m;
  }
  set memmap(m: MemRegion[]) { this.memmapList = m; }

  /** What went wrong while reading, for the boot log; empty when all was well. */
  get problems(): string[] {
    let p = this.problemList;
    if (p === null) {
      p = new Array<string>();
      if (this.rawBacked) {
        for (let i = 0; i < problemCount; i++) {
          const at = problemBuf + <usize>i * 24;
          p.push(problemText(load<u64>(at), load<u64>(at, 8), load<u64>(at, 16)));
        }
      }
      this.problemList = p;
    }
    return p;
  }
  set problems(p: string[]) { this.problemList = p; }

  protocolName(): string {
    return protocolName(this.protocol);
  }
}

/** Reads len bytes of physical memory, or null when the range is unreachable. */
export function readPhys(addr: u64, len: u32): Uint8Array | null {
  const buf = new Uint8Array(len);
  if (len == 0) return buf;
  if (phys_read(buf.dataStart, addr, len) != len) return null;
  return buf;
}

// --- the raw layer: static buffers, no allocation --------------------------

/** Bytes of one memory-map entry as stored: base u64, length u64, type u32, pad. */
const ENTRY_BYTES: i32 = 24;
/** Largest RSDP copy kept from a Multiboot2 ACPI tag (v2 RSDP is 36 bytes). */
const RSDP_COPY_MAX: i32 = 64;
const NAME_MAX: i32 = 64;
const PROBLEMS_MAX: i32 = 8;

const scratch: usize = memory.data(64);
const cmdBuf: usize = memory.data(MAX_CMDLINE);
const mapBuf: usize = memory.data(MAX_MEMMAP_ENTRIES * ENTRY_BYTES);
const rsdpBuf: usize = memory.data(RSDP_COPY_MAX);
const nameBuf: usize = memory.data(NAME_MAX);
/** Problems as (kind, a, b) triples of u64, turned into text by bootInfo(). */
const problemBuf: usize = memory.data(PROBLEMS_MAX * 24);

let rawRead = false;
let rawProtocol: u32 = BOOT_UNKNOWN;
let cmdLen: i32 = 0;
let mapCount: i32 = 0;
let rsdpAddr: u64 = 0;
let rsdpLen: i32 = 0;
let nameLen: i32 = 0;
let pvhVersion: i32 = -1;
let problemCount: i32 = 0;

const P_NO_INFO: u64 = 1;
const P_PVH_BAD: u64 = 2;
const P_PVH_V0: u64 = 3;
const P_PVH_MAP_CAPPED: u64 = 4;
const P_PVH_MAP_UNREADABLE: u64 = 5;
const P_MB2_UNREADABLE: u64 = 6;
const P_MB2_SIZE: u64 = 7;
const P_MB2_TAG_SIZE: u64 = 8;
const P_MB2_ENTRY_SIZE: u64 = 9;

function problem(kind: u64, a: u64 = 0, b: u64 = 0): void {
  if (problemCount == PROBLEMS_MAX) return;
  const p = problemBuf + <usize>problemCount * 24;
  store<u64>(p, kind);
  store<u64>(p, a, 8);
  store<u64>(p, b, 16);
  problemCount++;
}

function problemText(kind: u64, a: u64, b: u64): string {
  switch (<i32>kind) {
    case <i32>P_NO_INFO: return "no boot information (neither PVH nor Multiboot2)";
    case <i32>P_PVH_BAD: return "PVH start_info unreadable or bad magic";
    case <i32>P_PVH_V0: return "PVH start_info version 0 carries no memory map";
    case <i32>P_PVH_MAP_CAPPED: return "PVH memory map has " + a.toString() + " entries; reading " + MAX_MEMMAP_ENTRIES.toString();
    case <i32>P_PVH_MAP_UNREADABLE: return "PVH memory map unreadable";
    case <i32>P_MB2_UNREADABLE: return "Multiboot2 info unreadable";
    case <i32>P_MB2_SIZE: return "Multiboot2 info size " + a.toString() + " out of range";
    case <i32>P_MB2_TAG_SIZE: return "Multiboot2 tag " + a.toString() + " has bad size " + b.toString();
    case <i32>P_MB2_ENTRY_SIZE: return "Multiboot2 memory map entry size " + a.toString();
    default: return "problem " + kind.toString();
  }
}

/** Reads u32/u64 at a physical address through the scratch buffer; 0 if unreachable. */
function phys32(addr: u64): u32 {
  return phys_read(scratch, addr, 4) == 4 ? load<u32>(scratch) : 0;
}
function phys64(addr: u64): u64 {
  return phys_read(scratch, addr, 8) == 8 ? load<u64>(scratch) : 0;
}

function addRegion(base: u64, length: u64, type: u32): void {
  if (length == 0 || mapCount == MAX_MEMMAP_ENTRIES) return;
  const e = mapBuf + <usize>mapCount * ENTRY_BYTES;
  store<u64>(e, base);
  store<u64>(e, length, 8);
  store<u32>(e, type, 16);
  mapCount++;
}

/** Copies max bytes from physical memory into buf (one host call) and
 *  returns the length of the NUL-terminated string there; 0 when the window
 *  is unreadable. */
function copyCString(buf: usize, max: i32, addr: u64): i32 {
  if (addr == 0 || max <= 0 || phys_read(buf, addr, <u32>max) != <u32>max) return 0;
  let n = 0;
  while (n < max && load<u8>(buf + <usize>n) != 0) n++;
  return n;
}

/** Reads the boot information the loader was handed into the static buffers.
 *  Allocates nothing. Later calls with the same arguments do nothing. */
export function readBootRaw(protocol: u32, addr: u64): void {
  rawRead = true;
  rawProtocol = protocol;
  cmdlineText = null;
  cmdLen = 0; mapCount = 0; rsdpAddr = 0; rsdpLen = 0; nameLen = 0; pvhVersion = -1; problemCount = 0;
  if (protocol == BOOT_PVH) readPvh(addr);
  else if (protocol == BOOT_MULTIBOOT2) readMultiboot2(addr);
  else problem(P_NO_INFO);
}

// struct hvm_start_info: magic u32 @0, version u32 @4, flags u32 @8,
// nr_modules u32 @12, modlist_paddr u64 @16, cmdline_paddr u64 @24,
// rsdp_paddr u64 @32; version >= 1: memmap_paddr u64 @40, memmap_entries u32 @48.
// struct hvm_memmap_table_entry: addr u64, size u64, type u32, reserved u32 (24 bytes).
function readPvh(addr: u64): void {
  if (phys_read(scratch, addr, 56) != 56 || load<u32>(scratch) != PVH_MAGIC) {
    problem(P_PVH_BAD);
    return;
  }
  const version = load<u32>(scratch, 4);
  const cmdAt = load<u64>(scratch, 24);
  rsdpAddr = load<u64>(scratch, 32);
  const mapAt = load<u64>(scratch, 40);
  let entries = load<u32>(scratch, 48);
  pvhVersion = <i32>min(version, 0x7fffffff);
  cmdLen = copyCString(cmdBuf, MAX_CMDLINE, cmdAt);
  if (version < 1) {
    problem(P_PVH_V0);
    return;
  }
  if (entries > <u32>MAX_MEMMAP_ENTRIES) {
    problem(P_PVH_MAP_CAPPED, entries);
    entries = MAX_MEMMAP_ENTRIES;
  }
  // The table has our entry layout: read it in place, then drop empty entries.
  if (entries > 0 && phys_read(mapBuf, mapAt, entries * ENTRY_BYTES) != entries * ENTRY_BYTES) {
    problem(P_PVH_MAP_UNREADABLE);
    return;
  }
  for (let i: i32 = 0; i < <i32>entries; i++) {
    const e = mapBuf + <usize>i * ENTRY_BYTES;
    addRegion(load<u64>(e), load<u64>(e, 8), load<u32>(e, 16));   // compacts: mapCount <= i
  }
}

// Multiboot2 info: total_size u32 @0, reserved u32 @4, then tags from @8, each
// type u32, size u32, payload; tags start 8-aligned; type 0 ends the list.
// Read tag by tag straight from physical memory (the block may be 64 KiB).
function readMultiboot2(addr: u64): void {
  if (phys_read(scratch, addr, 8) != 8) {
    problem(P_MB2_UNREADABLE);
    return;
  }
  let total = load<u32>(scratch);
  if (total < 16 || total > MB2_MAX_INFO) {
    problem(P_MB2_SIZE, total);
    total = total < 16 ? 16 : MB2_MAX_INFO;
  }
  if (phys_read(scratch, addr + <u64>total - 1, 1) != 1) {
    problem(P_MB2_UNREADABLE);
    return;
  }
  let off: u32 = 8;
  let basicUpperKiB: u32 = 0;
  let sawMmap = false;
  while (off + 8 <= total) {
    const tag = addr + <u64>off;
    const type = phys32(tag);
    const size = phys32(tag + 4);
    if (type == MB2_TAG_END) break;
    if (size < 8 || off + size > total) {
      problem(P_MB2_TAG_SIZE, type, size);
      break;
    }
    if (type == MB2_TAG_CMDLINE) {
      cmdLen = copyCString(cmdBuf, min(MAX_CMDLINE, <i32>size - 8), tag + 8);
    } else if (type == MB2_TAG_BOOTLOADER) {
      nameLen = copyCString(nameBuf, min(NAME_MAX, <i32>size - 8), tag + 8);
    } else if (type == MB2_TAG_BASIC_MEMINFO) {
      basicUpperKiB = phys32(tag + 12);
    } else if (type == MB2_TAG_MMAP) {
      const entrySize = phys32(tag + 8);
      if (entrySize < <u32>ENTRY_BYTES) {
        problem(P_MB2_ENTRY_SIZE, entrySize);
      } else {
        sawMmap = true;
        for (let e = off + 16; e + <u32>ENTRY_BYTES <= off + size && mapCount < MAX_MEMMAP_ENTRIES; e += entrySize) {
          addRegion(phys64(addr + <u64>e), phys64(addr + <u64>e + 8), phys32(addr + <u64>e + 16));
        }
      }
    } else if (type == MB2_TAG_ACPI_OLD || type == MB2_TAG_ACPI_NEW) {
      const n = min(<i32>size - 8, RSDP_COPY_MAX);
      rsdpLen = phys_read(rsdpBuf, tag + 8, <u32>n) == <u32>n ? n : 0;
    }
    off += (size + 7) & ~7;
  }
  if (!sawMmap && basicUpperKiB != 0) {
    // Fall back to basic meminfo: RAM from 1 MiB up.
    addRegion(0x100000, <u64>basicUpperKiB * 1024, MEM_RAM);
  }
}

/** The boot protocol (BOOT_PVH, BOOT_MULTIBOOT2 or BOOT_UNKNOWN). */
export function bootProtocol(): u32 {
  ensureRaw();
  return rawProtocol;
}

let cmdlineText: string | null = null;

/** The boot command line as given (decoded once). bootInfo().cmdline
 *  splits it into words. */
export function cmdline(): string {
  let t = cmdlineText;
  if (t === null) {
    ensureRaw();
    t = asciiOrUtf8(cmdBuf, cmdLen);
    cmdlineText = t;
  }
  return t;
}

/** The bytes as a string: widened directly when all are ASCII (the usual
 *  command line: no decoder, no over-allocation and shrink), else UTF-8. */
function asciiOrUtf8(ptr: usize, len: i32): string {
  let high: u32 = 0;
  for (let i = 0; i < len; i++) high |= load<u8>(ptr + <usize>i);
  if (high >= 0x80) return String.UTF8.decodeUnsafe(ptr, <usize>len);
  // @ts-ignore: __new is a runtime builtin asc provides
  const out = changetype<string>(__new(<usize>len << 1, idof<string>()));
  const o = changetype<usize>(out);
  for (let i = 0; i < len; i++) store<u16>(o + (<usize>i << 1), load<u8>(ptr + <usize>i));
  return out;
}

/** Whether the command line has `key` as a flag or `key=value`, without allocating. */
export function cmdlineHas(key: string): bool {
  ensureRaw();
  return wordsHave(cmdBuf, cmdLen, key);
}

/** Memory-map entries as read (empty ones dropped). */
export function memmapCount(): i32 { ensureRaw(); return mapCount; }
export function memmapBase(i: i32): u64 { return load<u64>(mapBuf + <usize>i * ENTRY_BYTES); }
export function memmapLength(i: i32): u64 { return load<u64>(mapBuf + <usize>i * ENTRY_BYTES, 8); }
export function memmapType(i: i32): u32 { return load<u32>(mapBuf + <usize>i * ENTRY_BYTES, 16); }

/** Replaces the memory map (tests and tools describing a machine). */
export function setMemmap(map: MemRegion[]): void {
  ensureRaw();
  mapCount = 0;
  for (let i = 0; i < map.length; i++) {
    const r = unchecked(map[i]);
    addRegion(r.base, r.length, r.type);
  }
}

/** Total bytes of usable RAM in the memory map. */
export function ramTotal(): u64 {
  ensureRaw();
  let total: u64 = 0;
  for (let i = 0; i < mapCount; i++) if (memmapType(i) == MEM_RAM) total += memmapLength(i);
  return total;
}

/** The end of the RAM region containing addr, or 0 if addr is not in RAM.
 *  Adjacent RAM regions are treated as one. */
export function ramEndFrom(addr: u64): u64 {
  ensureRaw();
  let end: u64 = 0;
  let grew = true;
  while (grew) {
    grew = false;
    for (let i = 0; i < mapCount; i++) {
      if (memmapType(i) != MEM_RAM) continue;
      const base = memmapBase(i), regionEnd = base + memmapLength(i);
      const probe = end == 0 ? addr : end;
      if (base <= probe && probe < regionEnd || (end != 0 && base == end)) {
        if (regionEnd > end) { end = regionEnd; grew = true; }
      }
    }
  }
  return end;
}

/** Problems met while reading; their text comes with bootInfo().problems. */
export function bootProblemCount(): i32 { ensureRaw(); return problemCount; }

// Inlined: the check is one load; a call per accessor would be two more
// translated blocks each on the boot path.
// @ts-ignore: decorator
@inline
function ensureRaw(): void {
  if (!rawRead) readOwnBootInfo();
}

function readOwnBootInfo(): void {
  readBootRaw(boot_protocol(), boot_info());
}

// --- the object layer --------------------------------------------------------

/** A BootInfo over the raw buffers; its lists are built on first access. */
function buildBootInfo(): BootInfo {
  ensureRaw();
  const info = new BootInfo();
  info.rawBacked = true;
  info.protocol = rawProtocol;
  info.rsdp = rsdpAddr;
  if (rsdpLen > 0) {
    const copy = new Uint8Array(rsdpLen);
    memory.copy(copy.dataStart, rsdpBuf, <usize>rsdpLen);
    info.rsdpCopy = copy;
  }
  if (nameLen > 0) info.bootloader = String.UTF8.decodeUnsafe(nameBuf, <usize>nameLen);
  else if (pvhVersion >= 0) info.bootloader = "PVH v" + pvhVersion.toString();
  return info;
}

/** Parses the boot information at addr (for tests and tools; the kernel
 *  reads its own once through bootInfo()). Replaces the raw buffers, so the
 *  result is built in full now rather than on access. */
export function parseBootInfo(protocol: u32, addr: u64): BootInfo {
  readBootRaw(protocol, addr);
  const info = buildBootInfo();
  info.cmdline; info.memmap; info.problems;
  info.rawBacked = false;
  current = info;
  return info;
}

let current: BootInfo | null = null;

/** The boot information as objects, built on first call; later calls return
 *  the same object. */
export function bootInfo(): BootInfo {
  let c = current;
  if (c === null) {
    c = buildBootInfo();
    current = c;
  }
  return c;
}
