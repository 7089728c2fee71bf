// test/apps/dumpboot — prints the raw PVH start_info, its memory map and command
// line as hex, to capture real samples for the boot-info unit tests.
import { println } from "skiff";
import { readPhys } from "skiff/kernel/platform/bootinfo";
import { boot_info, boot_protocol } from "skiff/kernel/platform";

function hex(b: Uint8Array | null): string {
  if (b === null) return "null";
  let s = "";
  for (let i = 0; i < b.length; i++) s += (<u32>b[i]).toString(16).padStart(2, "0");
  return s;
}

export function main(): i32 {
  const addr = boot_info();
  println("protocol=" + boot_protocol().toString() + " addr=0x" + addr.toString(16));
  const si = readPhys(addr, 56);
  println("start_info=" + hex(si));
  if (si !== null && boot_protocol() == 1) {
    const cmd = load<u64>(si.dataStart + 24);
    const mm = load<u64>(si.dataStart + 40);
    const n = load<u32>(si.dataStart + 48);
    println("cmdline@0x" + cmd.toString(16) + "=" + hex(readPhys(cmd, 64)));
    println("memmap@0x" + mm.toString(16) + "=" + hex(readPhys(mm, n * 24)));
  }
  if (boot_protocol() == 2) {
    const head = readPhys(addr, 8);
    const total = load<u32>(head!.dataStart);
    println("mb2=" + hex(readPhys(addr, total)));
  }
  return 0;
}
