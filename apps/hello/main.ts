// apps/hello/main.ts — the smallest Skiff app: greet, show what the kernel
// found (command line, memory), exit 0.
import { println, cmdline, memoryInfo } from "skiff";

export function main(): i32 {
  println("Hello from Skiff!");
  println("cmdline: " + cmdline());
  println("memory: " + (memoryInfo().ramBytes >> 10).toString() + " KiB");
  return 0;
}
