// kernel/core/panic.ts — AssemblyScript's abort() and the kernel's own panic: print
// what broke and where, then end the guest with EXIT_PANIC. Only for broken
// invariants; expected failures return error values instead (docs/HACKING.md).
//
// abortHandler is installed with `asc --use abort=...`. asc compiles it before
// most of the program, so it must not touch module globals or allocate: it
// writes straight to COM1 through the platform layer.
import { println } from "./console";
import { exitGuest, exitGuestNow, EXIT_PANIC, inb, outb, fault_abort } from "../platform";

let panicking = false;

export function panic(message: string): void {
  if (panicking) exitGuest(EXIT_PANIC);   // a panic while printing one
  panicking = true;
  println("");
  println("*** kernel panic: " + message);
  exitGuest(EXIT_PANIC);
}

function rawPutc(c: u32): void {
  // COM1 written as literals: module constants are not yet initialised when asc
  // compiles abort ahead of the rest.
  for (let i = 0; i < 20000000; i++) if ((inb(0x3fd) & 0x20) != 0) break;
  outb(0x3f8, c);
}

/** Prints an AssemblyScript string (UTF-16; byte length at ptr - 4) as ASCII. */
function rawPuts(s: usize): void {
  if (s == 0) { rawPutc(0x3f); return; }
  const bytes = load<u32>(s - 4);
  for (let i: usize = 0; i < <usize>bytes; i += 2) {
    const c = <u32>load<u16>(s + i);
    rawPutc(c < 0x80 ? c : 0x3f);
  }
}

function rawPutDec(v: u32): void {
  let div: u32 = 1000000000;
  let started = false;
  while (div > 0) {
    const d = (v / div) % 10;
    if (d != 0 || started || div == 1) { rawPutc(0x30 + d); started = true; }
    div /= 10;
  }
}

export function abortHandler(message: usize, fileName: usize, line: u32, column: u32): void {
  // Inside a guarded call (an app's handler, task or timer: kernel/core/fault.ts)
  // this does not return: the call ends with FAULT_ABORT and the kernel logs it.
  fault_abort(message, fileName, line, column);
  rawPutc(0x0d); rawPutc(0x0a);
  rawPuts(changetype<usize>("*** kernel panic: abort: "));
  rawPuts(message);
  rawPuts(changetype<usize>(" at "));
  rawPuts(fileName);
  rawPutc(0x3a); rawPutDec(line);
  rawPutc(0x3a); rawPutDec(column);
  rawPutc(0x0d); rawPutc(0x0a);
  exitGuestNow(EXIT_PANIC);
}
