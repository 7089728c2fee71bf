// kernel/platform/exit.ts — ending the guest with a status the host can read.
// isa-debug-exit (port 0xf4) makes QEMU exit with (status << 1) | 1. Statuses
// mirror boot/hostif.h and cli/lib/status.ts; keep them below 128 so the
// shifted value survives the 8-bit process exit code.
import { inb, outl, outb, halt } from "./host";

export const EXIT_SUCCESS: i32 = 0;
/** 1..63: the app's own failure codes (main's return value). */
export const EXIT_APP_MAX: i32 = 63;
export const EXIT_PANIC: i32 = 70;
export const EXIT_TRAP: i32 = 71;
export const EXIT_FAULT: i32 = 72;
export const EXIT_LOADER: i32 = 73;
/** Not a failure: the guest asks to be started again (POST /os/reboot).
 *  `skiff run` restarts QEMU; elsewhere the reset line reboots the VM. */
export const EXIT_REBOOT: i32 = 74;

const DEBUG_EXIT_PORT: u32 = 0xf4;
const I8042_COMMAND: u32 = 0x64;
const I8042_RESET: u32 = 0xfe;

/** Something to do just before the guest ends (drivers reset their devices
 *  so none keeps doing DMA). Registered by whoever started the thing, so an
 *  image without drivers carries no shutdown code. */
export abstract class ExitHook {
  abstract beforeExit(status: i32): void;
}

/** Made on first registration: an image that registers none allocates nothing. */
// @ts-ignore: decorator
@lazy
let exitHooks: Array<ExitHook> | null = null;
let exiting = false;

export function onExit(h: ExitHook): void {
  let hooks = exitHooks;
  if (hooks === null) {
    hooks = new Array<ExitHook>();
    exitHooks = hooks;
  }
  hooks.push(h);
}

function runExitHooks(status: i32): void {
  if (exiting) return;
  exiting = true;
  const hooks = exitHooks;
  if (hooks === null) return;
  for (let i = hooks.length - 1; i >= 0; i--) hooks[i].beforeExit(status);
}

/** Ends the guest after running the exit hooks (latest first, once). */
export function exitGuest(status: i32): void {
  runExitHooks(status);
  exitGuestNow(status);
}

const PCI_RESET_CONTROL: u32 = 0xcf9;   // PIIX/ICH reset control register
const RESET_CPU_AND_SYSTEM: u32 = 0x06;

/** Reboots: exit hooks first (devices reset), then isa-debug-exit with
 *  EXIT_REBOOT where QEMU has it (the host tools start the guest again: QEMU
 *  runs with -no-reboot so that a triple fault cannot loop), else the
 *  keyboard controller's and the chipset's reset lines, which reboot the VM
 *  under libvirt, clouds and Firecracker. */
export function rebootGuest(): void {
  runExitHooks(EXIT_REBOOT);
  drainSerial();
  outl(DEBUG_EXIT_PORT, <u32>EXIT_REBOOT);
  outb(I8042_COMMAND, I8042_RESET);
  outb(PCI_RESET_CONTROL, RESET_CPU_AND_SYSTEM);
  halt();
}

const COM1_LSR: u32 = 0x3fd;
const LSR_TX_IDLE: u32 = 0x40;   // transmitter empty: FIFO and shift register
/** Bounded: a wedged UART must not keep the guest from ending. */
const DRAIN_SPINS: i32 = 1_000_000;

/** Waits until COM1 has handed on every byte written to it. QEMU ends at the
 *  debug-exit write, and bytes still in the UART's FIFO (the console writes
 *  up to 16 without asking) were lost with it: the last characters of the
 *  last line, now and then. No UART (LSR reads 0xff): returns at once. */
function drainSerial(): void {
  for (let i = 0; i < DRAIN_SPINS; i++) {
    const lsr = inb(COM1_LSR);
    if (lsr == 0xff || (lsr & LSR_TX_IDLE) != 0) return;
  }
}

/** Ends the guest at once, without hooks (abort and fault paths). Falls back
 *  to a keyboard-controller reset (Firecracker's shutdown; QEMU -no-reboot
 *  exits) and finally to halting. */
export function exitGuestNow(status: i32): void {
  drainSerial();
  outl(DEBUG_EXIT_PORT, <u32>status);
  outb(I8042_COMMAND, I8042_RESET);
  halt();
}
