// test/unit/wasm/bootinfo.ts — drives kernel/platform/bootinfo and the console from Node.
import { abortHandler } from "../../../kernel/core/panic";
import { parseBootInfo, BootInfo, Cmdline, wordsHave, cmdline as bootCmdline } from "../../../kernel/platform/bootinfo";
import * as console from "../../../kernel/core/console";
import { BANNER, KERNEL_NAME, KERNEL_VERSION } from "../../../kernel/core/version";

let last: BootInfo | null = null;

/** Reads the boot record at addr (made by boot/bootrecord.c); the memory map's length. */
export function parse(addr: u64): i32 {
  const b = parseBootInfo(addr);
  last = b;
  return b.memmap.length;
}
export function cmdline(): string { return last!.cmdline.raw; }
/** The kernel's cmdline() (ASCII fast path or UTF-8) for the last parse. */
export function cmdlineText(): string { return bootCmdline(); }
export function problems(): string { return last!.problems.join("|"); }
export function region(i: i32): string {
  const r = last!.memmap[i];
  return "0x" + r.base.toString(16) + "+0x" + r.length.toString(16) + ":" + r.type.toString();
}
export function rsdp(): u64 { return last!.rsdp; }
export function bootloader(): string { return last!.bootloader; }
export function protocol(): u32 { return last!.protocol; }
export function rsdpCopyLength(): i32 { const c = last!.rsdpCopy; return c === null ? -1 : c.length; }

let cl: Cmdline | null = null;
export function parseCmdline(s: string): i32 { cl = new Cmdline(s); return cl!.args.length; }
export function cmdGet(k: string): string | null { return cl!.get(k); }
export function cmdAll(k: string): string { return cl!.all(k).join(","); }
/** The allocation-free check the boot path uses, on s as UTF-8. */
export function rawHas(s: string, k: string): bool {
  const b = String.UTF8.encode(s);
  return wordsHave(changetype<usize>(b), b.byteLength, k);
}
export function cmdHas(k: string): bool { return cl!.has(k); }

export function bannerMatches(): bool { return BANNER == KERNEL_NAME + " " + KERNEL_VERSION + " (booted via "; }
export function consoleInit(): void { console.init(); }
export function consoleNumbers(v: u64): void { console.printDec(v); console.print(" "); console.printHex(v); console.println(""); }
export function consolePrint(s: string): void { console.println(s); }
export function dmesg(): string { return console.dmesg(); }

export function abortNow(): void { throw new Error("test abort"); }
export { abortHandler };
