// kernel/core/mm/heap.ts — how full the AssemblyScript heap is. TLSF (the
// allocator under the incremental GC) keeps its free blocks in lists hung off
// its root; summing them gives the free bytes inside the heap's ranges, which
// memStats cannot see (to it, the whole heap is "used" linear memory). The
// layout below is TLSF's in AssemblyScript 0.28 (std/assembly/rt/tlsf.ts,
// pinned in package.json): 16-byte alignment, 23 first-level × 16
// second-level lists, heads from byte 96 of the root; a free block is
// mmInfo (size | tags), prev, next.
// @ts-ignore: asc resolves rt/ to its own runtime (std/assembly/rt)
import { ROOT } from "rt/tlsf";

const FL_COUNT: usize = 23;
const SL_COUNT: usize = 16;
const HEADS_OFFSET: usize = 96;
const BLOCK_HEADER: u64 = 4;
const SIZE_MASK: usize = ~<usize>3;
const NEXT_OFFSET: usize = 8;

/** Bytes in TLSF's free blocks (headers included); 0 before the first allocation. */
export function heapFreeBytes(): u64 {
  const root = changetype<usize>(ROOT);
  if (root == 0) return 0;
  let free: u64 = 0;
  for (let i: usize = 0; i < FL_COUNT * SL_COUNT; i++) {
    let b = load<usize>(root + HEADS_OFFSET + (i << 2));
    while (b != 0) {
      free += <u64>(load<usize>(b) & SIZE_MASK) + BLOCK_HEADER;
      b = load<usize>(b + NEXT_OFFSET);
    }
  }
  return free;
}
