// kernel/lib/net/dns/message.ts — DNS messages (RFC 1035 §4): the query a stub
// resolver sends (one question, class IN, recursion desired) and a checked
// parse of the answer. Layer: wire. Every read is preceded by one bounds
// check against the message length, and name decompression only follows
// pointers that point strictly backwards (RFC 1035 §4.1.4 pointers refer to a
// "prior occurrence"), so a pointer loop cannot run forever: each jump lowers
// the position, and a hop limit bounds it again.
import { get16, get32, set16 } from "../wire/bytes";

export const DNS_PORT: u32 = 53;
export const DNS_HEADER_LEN: i32 = 12;
/** RFC 1035 §2.3.4: a UDP message is at most 512 bytes (no EDNS here). */
export const DNS_UDP_MAX: i32 = 512;
export const DNS_MAX_NAME: i32 = 253;       // text form, without the trailing dot
export const DNS_MAX_LABEL: i32 = 63;

export const DNS_TYPE_A: u32 = 1;
export const DNS_TYPE_CNAME: u32 = 5;
export const DNS_CLASS_IN: u32 = 1;

// Header flags (RFC 1035 §4.1.1).
export const DNS_FLAG_QR: u32 = 0x8000;
export const DNS_FLAG_TC: u32 = 0x0200;
export const DNS_FLAG_RD: u32 = 0x0100;

export const DNS_RCODE_NOERROR: u32 = 0;
export const DNS_RCODE_FORMERR: u32 = 1;
export const DNS_RCODE_SERVFAIL: u32 = 2;
export const DNS_RCODE_NXDOMAIN: u32 = 3;
export const DNS_RCODE_NOTIMP: u32 = 4;
export const DNS_RCODE_REFUSED: u32 = 5;

/** Most records kept from one answer section; the rest are ignored. */
export const DNS_MAX_RECORDS: i32 = 64;
const MAX_POINTER_HOPS: i32 = 32;

/** Why parseDnsResponse returned null (for error messages and tests). */
export let dnsParseError: string = "";

/** Checks a host name for a query: 1..253 characters, labels of 1..63
 *  letters, digits, '-' or '_' (the last for service names); one trailing dot
 *  allowed. Returns the name in lower case without the dot, or null. */
export function normalizeName(name: string): string | null {
  let n = name;
  if (n.length > 0 && n.charCodeAt(n.length - 1) == 46) n = n.substring(0, n.length - 1);
  if (n.length == 0 || n.length > DNS_MAX_NAME) return null;
  let label = 0;
  let out = "";
  for (let i = 0; i < n.length; i++) {
    let c = n.charCodeAt(i);
    if (c == 46) {
      if (label == 0) return null;
      label = 0;
    } else {
      if (c >= 65 && c <= 90) c += 32;
      const ok = (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == 45 || c == 95;
      if (!ok) return null;
      if (++label > DNS_MAX_LABEL) return null;
    }
    out += String.fromCharCode(c);
  }
  return label == 0 ? null : out;
}

/** Writes a standard query for (name, type, IN) with RD set at out; returns
 *  its length, or -1 when the name is not valid or cap is too small. */
export function encodeDnsQuery(out: usize, cap: i32, id: u32, name: string, qtype: u32): i32 {
  const n = normalizeName(name);
  if (n == null) return -1;
  const need = DNS_HEADER_LEN + n.length + 2 + 4;
  if (need > cap) return -1;
  set16(out, id);
  set16(out + 2, DNS_FLAG_RD);
  set16(out + 4, 1);                      // QDCOUNT
  set16(out + 6, 0);                      // ANCOUNT
  set16(out + 8, 0);                      // NSCOUNT
  set16(out + 10, 0);                     // ARCOUNT
  let p = out + DNS_HEADER_LEN;
  let start = 0;
  for (let i = 0; i <= n.length; i++) {
    if (i == n.length || n.charCodeAt(i) == 46) {
      store<u8>(p++, <u8>(i - start));
      for (let k = start; k < i; k++) store<u8>(p++, <u8>n.charCodeAt(k));
      start = i + 1;
    }
  }
  store<u8>(p++, 0);
  set16(p, qtype); set16(p + 2, DNS_CLASS_IN);
  return need;
}

/** One resource record from the answer section (A or CNAME; others skipped). */
export class DnsRecord {
  name: string = "";
  rtype: u32 = 0;
  ttl: u32 = 0;
  /** A: the address. */
  addr: u32 = 0;
  /** CNAME: the canonical name (lower case). */
  target: string = "";
}

export class DnsResponse {
  id: u32 = 0;
  flags: u32 = 0;
  rcode: u32 = 0;
  truncated: bool = false;
  qname: string = "";
  qtype: u32 = 0;
  qclass: u32 = 0;
  answers: Array<DnsRecord> = [];
  /** The SOA minimum from the authority section (negative caching, RFC 2308), or 0. */
  negativeTtl: u32 = 0;
}

/** Reads a (possibly compressed) name at off. Returns the offset just after
 *  the name in the message (after its first pointer, if any), or -1; the name
 *  itself is left in nameOut[0]. */
function readName(msg: usize, len: i32, off: i32, nameOut: Array<string>): i32 {
  let p = off;
  let end = -1;                 // where parsing resumes after the first pointer
  let hops = 0;
  let textLen = 0;
  let name = "";
  let lowest = off;             // pointers must go below every position seen so far
  while (true) {
    if (p >= len) { dnsParseError = "name runs past the end"; return -1; }
    const b = <i32>load<u8>(msg + <usize>p);
    if (b == 0) { p++; break; }
    const kind = b & 0xc0;
    if (kind == 0xc0) {
      if (p + 1 >= len) { dnsParseError = "truncated compression pointer"; return -1; }
      const target = ((b & 0x3f) << 8) | <i32>load<u8>(msg + <usize>(p + 1));
      if (end < 0) end = p + 2;
      if (target >= lowest) { dnsParseError = "compression pointer does not point backwards"; return -1; }
      if (++hops > MAX_POINTER_HOPS) { dnsParseError = "too many compression pointers"; return -1; }
      lowest = target;
      p = target;
      continue;
    }
    if (kind != 0) { dnsParseError = "unknown label type"; return -1; }
    if (p + 1 + b > len) { dnsParseError = "label runs past the end"; return -1; }
    textLen += b + (textLen > 0 ? 1 : 0);
    if (textLen > 255) { dnsParseError = "name longer than 255 bytes"; return -1; }
    if (name.length > 0) name += ".";
    for (let i = 1; i <= b; i++) {
      let c = <i32>load<u8>(msg + <usize>(p + i));
      if (c >= 65 && c <= 90) c += 32;
      // Anything outside printable ASCII is kept visible but harmless.
      name += (c < 33 || c > 126 || c == 46) ? "?" : String.fromCharCode(c);
    }
    p += 1 + b;
  }
  nameOut[0] = name;
  return end >= 0 ? end : p;
}

/** Parses a response (header, question, answers; the SOA minimum from the
 *  authority section). Returns null (reason in dnsParseError) when anything
 *  is out of bounds or inconsistent. Records other than A and CNAME in class
 *  IN are skipped; an A record must have 4 bytes of data. */
export function parseDnsResponse(msg: usize, len: i32): DnsResponse | null {
  dnsParseError = "";
  if (len < DNS_HEADER_LEN) { dnsParseError = "shorter than a header"; return null; }
  const r = new DnsResponse();
  r.id = get16(msg);
  r.flags = get16(msg + 2);
  r.rcode = r.flags & 0xf;
  r.truncated = (r.flags & DNS_FLAG_TC) != 0;
  if ((r.flags & DNS_FLAG_QR) == 0) { dnsParseError = "not a response"; return null; }
  const qd = <i32>get16(msg + 4);
  const an = <i32>get16(msg + 6);
  const ns = <i32>get16(msg + 8);
  if (qd > 1) { dnsParseError = "more than one question"; return null; }
  const tmp = new Array<string>(1);
  let p = DNS_HEADER_LEN;
  if (qd == 1) {
    p = readName(msg, len, p, tmp);
    if (p < 0) return null;
    if (p + 4 > len) { dnsParseError = "truncated question"; return null; }
    r.qname = tmp[0];
    r.qtype = get16(msg + <usize>p);
    r.qclass = get16(msg + <usize>(p + 2));
    p += 4;
  }
  for (let i = 0; i < an + ns; i++) {
    p = readName(msg, len, p, tmp);
    if (p < 0) return null;
    if (p + 10 > len) { dnsParseError = "truncated record header"; return null; }
    const rtype = get16(msg + <usize>p);
    const rclass = get16(msg + <usize>(p + 2));
    const ttl = get32(msg + <usize>(p + 4));
    const rdlen = <i32>get16(msg + <usize>(p + 8));
    p += 10;
    if (p + rdlen > len) { dnsParseError = "record data runs past the end"; return null; }
    // RFC 2181 §8: a TTL with the top bit set is treated as zero.
    const ttlOk: u32 = (ttl & 0x80000000) != 0 ? 0 : ttl;
    if (i < an && rclass == DNS_CLASS_IN && r.answers.length < DNS_MAX_RECORDS) {
      if (rtype == DNS_TYPE_A) {
        if (rdlen != 4) { dnsParseError = "A record with " + rdlen.toString() + " bytes of data"; return null; }
        const rec = new DnsRecord();
        rec.name = tmp[0]; rec.rtype = rtype; rec.ttl = ttlOk; rec.addr = get32(msg + <usize>p);
        r.answers.push(rec);
      } else if (rtype == DNS_TYPE_CNAME) {
        const owner = tmp[0];
        const q = readName(msg, len, p, tmp);
        if (q < 0) return null;
        if (q != p + rdlen) { dnsParseError = "CNAME data length does not match its name"; return null; }
        const rec = new DnsRecord();
        rec.name = owner; rec.rtype = rtype; rec.ttl = ttlOk; rec.target = tmp[0];
        r.answers.push(rec);
      }
    } else if (i >= an && rtype == 6 && rclass == DNS_CLASS_IN) {
      // SOA (RFC 1035 §3.3.13): MNAME, RNAME, then five 32-bit fields; MINIMUM is the last.
      if (rdlen >= 22) {
        const min = get32(msg + <usize>(p + rdlen - 4));
        r.negativeTtl = min < ttlOk ? min : ttlOk;   // RFC 2308 §5
      }
    }
    p += rdlen;
  }
  return r;
}

/** The human words for a response code. */
export function rcodeName(rc: u32): string {
  switch (rc) {
    case DNS_RCODE_NOERROR: return "NOERROR";
    case DNS_RCODE_FORMERR: return "FORMERR";
    case DNS_RCODE_SERVFAIL: return "SERVFAIL";
    case DNS_RCODE_NXDOMAIN: return "NXDOMAIN";
    case DNS_RCODE_NOTIMP: return "NOTIMP";
    case DNS_RCODE_REFUSED: return "REFUSED";
  }
  return "RCODE " + rc.toString();
}
