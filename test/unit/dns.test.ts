// test/unit/dns.test.ts — kernel/lib/net/dns in Node: the query encoder against
// bytes written from RFC 1035 §4, the response parser on known answers
// (compression, CNAME chains, SOA for negative caching), every truncation,
// compression-pointer loops and 4000 random and mutated messages; then a
// resolver on a whole stack with a scripted server and a fake clock: ARP,
// retries across two servers with backoff, spoofed answers ignored, the
// cache and its bound, SERVFAIL falling over to the next server, NXDOMAIN,
// CNAME restarts, malformed answers.
import { beforeAll, describe, expect, it } from "vitest";
import { loadKernel, KernelModule } from "../platform/wasm.js";
import { FakeHost } from "../platform/host.js";
import { eth, ipv4, udp, arp, decode, ip, ipStr, mac, rng } from "./net-lib.js";

type DnsExports = {
  memory: WebAssembly.Memory;
  outPtr(): number;
  encodeQuery(id: number, name: number, qtype: number, cap: number): number;
  normalize(name: number): number;
  parse(p: number, len: number): number;
  parseOnly(p: number, len: number): number;
  setup(ip: number, s1: number, s2: number, attempts: number, cacheSize: number, timeoutMs: number): void;
  setupDefault(ip: number, dns: number): void; setAddress(ip: number, dns: number): void;
  resolve(name: number, now: bigint): void;
  pollAll(now: bigint): bigint;
  takeResults(): number;
  inject(p: number, len: number): void;
  txCount(): number; txPtr(): number; txLen(): number; txPop(): void;
  cacheCount(): number; inFlight(): number; spoofed(): bigint; udpSockets(): number;
  __new(n: number, id: number): number; __pin(p: number): number; __unpin(p: number): void; __collect(): void;
};

let k: KernelModule<DnsExports>;
let x: DnsExports;
beforeAll(async () => { k = await loadKernel<DnsExports>("test/unit/wasm/dns.ts", new FakeHost()); x = k.exports; });

/** An AssemblyScript string (class id 2, UTF-16) in guest memory. */
const s = (v: string) => {
  const p = x.__pin(x.__new(v.length * 2, 2));
  new Uint8Array(x.memory.buffer).set(Buffer.from(v, "utf16le"), p);
  return p;
};

// ------------------------------------------------------------ an independent encoder (RFC 1035 §4.1)

const nameBytes = (n: string) => Buffer.concat([...n.split(".").filter((l) => l).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]);
const u16 = (v: number) => Buffer.from([v >> 8, v & 255]);
const u32 = (v: number) => Buffer.from([v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255]);
const header = (id: number, flags: number, qd: number, an: number, ns = 0, ar = 0) => Buffer.concat([u16(id), u16(flags), u16(qd), u16(an), u16(ns), u16(ar)]);
const question = (n: string, type = 1) => Buffer.concat([nameBytes(n), u16(type), u16(1)]);
const rr = (owner: Buffer, type: number, ttl: number, data: Buffer) => Buffer.concat([owner, u16(type), u16(1), u32(ttl), u16(data.length), data]);
const aData = (a: string) => Buffer.from(a.split(".").map(Number));
const PTR_Q = Buffer.from([0xc0, 12]);           // the question's name

function parse(b: Uint8Array): Record<string, unknown> {
  return JSON.parse(k.str(x.parse(k.bytesIn(b), b.length)));
}

describe("query encoding", () => {
  it("writes RFC 1035 §4.1 bytes: header with RD, one question, lower-cased labels", () => {
    const n = x.encodeQuery(0x1234, s("Www.Example.COM."), 1, 512);
    const got = Buffer.from(k.bytesOut(x.outPtr(), n));
    expect(got.toString("hex")).toBe(Buffer.concat([header(0x1234, 0x0100, 1, 0), question("www.example.com")]).toString("hex"));
  });
  it("refuses names that are not host names, and buffers too small", () => {
    for (const bad of ["", ".", "a..b", "a b", "x".repeat(64) + ".test", ("a".repeat(63) + ".").repeat(4) + "ab", "é.test", "a/b"]) {
      expect(x.encodeQuery(1, s(bad), 1, 512), bad).toBe(-1);
    }
    expect(x.encodeQuery(1, s("x".repeat(63) + ".test"), 1, 512)).toBe(12 + 1 + 63 + 1 + 4 + 1 + 4);
    expect(x.encodeQuery(1, s("abc.test"), 1, 12 + 10 + 4 - 1)).toBe(-1);
    expect(k.str(x.normalize(s("_Svc.Host-1.TEST.")))).toBe("_svc.host-1.test");
  });
});

describe("response parsing", () => {
  const chain = Buffer.concat([
    header(0xbeef, 0x8180, 1, 3), question("www.example.test"),
    rr(PTR_Q, 5, 300, Buffer.concat([Buffer.from([3]), Buffer.from("web"), Buffer.from([0xc0, 16])])),   // web.example.test
    rr(Buffer.from([0xc0, 46]), 1, 60, aData("192.0.2.7")),
    rr(Buffer.from([0xc0, 46]), 1, 120, aData("192.0.2.8")),
  ]);
  it("reads a compressed answer: CNAME to a name sharing the suffix, two A records", () => {
    expect(parse(chain)).toEqual({
      id: 0xbeef, rcode: 0, tc: false, qname: "www.example.test", qtype: 1, qclass: 1, negativeTtl: 0,
      answers: [
        { name: "www.example.test", type: 5, ttl: 300, target: "web.example.test" },
        { name: "web.example.test", type: 1, ttl: 60, addr: "192.0.2.7" },
        { name: "web.example.test", type: 1, ttl: 120, addr: "192.0.2.8" },
      ],
    });
  });
  it("fails cleanly on every truncation of it", () => {
    for (let n = 0; n < chain.length; n++) expect(parse(chain.subarray(0, n)).error, `length ${n}`).toBeTypeOf("string");
  });
  it("takes the SOA minimum from the authority section for NXDOMAIN (RFC 2308 §5)", () => {
    const soa = Buffer.concat([nameBytes("ns.test"), nameBytes("admin.test"), u32(1), u32(3600), u32(600), u32(86400), u32(45)]);
    const m = Buffer.concat([header(7, 0x8183, 1, 0, 1), question("nope.test"), rr(nameBytes("test"), 6, 900, soa)]);
    expect(parse(m)).toMatchObject({ rcode: 3, negativeTtl: 45, answers: [] });
  });
  it("skips other types, treats a TTL with the top bit set as 0, refuses a 5-byte A record", () => {
    const m = Buffer.concat([header(7, 0x8180, 1, 2), question("a.test"), rr(PTR_Q, 16, 5, Buffer.from([3, 0x61, 0x62, 0x63])),
      rr(PTR_Q, 1, 0x80000000, aData("10.0.0.1"))]);
    expect(parse(m)).toMatchObject({ answers: [{ name: "a.test", type: 1, ttl: 0, addr: "10.0.0.1" }] });
    const bad = Buffer.concat([header(7, 0x8180, 1, 1), question("a.test"), rr(PTR_Q, 1, 5, Buffer.from([1, 2, 3, 4, 5]))]);
    expect(parse(bad).error).toBe("A record with 5 bytes of data");
  });
  it("refuses queries, two questions, and every compression-pointer loop", () => {
    expect(parse(Buffer.concat([header(1, 0x0100, 1, 0), question("a.test")])).error).toBe("not a response");
    expect(parse(Buffer.concat([header(1, 0x8180, 2, 0), question("a.test"), question("b.test")])).error).toBe("more than one question");
    const q = question("a.test");
    const self = Buffer.concat([header(1, 0x8180, 1, 1), q, Buffer.from([0xc0, 12 + q.length]), u16(1), u16(1), u32(1), u16(4), aData("1.2.3.4")]);
    expect(parse(self).error).toBe("compression pointer does not point backwards");
    const forward = Buffer.concat([header(1, 0x8180, 1, 1), q, Buffer.from([0xc0, 100]), u16(1), u16(1), u32(1), u16(4), aData("1.2.3.4")]);
    expect(parse(forward).error).toBe("compression pointer does not point backwards");
    // Two pointers at each other: the first jump goes back, the second forward again.
    const p0 = 12 + q.length;
    const cycle = Buffer.concat([header(1, 0x8180, 1, 2), q,
      Buffer.from([1, 0x61, 0xc0, p0 + 14 + 4]), u16(1), u16(1), u32(1), u16(4), aData("1.2.3.4"),
      Buffer.from([0xc0, p0]), u16(1), u16(1), u32(1), u16(4), aData("1.2.3.4")]);
    expect(parse(cycle).error).toMatch(/compression pointer/);
    // Label type 01/10 (RFC 6891 §5 deprecated them) and a name longer than 255 bytes.
    expect(parse(Buffer.concat([header(1, 0x8180, 1, 0), Buffer.from([0x41, 0])])).error).toBe("unknown label type");
    const long = Buffer.concat([...Array.from({ length: 5 }, () => Buffer.concat([Buffer.from([60]), Buffer.alloc(60, 0x61)])), Buffer.from([0]), u16(1), u16(1)]);
    expect(parse(Buffer.concat([header(1, 0x8180, 1, 0), long])).error).toBe("name longer than 255 bytes");
  });
  it("survives 4000 random and mutated messages (never traps, never loops)", () => {
    const r = rng(1035);
    const seeds = [chain, Buffer.concat([header(7, 0x8183, 1, 0), question("nope.test")])];
    let accepted = 0;
    for (let i = 0; i < 4000; i++) {
      let b: Buffer;
      if (i % 4 === 0) b = Buffer.from(Array.from({ length: Math.floor(r() * 80) }, () => Math.floor(r() * 256)));
      else {
        b = Buffer.from(seeds[i % 2]);
        const flips = 1 + Math.floor(r() * 6);
        for (let f = 0; f < flips; f++) {
          const at = Math.floor(r() * b.length);
          // Bias towards bytes that make pointers and big counts.
          b[at] = r() < 0.3 ? 0xc0 | Math.floor(r() * 64) : Math.floor(r() * 256);
        }
        if (r() < 0.3) b = b.subarray(0, Math.floor(r() * b.length));
      }
      if (i % 4 === 0 && b.length >= 3) b[2] |= 0x80;
      accepted += x.parseOnly(k.bytesIn(b), b.length);
      if (i % 500 === 0) x.__collect();
    }
    expect(accepted).toBeGreaterThan(0);      // mutations that stay valid still parse
  });
});

// ------------------------------------------------------------ the resolver on a stack

const ME = ip("10.0.0.2"), S1 = ip("10.0.0.1"), S2 = ip("10.0.0.3");
const MY_MAC = mac("02:00:00:00:00:02");
const peerMac = (a: number) => mac(`02:00:00:00:00:${(a & 255).toString(16).padStart(2, "0")}`);
const MS = 1_000_000n;

interface Query { dst: number; sport: number; id: number; name: string }

/** Answers ARP requests and collects the DNS queries sent. */
function drain(now: bigint): Query[] {
  const qs: Query[] = [];
  for (let round = 0; round < 4; round++) {
    x.pollAll(now);
    let any = false;
    while (x.txCount() > 0) {
      const f = k.bytesOut(x.txPtr(), x.txLen());
      x.txPop();
      const d = decode(f);
      if (d.arp && d.arp.op === 1) {
        const who = ip(d.arp.tpa);
        const reply = eth(MY_MAC, peerMac(who), 0x0806, arp(2, peerMac(who), who, MY_MAC, ME));
        x.inject(k.bytesIn(reply), reply.length);
        any = true;
      } else if (d.udp && d.udp.dport === 53) {
        const p = Buffer.from(d.udp.payload);
        let o = 12; const labels: string[] = [];
        while (p[o]) { labels.push(p.subarray(o + 1, o + 1 + p[o]).toString()); o += 1 + p[o]; }
        expect(p.readUInt16BE(2)).toBe(0x0100);
        qs.push({ dst: d.ip!.dst, sport: d.udp.sport, id: p.readUInt16BE(0), name: labels.join(".") });
      }
    }
    if (!any) break;
  }
  return qs;
}

function answer(q: Query, body: Buffer, opts: { from?: number; sport?: number; id?: number } = {}): void {
  const from = opts.from ?? q.dst;
  const m = Buffer.concat([u16(opts.id ?? q.id), body]);
  const f = eth(MY_MAC, peerMac(from), 0x0800, ipv4(from, ME, 17, udp(from, ME, opts.sport ?? 53, q.sport, m)));
  x.inject(k.bytesIn(f), f.length);
}
const reply = (q: Query, rcode: number, records: Buffer[]) => Buffer.concat([u16(0x8180 | rcode), u16(1), u16(records.length), u16(0), u16(0), question(q.name), ...records]);
const results = () => k.str(x.takeResults()).split("\n").filter((l) => l);

describe("DnsResolver on a stack (scripted server, fake clock)", () => {
  it("asks the first server, ignores spoofed answers, takes the real one, caches it until its TTL ends", () => {
    x.setup(ME, S1, S2, 2, 4, 1000);
    x.resolve(s("A.Test"), 0n);
    const [q] = drain(0n);
    expect(q).toMatchObject({ dst: S1, name: "a.test" });
    expect(q.sport).toBeGreaterThanOrEqual(49152);
    answer(q, reply(q, 0, [rr(PTR_Q, 1, 60, aData("1.2.3.4"))]), { sport: 5353 });       // wrong source port
    answer(q, reply(q, 0, [rr(PTR_Q, 1, 60, aData("6.6.6.6"))]), { id: (q.id + 1) & 0xffff });  // wrong ID
    answer(q, reply(q, 0, [rr(PTR_Q, 1, 60, aData("6.6.6.6"))]), { from: ip("10.0.0.9") });     // wrong server
    drain(1n * MS);
    expect(results()).toEqual([]);
    expect(x.spoofed()).toBe(3n);
    answer(q, reply(q, 0, [rr(PTR_Q, 1, 60, aData("1.2.3.4")), rr(PTR_Q, 1, 30, aData("1.2.3.5"))]));
    drain(2n * MS);
    expect(results()).toEqual(["A.Test|0|1.2.3.4,1.2.3.5|30|a.test|fresh|A.Test: 1.2.3.4 1.2.3.5 from 10.0.0.1"]);
    expect(x.udpSockets()).toBe(0);                                   // the query's port is closed
    x.resolve(s("a.test"), 10_000n * MS);
    expect(drain(10_000n * MS)).toEqual([]);
    expect(results()).toEqual(["a.test|0|1.2.3.4,1.2.3.5|21|a.test|cached|a.test: 1.2.3.4 1.2.3.5 (cached)"]);   // 20.002 s left, rounded up
    x.resolve(s("a.test"), 31_000n * MS);                                // past the smaller TTL
    expect(drain(31_000n * MS)).toHaveLength(1);
  });

  it("retries across both servers with backoff, then reports a timeout", () => {
    x.setup(ME, S1, S2, 2, 4, 1000);
    x.resolve(s("b.test"), 0n);
    const sent: [bigint, number][] = [];
    let deadline = 0n;
    for (let t = 0n; t <= 10_000n * MS; t += 250n * MS) {
      for (const q of drain(t)) sent.push([t / MS, q.dst]);
      deadline = x.pollAll(t);
    }
    expect(sent).toEqual([[0n, S1], [1000n, S2], [2000n, S1], [4000n, S2]]);
    expect(results()).toEqual(["b.test|3||0|b.test|fresh|b.test: timed out (no answer from 10.0.0.1, 10.0.0.3 after 4 tries)"]);
    expect(deadline).toBe(0x7fffffffffffffffn);
    expect(x.inFlight()).toBe(0);
  });

  it("falls over to the next server on SERVFAIL; NXDOMAIN is final and cached by the SOA minimum", () => {
    x.setup(ME, S1, S2, 2, 4, 1000);
    x.resolve(s("c.test"), 0n);
    const [q1] = drain(0n);
    answer(q1, reply(q1, 2, []));
    const [q2] = drain(1n * MS);
    expect(q2).toMatchObject({ dst: S2, name: "c.test" });
    const soa = Buffer.concat([nameBytes("ns.test"), nameBytes("admin.test"), u32(1), u32(3600), u32(600), u32(86400), u32(20)]);
    answer(q2, Buffer.concat([u16(0x8183), u16(1), u16(0), u16(1), u16(0), question("c.test"), rr(nameBytes("test"), 6, 900, soa)]));
    drain(2n * MS);
    expect(results()).toEqual(["c.test|1||0|c.test|fresh|c.test: no such name (NXDOMAIN) from 10.0.0.3"]);
    x.resolve(s("c.test"), 10_000n * MS);
    expect(drain(10_000n * MS)).toEqual([]);
    expect(results()[0]).toMatch(/^c\.test\|1\|.*\(cached\)$/);
    x.resolve(s("c.test"), 21_000n * MS);
    expect(drain(21_000n * MS)).toHaveLength(1);
  });

  it("SERVFAIL from every server is reported as such, and a malformed answer names the reason", () => {
    x.setup(ME, S1, S2, 3, 4, 1000);
    x.resolve(s("d.test"), 0n);
    const [q1] = drain(0n);
    answer(q1, reply(q1, 5, []));                                       // REFUSED counts as a server failure
    const [q2] = drain(1n * MS);
    answer(q2, reply(q2, 2, []));
    drain(2n * MS);
    expect(results()).toEqual(["d.test|2||0|d.test|fresh|d.test: server failure (SERVFAIL from 10.0.0.3)"]);
    x.setup(ME, S1, 0, 3, 4, 1000);
    x.resolve(s("e.test"), 0n);
    const [q3] = drain(0n);
    answer(q3, Buffer.concat([u16(0x8180), u16(1), u16(1), u16(0), u16(0), question("e.test"), Buffer.from([0xc0])]));
    drain(1n * MS);
    expect(results()).toEqual(["e.test|4||0|e.test|fresh|e.test: malformed answer from 10.0.0.1: truncated compression pointer"]);
  });

  it("follows a CNAME chain that leaves the answer with a new question (RFC 1034 §5.3.3)", () => {
    x.setup(ME, S1, 0, 2, 4, 1000);
    x.resolve(s("alias.test"), 0n);
    const [q1] = drain(0n);
    answer(q1, reply(q1, 0, [rr(PTR_Q, 5, 100, nameBytes("mid.test")), rr(nameBytes("mid.test"), 5, 200, nameBytes("real.test"))]));
    const [q2] = drain(1n * MS);
    expect(q2).toMatchObject({ dst: S1, name: "real.test" });
    expect(q2.id).not.toBe(q1.id);
    answer(q2, reply(q2, 0, [rr(PTR_Q, 1, 300, aData("10.9.8.7"))]));
    drain(2n * MS);
    expect(results()).toEqual(["alias.test|0|10.9.8.7|100|real.test|fresh|alias.test: 10.9.8.7 (via real.test) from 10.0.0.1"]);
  });

  it("coalesces lookups of one name, keeps the cache within its bound, resolves literals without a query", () => {
    x.setup(ME, S1, 0, 2, 4, 1000);
    x.resolve(s("same.test"), 0n);
    x.resolve(s("SAME.test"), 0n);
    const qs = drain(0n);
    expect(qs).toHaveLength(1);
    answer(qs[0], reply(qs[0], 0, [rr(PTR_Q, 1, 60, aData("10.1.1.1"))]));
    drain(1n * MS);
    expect(results().map((l) => l.split("|").slice(0, 3).join("|"))).toEqual(["same.test|0|10.1.1.1", "SAME.test|0|10.1.1.1"]);
    for (let i = 0; i < 10; i++) {
      x.resolve(s(`n${i}.test`), BigInt(i + 2) * MS);
      const [q] = drain(BigInt(i + 2) * MS);
      answer(q, reply(q, 0, [rr(PTR_Q, 1, 60 + i, aData(`10.2.0.${i}`))]));
      drain(BigInt(i + 2) * MS + 1n);
    }
    expect(x.cacheCount()).toBe(4);
    x.resolve(s("10.0.0.77"), 20n * MS);
    expect(drain(20n * MS)).toEqual([]);
    expect(results().pop()).toBe("10.0.0.77|0|10.0.0.77|0|10.0.0.77|fresh|10.0.0.77: 10.0.0.77");
    x.resolve(s("bad..name"), 21n * MS);
    drain(21n * MS);
    expect(results()).toEqual(["bad..name|6||0|bad..name|fresh|bad..name: not a valid host name"]);
    expect(ipStr(S1)).toBe("10.0.0.1");
  });

  it("uses the interface's servers (dns= or DHCP option 6); waits for an address; says when there is no server", () => {
    x.setupDefault(ME, S2);
    x.resolve(s("f.test"), 0n);
    expect(drain(0n)).toMatchObject([{ dst: S2, name: "f.test" }]);
    x.setupDefault(ME, 0);
    x.resolve(s("g.test"), 0n);
    drain(0n);
    expect(results()).toEqual(["g.test|7||0|g.test|fresh|g.test: no DNS server configured"]);
    // No address yet (DHCP still running): nothing is sent until there is one.
    x.setupDefault(0, 0);
    x.resolve(s("h.test"), 0n);
    expect(drain(0n)).toEqual([]);
    expect(drain(500n * MS)).toEqual([]);
    x.setAddress(ME, S1);
    expect(drain(600n * MS)).toMatchObject([{ dst: S1, name: "h.test" }]);
    // ...and gives up after 15 s without one.
    x.setupDefault(0, 0);
    x.resolve(s("i.test"), 0n);
    for (let t = 0n; t <= 16_000n; t += 1000n) drain(t * MS);
    expect(results()).toEqual(["i.test|8||0|i.test|fresh|i.test: network not ready (the interface has no address: DHCP did not finish)"]);
  });
});
