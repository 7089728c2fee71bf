// kernel/lib/net/dns/resolver.ts — a stub resolver (RFC 1035 §7, RFC 1123 §6.1.3):
// asks a recursive server for A records over UDP, follows CNAME chains,
// retries with backoff across the servers DHCP (option 6) or `dns=` gave,
// and keeps a bounded cache bounded by each answer's TTL (negative answers
// by the SOA minimum, RFC 2308). Layer: socket. Like the rest of kernel/lib/net it
// reads no clock: poll(now) does the timeouts and delivers results, and a
// DnsWakeup (the kernel's sched timer, kernel/system/outbound.ts) is told when the next
// deadline moves. Results are always delivered from poll, never inside
// resolve() or a packet's receive path, so a handler may do anything.
import { UdpLayer, UdpSocket, UdpHandler } from "../socket";
import { Interface } from "../iface";
import { EntropySource } from "../entropy";
import { ipToString, parseIp } from "../wire/bytes";
import {
  DNS_PORT, DNS_UDP_MAX, DNS_TYPE_A, DNS_TYPE_CNAME, DNS_CLASS_IN, DNS_RCODE_NOERROR, DNS_RCODE_NXDOMAIN,
  DNS_RCODE_SERVFAIL, DNS_RCODE_REFUSED, encodeDnsQuery, parseDnsResponse, normalizeName, dnsParseError, rcodeName,
  DnsResponse,
} from "./message";

// Result codes (DnsResult.error).
export const DNS_OK = 0;
export const DNS_ERR_NXDOMAIN = 1;     // the name does not exist
export const DNS_ERR_SERVFAIL = 2;     // the server failed (or refused) to answer
export const DNS_ERR_TIMEOUT = 3;      // no answer after every retry
export const DNS_ERR_MALFORMED = 4;    // the answer could not be parsed or made no sense
export const DNS_ERR_NO_DATA = 5;      // the name exists but has no IPv4 address
export const DNS_ERR_BAD_NAME = 6;     // not a valid host name
export const DNS_ERR_NO_SERVER = 7;    // no DNS server configured (no DHCP option 6, no dns=)
export const DNS_ERR_NETWORK = 8;      // no address or no UDP port to send from
export const DNS_ERR_CNAME_CHAIN = 9;  // CNAME chain too long or looping
export const DNS_ERR_BUSY = 10;        // too many lookups in flight

export function dnsErrorName(e: i32): string {
  switch (e) {
    case DNS_OK: return "ok";
    case DNS_ERR_NXDOMAIN: return "no such name (NXDOMAIN)";
    case DNS_ERR_SERVFAIL: return "server failure";
    case DNS_ERR_TIMEOUT: return "timed out";
    case DNS_ERR_MALFORMED: return "malformed answer";
    case DNS_ERR_NO_DATA: return "no IPv4 address for this name";
    case DNS_ERR_BAD_NAME: return "not a valid host name";
    case DNS_ERR_NO_SERVER: return "no DNS server configured";
    case DNS_ERR_NETWORK: return "network not ready";
    case DNS_ERR_CNAME_CHAIN: return "CNAME chain too long";
    case DNS_ERR_BUSY: return "too many lookups in flight";
  }
  return "error " + e.toString();
}

/** What a lookup found. */
export class DnsResult {
  /** The name as asked. */
  name: string = "";
  error: i32 = DNS_OK;
  /** IPv4 addresses, in the server's order. */
  addrs: Array<u32> = [];
  /** Seconds the answer may be kept (the smallest TTL along the chain; for a cached answer, what is left of it). */
  ttl: u32 = 0;
  /** The canonical name when a CNAME chain was followed, else the name. */
  canonical: string = "";
  /** Answered from the cache. */
  cached: bool = false;
  /** A sentence for logs: "api.test: no such name (NXDOMAIN) from 10.0.2.3". */
  message: string = "";

  get ok(): bool { return this.error == DNS_OK; }
  /** The first address (0 when none). */
  get addr(): u32 { return this.addrs.length > 0 ? unchecked(this.addrs[0]) : 0; }
}

/** The caller's callback (no closures in AssemblyScript: an object). */
export abstract class DnsHandler {
  abstract resolved(r: DnsResult): void;
}

/** Told when the resolver's next deadline moves earlier (the kernel arms a timer). */
export abstract class DnsWakeup {
  abstract wakeAt(deadlineNs: i64): void;
}

export class DnsOptions {
  /** First retransmission timeout; doubled after each round over the servers. */
  timeoutNs: i64 = 1_000_000_000;
  /** Rounds over the server list before DNS_ERR_TIMEOUT. */
  attempts: i32 = 3;
  /** How long a lookup waits for the interface to get an address (DHCP). */
  addressWaitNs: i64 = 15_000_000_000;
  /** Cache entries (each a name and its addresses); 0 disables the cache. */
  cacheSize: i32 = 128;
  /** Upper bound on any TTL (seconds), and on negative caching. */
  maxTtl: u32 = 86400;
  maxNegativeTtl: u32 = 300;
  /** Lookups in flight. */
  maxPending: i32 = 64;
}

const MAX_CHAIN = 8;           // CNAMEs followed inside one answer
const MAX_RESTARTS = 4;        // new questions for a chain's end (RFC 1034 §5.3.3)
const ADDRESS_POLL_NS: i64 = 50_000_000;

class CacheEntry {
  constructor(public error: i32, public addrs: Array<u32>, public canonical: string, public expires: i64) {}
}

enum QueryState { WaitAddress, Sent, Done }

class DnsQuery extends UdpHandler {
  state: QueryState = QueryState.WaitAddress;
  waiters: Array<DnsHandler> = [];
  /** The name each waiter asked for, as it spelled it. */
  asked_: Array<string> = [];
  /** The name currently asked (the original, or a CNAME target after a restart). */
  current: string;
  chainTtl: u32 = 0xffffffff;
  restarts: i32 = 0;
  id: u32 = 0;
  sock: UdpSocket | null = null;
  /** Tries so far; try i goes to servers[i % n] with timeout base << (i / n). */
  tries: i32 = 0;
  /** Servers that answered with a hard failure (bit i: servers[i]); skipped from then on. */
  failed: u32 = 0;
  /** Servers asked so far (bit i): only they may answer. */
  asked: u32 = 0;
  servers: Array<u32> = [];
  deadline: i64 = 0;
  started: i64 = 0;
  lastError: i32 = DNS_ERR_TIMEOUT;
  lastDetail: string = "";
  // The outcome, once Done.
  error: i32 = DNS_OK;
  addrs: Array<u32> = [];
  ttl: u32 = 0;
  cached: bool = false;
  detail: string = "";

  constructor(public resolver: DnsResolver, public name: string) {
    super();
    this.current = name;
  }

  received(s: UdpSocket, srcAddr: u32, srcPort: u32, payload: usize, len: i32, dstAddr: u32): void {
    this.resolver.answer(this, srcAddr, srcPort, payload, len);
  }
}

export class DnsResolver {
  options: DnsOptions;
  /** Servers to ask; empty: the interface's (DHCP option 6 or dns=). */
  servers: Array<u32> = [];
  wakeup: DnsWakeup | null = null;
  private cache: Map<string, CacheEntry> = new Map();
  private pending: Array<DnsQuery> = [];
  private ready: Array<DnsQuery> = [];
  private scratch: StaticArray<u8> = new StaticArray<u8>(DNS_UDP_MAX);
  // Statistics.
  queriesSent: u64 = 0;
  cacheHits: u64 = 0;
  spoofed: u64 = 0;

  constructor(public iface: Interface, public udp: UdpLayer, public entropy: EntropySource,
              options: DnsOptions | null = null) {
    this.options = options != null ? options : new DnsOptions();
  }

  get inFlight(): i32 { return this.pending.length; }
  get cacheCount(): i32 { return this.cache.size; }

  /** Looks name up; handler.resolved runs from a later poll. An IPv4
   *  literal ("10.0.2.2") resolves to itself without a query. */
  resolve(name: string, handler: DnsHandler, now: i64): void {
    const norm = normalizeName(name);
    const lit = new StaticArray<bool>(1);
    const a = parseIp(name, lit);
    if (lit[0]) {
      this.finishNow(name, handler, DNS_OK, [a], name, false, "");
      return;
    }
    if (norm == null) {
      this.finishNow(name, handler, DNS_ERR_BAD_NAME, [], name, false, "");
      return;
    }
    const n = norm!;
    // The cache (expired entries are dropped on the way).
    if (this.cache.has(n)) {
      const e = this.cache.get(n);
      if (e.expires > now) {
        this.cacheHits++;
        const left = <u32>((e.expires - now + 999_999_999) / 1_000_000_000);   // seconds left, rounded up
        this.finishNow(name, handler, e.error, e.addrs, e.canonical, true, "", e.error == DNS_OK ? left : 0);
        return;
      }
      this.cache.delete(n);
    }
    // Coalesce with a lookup of the same name in flight.
    for (let i = 0; i < this.pending.length; i++) {
      const q = unchecked(this.pending[i]);
      if (q.name == n) { q.waiters.push(handler); q.asked_.push(name); return; }
    }
    if (this.pending.length >= this.options.maxPending) {
      this.finishNow(name, handler, DNS_ERR_BUSY, [], name, false, "");
      return;
    }
    const q = new DnsQuery(this, n);
    q.waiters.push(handler);
    q.asked_.push(name);
    q.started = now;
    this.pending.push(q);
    this.start(q, now);
    this.wake(q.deadline);
  }

  /** Forgets every cached answer. */
  flushCache(): void { this.cache.clear(); }

  /** Retransmits, times out, delivers finished lookups; returns the next
   *  deadline (i64.MAX_VALUE: nothing pending). */
  poll(now: i64): i64 {
    for (let i = 0; i < this.pending.length; i++) {
      const q = unchecked(this.pending[i]);
      if (q.state != QueryState.Done && q.deadline <= now) this.expire(q, now);
    }
    // Move finished queries out before calling anyone: a handler may resolve again.
    if (this.ready.length > 0) {
      const done = this.ready;
      this.ready = [];
      for (let i = 0; i < done.length; i++) {
        const q = unchecked(done[i]);
        for (let k = 0; k < q.waiters.length; k++) {
          const r = makeResult(unchecked(q.asked_[k]), q.error, q.addrs, q.ttl, q.current, q.cached, q.detail);
          unchecked(q.waiters[k]).resolved(r);
        }
      }
    }
    let next = i64.MAX_VALUE;
    for (let i = 0; i < this.pending.length; i++) {
      const q = unchecked(this.pending[i]);
      if (q.deadline < next) next = q.deadline;
    }
    if (this.ready.length > 0) next = now;
    return next;
  }

  // ------------------------------------------------------------ internals

  private wake(at: i64): void {
    const w = this.wakeup;
    if (w != null) w.wakeAt(at);
  }

  private finishNow(name: string, h: DnsHandler, err: i32, addrs: Array<u32>, canonical: string, cached: bool, from: string, ttl: u32 = 0): void {
    const q = new DnsQuery(this, name);
    q.waiters.push(h);
    q.asked_.push(name);
    q.state = QueryState.Done;
    q.error = err; q.addrs = addrs; q.current = canonical; q.cached = cached; q.detail = from; q.ttl = ttl;
    this.ready.push(q);
    this.wake(0);
  }

  private serverList(): Array<u32> {
    return this.servers.length > 0 ? this.servers : this.iface.dns;
  }

  /** Sends the first try, or waits for an address. */
  private start(q: DnsQuery, now: i64): void {
    if (this.iface.addr == 0) {
      q.state = QueryState.WaitAddress;
      if (now - q.started >= this.options.addressWaitNs) {
        this.complete(q, DNS_ERR_NETWORK, [], 0, "(the interface has no address: DHCP did not finish)");
        return;
      }
      q.deadline = now + ADDRESS_POLL_NS;
      return;
    }
    const servers = this.serverList();
    if (servers.length == 0) {                  // DHCP gave no option 6 and there is no dns=
      this.complete(q, DNS_ERR_NO_SERVER, [], 0, "");
      return;
    }
    q.servers = servers.slice(0, servers.length < 32 ? servers.length : 32);
    if (q.sock == null) {
      const s = this.udp.bind(0, q);
      if (s == null) { this.complete(q, DNS_ERR_NETWORK, [], 0, "(no free UDP port)"); return; }
      q.sock = s;
    }
    q.id = this.entropy.next32() & 0xffff;
    q.tries = 0;
    q.failed = 0;
    q.asked = 0;
    this.send(q, now);
  }

  /** Sends try q.tries to the next server that has not failed hard. */
  private send(q: DnsQuery, now: i64): void {
    const n = q.servers.length;
    const total = n * this.options.attempts;
    while (q.tries < total) {
      const idx = q.tries % n;
      if ((q.failed & (1 << idx)) == 0) break;
      q.tries++;
    }
    if (q.tries >= total) {
      this.complete(q, q.lastError, [], 0, q.lastDetail);
      return;
    }
    const idx = q.tries % n;
    const server = unchecked(q.servers[idx]);
    const buf = changetype<usize>(this.scratch);
    const len = encodeDnsQuery(buf, DNS_UDP_MAX, q.id, q.current, DNS_TYPE_A);
    if (len < 0) { this.complete(q, DNS_ERR_BAD_NAME, [], 0, ""); return; }
    q.asked |= 1 << idx;
    q.sock!.sendTo(server, DNS_PORT, buf, len);       // a lost send is a lost packet: the timeout retries
    this.queriesSent++;
    q.state = QueryState.Sent;
    const round = q.tries / n;
    q.deadline = now + (this.options.timeoutNs << round);
    q.tries++;
  }

  private expire(q: DnsQuery, now: i64): void {
    if (q.state == QueryState.WaitAddress) { this.start(q, now); return; }
    if (q.lastError == DNS_ERR_TIMEOUT) q.lastDetail = "(no answer from " + serversText(q.servers) + " after " + q.tries.toString() + " tries)";
    this.send(q, now);
  }

  /** A datagram on the query's port. */
  answer(q: DnsQuery, src: u32, srcPort: u32, ptr: usize, len: i32): void {
    if (q.state != QueryState.Sent) return;
    let idx = -1;
    for (let i = 0; i < q.servers.length; i++) if (unchecked(q.servers[i]) == src && (q.asked & (1 << i)) != 0) { idx = i; break; }
    // RFC 5452 §9.1: the answer must come from where we asked, with our ID.
    if (idx < 0 || srcPort != DNS_PORT || len < 2 || (<u32>load<u8>(ptr) << 8 | load<u8>(ptr + 1)) != q.id) {
      this.spoofed++;
      return;
    }
    const now = this.iface.now;
    const from = ipToString(src);
    const r = parseDnsResponse(ptr, len);
    if (r == null) { this.hardFail(q, idx, DNS_ERR_MALFORMED, "from " + from + ": " + dnsParseError, now); return; }
    if (r.qname != q.current || r.qtype != DNS_TYPE_A || r.qclass != DNS_CLASS_IN) {
      this.hardFail(q, idx, DNS_ERR_MALFORMED, "from " + from + ": for another question (" + r.qname + ")", now);
      return;
    }
    if (r.rcode == DNS_RCODE_NXDOMAIN) {
      const neg = min32u(r.negativeTtl, this.options.maxNegativeTtl);
      this.complete(q, DNS_ERR_NXDOMAIN, [], neg, "from " + from);
      return;
    }
    if (r.rcode == DNS_RCODE_SERVFAIL || r.rcode == DNS_RCODE_REFUSED) {
      this.hardFail(q, idx, DNS_ERR_SERVFAIL, "(" + rcodeName(r.rcode) + " from " + from + ")", now);
      return;
    }
    if (r.rcode != DNS_RCODE_NOERROR) {
      this.hardFail(q, idx, DNS_ERR_MALFORMED, "from " + from + ": response code " + rcodeName(r.rcode), now);
      return;
    }
    this.follow(q, r, from, now);
  }

  /** Walks the answer's CNAME chain from the current name to its A records. */
  private follow(q: DnsQuery, r: DnsResponse, from: string, now: i64): void {
    let cur = q.current;
    let ttl = q.chainTtl;
    let hops = 0;
    for (; hops <= MAX_CHAIN; hops++) {
      const addrs = new Array<u32>();
      let cname: string | null = null;
      for (let i = 0; i < r.answers.length; i++) {
        const rec = unchecked(r.answers[i]);
        if (rec.name != cur) continue;
        if (rec.rtype == DNS_TYPE_A) { addrs.push(rec.addr); if (rec.ttl < ttl) ttl = rec.ttl; }
        else if (rec.rtype == DNS_TYPE_CNAME && cname == null) { cname = rec.target; if (rec.ttl < ttl) ttl = rec.ttl; }
      }
      if (addrs.length > 0) {
        q.current = cur;
        this.complete(q, DNS_OK, addrs, ttl, "from " + from);
        return;
      }
      if (cname == null) break;
      cur = cname!;
    }
    if (hops > MAX_CHAIN) { this.complete(q, DNS_ERR_CNAME_CHAIN, [], 0, "at " + cur + " (from " + from + ")"); return; }
    if (cur == q.current) {
      if (r.truncated) { this.hardFail(q, -1, DNS_ERR_MALFORMED, "from " + from + ": truncated (TC) and DNS over TCP is not supported", now); return; }
      const neg = min32u(r.negativeTtl, this.options.maxNegativeTtl);
      this.complete(q, DNS_ERR_NO_DATA, [], neg, "from " + from);
      return;
    }
    // The chain leaves this answer: ask for its end (RFC 1034 §5.3.3).
    if (++q.restarts > MAX_RESTARTS || cur == q.name) {
      this.complete(q, DNS_ERR_CNAME_CHAIN, [], 0, "at " + cur);
      return;
    }
    q.current = cur;
    q.chainTtl = ttl;
    q.lastError = DNS_ERR_TIMEOUT;
    q.id = this.entropy.next32() & 0xffff;
    q.tries = 0; q.failed = 0; q.asked = 0;
    this.send(q, now);
    this.wake(q.deadline);
  }

  /** This server will not help; try the next one at once, or give up. */
  private hardFail(q: DnsQuery, idx: i32, err: i32, detail: string, now: i64): void {
    q.lastError = err;
    q.lastDetail = detail;
    if (idx < 0) { this.complete(q, err, [], 0, detail); return; }
    q.failed |= 1 << idx;
    const n = q.servers.length;
    if (n >= 32 || q.failed == <u32>((1 << n) - 1)) { this.complete(q, err, [], 0, detail); return; }
    this.send(q, now);
    this.wake(q.deadline);
  }

  private complete(q: DnsQuery, err: i32, addrs: Array<u32>, ttl: u32, detail: string): void {
    q.state = QueryState.Done;
    q.deadline = i64.MAX_VALUE;
    const s = q.sock;
    if (s != null) { s.close(); q.sock = null; }
    const i = this.pending.indexOf(q);
    if (i >= 0) this.pending.splice(i, 1);
    if (err == DNS_OK && ttl > this.options.maxTtl) ttl = this.options.maxTtl;
    q.error = err; q.addrs = addrs; q.ttl = err == DNS_OK ? ttl : 0; q.detail = detail;
    if ((err == DNS_OK || err == DNS_ERR_NXDOMAIN || err == DNS_ERR_NO_DATA) && ttl > 0) this.remember(q.name, err, addrs, q.current, ttl);
    this.ready.push(q);
    this.wake(0);
  }

  private remember(name: string, err: i32, addrs: Array<u32>, canonical: string, ttl: u32): void {
    const cap = this.options.cacheSize;
    if (cap <= 0) return;
    const now = this.iface.now;
    if (!this.cache.has(name) && this.cache.size >= cap) {
      // Evict the entry that expires first (expired ones first of all).
      const keys = this.cache.keys();
      let victim = "";
      let soonest = i64.MAX_VALUE;
      for (let i = 0; i < keys.length; i++) {
        const e = this.cache.get(unchecked(keys[i]));
        if (e.expires < soonest) { soonest = e.expires; victim = unchecked(keys[i]); }
      }
      this.cache.delete(victim);
    }
    this.cache.set(name, new CacheEntry(err, addrs, canonical, now + <i64>ttl * 1_000_000_000));
  }
}

function makeResult(name: string, err: i32, addrs: Array<u32>, ttl: u32, canonical: string, cached: bool, detail: string): DnsResult {
  const r = new DnsResult();
  r.name = name;
  r.error = err;
  r.addrs = addrs.slice(0);
  r.ttl = ttl;
  r.canonical = canonical;
  r.cached = cached;
  let m = name + ": ";
  if (err == DNS_OK) {
    for (let i = 0; i < addrs.length; i++) m += (i > 0 ? " " : "") + ipToString(unchecked(addrs[i]));
    const n = normalizeName(name);
    if (n != null && canonical != n) m += " (via " + canonical + ")";
  } else m += dnsErrorName(err);
  if (cached) m += " (cached)";
  if (detail.length > 0) m += " " + detail;
  r.message = m;
  return r;
}

function serversText(a: Array<u32>): string {
  let s = "";
  for (let i = 0; i < a.length; i++) s += (i > 0 ? ", " : "") + ipToString(unchecked(a[i]));
  return s;
}

// @ts-ignore: decorator
@inline
function min32u(a: u32, b: u32): u32 { return a < b ? a : b; }
