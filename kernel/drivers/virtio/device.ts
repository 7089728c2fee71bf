// kernel/drivers/virtio/device.ts — what every virtio driver shares: the device
// initialisation sequence in the spec's order (virtio 1.2 §3.1.1), queue
// setup over any transport, interrupts (MSI-X, INTx or an MMIO line, handled
// from the event loop), reset on shutdown, and the device-list line.
import { IrqHandler } from "../../core/irq";
import { pollSoon } from "../../core/sched";
import { SplitQueue, queueBytes, MAX_QUEUE_SIZE } from "./queue";
import { dmaAlloc, physAddr } from "./dma";
import {
  Transport, deviceTypeName, STATUS_ACKNOWLEDGE, STATUS_DRIVER, STATUS_FEATURES_OK, STATUS_DRIVER_OK,
  STATUS_FAILED, F_VERSION_1, F_EVENT_IDX, F_ACCESS_PLATFORM, ISR_CONFIG,
} from "./transport/transport";

/** One row of the device list (printed at boot, served over REST). */
export class VirtioDeviceInfo {
  name: string = "";
  type: string = "";
  transport: string = "";
  location: string = "";
  irq: string = "";
  features: u64 = 0;
  queueSizes: u32[] = [];
  state: string = "";     // "ok" or why the device is left alone
  detail: string = "";    // device-specific: capacity, MAC, ...
  /** Interrupts taken (from the event loop's dispatch) and polls done instead. */
  interrupts: u64 = 0;
  polls: u64 = 0;

  line(): string {
    let q = "";
    for (let i = 0; i < this.queueSizes.length; i++) q += (i ? "," : "") + this.queueSizes[i].toString();
    return this.name + ": virtio-" + this.type + " " + this.transport + " " + this.location +
      (this.irq.length ? " (" + this.irq + ")" : "") +
      " features 0x" + this.features.toString(16) + " queues [" + q + "] " + this.state +
      (this.detail.length ? " " + this.detail : "");
  }
}

/** What an interrupt means, by how it arrived. */
export const IRQ_STATUS: u32 = 0;   // INTx or an MMIO line: read (and ack) the status register to learn why
export const IRQ_QUEUES: u32 = 1;   // an MSI-X queue vector: used buffers, no status to read (§4.1.4.5)
export const IRQ_CONFIG: u32 = 2;   // an MSI-X configuration vector: the configuration changed

/** The kernel/core/irq handler for one of a device's interrupt sources; runs on the
 *  event loop (dispatchPending), never in interrupt context. */
export class VirtioIrq extends IrqHandler {
  constructor(public dev: VirtioDevice, public kind: u32) { super(); }
  handleIrq(vector: u32): void { this.dev.onIrq(this.kind); }
}

export abstract class VirtioDevice {
  name: string = "";
  features: u64 = 0;
  queues: SplitQueue[] = [];
  /** Empty while the device works; else why it was left alone. */
  problem: string = "";
  ready: bool = false;
  /** Interrupts taken; polls of the status register done without one. */
  interrupts: u64 = 0;
  polls: u64 = 0;
  /** True while onIrq runs: completions seen then were delivered by interrupt. */
  inIrq: bool = false;
  /** Interrupts are routed (MSI-X, INTx, MMIO line); false: polled. */
  irqAttached: bool = false;
  /** The interrupt path saw more work arrive while re-enabling: poll next pass. */
  pollAgain: bool = false;

  constructor(public transport: Transport) {}

  /** Device-specific feature bits (below 24) the driver accepts of those offered. */
  abstract acceptFeatures(offered: u64): u64;
  /** How many virtqueues to set up (0..n-1). */
  abstract queueCount(): i32;
  /** Step 7 of §3.1.1 after the queues exist: read configuration, post buffers.
   *  Returns false (with this.problem set) to give up on the device. */
  abstract setup(): bool;
  /** Drains the used rings; called from the event loop and by polling waiters. */
  abstract service(): void;
  /** Device-specific part of the device-list line. */
  abstract detail(): string;
  /** The device configuration changed (§2.5, ISR bit 1): e.g. link status. */
  configChanged(): void {}
  /** False for devices driven synchronously (rng, console): no vectors spent. */
  wantsInterrupts(): bool { return true; }
  /** Whether used buffers on queue i should interrupt (a transmit queue
   *  reclaimed lazily need not). */
  queueInterrupts(i: i32): bool { return true; }
  /** Requests in flight that only polling will complete when no interrupt is
   *  routed (the loop must not halt while there are). */
  busy(): bool { return false; }

  has(bit: u32): bool {
    return (this.features & (<u64>1 << bit)) != 0;
  }

  /** §3.1.1 "Driver Requirements: Device Initialization", steps 1..8. */
  initialize(): bool {
    const t = this.transport;
    // 1. Reset the device.
    if (!t.reset()) return this.fail("did not finish reset");
    // 2. ACKNOWLEDGE: we noticed the device. 3. DRIVER: we can drive it.
    t.setStatus(STATUS_ACKNOWLEDGE);
    t.setStatus(STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    // 4. Read the device's feature bits and write the subset we understand.
    const offered = t.deviceFeatures();
    if ((offered & (<u64>1 << F_VERSION_1)) == 0) {
      return this.fail("offers no VIRTIO_F_VERSION_1 (legacy-only device, not driven)");
    }
    let want = (this.acceptFeatures(offered) & 0xffffff) | (<u64>1 << F_VERSION_1);
    want |= offered & (<u64>1 << F_EVENT_IDX);
    // ACCESS_PLATFORM: the device goes through the platform's DMA translation;
    // with no IOMMU here that is the identity, so our physical addresses stand.
    want |= offered & (<u64>1 << F_ACCESS_PLATFORM);
    want &= offered;
    t.setDriverFeatures(want);
    // 5. FEATURES_OK: no new feature bits after this.
    t.setStatus(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    // 6. Re-read: a device that does not accept our subset clears FEATURES_OK.
    if ((t.getStatus() & STATUS_FEATURES_OK) == 0) {
      this.features = want;
      return this.fail("refused features 0x" + want.toString(16));
    }
    this.features = want;
    // 7. Device-specific setup. Interrupt routing first: the PCI transport must
    // give the device its MSI-X vectors before the queues are enabled
    // (§4.1.5.1.2); a device without usable interrupts is polled instead.
    if (this.wantsInterrupts()) {
      this.irqAttached = t.attachInterrupts(new VirtioIrq(this, IRQ_STATUS), new VirtioIrq(this, IRQ_QUEUES),
        new VirtioIrq(this, IRQ_CONFIG));
    } else {
      t.irqMode = "none (driven synchronously)";
    }
    const n = this.queueCount();
    for (let i = 0; i < n; i++) {
      if (this.setupQueue(<u32>i) === null) return this.fail(this.problem.length ? this.problem : "queue " + i.toString() + " unavailable");
    }
    for (let i = 0; i < n; i++) if (!this.irqAttached || !this.queueInterrupts(i)) this.queues[i].disableInterrupts();
    if (!this.setup()) return this.fail(this.problem.length ? this.problem : "setup failed");
    // 8. DRIVER_OK: the device is live.
    t.setStatus(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    this.ready = true;
    this.afterDriverOk();
    // An edge-triggered line already raised during setup would never give
    // another edge until acknowledged: acknowledge once now.
    if (this.irqAttached) this.interrupt();
    return true;
  }

  /** Runs once the device is live (e.g. first receive kick). */
  afterDriverOk(): void {
    for (let i = 0; i < this.queues.length; i++) this.kick(this.queues[i]);
  }

  /** §3.1.1: "If any of these steps go irrecoverably wrong, the driver SHOULD
   *  set the FAILED status bit"; the device is then left alone. */
  fail(why: string): bool {
    this.problem = why;
    this.transport.setStatus(this.transport.getStatus() | STATUS_FAILED);
    this.ready = false;
    this.transport.detachInterrupts();
    this.irqAttached = false;
    return false;
  }

  /** §4.1.5.1.3 / §4.2.3.2: size it, give it DMA rings, enable it. */
  private setupQueue(i: u32): SplitQueue | null {
    const t = this.transport;
    const max = t.queueMaxSize(i);
    if (max == 0) {
      this.problem = "queue " + i.toString() + " does not exist";
      return null;
    }
    // Split queue sizes are powers of 2 (§2.7); take the largest <= both limits.
    let size: u32 = 1;
    while (size * 2 <= max && size * 2 <= MAX_QUEUE_SIZE) size *= 2;
    const bytes = queueBytes(size);
    const mem = dmaAlloc(bytes);
    if (mem == 0) {
      this.problem = "out of memory for queue " + i.toString();
      return null;
    }
    const q = new SplitQueue(i, size, mem, physAddr(mem), this.has(F_EVENT_IDX));
    if (!t.enableQueue(i, size, q.descPhys(), q.availPhys(), q.usedPhys())) {
      this.problem = "queue " + i.toString() + " could not be enabled";
      return null;
    }
    this.queues.push(q);
    return q;
  }

  /** Publishes what was submitted on q and notifies the device if it wants. */
  kick(q: SplitQueue): void {
    if (q.kick()) this.transport.notify(q.index);
  }

  /** An interrupt arrived (VirtioIrq, from the event loop). kind says how:
   *  a line (read and acknowledge the status first: that also lowers it, so
   *  a completion after this point raises it again), or an MSI-X vector. */
  onIrq(kind: u32): void {
    this.interrupts++;
    this.inIrq = true;
    if (kind == IRQ_CONFIG) {
      this.configChanged();
    } else if (kind == IRQ_QUEUES) {
      this.drain();
    } else {
      const isr = this.transport.ackInterrupt();
      if ((isr & ISR_CONFIG) != 0) this.configChanged();
      // A shared INTx line may be another device's; draining is harmless.
      this.drain();
    }
    this.inIrq = false;
  }

  /** The polling path: acknowledge, react to configuration changes, then
   *  drain the queues. Safe to call when nothing happened. */
  interrupt(): void {
    this.polls++;
    const isr = this.transport.ackInterrupt();
    if ((isr & ISR_CONFIG) != 0) this.configChanged();
    this.drain();
  }

  /** Takes what the device returned, then re-arms the queue interrupts and
   *  looks again: a buffer used between our last look and the re-arm would
   *  otherwise raise no interrupt (§2.7.10). Bounded; the rest waits for the
   *  next loop pass. Drivers whose buffers someone else consumes override. */
  drain(): void {
    if (!this.ready) return;
    for (let round = 0; round < 8; round++) {
      this.service();
      if (!this.irqAttached) return;
      let more = false;
      for (let i = 0; i < this.queues.length; i++) {
        if (this.queueInterrupts(i) && this.queues[i].enableInterrupts()) more = true;
      }
      if (!more) return;
    }
    this.pollAgain = true;
    pollSoon();
  }

  /** Reads and acknowledges the interrupt status only (polling paths). */
  transportAck(): void {
    const isr = this.transport.ackInterrupt();
    if ((isr & ISR_CONFIG) != 0) this.configChanged();
  }

  /** Leaves the device quiet on shutdown: a reset stops all DMA (§2.4). */
  shutdown(): void {
    this.transport.reset();
    this.transport.detachInterrupts();
    this.irqAttached = false;
    this.ready = false;
  }

  info(): VirtioDeviceInfo {
    const d = new VirtioDeviceInfo();
    const t = this.transport;
    d.name = this.name;
    d.type = deviceTypeName(t.deviceType());
    d.transport = t.kind();
    d.location = t.location();
    d.irq = t.irqMode;
    d.features = this.features;
    for (let i = 0; i < this.queues.length; i++) d.queueSizes.push(this.queues[i].size);
    d.state = this.problem.length ? "NOT USED: " + this.problem : "ok";
    d.detail = this.ready ? this.detail() : "";
    d.interrupts = this.interrupts;
    d.polls = this.polls;
    return d;
  }
}
