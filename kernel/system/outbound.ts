// kernel/system/outbound.ts — calling other services from an app: the default DNS
// resolver and HTTP client on the default network (network.ts), and
// tcpConnect by host name. Like the network itself, all of it starts on first
// use, so an app that never calls out links none of it. The resolver itself
// (kernel/lib/net/dns) reads no clock; here one sched timer per resolver wakes it
// at its next deadline (a retransmission, a timeout, or "now" when a result
// is ready). That timer is not a daemon: a lookup keeps the guest running.
import { nowNs, TimerHandler, Timer, at, rearm } from "../core/sched";
import { netStack } from "./network";
import { NetStack, AddressHandler, TcpHandler, TcpSocket, DnsResolver, DnsHandler, DnsResult, DnsWakeup, DnsOptions, DNS_ERR_NETWORK } from "../lib/net";
import { HttpClient, HttpClientHandler, HttpClientRequest, HttpClientResponse, HTTP_ERR_NETWORK } from "../lib/http";

class ResolverTimer extends TimerHandler {
  timer: Timer | null = null;
  constructor(public wakeup: LoopWakeup) { super(); }
  fire(now: u64): void {
    const w = this.wakeup;
    w.armedAt = i64.MAX_VALUE;
    const next = w.resolver!.poll(<i64>now);
    if (next != i64.MAX_VALUE) w.wakeAt(next);
  }
}

class LoopWakeup extends DnsWakeup {
  resolver: DnsResolver | null = null;
  armedAt: i64 = i64.MAX_VALUE;
  handler: ResolverTimer | null = null;

  wakeAt(deadlineNs: i64): void {
    if (deadlineNs >= this.armedAt) return;        // already due sooner
    this.armedAt = deadlineNs;
    const dl: u64 = deadlineNs < 0 ? 0 : <u64>deadlineNs;
    let h = this.handler;
    if (h == null) { h = new ResolverTimer(this); this.handler = h; }
    let t = h.timer;
    if (t == null) { h.timer = at(dl, h); return; }
    const now = nowNs();
    rearm(t, dl > now ? dl - now : 0);
  }
}

/** A resolver on stack driven by the event loop. servers empty: the
 *  interface's (DHCP option 6, or dns= on the command line). */
export function newLoopResolver(stack: NetStack, servers: Array<u32> = [], options: DnsOptions | null = null): DnsResolver {
  const r = new DnsResolver(stack.iface, stack.udp, stack.entropy, options);
  r.servers = servers;
  const w = new LoopWakeup();
  w.resolver = r;
  r.wakeup = w;
  return r;
}

// @ts-ignore: decorator
@lazy
let resolverInstance: DnsResolver | null = null;
// @ts-ignore: decorator
@lazy
let clientInstance: HttpClient | null = null;

/** The default stack's resolver (servers from DHCP option 6 or dns=); null without a network. */
export function dnsResolver(): DnsResolver | null {
  if (resolverInstance != null) return resolverInstance;
  const s = netStack();
  if (s == null) return null;
  resolverInstance = newLoopResolver(s);
  return resolverInstance;
}

/** A resolver that asks these servers instead of the configured ones. */
export function dnsResolverFor(servers: Array<u32>): DnsResolver | null {
  const s = netStack();
  return s == null ? null : newLoopResolver(s, servers);
}

/** Looks up a host name's IPv4 addresses; handler.resolved runs from the event loop.
 *  Without a network it gets DNS_ERR_NETWORK at once. */
export function resolveHost(name: string, handler: DnsHandler): void {
  const r = dnsResolver();
  if (r == null) {
    const res = new DnsResult();
    res.name = name; res.error = DNS_ERR_NETWORK; res.message = name + ": no network device";
    handler.resolved(res);
    return;
  }
  r.resolve(name, handler, <i64>nowNs());
}

/** The default HTTP client (keep-alive pool, default resolver); null without a network. */
export function httpClient(): HttpClient | null {
  if (clientInstance != null) return clientInstance;
  const s = netStack();
  const r = dnsResolver();
  if (s == null || r == null) return null;
  clientInstance = new HttpClient(s, r);
  return clientInstance;
}

function noNetwork(req: HttpClientRequest, handler: HttpClientHandler): void {
  const r = new HttpClientResponse();
  r.error = HTTP_ERR_NETWORK;
  r.method = req.method; r.url = req.url;
  r.message = req.method + " " + req.url + ": no network device";
  handler.response(r);
}

/** Sends a request on the default client. */
export function httpRequest(req: HttpClientRequest, handler: HttpClientHandler): void {
  const c = httpClient();
  if (c == null) { noNetwork(req, handler); return; }
  c.request(req, handler);
}
export function httpGet(url: string, handler: HttpClientHandler): void { httpRequest(new HttpClientRequest("GET", url), handler); }
export function httpDelete(url: string, handler: HttpClientHandler): void { httpRequest(new HttpClientRequest("DELETE", url), handler); }
export function httpPost(url: string, body: string, contentType: string, handler: HttpClientHandler): void {
  httpRequest(new HttpClientRequest("POST", url).header("Content-Type", contentType).bodyText(body), handler);
}
export function httpPut(url: string, body: string, contentType: string, handler: HttpClientHandler): void {
  httpRequest(new HttpClientRequest("PUT", url).header("Content-Type", contentType).bodyText(body), handler);
}

// ---------------------------------------------------------------- tcpConnect by name

/** A TcpHandler that also hears when the name could not be resolved or the
 *  connection could not be opened (no socket exists yet to report it on). */
export abstract class TcpHostHandler extends TcpHandler {
  abstract failed(host: string, message: string): void;
}

class HostConnect extends DnsHandler {
  constructor(public stack: NetStack, public host: string, public port: u32, public handler: TcpHostHandler) { super(); }
  resolved(r: DnsResult): void {
    if (!r.ok) { this.handler.failed(this.host, r.message); return; }
    const s = this.stack.tcp.connect(r.addr, this.port, this.handler);
    if (s == null) this.handler.failed(this.host, "cannot open a connection to " + r.message + " (no route, port or memory)");
  }
}

class HostWhenAddressed extends AddressHandler {
  constructor(public c: HostConnect) { super(); }
  addressed(stack: NetStack): void {
    const r = dnsResolver();
    if (r != null) r.resolve(this.c.host, this.c, <i64>nowNs());
  }
}

/** Resolves host (a name or an IPv4 literal), then connects to it like
 *  tcpConnect: handler.connected / readable / writable / closed as usual,
 *  or handler.failed(host, why) when no connection could be started. */
export function tcpConnectHost(host: string, port: u32, handler: TcpHostHandler): void {
  const s = netStack();
  if (s == null) { handler.failed(host, "no network device"); return; }
  // Before DHCP has finished there is no address to connect from: wait for it.
  s.whenAddressed(new HostWhenAddressed(new HostConnect(s, host, port, handler)));
}
