// kernel/virtio/console.ts — virtio console driver (virtio 1.2 §5.3), port 0
// only (VIRTIO_CONSOLE_F_MULTIPORT not negotiated: queue 0 receives, queue 1
// transmits, §5.3.2). It becomes a second kernel console: a ConsoleSink that
// gets every byte the kernel prints, sent a line (or 256 bytes) at a time.
import { VirtioDevice } from "./device";
import { Transport } from "./transport/transport";
import { dmaAlloc, physAddr } from "./dma";
import { ConsoleSink } from "../console";

const SLOT: u32 = 256;
const NSLOTS: u32 = 16;
const TXQ: i32 = 1;

export class VirtioConsole extends VirtioDevice {
  private mem: usize = 0;
  private free: StaticArray<u32> = new StaticArray<u32>(NSLOTS);
  private nfree: u32 = 0;
  private line: usize = 0;       // bytes gathered for the next buffer (in a slot-sized staging area)
  private lineLen: u32 = 0;
  bytesSent: u64 = 0;
  bytesDropped: u64 = 0;

  constructor(t: Transport) { super(t); }

  acceptFeatures(offered: u64): u64 { return 0; }
  // Driven synchronously (the caller waits for its buffer): no vectors spent.
  wantsInterrupts(): bool { return false; }
  queueCount(): i32 { return 2; }
  setup(): bool {
    this.mem = dmaAlloc(<usize>(SLOT * (NSLOTS + 1)));
    if (this.mem == 0) { this.problem = "out of memory"; return false; }
    this.line = this.mem + <usize>(SLOT * NSLOTS);
    for (let i: u32 = 0; i < NSLOTS; i++) this.free[i] = i;
    this.nfree = NSLOTS;
    return true;
  }
  detail(): string { return "port 0, " + this.bytesSent.toString() + " bytes sent"; }

  service(): void {
    const q = this.queues[TXQ];
    while (q.popUsed()) {
      if (q.usedToken < NSLOTS && this.nfree < NSLOTS) this.free[this.nfree++] = q.usedToken;
    }
    // Received bytes (queue 0) are not used: no buffers are posted for input.
  }

  writeByte(b: u32): void {
    if (!this.ready) return;
    store<u8>(this.line + <usize>this.lineLen, <u8>b);
    this.lineLen++;
    if (b == 0x0a || this.lineLen == SLOT) this.flush();
  }

  /** Hands the gathered bytes to the device (§5.3.6.1: output goes in
   *  device-readable transmitq buffers). Drops them if no slot frees up. */
  flush(): void {
    if (this.lineLen == 0) return;
    this.service();
    for (let spins = 0; spins < 100000 && this.nfree == 0; spins++) { this.transportAck(); this.service(); }
    if (this.nfree == 0) { this.bytesDropped += <u64>this.lineLen; this.lineLen = 0; return; }
    const slot = this.free[--this.nfree];
    const p = this.mem + <usize>(SLOT * slot);
    memory.copy(p, this.line, <usize>this.lineLen);
    const q = this.queues[TXQ];
    q.push(physAddr(p), this.lineLen, false);
    if (q.submit(slot) < 0) { this.free[this.nfree++] = slot; this.bytesDropped += <u64>this.lineLen; }
    else { this.kick(q); this.bytesSent += <u64>this.lineLen; }
    this.lineLen = 0;
  }

  /** Sends what is gathered and waits for the device to take it, then resets. */
  shutdown(): void {
    if (this.ready) {
      this.flush();
      const q = this.queues[TXQ];
      for (let spins = 0; spins < 1000000 && q.inFlight() != 0; spins++) { this.transportAck(); this.service(); }
    }
    super.shutdown();
  }
}

export class VirtioConsoleSink extends ConsoleSink {
  constructor(public dev: VirtioConsole) { super(); }
  writeByte(b: u32): void { this.dev.writeByte(b); }
}
