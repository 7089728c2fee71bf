// kernel/lib/net/iface — the interface layer: Ethernet/ARP/IPv4/ICMP dispatch and
// routing between a NetDevice and the transports.
export { Interface, ProtocolHandler, NO_DEADLINE } from "./interface";
export { ArpCache, ArpEntry, ArpState } from "./arp";
export { Reassembler } from "./fragment";
