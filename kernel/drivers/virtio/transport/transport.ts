// kernel/drivers/virtio/transport/transport.ts — what a driver needs from a virtio
// transport (virtio 1.2 §4): status, feature bits, queue setup, notifications,
// interrupt routing and status, and device configuration space. Implemented by pci.ts
// (§4.1, modern capabilities) and mmio.ts (§4.2, version 2 registers).

// Device status field (§2.1).
export const STATUS_ACKNOWLEDGE: u32 = 1;
export const STATUS_DRIVER: u32 = 2;
export const STATUS_DRIVER_OK: u32 = 4;
export const STATUS_FEATURES_OK: u32 = 8;
export const STATUS_DEVICE_NEEDS_RESET: u32 = 64;
export const STATUS_FAILED: u32 = 128;

// Reserved feature bits (§6).
export const F_INDIRECT_DESC: u32 = 28;
export const F_EVENT_IDX: u32 = 29;
export const F_VERSION_1: u32 = 32;
export const F_ACCESS_PLATFORM: u32 = 33;
export const F_RING_PACKED: u32 = 34;

// Device types (§5).
import { IrqHandler } from "../../../core/irq";

export const DEVICE_NET: u32 = 1;
export const DEVICE_BLK: u32 = 2;
export const DEVICE_CONSOLE: u32 = 3;
export const DEVICE_ENTROPY: u32 = 4;

// ISR / InterruptStatus bits (§4.1.4.5, §4.2.2).
export const ISR_QUEUE: u32 = 1;
export const ISR_CONFIG: u32 = 2;

export function deviceTypeName(t: u32): string {
  if (t == DEVICE_NET) return "net";
  if (t == DEVICE_BLK) return "blk";
  if (t == DEVICE_CONSOLE) return "console";
  if (t == DEVICE_ENTROPY) return "rng";
  return "type" + t.toString();
}

export abstract class Transport {
  /** "pci" or "mmio". */
  abstract kind(): string;
  /** Where the device sits, for logs: "mmio@0xfeb00000 irq 12", "pci 00:03.0". */
  abstract location(): string;
  /** Virtio device type (§5): 1 net, 2 blk, 3 console, 4 entropy. */
  abstract deviceType(): u32;

  abstract getStatus(): u32;
  abstract setStatus(status: u32): void;
  /** Writes 0 to the status and waits until it reads back 0; false if the
   *  device never finished (§2.4, §4.1.4.3.2, §4.2.3.1). */
  reset(): bool {
    this.setStatus(0);
    for (let i = 0; i < 100000; i++) {
      if (this.getStatus() == 0) return true;
    }
    return false;
  }

  abstract deviceFeatures(): u64;
  abstract setDriverFeatures(features: u64): void;

  /** Largest size the device allows for queue q; 0 when q does not exist. */
  abstract queueMaxSize(q: u32): u32;
  /** Tells the device where queue q's rings are and enables it (the PCI
   *  transport also routes the queue to its MSI-X vector, if any). */
  abstract enableQueue(q: u32, size: u32, desc: u64, driver: u64, device: u64): bool;
  /** Available-buffer notification for queue q (§2.9). */
  abstract notify(q: u32): void;

  /** Reads and acknowledges the interrupt status (ISR_QUEUE | ISR_CONFIG).
   *  With MSI-X there is no ISR to read: returns ISR_QUEUE. */
  abstract ackInterrupt(): u32;

  abstract configGeneration(): u32;
  abstract readConfig8(off: u32): u32;
  abstract readConfig16(off: u32): u32;
  abstract readConfig32(off: u32): u32;
  abstract writeConfig32(off: u32, value: u32): void;

  /** A 64-bit configuration field, read as two 32-bit halves under the
   *  generation counter so both come from the same configuration (§2.5.1,
   *  §4.1.3.1: 64-bit fields are read as two 32-bit accesses). */
  readConfig64(off: u32): u64 {
    for (let tries = 0; tries < 16; tries++) {
      const gen = this.configGeneration();
      const lo = <u64>this.readConfig32(off);
      const hi = <u64>this.readConfig32(off + 4);
      if (this.configGeneration() == gen) return (hi << 32) | lo;
    }
    return 0;
  }

  /** Routes the device's interrupts to the event loop, between FEATURES_OK
   *  and queue setup. status runs for a line-based interrupt (read and ack
   *  the status register); queues and config for separate MSI-X vectors.
   *  False (irqMode says why) when there is no usable route: poll instead. */
  attachInterrupts(status: IrqHandler, queues: IrqHandler, config: IrqHandler): bool { return false; }
  /** Whether attachInterrupts can give the device an interrupt of its own
   *  (MSI-X, an MMIO slot's line) rather than a shared PCI INTx line. */
  ownInterrupt(): bool { return false; }
  /** Releases vectors and routes (after a reset, or when the device failed). */
  detachInterrupts(): void {}

  /** How interrupts reach us, for the device list: "msix vectors 0x30,0x31",
   *  "intx pin A irq 11 vector 0x32", "gsi 16 edge vector 0x30", "poll (...)". */
  irqMode: string = "poll";
}
