// test/apps/oob — loads outside linear memory must trap. With guard pages
// (boot/paging.c) the trap comes from a page fault, so the cases probe the
// exact end of memory, not just a far address:
//   (default)     a read near 4 GiB, far past the end;
//   oob=edge      the last 4 bytes read fine, then a u32 straddling the end;
//   oob=grown     grow memory in steps of 7 pages across several 2 MiB
//                 boundaries (the loader's end-of-memory table is recycled),
//                 write and read back both ends of every new 64 KiB page,
//                 then read one byte past the new end;
//   oob=offset    an in-bounds pointer with a static offset that lands past the end;
//   oob=fill      memory.fill of a constant 40 bytes from 16 before the end (the
//                 image fills such lengths with inline stores and no range
//                 check: the guard region must stop it);
//   oob=big       grow past the first GiB of physical memory (the loader links a
//                 second page directory), check both sides of the boundary,
//                 then read one byte past the end.
import { println, bootInfo } from "skiff";
import { linear_base } from "skiff/kernel/platform";

function linearBase(): u64 { return linear_base(); }

export function readFar(): u32 {
  return load<u32>(0xfffffff0);
}

function end(): usize {
  return <usize>memory.size() << 16;
}

export function main(): i32 {
  const mode = bootInfo().cmdline.get("oob");
  if (mode == "edge") {
    const last = load<u32>(end() - 4);
    println("last word " + last.toString() + " read; now the straddling one");
    const v = load<u32>(end() - 2);
    println("read " + v.toString() + " (the bounds check failed to trap)");
    return 0;
  }
  if (mode == "grown") {
    const before = memory.size();
    let bad = 0;
    for (let step = 0; step < 12; step++) {
      const from = memory.grow(7);
      if (from < 0) { println("memory.grow failed"); return 3; }
      for (let p = <usize>from; p < <usize>memory.size(); p++) {
        store<u32>((p << 16) + 65532, <u32>p);
        store<u32>(p << 16, ~<u32>p);
        if (load<u32>((p << 16) + 65532) != <u32>p || load<u32>(p << 16) != ~<u32>p) bad++;
      }
    }
    println("grew from " + before.toString() + " to " + memory.size().toString() + " pages, " + bad.toString() + " bad");
    const v = load<u8>(end());
    println("read " + v.toString() + " (the bounds check failed to trap)");
    return 0;
  }
  if (mode == "big") {
    const want: i32 = 1100 << 4;                    // 1100 MiB of 64 KiB pages
    const from = memory.grow(want - memory.size());
    if (from < 0) { println("memory.grow failed"); return 3; }
    // The page that spans physical 1 GiB, and the last one.
    const gib = <usize>((1 << 30) - <i64>linearBase()) & ~<usize>0xffff;
    let bad = 0;
    for (let p = gib - 0x10000; p <= gib + 0x10000; p += 0x8000) {
      store<u32>(p, <u32>p);
      if (load<u32>(p) != <u32>p) bad++;
    }
    store<u64>(end() - 8, 0x1122334455667788);
    if (load<u64>(end() - 8) != 0x1122334455667788) bad++;
    println("grew to " + (memory.size() >> 4).toString() + " MiB across 1 GiB, " + bad.toString() + " bad");
    const v = load<u8>(end());
    println("read " + v.toString() + " (the bounds check failed to trap)");
    return 0;
  }
  if (mode == "fill") {
    const p = end() - 16;
    println("filling across the end");
    memory.fill(p, 0xab, 40);
    println("filled (the bounds check failed to trap)");
    return 0;
  }
  if (mode == "offset") {
    const p = end() - 16;
    const v = load<u32>(p, 16);
    println("read " + v.toString() + " (the bounds check failed to trap)");
    return 0;
  }
  println("reading out of bounds");
  const v = readFar();
  println("read " + v.toString() + " (the bounds check failed to trap)");
  return 0;
}
