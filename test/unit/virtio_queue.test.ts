// The split virtqueue (kernel/drivers/virtio/queue.ts) as Wasm in Node, against the
// device side simulated in TypeScript (virtio-sim.ts): descriptor chains,
// used-ring processing, ring and 16-bit index wrap-around, notification
// suppression with and without VIRTIO_F_EVENT_IDX (virtio 1.2 §2.7).
import { describe, expect, it } from "vitest";
import { FakeHost } from "../platform/host.js";
import { loadKernel } from "../platform/wasm.js";
import { SimQueue, needEvent } from "./virtio-sim.js";

type E = {
  newQueue(size: number, eventIdx: number): number; bytesFor(size: number): number;
  descPhys(): bigint; availPhys(): bigint; usedPhys(): bigint;
  push(phys: bigint, len: number, w: number): number; submit(token: number): number; kick(): number;
  pop(): bigint; usedLen(): number; numFree(): number; pendingUsed(): number; inFlight(): number;
  enableInterrupts(after: number): number; disableInterrupts(): void;
  needEvent(e: number, n: number, o: number): number; newQueueBadSize(): void;
};

async function setup(size: number, eventIdx: boolean) {
  const host = new FakeHost();
  const k = await loadKernel<E>("test/unit/wasm/virtio_queue.ts", host);
  k.exports.newQueue(size, eventIdx ? 1 : 0);
  const dev = new SimQueue(() => k.exports.memory, host.linearBase, k.exports.descPhys(), k.exports.availPhys(), k.exports.usedPhys(), size, eventIdx);
  return { k, q: k.exports, dev, host };
}

describe("split virtqueue layout", () => {
  it("places the rings with the spec's alignment and sizes", async () => {
    const { q } = await setup(256, false);
    expect(q.availPhys() - q.descPhys()).toBe(16n * 256n);
    expect(Number(q.usedPhys() % 4n)).toBe(0);
    expect(q.usedPhys() >= q.availPhys() + 6n + 2n * 256n).toBe(true);
    expect(q.bytesFor(256)).toBe(Number(q.usedPhys() - q.descPhys()) + 6 + 8 * 256);
  });

  it("refuses a size that is not a power of two", async () => {
    const { k } = await setup(8, false);
    expect(k.run(() => k.exports.newQueueBadSize()).exit).toBe(70);
  });
});

describe("descriptor chains and the used ring", () => {
  it("hands the device a three-part chain with NEXT/WRITE flags and returns the token", async () => {
    const { q, dev } = await setup(8, false);
    q.push(0x1000n, 16, 0); q.push(0x2000n, 512, 1); q.push(0x3000n, 1, 1);
    const head = q.submit(77);
    expect(head).toBeGreaterThanOrEqual(0);
    expect(q.numFree()).toBe(5);
    expect(q.kick()).toBe(1);
    const c = dev.next()!;
    expect(c.head).toBe(head);
    expect(c.segs).toEqual([
      { addr: 0x1000n, len: 16, write: false },
      { addr: 0x2000n, len: 512, write: true },
      { addr: 0x3000n, len: 1, write: true },
    ]);
    expect(dev.next()).toBeNull();
    expect(q.pop()).toBe(-1n);
    dev.complete(c.head, 513);
    expect(q.pendingUsed()).toBe(1);
    expect(q.pop()).toBe(77n);
    expect(q.usedLen()).toBe(513);
    expect(q.numFree()).toBe(8);
    expect(q.inFlight()).toBe(0);
  });

  it("refuses a chain longer than the free descriptors, keeping the queue usable", async () => {
    const { q, dev } = await setup(4, false);
    for (let i = 0; i < 3; i++) q.push(BigInt(0x1000 * (i + 1)), 8, 0);
    expect(q.submit(1)).toBeGreaterThanOrEqual(0);
    q.push(0x9000n, 8, 0); q.push(0xa000n, 8, 0);
    expect(q.submit(2)).toBe(-1);
    expect(q.numFree()).toBe(1);
    q.push(0x9000n, 8, 0);
    expect(q.submit(3)).toBeGreaterThanOrEqual(0);
    expect(q.submit(4)).toBe(-1);   // nothing pushed
    q.kick();
    const a = dev.next()!, b = dev.next()!;
    expect(a.segs.length).toBe(3);
    expect(b.segs).toEqual([{ addr: 0x9000n, len: 8, write: false }]);
  });

  it("frees chains completed out of order", async () => {
    const { q, dev } = await setup(8, false);
    const chains: number[] = [];
    for (let t = 0; t < 4; t++) { q.push(BigInt(t * 0x100), 4, 0); q.push(BigInt(t * 0x100 + 0x80), 4, 1); q.submit(100 + t); }
    expect(q.numFree()).toBe(0);
    q.kick();
    let c;
    const got: { head: number; segs: unknown }[] = [];
    while ((c = dev.next())) got.push(c);
    expect(got.length).toBe(4);
    for (const g of [...got].reverse()) dev.complete(g.head, 4);
    for (let t = 3; t >= 0; t--) chains.push(Number(q.pop()));
    expect(chains).toEqual([103, 102, 101, 100]);
    expect(q.numFree()).toBe(8);
    // The freed descriptors make up whole new chains again.
    for (let t = 0; t < 4; t++) { q.push(1n, 1, 0); q.push(2n, 1, 0); expect(q.submit(t)).toBeGreaterThanOrEqual(0); }
    expect(q.numFree()).toBe(0);
  });

  it("survives a device that returns a descriptor id out of range", async () => {
    const { k, q, dev } = await setup(4, false);
    q.push(1n, 1, 0); q.submit(5); q.kick(); dev.next();
    dev.complete(999, 0);
    const r = k.run(() => q.pop());
    expect(r.exit).toBeUndefined();
    expect(r.value).toBe(0xffffffffn);
    expect(q.numFree()).toBe(3);
  });
});

describe("wrap-around", () => {
  it("keeps tokens in order across ring wrap and the 16-bit index wrap", async () => {
    const { q, dev } = await setup(4, false);
    let next = 0, expectTok = 0;
    const rounds = 70000;   // > 65536: avail.idx and used.idx both wrap
    for (let r = 0; r < rounds; r++) {
      const n = 1 + (r % 3);  // 1..3 chains of one or two descriptors
      for (let i = 0; i < n && q.numFree() >= 1; i++) {
        q.push(BigInt(next), 4, (next & 1) === 1 ? 1 : 0);
        if (q.submit(next) < 0) throw new Error("submit failed at " + r);
        next++;
      }
      q.kick();
      let c;
      while ((c = dev.next())) dev.complete(c.head, c.segs[0].len);
      let t: bigint;
      while ((t = q.pop()) >= 0n) {
        expect(Number(t)).toBe(expectTok++);
      }
    }
    expect(expectTok).toBe(next);
    expect(next).toBeGreaterThan(65536);
    expect(q.numFree()).toBe(4);
    expect(dev.usedIdx).toBe(next & 0xffff);
  });
});

describe("notification suppression without EVENT_IDX (§2.7.7)", () => {
  it("skips the kick while the device sets VIRTQ_USED_F_NO_NOTIFY", async () => {
    const { q, dev } = await setup(8, false);
    q.push(1n, 1, 0); q.submit(1);
    expect(q.kick()).toBe(1);
    expect(q.kick()).toBe(0);          // nothing new since
    dev.setNoNotify(true);
    q.push(1n, 1, 0); q.submit(2);
    expect(q.kick()).toBe(0);
    dev.setNoNotify(false);
    q.push(1n, 1, 0); q.submit(3);
    expect(q.kick()).toBe(1);
  });

  it("sets VIRTQ_AVAIL_F_NO_INTERRUPT while interrupts are disabled, and reports a race on enable", async () => {
    const { q, dev } = await setup(8, false);
    q.disableInterrupts();
    q.push(1n, 1, 0); q.submit(1); q.kick();
    expect(dev.complete(dev.next()!.head, 0)).toBe(false);
    expect(q.enableInterrupts(1)).toBe(1);   // a used entry already waits: poll, don't sleep
    expect(Number(q.pop())).toBe(1);
    expect(q.enableInterrupts(1)).toBe(0);
    q.push(1n, 1, 0); q.submit(2); q.kick();
    expect(dev.complete(dev.next()!.head, 0)).toBe(true);
  });
});

describe("VIRTIO_F_EVENT_IDX (§2.7.10)", () => {
  it("computes vring_need_event like the spec, modulo 2^16", async () => {
    const { q } = await setup(8, true);
    const cases: [number, number, number][] = [[0, 1, 0], [5, 6, 5], [5, 5, 4], [10, 8, 4], [3, 8, 4], [0xffff, 0, 0xfffe], [0xffff, 2, 0xfffd], [1, 0, 0xffff], [7, 7, 7]];
    for (const [e, n, o] of cases) expect(q.needEvent(e, n, o) === 1).toBe(needEvent(e, n, o));
    expect(needEvent(5, 6, 5)).toBe(true);
    expect(needEvent(10, 8, 4)).toBe(false);
  });

  it("notifies only when avail.idx crosses the device's avail_event", async () => {
    const { q, dev } = await setup(16, true);
    dev.setAvailEvent(3);   // "tell me when you publish entry 3"
    const kicks: number[] = [];
    for (let i = 0; i < 6; i++) { q.push(1n, 1, 0); q.submit(i); kicks.push(q.kick()); }
    // idx goes 0→1, 1→2, 2→3, 3→4 (crosses 3), 4→5, 5→6
    expect(kicks).toEqual([0, 0, 0, 1, 0, 0]);
    // A batch: two submits, one kick that covers the crossing.
    dev.setAvailEvent(7);
    q.push(1n, 1, 0); q.submit(6); q.push(1n, 1, 0); q.submit(7);
    expect(q.kick()).toBe(1);
  });

  it("interrupts after the requested number of completions (used_event threshold)", async () => {
    const { q, dev } = await setup(16, true);
    for (let i = 0; i < 8; i++) { q.push(1n, 1, 0); q.submit(i); }
    q.kick();
    expect(q.enableInterrupts(3)).toBe(0);
    const fired: boolean[] = [];
    for (let i = 0; i < 4; i++) fired.push(dev.complete(dev.next()!.head, 0));
    expect(fired).toEqual([false, false, true, false]);
    // Consuming re-arms at "the next one" ...
    for (let i = 0; i < 4; i++) expect(Number(q.pop())).toBe(i);
    expect(dev.complete(dev.next()!.head, 0)).toBe(true);
    expect(Number(q.pop())).toBe(4);
    // ... unless interrupts are disabled: used_event stays behind.
    q.disableInterrupts();
    expect(dev.complete(dev.next()!.head, 0)).toBe(false);
    expect(Number(q.pop())).toBe(5);
    expect(dev.complete(dev.next()!.head, 0)).toBe(false);
    expect(q.enableInterrupts(1)).toBe(1);   // one is already there
  });
});
