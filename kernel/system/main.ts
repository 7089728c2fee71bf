// kernel/system/main.ts — the start order, top to bottom (after xv6's main.c).
// kernel/system is the composition layer: the only place that knows which
// services exist and starts them. Below it the subsystems are libraries
// (net, http, json, api, virtio, ...) that import nothing above themselves.
//
// The loader (boot/) has set up long mode, the IDT and linear memory, then
// calls the image's `boot` export: startKernel(), the app's main,
// finishKernel(). Only step 1 runs before main; every later step starts when
// the app first uses it, so an app that never opens a socket links neither a
// driver nor the stack, and hello stays small (docs/ARCHITECTURE.md, "Boot").
//
//   1. console       startKernel() below: COM1, the banner, the memory map
//   2. clock         interrupt controllers, the calibrated clock, the deadline
//                    timer: on the first timer or sleep (kernel/core/sched ensureStarted)
//   3. devices       every virtio device, one line each: on the first device,
//                    random bytes or socket (startDevices() below)
//   4. network       TCP/IP on the first NIC, DHCP or ip=: on the first socket
//                    (startDefaultNetwork() below; network.ts has the app calls)
//   5. management    the REST endpoint (api.port=, default 8000) and the host-
//                    only channel: with serve(), or an app's startManagementApi()
//   6. the app's main, then finishKernel(): its tasks, timers and servers run
//                    until none is left, and the guest exits with its status
import * as console from "../core/console";
import { bootInfo, typeName, cmdlineHas, bootProtocol, protocolName, memmapCount, memmapBase, memmapLength, memmapType, bootProblemCount } from "../platform/bootinfo";
import { ramSize, linearLimitBytes } from "../core/mm";
import { linear_base, exitGuest, EXIT_SUCCESS, EXIT_APP_MAX, HOSTIF_VERSION } from "../platform";
import { runPendingWork } from "../core/sched";
import { ensureVirtio, netDevice } from "../drivers/virtio";
import { NetStack, startNetwork } from "../lib/net";
import { Api, startApi } from "../api";
import { panic } from "../core/panic";
import { BANNER } from "../core/version";

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
  // on first use (kernel/core/mm); until then the loader bounds growth itself.
  // Interrupt controllers, the calibrated clock and the deadline timer start
  // on first use (kernel/core/sched ensureStarted), not here: see docs/ARCHITECTURE.md.
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
  // Steps 2 to 5 start when the app first uses them (the table above).
}

// 2. clock: kernel/core/sched starts the interrupt controllers, calibrates the
//    clock and arms the deadline timer on the first timer, sleep or loop pass.

/** 3. devices: finds and starts every virtio device (one boot-log line each),
 *  once. Every device accessor (blkDevice, netDevice, ...) calls it too. */
export function startDevices(): void {
  ensureVirtio();
}

// @ts-ignore: decorator
@lazy
let network: NetStack | null = null;
let networkTried = false;

/** 4. network: the default stack on the first NIC, configured from the command
 *  line (ip=ADDR/PREFIX gateway= dns= for a static address, else DHCP;
 *  net.debug, quiet), started on the first call; null without a NIC. An app
 *  that drives the device itself (test/apps/net-probe) and never calls this
 *  keeps every frame. */
export function startDefaultNetwork(): NetStack | null {
  if (network !== null || networkTried) return network;
  networkTried = true;
  const dev = netDevice(0);
  if (dev === null) return null;
  const cmdline = bootInfo().cmdline;
  network = startNetwork(dev, cmdline, cmdline.has("quiet"));
  return network;
}

/** Makes s the default stack (skiff dev's hosted stack, system/hosted.ts). */
export function setDefaultNetwork(s: NetStack): void {
  network = s;
  networkTried = true;
}

/** 5. management: the REST endpoint on the default stack (api.port=, default
 *  8000; api.off: none) and the same API on the host-only channel. serve()
 *  starts it; an app with sockets of its own asks for it here. Null without a
 *  network, with api.off, or when the port is taken; runs once. */
// @ts-ignore: decorator
@lazy
let management: Api | null = null;
let managementTried = false;

export function startManagementApi(): Api | null {
  if (managementTried) return management;
  const s = startDefaultNetwork();
  if (s === null) return null;
  managementTried = true;
  const cmdline = bootInfo().cmdline;
  management = startApi(s, cmdline, cmdline.has("quiet"));
  return management;
}

/** 6. After the app's main returned status: its tasks, timers and servers run
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
