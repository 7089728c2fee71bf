// kernel/platform/bootinfo/protocol.ts — what the loader's boot_protocol() returns
// (boot/hostif.h owns the values; test/unit/shared-facts.test.ts holds these to them).

export const BOOT_UNKNOWN: u32 = 0;
export const BOOT_PVH: u32 = 1;
export const BOOT_MULTIBOOT2: u32 = 2;

export function protocolName(protocol: u32): string {
  if (protocol == BOOT_PVH) return "PVH";
  if (protocol == BOOT_MULTIBOOT2) return "Multiboot2";
  return "unknown";
}
