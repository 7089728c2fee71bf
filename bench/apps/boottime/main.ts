// bench/apps/boottime/main.ts — the boot benchmark's probe app: prints the TSC
// the loader read at its first instruction (boot/entry.S) and the TSC at the
// start of main, so the benchmark gets guest-side boot time without host noise.
// With `hold` on the command line it then spins instead of exiting, so the
// benchmark can read the QEMU process's memory while the guest is up.
import { println, bootInfo } from "skiff";
import { entry_tsc, rdtsc } from "skiff/kernel/platform";

export function main(): i32 {
  const atMain = rdtsc();
  println("bench: entry_tsc=" + entry_tsc().toString() + " main_tsc=" + atMain.toString());
  println("Hello from Skiff!");
  if (bootInfo().cmdline.has("hold")) {
    // Spin rather than halt: apps cannot reach irq_wait, and the benchmark
    // kills QEMU by PID as soon as it has read VmRSS.
    let n: u64 = 0;
    while (true) n++;
  }
  return 0;
}
