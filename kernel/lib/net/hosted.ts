// kernel/lib/net/hosted.ts — the hosted socket layer of `skiff dev`: the entry of
// a hosted build calls startHostedNetwork() before the app's main, and the
// default stack's TCP layer is then a HostedTcpLayer, whose listeners and connections are the host's sockets
// (Node's net module, cli/lib/hosted/). The app, the HTTP server and the REST
// endpoint see the same TcpLayer / TcpListener / TcpSocket API and callbacks,
// called from the same event loop; only the segments, windows and timers of
// kernel/lib/net/socket/tcp.ts are the host's business here. The interface gets a
// HostedNetDevice that carries no frames (UDP and DHCP have no host side).
// Only kernel/system/hosted.ts imports this file, and only the hosted entry
// imports that, so real images do not contain it (a
// subclass overriding TcpSocket's methods would make every call to them a
// virtual call).
import {
  net_listen, net_unlisten, net_connect, net_send, net_recv, net_close, net_abort, net_event,
  HOSTED_ACCEPT, HOSTED_READABLE, HOSTED_WRITABLE, HOSTED_CONNECTED, HOSTED_CLOSED,
} from "../../platform/hosted";
import { NetDevice, FrameSink } from "./device";
import { NetStack } from "./stack";
import { NetService } from "./service";
import { parseNetConfig } from "./config";
import { NetLog } from "./socket";
import { addService, nowNs } from "../../core/sched";
import { randomBytes } from "../../core/random";
import { println } from "../../core/console";
import { Cmdline } from "../../platform/bootinfo";
import { Interface } from "./iface";
import { NetCounters, MemAccount } from "./counters";
import { EntropySource } from "./entropy";
import {
  TcpLayer, TcpSocket, TcpState, TcpListener, TcpListenHandler, TcpHandler,
  TCP_DEFAULT_BACKLOG, TCP_DEFAULT_RX, TCP_DEFAULT_TX, TCP_MAX_RX, TCP_MAX_TX, TCP_ERR_ABORTED,
} from "./socket";

/** A NIC with no wire: the hosted stack's interface needs one. */
export class HostedNetDevice extends NetDevice {
  private addr: StaticArray<u8> = [0x02, 0, 0, 0, 0, 0x01];
  constructor() { super(); this.name = "host0"; }
  mac(): StaticArray<u8> { return this.addr; }
  mtu(): i32 { return 1500; }
  linkUp(): bool { return true; }
  txChecksumOffload(): bool { return false; }
  rxChecksumOffload(): bool { return false; }
  transmit(frame: usize, len: i32, csumStart: i32, csumOffset: i32): bool {
    this.stats.txDropped++;
    return false;
  }
  poll(sink: FrameSink, budget: i32): i32 { return 0; }
}

export class HostedTcpSocket extends TcpSocket {
  constructor(private owner: HostedTcpLayer, public id: u32) {
    super(owner.ctx, 0, 0);
  }

  get readableBytes(): i32 {
    const n = net_recv(this.id, 0, 0);
    return n < 0 ? 0 : n;
  }
  get writableBytes(): i32 {
    if (this.state != TcpState.Established && this.state != TcpState.CloseWait) return 0;
    const n = net_send(this.id, 0, 0);
    return n < 0 ? 0 : n;
  }

  read(dst: usize, max: i32): i32 {
    if (this.state == TcpState.Closed) return -1;
    if (max <= 0) return 0;
    const n = net_recv(this.id, dst, max);
    if (n < 0) this.sawFin();
    return n;
  }

  /** The peer's FIN, seen once everything before it was read: the states a
   *  guest's socket goes through on it (RFC 9293 §3.10.7.4, eighth step). */
  sawFin(): void {
    if (this.peerFin) return;
    this.peerFin = true;
    if (this.state == TcpState.Established) this.state = TcpState.CloseWait;
    else if (this.state == TcpState.FinWait1 || this.state == TcpState.FinWait2) this.state = TcpState.Closing;
  }

  write(src: usize, len: i32): i32 {
    if (this.state != TcpState.Established && this.state != TcpState.CloseWait) return -1;
    if (len <= 0) return 0;
    return net_send(this.id, src, len);
  }

  close(): void {
    if (this.state == TcpState.Established) this.state = TcpState.FinWait1;
    else if (this.state == TcpState.CloseWait) this.state = TcpState.LastAck;
    else if (this.state == TcpState.SynSent) this.state = TcpState.FinWait1;
    else return;
    net_close(this.id);
  }

  abort(): void {
    if (this.state == TcpState.Closed) return;
    net_abort(this.id);
    this.owner.gone(this, TCP_ERR_ABORTED);
  }
}

export class HostedTcpLayer extends TcpLayer {
  private socks: Map<u32, HostedTcpSocket> = new Map();
  private ev: StaticArray<u32> = new StaticArray<u32>(5);

  constructor(iface: Interface, counters: NetCounters, mem: MemAccount, entropy: EntropySource) {
    super(iface, counters, mem, entropy);
  }

  listen(port: u32, handler: TcpListenHandler, backlog: i32 = TCP_DEFAULT_BACKLOG,
         rxCapacity: i32 = TCP_DEFAULT_RX, txCapacity: i32 = TCP_DEFAULT_TX,
         rxMax: i32 = TCP_MAX_RX, txMax: i32 = TCP_MAX_TX): TcpListener | null {
    const l = super.listen(port, handler, backlog, rxCapacity, txCapacity, rxMax, txMax);
    if (l === null) return null;
    if (net_listen(port) != 0) {
      super.unlisten(l);
      return null;
    }
    return l;
  }

  unlisten(l: TcpListener): void {
    if (l.open && this.listeners.has(l.port) && this.listeners.get(l.port) == l) net_unlisten(l.port);
    super.unlisten(l);
  }

  connect(addr: u32, port: u32, handler: TcpHandler,
          rxCapacity: i32 = TCP_DEFAULT_RX, txCapacity: i32 = TCP_DEFAULT_TX,
          rxMax: i32 = TCP_MAX_RX, txMax: i32 = TCP_MAX_TX): TcpSocket | null {
    if (addr == 0 || port == 0 || port > 65535) return null;
    const id = net_connect(addr, port);
    if (id == 0) return null;
    const s = new HostedTcpSocket(this, id);
    s.handler = handler;
    s.localAddr = this.iface.addr;
    s.remoteAddr = addr;
    s.remotePort = port;
    s.state = TcpState.SynSent;
    this.socks.set(id, s);
    return s;
  }

  /** The host's events since the last pass, each delivered to its handler. */
  poll(now: i64): i64 {
    this.now = now;
    const ev = changetype<usize>(this.ev);
    while (net_event(ev) != 0) {
      const kind = load<u32>(ev);
      const id = load<u32>(ev, 4);
      if (kind == HOSTED_ACCEPT) { this.accept(id, load<u32>(ev, 8), load<u32>(ev, 12), load<u32>(ev, 16)); continue; }
      if (!this.socks.has(id)) continue;
      const s = this.socks.get(id);
      const h = s.handler;
      if (kind == HOSTED_READABLE) {
        if (net_recv(id, 0, 0) < 0) s.sawFin();      // nothing left before the FIN
        if (h !== null) h.readable(s);
      } else if (kind == HOSTED_WRITABLE) {
        if (h !== null) h.writable(s);
      } else if (kind == HOSTED_CONNECTED) {
        s.localPort = load<u32>(ev, 8);
        if (s.state == TcpState.SynSent) s.state = TcpState.Established;
        if (h !== null) h.connected(s);
      } else if (kind == HOSTED_CLOSED) {
        this.gone(s, <i32>load<u32>(ev, 8));
      }
    }
    return i64.MAX_VALUE;      // the host's next event ends the loop's halt
  }

  private accept(id: u32, port: u32, addr: u32, rport: u32): void {
    const l = this.listeners.has(port) ? this.listeners.get(port) : null;
    if (l === null || !l.open) { net_abort(id); return; }
    const s = new HostedTcpSocket(this, id);
    s.listener = l;
    s.localAddr = this.iface.addr;
    s.localPort = port;
    s.remoteAddr = addr;
    s.remotePort = rport;
    s.state = TcpState.Established;
    this.socks.set(id, s);
    l.accepted++;
    l.handler.accepted(l, s);
  }

  /** The connection ended: closed() once, and the layer forgets it. */
  gone(s: HostedTcpSocket, error: i32): void {
    if (!this.socks.has(s.id)) return;
    this.socks.delete(s.id);
    s.state = TcpState.Closed;
    s.error = error;
    s.closedDelivered = true;
    const h = s.handler;
    if (h !== null) h.closed(s);
  }
}

class HostEntropy extends EntropySource {
  fill(ptr: usize, len: i32): void { randomBytes(ptr, len); }
}

class HostedLog extends NetLog {
  log(line: string): void { println("net: " + line); }
}

/** startNetwork (service.ts) for a hosted build: the stack on a
 *  HostedNetDevice with a HostedTcpLayer. kernel/system/hosted.ts makes it
 *  the default stack and starts the REST endpoint on it.
 *  The address comes from ip= (skiff dev passes ip=127.0.0.1/8). */
export function startHostedNetwork(cmdline: Cmdline, quiet: bool): NetStack {
  const cfg = parseNetConfig(cmdline.get("ip"), cmdline.get("gateway"), cmdline.get("dns"));
  for (let i = 0; i < cfg.problems.length; i++) println("net: " + cfg.problems[i]);
  cfg.dhcp = false;                                  // there is no DHCP server on the host side
  const s = new NetStack(new HostedNetDevice(), new HostEntropy(), cfg);
  const tcp = new HostedTcpLayer(s.iface, s.counters, s.mem, s.entropy);
  s.tcp = tcp;
  s.iface.tcp = tcp;
  if (cmdline.has("net.debug")) s.logger = new HostedLog();
  s.start(<i64>nowNs());
  addService(new NetService(s));
  if (!quiet) println("net: " + s.describe() + ", TCP on the host's sockets (skiff dev)");
  return s;
}
