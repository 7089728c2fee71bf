// kernel/drivers/virtio/transport/mmio.ts — virtio over MMIO, version 2 ("modern")
// registers (virtio 1.2 §4.2.2). Devices are found from the boot command line
// (`virtio_mmio.device=SIZE@ADDR:IRQ`, appended by QEMU microvm and
// Firecracker). A version 1 (legacy) device is reported, never driven.
import { mmio_read8, mmio_read16, mmio_read32, mmio_write32 } from "../../../platform";
import { IrqHandler, irqForGsi, freeVector } from "../../../core/irq";
import { Transport, ISR_QUEUE } from "./transport";

// Register offsets (§4.2.2, table "MMIO Device Register Layout").
const MAGIC_VALUE: u64 = 0x000;          // "virt" = 0x74726976
const VERSION: u64 = 0x004;              // 2 for virtio 1.x devices, 1 for legacy
const DEVICE_ID: u64 = 0x008;            // 0: a placeholder with no device
const VENDOR_ID: u64 = 0x00c;
const DEVICE_FEATURES: u64 = 0x010;
const DEVICE_FEATURES_SEL: u64 = 0x014;
const DRIVER_FEATURES: u64 = 0x020;
const DRIVER_FEATURES_SEL: u64 = 0x024;
const QUEUE_SEL: u64 = 0x030;
const QUEUE_NUM_MAX: u64 = 0x034;
const QUEUE_NUM: u64 = 0x038;
const QUEUE_READY: u64 = 0x044;
const QUEUE_NOTIFY: u64 = 0x050;
const INTERRUPT_STATUS: u64 = 0x060;
const INTERRUPT_ACK: u64 = 0x064;
const STATUS: u64 = 0x070;
const QUEUE_DESC_LOW: u64 = 0x080;
const QUEUE_DESC_HIGH: u64 = 0x084;
const QUEUE_DRIVER_LOW: u64 = 0x090;
const QUEUE_DRIVER_HIGH: u64 = 0x094;
const QUEUE_DEVICE_LOW: u64 = 0x0a0;
const QUEUE_DEVICE_HIGH: u64 = 0x0a4;
const CONFIG_GENERATION: u64 = 0x0fc;
const CONFIG: u64 = 0x100;

export const MMIO_MAGIC: u32 = 0x74726976;

/** One `virtio_mmio.device=` entry: where the registers are and the GSI. */
export class MmioSlot {
  constructor(public base: u64, public size: u64, public irq: u32) {}
}

/** Parses `SIZE@ADDR:IRQ[:ID]` (Linux virtio_mmio's format; SIZE may end in
 *  K/M/G, numbers may be 0x-hex). Returns null for malformed text. */
export function parseMmioSlot(s: string): MmioSlot | null {
  const at = s.indexOf("@");
  if (at <= 0) return null;
  const colon = s.indexOf(":", at);
  if (colon < 0) return null;
  let colon2 = s.indexOf(":", colon + 1);
  if (colon2 < 0) colon2 = s.length;
  const size = parseNumber(s.substring(0, at));
  const base = parseNumber(s.substring(at + 1, colon));
  const irq = parseNumber(s.substring(colon + 1, colon2));
  if (size <= 0 || base < 0 || irq < 0 || irq > 255) return null;
  return new MmioSlot(<u64>base, <u64>size, <u32>irq);
}

/** A decimal or 0x-hex number with an optional K/M/G suffix; -1 if malformed. */
function parseNumber(t: string): i64 {
  let s = t;
  let shift: i32 = 0;
  if (s.length == 0) return -1;
  const last = s.charCodeAt(s.length - 1) | 0x20;
  if (!(s.length > 2 && (s.charCodeAt(1) | 0x20) == 0x78)) {
    if (last == 0x6b) shift = 10;
    else if (last == 0x6d) shift = 20;
    else if (last == 0x67) shift = 30;
    if (shift != 0) s = s.substring(0, s.length - 1);
  }
  let radix: i64 = 10;
  let i = 0;
  if (s.length > 2 && s.charCodeAt(0) == 0x30 && (s.charCodeAt(1) | 0x20) == 0x78) { radix = 16; i = 2; }
  if (i >= s.length) return -1;
  let v: i64 = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let d: i64 = -1;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (radix == 16 && (c | 0x20) >= 0x61 && (c | 0x20) <= 0x66) d = (c | 0x20) - 0x61 + 10;
    if (d < 0) return -1;
    v = v * radix + d;
    if (v > 0xffffffffffff) return -1;
  }
  return v << shift;
}

export class MmioTransport extends Transport {
  private vector: i32 = -1;

  constructor(public base: u64, public irq: u32) {
    super();
  }

  // The slot's interrupt is an I/O APIC input (GSI), routed edge-triggered,
  // active high, as Firecracker and QEMU microvm raise it: the line goes up
  // when InterruptStatus becomes non-zero and down at InterruptACK, so every
  // notification after our acknowledgement is a fresh rising edge (§4.2.2).
  ownInterrupt(): bool { return true; }

  attachInterrupts(status: IrqHandler, queues: IrqHandler, config: IrqHandler): bool {
    const v = irqForGsi(this.irq, status, false, false);
    if (v < 0) {
      this.irqMode = "poll (gsi " + this.irq.toString() + " not routable)";
      return false;
    }
    this.vector = v;
    this.irqMode = "gsi " + this.irq.toString() + " edge vector 0x" + v.toString(16);
    return true;
  }

  detachInterrupts(): void {
    if (this.vector >= 0) freeVector(<u32>this.vector);
    this.vector = -1;
  }

  private r(off: u64): u32 { return mmio_read32(this.base + off); }
  private w(off: u64, v: u32): void { mmio_write32(this.base + off, v); }

  magic(): u32 { return this.r(MAGIC_VALUE); }
  version(): u32 { return this.r(VERSION); }
  vendorId(): u32 { return this.r(VENDOR_ID); }

  kind(): string { return "mmio"; }
  location(): string { return "mmio@0x" + this.base.toString(16) + " irq " + this.irq.toString(); }
  deviceType(): u32 { return this.r(DEVICE_ID); }

  getStatus(): u32 { return this.r(STATUS); }
  setStatus(s: u32): void { this.w(STATUS, s); }

  deviceFeatures(): u64 {
    this.w(DEVICE_FEATURES_SEL, 0);
    const lo = <u64>this.r(DEVICE_FEATURES);
    this.w(DEVICE_FEATURES_SEL, 1);
    const hi = <u64>this.r(DEVICE_FEATURES);
    return (hi << 32) | lo;
  }

  setDriverFeatures(f: u64): void {
    this.w(DRIVER_FEATURES_SEL, 0);
    this.w(DRIVER_FEATURES, <u32>f);
    this.w(DRIVER_FEATURES_SEL, 1);
    this.w(DRIVER_FEATURES, <u32>(f >> 32));
  }

  queueMaxSize(q: u32): u32 {
    this.w(QUEUE_SEL, q);
    // §4.2.3.2: a queue already marked ready is not ours to set up.
    if (this.r(QUEUE_READY) != 0) return 0;
    return this.r(QUEUE_NUM_MAX);
  }

  // §4.2.3.2 "Virtqueue Configuration": select, size, three addresses, ready.
  enableQueue(q: u32, size: u32, desc: u64, driver: u64, device: u64): bool {
    this.w(QUEUE_SEL, q);
    if (this.r(QUEUE_READY) != 0) return false;
    const max = this.r(QUEUE_NUM_MAX);
    if (max == 0 || size > max) return false;
    this.w(QUEUE_NUM, size);
    this.w(QUEUE_DESC_LOW, <u32>desc);
    this.w(QUEUE_DESC_HIGH, <u32>(desc >> 32));
    this.w(QUEUE_DRIVER_LOW, <u32>driver);
    this.w(QUEUE_DRIVER_HIGH, <u32>(driver >> 32));
    this.w(QUEUE_DEVICE_LOW, <u32>device);
    this.w(QUEUE_DEVICE_HIGH, <u32>(device >> 32));
    this.w(QUEUE_READY, 1);
    return true;
  }

  // §4.2.3.3: the queue index written to QueueNotify (no VIRTIO_F_NOTIFICATION_DATA).
  notify(q: u32): void { this.w(QUEUE_NOTIFY, q); }

  // §4.2.3.4: read InterruptStatus, write the bits handled to InterruptACK.
  ackInterrupt(): u32 {
    const s = this.r(INTERRUPT_STATUS);
    if (s != 0) this.w(INTERRUPT_ACK, s);
    return s;
  }

  configGeneration(): u32 { return this.r(CONFIG_GENERATION); }
  // §4.2.2.2: device configuration fields are read at their own width
  // (8-bit fields with 8-bit accesses, 16 with 16, 32 and 64 with 32).
  readConfig8(off: u32): u32 { return mmio_read8(this.base + CONFIG + <u64>off); }
  readConfig16(off: u32): u32 { return mmio_read16(this.base + CONFIG + <u64>off); }
  readConfig32(off: u32): u32 { return this.r(CONFIG + <u64>off); }
  writeConfig32(off: u32, v: u32): void { this.w(CONFIG + <u64>off, v); }
}

export { ISR_QUEUE };
