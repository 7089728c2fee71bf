// cli/lib/hosted/bootrecord.ts — the boot record `skiff dev` hands the kernel
// in place of the loader's (boot/bootrecord.h owns the layout; the kernel
// reads it in kernel/platform/bootinfo/record.ts; test/unit/shared-facts.test.ts
// holds these offsets to the header): PVH-booted, a command line, a memory map.

export const BOOT_RECORD = {
  MAGIC: 0x52424b53,
  SIZE: 7528,
  PROTOCOL: 4,
  PVH_VERSION: 8,
  CMDLINE_LEN: 12,
  MEMMAP_COUNT: 16,
  MEMMAP: 360,
  CMDLINE: 3432,
  CMDLINE_MAX: 4096,
  ENTRY_BYTES: 24,
} as const;

/** A record saying: PVH v1, this command line (cut to 4096 bytes), these RAM regions. */
export function bootRecord(cmdline: string, ram: { base: bigint; length: bigint }[]): Buffer {
  const R = BOOT_RECORD;
  const b = Buffer.alloc(R.SIZE);
  b.writeUInt32LE(R.MAGIC, 0);
  b.writeUInt32LE(1, R.PROTOCOL);                 // BOOT_PVH
  b.writeInt32LE(1, R.PVH_VERSION);
  const cmd = Buffer.from(cmdline, "latin1").subarray(0, R.CMDLINE_MAX);
  cmd.copy(b, R.CMDLINE);
  b.writeUInt32LE(cmd.length, R.CMDLINE_LEN);
  ram.forEach((r, i) => {
    const o = R.MEMMAP + i * R.ENTRY_BYTES;
    b.writeBigUInt64LE(r.base, o); b.writeBigUInt64LE(r.length, o + 8); b.writeUInt32LE(1, o + 16);   // E820 RAM
  });
  b.writeUInt32LE(ram.length, R.MEMMAP_COUNT);
  return b;
}
