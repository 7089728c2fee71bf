// test/unit/virtio-sim.ts — the device side of a split virtqueue (virtio 1.2
// §2.7), written independently of kernel/drivers/virtio/queue.ts, reading and writing
// the rings in the Wasm module's linear memory (phys = linearBase + offset).
// Used by the virtqueue unit tests and the fake virtio-mmio devices.
import type { MmioDevice } from "../platform/host.js";

export interface Seg { addr: bigint; len: number; write: boolean }
export interface Chain { head: number; segs: Seg[] }

export const needEvent = (ev: number, nw: number, old: number) =>
  ((nw - ev - 1) & 0xffff) < ((nw - old) & 0xffff);

export class SimQueue {
  lastAvail = 0;
  usedIdx = 0;
  interrupts = 0;
  constructor(
    private mem: () => WebAssembly.Memory,
    private linearBase: bigint,
    public desc: bigint, public avail: bigint, public used: bigint,
    public size: number, public eventIdx: boolean,
  ) {}
  private dv(): DataView { return new DataView(this.mem().buffer); }
  private off(phys: bigint): number {
    const o = phys - this.linearBase;
    if (o < 0n || o >= BigInt(this.mem().buffer.byteLength)) throw new Error(`device DMA outside linear memory: 0x${phys.toString(16)}`);
    return Number(o);
  }
  availIdx(): number { return this.dv().getUint16(this.off(this.avail) + 2, true); }
  availFlags(): number { return this.dv().getUint16(this.off(this.avail), true); }
  usedEvent(): number { return this.dv().getUint16(this.off(this.avail) + 4 + 2 * this.size, true); }
  pending(): number { return (this.availIdx() - this.lastAvail) & 0xffff; }

  /** Takes the next available chain (following NEXT), or null. */
  next(): Chain | null {
    if (this.pending() === 0) return null;
    const dv = this.dv();
    const head = dv.getUint16(this.off(this.avail) + 4 + 2 * (this.lastAvail % this.size), true);
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    const segs: Seg[] = [];
    let id = head;
    for (let n = 0; n <= this.size; n++) {
      if (id >= this.size) throw new Error(`descriptor id ${id} out of range`);
      const d = this.off(this.desc) + 16 * id;
      const flags = dv.getUint16(d + 12, true);
      segs.push({ addr: dv.getBigUint64(d, true), len: dv.getUint32(d + 8, true), write: (flags & 2) !== 0 });
      if (!(flags & 1)) return { head, segs };
      id = dv.getUint16(d + 14, true);
    }
    throw new Error("descriptor chain loops");
  }

  /** Puts a used element; returns whether the device would interrupt now
   *  (§2.7.7 flags, or §2.7.10 used_event with EVENT_IDX). */
  complete(head: number, len: number): boolean {
    const dv = this.dv();
    const u = this.off(this.used);
    const slot = u + 4 + 8 * (this.usedIdx % this.size);
    dv.setUint32(slot, head, true);
    dv.setUint32(slot + 4, len, true);
    const old = this.usedIdx;
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    dv.setUint16(u + 2, this.usedIdx, true);
    const fire = this.eventIdx ? needEvent(this.usedEvent(), this.usedIdx, old) : (this.availFlags() & 1) === 0;
    if (fire) this.interrupts++;
    return fire;
  }

  /** Device-side suppression of notifications (§2.7.7, §2.7.10). */
  setAvailEvent(v: number): void { this.dv().setUint16(this.off(this.used) + 4 + 8 * this.size, v & 0xffff, true); }
  setNoNotify(on: boolean): void { this.dv().setUint16(this.off(this.used), on ? 1 : 0, true); }

  /** Reads bytes a segment points at. */
  read(seg: Seg, len = seg.len): Uint8Array { const o = this.off(seg.addr); return new Uint8Array(this.mem().buffer).slice(o, o + len); }
  write(seg: Seg, data: Uint8Array): void { new Uint8Array(this.mem().buffer).set(data.subarray(0, seg.len), this.off(seg.addr)); }
}

/** A queue's registers as the driver programmed them. */
export interface QueueRegs { num: number; ready: number; desc: bigint; driver: bigint; device: bigint }

/**
 * The virtio-mmio transport's registers (virtio 1.2 §4.2.2) for fake devices:
 * magic, version, IDs, the feature windows, queue selection and addresses,
 * status. A device supplies its ID, features, queue size and configuration
 * space, and reacts to notifications and status writes.
 */
export abstract class FakeMmioTransport implements MmioDevice {
  size = 0x200n;
  status = 0;
  devSel = 0; drvSel = 0;
  driverFeatures = [0, 0];
  queueSel = 0;
  queues = new Map<number, QueueRegs>();
  constructor(public base: bigint) {}
  abstract deviceId(): number;
  abstract features(): bigint;
  version(): number { return 2; }
  queueMax(): number { return 64; }
  /** Device configuration space (offset from 0x100). */
  config(_off: number, _w: number): bigint { return 0n; }
  notified(_queue: number): void {}
  /** A status write: returns what the register then holds. */
  statusWritten(v: number): number { return v; }
  q(): QueueRegs {
    let e = this.queues.get(this.queueSel);
    if (!e) { e = { num: 0, ready: 0, desc: 0n, driver: 0n, device: 0n }; this.queues.set(this.queueSel, e); }
    return e;
  }
  read(off: bigint, w: number): bigint {
    const o = Number(off);
    if (o >= 0x100) return this.config(o - 0x100, w);
    const f = this.features();
    switch (o) {
      case 0x000: return 0x74726976n;                // "virt"
      case 0x004: return BigInt(this.version());
      case 0x008: return BigInt(this.deviceId());
      case 0x00c: return 0x554d4551n;                // vendor "QEMU"
      case 0x010: return this.devSel === 0 ? f & 0xffffffffn : f >> 32n;
      case 0x034: return BigInt(this.queueMax());
      case 0x044: return BigInt(this.q().ready);
      case 0x070: return BigInt(this.status);
    }
    return 0n;
  }
  write(off: bigint, _w: number, v: bigint): void {
    const o = Number(off), n = Number(v);
    switch (o) {
      case 0x014: this.devSel = n; break;
      case 0x024: this.drvSel = n; break;
      case 0x020: this.driverFeatures[this.drvSel] = n; break;
      case 0x030: this.queueSel = n; break;
      case 0x038: this.q().num = n; break;
      case 0x044: this.q().ready = n; break;
      case 0x080: this.q().desc = (this.q().desc & ~0xffffffffn) | v; break;
      case 0x090: this.q().driver = (this.q().driver & ~0xffffffffn) | v; break;
      case 0x0a0: this.q().device = (this.q().device & ~0xffffffffn) | v; break;
      case 0x050: this.notified(n); break;
      case 0x070: this.status = this.statusWritten(n); if (n === 0) this.queues.clear(); break;
    }
  }
}
