// test/apps/oom — allocates page runs until memory runs out: the allocator must
// say so (0), count it, and leave the kernel able to print its statistics,
// free everything and exit cleanly.
import { println, allocPages, freePages, MemOwner, memStats, memStatsLine, physAddr } from "skiff";

const RUN: i32 = 16;   // 64 KiB per allocation

export function main(): i32 {
  const got = new Array<usize>();
  let last: usize = 0;
  while (true) {
    const p = allocPages(RUN, MemOwner.App);
    if (p == 0) break;
    if ((p & 0xfff) != 0 || (physAddr(p) & 0xfff) != 0) { println("oom: misaligned run 0x" + p.toString(16)); return 2; }
    store<u64>(p, 0x5a5a5a5a5a5a5a5a);   // touch it
    got.push(p);
    last = p;
  }
  println("oom: allocation failed after " + got.length.toString() + " runs of " + RUN.toString() + " pages");
  println(memStatsLine());
  const s = memStats();
  if (s.allocFailures == 0) { println("oom: failure not counted"); return 3; }
  for (let i = 0; i < got.length; i++) freePages(got[i], RUN);
  const again = allocPages(RUN * 4, MemOwner.Dma);   // the pool coalesced: a bigger run fits
  println("oom: after free, 256 KiB run " + (again != 0 ? "ok" : "FAILED"));
  if (again == 0) return 4;
  freePages(again, RUN * 4);
  println(memStatsLine());
  println("oom: ok");
  return 0;
}
