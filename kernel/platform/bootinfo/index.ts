// kernel/platform/bootinfo — what the boot protocol told us: command line, physical
// memory map, ACPI RSDP. The loader parses PVH's start_info or Multiboot2's
// tags once (boot/bootrecord.c); the kernel reads its record.
//   protocol.ts  BOOT_* and their names
//   record.ts    the loader's record copied into static buffers; the boot
//                path's allocation-free questions (cmdlineHas, ramEndFrom, ...)
//   info.ts      BootInfo: the same as objects, built on first use
//   cmdline.ts   the command line's words;  memmap.ts  E820 region types
//   phys.ts      readPhys: physical memory into a new array
export * from "./memmap";
export * from "./cmdline";
export * from "./protocol";
export { readPhys } from "./phys";
export { BootInfo, bootInfo, parseBootInfo } from "./info";
export {
  readBootRecord, bootProtocol, cmdline, cmdlineHas, memmapCount, memmapBase, memmapLength, memmapType,
  setMemmap, ramTotal, ramEndFrom, bootProblemCount,
} from "./record";
