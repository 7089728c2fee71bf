// test/apps/net-probe — virtio-net system test guest: on QEMU user networking
// (10.0.2.0/24, gateway 10.0.2.2) it sends an ARP request for 10.0.2.2 and a
// DHCP DISCOVER, and waits for QEMU's real ARP reply and DHCP OFFER, parsed
// only as far as this needs (Ethernet, ARP RFC 826, IPv4/UDP, BOOTP RFC 2131).
import { println, netDevice, NetDevice, FrameSink, macString, nowNs, sleepBlocking, virtioDeviceList } from "skiff";

const XID: u32 = 0x5a5a1234;
let gotArp = false;
let gotOffer = false;

function be16(p: usize): u32 { return (<u32>load<u8>(p) << 8) | load<u8>(p + 1); }
function be32(p: usize): u32 { return (be16(p) << 16) | be16(p + 2); }
function put16(p: usize, v: u32): void { store<u8>(p, <u8>(v >> 8)); store<u8>(p + 1, <u8>v); }
function put32(p: usize, v: u32): void { put16(p, v >> 16); put16(p + 2, v); }
function ip(v: u32): string {
  return (v >> 24).toString() + "." + ((v >> 16) & 255).toString() + "." + ((v >> 8) & 255).toString() + "." + (v & 255).toString();
}
function macAt(p: usize): string {
  const m = new StaticArray<u8>(6);
  for (let i = 0; i < 6; i++) m[i] = load<u8>(p + <usize>i);
  return macString(m);
}

class Sink extends FrameSink {
  receive(f: usize, len: i32, flags: u32): void {
    if (len < 14) return;
    const type = be16(f + 12);
    if (type == 0x0806 && len >= 42 && be16(f + 20) == 2 && be32(f + 28) == 0x0a000202) {
      if (!gotArp) println("arp reply: 10.0.2.2 is at " + macAt(f + 22));
      gotArp = true;
    } else if (type == 0x0800 && len >= 14 + 20 + 8 + 240) {
      const ipb = f + 14;
      const ihl = <usize>(load<u8>(ipb) & 15) * 4;
      if (load<u8>(ipb + 9) != 17) return;
      const udp = ipb + ihl;
      if (be16(udp) != 67 || be16(udp + 2) != 68) return;
      const bootp = udp + 8;
      if (<i32>(bootp + 240 - f) > len) return;
      if (load<u8>(bootp) != 2 || be32(bootp + 4) != XID || be32(bootp + 236) != 0x63825363) return;
      // Options: find 53 (message type) and 54 (server identifier).
      let o = bootp + 240;
      const end = f + <usize>len;
      let mtype: u32 = 0;
      let server: u32 = 0;
      while (o < end) {
        const code = load<u8>(o);
        if (code == 255) break;
        if (code == 0) { o++; continue; }
        if (o + 2 > end) break;
        const l = <usize>load<u8>(o + 1);
        if (o + 2 + l > end) break;
        if (code == 53 && l >= 1) mtype = load<u8>(o + 2);
        if (code == 54 && l >= 4) server = be32(o + 2);
        o += 2 + l;
      }
      if (mtype == 2 && !gotOffer) {
        println("dhcp offer: " + ip(be32(bootp + 16)) + " from " + ip(server));
        gotOffer = true;
      }
    }
  }
}

function sendArp(dev: NetDevice, f: usize): void {
  memory.fill(f, 0, 64);
  const mac = dev.mac();
  for (let i = 0; i < 6; i++) { store<u8>(f + i, 0xff); store<u8>(f + 6 + i, mac[i]); store<u8>(f + 22 + i, mac[i]); }
  put16(f + 12, 0x0806);
  put16(f + 14, 1); put16(f + 16, 0x0800); store<u8>(f + 18, 6); store<u8>(f + 19, 4); put16(f + 20, 1);
  put32(f + 28, 0x0a00020f);   // sender 10.0.2.15
  put32(f + 38, 0x0a000202);   // target 10.0.2.2
  dev.transmit(f, 60, -1, 0);
}

function sendDiscover(dev: NetDevice, f: usize): void {
  const len = 14 + 20 + 8 + 244;
  memory.fill(f, 0, len);
  const mac = dev.mac();
  for (let i = 0; i < 6; i++) { store<u8>(f + i, 0xff); store<u8>(f + 6 + i, mac[i]); }
  put16(f + 12, 0x0800);
  const ipb = f + 14;
  store<u8>(ipb, 0x45); put16(ipb + 2, 20 + 8 + 244); store<u8>(ipb + 8, 64); store<u8>(ipb + 9, 17);
  put32(ipb + 12, 0); put32(ipb + 16, 0xffffffff);
  let sum: u32 = 0;
  for (let i: usize = 0; i < 20; i += 2) sum += be16(ipb + i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  put16(ipb + 10, ~sum & 0xffff);
  const udp = ipb + 20;
  put16(udp, 68); put16(udp + 2, 67); put16(udp + 4, 8 + 244);   // UDP checksum 0: none (RFC 768)
  const b = udp + 8;
  store<u8>(b, 1); store<u8>(b + 1, 1); store<u8>(b + 2, 6);
  put32(b + 4, XID); put16(b + 10, 0x8000);                        // broadcast reply
  for (let i = 0; i < 6; i++) store<u8>(b + 28 + i, mac[i]);
  put32(b + 236, 0x63825363);
  store<u8>(b + 240, 53); store<u8>(b + 241, 1); store<u8>(b + 242, 1);   // DHCPDISCOVER
  store<u8>(b + 243, 255);
  dev.transmit(f, len, -1, 0);
}

export function main(): i32 {
  const dev = netDevice(0);
  if (dev === null) { println("no virtio-net device"); return 1; }
  println("net: " + dev.name + " mac " + macString(dev.mac()) + " mtu " + dev.mtu().toString() + (dev.linkUp() ? " link up" : " link down"));
  const buf = new Uint8Array(1514);
  const f = buf.dataStart;
  const sink = new Sink();
  const start = nowNs();
  let lastSend: u64 = 0;
  let sends = 0;
  while (!(gotArp && gotOffer)) {
    const now = nowNs();
    if (now - start > 20_000_000_000) break;
    if (sends == 0 || now - lastSend > 1_000_000_000) {
      if (!gotArp) sendArp(dev, f);
      if (!gotOffer) sendDiscover(dev, f);
      lastSend = now;
      sends++;
    }
    // Halt before each look: the receive interrupt ends the halt (and is
    // counted), even when QEMU answered before we got here.
    sleepBlocking(2_000_000);
    dev.poll(sink, 16);
  }
  // The loop takes interrupts only while it halts. When QEMU answered within
  // a pass that never halted (slow first-run code under TCG), the receive
  // interrupt is still latched in the LAPIC: one more halt lets it land.
  sleepBlocking(5_000_000);
  const s = dev.stats;
  println("counters: tx " + s.txPackets.toString() + " pkts " + s.txBytes.toString() + " bytes, rx " +
    s.rxPackets.toString() + " pkts " + s.rxBytes.toString() + " bytes, drops " + (s.rxDropped + s.txDropped).toString() +
    ", errors " + (s.rxErrors + s.txErrors).toString());
  const list = virtioDeviceList();
  for (let i = 0; i < list.length; i++) {
    if (list[i].name == "net0") println("net0 interrupts " + list[i].interrupts.toString() + " (" + list[i].irq + ")");
  }
  println(gotArp && gotOffer ? "net: all ok" : "net: FAILED (arp " + gotArp.toString() + ", offer " + gotOffer.toString() + ")");
  return gotArp && gotOffer ? 0 : 1;
}
