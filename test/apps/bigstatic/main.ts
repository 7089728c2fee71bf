// test/apps/bigstatic — a static initialiser that allocates more than the
// initial linear memory: the module's start function grows memory before the
// kernel has read the memory map, so the loader must bound that growth from
// the boot protocol itself (boot/runtime.c, loader_ram_limit).
import { println } from "skiff";

const big = new Uint8Array(3 << 20);

export function main(): i32 {
  big[big.length - 1] = 7;
  println("static buffer of " + (big.length >> 10).toString() + " KiB, last byte " + big[big.length - 1].toString());
  return 0;
}
