// The interface layer on a test device: ARP (cache, pending queue, timeouts,
// gratuitous ARP), ICMP echo and unreachables, UDP, IPv4 reassembly and
// fragmentation, checksum offload, drop counters, DHCP and static config.
// Our stack plays 10.9.0.1 (02:00:00:00:00:0a), the Linux host "A" of the
// captures, so captured frames from "B" go in unchanged and Linux's own
// answers are the expected output.
import { beforeAll, describe, expect, it } from "vitest";
import { Net, frames, decode, ip, mac, eth, ipv4, udp, arp, icmpEcho, dhcpReply, rng, tcp, F } from "./net-lib.js";

let net: Net;
beforeAll(async () => { net = await Net.load(); });

const A = ip("10.9.0.1"), B = ip("10.9.0.2");
const MAC_A = mac("02:00:00:00:00:0a"), MAC_B = mac("02:00:00:00:00:0b"), BCAST = mac("ff:ff:ff:ff:ff:ff");
const SEC = 1_000_000_000n;
const captured = (pred: (d: ReturnType<typeof decode>) => boolean, dir = "in") =>
  frames.filter((f) => f.dir === dir && pred(decode(f.bytes))).map((f) => f.bytes);
let seed = 1;
/** A stack with a static address, past its first poll (which sends the gratuitous ARP). */
function stackA(mtu = 1500) {
  const h = net.x.newStack(seed++, 0x0a, A, 24, ip("10.9.0.254"), 0, mtu, 0);
  net.x.poll(h, 0n);
  net.take(h);
  return h;
}
const fromB = (payload: Uint8Array, proto: number, o = {}) => eth(MAC_A, MAC_B, 0x0800, ipv4(B, A, proto, payload, o));
/** Teaches the stack B's MAC with B's captured ARP request (and drops the reply). */
function learnB(h: number) {
  net.inject(h, captured((d) => d.arp?.op === 1)[0]);
  net.x.poll(h, 0n);
  net.take(h);
}

describe("ARP", () => {
  it("answers the captured request exactly as Linux did", () => {
    const h = stackA();
    net.take(h);
    net.inject(h, captured((d) => d.arp?.op === 1)[0]);
    net.x.poll(h, 0n);
    const out = net.take(h);
    const linux = captured((d) => d.arp?.op === 2, "out")[0];
    expect(out.map((f) => Buffer.from(f).toString("hex"))).toEqual([Buffer.from(linux).toString("hex")]);
    expect(net.counters(h)).toMatchObject({ arp_in: 1, arp_out: 2 });      // the reply and the gratuitous ARP at start
    expect(net.x.arpCount(h)).toBe(1);
  });

  it("announces a new address with a gratuitous ARP request", () => {
    const h = stackA();
    net.take(h);
    net.x.setIpv4(h, ip("10.9.0.7"), 24, 0);
    const [g] = net.take(h);
    expect(decode(g).dst).toBe("ff:ff:ff:ff:ff:ff");
    expect(decode(g).arp).toEqual({ op: 1, sha: "02:00:00:00:00:0a", spa: "10.9.0.7", tha: "00:00:00:00:00:00", tpa: "10.9.0.7" });
    net.x.setIpv4(h, ip("10.9.0.7"), 24, 0);
    expect(net.take(h).length).toBe(0);                                   // unchanged: no announcement
  });

  /** Sends a UDP datagram from the stack to B (nothing B sent teaches its MAC). */
  const udpToB = (h: number, u: number, n = 3) => net.withBytes(new Uint8Array(n), (p) => net.x.udpSend(u, B, 9, p, n));

  it("queues packets while resolving and sends them when the reply comes", () => {
    const h = stackA();
    const u = net.x.udpBind(h, 1000, 0);
    udpToB(h, u);
    const [req, ...rest] = net.take(h);
    expect(rest.length).toBe(0);
    expect(decode(req).arp).toMatchObject({ op: 1, spa: "10.9.0.1", tpa: "10.9.0.2" });
    net.inject(h, eth(MAC_A, MAC_B, 0x0806, arp(2, MAC_B, B, MAC_A, A)));
    net.x.poll(h, 1000n);
    const out = net.take(h);
    expect(out.length).toBe(1);
    const d = decode(out[0]);
    expect(d.dst).toBe("02:00:00:00:00:0b");
    expect(d.udp).toMatchObject({ sport: 1000, dport: 9, csumOk: true });
  });

  it("retries three times, then drops the queued packets and counts them", () => {
    const h = stackA();
    udpToB(h, net.x.udpBind(h, 1000, 0));
    let t = 0n;
    let requests = 0;
    for (let i = 0; i < 10; i++) {
      net.x.poll(h, t);
      requests += net.take(h).filter((f) => decode(f).arp?.op === 1).length;
      t += SEC / 2n;
    }
    expect(requests).toBe(3);
    expect(net.counters(h).drop_arp_unresolved).toBe(1);
    expect(net.x.arpCount(h)).toBe(0);
  });

  it("bounds the pending queue", () => {
    const h = stackA();
    const u = net.x.udpBind(h, 1000, 0);
    for (let i = 0; i < 20; i++) udpToB(h, u);
    expect(net.counters(h).drop_arp_pending_full).toBe(4);
    net.inject(h, eth(MAC_A, MAC_B, 0x0806, arp(2, MAC_B, B, MAC_A, A)));
    net.x.poll(h, 1n);
    expect(net.take(h).filter((f) => decode(f).udp).length).toBe(16);
    expect(Number(net.x.memUsed(h))).toBe(0);
  });

  it("expires resolved entries", () => {
    const h = stackA();
    learnB(h);
    const u = net.x.udpBind(h, 1000, 0);
    udpToB(h, u);
    expect(net.take(h).map((f) => !!decode(f).udp)).toEqual([true]);
    net.x.poll(h, 61n * SEC);
    udpToB(h, u);
    expect(net.take(h).map((f) => decode(f).arp?.op)).toEqual([1]);     // asks again first
  });

  it("learns an on-link sender's MAC from its IP packets, but not a multicast source", () => {
    const h = stackA();
    net.inject(h, captured((d) => d.icmp?.type === 8)[0]);
    net.inject(h, eth(MAC_A, mac("03:00:00:00:00:0c"), 0x0800, ipv4(ip("10.9.0.4"), A, 1, icmpEcho(8, 1, 1, new Uint8Array(8)))));
    net.x.poll(h, 0n);
    const out = net.take(h).map((f) => decode(f));
    expect(out.map((d) => d.icmp?.type ?? "arp " + d.arp?.tpa)).toEqual([0, "arp 10.9.0.4"]);
    expect(out[0].dst).toBe("02:00:00:00:00:0b");
  });
});

describe("ICMP", () => {
  it("answers the captured echo request with Linux's ICMP bytes", () => {
    const h = stackA();
    learnB(h);
    net.inject(h, captured((d) => d.icmp?.type === 8)[0]);
    net.x.poll(h, 0n);
    const [r] = net.take(h);
    const linux = decode(captured((d) => d.icmp?.type === 0, "out")[0]);
    const ours = decode(r);
    expect(ours.ip).toMatchObject({ src: A, dst: B, proto: 1, headerOk: true, ttl: 64 });
    expect(Buffer.from(ours.ip!.payload).toString("hex")).toBe(Buffer.from(linux.ip!.payload).toString("hex"));
    expect(net.counters(h)).toMatchObject({ icmp_in: 1, icmp_echo_replies: 1 });
  });

  it("sends port unreachable for a closed UDP port, quoting the header and 8 bytes", () => {
    const h = stackA();
    learnB(h);
    const pkt = ipv4(B, A, 17, udp(B, A, 5555, 9, new Uint8Array(30)));
    net.inject(h, eth(MAC_A, MAC_B, 0x0800, pkt));
    net.x.poll(h, 0n);
    const [r] = net.take(h);
    const d = decode(r).icmp!;
    expect([d.type, d.code, d.csumOk]).toEqual([3, 3, true]);
    expect(Buffer.from(d.data).toString("hex")).toBe(Buffer.from(pkt.subarray(0, 28)).toString("hex"));
    expect(net.counters(h)).toMatchObject({ drop_udp_no_socket: 1, icmp_unreachable_out: 1 });
  });

  it("sends protocol unreachable, but never for broadcasts, and rate-limits errors", () => {
    const h = stackA();
    learnB(h);
    net.inject(h, fromB(new Uint8Array(8), 99));
    net.inject(h, eth(BCAST, MAC_B, 0x0800, ipv4(B, ip("10.9.0.255"), 99, new Uint8Array(8))));
    net.x.poll(h, 0n);
    const out = net.take(h).map((f) => decode(f).icmp);
    expect(out.map((i) => [i?.type, i?.code])).toEqual([[3, 2]]);
    for (let i = 0; i < 50; i++) net.inject(h, fromB(new Uint8Array(8), 99));
    net.x.poll(h, 0n);
    expect(net.take(h).length).toBe(19);
    expect(net.counters(h).drop_icmp_rate_limit).toBe(31);
  });
});

describe("UDP", () => {
  it("delivers the captured datagram and echoes it", () => {
    const h = stackA();
    learnB(h);
    const u = net.x.udpBind(h, 7, 1);
    net.inject(h, captured((d) => d.udp?.payload.length === 9)[0]);
    net.x.poll(h, 0n);
    expect(net.str(net.x.udpLog(u))).toMatch(/^10\.9\.0\.2:\d+ 9;$/);
    const [r] = net.take(h);
    const d = decode(r);
    expect(d.udp).toMatchObject({ sport: 7, csumOk: true });
    expect(Buffer.from(d.udp!.payload).toString()).toBe("hello udp");
  });

  it("drops bad checksums unless the device verified them", () => {
    const h = stackA();
    const u = net.x.udpBind(h, 7, 0);
    const f = Uint8Array.from(captured((d) => d.udp?.payload.length === 9)[0]);
    f[f.length - 1] ^= 1;                               // payload changed, checksum not
    net.inject(h, f);
    net.inject(h, f, 1);                                // RX_CSUM_VALID
    net.x.poll(h, 0n);
    expect(net.counters(h).drop_udp_bad_checksum).toBe(1);
    expect(net.str(net.x.udpLog(u)).split(";").length - 1).toBe(1);
  });

  it("leaves the checksum to the device when it offers offload", () => {
    const h = stackA();
    learnB(h);
    net.x.setOffload(h, 1, 0);
    const u = net.x.udpBind(h, 7, 0);
    net.withBytes(new Uint8Array([1, 2, 3]), (p) => net.x.udpSend(u, B, 9999, p, 3));
    expect(net.x.txCsumStart(h)).toBe(34);
    expect(net.x.txCsumOffset(h)).toBe(6);
    const [f] = net.take(h);
    const s = (A >>> 16) + (A & 0xffff) + (B >>> 16) + (B & 0xffff) + 17 + 11;
    expect((f[40] << 8) | f[41]).toBe((s & 0xffff) + (s >>> 16));
  });
});

describe("IPv4 fragments", () => {
  const frags = () => captured((d) => d.ip?.proto === 17 && (d.ip.mf || d.ip.fragOffset > 0));

  it("reassembles the captured 3000-byte datagram in any order", () => {
    for (const order of [[0, 1, 2], [2, 0, 1], [1, 1, 2, 0]]) {
      const h = stackA();
      const u = net.x.udpBind(h, 7, 0);
      for (const i of order) net.inject(h, frags()[i]);
      net.x.poll(h, 0n);
      expect(net.str(net.x.udpLog(u))).toMatch(/ 3000;$/);
      expect(net.counters(h)).toMatchObject({ frag_reassembled: 1 });
      expect(net.x.fragsInProgress(h)).toBe(0);
      expect(Number(net.x.memUsed(h))).toBe(0);
    }
  });

  it("drops an incomplete datagram after the timeout and frees its memory", () => {
    const h = stackA();
    net.x.udpBind(h, 7, 0);
    net.inject(h, frags()[0]); net.inject(h, frags()[2]);
    net.x.poll(h, 0n);
    expect(Number(net.x.memUsed(h))).toBeGreaterThan(0);
    net.x.poll(h, 16n * SEC);
    expect(net.counters(h).drop_frag_timeout).toBe(1);
    expect(Number(net.x.memUsed(h))).toBe(0);
  });

  it("limits datagrams in progress and rejects impossible fragments", () => {
    const h = stackA();
    for (let id = 0; id < 6; id++) net.inject(h, fromB(new Uint8Array(8), 17, { ident: id, mf: true }));
    net.inject(h, fromB(new Uint8Array(9), 17, { ident: 99, mf: true }));            // not a multiple of 8
    net.inject(h, fromB(new Uint8Array(16), 17, { ident: 98, fragOffset: 65528 }));  // ends past 65535
    net.x.poll(h, 0n);
    expect(net.counters(h)).toMatchObject({ drop_frag_limit: 2, drop_frag_bad: 2 });
  });

  it("fragments a large datagram on output, and another stack reassembles it", () => {
    const a = stackA();
    const b = net.x.newStack(seed++, 0x0b, B, 24, 0, 0, 1500, 0);
    const ub = net.x.udpBind(b, 7, 0);
    const ua = net.x.udpBind(a, 1000, 0);
    for (let i = 0; i < 3; i++) { net.x.wire(a, b); net.x.wire(b, a); net.x.poll(a, 0n); net.x.poll(b, 0n); }
    const data = Uint8Array.from({ length: 4000 }, (_, i) => i & 255);
    net.withBytes(data, (p) => net.x.udpSend(ua, B, 7, p, data.length));
    for (let i = 0; i < 4; i++) { net.x.wire(a, b); net.x.wire(b, a); net.x.poll(a, 0n); net.x.poll(b, 0n); }
    expect(net.counters(a).ip_fragments_out).toBe(3);
    expect(net.str(net.x.udpLog(ub))).toBe("10.9.0.1:1000 4000;");
  });
});

describe("drops are counted per reason, never fatal", () => {
  it("counts each kind of bad frame", () => {
    const h = stackA();
    net.inject(h, new Uint8Array(10));
    net.inject(h, eth(mac("02:00:00:00:00:99"), MAC_B, 0x0800, ipv4(B, A, 17, new Uint8Array(8))));
    net.inject(h, eth(MAC_A, MAC_B, 0x86dd, new Uint8Array(40)));
    const badSum = fromB(new Uint8Array(8), 17); badSum[24] ^= 0xff;
    net.inject(h, badSum);
    net.inject(h, fromB(new Uint8Array(8), 17).subarray(0, 30));
    net.inject(h, eth(MAC_A, MAC_B, 0x0800, ipv4(B, ip("10.9.0.3"), 17, new Uint8Array(8))));
    net.inject(h, eth(MAC_A, MAC_B, 0x0806, new Uint8Array(10)));
    net.inject(h, fromB(tcp(B, A, { sport: 1, dport: 2, seq: 0, ack: 0, flags: F.SYN, window: 0 }).subarray(0, 10), 6));
    net.x.poll(h, 0n);
    expect(net.counters(h)).toMatchObject({
      drop_eth_truncated: 1, drop_eth_not_for_us: 1, drop_eth_unknown_type: 1, drop_ip_bad_checksum: 1,
      drop_ip_truncated: 1, drop_ip_not_for_us: 1, drop_arp_malformed: 1, drop_tcp_malformed: 1,
    });
  });

  it("survives random and mutated frames through the whole stack", () => {
    const h = stackA();
    learnB(h);
    net.x.udpBind(h, 7, 1);
    net.x.listen(h, 7, 1, 8, 0, 0);
    const r = rng(0xfeed);
    const seeds = frames.filter((f) => f.dir === "in").map((f) => f.bytes);
    for (let i = 0; i < 2000; i++) {
      let b: Uint8Array;
      if (i % 4 === 0) b = Uint8Array.from({ length: Math.floor(r() * 200) }, () => Math.floor(r() * 256));
      else {
        b = Uint8Array.from(seeds[Math.floor(r() * seeds.length)]);
        for (let k = 0; k < 1 + Math.floor(r() * 3); k++) b[14 + Math.floor(r() * (b.length - 14))] = Math.floor(r() * 256);
        if (r() < 0.2) b = b.subarray(0, Math.floor(r() * b.length));
      }
      const flags = r() < 0.5 ? 1 : 0;                    // half of them "verified by the device"
      const res = net.k.run(() => { net.inject(h, b, flags); net.x.poll(h, BigInt(i) * 1_000_000n); });
      expect(res.exit).toBeUndefined();
      net.take(h);
    }
    const c = net.counters(h);
    expect(c.rx_frames).toBe(2001);
    expect(Object.entries(c).filter(([k]) => k.startsWith("drop_")).length).toBeGreaterThan(5);
  });
});

describe("DHCP client", () => {
  const SERVER = ip("10.0.2.2"), YI = ip("10.0.2.15");
  const MAC_S = mac("52:55:0a:00:02:02");
  const ourMac = mac("02:00:00:00:00:0c");
  const toUs = (payload: Uint8Array, dst = ip("255.255.255.255")) =>
    eth(ourMac, MAC_S, 0x0800, ipv4(SERVER, dst, 17, udp(SERVER, dst, 67, 68, payload)));
  const dhcpOf = (f: Uint8Array) => {
    const d = decode(f);
    return d.udp && d.udp.dport === 67 ? { ip: d.ip!, msg: net.parse(6, d.udp.payload), dst: d.dst } : null;
  };

  function boot() {
    const h = net.x.newStack(seed++, 0x0c, 0, 24, 0, 1, 1500, 0);
    net.x.poll(h, 0n);
    const [disc] = net.take(h).map(dhcpOf);
    return { h, disc: disc! };
  }
  function lease(h: number, xid: number, now: bigint, t1?: number, t2?: number) {
    net.inject(h, toUs(dhcpReply({ type: 2, xid, chaddr: ourMac, yiaddr: YI, server: SERVER, mask: ip("255.255.255.0"), router: SERVER, dns: [ip("10.0.2.3")], lease: 3600, t1, t2 })));
    net.x.poll(h, now);
    const [req] = net.take(h).map(dhcpOf);
    net.inject(h, toUs(dhcpReply({ type: 5, xid, chaddr: ourMac, yiaddr: YI, server: SERVER, mask: ip("255.255.255.0"), router: SERVER, dns: [ip("10.0.2.3")], lease: 3600, t1, t2 }), YI));
    net.x.poll(h, now);
    return req!;
  }

  it("DISCOVER, OFFER, REQUEST, ACK: configures address, prefix, router and DNS", () => {
    const { h, disc } = boot();
    expect(disc.dst).toBe("ff:ff:ff:ff:ff:ff");
    expect([disc.ip.src, disc.ip.dst]).toEqual([0, ip("255.255.255.255")]);
    expect(disc.msg).toMatchObject({ op: 1, type: 1, chaddr: "02:00:00:00:00:0c" });
    const req = lease(h, disc.msg.xid as number, 1000n);
    expect(req.msg).toMatchObject({ type: 3, xid: disc.msg.xid, requestedIp: "10.0.2.15", serverId: "10.0.2.2" });
    expect(net.x.dhcpState(h)).toBe(3);                 // BOUND
    expect([net.x.ifaceAddr(h), net.x.ifacePrefix(h), net.x.ifaceGateway(h), net.x.ifaceDns(h)]).toEqual([YI, 24, SERVER, ip("10.0.2.3")]);
    expect(net.str(net.x.describe(h))).toBe("eth0: 10.0.2.15/24 via 10.0.2.2 (DHCP)");
    const out = net.take(h);
    expect(out.map((f) => decode(f).arp)).toEqual([{ op: 1, sha: "02:00:00:00:00:0c", spa: "10.0.2.15", tha: "00:00:00:00:00:00", tpa: "10.0.2.15" }]);
    expect(Number(net.x.dhcpT1(h) - 1000n)).toBe(1800e9);
    expect(Number(net.x.dhcpT2(h) - 1000n)).toBe(3150e9);
  });

  it("retransmits DISCOVER with exponential backoff (4 s, 8 s, ... ±1 s)", () => {
    const { h } = boot();
    const times: number[] = [];
    for (let t = 0n; t < 40n * SEC; t += SEC / 4n) {
      net.x.poll(h, t);
      if (net.take(h).some((f) => dhcpOf(f)?.msg.type === 1)) times.push(Number(t / (SEC / 4n)) / 4);
    }
    expect(times.length).toBe(3);
    expect(times[0]).toBeGreaterThanOrEqual(3); expect(times[0]).toBeLessThanOrEqual(5.25);
    expect(times[1] - times[0]).toBeGreaterThanOrEqual(7); expect(times[1] - times[0]).toBeLessThanOrEqual(9.25);
  });

  it("renews at T1 by unicast, rebinds at T2 by broadcast, drops the address at expiry", () => {
    const { h, disc } = boot();
    lease(h, disc.msg.xid as number, 0n, 100, 200);
    net.take(h);
    net.x.poll(h, 100n * SEC);
    // The unicast renewal needs the server's MAC first.
    const [a1] = net.take(h);
    expect(decode(a1).arp).toMatchObject({ op: 1, tpa: "10.0.2.2" });
    net.inject(h, eth(ourMac, MAC_S, 0x0806, arp(2, MAC_S, SERVER, ourMac, YI)));
    net.x.poll(h, 100n * SEC + 1n);
    const [renew] = net.take(h).map(dhcpOf);
    expect(renew!.msg).toMatchObject({ type: 3, ciaddr: "10.0.2.15", requestedIp: "0.0.0.0" });
    expect([renew!.ip.src, renew!.ip.dst, renew!.dst]).toEqual([YI, SERVER, "52:55:0a:00:02:02"]);
    expect(net.x.dhcpState(h)).toBe(4);                 // RENEWING
    net.x.poll(h, 200n * SEC);
    const [rebind] = net.take(h).map(dhcpOf);
    expect(rebind!.msg).toMatchObject({ type: 3, ciaddr: "10.0.2.15" });
    expect(rebind!.ip.dst).toBe(ip("255.255.255.255"));
    expect(net.x.dhcpState(h)).toBe(5);                 // REBINDING
    net.x.poll(h, 3600n * SEC);
    expect(net.x.ifaceAddr(h)).toBe(0);
    expect(net.take(h).map((f) => dhcpOf(f)?.msg.type)).toEqual([1]);   // DISCOVER again
  });

  it("a renewal ACK extends the lease; a NAK drops the address", () => {
    const { h, disc } = boot();
    const xid = disc.msg.xid as number;
    lease(h, xid, 0n, 100, 200);
    net.inject(h, eth(ourMac, MAC_S, 0x0806, arp(2, MAC_S, SERVER, ourMac, YI)));
    net.x.poll(h, 100n * SEC);
    net.take(h);
    net.inject(h, toUs(dhcpReply({ type: 5, xid, chaddr: ourMac, yiaddr: YI, server: SERVER, lease: 3600, t1: 100, t2: 200 }), YI));
    net.x.poll(h, 101n * SEC);
    expect(net.x.dhcpState(h)).toBe(3);
    expect(net.x.dhcpT1(h)).toBe(201n * SEC);
    net.x.poll(h, 201n * SEC);
    net.take(h);
    net.inject(h, toUs(dhcpReply({ type: 6, xid, chaddr: ourMac, yiaddr: 0, server: SERVER }), YI));
    net.x.poll(h, 202n * SEC);
    expect(net.x.ifaceAddr(h)).toBe(0);
    expect(net.x.dhcpState(h)).toBe(1);                 // SELECTING again
  });

  it("ignores replies for another transaction or another client", () => {
    const { h, disc } = boot();
    net.inject(h, toUs(dhcpReply({ type: 2, xid: (disc.msg.xid as number) ^ 1, chaddr: ourMac, yiaddr: YI, server: SERVER })));
    net.inject(h, toUs(dhcpReply({ type: 2, xid: disc.msg.xid as number, chaddr: mac("02:00:00:00:00:99"), yiaddr: YI, server: SERVER })));
    net.x.poll(h, 1n);
    expect(net.x.dhcpState(h)).toBe(1);
    expect(net.take(h).length).toBe(0);
  });
});

describe("static configuration from the command line", () => {
  const cfg = (ipS: string | null, gw: string | null, dns: string | null) =>
    net.str(net.x.configFrom(ipS === null ? 0 : net.s(ipS), gw === null ? 0 : net.s(gw), dns === null ? 0 : net.s(dns)));
  it("parses ip=ADDR/PREFIX, gateway= and dns=", () => {
    expect(cfg("10.0.2.15/24", "10.0.2.2", "10.0.2.3")).toBe("10.0.2.15/24 gw 10.0.2.2 dns 10.0.2.3");
    expect(cfg("192.168.1.9/16", null, null)).toBe("192.168.1.9/16 gw 0.0.0.0 dns 0.0.0.0");
    expect(cfg(null, null, null)).toBe("dhcp gw 0.0.0.0 dns 0.0.0.0");
  });
  it("reports bad values and falls back to DHCP", () => {
    expect(cfg("10.0.2/24", null, null)).toMatch(/^dhcp .*expected ADDR\/PREFIX/);
    expect(cfg("10.0.2.15/33", null, null)).toMatch(/^dhcp /);
    expect(cfg("10.0.2.300/24", null, null)).toMatch(/^dhcp /);
    expect(cfg("10.0.2.15/24", "gw", null)).toMatch(/^10\.0\.2\.15\/24 .*gateway=gw: not an IPv4 address/);
  });
});

describe("TCP segmentation offload (a device with TSO, kernel/lib/net/iface sendTso)", () => {
  const bytes = (n: number, k = 0) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + k) & 255);
  /** What the host does with a frame the device took: a TSO packet is cut into
   *  segments of gso payload bytes (sequence numbers advanced, PSH and FIN on
   *  the last, IP length and checksums computed afresh); a plain frame gets its
   *  checksum finished. */
  function segment(f: Uint8Array, gso: number): Uint8Array[] {
    const v = new DataView(f.buffer, f.byteOffset, f.byteLength);
    const ihl = (f[14] & 15) * 4;
    const src = v.getUint32(26), dst = v.getUint32(30);
    const t = 14 + ihl;
    const hl = (f[t + 12] >> 4) * 4;
    const flags = f[t + 13];
    const seq = v.getUint32(t + 4), ack = v.getUint32(t + 8), window = v.getUint16(t + 14);
    const payload = f.subarray(t + hl, 14 + v.getUint16(16));
    const step = gso > 0 ? gso : Math.max(1, payload.length);
    const out: Uint8Array[] = [];
    for (let off = 0; off < payload.length || off === 0; off += step) {
      const last = off + step >= payload.length;
      const seg = tcp(src, dst, {
        sport: v.getUint16(t), dport: v.getUint16(t + 2), seq: (seq + off) >>> 0, ack, window,
        flags: last ? flags : flags & ~(F.FIN | F.PSH), payload: payload.subarray(off, off + step),
      });
      out.push(eth(f.subarray(0, 6), f.subarray(6, 12), 0x0800, ipv4(src, dst, 6, seg, { ident: v.getUint16(18) })));
      if (payload.length === 0) break;
    }
    return out;
  }

  function run(opts: { gro: boolean; lend?: boolean }) {
    const a = net.x.newStack(seed++, 0x0a, A, 24, 0, 0, 1500, 0);
    const b = net.x.newStack(seed++, 0x0b, B, 24, 0, 0, 1500, 0);
    net.x.setOffload(a, 1, 1);
    net.x.setTso(a, 14 + 65535);
    if (opts.lend === false) net.x.setLendTso(a, 0);
    if (opts.gro) net.x.setOffload(b, 1, 1);
    net.x.listen(b, 7, 0, 8, 65536, 65536);
    const c = net.x.connect(a, B, 7, 65536, 65536);
    const data = bytes(256 * 1024, 3);
    net.send(c, data, true);
    const sizes: number[] = [];
    const gsos = new Set<number>();
    let s = -1;
    let now = 0n;
    for (let i = 0; i < 5000; i++) {
      net.x.poll(a, now); net.x.poll(b, now);
      while (net.x.txCount(a) > 0) {
        const gso = net.x.txGso(a);
        const f = net.k.bytesOut(net.x.txPtr(a), net.x.txLen(a));
        net.x.txPop(a);
        sizes.push(f.length);
        if (gso) gsos.add(gso);
        // GRO: the large packet goes to b whole, its checksum left partial (RX_CSUM_VALID).
        if (opts.gro) net.inject(b, f, 1);
        else for (const g of segment(f, gso)) net.inject(b, g);
      }
      for (const f of net.take(b)) net.inject(a, f, opts.gro ? 1 : 0);
      if (s < 0 && net.x.lastAccepted() > c) s = net.x.lastAccepted();
      if (s >= 0 && (net.state(c) === "CLOSED" || net.state(c) === "TIME-WAIT")) break;
      now += 1_000_000n;
    }
    return { a, b, s, data, sizes, gsos };
  }

  it("hands the device segments of up to 64 KiB in whole MSS, which arrive intact once the host cuts them", () => {
    const r = run({ gro: false });
    expect(r.s).toBeGreaterThan(-1);
    expect(Buffer.from(net.collected(r.s)).equals(Buffer.from(r.data))).toBe(true);
    const big = r.sizes.filter((n) => n > 1514);
    expect(big.length).toBeGreaterThan(0);
    expect(Math.max(...r.sizes)).toBeLessThanOrEqual(14 + 65535);
    expect([...r.gsos]).toEqual([1460]);
    expect(r.sizes.filter((n) => n > 1514 && (n - 54) % 1460 !== 0).length).toBeLessThanOrEqual(1);   // only the end of the data is not whole MSS
    expect(net.counters(r.b).drop_tcp_bad_checksum ?? 0).toBe(0);
    expect(net.counters(r.b).drop_ip_bad_checksum ?? 0).toBe(0);
    // Built in the device's lent buffer (zero copy), every one of them, and none kept.
    expect(net.x.tsoInPlace(r.a)).toBe(big.length);
    expect(net.x.tsoLent(r.a)).toBe(0);
  });

  it("a device that lends no buffer gets the same bytes, copied", () => {
    const r = run({ gro: false, lend: false });
    expect(Buffer.from(net.collected(r.s)).equals(Buffer.from(r.data))).toBe(true);
    expect(r.sizes.some((n) => n > 1514)).toBe(true);
    expect(net.x.tsoInPlace(r.a)).toBe(0);
  });

  it("takes large (GRO'd) segments in whole", () => {
    const r = run({ gro: true });
    expect(Buffer.from(net.collected(r.s)).equals(Buffer.from(r.data))).toBe(true);
    expect(r.sizes.some((n) => n > 1514)).toBe(true);
  });

  // ---- zero copy: the device reads TSO payloads from the send ring (kernel/lib/net/txpin.ts)

  /** Bytes no shifted copy of itself matches (a wrong ring offset shows). */
  const noise = (n: number, s: number) => { const r = rng(s); return Uint8Array.from({ length: n }, () => (r() * 256) | 0); };
  const payloadOf = (f: Uint8Array) => { const t = 14 + (f[14] & 15) * 4; return { sport: (f[t] << 8) | f[t + 1], seq: new DataView(f.buffer, f.byteOffset).getUint32(t + 4), data: f.subarray(t + (f[t + 12] >> 4) * 4) }; };
  /** a (TSO, zero copy; its chains held until completed) connected to b. */
  function zcPair(txCap: number) {
    const a = net.x.newStack(seed++, 0x0a, A, 24, 0, 0, 1500, 0);
    const b = net.x.newStack(seed++, 0x0b, B, 24, 0, 0, 1500, 0);
    net.x.setOffload(a, 1, 1); net.x.setOffload(b, 1, 1);
    net.x.setTso(a, 14 + 65535);
    net.x.setZeroCopy(a, 1, 1);
    net.x.listen(b, 7, 0, 8, 65536, 65536);
    const conns: number[] = [];
    let now = 0n;
    /** One round: both polled, held chains completed if asked, frames carried (TSO packets cut as the host would). */
    const step = (complete: boolean, deliver = true) => {
      net.x.poll(a, now); net.x.poll(b, now);
      if (complete) net.x.zcComplete(a, 1000);
      const out: Uint8Array[] = [];
      while (net.x.txCount(a) > 0) {
        const gso = net.x.txGso(a);
        const f = net.k.bytesOut(net.x.txPtr(a), net.x.txLen(a));
        net.x.txPop(a);
        out.push(f);
        if (deliver) for (const g of segment(f, gso)) net.inject(b, g);
      }
      for (const f of net.take(b)) net.inject(a, f, 1);
      now += 1_000_000n;
      return out;
    };
    /** A connection from a to b, established both ways (held chains stay held). */
    const open = (txMax = 0) => {
      net.x.setBufferMax(0, txMax);
      const c = net.x.connect(a, B, 7, 65536, txCap);
      net.x.setBufferMax(0, 0);
      for (let i = 0; i < 20 && (net.state(c) !== "ESTABLISHED" || net.x.lastAccepted() < c); i++) step(false);
      expect(net.state(c)).toBe("ESTABLISHED");
      conns.push(c);
      return { c, s: net.x.lastAccepted() };
    };
    return { a, b, step, open, now: () => now };
  }

  it("zero copy: the payload goes from the send ring to the device as it lies, a wrapped range in two pieces, intact", () => {
    const z = zcPair(65536);
    const { c, s } = z.open();
    const data = noise(400 * 1024, 5);
    net.send(c, data, true);
    for (let i = 0; i < 3000 && net.state(c) !== "TIME-WAIT" && net.state(c) !== "CLOSED"; i++) z.step(i % 2 === 1);
    z.step(true); z.step(true);
    expect(Buffer.from(net.collected(s)).equals(Buffer.from(data))).toBe(true);
    const [sent, wrapped] = net.str(net.x.zcStats(z.a)).split(" ").map(Number);
    expect(sent).toBeGreaterThan(5);
    expect(wrapped).toBeGreaterThan(0);                   // some range crossed the ring's end
    expect(net.counters(z.a).tx_zero_copy).toBe(sent);
    expect(net.x.tsoInPlace(z.a)).toBeLessThan(sent / 4);   // built in a TSO slot only when all pins were taken
    expect(net.counters(z.b).drop_tcp_bad_checksum ?? 0).toBe(0);
    expect(net.x.pinCount(z.a)).toBe(0);
    expect(net.x.deferredBytes(z.a)).toBe(0n);
    expect(net.x.memUsed(z.a)).toBe(0n);
  });

  it("zero copy: an abort with a packet still queued keeps the ring's storage from other connections until the device is done", () => {
    const z = zcPair(32768);
    const one = z.open();
    const x = noise(20000, 7);
    net.send(one.c, x);
    z.step(false, false);
    expect(net.x.zcHeld(z.a)).toBe(1);                    // the initial window's bytes wait at the device
    const first = (net.x.sockSndNxt(one.c) - net.x.sockSndUna(one.c)) >>> 0;
    expect(first).toBeGreaterThan(2048);
    expect(net.x.memUsed(z.a)).toBe(32768n);
    net.x.sockAbort(one.c);
    z.step(false, false);
    expect(net.state(one.c)).toBe("CLOSED");
    // Freed, but not to the spares another ring takes first: still held, and shown.
    expect(net.x.deferredBytes(z.a)).toBe(32768n);
    expect(net.x.memUsed(z.a)).toBe(32768n);
    expect(net.x.spareBytes(z.a)).toBe(0n);
    // Another connection writes its own bytes into a ring of the same size.
    const two = z.open();
    net.send(two.c, new Uint8Array(20000).fill(0xee));
    net.x.zcComplete(z.a, 1);                             // the device reads the aborted connection's packet now
    const f = net.take(z.a).map(payloadOf).find((p) => p.sport === net.x.sockLocalPort(one.c))!;
    expect(f.data.length).toBe(first);
    expect(Buffer.from(f.data).equals(Buffer.from(x.subarray(0, first)))).toBe(true);
    z.step(true); z.step(true);
    expect(net.x.deferredBytes(z.a)).toBe(0n);
    expect(net.x.pinCount(z.a)).toBe(0);
    expect(net.x.memUsed(z.a)).toBe(32768n);             // the second connection's ring only
  });

  it("zero copy: a ring that grows while a packet reads it keeps the old storage until the device is done", () => {
    const z = zcPair(32768);
    const one = z.open(65536);
    const x = noise(120000, 9);
    net.send(one.c, x, true);
    z.step(false, false);
    expect(net.x.zcHeld(z.a)).toBe(1);
    const first = (net.x.sockSndNxt(one.c) - net.x.sockSndUna(one.c)) >>> 0;
    expect(net.x.sockTxGrow(one.c, 65536)).toBe(1);
    expect(net.x.deferredBytes(z.a)).toBe(32768n);
    expect(net.x.memUsed(z.a)).toBe(32768n + 65536n);
    const two = z.open();                                 // would take the old storage from the spares
    net.send(two.c, new Uint8Array(30000).fill(0xee));
    net.x.zcComplete(z.a, 1);
    const f = net.take(z.a).map(payloadOf).find((p) => p.sport === net.x.sockLocalPort(one.c))!;
    expect(f.data.length).toBe(first);
    expect(Buffer.from(f.data).equals(Buffer.from(x.subarray(0, first)))).toBe(true);
    // Everything still arrives intact (the first packet again: it was not carried).
    for (let i = 0; i < 3000 && net.state(one.c) !== "TIME-WAIT" && net.state(one.c) !== "CLOSED"; i++) z.step(true);
    z.step(true);
    expect(Buffer.from(net.collected(one.s)).equals(Buffer.from(x))).toBe(true);
    expect(net.x.deferredBytes(z.a)).toBe(0n);
  });

  it("zero copy: bytes ACKed while a packet that reads them is still queued are not overwritten by new writes", () => {
    const z = zcPair(32768);
    const { c, s } = z.open();
    const x = noise(100000, 11);
    net.send(c, x, true);                                 // 32 KiB in the ring, the rest waits to be written
    z.step(false, false);
    expect(net.x.zcHeld(z.a)).toBe(1);
    const una = net.x.sockSndUna(c);
    const first = (net.x.sockSndNxt(c) - una) >>> 0;
    // The peer acknowledges the queued packet's bytes (it had them from an
    // earlier copy: a retransmission still queued when the ACK comes).
    const ack = tcp(B, A, { sport: 7, dport: net.x.sockLocalPort(c), seq: net.x.sockRcvNxt(c), ack: (una + first) >>> 0, flags: F.ACK, window: 65535 });
    net.inject(z.a, eth(MAC_A, MAC_B, 0x0800, ipv4(B, A, 6, ack)), 1);
    z.step(false, false);
    expect(net.x.sockSndUna(c)).toBe((una + first) >>> 0);
    net.x.zcComplete(z.a, 1);
    const raw = net.take(z.a).find((fr) => payloadOf(fr).seq === una)!;
    const f = payloadOf(raw);
    expect(f.data.length).toBe(first);
    expect(Buffer.from(f.data).equals(Buffer.from(x.subarray(0, first)))).toBe(true);
    // Not held back for good: the rest goes on once the device is done, and
    // arrives intact (b gets the first bytes now, from that packet).
    for (const g of segment(raw, 1460)) net.inject(z.b, g);
    for (let i = 0; i < 3000 && net.state(c) !== "TIME-WAIT" && net.state(c) !== "CLOSED"; i++) z.step(true);
    expect(net.collected(s).length).toBe(x.length);
    expect(Buffer.from(net.collected(s)).equals(Buffer.from(x))).toBe(true);
    expect(net.x.memUsed(z.a)).toBe(0n);
  });

  it("zero copy over a lossy link, the device late by a random number of rounds: retransmissions and all arrive intact, nothing kept", () => {
    const z = zcPair(65536);
    const { c, s } = z.open(256 * 1024);
    const data = noise(600 * 1024, 13);
    const r = rng(99);
    net.send(c, data, true);
    let t = z.now();
    for (let i = 0; i < 20000 && net.state(c) !== "TIME-WAIT" && net.state(c) !== "CLOSED"; i++, t += 1_000_000n) {
      net.x.poll(z.a, t); net.x.poll(z.b, t);
      if (r() < 0.5) net.x.zcComplete(z.a, 1 + ((r() * 4) | 0));
      while (net.x.txCount(z.a) > 0) {
        const gso = net.x.txGso(z.a);
        const f = net.k.bytesOut(net.x.txPtr(z.a), net.x.txLen(z.a));
        net.x.txPop(z.a);
        for (const g of segment(f, gso)) {
          if (r() < 0.04) continue;                       // lost
          net.inject(z.b, g);
          if (r() < 0.02) net.inject(z.b, g);             // duplicated
        }
      }
      for (const f of net.take(z.b)) if (r() >= 0.04) net.inject(z.a, f, 1);
    }
    net.x.zcComplete(z.a, 1000);
    for (let i = 0; i < 5; i++, t += 1_000_000n) { net.x.poll(z.a, t); net.x.poll(z.b, t); }
    expect(Buffer.from(net.collected(s)).equals(Buffer.from(data))).toBe(true);
    expect(net.counters(z.a).tcp_retransmits ?? net.counters(z.a).tcp_timeouts).toBeGreaterThan(0);
    expect(net.counters(z.a).tx_zero_copy).toBeGreaterThan(10);
    expect(net.x.pinCount(z.a)).toBe(0);
    expect(net.x.deferredBytes(z.a)).toBe(0n);
    expect(net.x.memUsed(z.a)).toBe(0n);
  });

  it("without TSO on the device every frame stays within the MTU", () => {
    const a = net.x.newStack(seed++, 0x0a, A, 24, 0, 0, 1500, 0);
    const b = net.x.newStack(seed++, 0x0b, B, 24, 0, 0, 1500, 0);
    net.x.setOffload(a, 1, 1);
    net.x.setOffload(b, 1, 1);
    net.x.listen(b, 7, 0, 8, 65536, 65536);
    const c = net.x.connect(a, B, 7, 65536, 65536);
    net.send(c, bytes(100000), true);
    let max = 0;
    for (let i = 0; i < 2000; i++) {
      net.x.poll(a, BigInt(i) * 1_000_000n); net.x.poll(b, BigInt(i) * 1_000_000n);
      for (const f of net.take(a)) { max = Math.max(max, f.length); net.inject(b, f, 1); }
      for (const f of net.take(b)) net.inject(a, f, 1);
    }
    expect(max).toBe(1514);
  });
});
