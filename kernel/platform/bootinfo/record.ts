// kernel/platform/bootinfo/record.ts — the boot record the loader parsed (host import
// boot_record; layout in boot/bootrecord.h, which owns it: these offsets are
// held to it by test/unit/shared-facts.test.ts). The protocols themselves
// (PVH start_info, Multiboot2 tags) are parsed once, in the loader
// (boot/bootrecord.c); the kernel only copies the record's parts into static
// buffers, without allocating — the boot path runs before anything has
// touched the heap, and under TCG every distinct line run at boot costs
// translation time — and answers the boot path's questions (quiet, the RAM
// bound) from them. info.ts builds the objects apps use on first call.
import { boot_record, phys_read } from "..";
import { MemRegion, MAX_MEMMAP_ENTRIES, MEM_RAM } from "./memmap";
import { MAX_CMDLINE, wordsHave } from "./cmdline";
import { BOOT_UNKNOWN } from "./protocol";

export const BOOT_RECORD_MAGIC: u32 = 0x52424b53;   // "SKBR"
export const BOOT_NAME_MAX: i32 = 64;
export const BOOT_RSDP_MAX: i32 = 64;
export const BOOT_PROBLEMS_MAX: i32 = 8;
export const BOOT_REC_MAGIC: i32 = 0;
export const BOOT_REC_PROTOCOL: i32 = 4;
export const BOOT_REC_PVH_VERSION: i32 = 8;
export const BOOT_REC_CMDLINE_LEN: i32 = 12;
export const BOOT_REC_MEMMAP_COUNT: i32 = 16;
export const BOOT_REC_NAME_LEN: i32 = 20;
export const BOOT_REC_RSDP_LEN: i32 = 24;
export const BOOT_REC_PROBLEM_COUNT: i32 = 28;
export const BOOT_REC_RSDP_ADDR: i32 = 32;
export const BOOT_REC_PROBLEMS: i32 = 40;
export const BOOT_REC_NAME: i32 = 232;
export const BOOT_REC_RSDP: i32 = 296;
export const BOOT_REC_MEMMAP: i32 = 360;
export const BOOT_REC_CMDLINE: i32 = 3432;
/** Bytes of one memory-map entry: base u64, length u64, type u32, pad. */
export const BOOT_REC_ENTRY_BYTES: i32 = 24;

// Problem kinds (boot/bootrecord.h BOOT_P_*), turned into text by problemText.
export const BOOT_P_NO_INFO: u64 = 1;
export const BOOT_P_PVH_BAD: u64 = 2;
export const BOOT_P_PVH_V0: u64 = 3;
export const BOOT_P_PVH_MAP_CAPPED: u64 = 4;
export const BOOT_P_PVH_MAP_UNREADABLE: u64 = 5;
export const BOOT_P_MB2_UNREADABLE: u64 = 6;
export const BOOT_P_MB2_SIZE: u64 = 7;
export const BOOT_P_MB2_TAG_SIZE: u64 = 8;
export const BOOT_P_MB2_ENTRY_SIZE: u64 = 9;
/** The kernel's own: boot_record gave nothing usable. */
const P_NO_RECORD: u64 = 100;

const HEADER_BYTES: i32 = BOOT_REC_PROBLEMS;
const PROBLEM_BYTES: i32 = 24;

const header: usize = memory.data(HEADER_BYTES);
const cmdBuf: usize = memory.data(MAX_CMDLINE);
const mapBuf: usize = memory.data(MAX_MEMMAP_ENTRIES * BOOT_REC_ENTRY_BYTES);
const rsdpBuf: usize = memory.data(BOOT_RSDP_MAX);
const nameBuf: usize = memory.data(BOOT_NAME_MAX);
const problemBuf: usize = memory.data(BOOT_PROBLEMS_MAX * PROBLEM_BYTES);

let rawRead = false;
let rawProtocol: u32 = BOOT_UNKNOWN;
let cmdLen: i32 = 0;
let mapCount: i32 = 0;
let rsdpAddr: u64 = 0;
let rsdpLen: i32 = 0;
let nameLen: i32 = 0;
let pvhVersion: i32 = -1;
let problemCount: i32 = 0;

/** n bytes of the record at addr + off into dst; false when unreadable. */
function part(dst: usize, addr: u64, off: i32, n: i32): bool {
  return n == 0 || phys_read(dst, addr + <u64>off, <u32>n) == <u32>n;
}

/** A count from the record, never above max. */
function count(off: i32, max: i32): i32 {
  return <i32>min(load<u32>(header + <usize>off), <u32>max);
}

/** Copies the record at addr into the static buffers. Allocates nothing.
 *  A record that is missing or unreadable reads as "no boot information". */
export function readBootRecord(addr: u64): void {
  rawRead = true;
  cmdlineText = null;
  rawProtocol = BOOT_UNKNOWN;
  cmdLen = 0; mapCount = 0; rsdpAddr = 0; rsdpLen = 0; nameLen = 0; pvhVersion = -1; problemCount = 0;
  if (addr == 0 || !part(header, addr, 0, HEADER_BYTES) || load<u32>(header) != BOOT_RECORD_MAGIC) {
    store<u64>(problemBuf, P_NO_RECORD);
    problemCount = 1;
    return;
  }
  rawProtocol = load<u32>(header, BOOT_REC_PROTOCOL);
  pvhVersion = load<i32>(header, BOOT_REC_PVH_VERSION);
  rsdpAddr = load<u64>(header, BOOT_REC_RSDP_ADDR);
  const problems = count(BOOT_REC_PROBLEM_COUNT, BOOT_PROBLEMS_MAX);
  const map = count(BOOT_REC_MEMMAP_COUNT, MAX_MEMMAP_ENTRIES);
  const cmd = count(BOOT_REC_CMDLINE_LEN, MAX_CMDLINE);
  const name = count(BOOT_REC_NAME_LEN, BOOT_NAME_MAX);
  const rsdp = count(BOOT_REC_RSDP_LEN, BOOT_RSDP_MAX);
  if (part(problemBuf, addr, BOOT_REC_PROBLEMS, problems * PROBLEM_BYTES)) problemCount = problems;
  if (part(mapBuf, addr, BOOT_REC_MEMMAP, map * BOOT_REC_ENTRY_BYTES)) mapCount = map;
  if (part(cmdBuf, addr, BOOT_REC_CMDLINE, cmd)) cmdLen = cmd;
  if (part(nameBuf, addr, BOOT_REC_NAME, name)) nameLen = name;
  if (part(rsdpBuf, addr, BOOT_REC_RSDP, rsdp)) rsdpLen = rsdp;
}

export function problemText(kind: u64, a: u64, b: u64): string {
  switch (<i32>kind) {
    case <i32>BOOT_P_NO_INFO: return "no boot information (neither PVH nor Multiboot2)";
    case <i32>BOOT_P_PVH_BAD: return "PVH start_info unreadable or bad magic";
    case <i32>BOOT_P_PVH_V0: return "PVH start_info version 0 carries no memory map";
    case <i32>BOOT_P_PVH_MAP_CAPPED: return "PVH memory map has " + a.toString() + " entries; reading " + MAX_MEMMAP_ENTRIES.toString();
    case <i32>BOOT_P_PVH_MAP_UNREADABLE: return "PVH memory map unreadable";
    case <i32>BOOT_P_MB2_UNREADABLE: return "Multiboot2 info unreadable";
    case <i32>BOOT_P_MB2_SIZE: return "Multiboot2 info size " + a.toString() + " out of range";
    case <i32>BOOT_P_MB2_TAG_SIZE: return "Multiboot2 tag " + a.toString() + " has bad size " + b.toString();
    case <i32>BOOT_P_MB2_ENTRY_SIZE: return "Multiboot2 memory map entry size " + a.toString();
    case <i32>P_NO_RECORD: return "no boot record from the loader";
    default: return "problem " + kind.toString();
  }
}

// Inlined: the check is one load; a call per accessor would be two more
// translated blocks each on the boot path.
// @ts-ignore: decorator
@inline
function ensureRaw(): void {
  if (!rawRead) readBootRecord(boot_record());
}

/** The boot protocol (BOOT_PVH, BOOT_MULTIBOOT2 or BOOT_UNKNOWN). */
export function bootProtocol(): u32 { ensureRaw(); return rawProtocol; }
/** PVH start_info's version, -1 when not booted by PVH. */
export function bootPvhVersion(): i32 { ensureRaw(); return pvhVersion; }
/** The RSDP's physical address the boot protocol gave, or 0. */
export function bootRsdpAddress(): u64 { ensureRaw(); return rsdpAddr; }

/** A copy of the RSDP bytes a Multiboot2 ACPI tag carried, or null. */
export function bootRsdpCopy(): Uint8Array | null {
  ensureRaw();
  if (rsdpLen == 0) return null;
  const copy = new Uint8Array(rsdpLen);
  memory.copy(copy.dataStart, rsdpBuf, <usize>rsdpLen);
  return copy;
}

/** The boot loader's name (Multiboot2), else "PVH v<version>", else "". */
export function bootLoaderName(): string {
  ensureRaw();
  if (nameLen > 0) return String.UTF8.decodeUnsafe(nameBuf, <usize>nameLen);
  if (pvhVersion >= 0) return "PVH v" + pvhVersion.toString();
  return "";
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
export function memmapBase(i: i32): u64 { return load<u64>(mapBuf + <usize>i * BOOT_REC_ENTRY_BYTES); }
export function memmapLength(i: i32): u64 { return load<u64>(mapBuf + <usize>i * BOOT_REC_ENTRY_BYTES, 8); }
export function memmapType(i: i32): u32 { return load<u32>(mapBuf + <usize>i * BOOT_REC_ENTRY_BYTES, 16); }

/** Replaces the memory map (tests and tools describing a machine). */
export function setMemmap(map: MemRegion[]): void {
  ensureRaw();
  mapCount = 0;
  for (let i = 0; i < map.length && mapCount < MAX_MEMMAP_ENTRIES; i++) {
    const r = unchecked(map[i]);
    if (r.length == 0) continue;
    const e = mapBuf + <usize>mapCount * BOOT_REC_ENTRY_BYTES;
    store<u64>(e, r.base);
    store<u64>(e, r.length, 8);
    store<u32>(e, r.type, 16);
    mapCount++;
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
export function bootProblemText(i: i32): string {
  const at = problemBuf + <usize>i * PROBLEM_BYTES;
  return problemText(load<u64>(at), load<u64>(at, 8), load<u64>(at, 16));
}
