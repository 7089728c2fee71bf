// test/apps/oob — reads far outside linear memory: the bounds check must trap.
import { println } from "skiff";

export function readFar(): u32 {
  return load<u32>(0xfffffff0);
}

export function main(): i32 {
  println("reading out of bounds");
  const v = readFar();
  println("read " + v.toString() + " (the bounds check failed to trap)");
  return 0;
}
