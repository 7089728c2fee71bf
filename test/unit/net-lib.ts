// test/unit/net-lib.ts — the Node side of the network tests: an independent
// encoder/decoder for the frames (written from the RFCs, not from the
// kernel's code), the captured fixtures, and a wrapper around the Wasm entry.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FakeHost } from "../platform/host.js";
import { ROOT, loadKernel, KernelModule } from "../platform/wasm.js";

export const captured: { source: string; frames: { dir: string; hex: string }[] } =
  JSON.parse(readFileSync(join(ROOT, "test/fixtures/net/captured.json"), "utf8"));
export const frames = captured.frames.map((f) => ({ dir: f.dir, bytes: Uint8Array.from(Buffer.from(f.hex, "hex")) }));

export const ip = (s: string) => s.split(".").reduce((a, b) => ((a << 8) | Number(b)) >>> 0, 0);
export const ipStr = (v: number) => [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join(".");
export const mac = (s: string) => Uint8Array.from(s.split(":").map((x) => parseInt(x, 16)));
export const macStr = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(":");

// ---------------------------------------------------------------- encode

export function csum(b: Uint8Array, init = 0): number {
  let s = init;
  for (let i = 0; i + 1 < b.length; i += 2) s += (b[i] << 8) | b[i + 1];
  if (b.length & 1) s += b[b.length - 1] << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}
const pseudo = (src: number, dst: number, proto: number, len: number) =>
  (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + proto + len;

export function eth(dst: Uint8Array, src: Uint8Array, type: number, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(14 + payload.length);
  b.set(dst, 0); b.set(src, 6); b[12] = type >> 8; b[13] = type & 255; b.set(payload, 14);
  return b;
}

export interface IpOpts { ident?: number; ttl?: number; df?: boolean; mf?: boolean; fragOffset?: number; tos?: number }
export function ipv4(src: number, dst: number, proto: number, payload: Uint8Array, o: IpOpts = {}): Uint8Array {
  const b = new Uint8Array(20 + payload.length);
  const v = new DataView(b.buffer);
  b[0] = 0x45; b[1] = o.tos ?? 0; v.setUint16(2, b.length); v.setUint16(4, o.ident ?? 0x1234);
  v.setUint16(6, (o.df ? 0x4000 : 0) | (o.mf ? 0x2000 : 0) | ((o.fragOffset ?? 0) >> 3));
  b[8] = o.ttl ?? 64; b[9] = proto; v.setUint32(12, src); v.setUint32(16, dst);
  v.setUint16(10, csum(b.subarray(0, 20)));
  b.set(payload, 20);
  return b;
}

export const F = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16 };
export interface TcpSeg {
  sport: number; dport: number; seq: number; ack: number; flags: number; window: number;
  mss?: number; wscale?: number; payload?: Uint8Array; options?: Uint8Array;
}
export function tcp(src: number, dst: number, s: TcpSeg): Uint8Array {
  const opts: number[] = [];
  if (s.mss !== undefined) opts.push(2, 4, s.mss >> 8, s.mss & 255);
  if (s.wscale !== undefined) opts.push(1, 3, 3, s.wscale);
  if (s.options) opts.push(...s.options);
  while (opts.length % 4) opts.push(0);
  const payload = s.payload ?? new Uint8Array(0);
  const hl = 20 + opts.length;
  const b = new Uint8Array(hl + payload.length);
  const v = new DataView(b.buffer);
  v.setUint16(0, s.sport); v.setUint16(2, s.dport); v.setUint32(4, s.seq >>> 0); v.setUint32(8, s.ack >>> 0);
  v.setUint16(12, ((hl / 4) << 12) | s.flags); v.setUint16(14, s.window);
  b.set(opts, 20); b.set(payload, hl);
  v.setUint16(16, csum(b, pseudo(src, dst, 6, b.length)));
  return b;
}
export function udp(src: number, dst: number, sport: number, dport: number, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(8 + payload.length);
  const v = new DataView(b.buffer);
  v.setUint16(0, sport); v.setUint16(2, dport); v.setUint16(4, b.length); b.set(payload, 8);
  let c = csum(b, pseudo(src, dst, 17, b.length));
  if (c === 0) c = 0xffff;
  v.setUint16(6, c);
  return b;
}
export function icmpEcho(type: number, ident: number, seq: number, data: Uint8Array): Uint8Array {
  const b = new Uint8Array(8 + data.length);
  const v = new DataView(b.buffer);
  b[0] = type; v.setUint16(4, ident); v.setUint16(6, seq); b.set(data, 8);
  v.setUint16(2, csum(b));
  return b;
}
export function arp(op: number, sha: Uint8Array, spa: number, tha: Uint8Array, tpa: number): Uint8Array {
  const b = new Uint8Array(28);
  const v = new DataView(b.buffer);
  v.setUint16(0, 1); v.setUint16(2, 0x0800); b[4] = 6; b[5] = 4; v.setUint16(6, op);
  b.set(sha, 8); v.setUint32(14, spa); b.set(tha, 18); v.setUint32(24, tpa);
  return b;
}

/** A DHCP reply as a server would send it (RFC 2131 §2, RFC 2132 options). */
export function dhcpReply(o: { type: number; xid: number; chaddr: Uint8Array; yiaddr: number; server: number; mask?: number;
  router?: number; dns?: number[]; lease?: number; t1?: number; t2?: number }): Uint8Array {
  const opts: number[] = [53, 1, o.type, 54, 4, ...be32(o.server)];
  if (o.mask !== undefined) opts.push(1, 4, ...be32(o.mask));
  if (o.router !== undefined) opts.push(3, 4, ...be32(o.router));
  if (o.dns) opts.push(6, 4 * o.dns.length, ...o.dns.flatMap(be32));
  if (o.lease !== undefined) opts.push(51, 4, ...be32(o.lease));
  if (o.t1 !== undefined) opts.push(58, 4, ...be32(o.t1));
  if (o.t2 !== undefined) opts.push(59, 4, ...be32(o.t2));
  opts.push(255);
  const b = new Uint8Array(240 + opts.length);
  const v = new DataView(b.buffer);
  b[0] = 2; b[1] = 1; b[2] = 6; v.setUint32(4, o.xid); v.setUint32(16, o.yiaddr); v.setUint32(20, o.server);
  b.set(o.chaddr, 28); v.setUint32(236, 0x63825363); b.set(opts, 240);
  return b;
}
const be32 = (x: number) => [x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255];

// ---------------------------------------------------------------- decode

export interface Decoded {
  dst: string; src: string; type: number;
  arp?: { op: number; sha: string; spa: string; tha: string; tpa: string };
  ip?: { src: number; dst: number; proto: number; ident: number; mf: boolean; fragOffset: number; ttl: number; headerOk: boolean; payload: Uint8Array };
  tcp?: { sport: number; dport: number; seq: number; ack: number; flags: number; window: number; mss?: number; wscale?: number; payload: Uint8Array; csumOk: boolean };
  udp?: { sport: number; dport: number; payload: Uint8Array; csumOk: boolean };
  icmp?: { type: number; code: number; ident: number; seq: number; data: Uint8Array; csumOk: boolean };
}

export function decode(f: Uint8Array): Decoded {
  const v = new DataView(f.buffer, f.byteOffset, f.byteLength);
  const d: Decoded = { dst: macStr(f.subarray(0, 6)), src: macStr(f.subarray(6, 12)), type: v.getUint16(12) };
  if (d.type === 0x0806) {
    d.arp = { op: v.getUint16(20), sha: macStr(f.subarray(22, 28)), spa: ipStr(v.getUint32(28)), tha: macStr(f.subarray(32, 38)), tpa: ipStr(v.getUint32(38)) };
  } else if (d.type === 0x0800) {
    const hl = (f[14] & 15) * 4, total = v.getUint16(16);
    const ipb = f.subarray(14, 14 + total);
    const ff = v.getUint16(20);
    const payload = ipb.subarray(hl);
    d.ip = { src: v.getUint32(26), dst: v.getUint32(30), proto: f[23], ident: v.getUint16(18), mf: !!(ff & 0x2000),
      fragOffset: (ff & 0x1fff) * 8, ttl: f[22], headerOk: csum(ipb.subarray(0, hl)) === 0, payload };
    const pv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    const l4ok = (proto: number) => csum(payload, pseudo(d.ip!.src, d.ip!.dst, proto, payload.length)) === 0;
    if (d.ip.proto === 6 && !d.ip.mf && d.ip.fragOffset === 0) {
      const thl = (payload[12] >> 4) * 4;
      const t: Decoded["tcp"] = { sport: pv.getUint16(0), dport: pv.getUint16(2), seq: pv.getUint32(4), ack: pv.getUint32(8),
        flags: payload[13] & 0x3f, window: pv.getUint16(14), payload: payload.subarray(thl), csumOk: l4ok(6) };
      for (let i = 20; i < thl;) {
        const k = payload[i];
        if (k === 0) break;
        if (k === 1) { i++; continue; }
        if (k === 2) t.mss = pv.getUint16(i + 2);
        if (k === 3) t.wscale = payload[i + 2];
        i += payload[i + 1];
      }
      d.tcp = t;
    } else if (d.ip.proto === 17 && !d.ip.mf && d.ip.fragOffset === 0) {
      d.udp = { sport: pv.getUint16(0), dport: pv.getUint16(2), payload: payload.subarray(8, pv.getUint16(4)), csumOk: pv.getUint16(6) === 0 || l4ok(17) };
    } else if (d.ip.proto === 1) {
      d.icmp = { type: payload[0], code: payload[1], ident: pv.getUint16(4), seq: pv.getUint16(6), data: payload.subarray(8), csumOk: csum(payload) === 0 };
    }
  }
  return d;
}

// ---------------------------------------------------------------- kernel

export type NetExports = {
  parse(kind: number, p: number, len: number, src: number, dst: number, verify: number): number;
  reemit(kind: number, p: number, len: number, src: number, dst: number, out: number): number;
  emitTcp(out: number, src: number, dst: number, sp: number, dp: number, seq: number, ack: number, flags: number, win: number, mss: number, ws: number, plen: number, offload: number): number;
  emitDhcp(out: number, op: number, type: number, xid: number, macHi: number, macLo: number, yi: number, sid: number, req: number, mask: number, router: number, dns: number, lease: number, params: number): number;
  parseAll(p: number, len: number): number;
  views(p: number, len: number, ttl: number, sport: number, dport: number): number;
  newStack(seed: number, macLo: number, ip: number, prefix: number, gw: number, dhcp: number, mtu: number, memLimit: number): number;
  setOffload(h: number, tx: number, rx: number): void;
  setTxLimit(h: number, n: number): void;
  poll(h: number, now: bigint): bigint;
  setTso(h: number, max: number): void;
  txGso(h: number): number; tsoInPlace(h: number): number; tsoLent(h: number): number; setLendTso(h: number, on: number): void;
  setZeroCopy(h: number, on: number, hold: number): void; zcComplete(h: number, n: number): void; zcHeld(h: number): number;
  zcStats(h: number): number; deferredBytes(h: number): bigint; pinCount(h: number): number; sockTxGrow(id: number, cap: number): number;
  inject(h: number, p: number, len: number, flags: number): void;
  setRxPiece(h: number, piece: number): void; rxChains(h: number): number;
  txCount(h: number): number; txPtr(h: number): number; txLen(h: number): number; txPop(h: number): void;
  txCsumStart(h: number): number; txCsumOffset(h: number): number;
  wire(a: number, b: number): number;
  counter(h: number, i: number): bigint; counterCount(): number; counterNameOf(i: number): number;
  memUsed(h: number): bigint; memPeak(h: number): bigint; connCount(h: number): number; timeWaits(h: number): number;
  spareBytes(h: number): bigint; dropSpares(h: number): void; netPoolBytes(): bigint;
  ifaceAddr(h: number): number; ifacePrefix(h: number): number; ifaceGateway(h: number): number; ifaceDns(h: number): number;
  setIpv4(h: number, ip: number, prefix: number, gw: number): void;
  dhcpState(h: number): number; dhcpT1(h: number): bigint; dhcpT2(h: number): bigint; dhcpExpire(h: number): bigint;
  arpCount(h: number): number; fragsInProgress(h: number): number; describe(h: number): number;
  configFrom(ip: number, gw: number, dns: number): number;
  listen(h: number, port: number, echo: number, backlog: number, rx: number, tx: number): number;
  unlisten(l: number): void; lastAccepted(): number; acceptedOn(l: number): bigint; halfOpen(l: number): number;
  connect(h: number, ip: number, port: number, rx: number, tx: number): number;
  sockSend(id: number, p: number, len: number, closeAfter: number): void;
  sockWrite(id: number, p: number, len: number): number; sockRead(id: number, p: number, len: number): number;
  sockCork(id: number): void; sockUncork(id: number): void;
  setAutoRead(id: number, on: number | boolean): void;
  sockKeepAlive(id: number, idle: bigint, interval: bigint, probes: number): void; sockIdleTimeout(id: number, ns: bigint): void; sockClose(id: number): void; sockAbort(id: number): void;
  sockState(id: number): number; sockError(id: number): number; sockLog(id: number): number; sockPending(id: number): number;
  collectedLen(id: number): number; collectedPtr(id: number): number; sockLocalPort(id: number): number;
  sockIss(id: number): number; sockSndUna(id: number): number; sockSndNxt(id: number): number; sockRcvNxt(id: number): number;
  sockSndWnd(id: number): number; sockSndShift(id: number): number; sockRcvShift(id: number): number; sockMss(id: number): number;
  sockRto(id: number): bigint; sockSrtt(id: number): bigint; sockRttvar(id: number): bigint; sockCwnd(id: number): number;
  sockReadable(id: number): number; sockWritable(id: number): number;
  sockRxCapacity(id: number): number; sockTxCapacity(id: number): number; setBufferMax(rx: number, tx: number): void;
  udpBind(h: number, port: number, echo: number): number; udpLog(u: number): number;
  udpSend(u: number, ip: number, port: number, p: number, len: number): number;
  __pin(p: number): number; __unpin(p: number): void; __new(n: number, id: number): number; __collect(): void;
};

export class Net {
  constructor(public k: KernelModule<NetExports>) {}
  get x() { return this.k.exports; }
  static async load(): Promise<Net> {
    return new Net(await loadKernel<NetExports>("test/unit/wasm/net.ts", new FakeHost()));
  }
  /** Copies bytes into Wasm memory (unpinned after use by the caller's call). */
  withBytes<T>(b: Uint8Array, fn: (p: number) => T): T {
    const p = this.k.bytesIn(b);
    try { return fn(p); } finally { this.x.__unpin(p); }
  }
  str(p: number): string { return this.k.str(p); }
  s(t: string): number {
    const buf = Buffer.from(t, "utf16le");
    const p = this.x.__pin(this.x.__new(buf.length, 2));
    new Uint8Array(this.x.memory.buffer).set(buf, p);
    return p;
  }
  parse(kind: number, b: Uint8Array, src = 0, dst = 0, verify = true): Record<string, unknown> {
    return JSON.parse(this.str(this.withBytes(b, (p) => this.x.parse(kind, p, b.length, src, dst, verify ? 1 : 0))));
  }
  /** Emits into a 0xa5-filled buffer; returns the whole buffer and the length written. */
  reemit(kind: number, b: Uint8Array, src = 0, dst = 0): { out: Uint8Array; n: number } {
    const size = b.length + 400;
    const outP = this.k.bytesIn(new Uint8Array(size).fill(0xa5));
    const n = this.withBytes(b, (p) => this.x.reemit(kind, p, b.length, src, dst, outP));
    const out = this.k.bytesOut(outP, size);
    this.x.__unpin(outP);
    return { out, n };
  }
  inject(h: number, frame: Uint8Array, flags = 0): void {
    this.withBytes(frame, (p) => this.x.inject(h, p, frame.length, flags));
  }
  /** Takes every frame the stack transmitted. */
  take(h: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    while (this.x.txCount(h) > 0) {
      out.push(this.k.bytesOut(this.x.txPtr(h), this.x.txLen(h)));
      this.x.txPop(h);
    }
    return out;
  }
  counters(h: number): Record<string, number> {
    const r: Record<string, number> = {};
    for (let i = 0; i < this.x.counterCount(); i++) {
      const v = Number(this.x.counter(h, i));
      if (v) r[this.str(this.x.counterNameOf(i))] = v;
    }
    return r;
  }
  collected(id: number): Uint8Array {
    return this.k.bytesOut(this.x.collectedPtr(id), this.x.collectedLen(id));
  }
  send(id: number, data: Uint8Array, closeAfter = false): void {
    this.withBytes(data, (p) => this.x.sockSend(id, p, data.length, closeAfter ? 1 : 0));
  }
  state(id: number): string { return this.str(this.x.sockState(id)); }
  log(id: number): string { return this.str(this.x.sockLog(id)); }
}

/** A seeded PRNG (mulberry32) for lossy links and fuzzing. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
