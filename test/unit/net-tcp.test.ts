// TCP (kernel/lib/net/socket) compiled to Wasm, grouped by RFC 9293 state. The
// stack under test is 10.9.0.1; a scripted peer at 10.9.0.2 talks to it with
// segments built by net-lib's independent encoder, on a fake clock. At the
// end, two stacks move 1 MiB each way over a seeded lossy link.
import { beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Net, frames, decode, ip, mac, eth, ipv4, tcp, F, TcpSeg, rng } from "./net-lib.js";
import { ROOT } from "../platform/wasm.js";

let net: Net;
beforeAll(async () => { net = await Net.load(); });

const A = ip("10.9.0.1"), B = ip("10.9.0.2");
const MAC_A = mac("02:00:00:00:00:0a"), MAC_B = mac("02:00:00:00:00:0b");
const MS = 1_000_000n, SEC = 1_000_000_000n;
let seed = 100;

type Seg = NonNullable<ReturnType<typeof decode>["tcp"]>;
const flagStr = (f: number) => (f & F.SYN ? "S" : "") + (f & F.ACK ? "A" : "") + (f & F.PSH ? "P" : "") + (f & F.FIN ? "F" : "") + (f & F.RST ? "R" : "");

/** The scripted peer and the stack under test, with a fake clock. */
class Rig {
  h: number;
  now = 0n;
  sport = 40000;
  dport = 7;
  seq = 1000;            // the peer's next sequence number
  ack = 0;               // what the peer acknowledges
  listener = -1;
  constructor(opts: { listen?: boolean; echo?: boolean; backlog?: number; rx?: number; tx?: number; mtu?: number; mem?: number } = {}) {
    this.h = net.x.newStack(seed++, 0x0a, A, 24, 0, 0, opts.mtu ?? 1500, opts.mem ?? 0);
    if (opts.listen !== false) this.listener = net.x.listen(this.h, 7, opts.echo ? 1 : 0, opts.backlog ?? 8, opts.rx ?? 0, opts.tx ?? 0);
    net.x.poll(this.h, 0n);
    net.inject(this.h, eth(MAC_A, MAC_B, 0x0806, arpReq()));
    net.x.poll(this.h, 0n);
    net.take(this.h);
  }
  /** Sends one segment from the peer; returns what the stack sent back. */
  send(s: Partial<TcpSeg> & { flags: number }, rxFlags = 0): Seg[] {
    const seg: TcpSeg = { sport: this.sport, dport: this.dport, seq: this.seq, ack: this.ack, window: 65535, ...s };
    net.inject(this.h, eth(MAC_A, MAC_B, 0x0800, ipv4(B, A, 6, tcp(B, A, seg))), rxFlags);
    net.x.poll(this.h, this.now);
    return this.out();
  }
  /** Advances the clock to t and polls. */
  at(t: bigint): Seg[] { this.now = t; net.x.poll(this.h, t); return this.out(); }
  /** The stack's TCP segments; its ARP requests for the peer are answered. */
  out(): Seg[] {
    const got = net.take(this.h).map((f) => decode(f));
    if (got.some((d) => d.arp?.op === 1 && d.arp.tpa === "10.9.0.2")) {
      net.inject(this.h, eth(MAC_A, MAC_B, 0x0806, arpReply()));
      net.x.poll(this.h, this.now);
      got.push(...net.take(this.h).map((f) => decode(f)));
    }
    return got.filter((d) => d.tcp).map((d) => {
      expect(d.tcp!.csumOk).toBe(true);
      expect(d.ip!.headerOk).toBe(true);
      return d.tcp!;
    });
  }
  /** Full passive handshake; returns the accepted socket's id. */
  accept(opts: { mss?: number; wscale?: number; window?: number } = {}): number {
    const [sa] = this.send({ flags: F.SYN, mss: opts.mss ?? 1460, wscale: opts.wscale, window: opts.window ?? 65535 });
    expect(flagStr(sa.flags)).toBe("SA");
    this.seq++;
    this.ack = (sa.seq + 1) >>> 0;
    expect(this.send({ flags: F.ACK, window: opts.window ?? 65535 })).toEqual([]);
    return net.x.lastAccepted();
  }
}
function arpReq(op = 1) {
  const b = new Uint8Array(28);
  const v = new DataView(b.buffer);
  v.setUint16(0, 1); v.setUint16(2, 0x0800); b[4] = 6; b[5] = 4; v.setUint16(6, op);
  b.set(MAC_B, 8); v.setUint32(14, B); if (op === 2) b.set(MAC_A, 18); v.setUint32(24, A);
  return b;
}
const arpReply = () => arpReq(2);
const bytes = (n: number, k = 0) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + k) & 255);

describe("LISTEN", () => {
  it("answers a SYN with SYN,ACK carrying MSS and window scale (RFC 7323 §2.2)", () => {
    const r = new Rig({ rx: 262144 });
    const [sa] = r.send({ flags: F.SYN, mss: 1460, wscale: 7 });
    expect(flagStr(sa.flags)).toBe("SA");
    expect(sa.ack).toBe(1001);
    expect(sa.mss).toBe(1460);
    expect(sa.wscale).toBe(3);                         // 256 KiB buffer: shift 3 fits a 16-bit window
    expect(sa.window).toBe(65535);
    expect(net.x.halfOpen(r.listener)).toBe(1);
  });

  it("omits window scaling when the peer did not offer it", () => {
    const r = new Rig({ rx: 262144 });
    const [sa] = r.send({ flags: F.SYN, mss: 1000 });
    expect(sa.wscale).toBeUndefined();
    const id = r.accept.call(Object.assign(r, { sport: 40001, seq: 5000 }), { mss: 1000 });
    expect(net.x.sockRcvShift(id)).toBe(0);
    expect(net.x.sockMss(id)).toBe(1000);
  });

  it("resets an ACK to a listener and ignores a RST", () => {
    const r = new Rig();
    const [rst] = r.send({ flags: F.ACK, ack: 777 });
    expect([flagStr(rst.flags), rst.seq]).toEqual(["R", 777]);
    expect(r.send({ flags: F.RST })).toEqual([]);
  });

  it("resets a SYN to a closed port with <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>", () => {
    const r = new Rig();
    r.dport = 8080;
    const [rst] = r.send({ flags: F.SYN, seq: 5000 });
    expect([flagStr(rst.flags), rst.seq, rst.ack]).toEqual(["AR", 0, 5001]);
    expect(net.counters(r.h)).toMatchObject({ drop_tcp_no_socket: 1, tcp_rst_out: 1 });
  });

  it("bounds a SYN flood by the backlog and frees everything when the handshakes time out", () => {
    const r = new Rig({ backlog: 4 });
    let synAcks = 0;
    for (let i = 0; i < 10; i++) { r.sport = 30000 + i; synAcks += r.send({ flags: F.SYN }).length; }
    expect(synAcks).toBe(10);                                // 6 of them SYN cookies, without state
    expect(net.counters(r.h).drop_tcp_syn_backlog).toBe(6);
    expect(net.counters(r.h).tcp_syn_cookies_sent).toBe(6);
    expect(net.x.connCount(r.h)).toBe(4);
    expect(Number(net.x.memUsed(r.h))).toBe(0);             // no buffers before the first byte
    for (let t = 1n; t < 300n; t++) r.at(t * SEC);
    expect(net.x.halfOpen(r.listener)).toBe(0);
    expect(net.x.connCount(r.h)).toBe(0);
    expect(Number(net.x.memUsed(r.h))).toBe(0);
    r.sport = 31000;
    expect(r.send({ flags: F.SYN }).length).toBe(1);      // the listener works again
  });

  it("SYN cookies: past the backlog a SYN gets a stateless SYN,ACK; its ACK makes the connection", () => {
    const r = new Rig({ backlog: 4 });
    for (let i = 0; i < 50; i++) { r.sport = 20000 + i; r.send({ flags: F.SYN, seq: 1000 + i }); }   // spoofed: never ACKed
    expect(net.x.connCount(r.h)).toBe(4);
    r.sport = 40000; r.seq = 7000;
    const [sa] = r.send({ flags: F.SYN, mss: 1460, wscale: 7 });
    expect(flagStr(sa.flags)).toBe("SA");
    expect(sa.ack).toBe(7001);
    expect(sa.mss).toBe(1460);
    expect(sa.wscale).toBeUndefined();                        // a cookie cannot keep the peer's scale
    expect(net.x.connCount(r.h)).toBe(4);                     // no state for it
    // A forged ACK (wrong cookie) is reset, not accepted.
    r.seq = 7001;
    const [rst] = r.send({ flags: F.ACK, ack: (sa.seq + 2) >>> 0 });
    expect(flagStr(rst.flags)).toBe("R");
    r.ack = (sa.seq + 1) >>> 0;
    expect(r.send({ flags: F.ACK | F.PSH, payload: bytes(5) }).length).toBeLessThanOrEqual(1);
    const id = net.x.lastAccepted();
    expect(net.state(id)).toBe("ESTABLISHED");
    expect(net.x.sockMss(id)).toBe(1460);
    expect(net.x.connCount(r.h)).toBe(5);
    expect(net.counters(r.h)).toMatchObject({ tcp_syn_cookies_sent: 47, tcp_syn_cookies_valid: 1, drop_tcp_syn_cookie_bad: 1 });
    // The 5 bytes came with the ACK and were read; an echo of the peer's view: data flows.
    expect(net.log(id)).toMatch(/^AR/);
    // A cookie from two ticks ago (over 128 s) is refused.
    r.sport = 40001; r.seq = 9000;
    const [sa2] = r.send({ flags: F.SYN, mss: 1460 });
    r.seq = 9001; r.ack = (sa2.seq + 1) >>> 0;
    r.at(200n * SEC);
    const [late] = r.send({ flags: F.ACK });
    expect(flagStr(late.flags)).toBe("R");
    expect(net.counters(r.h)).toMatchObject({ tcp_syn_cookies_valid: 1, drop_tcp_syn_cookie_bad: 2 });
  });

  it("refuses connections when the memory limit is reached", () => {
    // Buffers are taken by data: each connection below keeps 100 unread
    // bytes, so its 32 KiB receive ring stays. With 192 KiB, a sixth
    // connection could not have both rings (160 + 64 KiB) and is refused.
    const r = new Rig({ mem: 3 * 65536 });
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) {
      r.sport = 100 + i; r.seq = 1000;
      const id = r.accept();
      net.x.setAutoRead(id, false);
      r.send({ flags: F.ACK, payload: bytes(100) });
      ids.push(id);
    }
    expect(Number(net.x.memUsed(r.h))).toBe(5 * 32768);
    r.sport = 200; r.seq = 1000;
    expect(r.send({ flags: F.SYN })).toEqual([]);
    expect(net.counters(r.h).drop_tcp_no_memory).toBe(1);
    expect(Number(net.x.memPeak(r.h))).toBeLessThanOrEqual(3 * 65536);
    net.x.setAutoRead(ids[0], true);                        // read: the ring goes back
    expect(Number(net.x.memUsed(r.h))).toBe(4 * 32768);
    expect(flagStr(r.send({ flags: F.SYN, sport: 201 })[0].flags)).toBe("SA");
  });
});

describe("SYN-RECEIVED", () => {
  it("moves to ESTABLISHED on the ACK and hands the connection to the listener", () => {
    const r = new Rig();
    const id = r.accept();
    expect(net.state(id)).toBe("ESTABLISHED");
    expect(net.log(id)).toBe("A");
    expect(net.x.halfOpen(r.listener)).toBe(0);
    expect(Number(net.x.acceptedOn(r.listener))).toBe(1);
  });

  it("retransmits the SYN,ACK with exponential backoff", () => {
    const r = new Rig();
    const [sa] = r.send({ flags: F.SYN });
    const times: number[] = [];
    for (let t = 0n; t <= 20n * SEC; t += 100n * MS) {
      for (const s of r.at(t)) { expect([flagStr(s.flags), s.seq]).toEqual(["SA", sa.seq]); times.push(Number(t / MS)); }
    }
    expect(times).toEqual([1000, 3000, 7000, 15000]);
  });

  it("answers a repeated SYN with the same SYN,ACK", () => {
    const r = new Rig();
    const [sa] = r.send({ flags: F.SYN });
    const [again] = r.send({ flags: F.SYN });
    expect([flagStr(again.flags), again.seq, again.ack]).toEqual(["SA", sa.seq, 1001]);
  });

  it("returns to LISTEN on a RST (the listener forgets the half-open connection)", () => {
    const r = new Rig();
    r.send({ flags: F.SYN });
    r.seq++;
    expect(r.send({ flags: F.RST })).toEqual([]);
    expect(net.x.halfOpen(r.listener)).toBe(0);
    expect(net.x.connCount(r.h)).toBe(0);
  });

  it("resets an ACK that does not acknowledge the SYN", () => {
    const r = new Rig();
    const [sa] = r.send({ flags: F.SYN });
    r.seq++;
    const bad = (sa.seq + 5000) >>> 0;
    const [rst] = r.send({ flags: F.ACK, ack: bad });
    expect([flagStr(rst.flags), rst.seq]).toEqual(["R", bad]);
  });
});

describe("SYN-SENT", () => {
  function open(r: Rig, port = 80) {
    const id = net.x.connect(r.h, B, port, 0, 0);
    const [syn] = r.out();
    r.dport = net.x.sockLocalPort(id);
    r.sport = port;
    return { id, syn };
  }

  it("sends a SYN with MSS and window scale from an entropy-chosen ISN and port", () => {
    const r = new Rig({ listen: false });
    const { id, syn } = open(r);
    expect(flagStr(syn.flags)).toBe("S");
    expect(syn.mss).toBe(1460);
    expect(syn.wscale).toBe(0);
    expect(syn.seq).toBe((net.x.sockIss(id) >>> 0));
    expect(r.dport).toBeGreaterThanOrEqual(49152);
    // Another stack (other secret) picks another ISN for the same 4-tuple at the same time.
    const r2 = new Rig({ listen: false });
    const id2 = net.x.connect(r2.h, B, 80, 0, 0);
    expect((net.x.sockIss(id2) >>> 0)).not.toBe(syn.seq);
  });

  it("completes on SYN,ACK: ESTABLISHED, connected event, window scale taken", () => {
    const r = new Rig({ listen: false });
    const { id, syn } = open(r);
    r.ack = (syn.seq + 1) >>> 0;
    const [ack] = r.send({ flags: F.SYN | F.ACK, seq: 9000, mss: 1200, wscale: 7, window: 100 });
    expect([flagStr(ack.flags), ack.seq, ack.ack]).toEqual(["A", r.ack, 9001]);
    expect(net.state(id)).toBe("ESTABLISHED");
    expect(net.log(id)).toBe("C");
    expect(net.x.sockMss(id)).toBe(1200);
    expect(net.x.sockSndShift(id)).toBe(7);
    r.seq = 9001;
    r.send({ flags: F.ACK, window: 100 });
    expect(net.x.sockSndWnd(id)).toBe(12800);
  });

  it("sizes the initial window (RFC 6928) by the MSS the SYN,ACK brings; after a lost SYN it stays one segment", () => {
    const r = new Rig({ listen: false });
    const { id, syn } = open(r);
    r.ack = (syn.seq + 1) >>> 0;
    r.send({ flags: F.SYN | F.ACK, seq: 9000, mss: 1460, wscale: 7, window: 65535 });
    expect(net.x.sockCwnd(id)).toBe(14600);            // 10 × 1460, not 10 × the 536 assumed at connect
    const r2 = new Rig({ listen: false });
    const o2 = open(r2);
    expect(r2.at(2n * SEC).length).toBe(1);            // the SYN again: the window is cut to one segment
    r2.ack = (o2.syn.seq + 1) >>> 0;
    r2.send({ flags: F.SYN | F.ACK, seq: 9000, mss: 1460, wscale: 7, window: 65535 });
    expect(net.x.sockCwnd(o2.id)).toBe(1460);
  });

  it("retransmits the SYN with backoff and gives up after the retries", () => {
    const r = new Rig({ listen: false });
    const { id } = open(r);
    let syns = 0;
    for (let t = 0n; t < 400n * SEC; t += SEC / 2n) syns += r.at(t).length;
    expect(syns).toBe(6);
    expect(net.state(id)).toBe("CLOSED");
    expect(net.log(id)).toBe("X3");                    // TCP_ERR_TIMEOUT
  });

  it("is refused by a RST that acknowledges the SYN; a RST without ACK is ignored", () => {
    const r = new Rig({ listen: false });
    const { id, syn } = open(r);
    expect(r.send({ flags: F.RST, seq: 0 })).toEqual([]);
    expect(net.state(id)).toBe("SYN-SENT");
    r.send({ flags: F.RST | F.ACK, seq: 0, ack: (syn.seq + 1) >>> 0 });
    expect(net.state(id)).toBe("CLOSED");
    expect(net.log(id)).toBe("X1");                    // TCP_ERR_REFUSED
    expect(net.x.connCount(r.h)).toBe(0);
  });

  it("resets an ACK outside what was sent", () => {
    const r = new Rig({ listen: false });
    const { id, syn } = open(r);
    const [rst] = r.send({ flags: F.SYN | F.ACK, seq: 9000, ack: (syn.seq + 77) >>> 0 });
    expect([flagStr(rst.flags), rst.seq]).toEqual(["R", (syn.seq + 77) >>> 0]);
    expect(net.state(id)).toBe("SYN-SENT");
  });

  it("simultaneous open: SYN, then SYN,ACK (RFC 9293 §3.5 figure 8)", () => {
    const r = new Rig({ listen: false });
    const { id, syn } = open(r, 5000);
    const [sa] = r.send({ flags: F.SYN, seq: 300 });
    expect([flagStr(sa.flags), sa.seq, sa.ack]).toEqual(["SA", syn.seq, 301]);
    expect(net.state(id)).toBe("SYN-RECEIVED");
    const [ack] = r.send({ flags: F.SYN | F.ACK, seq: 300, ack: (syn.seq + 1) >>> 0 });
    expect([flagStr(ack.flags), ack.seq, ack.ack]).toEqual(["A", (syn.seq + 1) >>> 0, 301]);
    expect(net.state(id)).toBe("ESTABLISHED");
    expect(net.log(id)).toBe("C");
  });
});

describe("ESTABLISHED", () => {
  it("delays the ACK of one segment, ACKs every second segment at once", () => {
    const r = new Rig();
    const id = r.accept();
    expect(r.send({ flags: F.ACK | F.PSH, payload: bytes(100) })).toEqual([]);
    r.seq += 100;
    const [a] = r.at(100n * MS);
    expect([flagStr(a.flags), a.ack]).toEqual(["A", r.seq]);
    expect(r.send({ flags: F.ACK, payload: bytes(100) })).toEqual([]);
    r.seq += 100;
    const [b] = r.send({ flags: F.ACK, payload: bytes(100) });
    r.seq += 100;
    expect(b.ack).toBe(r.seq);
    expect(net.collected(id).length).toBe(300);
  });

  it("sends app data; the ACK frees the buffer (writable); RTT samples drive the RTO (RFC 6298 §2)", () => {
    const r = new Rig();
    const [sa] = r.send({ flags: F.SYN, mss: 1460 });
    r.seq++;
    r.ack = (sa.seq + 1) >>> 0;
    r.now = 400n * MS;
    r.send({ flags: F.ACK });                           // the handshake is the first sample: R = 400 ms
    const id = net.x.lastAccepted();
    expect(Number(net.x.sockSrtt(id))).toBe(400e6);
    expect(Number(net.x.sockRttvar(id))).toBe(200e6);
    expect(Number(net.x.sockRto(id))).toBe(1200e6);     // SRTT + 4·RTTVAR (above the 1 s floor)
    net.send(id, new TextEncoder().encode("hello"));
    const [d] = r.out();
    expect(flagStr(d.flags)).toBe("AP");
    expect(Buffer.from(d.payload).toString()).toBe("hello");
    r.at(1400n * MS);
    r.send({ flags: F.ACK, ack: (d.seq + 5) >>> 0 });   // R = 1 s
    expect(net.log(id)).toBe("AW");
    expect(Number(net.x.sockRttvar(id))).toBe(300e6);   // 3/4·200 + 1/4·|400 − 1000| (§2.3)
    expect(Number(net.x.sockSrtt(id))).toBe(475e6);     // 7/8·400 + 1/8·1000
    expect(Number(net.x.sockRto(id))).toBe(1675e6);
  });

  it("cork: pieces written one after another leave as one segment at uncork (an HTTP head and its body)", () => {
    const r = new Rig();
    const id = r.accept();
    net.x.sockCork(id);
    expect(net.withBytes(bytes(120), (p) => net.x.sockWrite(id, p, 120))).toBe(120);
    expect(net.withBytes(bytes(32, 1), (p) => net.x.sockWrite(id, p, 32))).toBe(32);
    expect(r.out()).toEqual([]);                        // nothing leaves while corked
    net.x.sockUncork(id);
    const segs = r.out();
    expect(segs.map((d) => [flagStr(d.flags), d.payload.length])).toEqual([["AP", 152]]);
    expect(Buffer.from(segs[0].payload)).toEqual(Buffer.concat([Buffer.from(bytes(120)), Buffer.from(bytes(32, 1))]));
    expect(net.withBytes(bytes(5), (p) => net.x.sockWrite(id, p, 5))).toBe(5);   // uncorked: sent at once
    expect(r.out().length).toBe(1);
  });

  it("reports back-pressure: write takes only what fits", () => {
    const r = new Rig({ tx: 4096 });
    const id = r.accept();
    expect(net.withBytes(bytes(10000), (p) => net.x.sockWrite(id, p, 10000))).toBe(4096);
    expect(net.x.sockWritable(id)).toBe(0);
    expect(net.withBytes(bytes(10), (p) => net.x.sockWrite(id, p, 10))).toBe(0);
  });

  it("retransmits on timeout with exponential backoff, and recovers", () => {
    const r = new Rig();
    const id = r.accept();
    net.send(id, bytes(500));
    const [d] = r.out();
    const times: number[] = [];
    for (let t = 0n; t <= 8n * SEC; t += 250n * MS) {
      for (const s of r.at(t)) { expect([s.seq, s.payload.length]).toEqual([d.seq, 500]); times.push(Number(t / MS)); }
    }
    expect(times).toEqual([1000, 3000, 7000]);
    r.send({ flags: F.ACK, ack: (d.seq + 500) >>> 0 });
    expect((net.x.sockSndUna(id) >>> 0)).toBe((d.seq + 500) >>> 0);
    expect(r.at(30n * SEC)).toEqual([]);
    expect(net.counters(r.h).tcp_retransmits).toBe(3);
  });

  it("fast-retransmits after three duplicate ACKs, before the timer", () => {
    const r = new Rig();
    const id = r.accept();
    net.send(id, bytes(5 * 1460));
    const segs = r.out();
    expect(segs.length).toBe(5);
    r.send({ flags: F.ACK, ack: (segs[0].seq + 1460) >>> 0 });
    for (let i = 0; i < 2; i++) expect(r.send({ flags: F.ACK, ack: (segs[0].seq + 1460) >>> 0 })).toEqual([]);
    const [rt] = r.send({ flags: F.ACK, ack: (segs[0].seq + 1460) >>> 0 });
    expect([rt.seq, rt.payload.length]).toEqual([segs[1].seq, 1460]);
    expect(net.counters(r.h).tcp_fast_retransmits).toBe(1);
    // A partial ACK retransmits the next hole at once (RFC 6582).
    const [rt2] = r.send({ flags: F.ACK, ack: (segs[2].seq) >>> 0 });
    expect(rt2.seq).toBe(segs[2].seq);
    r.send({ flags: F.ACK, ack: (segs[4].seq + 1460) >>> 0 });
    expect((net.x.sockSndUna(id) >>> 0)).toBe((net.x.sockSndNxt(id) >>> 0));
  });

  it("puts out-of-order data in place and ACKs the hole at once", () => {
    const r = new Rig();
    const id = r.accept();
    const data = bytes(3000, 3);
    const [dup] = r.send({ flags: F.ACK, seq: r.seq + 1000, payload: data.subarray(1000, 2000) });
    expect(dup.ack).toBe(r.seq);
    const [dup2] = r.send({ flags: F.ACK, seq: r.seq + 2000, payload: data.subarray(2000) });
    expect(dup2.ack).toBe(r.seq);
    expect(net.collected(id).length).toBe(0);
    const [all] = r.send({ flags: F.ACK, payload: data.subarray(0, 1000) });
    expect(all.ack).toBe(r.seq + 3000);
    expect(Buffer.from(net.collected(id)).equals(Buffer.from(data))).toBe(true);
  });

  it("trims data to the window, closes it, and opens it again when the app reads", () => {
    const r = new Rig({ rx: 4096 });
    const id = r.accept();
    net.x.setAutoRead(id, 0);
    // The first 4096 bytes: more than one full segment, so acknowledged at once
    // (RFC 9293 §3.8.6.3: at least every second full-sized segment).
    const [a] = r.send({ flags: F.ACK, payload: bytes(6000) });
    expect([a.ack, a.window]).toEqual([r.seq + 4096, 0]);
    r.seq += 4096;
    const [z] = r.send({ flags: F.ACK, payload: bytes(100) });   // beyond a zero window
    expect([z.ack, z.window]).toEqual([r.seq, 0]);
    expect(net.counters(r.h).drop_tcp_out_of_window).toBe(1);
    const buf = net.k.bytesIn(new Uint8Array(4096));
    expect(net.x.sockRead(id, buf, 4096)).toBe(4096);
    const [upd] = r.out();                               // window update
    expect([upd.ack, upd.window]).toEqual([r.seq, 4096]);
  });

  it("takes a large segment that came in pieces (merged receive buffers) straight into the ring, bytes in order", () => {
    const r = new Rig({ rx: 65536 });
    net.x.setOffload(r.h, 0, 1);
    const id = r.accept();
    net.x.setAutoRead(id, 0);
    net.x.setRxPiece(r.h, 1000);                       // headers in the first piece, payload over 41 more
    const data = bytes(40000, 3);
    // RX_CSUM_VALID (the device vouched for the checksum): taken as it lies.
    const [a] = r.send({ flags: F.ACK, payload: data }, 1);
    expect(a.ack).toBe((r.seq + 40000) >>> 0);
    r.seq += 40000;
    // Without the device's word the checksum must be checked: joined first.
    const more = bytes(3000, 9);
    const [b] = r.send({ flags: F.ACK, payload: more });
    expect(b.ack).toBe((r.seq + 3000) >>> 0);
    r.seq += 3000;
    expect(net.str(net.x.rxChains(r.h))).toBe("2 1");
    const buf = net.k.bytesIn(new Uint8Array(43000));
    expect(net.x.sockRead(id, buf, 43000)).toBe(43000);
    const got = Buffer.from(net.k.bytesOut(buf, 43000));
    expect(got.equals(Buffer.concat([data, more]))).toBe(true);
  });

  it("probes a zero window, and sends when it opens", () => {
    const r = new Rig();
    const id = r.accept({ window: 0 });
    net.send(id, bytes(100));
    expect(r.out()).toEqual([]);
    const una = (net.x.sockSndUna(id) >>> 0);
    const probes: number[] = [];
    for (let t = 0n; t <= 8n * SEC; t += 250n * MS) {
      for (const s of r.at(t)) { expect([s.seq, s.payload.length]).toEqual([(una - 1) >>> 0, 0]); probes.push(Number(t / MS)); }
    }
    expect(probes).toEqual([1000, 3000, 7000]);
    const [d] = r.send({ flags: F.ACK, ack: una, window: 1000 });
    expect([d.seq, d.payload.length]).toEqual([una, 100]);
    expect(net.counters(r.h).tcp_window_probes).toBe(3);
  });

  it("RFC 5961: exact RST resets, in-window RST gets a challenge ACK, others are dropped", () => {
    const r = new Rig();
    const id = r.accept();
    expect(r.send({ flags: F.RST, seq: r.seq + 100000000 })).toEqual([]);
    const [ch] = r.send({ flags: F.RST, seq: r.seq + 10 });
    expect([flagStr(ch.flags), ch.ack]).toEqual(["A", r.seq]);
    expect(net.state(id)).toBe("ESTABLISHED");
    r.send({ flags: F.RST });
    expect(net.state(id)).toBe("CLOSED");
    expect(net.log(id)).toBe("AX2");
    expect(net.counters(r.h)).toMatchObject({ tcp_challenge_acks: 1, tcp_rst_in: 1, tcp_established_resets: 1 });
    expect(Number(net.x.memUsed(r.h))).toBe(0);
  });

  it("RFC 5961: a SYN gets a challenge ACK and changes nothing", () => {
    const r = new Rig();
    const id = r.accept();
    const [ch] = r.send({ flags: F.SYN, seq: r.seq + 5 });
    expect([flagStr(ch.flags), ch.ack]).toEqual(["A", r.seq]);
    expect(net.state(id)).toBe("ESTABLISHED");
  });

  it("RFC 5961: data with an ACK too old or for unsent data is not accepted", () => {
    const r = new Rig();
    const id = r.accept();
    const una = (net.x.sockSndUna(id) >>> 0);
    const [a1] = r.send({ flags: F.ACK, ack: (una + 1000) >>> 0, payload: bytes(10) });
    expect(a1.ack).toBe(r.seq);
    const [a2] = r.send({ flags: F.ACK, ack: (una - 200000) >>> 0, payload: bytes(10) });
    expect(a2.ack).toBe(r.seq);
    expect(net.collected(id).length).toBe(0);
    expect(net.counters(r.h).drop_tcp_bad_ack).toBe(2);
  });

  it("limits challenge ACKs per second", () => {
    const r = new Rig();
    r.accept();
    let n = 0;
    for (let i = 0; i < 150; i++) n += r.send({ flags: F.SYN, seq: r.seq + 5 }).length;
    expect(n).toBe(100);
  });
});

describe("CLOSE-WAIT and LAST-ACK (passive close)", () => {
  it("FIN -> CLOSE-WAIT with end of stream; close -> LAST-ACK; ACK -> CLOSED, memory released", () => {
    const r = new Rig();
    const id = r.accept();
    const [a] = r.send({ flags: F.ACK | F.FIN, payload: bytes(5) });
    expect(a.ack).toBe(r.seq + 6);
    r.seq += 6;
    expect(net.state(id)).toBe("CLOSE-WAIT");
    expect(net.log(id)).toBe("ARE");
    net.send(id, bytes(3), true);
    const segs = r.out();
    const fin = segs[segs.length - 1];
    expect(segs.map((x) => flagStr(x.flags))).toEqual(["AP", "AF"]);
    expect(net.state(id)).toBe("LAST-ACK");
    r.send({ flags: F.ACK, ack: (fin.seq + 1) >>> 0 });
    expect(net.state(id)).toBe("CLOSED");
    expect(net.log(id)).toBe("AREX0");
    expect(net.x.connCount(r.h)).toBe(0);
    expect(Number(net.x.memUsed(r.h))).toBe(0);
  });

  it("an app that closes on end of stream answers the FIN with one FIN,ACK, not an ACK and a FIN", () => {
    const r = new Rig({ echo: true });                      // echo: closes once the peer's FIN is read
    const id = r.accept();
    const [e] = r.send({ flags: F.ACK | F.PSH, payload: bytes(1) });
    expect(e.payload.length).toBe(1);
    r.seq += 1;
    r.ack = (e.seq + 1) >>> 0;
    const segs = r.send({ flags: F.ACK | F.FIN });
    expect(segs.map((x) => flagStr(x.flags))).toEqual(["AF"]);
    expect(segs[0].ack).toBe(r.seq + 1);                    // it acknowledges the peer's FIN
    expect(net.state(id)).toBe("LAST-ACK");
    r.send({ flags: F.ACK, seq: r.seq + 1, ack: (segs[0].seq + 1) >>> 0 });
    expect(net.state(id)).toBe("CLOSED");
    expect(net.x.connCount(r.h)).toBe(0);
  });

  it("an app that does not close at once still acknowledges the FIN in the same poll", () => {
    const r = new Rig();
    const id = r.accept();
    const segs = r.send({ flags: F.ACK | F.FIN });
    expect(segs.map((x) => flagStr(x.flags))).toEqual(["A"]);
    expect(segs[0].ack).toBe(r.seq + 1);
    expect(net.state(id)).toBe("CLOSE-WAIT");
  });

  it("waits for data before a FIN that arrived early", () => {
    const r = new Rig();
    const id = r.accept();
    const [a] = r.send({ flags: F.ACK | F.FIN, seq: r.seq + 10 });
    expect(a.ack).toBe(r.seq);
    expect(net.state(id)).toBe("ESTABLISHED");
    const [b] = r.send({ flags: F.ACK, payload: bytes(10) });
    expect(b.ack).toBe(r.seq + 11);
    expect(net.state(id)).toBe("CLOSE-WAIT");
  });
});

describe("FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT (active close)", () => {
  it("close -> FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT -> CLOSED after 2 MSL", () => {
    const r = new Rig();
    const id = r.accept();
    net.x.sockClose(id);
    const [fin] = r.out();
    expect(flagStr(fin.flags)).toBe("AF");
    expect(net.state(id)).toBe("FIN-WAIT-1");
    r.send({ flags: F.ACK, ack: (fin.seq + 1) >>> 0 });
    expect(net.state(id)).toBe("FIN-WAIT-2");
    r.ack = (fin.seq + 1) >>> 0;
    const [a] = r.send({ flags: F.ACK | F.FIN });
    expect(a.ack).toBe(r.seq + 1);
    // TIME-WAIT: the app is told at once and the socket is gone; a small
    // entry without buffers answers for the 4-tuple for 2 MSL.
    expect(net.state(id)).toBe("CLOSED");
    expect(net.log(id)).toBe("AREX0");
    expect(net.x.connCount(r.h)).toBe(0);
    expect(net.x.timeWaits(r.h)).toBe(1);
    expect(Number(net.x.memUsed(r.h))).toBe(0);
    r.at(30n * SEC);
    const [again] = r.send({ flags: F.ACK | F.FIN });      // our ACK was lost: the FIN comes again
    expect([flagStr(again.flags), again.seq, again.ack]).toEqual(["A", (fin.seq + 1) >>> 0, r.seq + 1]);
    const [stray] = r.send({ flags: F.ACK, seq: r.seq - 500, payload: bytes(10) });   // an old duplicate: ACK
    expect([flagStr(stray.flags), stray.ack]).toEqual(["A", r.seq + 1]);
    r.at(89n * SEC);
    expect(net.x.timeWaits(r.h)).toBe(1);                    // restarted by the repeated FIN
    r.at(91n * SEC);
    expect(net.x.timeWaits(r.h)).toBe(0);
    expect(net.log(id)).toBe("AREX0");
    expect(Number(net.x.memUsed(r.h))).toBe(0);
  });

  it("releases the send buffer once everything is acknowledged; FIN-WAIT-2 holds no pages", () => {
    const r = new Rig();
    const id = r.accept();
    net.send(id, bytes(3000), true);
    const segs = r.out();
    expect(Number(net.x.memUsed(r.h))).toBe(32768);
    const fin = segs[segs.length - 1];
    r.send({ flags: F.ACK, ack: (fin.seq + 1) >>> 0 });
    expect(net.state(id)).toBe("FIN-WAIT-2");
    expect(Number(net.x.memUsed(r.h))).toBe(0);
  });

  it("a new SYN above the old sequence reopens a TIME-WAIT 4-tuple (RFC 6191); an old one gets an ACK", () => {
    const r = new Rig();
    const id = r.accept();
    net.x.sockClose(id);
    const [fin] = r.out();
    r.ack = (fin.seq + 1) >>> 0;
    r.send({ flags: F.ACK | F.FIN });
    r.seq++;
    expect(net.x.timeWaits(r.h)).toBe(1);
    const [old] = r.send({ flags: F.SYN, seq: r.seq - 100 });
    expect([flagStr(old.flags), old.ack]).toEqual(["A", r.seq]);
    const [sa] = r.send({ flags: F.SYN, seq: r.seq + 100000 });
    expect(flagStr(sa.flags)).toBe("SA");
    expect((sa.seq - fin.seq) | 0).toBeGreaterThan(0);       // above the old incarnation's sequence
    expect(net.x.timeWaits(r.h)).toBe(0);
    expect(net.counters(r.h).tcp_time_wait_reopened).toBe(1);
  });

  it("FIN,ACK together in FIN-WAIT-1 go straight to TIME-WAIT", () => {
    const r = new Rig();
    const id = r.accept();
    net.x.sockClose(id);
    const [fin] = r.out();
    r.ack = (fin.seq + 1) >>> 0;
    r.send({ flags: F.ACK | F.FIN });
    expect(net.x.timeWaits(r.h)).toBe(1);
    expect(net.log(id)).toBe("AREX0");
  });

  it("simultaneous close goes through CLOSING (RFC 9293 §3.6 figure 13)", () => {
    const r = new Rig();
    const id = r.accept();
    net.x.sockClose(id);
    const [fin] = r.out();
    const [a] = r.send({ flags: F.ACK | F.FIN });           // the peer's FIN, not acking ours
    expect(a.ack).toBe(r.seq + 1);
    expect(net.state(id)).toBe("CLOSING");
    r.seq++;
    r.send({ flags: F.ACK, ack: (fin.seq + 1) >>> 0 });
    expect(net.x.timeWaits(r.h)).toBe(1);
    expect(net.state(id)).toBe("CLOSED");
  });

  it("gives up on a peer that never sends its FIN", () => {
    const r = new Rig();
    const id = r.accept();
    net.x.sockClose(id);
    const [fin] = r.out();
    r.send({ flags: F.ACK, ack: (fin.seq + 1) >>> 0 });
    r.at(61n * SEC);
    expect(net.state(id)).toBe("CLOSED");
    expect(net.x.connCount(r.h)).toBe(0);
  });

  it("sends queued data before the FIN", () => {
    const r = new Rig();
    const id = r.accept();
    net.send(id, bytes(3000), true);
    const segs = r.out();
    // write() sends at once; close() then adds the FIN in a segment of its own.
    expect(segs.map((s) => [flagStr(s.flags), s.payload.length])).toEqual([["A", 1460], ["A", 1460], ["AP", 80], ["AF", 0]]);
    expect(segs[3].seq).toBe((segs[0].seq + 3000) >>> 0);
  });
});

describe("aborts and timeouts", () => {
  it("abort sends RST and frees the connection", () => {
    const r = new Rig();
    const id = r.accept();
    net.x.sockAbort(id);
    const [rst] = r.out();
    expect(flagStr(rst.flags)).toBe("R");
    expect(net.log(id)).toBe("AX4");
    expect(net.x.connCount(r.h)).toBe(0);
  });

  it("drops the connection with a RST after the retransmissions run out", () => {
    const r = new Rig();
    const id = r.accept();
    net.send(id, bytes(10));
    let last: Seg | undefined;
    for (let t = 0n; t < 3000n * SEC; t += SEC) for (const s of r.at(t)) last = s;
    expect(flagStr(last!.flags)).toBe("R");
    expect(net.log(id)).toBe("AX3");
    expect(net.counters(r.h).tcp_timeouts).toBe(1);
  });

  it("keepalive (RFC 1122 §4.2.3.6): off by default; probes after the idle time; an answer restarts it; silence resets", () => {
    const r = new Rig();
    const quiet = r.accept();
    expect(r.at(3n * 3600n * SEC)).toEqual([]);               // off by default: nothing in 3 h
    expect(net.state(quiet)).toBe("ESTABLISHED");
    r.sport++; r.seq = 5000;
    const id = r.accept();
    net.x.sockKeepAlive(id, 60n * SEC, 10n * SEC, 3);
    const t0 = r.now;
    expect(r.at(t0 + 59n * SEC)).toEqual([]);
    const [p1] = r.at(t0 + 60n * SEC);
    expect([flagStr(p1.flags), p1.seq, p1.payload.length]).toEqual(["A", (r.ack - 1) >>> 0, 0]);
    r.now = t0 + 61n * SEC;
    expect(r.send({ flags: F.ACK })).toEqual([]);              // the peer answers: idle again
    expect(r.at(t0 + 120n * SEC)).toEqual([]);
    const probes: number[] = [];
    let rst: Seg | undefined;
    for (let t = t0 + 121n * SEC; t <= t0 + 300n * SEC; t += SEC) {
      for (const s of r.at(t)) { if (s.flags & F.RST) rst = s; else probes.push(Number((t - t0) / SEC)); }
    }
    expect(probes).toEqual([121, 131, 141]);
    expect(rst).toBeDefined();
    expect(net.log(id)).toBe("AX3");
    expect(net.counters(r.h)).toMatchObject({ tcp_keepalive_probes: 4, tcp_keepalive_timeouts: 1 });
    expect(net.state(quiet)).toBe("ESTABLISHED");
  });

  it("an idle timeout resets a connection on which no data moved; data restarts it", () => {
    const r = new Rig();
    const id = r.accept();
    net.x.sockIdleTimeout(id, 10n * SEC);
    r.now = 5n * SEC;
    r.send({ flags: F.ACK, payload: bytes(10) });
    r.seq += 10;
    expect(r.at(14n * SEC).some((s) => s.flags & F.RST)).toBe(false);
    const out = r.at(15n * SEC);
    expect(out.map((s) => flagStr(s.flags))).toContain("R");
    expect(net.log(id)).toBe("ARX3");
    expect(net.x.connCount(r.h)).toBe(0);
  });

  it("gives up on a closed window whose probes go unanswered", () => {
    const r = new Rig();
    const id = r.accept({ window: 0 });
    net.send(id, bytes(100));
    let rst = false;
    for (let t = 0n; t < 3600n * SEC && !rst; t += SEC) for (const s of r.at(t)) if (s.flags & F.RST) rst = true;
    expect(rst).toBe(true);
    expect(net.log(id)).toBe("AX3");
    expect(net.counters(r.h).tcp_window_probes).toBe(12);
  });
});

// ---------------------------------------------------------------- two stacks

/** Two stacks on a seeded link that drops, duplicates, reorders and corrupts. */
function link(a: number, b: number, seedV: number, loss: { drop: number; dup: number; corrupt: number; jitterMs: number }) {
  const r = rng(seedV);
  const inFlight: { at: bigint; to: number; f: Uint8Array }[] = [];
  let now = 0n;
  const stats = { sent: 0, dropped: 0, duplicated: 0, corrupted: 0 };
  const pump = () => {
    for (const [from, to] of [[a, b], [b, a]]) {
      for (const f of net.take(from)) {
        stats.sent++;
        if (r() < loss.drop) { stats.dropped++; continue; }
        const copies = r() < loss.dup ? 2 : 1;
        if (copies === 2) stats.duplicated++;
        for (let c = 0; c < copies; c++) {
          let g = f;
          if (r() < loss.corrupt) { g = Uint8Array.from(f); g[14 + Math.floor(r() * (g.length - 14))] ^= 1 << Math.floor(r() * 8); stats.corrupted++; }
          inFlight.push({ at: now + 1n * MS + BigInt(Math.floor(r() * loss.jitterMs * 1e6)), to, f: g });
        }
      }
    }
  };
  const step = (): boolean => {
    const res = net.k.run(() => [net.x.poll(a, now), net.x.poll(b, now)]);
    if (res.exit !== undefined) throw new Error("guest exited: " + net.k.host.uart.text());
    const [da, db] = res.value!;
    pump();
    inFlight.sort((x, y) => (x.at < y.at ? -1 : x.at > y.at ? 1 : 0));
    let next = da < db ? da : db;
    if (inFlight.length && inFlight[0].at < next) next = inFlight[0].at;
    if (next === 0x7fffffffffffffffn) return false;
    now = next > now ? next : now;
    while (inFlight.length && inFlight[0].at <= now) { const x = inFlight.shift()!; net.inject(x.to, x.f); }
    return true;
  };
  return { step, stats, get now() { return now; } };
}

describe("two stacks", () => {
  it("move 1 MiB intact both ways over a lossy link (drop, duplicate, reorder, corrupt)", () => {
    const a = net.x.newStack(seed++, 0x0a, A, 24, 0, 0, 1500, 0);
    const b = net.x.newStack(seed++, 0x0b, B, 24, 0, 0, 1500, 0);
    net.x.listen(b, 7, 0, 8, 65536, 65536);
    const up = bytes(1 << 20, 1), down = bytes(1 << 20, 2);
    const c = net.x.connect(a, B, 7, 65536, 65536);
    net.send(c, up, true);
    const l = link(a, b, 0xc0ffee, { drop: 0.03, dup: 0.02, corrupt: 0.02, jitterMs: 4 });
    let s = -1;
    let steps = 0;
    while (steps++ < 400000) {
      if (!l.step()) break;
      if (s < 0 && net.x.lastAccepted() > c) { s = net.x.lastAccepted(); net.send(s, down, true); }
      if (s >= 0 && net.state(c) === "CLOSED" && net.state(s) === "CLOSED") break;
    }
    expect(s).toBeGreaterThan(c);
    expect(Buffer.from(net.collected(s)).equals(Buffer.from(up))).toBe(true);
    expect(Buffer.from(net.collected(c)).equals(Buffer.from(down))).toBe(true);
    expect(l.stats.dropped).toBeGreaterThan(20);
    expect(l.stats.corrupted).toBeGreaterThan(20);
    const ca = net.counters(a), cb = net.counters(b);
    expect((ca.drop_tcp_bad_checksum ?? 0) + (cb.drop_tcp_bad_checksum ?? 0) + (ca.drop_ip_bad_checksum ?? 0) + (cb.drop_ip_bad_checksum ?? 0)).toBeGreaterThan(0);
    expect((ca.tcp_retransmits ?? 0) + (cb.tcp_retransmits ?? 0)).toBeGreaterThan(0);
    expect(net.log(c)).toMatch(/^C.*E.*X0$/);
    // Both sides closed: every buffer is back (TIME-WAIT has ended too).
    for (let t = 0; t < 200; t++) l.step();
    expect([net.x.connCount(a), net.x.connCount(b)]).toEqual([0, 0]);
    expect([Number(net.x.memUsed(a)), Number(net.x.memUsed(b))]).toEqual([0, 0]);
  });

  it("200 concurrent echo connections, then 1000 more one after another, leave nothing behind", () => {
    const a = net.x.newStack(seed++, 0x0a, A, 24, 0, 0, 1500, 0);
    const b = net.x.newStack(seed++, 0x0b, B, 24, 0, 0, 1500, 0);
    net.x.listen(b, 7, 1, 256, 4096, 4096);
    const l = link(a, b, 7, { drop: 0, dup: 0, corrupt: 0, jitterMs: 0 });
    const ids: number[] = [];
    for (let i = 0; i < 200; i++) { const id = net.x.connect(a, B, 7, 4096, 4096); ids.push(id); net.send(id, bytes(1000, i), true); }
    for (let i = 0; i < 20000 && ids.some((id) => net.state(id) !== "CLOSED"); i++) l.step();
    for (const [i, id] of ids.entries()) expect(Buffer.from(net.collected(id)).equals(Buffer.from(bytes(1000, i)))).toBe(true);
    for (let k = 0; k < 1000; k++) {
      const id = net.x.connect(a, B, 7, 2048, 2048);
      net.send(id, bytes(10, k), true);
      for (let i = 0; i < 200 && net.state(id) !== "CLOSED"; i++) l.step();
      expect(net.collected(id).length).toBe(10);
    }
    for (let i = 0; i < 100; i++) l.step();            // TIME-WAITs end
    expect([net.x.connCount(a), net.x.connCount(b)]).toEqual([0, 0]);
    expect([Number(net.x.memUsed(a)), Number(net.x.memUsed(b))]).toEqual([0, 0]);
    expect(net.counters(b).tcp_passive_opens).toBe(1200);
  });
});

describe("spare ring storage (freed ring blocks kept for the next rings, bounded)", () => {
  const quiet = { drop: 0, dup: 0, corrupt: 0, jitterMs: 0 };
  const netBytes = () => Number(net.x.netPoolBytes());

  it("freed ring storage is kept as spares (at most 8 blocks of up to 32 KiB) for the next rings, outside the account", () => {
    const a = net.x.newStack(seed++, 0x0a, A, 24, 0, 0, 1500, 0);
    const b = net.x.newStack(seed++, 0x0b, B, 24, 0, 0, 1500, 0);
    net.x.listen(b, 7, 1, 64, 32768, 32768);
    const l = link(a, b, 13, quiet);
    const net0 = netBytes();
    const ids: number[] = [];
    for (let i = 0; i < 12; i++) { const id = net.x.connect(a, B, 7, 32768, 32768); ids.push(id); net.send(id, bytes(2000, i), true); }
    for (let i = 0; i < 20000 && ids.some((id) => net.state(id) !== "CLOSED"); i++) l.step();
    for (let i = 0; i < 5; i++) l.step();
    for (const [i, id] of ids.entries()) expect(Buffer.from(net.collected(id)).equals(Buffer.from(bytes(2000, i)))).toBe(true);
    // 24 rings a side took pages at once; 8 blocks of 32 KiB stay, the rest went back.
    expect([Number(net.x.spareBytes(a)), Number(net.x.spareBytes(b))]).toEqual([8 * 32768, 8 * 32768]);
    expect([Number(net.x.memUsed(a)), Number(net.x.memUsed(b))]).toEqual([0, 0]);
    expect(netBytes() - net0).toBe(2 * 8 * 32768);
    // One more connection: its rings take spares (no new pages), and give them back.
    const c = net.x.connect(a, B, 7, 32768, 32768);
    net.send(c, bytes(5000, 99), true);
    for (let i = 0; i < 4000 && net.state(c) !== "CLOSED"; i++) l.step();
    for (let i = 0; i < 5; i++) l.step();
    expect(Buffer.from(net.collected(c)).equals(Buffer.from(bytes(5000, 99)))).toBe(true);
    expect(netBytes() - net0).toBe(2 * 8 * 32768);
    expect(Number(net.x.memPeak(b))).toBeGreaterThan(0);
    // Other sizes are not kept; dropSpares gives every block back.
    net.x.dropSpares(a); net.x.dropSpares(b);
    expect(netBytes() - net0).toBe(0);
    expect([Number(net.x.memUsed(a)), Number(net.x.memUsed(b))]).toEqual([0, 0]);
  });

});

describe("buffer auto-tuning (RFC 7323 window scaling, growth on demand)", () => {
  /** The peer sends, every 10 ms, as much as the stack's last window allows
   *  (in 1460-byte segments); the app reads everything at once. */
  function pump(r: Rig, rounds: number, shift: number): { maxWindow: number } {
    let wnd = 65535, maxWindow = 0;
    for (let i = 0; i < rounds; i++) {
      r.at(BigInt(i + 1) * 10n * MS);
      let left = wnd;
      while (left > 0) {
        const n = Math.min(1460, left);
        for (const a of r.send({ flags: F.ACK, payload: bytes(n, i) })) {
          wnd = a.window * 2 ** shift;
          if (wnd > maxWindow) maxWindow = wnd;
        }
        r.seq = (r.seq + n) >>> 0;
        left -= n;
      }
    }
    return { maxWindow };
  }

  it("grows the receive ring of a fast reader in doublings, offering the scale it needs; everything comes back", () => {
    net.x.setBufferMax(1 << 20, 1 << 20);
    try {
      const r = new Rig();
      const [sa] = r.send({ flags: F.SYN, mss: 1460, wscale: 7 });
      expect(sa.wscale).toBe(5);                          // 1 MiB ring at most: 65535 << 5
      r.seq++;
      r.ack = (sa.seq + 1) >>> 0;
      r.send({ flags: F.ACK });
      const id = net.x.lastAccepted();
      expect(net.x.sockRxCapacity(id)).toBe(32768);
      const { maxWindow } = pump(r, 12, 5);
      const cap = net.x.sockRxCapacity(id);
      expect(cap).toBeGreaterThanOrEqual(256 * 1024);
      expect(cap).toBeLessThanOrEqual(1 << 20);
      expect(Math.log2(cap / 32768) % 1).toBe(0);          // doublings of the first size
      expect(maxWindow).toBeGreaterThan(65535);
      expect(maxWindow).toBeLessThanOrEqual(cap);
      expect(net.counters(r.h).tcp_rx_buffer_grown).toBeGreaterThan(2);
      expect(Number(net.x.memUsed(r.h))).toBe(cap);        // drained, kept a moment for the next bytes
      r.at(r.now + 20n * MS);
      expect(Number(net.x.memUsed(r.h))).toBe(0);          // then no pages held
      expect(net.x.sockTxCapacity(id)).toBe(32768);         // nothing was sent
    } finally { net.x.setBufferMax(0, 0); }
  });

  it("without the peer's window scale the ring stays within a 64 KiB window", () => {
    net.x.setBufferMax(1 << 20, 1 << 20);
    try {
      const r = new Rig();
      const id = r.accept();                               // no wscale from the peer
      const { maxWindow } = pump(r, 10, 0);
      expect(net.x.sockRcvShift(id)).toBe(0);
      expect(net.x.sockRxCapacity(id)).toBeLessThanOrEqual(65536);
      expect(maxWindow).toBeLessThanOrEqual(65535);
    } finally { net.x.setBufferMax(0, 0); }
  });

  it("an app that does not read never grows the ring: a flooding peer meets a zero window and pins no more", () => {
    net.x.setBufferMax(1 << 20, 1 << 20);
    try {
      const r = new Rig();
      const id = r.accept({ wscale: 14 });
      net.x.setAutoRead(id, 0);
      let last = -1;
      for (let i = 0; i < 60; i++) {
        r.at(BigInt(i) * 5n * MS);
        for (const a of r.send({ flags: F.ACK, payload: bytes(1460, i) })) last = a.window;
        if (last !== 0) r.seq = (r.seq + 1460) >>> 0;
      }
      expect(last).toBe(0);
      expect(net.x.sockRxCapacity(id)).toBe(32768);
      expect(net.x.sockReadable(id)).toBe(32768);
      expect(Number(net.x.memUsed(r.h))).toBe(32768);
      expect(net.counters(r.h).tcp_rx_buffer_grown ?? 0).toBe(0);
    } finally { net.x.setBufferMax(0, 0); }
  });

  it("the send ring grows only while the peer acknowledges and its window is open; a huge scale is taken as 14", () => {
    net.x.setBufferMax(1 << 20, 1 << 20);
    try {
      const r = new Rig();
      const id = r.accept({ wscale: 200, window: 0 });      // RFC 7323 §2.3: above 14 is 14
      expect(net.x.sockSndShift(id)).toBe(14);
      // A closed window: the app fills the ring, which stays as it is.
      expect(net.withBytes(bytes(100000), (p) => net.x.sockWrite(id, p, 100000))).toBe(32768);
      expect(net.x.sockTxCapacity(id)).toBe(32768);
      // A window of 1 GiB that nobody acknowledges into: cwnd stays at its first 10 segments.
      r.send({ flags: F.ACK, window: 65535 });
      expect(net.withBytes(bytes(100000), (p) => net.x.sockWrite(id, p, 100000))).toBe(0);
      expect(net.x.sockTxCapacity(id)).toBe(32768);
      // The peer acknowledges everything as it comes: cwnd opens, the ring grows.
      let t = 0n, moved = 0;
      for (let i = 0; i < 40; i++) {
        t += 10n * MS;
        const segs = r.at(t);
        for (const s of segs) moved += s.payload.length;
        const ack = (net.x.sockSndNxt(id) >>> 0);
        r.send({ flags: F.ACK, ack, window: 65535 });
        net.withBytes(bytes(65536), (p) => net.x.sockWrite(id, p, 65536));
      }
      expect(net.x.sockTxCapacity(id)).toBeGreaterThan(32768);
      expect(net.x.sockTxCapacity(id)).toBeLessThanOrEqual(1 << 20);
      expect(net.counters(r.h).tcp_tx_buffer_grown).toBeGreaterThan(0);
      expect(moved).toBeGreaterThan(0);
      // The peer shrinks its window to nothing with data in flight: no crash;
      // data waits, the window is probed, and an abort gives every page back.
      r.send({ flags: F.ACK, ack: (net.x.sockSndUna(id) >>> 0), window: 0 });
      for (let i = 0; i < 20; i++) r.at(t + BigInt(i) * 500n * MS);
      expect(net.state(id)).toBe("ESTABLISHED");
      net.x.sockAbort(id);
      r.out();
      expect(Number(net.x.memUsed(r.h))).toBe(0);
    } finally { net.x.setBufferMax(0, 0); }
  });

  it("growth stops at half the stack's memory limit", () => {
    net.x.setBufferMax(1 << 20, 1 << 20);
    try {
      const r = new Rig({ mem: 256 * 1024 });
      const id = r.accept({ wscale: 7 });
      pump(r, 12, net.x.sockRcvShift(id));
      expect(net.x.sockRxCapacity(id)).toBe(128 * 1024);
      // At most the old ring and the new one, for the copy between them.
      expect(Number(net.x.memPeak(r.h))).toBeLessThanOrEqual((64 + 128) * 1024);
      r.at(r.now + 20n * MS);
      expect(Number(net.x.memUsed(r.h))).toBe(0);
    } finally { net.x.setBufferMax(0, 0); }
  });

  it("two stacks move 4 MiB both ways with rings that grew, intact, and give every page back", () => {
    net.x.setBufferMax(1 << 20, 1 << 20);
    try {
      const a = net.x.newStack(seed++, 0x0a, A, 24, 0, 0, 1500, 0);
      const b = net.x.newStack(seed++, 0x0b, B, 24, 0, 0, 1500, 0);
      net.x.listen(b, 7, 0, 8, 0, 0);
      const up = bytes(4 << 20, 3), down = bytes(4 << 20, 4);
      const c = net.x.connect(a, B, 7, 0, 0);
      net.send(c, up, true);
      const l = link(a, b, 0xbeef, { drop: 0, dup: 0, corrupt: 0, jitterMs: 0 });
      let s = -1, steps = 0, capS = 0, capC = 0;
      while (steps++ < 400000) {
        if (!l.step()) break;
        if (s < 0 && net.x.lastAccepted() > c) { s = net.x.lastAccepted(); net.send(s, down, true); }
        if (s >= 0 && net.state(s) !== "CLOSED") capS = Math.max(capS, net.x.sockRxCapacity(s), net.x.sockTxCapacity(s));
        if (net.state(c) !== "CLOSED") capC = Math.max(capC, net.x.sockRxCapacity(c), net.x.sockTxCapacity(c));
        if (s >= 0 && net.state(c) === "CLOSED" && net.state(s) === "CLOSED") break;
      }
      expect(Buffer.from(net.collected(s)).equals(Buffer.from(up))).toBe(true);
      expect(Buffer.from(net.collected(c)).equals(Buffer.from(down))).toBe(true);
      expect(capS).toBeGreaterThan(32768);
      expect(capC).toBeGreaterThan(32768);
      const ca = net.counters(a), cb = net.counters(b);
      expect((ca.tcp_rx_buffer_grown ?? 0) + (cb.tcp_rx_buffer_grown ?? 0)).toBeGreaterThan(0);
      expect((ca.tcp_tx_buffer_grown ?? 0) + (cb.tcp_tx_buffer_grown ?? 0)).toBeGreaterThan(0);
      for (let t = 0; t < 200; t++) l.step();
      expect([net.x.connCount(a), net.x.connCount(b)]).toEqual([0, 0]);
      expect([Number(net.x.memUsed(a)), Number(net.x.memUsed(b))]).toEqual([0, 0]);
    } finally { net.x.setBufferMax(0, 0); }
  });
});
