// kernel/main.ts — the boot sequence, one line per step (after xv6's main.c).
// The loader (boot/) has set up long mode, the IDT and linear memory, then
// calls the image's `boot` export, which lands in bootKernel().
import * as console from "./console";
import { bootInfo, typeName } from "./bootinfo";
import { initMemory } from "./mm";
import { acpiInfo } from "./acpi";
import { initInterrupts, interruptSource } from "./irq";
import { initClock, initWallClock, wallClockNs, deadlineTimerMode, tscFrequency, clockSource } from "./time";
import { initScheduler, runLoop } from "./sched";
import { exitGuest, EXIT_SUCCESS, EXIT_APP_MAX, HOSTIF_VERSION } from "./platform";
import { panic } from "./panic";
import { probeVirtio, shutdownVirtio, netDevice } from "./virtio";
import { startNetwork } from "./net";

export const KERNEL_NAME = "Skiff";
export const KERNEL_VERSION = "0.1.0";

let quiet = false;

export function bootKernel(appMain: () => i32): void {
  console.init();                              // COM1 16550: the boot log goes here
  const boot = bootInfo();                     // PVH start_info or Multiboot2 tags
  quiet = boot.cmdline.has("quiet");
  const mem = initMemory(boot.memmap);         // linear memory may grow into RAM; page pool
  const acpi = acpiInfo(boot);                 // ACPI tables: MADT, HPET (none with acpi=off)
  initInterrupts(acpi);                        // 8259 masked, LAPIC on, I/O APIC inputs masked
  initClock(acpi.hpetAddress);                 // TSC calibrated: the monotonic clock starts at 0
  initWallClock(boot.cmdline);                 // CMOS RTC, else epoch= on the command line
  initScheduler();                             // one-shot deadline timer for the event loop
  if (!quiet) {
    console.println(KERNEL_NAME + " " + KERNEL_VERSION + " (host interface v" + HOSTIF_VERSION.toString() +
      ", booted via " + boot.protocolName() + ")");
    console.println("memory: " + (mem.ramBytes >> 10).toString() + " KiB RAM, linear memory at 0x" +
      mem.linearBase.toString(16) + " may grow to " + (mem.linearLimit >> 10).toString() + " KiB");
    for (let i = 0; i < boot.problems.length; i++) console.println("boot info: " + boot.problems[i]);
    for (let i = 0; i < acpi.problems.length; i++) console.println("acpi: " + acpi.problems[i]);
    console.println("clock: TSC " + (tscFrequency() / 1000).toString() + " kHz (" + clockSource() + "), timer " +
      deadlineTimerMode() + ", interrupts from " + interruptSource() + ", unix time " + (wallClockNs() / 1_000_000_000).toString());
    if (boot.cmdline.has("memmap")) {
      for (let i = 0; i < boot.memmap.length; i++) {
        const r = boot.memmap[i];
        console.println("  0x" + r.base.toString(16) + "-0x" + r.end.toString(16) + " " + typeName(r.type));
      }
    }
  }
  probeVirtio(boot, quiet);                    // virtio devices on MMIO and PCI, one line each
  startNetwork(netDevice(0), boot.cmdline, quiet);  // TCP/IP on the first NIC: ip= on the command line, else DHCP
  let status = appMain();                      // the one application
  if (status == 0) status = runLoop();         // its tasks, timers and servers, until none is left
  if (status < 0 || status > EXIT_APP_MAX) {
    panic("exit status " + status.toString() + "; app statuses are 0.." + EXIT_APP_MAX.toString());
  }
  shutdownVirtio();                            // reset devices: no DMA after we are gone
  exitGuest(status == 0 ? EXIT_SUCCESS : status);
}
