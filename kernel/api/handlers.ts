// kernel/api/handlers.ts — the endpoint's route handlers, grouped by resource
// (OSv's /os, /env, /network, /hardware; Skiff's /config, /metrics, /health).
// Each group is one class with an operation code, so the route table in
// routes.ts stays a flat list. Responses are JSON (OSv returns bare JSON
// strings and numbers for scalar resources; so do we).
import { Handler, Request, Response, isoDate, MIME_JSON, bodyBudget } from "../lib/http";
import { JsonWriter, jsonString, JSON_STRING, JSON_NUMBER, JSON_BOOL } from "../lib/json";
import { KeyValueStore, storeErrorMessage, STORE_CREATED, STORE_NOT_FOUND, STORE_BAD_KEY } from "../lib/config";
import { dmesg } from "../core/console";
import { ApiState, validHostname } from "./state";
import { MetricsWriter, METRICS_CONTENT_TYPE, writeHttpServers } from "./metrics";
import { isValidUtf8 } from "../lib/json";
import { InterfaceEntry, MemorySource } from "./providers";
import { heapCollections, heapCollectionNs } from "../core/mm";
import { schedStats } from "../core/sched";
import { faultCount, faultSiteName, faultKindName, FAULT_SITES, FAULT_KINDS, forcedCollectionCount } from "../core/fault";

const NS_PER_MS: u64 = 1_000_000;
const NS_PER_S: u64 = 1_000_000_000;

/** A string value sent by a client: the query parameter `name` if present,
 *  else the body — a JSON string (or number/bool, as text) for
 *  application/json, `name=...` for a form, the UTF-8 text otherwise. Null
 *  when absent or malformed (the caller answers 400). */
export function inputValue(req: Request, name: string): string | null {
  const q = req.queryParam(name);
  if (q !== null) return q;
  if (req.body.length == 0) return null;
  const mt = req.mediaType();
  if (mt == "application/json") {
    const v = req.bodyJson(4);
    if (v === null) return null;
    if (v.kind == JSON_STRING) return v.s;
    if (v.kind == JSON_NUMBER || v.kind == JSON_BOOL) return v.toJson();
    if (v.isObject) return v.getString(name) !== null ? v.getString(name) : v.getString("value");
    return null;
  }
  if (!isValidUtf8(req.body.ptr, req.body.length)) return null;
  const text = req.bodyText();
  if (mt == "application/x-www-form-urlencoded") {
    const fake = new Request();
    fake.query = text;
    return fake.queryParam(name);
  }
  return text;
}

export const OS_NAME = 0;
export const OS_VERSION = 1;
export const OS_UPTIME = 2;
export const OS_DATE = 3;
export const OS_MEMORY_TOTAL = 4;
export const OS_MEMORY_FREE = 5;
export const OS_THREADS = 6;
export const OS_DMESG = 7;
export const OS_CMDLINE = 8;
export const OS_HOSTNAME_GET = 9;
export const OS_HOSTNAME_SET = 10;
export const OS_SHUTDOWN = 11;
export const OS_REBOOT = 12;
export const OS_MEMORY = 13;

export class OsHandler extends Handler {
  constructor(private api: ApiState, private op: i32) { super(); }

  handle(req: Request, res: Response): void {
    const api = this.api;
    switch (this.op) {
      case OS_NAME: res.json(200, jsonString(api.options.osName)); return;
      case OS_VERSION: res.json(200, jsonString(api.options.osVersion)); return;
      case OS_UPTIME: res.json(200, (api.uptimeNs(req.nowNs) / NS_PER_S).toString()); return;
      case OS_DATE: {
        const t = api.unixSeconds(req.nowNs);
        if (t < 0) { res.error(503, "the time of day is not known"); return; }
        res.json(200, jsonString(isoDate(t)));
        return;
      }
      case OS_MEMORY_TOTAL: case OS_MEMORY_FREE: {
        const m = api.memory;
        if (m === null) { res.error(501, "no memory statistics"); return; }
        res.json(200, (this.op == OS_MEMORY_TOTAL ? m.totalBytes() : m.freeBytes()).toString());
        return;
      }
      case OS_MEMORY: {
        const m = api.memory;
        if (m === null) { res.error(501, "no memory statistics"); return; }
        res.json(200, memoryJson(m));
        return;
      }
      case OS_THREADS: { res.json(200, threadsJson(api, req.nowNs)); return; }
      case OS_DMESG: res.json(200, jsonString(api.redact(dmesg()))); return;
      case OS_CMDLINE: res.json(200, jsonString(api.redact(api.cmdline))); return;
      case OS_HOSTNAME_GET: res.json(200, jsonString(api.hostname)); return;
      case OS_HOSTNAME_SET: {
        const name = inputValue(req, "name");
        if (name === null || !validHostname(name)) { res.error(400, "expected a host name (RFC 1123) in ?name= or the body"); return; }
        api.hostname = name;
        res.json(200, jsonString(name));
        return;
      }
      case OS_SHUTDOWN: case OS_REBOOT: {
        const p = api.power;
        const ok = p !== null && (this.op == OS_SHUTDOWN ? p.shutdown() : p.reboot());
        if (!ok) { res.error(501, this.op == OS_SHUTDOWN ? "shutdown is not available" : "reboot is not available"); return; }
        res.json(202, new JsonWriter().beginObject().propString("status", this.op == OS_SHUTDOWN ? "shutting down" : "rebooting").endObject().toString());
        res.close = true;
        return;
      }
    }
    res.error(500, "unknown operation");
  }
}

/** GET /os/memory: totals, the heap (size, in use, free) and what is kept
 *  back from app code (kernel/core/fault.ts), all in bytes. */
function memoryJson(m: MemorySource): string {
  const w = new JsonWriter();
  const heap = m.heapBytes(), heapUsed = m.heapUsedBytes();
  w.beginObject()
    .propUint("total", m.totalBytes())
    .propUint("free", m.freeBytes())
    .propUint("used", m.totalBytes() - m.freeBytes())
    .propUint("high_water", m.highWaterBytes())
    .propUint("heap_size", heap)
    .propUint("heap_used", heapUsed)
    .propUint("heap_free", heap > heapUsed ? heap - heapUsed : 0)
    .propUint("app_reserve", m.reserveBytes());
  w.key("by_subsystem").beginObject();
  const use = m.bySubsystem();
  for (let i = 0; i < use.length; i++) w.propUint(use[i].subsystem, use[i].bytes);
  w.endObject();
  return w.endObject().toString();
}

function threadsJson(api: ApiState, nowNs: u64): string {
  const w = new JsonWriter();
  const t = api.unixSeconds(nowNs);
  w.beginObject();
  // OSv: milliseconds since the epoch when the list was taken.
  w.propInt("time_ms", t < 0 ? <i64>(api.uptimeNs(nowNs) / NS_PER_MS) : t * 1000 + <i64>((nowNs / NS_PER_MS) % 1000));
  w.key("list").beginArray();
  const src = api.tasks;
  if (src !== null) {
    const ts = src.tasks();
    for (let i = 0; i < ts.length; i++) {
      const e = unchecked(ts[i]);
      w.beginObject().propUint("id", e.id).propString("name", e.name).propString("status", e.state)
        .propUint("cpu_ms", e.cpuNs / NS_PER_MS).propUint("cpu_ns", e.cpuNs).propUint("switches", e.runs)
        // Every task runs on the boot CPU (0): the scheduler is cooperative and
        // uses one CPU, so OSv's "migrations" and "preemptions" cannot happen
        // and are not reported.
        .propInt("cpu", 0).endObject();
    }
  }
  w.endArray();
  w.endObject();
  return w.toString();
}

export const KV_LIST = 0;
export const KV_GET = 1;
export const KV_PUT = 2;
export const KV_DELETE = 3;

/** /env/ and /config/: the same operations over a KeyValueStore. env is
 *  OSv-shaped (list of "K=V", set by ?val=); config is an object. */
export class StoreHandler extends Handler {
  constructor(private store: KeyValueStore, private op: i32, private envStyle: bool, private param: string) { super(); }

  handle(req: Request, res: Response): void {
    const s = this.store;
    if (this.op == KV_LIST) {
      const w = new JsonWriter();
      if (this.envStyle) {
        w.beginArray();
        for (let i = 0; i < s.size; i++) w.string(s.keyAt(i) + "=" + s.valueAt(i));
        w.endArray();
      } else {
        w.beginObject();
        for (let i = 0; i < s.size; i++) w.propString(s.keyAt(i), s.valueAt(i));
        w.endObject();
      }
      res.json(200, w.toString());
      return;
    }
    const key = req.param(this.param);
    if (key === null || !s.validKey(key)) { res.error(400, "invalid key"); return; }
    if (this.op == KV_GET) {
      const v = s.get(key);
      if (v === null) { res.error(404, "no such key"); return; }
      res.json(200, jsonString(v));
      return;
    }
    if (this.op == KV_DELETE) {
      if (s.delete(key) == STORE_NOT_FOUND) { res.error(404, "no such key"); return; }
      res.empty(204);
      return;
    }
    const value = inputValue(req, this.envStyle ? "val" : "value");
    if (value === null) { res.error(400, "expected a value in the body (JSON string or text)" + (this.envStyle ? " or ?val=" : "")); return; }
    const r = s.put(key, value);
    if (r < 0) { res.error(r == STORE_BAD_KEY ? 400 : 413, storeErrorMessage(r)); return; }
    res.json(r == STORE_CREATED ? 201 : 200,
      new JsonWriter().beginObject().propString("key", key).propString("value", value).endObject().toString());
  }
}

export const NET_IFCONFIG = 0;
export const NET_ROUTE = 1;

export class NetworkHandler extends Handler {
  constructor(private api: ApiState, private op: i32) { super(); }

  handle(req: Request, res: Response): void {
    const w = new JsonWriter();
    w.beginArray();
    const net = this.api.net;
    if (net !== null && this.op == NET_IFCONFIG) {
      const ifs = net.interfaces();
      for (let i = 0; i < ifs.length; i++) {
        const f = unchecked(ifs[i]);
        w.beginObject().propString("name", f.name).propString("mac", f.mac).propInt("mtu", f.mtu).propBool("up", f.up)
          .propString("ipv4", f.ipv4).propInt("prefix_length", f.prefixLength);
        w.key("stats").beginObject()
          .propUint("rx_packets", f.rxPackets).propUint("rx_bytes", f.rxBytes).propUint("rx_dropped", f.rxDropped).propUint("rx_errors", f.rxErrors)
          .propUint("tx_packets", f.txPackets).propUint("tx_bytes", f.txBytes).propUint("tx_dropped", f.txDropped).propUint("tx_errors", f.txErrors)
          .endObject();
        w.endObject();
      }
    } else if (net !== null) {
      const rs = net.routes();
      for (let i = 0; i < rs.length; i++) {
        const r = unchecked(rs[i]);
        w.beginObject().propString("destination", r.destination).propInt("prefix_length", r.prefixLength)
          .propString("gateway", r.gateway).propString("interface", r.iface).endObject();
      }
    }
    w.endArray();
    res.json(200, w.toString());
  }
}

export const HW_CPU_COUNT = 0;
export const HW_HYPERVISOR = 1;
export const HW_DEVICES = 2;

export class HardwareHandler extends Handler {
  constructor(private api: ApiState, private op: i32) { super(); }

  handle(req: Request, res: Response): void {
    const api = this.api;
    if (this.op == HW_CPU_COUNT) { res.json(200, api.processorCount.toString()); return; }
    if (this.op == HW_HYPERVISOR) { res.json(200, jsonString(api.hypervisor)); return; }
    const w = new JsonWriter();
    w.beginArray();
    const d = api.devices;
    if (d !== null) {
      const ds = d.devices();
      for (let i = 0; i < ds.length; i++) {
        const e = unchecked(ds[i]);
        w.beginObject().propString("name", e.name).propString("type", e.type).propString("transport", e.transport)
          .propString("location", e.location).propString("irq", e.irq).propString("state", e.state)
          .propString("detail", e.detail).endObject();
      }
    }
    w.endArray();
    res.json(200, w.toString());
  }
}

export class HealthHandler extends Handler {
  constructor(private api: ApiState) { super(); }
  handle(req: Request, res: Response): void {
    res.json(200, new JsonWriter().beginObject().propString("status", "ok")
      .propUint("uptime_s", this.api.uptimeNs(req.nowNs) / NS_PER_S).endObject().toString());
  }
}

export class MetricsHandler extends Handler {
  constructor(private api: ApiState) { super(); }
  handle(req: Request, res: Response): void {
    res.status = 200;
    res.contentType = METRICS_CONTENT_TYPE;
    res.body.clear();
    writeMetrics(this.api, req.nowNs, new MetricsWriter(res.body));
  }
}

/** The whole exposition as a string (tests; the handler writes bytes). */
export function metricsText(api: ApiState, nowNs: u64): string {
  const w = new MetricsWriter();
  writeMetrics(api, nowNs, w);
  return w.toString();
}

function writeMetrics(api: ApiState, nowNs: u64, w: MetricsWriter): void {
  w.family("skiff_uptime_seconds", "gauge", "Seconds since boot.");
  w.sample("skiff_uptime_seconds", [], <f64>api.uptimeNs(nowNs) / 1e9);
  const m = api.memory;
  if (m !== null) {
    w.family("skiff_memory_total_bytes", "gauge", "Memory the kernel may use.");
    w.sampleU64("skiff_memory_total_bytes", [], m.totalBytes());
    w.family("skiff_memory_free_bytes", "gauge", "Memory not in use.");
    w.sampleU64("skiff_memory_free_bytes", [], m.freeBytes());
    w.family("skiff_memory_used_bytes", "gauge", "Memory in use, by subsystem.");
    const use = m.bySubsystem();
    for (let i = 0; i < use.length; i++) w.sampleU64("skiff_memory_used_bytes", ["subsystem", use[i].subsystem], use[i].bytes);
    w.family("skiff_heap_size_bytes", "gauge", "Linear memory outside the page pool: static data, shadow stack, the heap.");
    w.sampleU64("skiff_heap_size_bytes", [], m.heapBytes());
    w.family("skiff_heap_used_bytes", "gauge", "Of that, bytes not in the allocator's free lists.");
    w.sampleU64("skiff_heap_used_bytes", [], m.heapUsedBytes());
    w.family("skiff_memory_high_water_bytes", "gauge", "Most memory in use so far.");
    w.sampleU64("skiff_memory_high_water_bytes", [], m.highWaterBytes());
  }
  w.family("skiff_handler_faults_total", "counter",
    "Traps, aborts and heap exhaustion contained to one HTTP handler, task or timer (500/503, task ended, timer cancelled).");
  for (let site = 0; site < FAULT_SITES; site++) {
    for (let kind: u32 = 1; kind < <u32>FAULT_KINDS; kind++) {
      w.sampleU64("skiff_handler_faults_total", ["site", faultSiteName(site), "kind", faultKindName(kind)], faultCount(site, kind));
    }
  }
  w.family("skiff_heap_forced_collections_total", "counter",
    "Full garbage collections the kernel ran: after a call ran out of memory, and before the heap grew into the kernel's reserve.");
  w.sampleU64("skiff_heap_forced_collections_total", [], forcedCollectionCount());
  w.family("skiff_heap_collections_total", "counter", "Full garbage collections the network service ran after connections ended (at most one per 100 ms).");
  w.sampleU64("skiff_heap_collections_total", [], heapCollections());
  w.family("skiff_heap_collection_seconds_total", "counter", "Time those collections took.");
  w.sample("skiff_heap_collection_seconds_total", [], <f64>heapCollectionNs() / 1e9);
  const ss = schedStats();
  w.family("skiff_sched_passes_total", "counter", "Passes of the event loop (polls, timers, ready tasks).");
  w.sampleU64("skiff_sched_passes_total", [], ss.passes);
  w.family("skiff_sched_halts_total", "counter", "Times the event loop halted the CPU until the next interrupt (nothing to do).");
  w.sampleU64("skiff_sched_halts_total", [], ss.halts);
  w.family("skiff_sched_idle_seconds_total", "counter", "Time the CPU spent halted.");
  w.sample("skiff_sched_idle_seconds_total", [], <f64>ss.idleNs / 1e9);
  const ts = api.tasks;
  if (ts !== null) {
    const list = ts.tasks();
    w.family("skiff_task_cpu_seconds_total", "counter", "CPU time used by each scheduler task.");
    for (let i = 0; i < list.length; i++) {
      const t = list[i];
      w.sample("skiff_task_cpu_seconds_total", ["task", t.name, "id", t.id.toString()], <f64>t.cpuNs / 1e9);
    }
    w.family("skiff_task_runs_total", "counter", "Times each scheduler task was run.");
    for (let i = 0; i < list.length; i++) {
      const t = list[i];
      w.sampleU64("skiff_task_runs_total", ["task", t.name, "id", t.id.toString()], t.runs);
    }
  }
  const net = api.net;
  if (net !== null) {
    const ifs = net.interfaces();
    netFamily(w, "skiff_net_receive_packets_total", "Packets received.", ifs, 0);
    netFamily(w, "skiff_net_receive_bytes_total", "Bytes received.", ifs, 1);
    netFamily(w, "skiff_net_receive_dropped_total", "Received packets dropped.", ifs, 2);
    netFamily(w, "skiff_net_receive_errors_total", "Receive errors.", ifs, 3);
    netFamily(w, "skiff_net_transmit_packets_total", "Packets sent.", ifs, 4);
    netFamily(w, "skiff_net_transmit_bytes_total", "Bytes sent.", ifs, 5);
    netFamily(w, "skiff_net_transmit_dropped_total", "Packets not sent (queue full).", ifs, 6);
    netFamily(w, "skiff_net_transmit_errors_total", "Transmit errors.", ifs, 7);
  }
  const blk = api.blocks;
  if (blk !== null) {
    const ds = blk.devices();
    w.family("skiff_block_reads_total", "counter", "Block read requests completed.");
    for (let i = 0; i < ds.length; i++) w.sampleU64("skiff_block_reads_total", ["device", ds[i].name], ds[i].reads);
    w.family("skiff_block_writes_total", "counter", "Block write requests completed.");
    for (let i = 0; i < ds.length; i++) w.sampleU64("skiff_block_writes_total", ["device", ds[i].name], ds[i].writes);
    w.family("skiff_block_read_bytes_total", "counter", "Bytes read from block devices.");
    for (let i = 0; i < ds.length; i++) w.sampleU64("skiff_block_read_bytes_total", ["device", ds[i].name], ds[i].readBytes);
    w.family("skiff_block_written_bytes_total", "counter", "Bytes written to block devices.");
    for (let i = 0; i < ds.length; i++) w.sampleU64("skiff_block_written_bytes_total", ["device", ds[i].name], ds[i].writeBytes);
    w.family("skiff_block_errors_total", "counter", "Block requests that failed.");
    for (let i = 0; i < ds.length; i++) w.sampleU64("skiff_block_errors_total", ["device", ds[i].name], ds[i].errors);
  }
  api.metrics.write(w);
  w.family("skiff_api_auth_failures_total", "counter", "State-changing requests refused (bad or missing token, read-only).");
  w.sampleU64("skiff_api_auth_failures_total", [], api.auth.failures);
  const th = api.auth.throttle;
  if (th !== null) {
    w.family("skiff_api_auth_throttled_total", "counter", "Requests answered 429: their peer was blocked after repeated wrong credentials.");
    w.sampleU64("skiff_api_auth_throttled_total", [], th.throttled);
    w.family("skiff_api_auth_blocks_total", "counter", "Blocks of a peer begun after repeated wrong credentials (each longer than the last).");
    w.sampleU64("skiff_api_auth_blocks_total", [], th.blocks);
    w.family("skiff_api_auth_blocked_peers", "gauge", "Peers blocked now.");
    w.sample("skiff_api_auth_blocked_peers", [], <f64>th.blockedPeers(nowNs));
  }
  const bb = bodyBudget();
  w.family("skiff_http_body_budget_bytes", "gauge", "Request content all HTTP servers may buffer at once (limit), hold now (used), and the most held (peak).");
  w.sample("skiff_http_body_budget_bytes", ["state", "limit"], <f64>bb.limit);
  w.sample("skiff_http_body_budget_bytes", ["state", "used"], <f64>bb.used);
  w.sample("skiff_http_body_budget_bytes", ["state", "peak"], <f64>bb.peak);
  w.family("skiff_http_body_budget_refused_total", "counter", "Requests answered 503 because their content did not fit in the body budget.");
  w.sampleU64("skiff_http_body_budget_refused_total", [], bb.refused);
  writeHttpServers(w);
  w.family("skiff_config_keys", "gauge", "Keys in the runtime configuration.");
  w.sample("skiff_config_keys", [], <f64>api.config.size);
  for (let i = 0; i < api.extraMetrics.length; i++) api.extraMetrics[i].write(w);
}

function netFamily(w: MetricsWriter, name: string, help: string, ifs: InterfaceEntry[], field: i32): void {
  w.family(name, "counter", help);
  for (let i = 0; i < ifs.length; i++) {
    const f = ifs[i];
    let v: u64 = 0;
    switch (field) {
      case 0: v = f.rxPackets; break;
      case 1: v = f.rxBytes; break;
      case 2: v = f.rxDropped; break;
      case 3: v = f.rxErrors; break;
      case 4: v = f.txPackets; break;
      case 5: v = f.txBytes; break;
      case 6: v = f.txDropped; break;
      default: v = f.txErrors;
    }
    w.sampleU64(name, ["interface", f.name], v);
  }
}

/** Serves a fixed JSON text (the OpenAPI document, built once). */
export class StaticJsonHandler extends Handler {
  text: string = "";
  handle(req: Request, res: Response): void { res.send(200, MIME_JSON, this.text); }
}
