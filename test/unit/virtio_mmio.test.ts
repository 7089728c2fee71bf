// virtio-mmio probing and the device initialisation sequence (virtio 1.2
// §3.1.1, §4.2.3) against fake version 2 / version 1 devices in Node.
import { describe, expect, it } from "vitest";
import { FakeHost } from "../platform/host.js";
import { FakeMmioTransport } from "./virtio-sim.js";
import { loadKernel } from "../platform/wasm.js";

type E = { probe(s: number): number; deviceLines(): number; blkCapacity(): bigint };

class FakeVirtioMmio extends FakeMmioTransport {
  statusWrites: number[] = [];
  constructor(base: bigint, public opts: { version?: number; deviceId?: number; features?: bigint; refuse?: boolean; capacity?: bigint } = {}) { super(base); }
  deviceId(): number { return this.opts.deviceId ?? 2; }
  version(): number { return this.opts.version ?? 2; }
  features(): bigint { return this.opts.features ?? ((1n << 32n) | (1n << 29n) | (1n << 9n)); }
  queueMax(): number { return 128; }
  config(off: number, w: number): bigint {   // virtio-blk: capacity in 512-byte sectors
    const cap = this.opts.capacity ?? 2048n;
    const word = off < 4 ? cap & 0xffffffffn : off < 8 ? cap >> 32n : 0n;
    return w === 4 ? word : 0n;
  }
  statusWritten(v: number): number {
    this.statusWrites.push(v);
    // A device that refuses the driver's features does not keep FEATURES_OK (§3.1.1 step 6).
    return this.opts.refuse && (v & 8) ? v & ~8 : v;
  }
}

async function probe(devs: FakeVirtioMmio[]) {
  const host = new FakeHost();
  host.mmio.push(...devs);
  const k = await loadKernel<E>("test/unit/wasm/virtio_mmio.ts", host);
  const s = (t: string) => {
    const buf = Buffer.from(t, "utf16le");
    const ex = k.exports as unknown as { __new(n: number, id: number): number; __pin(p: number): number };
    const p = ex.__pin(ex.__new(buf.length, 2));
    new Uint8Array(k.exports.memory.buffer).set(buf, p);
    return p;
  };
  const cmd = devs.map((d) => `virtio_mmio.device=512@0x${d.base.toString(16)}:${5 + Number((d.base >> 9n) & 7n)}`).join(" ");
  const r = k.run(() => k.exports.probe(s(cmd + " virtio_mmio.device=junk")));
  expect(r.exit).toBeUndefined();
  return { k, n: r.value!, lines: k.str(k.exports.deviceLines()) };
}

describe("virtio-mmio probing and initialisation", () => {
  it("initialises a version 2 block device in the spec's order and lists it", async () => {
    const d = new FakeVirtioMmio(0xfeb00000n, { capacity: 4096n });
    const { k, n, lines } = await probe([d]);
    expect(n).toBe(1);
    // reset, ACKNOWLEDGE, +DRIVER, +FEATURES_OK, +DRIVER_OK (§3.1.1)
    expect(d.statusWrites, lines).toEqual([0, 1, 3, 11, 15]);
    expect(d.driverFeatures[1] & 1).toBe(1);                 // VIRTIO_F_VERSION_1
    expect(d.driverFeatures[0] & (1 << 29)).not.toBe(0);      // EVENT_IDX offered and taken
    const q = d.queues.get(0)!;
    expect(q.ready).toBe(1);
    expect(q.num).toBe(128);
    expect(q.desc > 0n && q.driver > q.desc && q.device > q.driver).toBe(true);
    expect(k.exports.blkCapacity()).toBe(4096n);
    expect(lines).toMatch(/^blk0: virtio-blk mmio mmio@0xfeb00000 irq 5 \(poll \(gsi 5 not routable\)\) features 0x120000200 queues \[128\] ok capacity 4096 sectors/);
    expect(lines).toMatch(/malformed virtio_mmio.device value/);
  });

  it("reports a device that refuses the features and leaves it alone (FAILED)", async () => {
    const d = new FakeVirtioMmio(0xfeb00200n, { refuse: true });
    const { lines } = await probe([d]);
    expect(d.statusWrites.slice(0, 4)).toEqual([0, 1, 3, 11]);
    expect(d.statusWrites[4] & 0x80).toBe(0x80);
    expect(d.statusWrites.length).toBe(5);
    expect(d.queues.size).toBe(0);
    expect(lines).toMatch(/NOT USED: refused features 0x/);
  });

  it("reports a legacy (version 1) device without touching its status", async () => {
    const d = new FakeVirtioMmio(0xfeb00400n, { version: 1 });
    const { lines } = await probe([d]);
    expect(d.statusWrites).toEqual([]);
    expect(lines).toMatch(/NOT USED: legacy virtio-mmio \(version 1\)/);
  });

  it("refuses a device without VIRTIO_F_VERSION_1", async () => {
    const d = new FakeVirtioMmio(0xfeb00600n, { features: 1n << 9n });
    const { lines } = await probe([d]);
    expect(lines).toMatch(/NOT USED: offers no VIRTIO_F_VERSION_1/);
    expect(d.statusWrites.at(-1)! & 0x80).toBe(0x80);
  });
});
