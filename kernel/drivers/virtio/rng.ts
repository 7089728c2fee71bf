// kernel/drivers/virtio/rng.ts — virtio entropy device driver (virtio 1.2 §5.4): one
// request queue; the driver posts device-writable buffers and the device fills
// them with entropy (§5.4.6). Registered with kernel/core/random as its first source.
import { VirtioDevice } from "./device";
import { Transport } from "./transport/transport";
import { dmaAlloc, physAddr } from "./dma";
import { RandomSource } from "../../core/random";

const BUF: u32 = 256;

export class VirtioRng extends VirtioDevice {
  private buf: usize = 0;
  bytesDelivered: u64 = 0;

  constructor(t: Transport) { super(t); }

  acceptFeatures(offered: u64): u64 { return 0; }   // §5.4.3: no device-specific features
  // Driven synchronously (the caller waits for its buffer): no vectors spent.
  wantsInterrupts(): bool { return false; }
  queueCount(): i32 { return 1; }
  setup(): bool {
    this.buf = dmaAlloc(BUF);
    if (this.buf == 0) { this.problem = "out of memory"; return false; }
    return true;
  }
  service(): void {}
  detail(): string { return "entropy " + this.bytesDelivered.toString() + " bytes delivered"; }

  /** Fills [ptr, ptr+len) from the device, polling; returns the bytes obtained
   *  (less than len only if the device stops answering). */
  fill(ptr: usize, len: i32): i32 {
    if (!this.ready) return 0;
    const q = this.queues[0];
    let got = 0;
    while (got < len) {
      const want = <u32>min(len - got, <i32>BUF);
      q.push(physAddr(this.buf), want, true);
      if (q.submit(0) < 0) return got;
      this.kick(q);
      let done: bool = false;
      for (let spins = 0; spins < 10000000 && !done; spins++) {
        this.transportAck();
        done = q.popUsed();
      }
      if (!done) {
        // The buffer is still the device's: never reuse it (§2.7.13); stop here.
        this.ready = false;
        this.problem = "device stopped answering";
        return got;
      }
      const n = <i32>min(q.usedLen, want);
      memory.copy(ptr + <usize>got, this.buf, <usize>n);
      got += n;
      this.bytesDelivered += <u64>n;
    }
    return got;
  }
}

/** The kernel/core/random face of the device. */
export class VirtioRngSource extends RandomSource {
  constructor(public dev: VirtioRng) { super(); }
  name(): string { return "virtio-rng (" + this.dev.name + ")"; }
  fill(ptr: usize, len: i32): i32 { return this.dev.fill(ptr, len); }
}
