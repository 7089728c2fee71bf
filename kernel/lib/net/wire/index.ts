// kernel/lib/net/wire — packet formats: views over (pointer, length) and checked
// representations with parse/emit (after smoltcp's wire/). No state, no I/O.
export * from "./bytes";
export * from "./error";
export * from "./ethernet";
export * from "./arp";
export * from "./ipv4";
export * from "./icmp";
export * from "./udp";
export * from "./tcp";
export * from "./dhcp";
