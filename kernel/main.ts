// kernel/main.ts — the boot sequence, one line per step (after xv6's main.c).
// The loader (boot/) has set up long mode, the IDT and linear memory, then
// calls the image's `boot` export: startKernel(), the app's main, finishKernel().
import * as console from "./console";
import { bootInfo, typeName, cmdlineHas, bootProtocol, protocolName, memmapCount, memmapBase, memmapLength, memmapType, bootProblemCount } from "./bootinfo";
import { ramSize, linearLimitBytes } from "./mm";
import { linear_base } from "./platform";
import { runPendingWork } from "./sched";
import { exitGuest, EXIT_SUCCESS, EXIT_APP_MAX, HOSTIF_VERSION } from "./platform";
import { panic } from "./panic";

// @ts-ignore: decorator
@lazy
export const KERNEL_NAME = "Skiff";
// @ts-ignore: decorator
@lazy
export const KERNEL_VERSION = "0.1.0";
/** KERNEL_NAME + " " + KERNEL_VERSION + " (booted via ": one constant, one call. */
export const BANNER = "Skiff 0.1.0 (booted via ";

let quiet: bool = false;

/** Everything before the app's main. The generated entry calls main itself
 *  between startKernel() and finishKernel(): a direct call, where passing
 *  main as a function reference would need a function table and an
 *  indirect call (more code to translate at boot under TCG). */
export function startKernel(): void {
  // Nothing here allocates: the heap's first user is the app, and under TCG
  // every distinct piece of code run at boot costs its translation (see
  // docs/ARCHITECTURE.md, "Boot"). Objects such as bootInfo() are built when
  // first asked for.
  console.init();                              // COM1 16550: the boot log goes here
  quiet = cmdlineHas("quiet");                 // PVH start_info or Multiboot2 tags, read raw
  // Memory (RAM size, the growth limit, the page pool) is read from the map
  // on first use (kernel/mm); until then the loader bounds growth itself.
  // Interrupt controllers, the calibrated clock and the deadline timer start
  // on first use (kernel/sched ensureStarted), not here: see docs/ARCHITECTURE.md.
  if (!quiet) {
    // One short line, in few calls: under TCG every call and branch on the
    // boot path is translated once, and every byte is a trap into the UART.
    // The detail (RAM, host interface, linear memory, the map) comes with `memmap`.
    console.print(BANNER); console.print(protocolName(bootProtocol())); console.println(")");
    if (bootProblemCount() > 0) {
      const problems = bootInfo().problems;
      for (let i = 0; i < problems.length; i++) console.println("boot info: " + problems[i]);
    }
    if (cmdlineHas("memmap")) {
      console.print("RAM "); console.printDec(ramSize() >> 10);
      console.print(" KiB, host interface v"); console.printDec(HOSTIF_VERSION);
      console.print(", linear memory at "); console.printHex(linear_base());
      console.print(" may grow to "); console.printDec(linearLimitBytes() >> 10); console.println(" KiB");
      for (let i = 0; i < memmapCount(); i++) {
        console.print("  "); console.printHex(memmapBase(i));
        console.print("-"); console.printHex(memmapBase(i) + memmapLength(i));
        console.print(" "); console.println(typeName(memmapType(i)));
      }
    }
  }
  // virtio devices (one line each), TCP/IP with DHCP or ip=, and the REST
  // endpoint start when the app first uses them: kernel/network.ts, ensureVirtio.
}

/** After the app's main returned status: its tasks, timers and servers run
 *  until none is left, then the guest exits with the status. */
export function finishKernel(status: i32): void {
  if (status == 0) status = runPendingWork();
  if (status < 0 || status > EXIT_APP_MAX) {
    panic("exit status " + status.toString() + "; app statuses are 0.." + EXIT_APP_MAX.toString());
  }
  exitGuest(status == 0 ? EXIT_SUCCESS : status);
}

/** startKernel, appMain, finishKernel: for callers holding main as a value. */
export function bootKernel(appMain: () => i32): void {
  startKernel();
  finishKernel(appMain());
}
