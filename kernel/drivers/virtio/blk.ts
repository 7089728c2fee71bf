// kernel/drivers/virtio/blk.ts — virtio block device driver (virtio 1.2 §5.2):
// capacity, sector read/write, flush (VIRTIO_BLK_F_FLUSH), read-only devices
// (VIRTIO_BLK_F_RO) refused for writes, and an asynchronous request API: a
// request completes from the device's interrupt (run by the event loop) and
// calls its BlkCallback; a request in flight holds the loop open. The *Sync
// helpers poll the device until the request is done.
import { hold, release } from "../../core/sched";
import { VirtioDevice } from "./device";
import { Transport } from "./transport/transport";
import { dmaAlloc, physAddr } from "./dma";

// Feature bits (§5.2.3).
export const VIRTIO_BLK_F_SIZE_MAX: u32 = 1;
export const VIRTIO_BLK_F_SEG_MAX: u32 = 2;
export const VIRTIO_BLK_F_RO: u32 = 5;
export const VIRTIO_BLK_F_BLK_SIZE: u32 = 6;
export const VIRTIO_BLK_F_FLUSH: u32 = 9;

// Configuration layout (§5.2.4): capacity le64 @0 (512-byte sectors),
// size_max le32 @8, seg_max le32 @12, geometry @16, blk_size le32 @20.
const CFG_CAPACITY: u32 = 0;
const CFG_BLK_SIZE: u32 = 20;

// Request types and status (§5.2.6).
const VIRTIO_BLK_T_IN: u32 = 0;
const VIRTIO_BLK_T_OUT: u32 = 1;
const VIRTIO_BLK_T_FLUSH: u32 = 4;
const VIRTIO_BLK_S_OK: u8 = 0;
const VIRTIO_BLK_S_IOERR: u8 = 1;
const VIRTIO_BLK_S_UNSUPP: u8 = 2;

export const SECTOR_SIZE: u32 = 512;

// Request outcomes, as BlkRequest.status.
export const BLK_OK: i32 = 0;
export const BLK_PENDING: i32 = 1;
export const BLK_ERR_IO: i32 = -1;           // the device said VIRTIO_BLK_S_IOERR
export const BLK_ERR_UNSUPPORTED: i32 = -2;  // VIRTIO_BLK_S_UNSUPP, or flush not offered
export const BLK_ERR_RANGE: i32 = -3;        // beyond capacity
export const BLK_ERR_READ_ONLY: i32 = -4;    // write to a VIRTIO_BLK_F_RO device
export const BLK_ERR_BUSY: i32 = -5;         // no free request slot / descriptors
export const BLK_ERR_ARG: i32 = -6;          // length not a multiple of 512, or 0
export const BLK_ERR_TIMEOUT: i32 = -7;      // a synchronous wait gave up
export const BLK_ERR_DEVICE: i32 = -8;       // device not ready / failed

export function blkErrorName(e: i32): string {
  if (e == BLK_OK) return "ok";
  if (e == BLK_PENDING) return "pending";
  if (e == BLK_ERR_IO) return "I/O error";
  if (e == BLK_ERR_UNSUPPORTED) return "unsupported";
  if (e == BLK_ERR_RANGE) return "out of range";
  if (e == BLK_ERR_READ_ONLY) return "read-only device";
  if (e == BLK_ERR_BUSY) return "queue full";
  if (e == BLK_ERR_ARG) return "bad length";
  if (e == BLK_ERR_TIMEOUT) return "timed out";
  return "device unavailable";
}

export abstract class BlkCallback {
  abstract done(req: BlkRequest): void;
}

export const BLK_READ: u32 = VIRTIO_BLK_T_IN;
export const BLK_WRITE: u32 = VIRTIO_BLK_T_OUT;
export const BLK_FLUSH: u32 = VIRTIO_BLK_T_FLUSH;

/** One request. The caller keeps the buffer (any linear memory) untouched
 *  until status is no longer BLK_PENDING. */
export class BlkRequest {
  status: i32 = BLK_PENDING;
  callback: BlkCallback | null = null;
  constructor(public op: u32, public sector: u64, public buf: usize, public len: u32) {}
}

/** Most requests in flight: each takes 3 descriptors and a 32-byte slot. */
const MAX_SLOTS: i32 = 64;

export class VirtioBlk extends VirtioDevice {
  /** Capacity in 512-byte sectors. */
  capacity: u64 = 0;
  blockSize: u32 = SECTOR_SIZE;
  readOnly: bool = false;
  canFlush: bool = false;
  reads: u64 = 0;
  writes: u64 = 0;
  /** Bytes moved by completed reads and writes. */
  readBytes: u64 = 0;
  writeBytes: u64 = 0;
  flushes: u64 = 0;
  errors: u64 = 0;
  /** Requests whose completion was found by the interrupt path. */
  irqCompletions: u64 = 0;

  private slotMem: usize = 0;       // per slot: header 16 bytes, status byte at +16
  private slots: Array<BlkRequest | null> = new Array<BlkRequest | null>(MAX_SLOTS);
  private nslots: i32 = 0;

  constructor(t: Transport) {
    super(t);
  }

  acceptFeatures(offered: u64): u64 {
    return (<u64>1 << VIRTIO_BLK_F_RO) | (<u64>1 << VIRTIO_BLK_F_FLUSH) | (<u64>1 << VIRTIO_BLK_F_BLK_SIZE);
  }

  queueCount(): i32 { return 1; }

  setup(): bool {
    const t = this.transport;
    this.capacity = t.readConfig64(CFG_CAPACITY);
    if (this.has(VIRTIO_BLK_F_BLK_SIZE)) {
      const bs = t.readConfig32(CFG_BLK_SIZE);
      if (bs >= SECTOR_SIZE && (bs & (bs - 1)) == 0) this.blockSize = bs;
    }
    this.readOnly = this.has(VIRTIO_BLK_F_RO);
    this.canFlush = this.has(VIRTIO_BLK_F_FLUSH);
    const q = this.queues[0];
    let n = <i32>(q.size / 3);
    if (n > MAX_SLOTS) n = MAX_SLOTS;
    if (n < 1) { this.problem = "queue too small (" + q.size.toString() + ")"; return false; }
    this.nslots = n;
    this.slotMem = dmaAlloc(<usize>(32 * n));
    if (this.slotMem == 0) { this.problem = "out of memory for request headers"; return false; }
    return true;
  }

  detail(): string {
    return "capacity " + this.capacity.toString() + " sectors (" + (this.capacity >> 11).toString() + " MiB)" +
      (this.readOnly ? " read-only" : "") + (this.canFlush ? " flush" : "");
  }

  /** Queues req. Returns BLK_PENDING when queued; otherwise the request is
   *  refused with an error (also stored in req.status, callback not called). */
  submit(req: BlkRequest): i32 {
    const e = this.check(req);
    if (e != BLK_PENDING) { req.status = e; this.errors++; return e; }
    let slot = -1;
    for (let i = 0; i < this.nslots; i++) if (this.slots[i] === null) { slot = i; break; }
    const q = this.queues[0];
    if (slot < 0 || q.numFree < 3) { req.status = BLK_ERR_BUSY; return BLK_ERR_BUSY; }
    const h = this.slotMem + <usize>(32 * slot);
    // struct virtio_blk_req (§5.2.6): type le32, reserved le32, sector le64 ...
    store<u32>(h, req.op, 0);
    store<u32>(h, 0, 4);
    store<u64>(h, req.op == VIRTIO_BLK_T_FLUSH ? 0 : req.sector, 8);   // FLUSH: sector 0 (§5.2.6.1)
    store<u8>(h, 0xff, 16);                                           // status, written by the device
    const hp = physAddr(h);
    q.push(hp, 16, false);
    if (req.op != VIRTIO_BLK_T_FLUSH) q.push(physAddr(req.buf), req.len, req.op == VIRTIO_BLK_T_IN);
    q.push(hp + 16, 1, true);
    if (q.submit(<u32>slot) < 0) { req.status = BLK_ERR_BUSY; return BLK_ERR_BUSY; }
    this.slots[slot] = req;
    req.status = BLK_PENDING;
    // In flight: the event loop stays up until the device answers.
    hold();
    this.kick(q);
    return BLK_PENDING;
  }

  private check(req: BlkRequest): i32 {
    if (!this.ready) return BLK_ERR_DEVICE;
    if (req.op == VIRTIO_BLK_T_FLUSH) return this.canFlush ? BLK_PENDING : BLK_ERR_UNSUPPORTED;
    if (req.op != VIRTIO_BLK_T_IN && req.op != VIRTIO_BLK_T_OUT) return BLK_ERR_ARG;
    if (req.len == 0 || req.len % SECTOR_SIZE != 0) return BLK_ERR_ARG;
    // §5.2.6.1: never read or write beyond capacity.
    const count = <u64>(req.len / SECTOR_SIZE);
    if (req.sector >= this.capacity || count > this.capacity - req.sector) return BLK_ERR_RANGE;
    // §5.2.6.1: no writes when VIRTIO_BLK_F_RO was offered.
    if (req.op == VIRTIO_BLK_T_OUT && this.readOnly) return BLK_ERR_READ_ONLY;
    return BLK_PENDING;
  }

  service(): void {
    const q = this.queues[0];
    while (q.popUsed()) {
      const slot = <i32>q.usedToken;
      if (slot < 0 || slot >= this.nslots) continue;
      const req = this.slots[slot];
      this.slots[slot] = null;
      if (req === null) continue;
      release();
      if (this.inIrq) this.irqCompletions++;
      const s = load<u8>(this.slotMem + <usize>(32 * slot), 16);
      if (s == VIRTIO_BLK_S_OK) {
        req.status = BLK_OK;
        if (req.op == VIRTIO_BLK_T_IN) { this.reads++; this.readBytes += <u64>req.len; }
        else if (req.op == VIRTIO_BLK_T_OUT) { this.writes++; this.writeBytes += <u64>req.len; }
        else this.flushes++;
      } else {
        req.status = s == VIRTIO_BLK_S_UNSUPP ? BLK_ERR_UNSUPPORTED : BLK_ERR_IO;
        this.errors++;
      }
      const cb = req.callback;
      if (cb !== null) cb.done(req);
    }
  }

  busy(): bool {
    return this.ready && this.queues[0].inFlight() != 0;
  }

  /** Polls until req completes (no interrupts needed). */
  wait(req: BlkRequest): i32 {
    for (let spins = 0; spins < 50000000; spins++) {
      if (req.status != BLK_PENDING) return req.status;
      this.interrupt();
    }
    return BLK_ERR_TIMEOUT;
  }

  read(sector: u64, buf: usize, len: u32, cb: BlkCallback | null = null): BlkRequest {
    const r = new BlkRequest(VIRTIO_BLK_T_IN, sector, buf, len);
    r.callback = cb;
    this.submit(r);
    return r;
  }
  write(sector: u64, buf: usize, len: u32, cb: BlkCallback | null = null): BlkRequest {
    const r = new BlkRequest(VIRTIO_BLK_T_OUT, sector, buf, len);
    r.callback = cb;
    this.submit(r);
    return r;
  }
  flush(cb: BlkCallback | null = null): BlkRequest {
    const r = new BlkRequest(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
    r.callback = cb;
    this.submit(r);
    return r;
  }

  readSync(sector: u64, buf: usize, len: u32): i32 {
    const r = this.read(sector, buf, len);
    return r.status == BLK_PENDING ? this.wait(r) : r.status;
  }
  writeSync(sector: u64, buf: usize, len: u32): i32 {
    const r = this.write(sector, buf, len);
    return r.status == BLK_PENDING ? this.wait(r) : r.status;
  }
  flushSync(): i32 {
    const r = this.flush();
    return r.status == BLK_PENDING ? this.wait(r) : r.status;
  }
}
