// kernel/lib/net/dns — the stub resolver: message format (message.ts), the
// resolver state machine (resolver.ts). Its event-loop glue (a sched timer)
// is in kernel/system/outbound.ts, so kernel/lib/net stays free of the scheduler.
export {
  DNS_PORT, DNS_TYPE_A, DNS_TYPE_CNAME, DNS_CLASS_IN, DNS_RCODE_NOERROR, DNS_RCODE_SERVFAIL, DNS_RCODE_NXDOMAIN,
  DNS_RCODE_REFUSED, DnsRecord, DnsResponse, encodeDnsQuery, parseDnsResponse, normalizeName, rcodeName, dnsParseError,
} from "./message";
export {
  DnsResolver, DnsResult, DnsHandler, DnsWakeup, DnsOptions, dnsErrorName,
  DNS_OK, DNS_ERR_NXDOMAIN, DNS_ERR_SERVFAIL, DNS_ERR_TIMEOUT, DNS_ERR_MALFORMED, DNS_ERR_NO_DATA,
  DNS_ERR_BAD_NAME, DNS_ERR_NO_SERVER, DNS_ERR_NETWORK, DNS_ERR_CNAME_CHAIN, DNS_ERR_BUSY,
} from "./resolver";
