// bench/apps/boottime/main.ts — the boot benchmark's probe app: prints the TSC
// the loader read at its first instruction (boot/entry.S) and the TSC at the
// start of main, so the benchmark gets guest-side boot time without host noise.
// With `hold` on the command line it then spins instead of exiting, so the
// benchmark can read the QEMU process's memory while the guest is up.
import { println, bootInfo } from "skiff";

// Bench-only probes. entry_tsc is not in kernel/platform/host.ts's versioned
// list (the loader defines it for this app alone); rdtsc is, but the kernel
// does not export it to apps.
@external("host", "entry_tsc") declare function entry_tsc(): u64;
@external("host", "rdtsc") declare function rdtsc(): u64;

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
