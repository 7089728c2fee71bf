// kernel/main.ts — the boot sequence, one line per step (after xv6's main.c).
// The loader (boot/) has set up long mode, the IDT and linear memory, then
// calls the image's `boot` export, which lands in bootKernel().
import * as console from "./console";
import { bootInfo, typeName } from "./bootinfo";
import { initMemory } from "./mm";
import { runPendingWork } from "./sched";
import { exitGuest, EXIT_SUCCESS, EXIT_APP_MAX, HOSTIF_VERSION } from "./platform";
import { panic } from "./panic";

@lazy
export const KERNEL_NAME = "Skiff";
@lazy
export const KERNEL_VERSION = "0.1.0";

let quiet = false;

export function bootKernel(appMain: () => i32): void {
  console.init();                              // COM1 16550: the boot log goes here
  const boot = bootInfo();                     // PVH start_info or Multiboot2 tags
  quiet = boot.cmdline.has("quiet");
  const mem = initMemory(boot.memmap);         // linear memory may grow into RAM; page pool
  // Interrupt controllers, the calibrated clock and the deadline timer start
  // on first use (kernel/sched ensureStarted), not here: see docs/ARCHITECTURE.md.
  if (!quiet) {
    console.println(KERNEL_NAME + " " + KERNEL_VERSION + " (host interface v" + HOSTIF_VERSION.toString() +
      ", booted via " + boot.protocolName() + ")");
    console.println("memory: " + (mem.ramBytes >> 10).toString() + " KiB RAM, linear memory at 0x" +
      mem.linearBase.toString(16) + " may grow to " + (mem.linearLimit >> 10).toString() + " KiB");
    for (let i = 0; i < boot.problems.length; i++) console.println("boot info: " + boot.problems[i]);
    if (boot.cmdline.has("memmap")) {
      for (let i = 0; i < boot.memmap.length; i++) {
        const r = boot.memmap[i];
        console.println("  0x" + r.base.toString(16) + "-0x" + r.end.toString(16) + " " + typeName(r.type));
      }
    }
  }
  // virtio devices (one line each), TCP/IP with DHCP or ip=, and the REST
  // endpoint start when the app first uses them: kernel/network.ts, ensureVirtio.
  let status = appMain();                      // the one application
  if (status == 0) status = runPendingWork();  // its tasks, timers and servers, until none is left
  if (status < 0 || status > EXIT_APP_MAX) {
    panic("exit status " + status.toString() + "; app statuses are 0.." + EXIT_APP_MAX.toString());
  }
  exitGuest(status == 0 ? EXIT_SUCCESS : status);
}
