// kernel/api/metrics.ts — the Prometheus text exposition format (version
// 0.0.4): "# HELP" and "# TYPE" once per family, then its samples, label values
// escaped (\\, \", \n), counters ending in _total, histograms as cumulative
// _bucket{le=...} with _sum and _count. Plus the endpoint's own request
// metrics, collected as an HttpObserver.
import { HttpObserver, listeningServers, ByteBuf } from "../lib/http";

// @ts-ignore: decorator
@lazy
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Writes the exposition straight into bytes: no string per sample, no
 *  join at the end. A scrape comes often and the heap never shrinks; with
 *  an app holding most of it, a /metrics built from thousands of small
 *  strings joined into one large one grew the heap by up to 1.8 MB per
 *  scrape (TLSF found no free block for the large ones among the small). */
export class MetricsWriter {
  /** The text so far, UTF-8. Storage of 4 KiB and more is pool pages. */
  readonly out: ByteBuf;

  /** out: where to write (a response's body); a buffer of its own if null. */
  constructor(out: ByteBuf | null = null) {
    this.out = out !== null ? out : new ByteBuf(1024, 4096);
  }

  /** Starts a family; type is counter, gauge, histogram or untyped. */
  family(name: string, type: string, help: string): MetricsWriter {
    const o = this.out;
    o.appendLatin1("# HELP ");
    o.appendLatin1(name);
    o.appendByte(0x20);
    appendEscaped(o, help, false);
    o.appendLatin1("\n# TYPE ");
    o.appendLatin1(name);
    o.appendByte(0x20);
    o.appendLatin1(type);
    o.appendByte(0x0a);
    return this;
  }

  /** One sample. labels alternate name, value: ["iface", "eth0", ...]. */
  sample(name: string, labels: string[], value: f64): MetricsWriter {
    this.head(name, labels);
    if (value >= 0 && value < 9007199254740992.0 && value == Math.floor(value)) this.out.appendDecimal(<u64>value);
    else this.out.appendLatin1(formatValue(value));
    this.out.appendByte(0x0a);
    return this;
  }

  /** An integer sample, exact up to 2^64 (f64 would round above 2^53). */
  sampleU64(name: string, labels: string[], value: u64): MetricsWriter {
    this.head(name, labels);
    this.out.appendDecimal(value);
    this.out.appendByte(0x0a);
    return this;
  }

  /** The name, the labels and the space before the value. */
  private head(name: string, labels: string[]): void {
    const o = this.out;
    o.appendLatin1(name);
    if (labels.length >= 2) {
      o.appendByte(0x7b);                         // {
      for (let i = 0; i + 1 < labels.length; i += 2) {
        if (i > 0) o.appendByte(0x2c);            // ,
        o.appendLatin1(unchecked(labels[i]));
        o.appendLatin1("=\"");
        appendEscaped(o, unchecked(labels[i + 1]), true);
        o.appendByte(0x22);                       // "
      }
      o.appendByte(0x7d);                         // }
    }
    o.appendByte(0x20);
  }

  toString(): string { return this.out.toUtf8String(); }
}

/** Appends s as UTF-8 with \\ and newlines escaped, and " too in a label
 *  value. Plain ASCII, the usual case, is copied without a string made. */
function appendEscaped(o: ByteBuf, s: string, label: bool): void {
  const p = changetype<usize>(s);
  const n = s.length;
  let plain = true;
  for (let i = 0; i < n; i++) {
    const c = <u32>load<u16>(p + (<usize>i << 1));
    if (c >= 0x80 || c == 0x5c || c == 0x0a || (label && c == 0x22)) { plain = false; break; }
  }
  if (plain) { o.appendLatin1(s); return; }
  let t = s.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
  if (label) t = t.replaceAll("\"", "\\\"");
  o.appendUtf8(t);
}

/** Go's strconv-style float text, which Prometheus parses: NaN, +Inf, -Inf. */
export function formatValue(v: f64): string {
  if (isNaN(v)) return "NaN";
  if (!isFinite(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == Math.floor(v) && Math.abs(v) < 9007199254740992.0) return (<i64>v).toString();
  const t = v.toString();
  return t.endsWith(".0") ? t.substring(0, t.length - 2) : t;
}

/** Upper bounds of the latency histogram, seconds. */
// @ts-ignore: decorator
@lazy
export const LATENCY_BUCKETS: f64[] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];

class RequestCount {
  constructor(public method: string, public route: string, public status: i32) {}
  count: u64 = 0;
}

class RouteLatency {
  buckets: u64[] = new Array<u64>(LATENCY_BUCKETS.length);
  count: u64 = 0;
  sumNs: u64 = 0;
  constructor(public route: string) {
    for (let i = 0; i < this.buckets.length; i++) this.buckets[i] = 0;
  }
}

/** Request counts by method, route pattern and status, and latency per route.
 *  Labels come from the route table (never from raw paths), so their number
 *  is bounded; unknown methods are folded into "other". */
export class RequestMetrics extends HttpObserver {
  counts: RequestCount[] = [];
  latencies: RouteLatency[] = [];
  requestBytes: u64 = 0;
  responseBytes: u64 = 0;
  /** Series beyond this are folded into one per status (a guard, not expected). */
  maxSeries: i32 = 512;

  completed(method: string, route: string, status: i32, durationNs: u64, reqBytes: i32, resBytes: i32): void {
    const m = knownMethod(method) ? method : "other";
    const r = route.length == 0 ? "unmatched" : route;
    this.requestBytes += <u64>reqBytes;
    this.responseBytes += <u64>resBytes;
    let found: RequestCount | null = null;
    for (let i = 0; i < this.counts.length; i++) {
      const x = unchecked(this.counts[i]);
      if (x.status == status && x.route == r && x.method == m) { found = x; break; }
    }
    if (found === null) {
      const c = this.counts.length < this.maxSeries ? new RequestCount(m, r, status) : this.overflow(status);
      if (!this.counts.includes(c)) this.counts.push(c);
      found = c;
    }
    found.count++;
    let l: RouteLatency | null = null;
    for (let i = 0; i < this.latencies.length; i++) if (unchecked(this.latencies[i]).route == r) { l = unchecked(this.latencies[i]); break; }
    if (l === null) { l = new RouteLatency(r); this.latencies.push(l); }
    l.count++;
    l.sumNs += durationNs;
    const secs = <f64>durationNs / 1e9;
    for (let i = 0; i < LATENCY_BUCKETS.length; i++) if (secs <= unchecked(LATENCY_BUCKETS[i])) l.buckets[i]++;
  }

  private overflow(status: i32): RequestCount {
    for (let i = 0; i < this.counts.length; i++) {
      const x = unchecked(this.counts[i]);
      if (x.route == "overflow" && x.status == status) return x;
    }
    return new RequestCount("other", "overflow", status);
  }

  total(): u64 {
    let t: u64 = 0;
    for (let i = 0; i < this.counts.length; i++) t += unchecked(this.counts[i]).count;
    return t;
  }

  write(w: MetricsWriter): void {
    w.family("skiff_http_requests_total", "counter", "HTTP requests answered by the management endpoint.");
    for (let i = 0; i < this.counts.length; i++) {
      const c = unchecked(this.counts[i]);
      w.sampleU64("skiff_http_requests_total", ["method", c.method, "route", c.route, "code", c.status.toString()], c.count);
    }
    w.family("skiff_http_request_duration_seconds", "histogram",
      "Time from a request's first byte to its response being queued.");
    for (let i = 0; i < this.latencies.length; i++) {
      const l = unchecked(this.latencies[i]);
      for (let b = 0; b < LATENCY_BUCKETS.length; b++) {
        w.sampleU64("skiff_http_request_duration_seconds_bucket", ["route", l.route, "le", formatValue(unchecked(LATENCY_BUCKETS[b]))], l.buckets[b]);
      }
      w.sampleU64("skiff_http_request_duration_seconds_bucket", ["route", l.route, "le", "+Inf"], l.count);
      w.sample("skiff_http_request_duration_seconds_sum", ["route", l.route], <f64>l.sumNs / 1e9);
      w.sampleU64("skiff_http_request_duration_seconds_count", ["route", l.route], l.count);
    }
    w.family("skiff_http_received_bytes_total", "counter", "Request bytes read by the management endpoint.");
    w.sampleU64("skiff_http_received_bytes_total", [], this.requestBytes);
    w.family("skiff_http_sent_bytes_total", "counter", "Response bytes produced by the management endpoint.");
    w.sampleU64("skiff_http_sent_bytes_total", [], this.responseBytes);
  }
}

function knownMethod(m: string): bool {
  return m == "GET" || m == "HEAD" || m == "POST" || m == "PUT" || m == "DELETE" || m == "OPTIONS" || m == "PATCH";
}

/** Connection management of every HTTP server listening on TCP (the apps'
 *  and this endpoint's), labelled by port: the table, evictions, refusals
 *  and timeouts (kernel/lib/http/server.ts). */
export function writeHttpServers(w: MetricsWriter): void {
  const all = listeningServers();
  w.family("skiff_http_connections", "gauge", "Connections open (state=open), the table's size (limit), the per-peer cap (peer_limit) and the most open at once (peak).");
  for (let i = 0; i < all.length; i++) {
    const s = unchecked(all[i]);
    const p = s.port.toString();
    w.sample("skiff_http_connections", ["port", p, "state", "open"], <f64>s.active);
    w.sample("skiff_http_connections", ["port", p, "state", "limit"], <f64>s.maxConnections);
    w.sample("skiff_http_connections", ["port", p, "state", "peer_limit"], <f64>s.peerLimit());
    w.sample("skiff_http_connections", ["port", p, "state", "peak"], <f64>s.stats.peakActive);
  }
  w.family("skiff_http_connections_opened_total", "counter", "Connections accepted.");
  for (let i = 0; i < all.length; i++) {
    const s = unchecked(all[i]);
    w.sampleU64("skiff_http_connections_opened_total", ["port", s.port.toString()], s.stats.connectionsOpened);
  }
  w.family("skiff_http_connections_evicted_total", "counter",
    "Connections ended to make room for a newcomer: because the table was full or the peer at its cap (cause), an idle kept-alive one or one still in its header section (victim).");
  for (let i = 0; i < all.length; i++) {
    const s = unchecked(all[i]);
    const p = s.port.toString();
    const st = s.stats;
    w.sampleU64("skiff_http_connections_evicted_total", ["port", p, "cause", "table_full", "victim", "idle"], st.evictedFullIdle);
    w.sampleU64("skiff_http_connections_evicted_total", ["port", p, "cause", "table_full", "victim", "headers"], st.evictedFullHeaders);
    w.sampleU64("skiff_http_connections_evicted_total", ["port", p, "cause", "peer_cap", "victim", "idle"], st.evictedPeerIdle);
    w.sampleU64("skiff_http_connections_evicted_total", ["port", p, "cause", "peer_cap", "victim", "headers"], st.evictedPeerHeaders);
  }
  w.family("skiff_http_connections_refused_total", "counter", "Newcomers answered 503 because nothing could be evicted (cause: table_full or peer_cap).");
  for (let i = 0; i < all.length; i++) {
    const s = unchecked(all[i]);
    const p = s.port.toString();
    const st = s.stats;
    w.sampleU64("skiff_http_connections_refused_total", ["port", p, "cause", "table_full"], st.connectionsRejected - st.peerRejected);
    w.sampleU64("skiff_http_connections_refused_total", ["port", p, "cause", "peer_cap"], st.peerRejected);
  }
  w.family("skiff_http_timeouts_total", "counter", "Connections closed by a timeout: idle, header section, whole request.");
  for (let i = 0; i < all.length; i++) {
    const s = unchecked(all[i]);
    const p = s.port.toString();
    const st = s.stats;
    w.sampleU64("skiff_http_timeouts_total", ["port", p, "kind", "idle"], st.idleTimeouts);
    w.sampleU64("skiff_http_timeouts_total", ["port", p, "kind", "header"], st.headerTimeouts);
    w.sampleU64("skiff_http_timeouts_total", ["port", p, "kind", "request"], st.requestTimeouts);
  }
  w.family("skiff_http_pressure_timeouts_total", "counter", "Of those, the ones that fired only because the table was under pressure (shortened idle and header timeouts).");
  for (let i = 0; i < all.length; i++) {
    const s = unchecked(all[i]);
    w.sampleU64("skiff_http_pressure_timeouts_total", ["port", s.port.toString()], s.stats.pressureTimeouts);
  }
}
