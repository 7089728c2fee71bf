// Wire formats of kernel/lib/net compiled to Wasm: parse real frames captured from
// Linux (test/fixtures/net/capture.sh), emit into buffers pre-filled with 0xa5,
// round trips, truncated input, and a fuzz run of every parser.
import { beforeAll, describe, expect, it } from "vitest";
import { Net, frames, decode, ip, mac, dhcpReply, rng, csum } from "./net-lib.js";

let net: Net;
beforeAll(async () => { net = await Net.load(); });

const A = ip("10.9.0.1"), B = ip("10.9.0.2");
const find = (pred: (d: ReturnType<typeof decode>) => boolean, dir?: string) =>
  frames.find((f) => (!dir || f.dir === dir) && pred(decode(f.bytes)))!.bytes;
const arpReq = () => find((d) => d.arp?.op === 1);
const arpRep = () => find((d) => d.arp?.op === 2);
const ipOf = (f: Uint8Array) => f.subarray(14, 14 + ((f[16] << 8) | f[17]));
const l4Of = (f: Uint8Array) => ipOf(f).subarray((f[14] & 15) * 4);
const syn = () => find((d) => d.tcp?.flags === 2);
const synAck = () => find((d) => d.tcp?.flags === 0x12);
const tcpData = () => find((d) => !!d.tcp && d.tcp.payload.length > 1, "in");
const udpSmall = () => find((d) => !!d.udp && d.udp.payload.length === 9);
const echoReq = () => find((d) => d.icmp?.type === 8);

describe("Ethernet II", () => {
  it("parses a captured frame", () => {
    expect(net.parse(0, arpReq())).toEqual({ dst: "ff:ff:ff:ff:ff:ff", src: "02:00:00:00:00:0b", type: 0x0806 });
  });
  it("emits exactly 14 bytes and round-trips", () => {
    const f = syn();
    const { out, n } = net.reemit(0, f);
    expect(n).toBe(14);
    expect(Array.from(out.subarray(0, 14))).toEqual(Array.from(f.subarray(0, 14)));
    expect(out[14]).toBe(0xa5);
  });
  it("rejects truncated frames", () => {
    expect(net.parse(0, new Uint8Array(13))).toEqual({ error: "truncated" });
  });
});

describe("ARP", () => {
  it("parses the captured request and reply", () => {
    expect(net.parse(1, arpReq().subarray(14))).toEqual({ op: 1, sha: "02:00:00:00:00:0b", spa: "10.9.0.2", tha: "00:00:00:00:00:00", tpa: "10.9.0.1" });
    expect(net.parse(1, arpRep().subarray(14))).toEqual({ op: 2, sha: "02:00:00:00:00:0a", spa: "10.9.0.1", tha: "02:00:00:00:00:0b", tpa: "10.9.0.2" });
  });
  it("round-trips byte for byte into a 0xa5 buffer", () => {
    for (const f of [arpReq(), arpRep()]) {
      const { out, n } = net.reemit(1, f.subarray(14));
      expect(n).toBe(28);
      expect(Buffer.from(out.subarray(0, 28)).toString("hex")).toBe(Buffer.from(f.subarray(14, 42)).toString("hex"));
      expect(out[28]).toBe(0xa5);
    }
  });
  it("rejects truncated packets and other hardware types", () => {
    const a = arpReq().subarray(14, 42);
    for (let n = 0; n < 28; n++) expect(net.parse(1, a.subarray(0, n))).toEqual({ error: "truncated" });
    const bad = Uint8Array.from(a); bad[1] = 6;
    expect(net.parse(1, bad)).toEqual({ error: "bad_version" });
    const op = Uint8Array.from(a); op[7] = 9;
    expect(net.parse(1, op)).toEqual({ error: "unsupported" });
  });
});

describe("IPv4", () => {
  it("parses a captured header with its checksum", () => {
    expect(net.parse(2, ipOf(syn()))).toMatchObject({ src: "10.9.0.2", dst: "10.9.0.1", proto: 6, ttl: 64, df: true, mf: false, headerLen: 20, payloadLen: 40 });
  });
  it("parses the three captured fragments of a 3000-byte UDP datagram", () => {
    const fr = frames.filter((f) => { const d = decode(f.bytes); return d.ip?.proto === 17 && (d.ip.mf || d.ip.fragOffset > 0); });
    expect(fr.length).toBe(3);
    const got = fr.map((f) => net.parse(2, ipOf(f.bytes)));
    expect(got.map((g) => [g.mf, g.fragOffset, g.payloadLen])).toEqual([[true, 0, 1480], [true, 1480, 1480], [false, 2960, 48]]);
    expect(new Set(got.map((g) => g.ident)).size).toBe(1);
  });
  it("round-trips the header into a 0xa5 buffer", () => {
    for (const f of [syn(), synAck(), udpSmall(), echoReq()]) {
      const h = ipOf(f);
      const { out, n } = net.reemit(2, h);
      expect(n).toBe(20);
      expect(Buffer.from(out.subarray(0, 20)).toString("hex")).toBe(Buffer.from(h.subarray(0, 20)).toString("hex"));
      expect(out[20]).toBe(0xa5);
    }
  });
  it("counts bad checksums, versions, header and total lengths", () => {
    const h = Uint8Array.from(ipOf(syn()));
    const c = Uint8Array.from(h); c[10] ^= 1;
    expect(net.parse(2, c)).toEqual({ error: "bad_checksum" });
    expect(net.parse(2, c, 0, 0, false)).toMatchObject({ proto: 6 });
    const v = Uint8Array.from(h); v[0] = 0x65;
    expect(net.parse(2, v)).toEqual({ error: "bad_version" });
    const ihl = Uint8Array.from(h); ihl[0] = 0x44;
    expect(net.parse(2, ihl)).toEqual({ error: "bad_header_len" });
    const tl = Uint8Array.from(h); tl[3] = 10;
    expect(net.parse(2, tl, 0, 0, false)).toEqual({ error: "bad_length" });
    for (let n = 0; n < h.length; n++) expect(net.parse(2, h.subarray(0, n)).error).toBe("truncated");
  });
  it("ignores Ethernet padding after the datagram", () => {
    const f = find((d) => !!d.tcp && d.tcp.payload.length === 0 && d.tcp.flags === 0x10, "in");
    const padded = new Uint8Array(f.length - 14 + 6); padded.set(f.subarray(14));
    expect(net.parse(2, padded)).toMatchObject({ payloadLen: f.length - 14 - 20 });
  });
});

describe("ICMP", () => {
  it("parses the captured echo request and Linux's reply", () => {
    expect(net.parse(3, l4Of(echoReq()))).toEqual({ type: 8, code: 0, ident: 0x1234, seq: 1, dataLen: 27 });
    const rep = find((d) => d.icmp?.type === 0);
    expect(net.parse(3, l4Of(rep))).toEqual({ type: 0, code: 0, ident: 0x1234, seq: 1, dataLen: 27 });
  });
  it("round-trips with the checksum over the data", () => {
    const m = l4Of(echoReq());
    const { out, n } = net.reemit(3, m);
    expect(n).toBe(m.length);
    expect(Buffer.from(out.subarray(0, n)).toString("hex")).toBe(Buffer.from(m).toString("hex"));
    expect(out[n]).toBe(0xa5);
  });
  it("rejects truncated and corrupted messages", () => {
    const m = Uint8Array.from(l4Of(echoReq()));
    for (let n = 0; n < 8; n++) expect(net.parse(3, m.subarray(0, n)).error).toBe("truncated");
    m[12] ^= 0x40;
    expect(net.parse(3, m)).toEqual({ error: "bad_checksum" });
  });
});

describe("UDP", () => {
  it("parses the captured datagram and checks its checksum", () => {
    expect(net.parse(4, l4Of(udpSmall()), B, A)).toMatchObject({ dstPort: 7, payloadLen: 9 });
    expect(net.parse(4, l4Of(udpSmall()), B, ip("10.9.0.3"))).toEqual({ error: "bad_checksum" });
  });
  it("accepts a zero checksum (not computed, RFC 768)", () => {
    const u = Uint8Array.from(l4Of(udpSmall())); u[6] = 0; u[7] = 0;
    expect(net.parse(4, u, 1, 2)).toMatchObject({ payloadLen: 9 });
  });
  it("round-trips into a 0xa5 buffer", () => {
    const u = l4Of(udpSmall());
    const { out, n } = net.reemit(4, u, B, A);
    expect(n).toBe(u.length);
    expect(Buffer.from(out.subarray(0, n)).toString("hex")).toBe(Buffer.from(u).toString("hex"));
    expect(out[n]).toBe(0xa5);
  });
  it("rejects truncated datagrams and bad lengths", () => {
    const u = Uint8Array.from(l4Of(udpSmall()));
    for (let n = 0; n < 8; n++) expect(net.parse(4, u.subarray(0, n), B, A).error).toBe("truncated");
    expect(net.parse(4, u.subarray(0, 12), B, A).error).toBe("truncated");     // length field says 17
    const l = Uint8Array.from(u); l[5] = 7;
    expect(net.parse(4, l, B, A, false).error).toBe("bad_length");
  });
});

describe("headers parsed into one reused object (the receive path)", () => {
  it("gives what a fresh parse gives, packet after packet, with nothing left over from the last one", () => {
    const s = l4Of(syn()), d = l4Of(tcpData());
    const bad = Uint8Array.from(s); bad[21] = 40;                           // bad option after a good SYN
    const seq: [Uint8Array, number, number, boolean][] = [
      [s, B, A, true], [d, B, A, true], [d, B, ip("10.9.0.3"), true], [s.subarray(0, 30), B, A, false],
      [bad, B, A, false], [d, B, A, true], [s, B, A, true], [d, B, A, true],
    ];
    for (const [b, src, dst, v] of seq) expect(net.parse(8, b, src, dst, v)).toEqual(net.parse(5, b, src, dst, v));
    // a data segment after a SYN: the SYN's options are gone
    net.parse(8, s, B, A);
    expect(net.parse(8, d, B, A)).toMatchObject({ mss: 0, wscale: -1, sackPermitted: false });
    const ips = frames.slice(0, 40).map((f) => f.bytes).filter((f) => f.length > 34 && f[12] === 8 && f[13] === 0).map(ipOf);
    expect(ips.length).toBeGreaterThan(5);
    const c = Uint8Array.from(ips[0]); c[10] ^= 1;
    const v = Uint8Array.from(ips[0]); v[0] = 0x65;
    for (const b of [...ips, c, v, ips[0].subarray(0, 19), ips[1]]) expect(net.parse(7, b)).toEqual(net.parse(2, b));
  });
});

describe("TCP", () => {
  it("parses Linux's SYN options (MSS, SACK-permitted, timestamps, window scale)", () => {
    expect(net.parse(5, l4Of(syn()), B, A)).toMatchObject({ dstPort: 7, flags: "S", mss: 1460, wscale: 10, sackPermitted: true, headerLen: 40, payloadLen: 0 });
    expect(net.parse(5, l4Of(synAck()), A, B)).toMatchObject({ srcPort: 7, flags: "SA", mss: 1460, wscale: 10 });
  });
  it("parses a data segment and its checksum", () => {
    const f = tcpData();
    const d = decode(f).tcp!;
    expect(net.parse(5, l4Of(f), B, A)).toMatchObject({ seq: d.seq, ack: d.ack, flags: "AP", payloadLen: d.payload.length });
    expect(net.parse(5, l4Of(f), B, ip("10.9.0.3"))).toEqual({ error: "bad_checksum" });   // wrong pseudo-header
  });
  it("round-trips a segment without timestamps into a 0xa5 buffer", () => {
    // Strip Linux's 12-byte timestamp option: keep the header at 20 bytes.
    const f = l4Of(tcpData());
    const hl = (f[12] >> 4) * 4;
    const seg = new Uint8Array(20 + f.length - hl);
    seg.set(f.subarray(0, 20)); seg.set(f.subarray(hl), 20); seg[12] = 0x50; seg[16] = 0; seg[17] = 0;
    const c = csum(seg, (B >>> 16) + (B & 0xffff) + (A >>> 16) + (A & 0xffff) + 6 + seg.length);
    seg[16] = c >> 8; seg[17] = c & 255;
    const { out, n } = net.reemit(5, seg, B, A);
    expect(n).toBe(seg.length);
    expect(Buffer.from(out.subarray(0, n)).toString("hex")).toBe(Buffer.from(seg).toString("hex"));
    expect(out[n]).toBe(0xa5);
  });
  it("emits MSS and window-scale options in the layout of RFC 9293 §3.2 and RFC 7323 §2.2", () => {
    const outP = net.k.bytesIn(new Uint8Array(64).fill(0xa5));
    const hl = net.x.emitTcp(outP, A, B, 7, 40000, 0x01020304, 0x0a0b0c0d, 0x12, 65535, 1460, 7, 0, 0);
    const out = net.k.bytesOut(outP, 64);
    expect(hl).toBe(28);
    expect(Buffer.from(out.subarray(0, 28)).toString("hex").slice(0, 32)).toBe("00079c400102030 40a0b0c0d7012ffff".replace(/ /g, ""));
    expect(Array.from(out.subarray(20, 28))).toEqual([2, 4, 0x05, 0xb4, 1, 3, 3, 7]);
    expect(out[28]).toBe(0xa5);
    const d = decode(new Uint8Array([...new Uint8Array(14).fill(0).map((_, i) => (i === 12 ? 8 : 0)), 0x45, 0, 0, 48, 0, 0, 0, 0, 64, 6, 0, 0,
      ...[10, 9, 0, 1], ...[10, 9, 0, 2], ...out.subarray(0, 28)]));
    expect(d.tcp!.csumOk).toBe(true);
  });
  it("puts only the pseudo-header sum in the checksum field when offloading", () => {
    const outP = net.k.bytesIn(new Uint8Array(64).fill(0xa5));
    net.x.emitTcp(outP, A, B, 7, 40000, 1, 2, 0x10, 1000, 0, -1, 0, 1);
    const out = net.k.bytesOut(outP, 20);
    const sum = (A >>> 16) + (A & 0xffff) + (B >>> 16) + (B & 0xffff) + 6 + 20;
    const folded = (sum & 0xffff) + (sum >>> 16);
    expect((out[16] << 8) | out[17]).toBe(folded);
  });
  it("rejects truncated segments, bad data offsets and bad options", () => {
    const s = Uint8Array.from(l4Of(syn()));
    for (let n = 0; n < 40; n++) expect(["truncated"]).toContain(net.parse(5, s.subarray(0, n), B, A, false).error);
    const off = Uint8Array.from(s); off[12] = 0x40;
    expect(net.parse(5, off, B, A, false).error).toBe("bad_header_len");
    const opt = Uint8Array.from(s); opt[21] = 40;     // MSS option length past the header
    expect(net.parse(5, opt, B, A, false).error).toBe("bad_option");
    const mss = Uint8Array.from(s); mss[21] = 3;
    expect(net.parse(5, mss, B, A, false).error).toBe("bad_option");
  });
});

describe("DHCP", () => {
  const chaddr = mac("02:00:00:00:00:0a");
  // A server's ACK built from RFC 2131 §2 / RFC 2132 (no capture available: the
  // netns test has no DHCP server; the net-probe system test sees QEMU's).
  const ack = () => dhcpReply({ type: 5, xid: 0xdeadbeef, chaddr, yiaddr: ip("10.0.2.15"), server: ip("10.0.2.2"),
    mask: ip("255.255.255.0"), router: ip("10.0.2.2"), dns: [ip("10.0.2.3"), ip("8.8.8.8")], lease: 86400, t1: 40000, t2: 70000 });
  it("parses a server's ACK with router, DNS and lease options", () => {
    expect(net.parse(6, ack())).toEqual({ op: 2, xid: 0xdeadbeef, type: 5, yiaddr: "10.0.2.15", ciaddr: "0.0.0.0", chaddr: "02:00:00:00:00:0a",
      serverId: "10.0.2.2", requestedIp: "0.0.0.0", mask: "255.255.255.0", router: "10.0.2.2", dns: ["10.0.2.3", "8.8.8.8"], lease: 86400, t1: 40000, t2: 70000 });
  });
  it("round-trips a reply (options in the emitter's order) into a 0xa5 buffer", () => {
    const { out, n } = net.reemit(6, ack());
    expect(n).toBe(300);
    expect(out[n]).toBe(0xa5);
    expect(net.parse(6, out.subarray(0, n))).toEqual(net.parse(6, ack()));
  });
  it("emits a DISCOVER with the parameter request list (RFC 2132 §9.8)", () => {
    const outP = net.k.bytesIn(new Uint8Array(400).fill(0xa5));
    const n = net.x.emitDhcp(outP, 1, 1, 0x01020304, 0x0200, 0x0000000a, 0, 0, 0, 0, 0, 0, 0, 1);
    const out = net.k.bytesOut(outP, 400);
    expect(n).toBe(300);
    expect(out[300]).toBe(0xa5);
    expect(Array.from(out.subarray(0, 8))).toEqual([1, 1, 6, 0, 1, 2, 3, 4]);
    expect(Buffer.from(out.subarray(236, 240)).toString("hex")).toBe("63825363");
    expect(Array.from(out.subarray(240, 255))).toEqual([53, 1, 1, 55, 6, 1, 3, 6, 51, 58, 59, 57, 2, 2, 64]);
    expect(out[255]).toBe(255);
  });
  it("rejects truncated messages, a bad cookie and options running past the end", () => {
    const a = ack();
    for (const n of [0, 100, 239]) expect(net.parse(6, a.subarray(0, n)).error).toBe("truncated");
    const c = Uint8Array.from(a); c[236] = 0;
    expect(net.parse(6, c).error).toBe("bad_version");
    const o = Uint8Array.from(a.subarray(0, 250)); o[244] = 200;
    expect(net.parse(6, o).error).toBe("bad_option");
  });
});

describe("views over (pointer, length)", () => {
  it("read captured frames field by field and write through setters", () => {
    const run = (f: Uint8Array, ttl = 64, sp = 0, dp = 0) => {
      const p = net.k.bytesIn(f);
      const s = net.str(net.x.views(p, f.length, ttl, sp, dp));
      const out = net.k.bytesOut(p, f.length);
      net.x.__unpin(p);
      return { s, out };
    };
    expect(run(arpReq()).s).toBe("arp 1 10.9.0.2>10.9.0.1");
    const d = decode(syn()).tcp!;
    const { s, out } = run(syn(), 7, 1234, 80);
    expect(s).toBe(`ip v4 10.9.0.2>10.9.0.1 len 60 ttl 7 tcp 1234>80 seq ${d.seq} hl 40 data 0`);
    expect([out[22], (out[34] << 8) | out[35], (out[36] << 8) | out[37]]).toEqual([7, 1234, 80]);
    expect(Array.from(out.subarray(38))).toEqual(Array.from(syn().subarray(38)));   // nothing else written
    expect(run(udpSmall(), 64, 1, 2).s).toMatch(/ udp 1>2 len 17$/);
    expect(run(echoReq()).s).toMatch(/ icmp 8 ok 1$/);
    expect(run(syn().subarray(0, 40)).s).toBe("");                                 // header cut short
  });
});

describe("fuzz: every parser on random and mutated packets", () => {
  it("never traps or aborts", () => {
    const r = rng(0x5eed);
    const seeds = frames.map((f) => f.bytes);
    let parsed = 0;
    for (let i = 0; i < 3000; i++) {
      let b: Uint8Array;
      if (i % 3 === 0) b = Uint8Array.from({ length: Math.floor(r() * 600) }, () => Math.floor(r() * 256));
      else {
        const s = seeds[Math.floor(r() * seeds.length)];
        const off = i % 3 === 1 ? 14 : 14 + (s[14] & 15) * 4;
        b = Uint8Array.from(s.subarray(Math.min(off, s.length)));
        const flips = 1 + Math.floor(r() * 4);
        for (let k = 0; k < flips && b.length; k++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
        if (r() < 0.3) b = b.subarray(0, Math.floor(r() * b.length));
      }
      const res = net.k.run(() => net.withBytes(b, (p) => net.x.parseAll(p, b.length)));
      expect(res.exit).toBeUndefined();
      parsed += res.value!;
    }
    expect(parsed).toBeGreaterThan(1000);     // the mutated packets still parse often: the fuzz reaches deep
  });
});
