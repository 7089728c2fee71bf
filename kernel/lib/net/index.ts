// kernel/lib/net — the TCP/IP stack's public surface. Layers (after smoltcp):
//   wire/    packet formats (parse/emit, no state)
//   iface/   one interface: Ethernet, ARP, IPv4 routing and reassembly, ICMP
//   socket/  TCP and UDP state machines, listeners, the DHCP client
//   device.ts  the NetDevice interface drivers implement; the stack imports no driver
// A library: it starts nothing and knows no default stack; the composition
// layer (kernel/system/network.ts) puts one on the first NIC for apps.
import { NetCounters, COUNTER_COUNT, counterName } from "./counters";

export { NetDevice, FrameSink, FrameChain, NetDeviceStats, RX_CSUM_VALID } from "./device";
export { NetStack, AddressHandler, NET_MEMORY_LIMIT } from "./stack";
export { startNetwork, NetService } from "./service";
export { NetConfig, parseNetConfig } from "./config";
export { EntropySource, SeededEntropy } from "./entropy";
export { NetCounters, Counter, COUNTER_COUNT, counterName, MemAccount } from "./counters";
export { Interface } from "./iface";
export {
  TcpSocket, TcpState, tcpStateName, TcpHandler, TcpListener, TcpListenHandler,
  TCP_OK, TCP_ERR_REFUSED, TCP_ERR_RESET, TCP_ERR_TIMEOUT, TCP_ERR_ABORTED,
  UdpSocket, UdpHandler, DhcpState, NetLog, TcpLayer,
} from "./socket";
export { TCP_DEFAULT_BACKLOG, TCP_MAX_HALF_OPEN } from "./socket";
export { ipToString, parseIp, macToString } from "./wire";
export {
  DnsResolver, DnsResult, DnsHandler, DnsWakeup, DnsOptions, dnsErrorName, normalizeName,
  DNS_OK, DNS_ERR_NXDOMAIN, DNS_ERR_SERVFAIL, DNS_ERR_TIMEOUT, DNS_ERR_MALFORMED, DNS_ERR_NO_DATA,
  DNS_ERR_BAD_NAME, DNS_ERR_NO_SERVER, DNS_ERR_NETWORK, DNS_ERR_CNAME_CHAIN, DNS_ERR_BUSY,
} from "./dns";

/** Counters as "name value" lines, for quick dumps. */
export function netCountersText(c: NetCounters): string {
  let out = "";
  for (let i = 0; i < COUNTER_COUNT; i++) out += counterName(i) + " " + c.get(i).toString() + "\n";
  return out;
}
