// kernel/core/mm/memory.ts — memory: how much RAM the machine has, how far Wasm
// linear memory may grow (to the end of the RAM region that holds it; the rest
// of RAM is never touched), the page allocator for device memory, and
// accounting by owner. boot/layout.h draws the map.
import { linear_base, memory_limit } from "../../platform";
import { MemRegion, ramTotal, ramEndFrom, setMemmap } from "../../platform/bootinfo";
import { panic } from "../panic";
import { PagePool, MemOwner, OWNER_COUNT } from "./pages";
import { PAGE_SHIFT } from "./layout";


export class MemoryInfo {
  /** Usable RAM reported by the boot protocol, bytes. */
  ramBytes: u64 = 0;
  /** Physical address of linear memory offset 0. */
  linearBase: u64 = 0;
  /** Largest size linear memory may grow to, bytes. */
  linearLimit: u64 = 0;
}

export class MemStats {
  /** Bytes linear memory may use in all (its growth limit). */
  totalBytes: u64 = 0;
  freeBytes: u64 = 0;
  usedBytes: u64 = 0;
  /** Bytes per MemOwner. Heap = linear memory outside the page pool (static
   *  data, shadow stack, the AS heap including its free blocks). */
  byOwner: u64[] = [0, 0, 0, 0];
  highWaterBytes: u64 = 0;
  allocFailures: u64 = 0;
  /** Page-pool detail: pages grown into the pool, free among them. */
  poolBytes: u64 = 0;
  poolFreeBytes: u64 = 0;
}

/** The pool leaves 1/32 of memory (256 KiB .. 4 MiB) for the AS heap to grow
 *  into, so the kernel can still print and serve after the pool runs dry. */
const RESERVE_MIN: u64 = 256 << 10;
const RESERVE_MAX: u64 = 4 << 20;

// Plain globals, no objects: initMemory runs on the boot path, before
// anything has been allocated (kernel/system/main.ts). The page pool and the
// MemoryInfo object are made on first use.
let ramBytes: u64 = 0;
let linearLimit: u64 = 0;
let poolLimit: u64 = 0;
let poolReserve: u64 = 0;
// @ts-ignore: decorator
@lazy
let info: MemoryInfo | null = null;
// @ts-ignore: decorator
@lazy
let thePool: PagePool | null = null;
let highWater: u64 = 0;
let memoryReady = false;

/** The kernel does not set memory up at boot: until it does, the loader
 *  bounds growth by the same RAM region (boot/runtime.c). First use of any
 *  accessor below reads the map. */
// @ts-ignore: decorator
@inline
function ensureMemory(): void {
  if (!memoryReady) initMemory();
}

/** Sets the loader's growth limit from the boot memory map (or from map,
 *  which replaces it: tests describe their machine this way) and sizes the
 *  page pool. With no map (unknown boot protocol) linear memory keeps its
 *  size. Allocates nothing. */
export function initMemory(map: MemRegion[] | null = null): void {
  memoryReady = true;
  if (map !== null) setMemmap(map);
  ramBytes = ramTotal();
  const base = linear_base();
  const end = ramEndFrom(base);
  linearLimit = end > base ? end - base : 0;
  if (linearLimit > 0) memory_limit(linearLimit);
  const limit = linearLimit > 0 ? linearLimit : linearSize();
  let reserve = limit / 32;
  if (reserve < RESERVE_MIN) reserve = RESERVE_MIN;
  if (reserve > RESERVE_MAX) reserve = RESERVE_MAX;
  poolLimit = limit;
  poolReserve = reserve;
  info = null;
  if (thePool !== null) thePool!.configure(poolLimit, poolReserve);
}

/** Usable RAM, bytes (boot path: no object needed). */
export function ramSize(): u64 { ensureMemory(); return ramBytes; }
/** How far linear memory may grow, bytes. */
export function linearLimitBytes(): u64 { ensureMemory(); return linearLimit; }

export function memoryInfo(): MemoryInfo {
  ensureMemory();
  let i = info;
  if (i === null) {
    i = new MemoryInfo();
    i.ramBytes = ramBytes;
    i.linearBase = linear_base();
    i.linearLimit = linearLimit;
    info = i;
  }
  return i;
}

function pool(): PagePool {
  ensureMemory();
  let p = thePool;
  if (p === null) {
    p = new PagePool();
    p.configure(poolLimit, poolReserve);
    thePool = p;
  }
  return p;
}

/** Bytes of linear memory in use now (its current size). */
export function linearSize(): u64 {
  return <u64>memory.size() << 16;
}

function usedNow(): u64 {
  return linearSize() - (<u64>pool().freePageCount << PAGE_SHIFT);
}

/** `count` 4 KiB pages, physically contiguous and zeroed (unless zero is
 *  false), charged to owner; 0 when memory is exhausted (counted in
 *  allocFailures). */
export function allocPages(count: i32, owner: MemOwner, zero: bool = true): usize {
  const p = pool().alloc(count, owner, zero);
  if (p != 0) {
    const u = usedNow();
    if (u > highWater) highWater = u;
  }
  return p;
}

/** Returns pages from allocPages. Freeing what was not allocated is a bug in
 *  the caller and would corrupt the pool: it panics. */
export function freePages(ptr: usize, count: i32): void {
  if (!pool().free(ptr, count)) {
    panic("freePages: 0x" + ptr.toString(16) + " x" + count.toString() + " is not an allocated run");
  }
}

/** The physical (DMA) address of a pointer into linear memory. */
export function physAddr(ptr: usize): u64 {
  return linear_base() + <u64>ptr;
}

/** Which owner a pool page belongs to, or -1. */
export function pageOwner(ptr: usize): i32 {
  return pool().ownerOf(ptr);
}

/** Heap bytes held on behalf of a subsystem (e.g. the TCP/IP stack's
 *  buffers), so memStats can report them under that owner rather than as
 *  anonymous heap. Callers charge and release their own allocations. */
// @ts-ignore: decorator
@lazy
const heapCharges = new StaticArray<i64>(OWNER_COUNT);

export function chargeHeap(owner: MemOwner, delta: i64): void {
  unchecked(heapCharges[<i32>owner] += delta);
}

export function memStats(): MemStats {
  const s = new MemStats();
  const size = linearSize();
  const pool = pagePool();
  s.totalBytes = pool.limitBytes > size ? pool.limitBytes : size;
  s.usedBytes = usedNow();
  s.freeBytes = s.totalBytes - s.usedBytes;
  s.poolBytes = <u64>pool.poolPages << PAGE_SHIFT;
  s.poolFreeBytes = <u64>pool.freePageCount << PAGE_SHIFT;
  s.byOwner[MemOwner.Heap] = size - s.poolBytes;
  for (let o = 1; o < OWNER_COUNT; o++) s.byOwner[o] = <u64>pool.ownerPages[o] << PAGE_SHIFT;
  // Heap pages taken from the pool (owner Heap) count as heap too.
  s.byOwner[MemOwner.Heap] += <u64>pool.ownerPages[0] << PAGE_SHIFT;
  // Heap bytes charged to other owners move from "heap" to them.
  for (let o = 1; o < OWNER_COUNT; o++) {
    let c = unchecked(heapCharges[o]);
    if (c < 0) c = 0;
    if (<u64>c > s.byOwner[MemOwner.Heap]) c = <i64>s.byOwner[MemOwner.Heap];
    s.byOwner[o] += <u64>c;
    s.byOwner[MemOwner.Heap] -= <u64>c;
  }
  if (s.usedBytes > highWater) highWater = s.usedBytes;
  s.highWaterBytes = highWater;
  s.allocFailures = pool.failures;
  return s;
}

export function ownerName(o: i32): string {
  switch (o) {
    case MemOwner.Heap: return "heap";
    case MemOwner.Dma: return "dma";
    case MemOwner.NetBuffers: return "net";
    case MemOwner.App: return "app";
    default: return "?";
  }
}

/** One line for logs: "mem: 1234 KiB used of 65000 KiB (heap 300, dma 8, ...)". */
export function memStatsLine(): string {
  const s = memStats();
  let line = "mem: used " + (s.usedBytes >> 10).toString() + " KiB of " + (s.totalBytes >> 10).toString() +
    " KiB, free " + (s.freeBytes >> 10).toString() + " KiB, high water " + (s.highWaterBytes >> 10).toString() + " KiB (";
  for (let o = 0; o < OWNER_COUNT; o++) {
    if (o > 0) line += ", ";
    line += ownerName(o) + " " + (s.byOwner[o] >> 10).toString();
  }
  return line + " KiB), alloc failures " + s.allocFailures.toString();
}

let gcRuns: u64 = 0;
let gcNs: u64 = 0;
let collectionWanted = false;

/** Something that allocated for a while has ended (an HTTP exchange, on TCP
 *  or on the host channel): what it left is garbage, and a full collection
 *  soon lets what comes next reuse it (kernel/lib/net/service.ts runs it). */
export function wantCollection(): void { collectionWanted = true; }

/** Whether wantCollection() was called since the last takeCollectionWanted(). */
export function takeCollectionWanted(): bool {
  const w = collectionWanted;
  collectionWanted = false;
  return w;
}

/** A full garbage collection of the AS heap: freed blocks go back to TLSF
 *  for reuse (the heap itself never shrinks). */
export function collectHeap(): void {
  // @ts-ignore: the runtime builtin asc provides
  __collect();
}

/** Callers that time collectHeap record it here (memStats reports it). */
export function noteCollection(ns: u64): void {
  gcRuns++;
  gcNs += ns;
}

/** Full collections run by the kernel, and the time they took, ns. */
export function heapCollections(): u64 { return gcRuns; }
export function heapCollectionNs(): u64 { return gcNs; }

/** The pool itself, for tests. */
export function pagePool(): PagePool { return pool(); }
