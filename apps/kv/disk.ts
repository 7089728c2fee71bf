// apps/kv/disk.ts — the block device the kv log is written to, as a small
// synchronous interface: the guest backs it with a virtio-blk device (main.ts),
// unit tests with an in-memory disk that can simulate a crash. Offsets and
// lengths are in bytes and multiples of DISK_SECTOR.

export const DISK_SECTOR: i32 = 512;

export abstract class KvDisk {
  /** Size in bytes (a multiple of DISK_SECTOR). */
  abstract size(): u64;
  /** Reads len bytes at off into buf; 0 or a negative error. */
  abstract read(off: u64, buf: usize, len: i32): i32;
  /** Writes len bytes at off from buf; 0 or a negative error. Not durable
   *  until flush() returns 0. */
  abstract write(off: u64, buf: usize, len: i32): i32;
  /** Makes every completed write durable; 0 or a negative error. */
  abstract flush(): i32;
}
