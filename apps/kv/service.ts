// apps/kv/service.ts — the kv store's HTTP face: routes over a KvLog, and its
// counters for /metrics. Handlers run synchronously; a PUT or DELETE returns
// only after the log's flush, so the response is the acknowledgement.
import { Router, Handler, Request, Response, JsonWriter, MetricsSource, MetricsWriter, MIME_OCTETS } from "skiff";
import { KvLog, KV_OK, KV_ERR_NOT_FOUND, KV_ERR_TOO_LARGE, KV_ERR_BAD_KEY, KV_ERR_FULL, kvErrorName, MAX_VALUE_BYTES } from "./log";

const DEFAULT_LIMIT: i32 = 1000;
const MAX_LIMIT: i32 = 100000;

function statusFor(e: i32): i32 {
  if (e == KV_ERR_NOT_FOUND) return 404;
  if (e == KV_ERR_TOO_LARGE) return 413;
  if (e == KV_ERR_BAD_KEY) return 400;
  if (e == KV_ERR_FULL) return 507;   // RFC 4918 §11.5 Insufficient Storage
  return 503;
}

class GetKey extends Handler {
  constructor(public log: KvLog) { super(); }
  handle(req: Request, res: Response): void {
    const v = this.log.get(req.param("key")!);
    if (v === null) { res.error(404, "no such key"); return; }
    res.status = 200;
    res.contentType = MIME_OCTETS;
    res.body.append(v.dataStart, v.length);
  }
}

class PutKey extends Handler {
  constructor(public log: KvLog) { super(); }
  handle(req: Request, res: Response): void {
    const key = req.param("key")!;
    if (req.body.length > MAX_VALUE_BYTES) { res.error(413, "value over " + MAX_VALUE_BYTES.toString() + " bytes"); return; }
    const existed = this.log.has(key);
    const e = this.log.put(key, req.body.ptr, req.body.length);
    if (e != KV_OK) { res.error(statusFor(e), kvErrorName(e)); return; }
    res.empty(existed ? 204 : 201);
  }
}

class DeleteKey extends Handler {
  constructor(public log: KvLog) { super(); }
  handle(req: Request, res: Response): void {
    const e = this.log.delete(req.param("key")!);
    if (e != KV_OK) { res.error(statusFor(e), kvErrorName(e)); return; }
    res.empty(204);
  }
}

class ListKeys extends Handler {
  constructor(public log: KvLog) { super(); }
  handle(req: Request, res: Response): void {
    const p = req.queryParam("prefix");
    const l = req.queryParam("limit");
    let limit = DEFAULT_LIMIT;
    if (l !== null) {
      const n = I32.parseInt(l);
      if (isNaN(<f64>n) || n < 0 || n > MAX_LIMIT || n.toString() != l) { res.error(400, "limit must be 0.." + MAX_LIMIT.toString()); return; }
      limit = n;
    }
    const keys = this.log.list(p === null ? "" : p, limit);
    const w = new JsonWriter().beginArray();
    for (let i = 0; i < keys.length; i++) w.string(unchecked(keys[i]));
    res.json(200, w.endArray().toString());
  }
}

export class KvRoutes {
  constructor(public log: KvLog) {}
  install(r: Router): void {
    const list = new ListKeys(this.log);
    r.get("/kv", list).query("prefix").query("limit");
    r.get("/kv/", list).query("prefix").query("limit");
    r.get("/kv/{key...}", new GetKey(this.log));
    r.put("/kv/{key...}", new PutKey(this.log)).noAuth();
    r.delete("/kv/{key...}", new DeleteKey(this.log)).noAuth();
  }
}

export class KvMetrics extends MetricsSource {
  constructor(public log: KvLog) { super(); }
  write(w: MetricsWriter): void {
    const l = this.log;
    w.family("skiff_kv_keys", "gauge", "Live keys in the kv store.");
    w.sample("skiff_kv_keys", [], <f64>l.count);
    w.family("skiff_kv_log_bytes", "gauge", "Bytes of the kv log in use.");
    w.sample("skiff_kv_log_bytes", [], <f64>l.usedBytes);
    w.family("skiff_kv_log_capacity_bytes", "gauge", "Size of the kv disk.");
    w.sample("skiff_kv_log_capacity_bytes", [], <f64>l.capacityBytes);
    w.family("skiff_kv_writes_total", "counter", "Acknowledged (flushed) writes.");
    w.sample("skiff_kv_writes_total", ["op", "put"], <f64>l.stats.puts);
    w.sample("skiff_kv_writes_total", ["op", "delete"], <f64>l.stats.deletes);
    w.family("skiff_kv_write_errors_total", "counter", "Failed disk writes or flushes.");
    w.sample("skiff_kv_write_errors_total", [], <f64>l.stats.errors);
  }
}
