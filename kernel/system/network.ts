// kernel/system/network.ts — the default network, as apps call it: the stack
// on the first virtio NIC (startDefaultNetwork in main.ts, step 4), which the
// first of these calls starts. The stack itself (kernel/lib/net) is a library that
// imports no driver and starts nothing; an app that never touches the network
// links neither the stack nor a driver. The management API is not started
// here: serve() or startManagementApi() does (main.ts, step 5).
import { startDefaultNetwork } from "./main";
import {
  NetStack, NetCounters, TcpListener, TcpListenHandler, TcpSocket, TcpHandler, UdpSocket, UdpHandler,
  AddressHandler, ipToString,
} from "../lib/net";
import { println } from "../core/console";

/** The default stack, started on first use; null without a NIC. */
export function netStack(): NetStack | null {
  return startDefaultNetwork();
}

/** Listens on a TCP port; null without a network or when the port is taken. */
export function tcpListen(port: u32, handler: TcpListenHandler, backlog: i32 = 64): TcpListener | null {
  const s = startDefaultNetwork();
  return s == null ? null : s.tcp.listen(port, handler, backlog);
}

/** Opens a TCP connection; handler.connected runs when it is established. */
export function tcpConnect(addr: u32, port: u32, handler: TcpHandler): TcpSocket | null {
  const s = startDefaultNetwork();
  return s == null ? null : s.tcp.connect(addr, port, handler);
}

/** Binds a UDP port (0: any free port). */
export function udpBind(port: u32, handler: UdpHandler): UdpSocket | null {
  const s = startDefaultNetwork();
  return s == null ? null : s.udp.bind(port, handler);
}

/** The default stack's counters (null without a network): for REST and /metrics. */
export function netCounters(): NetCounters | null {
  const s = startDefaultNetwork();
  return s == null ? null : s.counters;
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
