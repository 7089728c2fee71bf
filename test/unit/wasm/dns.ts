// test/unit/wasm/dns.ts — drives kernel/lib/net/dns from Node: query encoding,
// response parsing (known answers, fuzzing), and a resolver on a whole stack
// whose frames Node reads and answers (a scripted DNS server with a fake clock).
import { NetDevice, FrameSink } from "../../../kernel/lib/net/device";
import { NetStack } from "../../../kernel/lib/net/stack";
import { NetConfig } from "../../../kernel/lib/net/config";
import { SeededEntropy } from "../../../kernel/lib/net/entropy";
import { ipToString } from "../../../kernel/lib/net/wire";
import {
  encodeDnsQuery, parseDnsResponse, normalizeName, dnsParseError, DnsResolver, DnsHandler, DnsResult, DnsOptions,
} from "../../../kernel/lib/net/dns";
export { abortHandler } from "../../../kernel/core/panic";

const out = new StaticArray<u8>(600);
export function outPtr(): usize { return changetype<usize>(out); }

/** Encodes a query into outPtr(); returns its length or -1. */
export function encodeQuery(id: u32, name: string, qtype: u32, cap: i32): i32 {
  return encodeDnsQuery(changetype<usize>(out), cap, id, name, qtype);
}

export function normalize(name: string): string {
  const n = normalizeName(name);
  return n == null ? "<null>" : n!;
}

/** Parses a response and describes it as JSON (or {"error": why}). */
export function parse(ptr: usize, len: i32): string {
  const r = parseDnsResponse(ptr, len);
  if (r == null) return "{\"error\":\"" + dnsParseError + "\"}";
  let s = "{\"id\":" + r.id.toString() + ",\"rcode\":" + r.rcode.toString() + ",\"tc\":" + (r.truncated ? "true" : "false") +
    ",\"qname\":\"" + r.qname + "\",\"qtype\":" + r.qtype.toString() + ",\"qclass\":" + r.qclass.toString() +
    ",\"negativeTtl\":" + r.negativeTtl.toString() + ",\"answers\":[";
  for (let i = 0; i < r.answers.length; i++) {
    const a = r.answers[i];
    if (i > 0) s += ",";
    s += "{\"name\":\"" + a.name + "\",\"type\":" + a.rtype.toString() + ",\"ttl\":" + a.ttl.toString() +
      (a.rtype == 1 ? ",\"addr\":\"" + ipToString(a.addr) + "\"" : ",\"target\":\"" + a.target + "\"") + "}";
  }
  return s + "]}";
}

/** Parses without describing: 1 parsed, 0 refused (for fuzzing). */
export function parseOnly(ptr: usize, len: i32): i32 { return parseDnsResponse(ptr, len) == null ? 0 : 1; }

// ------------------------------------------------------------ a resolver on a stack

class Frame { constructor(public data: StaticArray<u8>) {} }

class TestDevice extends NetDevice {
  rxq: Array<Frame> = [];
  txq: Array<Frame> = [];
  macBytes: StaticArray<u8> = new StaticArray<u8>(6);
  mac(): StaticArray<u8> { return this.macBytes; }
  mtu(): i32 { return 1500; }
  linkUp(): bool { return true; }
  txChecksumOffload(): bool { return false; }
  rxChecksumOffload(): bool { return false; }
  transmit(frame: usize, len: i32, csumStart: i32, csumOffset: i32): bool {
    const d = new StaticArray<u8>(len);
    memory.copy(changetype<usize>(d), frame, <usize>len);
    this.txq.push(new Frame(d));
    return true;
  }
  poll(sink: FrameSink, budget: i32): i32 {
    let n = 0;
    while (n < budget && this.rxq.length > 0) {
      const f = this.rxq.shift();
      sink.receive(changetype<usize>(f.data), f.data.length, 0);
      n++;
    }
    return n;
  }
}

let dev: TestDevice = new TestDevice();
let stack: NetStack | null = null;
let resolver: DnsResolver | null = null;
let results: string = "";

class Recorder extends DnsHandler {
  resolved(r: DnsResult): void {
    let a = "";
    for (let i = 0; i < r.addrs.length; i++) a += (i > 0 ? "," : "") + ipToString(r.addrs[i]);
    results += r.name + "|" + r.error.toString() + "|" + a + "|" + r.ttl.toString() + "|" + r.canonical + "|" +
      (r.cached ? "cached" : "fresh") + "|" + r.message + "\n";
  }
}
const recorder = new Recorder();

/** A stack at ip/24 (MAC 02:00:00:00:00:02) with a resolver asking servers (up to 2; 0 = none). */
export function setup(ip: u32, s1: u32, s2: u32, attempts: i32, cacheSize: i32, timeoutMs: i32): void {
  dev = new TestDevice();
  dev.macBytes[0] = 2; dev.macBytes[5] = 2;
  const c = new NetConfig();
  c.dhcp = false; c.addr = ip; c.prefixLen = 24;
  const s = new NetStack(dev, new SeededEntropy(7), c);
  s.start(0);
  stack = s;
  const o = new DnsOptions();
  o.attempts = attempts;
  o.cacheSize = cacheSize;
  o.timeoutNs = <i64>timeoutMs * 1_000_000;
  const r = new DnsResolver(s.iface, s.udp, s.entropy, o);
  const servers = new Array<u32>();
  if (s1 != 0) servers.push(s1);
  if (s2 != 0) servers.push(s2);
  r.servers = servers;
  resolver = r;
  results = "";
}
/** A stack with ip 0 (no address yet) or ip/24, dns= as the configuration gives it; the resolver uses the interface's servers. */
export function setupDefault(ip: u32, dns: u32): void {
  dev = new TestDevice();
  dev.macBytes[0] = 2; dev.macBytes[5] = 2;
  const c = new NetConfig();
  c.dhcp = false; c.addr = ip; c.prefixLen = 24; c.dns = dns;
  const s = new NetStack(dev, new SeededEntropy(7), c);
  s.start(0);
  stack = s;
  resolver = new DnsResolver(s.iface, s.udp, s.entropy);
  results = "";
}
export function setAddress(ip: u32, dns: u32): void {
  stack!.iface.setIpv4(ip, 24, 0);
  stack!.iface.dns = [dns];
}
export function resolve(name: string, now: i64): void { resolver!.resolve(name, recorder, now); }
/** Polls the stack then the resolver; returns the resolver's next deadline. */
export function pollAll(now: i64): i64 { stack!.poll(now); return resolver!.poll(now); }
export function takeResults(): string { const r = results; results = ""; return r; }
export function inject(ptr: usize, len: i32): void {
  const d = new StaticArray<u8>(len);
  memory.copy(changetype<usize>(d), ptr, <usize>len);
  dev.rxq.push(new Frame(d));
}
export function txCount(): i32 { return dev.txq.length; }
export function txPtr(): usize { return changetype<usize>(dev.txq[0].data); }
export function txLen(): i32 { return dev.txq[0].data.length; }
export function txPop(): void { dev.txq.shift(); }
export function cacheCount(): i32 { return resolver!.cacheCount; }
export function inFlight(): i32 { return resolver!.inFlight; }
export function spoofed(): u64 { return resolver!.spoofed; }
export function udpSockets(): i32 { return stack!.udp.sockets.size; }
