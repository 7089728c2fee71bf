// kernel/platform/exit.ts — ending the guest with a status the host can read.
// isa-debug-exit (port 0xf4) makes QEMU exit with (status << 1) | 1. Statuses
// mirror boot/hostif.h and cli/lib/status.ts; keep them below 128 so the
// shifted value survives the 8-bit process exit code.
import { outl, outb, halt } from "./host";

export const EXIT_SUCCESS: i32 = 0;
/** 1..63: the app's own failure codes (main's return value). */
export const EXIT_APP_MAX: i32 = 63;
export const EXIT_PANIC: i32 = 70;
export const EXIT_TRAP: i32 = 71;
export const EXIT_FAULT: i32 = 72;
export const EXIT_LOADER: i32 = 73;

const DEBUG_EXIT_PORT: u32 = 0xf4;
const I8042_COMMAND: u32 = 0x64;
const I8042_RESET: u32 = 0xfe;

/** Ends the guest. Falls back to a keyboard-controller reset (Firecracker's
 *  shutdown; QEMU -no-reboot exits) and finally to halting. */
export function exitGuest(status: i32): void {
  outl(DEBUG_EXIT_PORT, <u32>status);
  outb(I8042_COMMAND, I8042_RESET);
  halt();
}
