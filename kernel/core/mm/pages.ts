// kernel/core/mm/pages.ts — the page allocator for device memory: runs of 4 KiB
// pages, physically contiguous (linear memory is, see boot/layout.h), zeroed.
// The pool grows linear memory with memory.grow in its own chunks, so it never
// overlaps the AS heap, which adds only the ranges it grew itself.
//
// Free runs form a list sorted by address, kept inside the free pages:
//   free run: ┌ next run offset u32 (0 = end) ┬ pages u32 ┬ ... ┐
// Allocation is first fit, taken from the END of a run so its header stays
// put; freeing merges with both neighbours. A tag byte per page (pageTag)
// says whether it is outside the pool, free, or whose it is, so freePages can
// refuse a bad pointer or a double free and account the right owner.
import { PAGE_SIZE, PAGE_SHIFT, WASM_PAGE_SIZE } from "./layout";

export enum MemOwner { Heap = 0, Dma = 1, NetBuffers = 2, App = 3 }
export const OWNER_COUNT: i32 = 4;

const TAG_NONE: u8 = 0;
const TAG_FREE: u8 = 1;
const TAG_OWNER0: u8 = 2;

/** The pool grows at least this much at a time (fewer, larger runs). */
const GROW_CHUNK_PAGES: i32 = 64;       // 256 KiB

export class PagePool {
  freeHead: u32 = 0;
  poolPages: i64 = 0;
  freePageCount: i64 = 0;
  ownerPages: StaticArray<i64> = new StaticArray<i64>(OWNER_COUNT);
  failures: u64 = 0;
  /** Linear memory may not grow past this many bytes... */
  limitBytes: u64 = 0;
  /** ...and the pool leaves this much below the limit for the AS heap. */
  reserveBytes: u64 = 0;
  tags: Uint8Array = new Uint8Array(0);

  configure(limitBytes: u64, reserveBytes: u64): void {
    this.limitBytes = limitBytes;
    this.reserveBytes = reserveBytes;
    this.tags = new Uint8Array(<i32>(limitBytes >> PAGE_SHIFT) + 1);
  }

  private runNext(off: u32): u32 { return load<u32>(<usize>off); }
  private runPages(off: u32): u32 { return load<u32>(<usize>off + 4); }
  private setRun(off: u32, next: u32, pages: u32): void {
    store<u32>(<usize>off, next);
    store<u32>(<usize>off + 4, pages);
  }

  private tag(ptr: usize, pages: i32, t: u8): void {
    const first = <i32>(ptr >> PAGE_SHIFT);
    for (let i = 0; i < pages; i++) unchecked(this.tags[first + i] = t);
  }

  /** Inserts [ptr, ptr + pages) into the sorted free list, merging neighbours. */
  private insertFree(ptr: u32, pages: u32): void {
    let prev: u32 = 0;
    let cur = this.freeHead;
    while (cur != 0 && cur < ptr) { prev = cur; cur = this.runNext(cur); }
    let start = ptr, count = pages, next = cur;
    if (cur != 0 && ptr + (pages << PAGE_SHIFT) == cur) {    // merge with the run after
      count += this.runPages(cur);
      next = this.runNext(cur);
    }
    if (prev != 0 && prev + (this.runPages(prev) << PAGE_SHIFT) == ptr) {   // and before
      this.setRun(prev, next, this.runPages(prev) + count);
      return;
    }
    this.setRun(start, next, count);
    if (prev == 0) this.freeHead = start; else this.setRun(prev, start, this.runPages(prev));
  }

  /** Grows linear memory by at least `pages` pool pages; false when the
   *  limit (minus the heap reserve) or memory.grow says no. */
  private grow(pages: i32): bool {
    const perWasm = WASM_PAGE_SIZE / PAGE_SIZE;
    const cur = <u64>memory.size() << 16;
    const ceiling = this.limitBytes > this.reserveBytes ? this.limitBytes - this.reserveBytes : 0;
    let want = max(pages, GROW_CHUNK_PAGES);
    let wasmPages = (want + perWasm - 1) / perWasm;
    if (cur + (<u64>wasmPages << 16) > ceiling) {
      wasmPages = (pages + perWasm - 1) / perWasm;
      if (cur + (<u64>wasmPages << 16) > ceiling) return false;
    }
    let old = memory.grow(wasmPages);
    // The loader refuses a request that would double memory once (it is
    // how the AS heap grows, boot/runtime.c); the pool means it: ask again.
    if (old < 0 && <i32>wasmPages == memory.size()) old = memory.grow(wasmPages);
    if (old < 0) return false;
    const start = <u32>old << 16;
    const n = <u32>(wasmPages * perWasm);
    this.poolPages += n;
    this.freePageCount += n;
    this.tag(start, <i32>n, TAG_FREE);
    this.insertFree(start, n);
    return true;
  }

  private takeFirstFit(count: u32): u32 {
    let prev: u32 = 0;
    let cur = this.freeHead;
    while (cur != 0) {
      const have = this.runPages(cur);
      if (have >= count) {
        if (have == count) {
          const next = this.runNext(cur);
          if (prev == 0) this.freeHead = next; else this.setRun(prev, next, this.runPages(prev));
          return cur;
        }
        this.setRun(cur, this.runNext(cur), have - count);
        return cur + ((have - count) << PAGE_SHIFT);
      }
      prev = cur;
      cur = this.runNext(cur);
    }
    return 0;
  }

  /** count pages for owner, zeroed unless zero is false (a buffer that is
   *  only ever read where it was written first, such as a socket ring). */
  alloc(count: i32, owner: MemOwner, zero: bool = true): usize {
    if (count <= 0 || <i32>owner < 0 || <i32>owner >= OWNER_COUNT || count > (1 << 20)) {
      this.failures++;
      return 0;
    }
    let p = this.takeFirstFit(<u32>count);
    if (p == 0) {
      if (!this.grow(count)) { this.failures++; return 0; }
      p = this.takeFirstFit(<u32>count);
      if (p == 0) { this.failures++; return 0; }
    }
    if (zero) memory.fill(<usize>p, 0, <usize>count << PAGE_SHIFT);
    this.tag(p, count, TAG_OWNER0 + <u8>owner);
    this.freePageCount -= count;
    unchecked(this.ownerPages[<i32>owner] += count);
    return p;
  }

  /** Returns pages to the pool. A pointer the pool did not hand out, or a
   *  page already free, is a broken invariant: returns false (the caller panics). */
  free(ptr: usize, count: i32): bool {
    if (count <= 0 || (ptr & <usize>(PAGE_SIZE - 1)) != 0) return false;
    const first = <i32>(ptr >> PAGE_SHIFT);
    if (first <= 0 || first + count > this.tags.length) return false;
    for (let i = 0; i < count; i++) if (unchecked(this.tags[first + i]) < TAG_OWNER0) return false;
    for (let i = 0; i < count; i++) {
      const o = <i32>(unchecked(this.tags[first + i]) - TAG_OWNER0);
      unchecked(this.ownerPages[o] -= 1);
      unchecked(this.tags[first + i] = TAG_FREE);
    }
    this.freePageCount += count;
    this.insertFree(<u32>ptr, <u32>count);
    return true;
  }

  /** Owner of the page holding ptr, or -1 if it is not an allocated pool page. */
  ownerOf(ptr: usize): i32 {
    const i = <i32>(ptr >> PAGE_SHIFT);
    if (i < 0 || i >= this.tags.length) return -1;
    const t = this.tags[i];
    return t >= TAG_OWNER0 ? <i32>(t - TAG_OWNER0) : -1;
  }

  /** Free runs, for tests and the allocator's self-check: "start+pages,...". */
  freeRuns(): string {
    let s = "";
    let cur = this.freeHead;
    let n = 0;
    while (cur != 0 && n < 10000) {
      if (s.length > 0) s += ",";
      s += "0x" + cur.toString(16) + "+" + this.runPages(cur).toString();
      cur = this.runNext(cur);
      n++;
    }
    return s;
  }

  largestFreeRun(): u32 {
    let best: u32 = 0;
    let cur = this.freeHead;
    while (cur != 0) { best = max(best, this.runPages(cur)); cur = this.runNext(cur); }
    return best;
  }
}
