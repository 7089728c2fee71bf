// kernel/net — the TCP/IP stack's public surface. Layers (after smoltcp):
//   wire/    packet formats (parse/emit, no state)
//   iface/   one interface: Ethernet, ARP, IPv4 routing and reassembly, ICMP
//   socket/  TCP and UDP state machines, listeners, the DHCP client
//   device.ts  the NetDevice interface drivers implement; the stack imports no driver
// Apps use tcpListen / tcpConnect / udpBind on the default stack.
import { NetStack } from "./stack";
import { netStack } from "./service";
import { TcpHandler, TcpListenHandler, TcpListener, TcpSocket, UdpHandler, UdpSocket } from "./socket";
import { NetCounters, COUNTER_COUNT, counterName } from "./counters";

export { NetDevice, FrameSink, NetDeviceStats, RX_CSUM_VALID } from "./device";
export { NetStack, AddressHandler, NET_MEMORY_LIMIT, setDefaultStack, currentStack } from "./stack";
export { startNetwork, configureNetwork, netStack, NetService } from "./service";
export { NetConfig, parseNetConfig } from "./config";
export { EntropySource, SeededEntropy } from "./entropy";
export { NetCounters, Counter, COUNTER_COUNT, counterName, MemAccount } from "./counters";
export { Interface } from "./iface";
export {
  TcpSocket, TcpState, tcpStateName, TcpHandler, TcpListener, TcpListenHandler,
  TCP_OK, TCP_ERR_REFUSED, TCP_ERR_RESET, TCP_ERR_TIMEOUT, TCP_ERR_ABORTED,
  UdpSocket, UdpHandler, DhcpState, NetLog,
} from "./socket";
export { ipToString, parseIp, macToString } from "./wire";
export {
  DnsResolver, DnsResult, DnsHandler, DnsWakeup, DnsOptions, dnsErrorName,
  DNS_OK, DNS_ERR_NXDOMAIN, DNS_ERR_SERVFAIL, DNS_ERR_TIMEOUT, DNS_ERR_MALFORMED, DNS_ERR_NO_DATA,
  DNS_ERR_BAD_NAME, DNS_ERR_NO_SERVER, DNS_ERR_NETWORK, DNS_ERR_CNAME_CHAIN, DNS_ERR_BUSY,
} from "./dns";

/** Listens on a TCP port; null without a network or when the port is taken. */
export function tcpListen(port: u32, handler: TcpListenHandler, backlog: i32 = 64): TcpListener | null {
  const s = netStack();
  return s == null ? null : s.tcp.listen(port, handler, backlog);
}

/** Opens a TCP connection; handler.connected runs when it is established. */
export function tcpConnect(addr: u32, port: u32, handler: TcpHandler): TcpSocket | null {
  const s = netStack();
  return s == null ? null : s.tcp.connect(addr, port, handler);
}

/** Binds a UDP port (0: any free port). */
export function udpBind(port: u32, handler: UdpHandler): UdpSocket | null {
  const s = netStack();
  return s == null ? null : s.udp.bind(port, handler);
}

/** The default stack's counters (null without a network): for REST and /metrics. */
export function netCounters(): NetCounters | null {
  const s = netStack();
  return s == null ? null : s.counters;
}

/** Counters as "name value" lines, for quick dumps. */
export function netCountersText(c: NetCounters): string {
  let out = "";
  for (let i = 0; i < COUNTER_COUNT; i++) out += counterName(i) + " " + c.get(i).toString() + "\n";
  return out;
}
