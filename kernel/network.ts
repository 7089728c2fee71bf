// kernel/network.ts — the default network: composes the TCP/IP stack
// (kernel/net, which imports no driver) with the first virtio NIC. Nothing in
// the boot path calls this; the first socket an app opens does, so an app that
// never touches the network links neither the stack nor a driver, and one
// that does gets the device probe, DHCP (or ip=) and the REST endpoint then.
import { bootInfo } from "./bootinfo";
import { netDevice } from "./virtio";
import * as net from "./net";
import { NetStack, NetCounters, TcpListener, TcpListenHandler, TcpSocket, TcpHandler, UdpSocket, UdpHandler, AddressHandler, ipToString } from "./net";
import { println } from "./console";

let configured = false;

function ensureNetwork(): void {
  if (configured) return;
  configured = true;
  const boot = bootInfo();
  net.configureNetwork(netDevice(0), boot.cmdline, boot.cmdline.has("quiet"));
}

/** The default stack, started on first use; null without a NIC. */
export function netStack(): NetStack | null {
  ensureNetwork();
  return net.netStack();
}

/** Listens on a TCP port; null without a network or when the port is taken. */
export function tcpListen(port: u32, handler: TcpListenHandler, backlog: i32 = 64): TcpListener | null {
  ensureNetwork();
  return net.tcpListen(port, handler, backlog);
}

/** Opens a TCP connection; handler.connected runs when it is established. */
export function tcpConnect(addr: u32, port: u32, handler: TcpHandler): TcpSocket | null {
  ensureNetwork();
  return net.tcpConnect(addr, port, handler);
}

/** Binds a UDP port (0: any free port). */
export function udpBind(port: u32, handler: UdpHandler): UdpSocket | null {
  ensureNetwork();
  return net.udpBind(port, handler);
}

/** The default stack's counters (null without a network): for REST and /metrics. */
export function netCounters(): NetCounters | null {
  ensureNetwork();
  return net.netCounters();
}


class ListeningLine extends AddressHandler {
  constructor(public line: string) { super(); }
  addressed(stack: NetStack): void {
    println(this.line + " at " + ipToString(stack.iface.addr));
  }
}

/** A server's console lines: "APP: listening on WHAT at ADDR" once the
 *  interface has an address (a client that connects before then waits for a
 *  SYN retransmit), after "APP: WHAT open; waiting for an address (DHCP)"
 *  when it has none yet. */
export function announceListening(stack: NetStack, app: string, what: string): void {
  if (stack.iface.addr == 0) println(app + ": " + what + " open; waiting for an address (DHCP)");
  stack.whenAddressed(new ListeningLine(app + ": listening on " + what));
}
