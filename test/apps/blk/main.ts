// test/apps/blk — virtio-blk system test guest (test/system/virtio.test.ts).
// Expects two disks: a writable one (blank) and a read-only one the host
// prepared. Writes a position-dependent pattern over the whole writable disk
// and flushes; reads the read-only disk and prints its FNV-1a checksum; checks
// that out-of-range requests and writes to the read-only disk fail without
// stopping the kernel. Prints `name ... ok` per case, exits 0 when all pass.
import { println, blkDevice, blkCount, VirtioBlk, blkErrorName, BLK_OK, BLK_ERR_RANGE, BLK_ERR_READ_ONLY, SECTOR_SIZE } from "skiff";

const CHUNK: u32 = 64 * 1024;
let failures = 0;

function check(name: string, ok: bool, detail: string = ""): void {
  println(name + " ... " + (ok ? "ok" : "FAILED " + detail));
  if (!ok) failures++;
}

/** The byte the pattern puts at disk offset off (the host recomputes it). */
function pattern(off: u64): u8 {
  const sector = off >> 9;
  return <u8>((off & 511) * 7 + sector * 13 + (sector >> 8));
}

export function main(): i32 {
  let rw: VirtioBlk | null = null;
  let ro: VirtioBlk | null = null;
  for (let i = 0; i < blkCount(); i++) {
    const d = blkDevice(i)!;
    if (!d.ready) continue;
    if (d.readOnly) ro = d; else rw = d;
  }
  check("two disks, one read-only", rw !== null && ro !== null);
  if (rw === null || ro === null) return 1;
  const buf = new Uint8Array(CHUNK);
  const p = buf.dataStart;

  // 1. The pattern across the whole writable disk, then a flush.
  const bytes = rw!.capacity * <u64>SECTOR_SIZE;
  let werr = BLK_OK;
  for (let off: u64 = 0; off < bytes && werr == BLK_OK; off += <u64>CHUNK) {
    let n = CHUNK;
    if (<u64>n > bytes - off) n = <u32>(bytes - off);
    for (let i: u32 = 0; i < n; i++) store<u8>(p + i, pattern(off + <u64>i));
    werr = rw!.writeSync(off >> 9, p, n);
  }
  check("write pattern over " + bytes.toString() + " bytes", werr == BLK_OK, blkErrorName(werr));
  const f = rw!.flushSync();
  check("flush", f == BLK_OK, blkErrorName(f));

  // 2. Read it back through the device too.
  let rerr = BLK_OK;
  let mismatch: i64 = -1;
  for (let off: u64 = 0; off < bytes && rerr == BLK_OK && mismatch < 0; off += <u64>CHUNK) {
    let n = CHUNK;
    if (<u64>n > bytes - off) n = <u32>(bytes - off);
    memory.fill(p, 0, n);
    rerr = rw!.readSync(off >> 9, p, n);
    for (let i: u32 = 0; i < n; i++) if (load<u8>(p + i) != pattern(off + <u64>i)) { mismatch = <i64>(off + <u64>i); break; }
  }
  check("read back pattern", rerr == BLK_OK && mismatch < 0, blkErrorName(rerr) + " mismatch at " + mismatch.toString());

  // 3. The host-prepared read-only image: FNV-1a 32 over every byte.
  const robytes = ro!.capacity * <u64>SECTOR_SIZE;
  let h: u32 = 0x811c9dc5;
  let roerr = BLK_OK;
  for (let off: u64 = 0; off < robytes && roerr == BLK_OK; off += <u64>CHUNK) {
    let n = CHUNK;
    if (<u64>n > robytes - off) n = <u32>(robytes - off);
    roerr = ro!.readSync(off >> 9, p, n);
    for (let i: u32 = 0; i < n; i++) { h ^= load<u8>(p + i); h *= 16777619; }
  }
  check("read prepared image", roerr == BLK_OK, blkErrorName(roerr));
  println("checksum " + robytes.toString() + " 0x" + h.toString(16));

  // 4. Errors surface to the caller; the kernel keeps going.
  const e1 = rw!.readSync(rw!.capacity, p, SECTOR_SIZE);
  check("read past the end fails", e1 == BLK_ERR_RANGE, blkErrorName(e1));
  const e2 = rw!.writeSync(rw!.capacity - 1, p, 2 * SECTOR_SIZE);
  check("write straddling the end fails", e2 == BLK_ERR_RANGE, blkErrorName(e2));
  const e3 = ro!.writeSync(0, p, SECTOR_SIZE);
  check("write to read-only disk fails", e3 == BLK_ERR_READ_ONLY, blkErrorName(e3));
  const e4 = rw!.readSync(0, p, SECTOR_SIZE);
  check("device still works after errors", e4 == BLK_OK && load<u8>(p + 1) == pattern(1), blkErrorName(e4));

  println(failures == 0 ? "blk: all ok" : "blk: " + failures.toString() + " failed");
  return failures == 0 ? 0 : 1;
}
