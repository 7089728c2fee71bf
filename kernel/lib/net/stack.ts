// kernel/lib/net/stack.ts — the whole stack for one device: interface, TCP, UDP
// and DHCP (or a static address), driven by poll(nowNs) which returns the
// next deadline. A pure state machine: the event loop (or a unit test's fake
// clock) calls poll when a frame may have arrived or a deadline passed.
import { NetDevice } from "./device";
import { NetCounters, MemAccount } from "./counters";
import { EntropySource } from "./entropy";
import { Interface } from "./iface";
import { TcpLayer, UdpLayer, DhcpClient, NetLog } from "./socket";
import { NetConfig } from "./config";
import { ipToString } from "./wire";

/** While zero-copy packets may still be read by the device (pins), poll at least this often. */
const ZC_RECLAIM_NS: i64 = 1_000_000;
/** Default bound on the stack's buffer memory (socket buffers, reassembly, ARP queues). */
export const NET_MEMORY_LIMIT: i64 = 24 << 20;

/** Something to do once the interface has an IPv4 address (NetStack.whenAddressed). */
export abstract class AddressHandler {
  abstract addressed(stack: NetStack): void;
}

export class NetStack {
  counters: NetCounters;
  mem: MemAccount;
  iface: Interface;
  tcp: TcpLayer;
  udp: UdpLayer;
  dhcp: DhcpClient | null = null;
  private started: bool = false;
  /** Where DHCP lease changes and (with tcp.debug) TCP state changes are logged. */
  log: NetLog | null = null;
  private awaitingAddress: AddressHandler[] | null = null;

  constructor(public device: NetDevice, public entropy: EntropySource, public config: NetConfig,
              memoryLimit: i64 = NET_MEMORY_LIMIT) {
    const counters = new NetCounters();
    const mem = new MemAccount(memoryLimit);
    mem.pins.device = device;
    const iface = new Interface(device, counters, mem);
    const tcp = new TcpLayer(iface, counters, mem, entropy);
    const udp = new UdpLayer(iface, counters, entropy);
    iface.tcp = tcp;
    iface.udp = udp;
    this.counters = counters;
    this.mem = mem;
    this.iface = iface;
    this.tcp = tcp;
    this.udp = udp;
  }

  set logger(l: NetLog | null) { this.tcp.logger = l; this.log = l; }

  /** Applies the configuration: a static address now, or DHCP from now on. */
  start(now: i64): void {
    if (this.started) return;
    this.started = true;
    this.tcp.now = now;
    this.iface.now = now;
    const c = this.config;
    if (!c.dhcp) {
      if (c.addr != 0) this.iface.setIpv4(c.addr, c.prefixLen, c.gateway);
      if (c.dns != 0) this.iface.dns = [c.dns];
    } else {
      const d = new DhcpClient(this.iface, this.udp, this.counters, this.entropy);
      this.dhcp = d;
      d.logger = this.log;
      d.start(now);
    }
  }

  /** Receives, runs every timer, sends; returns the next deadline in ns
   *  (i64.MAX_VALUE: nothing scheduled, wait for a frame). */
  poll(now: i64): i64 {
    if (!this.started) this.start(now);
    this.tcp.now = now;
    const dev = this.device;
    dev.txBatchBegin();                 // one device notification for everything sent below
    let next = this.iface.poll(now);
    const t = this.tcp.poll(now);
    if (t < next) next = t;
    const d = this.dhcp;
    if (d != null) {
      const dd = d.poll(now);
      if (dd < next) next = dd;
    }
    dev.txBatchEnd();
    // Ring storage freed while a zero-copy packet still read it goes back
    // once the device is done, and writes held back by such a packet go on
    // (TcpSocket.poll); until then look again soon (the device does not
    // interrupt for transmit completions).
    const pins = this.mem.pins;
    if (pins.count > 0) {
      pins.reclaim();
      if (pins.count > 0 && now + ZC_RECLAIM_NS < next) next = now + ZC_RECLAIM_NS;
    }
    const w = this.awaitingAddress;
    if (w !== null && this.iface.addr != 0) {
      this.awaitingAddress = null;
      for (let i = 0; i < w.length; i++) w[i].addressed(this);
    }
    return next;
  }

  /** Runs h once the interface has an address: now if it has one (static,
   *  or DHCP already bound), else from the poll that sees DHCP bind it.
   *  Servers announce "listening" here: a client that connects before the
   *  guest has an address gets no answer and waits for a SYN retransmit. */
  whenAddressed(h: AddressHandler): void {
    if (this.iface.addr != 0) { h.addressed(this); return; }
    let w = this.awaitingAddress;
    if (w === null) { w = new Array<AddressHandler>(); this.awaitingAddress = w; }
    w.push(h);
  }

  /** One line for the boot log. */
  describe(): string {
    const i = this.iface;
    if (i.addr == 0) return this.device.name + ": no address yet" + (this.dhcp != null ? " (DHCP)" : "");
    return this.device.name + ": " + ipToString(i.addr) + "/" + i.prefixLen.toString() +
      (i.gateway != 0 ? " via " + ipToString(i.gateway) : "") + (this.dhcp != null ? " (DHCP)" : " (static)");
  }
}
