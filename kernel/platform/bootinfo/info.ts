// kernel/platform/bootinfo/info.ts — the boot information as objects, for apps and the
// kernel's later subsystems: command line words, memory map, RSDP, boot
// loader name, problems. Built from the boot record's buffers (record.ts) on
// first call; the lists on first access, so an app that only prints the
// command line never builds the memory map.
import { MemRegion } from "./memmap";
import { Cmdline } from "./cmdline";
import { BOOT_UNKNOWN, protocolName } from "./protocol";
import {
  readBootRecord, cmdline, bootProtocol, bootRsdpAddress, bootRsdpCopy, bootLoaderName,
  memmapCount, memmapBase, memmapLength, memmapType, bootProblemCount, bootProblemText,
} from "./record";

export class BootInfo {
  protocol: u32 = BOOT_UNKNOWN;
  /** Physical address of the ACPI RSDP, or 0 (for Multiboot2 the tag carries
   *  a copy instead: rsdpCopy). */
  rsdp: u64 = 0;
  rsdpCopy: Uint8Array | null = null;
  bootloader: string = "";
  /** Set for the object bootInfo() returns: the lists below are then built
   *  from the boot record on first access. Not for apps. */
  rawBacked: bool = false;
  private cmdlineObj: Cmdline | null = null;
  private memmapList: MemRegion[] | null = null;
  private problemList: string[] | null = null;

  get cmdline(): Cmdline {
    let c = this.cmdlineObj;
    if (c === null) {
      c = new Cmdline(this.rawBacked ? cmdline() : "");
      this.cmdlineObj = c;
    }
    return c;
  }
  set cmdline(c: Cmdline) { this.cmdlineObj = c; }

  get memmap(): MemRegion[] {
    let m = this.memmapList;
    if (m === null) {
      m = new Array<MemRegion>();
      if (this.rawBacked) {
        const n = memmapCount();
        for (let i = 0; i < n; i++) m.push(new MemRegion(memmapBase(i), memmapLength(i), memmapType(i)));
      }
      this.memmapList = m;
    }
    return m;
  }
  set memmap(m: MemRegion[]) { this.memmapList = m; }

  /** What went wrong while reading, for the boot log; empty when all was well. */
  get problems(): string[] {
    let p = this.problemList;
    if (p === null) {
      p = new Array<string>();
      if (this.rawBacked) {
        const n = bootProblemCount();
        for (let i = 0; i < n; i++) p.push(bootProblemText(i));
      }
      this.problemList = p;
    }
    return p;
  }
  set problems(p: string[]) { this.problemList = p; }

  protocolName(): string {
    return protocolName(this.protocol);
  }
}

/** A BootInfo over the record's buffers; its lists are built on first access. */
function buildBootInfo(): BootInfo {
  const info = new BootInfo();
  info.rawBacked = true;
  info.protocol = bootProtocol();
  info.rsdp = bootRsdpAddress();
  info.rsdpCopy = bootRsdpCopy();
  info.bootloader = bootLoaderName();
  return info;
}

/** Reads the boot record at addr (for tests and tools; the kernel reads the
 *  loader's once through bootInfo()). Replaces the record's buffers, so the
 *  result is built in full now rather than on access. */
export function parseBootInfo(recordAddr: u64): BootInfo {
  readBootRecord(recordAddr);
  const info = buildBootInfo();
  info.cmdline; info.memmap; info.problems;
  info.rawBacked = false;
  current = info;
  return info;
}

// @ts-ignore: decorator
@lazy
let current: BootInfo | null = null;

/** The boot information as objects, built on first call; later calls return
 *  the same object. */
export function bootInfo(): BootInfo {
  let c = current;
  if (c === null) {
    c = buildBootInfo();
    current = c;
  }
  return c;
}
