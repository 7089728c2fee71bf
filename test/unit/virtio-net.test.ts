// The virtio-net driver's checksum and segmentation offloads and mergeable
// receive buffers (virtio 1.2 §5.1.6.2, §5.1.6.4)
// against a fake virtio-mmio net device whose queues are served by
// test/unit/virtio-sim.ts: what it negotiates, the virtio_net_hdr it writes
// (NEEDS_CSUM, csum_start, csum_offset), the software fallback when the device
// offers no CSUM, and RX_CSUM_VALID from DATA_VALID / NEEDS_CSUM.
import { describe, expect, it } from "vitest";
import { FakeHost } from "../platform/host.js";
import { loadKernel } from "../platform/wasm.js";
import { FakeMmioTransport, SimQueue } from "./virtio-sim.js";

type E = {
  memory: WebAssembly.Memory;
  probe(s: number): number; deviceLines(): number; frameBuf(): number;
  txOffload(): number; rxOffload(): number; send(len: number, start: number, off: number): number;
  poll(): number; lastFlags(): number; lastLen(): number; txOffloaded(): bigint; rxCsumValid(): bigint;
  tsoMax(): number; sendTso(len: number, start: number, off: number, mss: number, hdrLen: number): number;
  gotBuf(): number; txTso(): bigint; rxMerged(): bigint; rxLarge(): bigint; rxErrors(): bigint;
  sendZc(hdrLen: number, p1: number, n1: number, p2: number, n2: number, start: number, off: number, mss: number): bigint;
  zcInFlight(seq: bigint): number; zeroCopy(): number;
  pollChain(): number; chainStats(): number;
};

const F_CSUM = 1n << 0n, F_GUEST_CSUM = 1n << 1n, F_MAC = 1n << 5n, F_VERSION_1 = 1n << 32n;
const F_GUEST_TSO4 = 1n << 7n, F_HOST_TSO4 = 1n << 11n, F_MRG_RXBUF = 1n << 15n;
/** What QEMU offers over tap with vnet_hdr (the parts the driver cares about), and over user networking. */
const TAP = F_VERSION_1 | F_MAC | F_CSUM | F_GUEST_CSUM | F_GUEST_TSO4 | F_HOST_TSO4 | F_MRG_RXBUF;
const USER = F_VERSION_1 | F_MAC | F_MRG_RXBUF;

class FakeVirtioNet extends FakeMmioTransport {
  sims = new Map<number, SimQueue>();
  sent: { hdr: Uint8Array; frame: Uint8Array; descs: number }[] = [];
  constructor(base: bigint, public offered: bigint, public mem: () => WebAssembly.Memory, public linearBase: bigint) { super(base); }
  deviceId(): number { return 1; }              // network card
  features(): bigint { return this.offered; }
  config(off: number): bigint { return off < 6 ? BigInt(0x52 + off) : 0n; }   // mac 52:53:54:55:56:57
  /** Transmit chains wait for an explicit drainTx() (a device that has not read them yet). */
  holdTx = false;
  notified(queue: number): void { if (queue === 1 && !this.holdTx) this.drainTx(); }
  statusWritten(v: number): number { if (v === 0) this.sims.clear(); return v; }
  sim(i: number): SimQueue {
    let s = this.sims.get(i);
    if (!s) {
      const r = this.queues.get(i)!;
      s = new SimQueue(this.mem, this.linearBase, r.desc, r.driver, r.device, r.num, false);
      this.sims.set(i, s);
    }
    return s;
  }
  drainTx(): void {
    const q = this.sim(1);
    for (let c = q.next(); c; c = q.next()) {
      const parts = c.segs.map((g) => q.read(g));
      const all = Buffer.concat(parts);
      this.sent.push({ hdr: all.slice(0, 12), frame: all.slice(12), descs: c.segs.length });
      q.complete(c.head, 0);
    }
  }
  /** Puts a frame in the next receive buffer with the given header flags. */
  deliver(frame: Uint8Array, flags: number): void {
    const q = this.sim(0);
    const c = q.next();
    if (!c) throw new Error("no receive buffer posted");
    const b = new Uint8Array(12 + frame.length);
    b[0] = flags;
    b.set(frame, 12);
    q.write(c.segs[0], b);
    q.complete(c.head, b.length);
  }
  /** Spreads a packet over as many receive buffers as it needs (MRG_RXBUF):
   *  the header, with num_buffers, only in the first. */
  deliverMerged(frame: Uint8Array, flags: number, numBuffers?: number): number {
    const q = this.sim(0);
    const all = new Uint8Array(12 + frame.length);
    all[0] = flags;
    all.set(frame, 12);
    const chains: { head: number; seg: { addr: bigint; len: number } ; n: number }[] = [];
    for (let off = 0; off < all.length;) {
      const c = q.next();
      if (!c) throw new Error("not enough receive buffers posted");
      const n = Math.min(c.segs[0].len, all.length - off);
      chains.push({ head: c.head, seg: c.segs[0], n });
      off += n;
    }
    new DataView(all.buffer).setUint16(10, numBuffers ?? chains.length, true);
    let off = 0;
    for (const c of chains) { q.write(c.seg as never, all.subarray(off, off + c.n)); off += c.n; }
    for (const c of chains) q.complete(c.head, c.n);
    return chains.length;
  }
  negotiated(): bigint { return BigInt(this.driverFeatures[0] >>> 0) | (BigInt(this.driverFeatures[1] >>> 0) << 32n); }
}

async function start(features: bigint) {
  const host = new FakeHost();
  let k!: Awaited<ReturnType<typeof loadKernel<E>>>;
  const d = new FakeVirtioNet(0xfeb00000n, features, () => k.exports.memory, host.linearBase);
  host.mmio.push(d);
  k = await loadKernel<E>("test/unit/wasm/virtio_net.ts", host);
  const buf = Buffer.from("virtio_mmio.device=512@0xfeb00000:5", "utf16le");
  const ex = k.exports as unknown as { __new(n: number, id: number): number; __pin(p: number): number };
  const p = ex.__pin(ex.__new(buf.length, 2));
  new Uint8Array(k.exports.memory.buffer).set(buf, p);
  const r = k.run(() => k.exports.probe(p));
  expect(r.exit).toBeUndefined();
  return { k, d, lines: k.str(k.exports.deviceLines()) };
}

/** An Ethernet + IPv4 + UDP frame (payload "offload!"), its UDP checksum
 *  field holding only the pseudo-header sum, as the stack leaves it. */
function udpFrame(): { frame: Uint8Array; csumStart: number; csumOffset: number; full: number } {
  const payload = Buffer.from("offload!");
  const f = Buffer.alloc(14 + 20 + 8 + payload.length);
  f.writeUInt16BE(0x0800, 12);
  const ip = 14;
  f[ip] = 0x45; f.writeUInt16BE(20 + 8 + payload.length, ip + 2); f[ip + 8] = 64; f[ip + 9] = 17;
  f.set([10, 0, 2, 15], ip + 12); f.set([10, 0, 2, 2], ip + 16);
  const u = ip + 20;
  f.writeUInt16BE(5000, u); f.writeUInt16BE(7, u + 2); f.writeUInt16BE(8 + payload.length, u + 4);
  payload.copy(f, u + 8);
  const fold = (s: number) => { while (s >> 16) s = (s & 0xffff) + (s >> 16); return s; };
  const sum16 = (b: Uint8Array) => { let s = 0; for (let i = 0; i < b.length; i += 2) s += (b[i] << 8) | (b[i + 1] ?? 0); return s; };
  const pseudo = fold(sum16(f.subarray(ip + 12, ip + 20)) + 17 + 8 + payload.length);
  f.writeUInt16BE(pseudo, u + 6);
  const full = (~fold(sum16(f.subarray(u))) & 0xffff) || 0xffff;
  return { frame: f, csumStart: u, csumOffset: 6, full };
}

describe("virtio-net checksum offload", () => {
  it("negotiates CSUM and GUEST_CSUM when offered and hands partial checksums to the device", async () => {
    const { k, d, lines } = await start(F_VERSION_1 | F_MAC | F_CSUM | F_GUEST_CSUM);
    expect(d.negotiated() & (F_CSUM | F_GUEST_CSUM)).toBe(F_CSUM | F_GUEST_CSUM);
    expect(lines).toMatch(/net0: virtio-net mmio .* ok mac 52:53:54:55:56:57 mtu 1500 link up csum offload tx\+rx/);
    expect(k.exports.txOffload()).toBe(1);
    expect(k.exports.rxOffload()).toBe(1);
    const u = udpFrame();
    new Uint8Array(k.exports.memory.buffer).set(u.frame, k.exports.frameBuf());
    expect(k.run(() => k.exports.send(u.frame.length, u.csumStart, u.csumOffset)).value).toBe(1);
    expect(d.sent.length).toBe(1);
    const h = Buffer.from(d.sent[0].hdr);
    expect(h[0]).toBe(1);                                   // VIRTIO_NET_HDR_F_NEEDS_CSUM
    expect(h[1]).toBe(0);                                   // GSO_NONE
    expect(h.readUInt16LE(6)).toBe(u.csumStart);           // csum_start: the UDP header
    expect(h.readUInt16LE(8)).toBe(6);                      // csum_offset: UDP's checksum field
    expect(Buffer.from(d.sent[0].frame).equals(Buffer.from(u.frame))).toBe(true);   // left partial for the device
    // A frame without a checksum request goes out with a zero header.
    expect(k.run(() => k.exports.send(60, -1, 0)).value).toBe(1);
    expect([...d.sent[1].hdr]).toEqual(new Array(12).fill(0));
    expect(k.exports.txOffloaded()).toBe(1n);
  });

  it("without CSUM from the device the driver finishes the checksum itself", async () => {
    const { k, d, lines } = await start(F_VERSION_1 | F_MAC);
    expect(d.negotiated() & (F_CSUM | F_GUEST_CSUM)).toBe(0n);
    expect(lines).toMatch(/csum offload none/);
    expect(k.exports.txOffload()).toBe(0);
    const u = udpFrame();
    new Uint8Array(k.exports.memory.buffer).set(u.frame, k.exports.frameBuf());
    k.run(() => k.exports.send(u.frame.length, u.csumStart, u.csumOffset));
    expect(d.sent[0].hdr[0]).toBe(0);
    expect(Buffer.from(d.sent[0].frame).readUInt16BE(u.csumStart + 6)).toBe(u.full);
    expect(k.exports.txOffloaded()).toBe(0n);
  });

  it("DATA_VALID and NEEDS_CSUM on receive become RX_CSUM_VALID, only with GUEST_CSUM", async () => {
    const { k, d } = await start(F_VERSION_1 | F_MAC | F_CSUM | F_GUEST_CSUM);
    const f = udpFrame().frame;
    for (const [flags, want] of [[0, 0], [2, 1], [1, 1]] as const) {
      d.deliver(f, flags);
      expect(k.run(() => k.exports.poll()).value).toBe(1);
      expect(k.exports.lastFlags()).toBe(want);
      expect(k.exports.lastLen()).toBe(f.length);
    }
    expect(k.exports.rxCsumValid()).toBe(2n);

    const n = await start(F_VERSION_1 | F_MAC);
    n.d.deliver(f, 2);                                     // a device must not, but if it did: ignored
    expect(n.k.run(() => n.k.exports.poll()).value).toBe(1);
    expect(n.k.exports.lastFlags()).toBe(0);
  });
});

/** An Ethernet + IPv4 + TCP packet with payload bytes of pattern i & 0xff,
 *  its checksum field holding the pseudo-header sum (as the stack leaves it for the device). */
function tcpPacket(payload: number): Uint8Array {
  const f = Buffer.alloc(14 + 20 + 20 + payload);
  f.writeUInt16BE(0x0800, 12);
  f[14] = 0x45; f.writeUInt16BE(40 + payload, 16); f[22] = 64; f[23] = 6;
  f.set([10, 0, 2, 15], 26); f.set([10, 0, 2, 2], 30);
  f.writeUInt16BE(80, 34); f.writeUInt16BE(40000, 36); f[46] = 5 << 4; f[47] = 0x18;
  for (let i = 0; i < payload; i++) f[54 + i] = i & 0xff;
  return f;
}

describe("virtio-net segmentation offload and mergeable receive buffers", () => {
  it("negotiates HOST_TSO4, GUEST_TSO4 and MRG_RXBUF where offered and says so in the device line", async () => {
    const { k, d, lines } = await start(TAP);
    expect(d.negotiated() & (F_HOST_TSO4 | F_GUEST_TSO4 | F_MRG_RXBUF)).toBe(F_HOST_TSO4 | F_GUEST_TSO4 | F_MRG_RXBUF);
    expect(lines).toMatch(/csum offload tx\+rx tso4 tx\+rx mrg_rxbuf/);
    expect(k.exports.tsoMax()).toBe(14 + 65535);
  });

  it("falls back where the device offers no TSO (QEMU user networking): frames of the MTU, MRG_RXBUF only", async () => {
    const { k, d, lines } = await start(USER);
    expect(d.negotiated() & (F_HOST_TSO4 | F_GUEST_TSO4 | F_CSUM | F_GUEST_CSUM)).toBe(0n);
    expect(d.negotiated() & F_MRG_RXBUF).toBe(F_MRG_RXBUF);
    expect(lines).toMatch(/csum offload none tso4 none \(not offered\) mrg_rxbuf/);
    expect(k.exports.tsoMax()).toBe(0);
    const p = tcpPacket(3000);
    new Uint8Array(k.exports.memory.buffer).set(p, k.exports.frameBuf());
    expect(k.run(() => k.exports.sendTso(p.length, 34, 16, 1460, 54)).value).toBe(0);
    expect(d.sent.length).toBe(0);
    // A one-buffer packet arrives as before; num_buffers = 1.
    const small = tcpPacket(100);
    expect(d.deliverMerged(small, 0)).toBe(1);
    expect(k.run(() => k.exports.poll()).value).toBe(1);
    expect(k.exports.lastLen()).toBe(small.length);
  });

  it("never takes GUEST_TSO4 without MRG_RXBUF, nor HOST_TSO4 without CSUM", async () => {
    const { d } = await start(F_VERSION_1 | F_MAC | F_GUEST_CSUM | F_GUEST_TSO4 | F_HOST_TSO4);
    expect(d.negotiated() & (F_GUEST_TSO4 | F_HOST_TSO4)).toBe(0n);
  });

  it("hands a 64 KiB TCP packet to the device with gso_type TCPV4, gso_size, hdr_len and NEEDS_CSUM", async () => {
    const { k, d } = await start(TAP);
    const p = tcpPacket(43 * 1460);
    new Uint8Array(k.exports.memory.buffer).set(p, k.exports.frameBuf());
    expect(k.run(() => k.exports.sendTso(p.length, 34, 16, 1460, 54)).value).toBe(1);
    expect(d.sent.length).toBe(1);
    const h = Buffer.from(d.sent[0].hdr);
    expect(h[0]).toBe(1);                         // NEEDS_CSUM
    expect(h[1]).toBe(1);                         // GSO_TCPV4
    expect(h.readUInt16LE(2)).toBe(54);           // hdr_len
    expect(h.readUInt16LE(4)).toBe(1460);         // gso_size
    expect(h.readUInt16LE(6)).toBe(34);           // csum_start
    expect(h.readUInt16LE(8)).toBe(16);           // csum_offset
    expect(Buffer.from(d.sent[0].frame).equals(Buffer.from(p))).toBe(true);
    expect(k.exports.txTso()).toBe(1n);
    // Bad requests are refused, not sent: mss 0, headers past the packet, a packet over 64 KiB.
    expect(k.run(() => k.exports.sendTso(p.length, 34, 16, 0, 54)).value).toBe(0);
    expect(k.run(() => k.exports.sendTso(100, 34, 16, 1460, 200)).value).toBe(0);
    expect(k.run(() => k.exports.sendTso(14 + 65536, 34, 16, 1460, 54)).value).toBe(0);
    expect(d.sent.length).toBe(1);
    // The TSO slots come back: more packets than there are slots all go out.
    for (let i = 0; i < 10; i++) expect(k.run(() => k.exports.sendTso(p.length, 34, 16, 1460, 54)).value).toBe(1);
    expect(d.sent.length).toBe(11);
  });

  it("zero copy: a packet as header slot + the caller's two ranges (a wrapped ring), read when the device gets to it", async () => {
    const { k, d } = await start(TAP);
    expect(k.exports.zeroCopy()).toBe(1);
    // The "ring": 20000 bytes at 60000, the packet's payload its last 6000 then its first 9000 bytes.
    const p = tcpPacket(15000);
    const mem = () => new Uint8Array(k.exports.memory.buffer);
    const fb = k.exports.frameBuf();
    mem().set(p.subarray(0, 54), fb);
    mem().set(p.subarray(54, 54 + 6000), fb + 60000 + 14000);
    mem().set(p.subarray(54 + 6000), fb + 60000);
    d.holdTx = true;
    const seq = k.run(() => k.exports.sendZc(54, 60000 + 14000, 6000, 60000, 9000, 34, 16, 1460)).value as bigint;
    expect(seq).toBe(1n);
    expect(k.exports.zcInFlight(seq)).toBe(1);
    expect(d.sent.length).toBe(0);
    d.drainTx();
    expect(d.sent.length).toBe(1);
    expect(d.sent[0].descs).toBe(3);
    const h = Buffer.from(d.sent[0].hdr);
    expect([h[0], h[1], h.readUInt16LE(2), h.readUInt16LE(4), h.readUInt16LE(6), h.readUInt16LE(8)]).toEqual([1, 1, 54, 1460, 34, 16]);
    expect(Buffer.from(d.sent[0].frame).equals(Buffer.from(p))).toBe(true);
    expect(k.exports.zcInFlight(seq)).toBe(0);               // used: the range is the caller's again
    // One range: two descriptors. What the device reads is what lies there
    // when it reads it (nothing was copied at submit).
    mem().set(p.subarray(54), fb + 60000);
    const s2 = k.run(() => k.exports.sendZc(54, 60000, 15000, 0, 0, 34, 16, 1460)).value as bigint;
    expect(s2).toBe(2n);
    mem()[fb + 60000] ^= 0xff;
    d.drainTx();
    expect(d.sent[1].descs).toBe(2);
    expect(d.sent[1].frame[54]).toBe(p[54] ^ 0xff);
    // Header slots and descriptors come back: more packets than slots, 16 held at most.
    mem().set(p.subarray(54, 54 + 6000), fb + 60000 + 14000);
    mem().set(p.subarray(54 + 6000), fb + 60000);
    let held = 0;
    for (let i = 0; i < 40; i++) {
      const q = k.run(() => k.exports.sendZc(54, 60000 + 14000, 6000, 60000, 9000, 34, 16, 1460)).value as bigint;
      if (q === 0n) { expect(held).toBe(16); d.drainTx(); held = 0; i--; continue; }
      held++;
    }
    d.drainTx();
    expect(d.sent.length).toBe(42);
    expect(d.sent.every((x, i) => i === 1 || Buffer.from(x.frame).equals(Buffer.from(p)))).toBe(true);
    // Refused, not queued: headers past the header slot, an empty range, over 64 KiB.
    expect(k.run(() => k.exports.sendZc(200, 60000, 15000, 0, 0, 34, 16, 1460)).value).toBe(0n);
    expect(k.run(() => k.exports.sendZc(54, 60000, 0, 0, 0, 34, 16, 1460)).value).toBe(0n);
    expect(k.run(() => k.exports.sendZc(54, 0, 65535, 0, 100, 34, 16, 1460)).value).toBe(0n);
  });

  it("zero copy is off without HOST_TSO4", async () => {
    const { k } = await start(USER);
    expect(k.exports.zeroCopy()).toBe(0);
    expect(k.run(() => k.exports.sendZc(54, 60000, 15000, 0, 0, 34, 16, 1460)).value).toBe(0n);
  });

  it("joins a large packet spread over several receive buffers into one frame for the stack", async () => {
    const { k, d } = await start(TAP);
    const p = tcpPacket(40000);
    const n = d.deliverMerged(p, 1);
    expect(n).toBeGreaterThan(10);
    expect(k.run(() => k.exports.poll()).value).toBe(1);
    expect(k.exports.lastLen()).toBe(p.length);
    expect(k.exports.lastFlags()).toBe(1);        // NEEDS_CSUM from a local sender: valid
    const got = new Uint8Array(k.exports.memory.buffer, k.exports.gotBuf(), p.length);
    expect(Buffer.from(got).equals(Buffer.from(p))).toBe(true);
    expect(k.exports.rxMerged()).toBe(1n);
    expect(k.exports.rxLarge()).toBe(1n);
    // The buffers went back: the queue takes another such packet, and a small one after it.
    d.deliverMerged(p, 0);
    d.deliverMerged(tcpPacket(10), 0);
    expect(k.run(() => k.exports.poll()).value).toBe(2);
    expect(k.exports.lastLen()).toBe(64);
  });

  it("hands a packet over several receive buffers to the stack as they lie (FrameChain), no assembly copy", async () => {
    const { k, d } = await start(TAP);
    const p = tcpPacket(40000);
    const n = d.deliverMerged(p, 1);
    expect(k.run(() => k.exports.pollChain()).value).toBe(1);
    const [frames, chains, pieces, len, flattened] = k.str(k.exports.chainStats()).split(" ").map(Number);
    expect([frames, chains, pieces, len, flattened]).toEqual([1, 1, n, p.length, 0]);
    const got = new Uint8Array(k.exports.memory.buffer, k.exports.gotBuf(), p.length);
    expect(Buffer.from(got).equals(Buffer.from(p))).toBe(true);
    // The held buffers went back once the sink was done: ten more such
    // packets take more buffers than the queue has.
    for (let i = 0; i < 10; i++) {
      d.deliverMerged(p, 0);
      expect(k.run(() => k.exports.pollChain()).value).toBe(1);
    }
    // A one-buffer packet still arrives in one piece.
    d.deliverMerged(tcpPacket(10), 0);
    expect(k.run(() => k.exports.pollChain()).value).toBe(1);
    expect(k.str(k.exports.chainStats()).split(" ").map(Number).slice(0, 2)).toEqual([12, 11]);
  });

  it("drops a packet whose num_buffers would exceed 64 KiB, with the buffers it claims", async () => {
    const { k, d } = await start(TAP);
    const p = tcpPacket(3000);
    d.deliverMerged(p, 0, 100);                    // claims 100 buffers: refused as a whole
    expect(k.run(() => k.exports.poll()).value).toBe(0);
    expect(k.exports.rxErrors()).toBe(1n);
    const small = tcpPacket(20);
    d.deliverMerged(small, 0);
    expect(k.run(() => k.exports.poll()).value).toBe(0);   // still inside the 100 it claimed
  });
});
