// apps/kv/service.ts — the kv store's HTTP face: routes over a KvLog, and its
// counters for /metrics. Handlers run synchronously; a PUT or DELETE returns
// only after the log's flush, so the response is the acknowledgement. A GET
// streams the value from disk in pieces as the connection drains (BodySource),
// so a request holds at most one piece of it, never the whole value.
import { Router, Handler, Request, Response, JsonWriter, MetricsSource, MetricsWriter, MIME_OCTETS, BodySource } from "skiff";
import { ValueCache } from "./cache";
import { KvLog, KvLoc, KV_OK, KV_ERR_IO, KV_ERR_NOT_FOUND, KV_ERR_TOO_LARGE, KV_ERR_BAD_KEY, KV_ERR_FULL, kvErrorName, MAX_VALUE_BYTES } from "./log";
import { crc32Update } from "./crc32";
import { tokenEquals } from "./token";

const DEFAULT_LIMIT: i32 = 1000;
const MAX_LIMIT: i32 = 100000;

function statusFor(e: i32): i32 {
  if (e == KV_ERR_NOT_FOUND) return 404;
  if (e == KV_ERR_TOO_LARGE) return 413;
  if (e == KV_ERR_BAD_KEY) return 400;
  if (e == KV_ERR_FULL) return 507;   // RFC 4918 §11.5 Insufficient Storage
  return 503;
}

/** The optional bearer check for writes (kv.token=T): PUT and DELETE need
 *  "Authorization: Bearer T". The comparison takes the same time whatever
 *  the presented token is — how much of it matches, and how long it is. */
export class KvAuth {
  failures: u64 = 0;
  constructor(public token: string) {}

  get enabled(): bool { return this.token.length > 0; }

  allows(req: Request): bool {
    if (this.token.length == 0) return true;
    const h = req.header("authorization");
    let presented = "";
    if (h !== null && h.length > 7 && h.substring(0, 7).toLowerCase() == "bearer ") presented = h.substring(7).trim();
    if (tokenEquals(presented, this.token)) return true;
    this.failures++;
    return false;
  }

  refuse(res: Response): void {
    res.setHeader("WWW-Authenticate", "Bearer realm=\"kv\"");
    res.error(401, "a valid bearer token is required");
  }
}

/** A value read from disk piece by piece as the response goes out, its CRC
 *  checked before the last piece is handed over (a mismatch ends the
 *  connection short, so the client never takes a wrong value for a right one). */
class ValueSource extends BodySource {
  pos: i32 = 0;
  crc: u32;
  constructor(public log: KvLog, public loc: KvLoc, keyCrc: u32) { super(); this.crc = keyCrc; }
  total(): i32 { return this.loc.vlen; }
  read(dst: usize, max: i32): i32 {
    let n = this.loc.vlen - this.pos;
    if (n > max) n = max;
    if (n <= 0) return 0;
    if (this.log.readValue(this.loc, this.pos, dst, n) != KV_OK) return -1;
    this.crc = crc32Update(this.crc, dst, n);
    this.pos += n;
    if (this.pos == this.loc.vlen && this.crc != this.loc.bodyCrc) { this.log.stats.readErrors++; return -1; }
    return n;
  }
}

class GetKey extends Handler {
  constructor(public log: KvLog, public cache: ValueCache) { super(); }
  handle(req: Request, res: Response): void {
    const key = req.param("key")!;
    const loc = this.log.locate(key);
    if (loc === null) { res.error(404, "no such key"); return; }
    res.status = 200;
    res.contentType = MIME_OCTETS;
    if (loc.vlen == 0) return;
    const c = this.cache;
    if (c.enabled && loc.vlen <= c.maxValue) {
      // Small: from the cache, or read whole (CRC checked) and cached.
      let v = c.get(key, loc);
      if (v === null) {
        v = this.log.get(key);
        if (v === null) { res.error(503, kvErrorName(KV_ERR_IO)); return; }
        c.put(key, loc, v);
      }
      res.body.appendBytes(v);
      return;
    }
    res.stream(200, MIME_OCTETS, new ValueSource(this.log, loc, this.log.keyCrc(key)));
  }
}

class PutKey extends Handler {
  constructor(public log: KvLog, public auth: KvAuth) { super(); }
  handle(req: Request, res: Response): void {
    if (!this.auth.allows(req)) { this.auth.refuse(res); return; }
    const key = req.param("key")!;
    if (req.body.length > MAX_VALUE_BYTES) { res.error(413, "value over " + MAX_VALUE_BYTES.toString() + " bytes"); return; }
    const existed = this.log.has(key);
    const e = this.log.put(key, req.body.ptr, req.body.length);
    if (e != KV_OK) { res.error(statusFor(e), kvErrorName(e)); return; }
    res.empty(existed ? 204 : 201);
  }
}

class DeleteKey extends Handler {
  constructor(public log: KvLog, public auth: KvAuth) { super(); }
  handle(req: Request, res: Response): void {
    if (!this.auth.allows(req)) { this.auth.refuse(res); return; }
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
  constructor(public log: KvLog, public auth: KvAuth, public cache: ValueCache) {}
  install(r: Router): void {
    const list = new ListKeys(this.log);
    r.get("/kv", list).query("prefix").query("limit");
    r.get("/kv/", list).query("prefix").query("limit");
    r.get("/kv/{key...}", new GetKey(this.log, this.cache));
    r.put("/kv/{key...}", new PutKey(this.log, this.auth)).noAuth();
    r.delete("/kv/{key...}", new DeleteKey(this.log, this.auth)).noAuth();
  }
}

export class KvMetrics extends MetricsSource {
  constructor(public log: KvLog, public auth: KvAuth, public cache: ValueCache) { super(); }
  write(w: MetricsWriter): void {
    const l = this.log;
    w.family("skiff_kv_keys", "gauge", "Live keys in the kv store.");
    w.sample("skiff_kv_keys", [], <f64>l.count);
    w.family("skiff_kv_log_bytes", "gauge", "Bytes of the kv log in use (live and dead records).");
    w.sample("skiff_kv_log_bytes", [], <f64>l.usedBytes);
    w.family("skiff_kv_live_bytes", "gauge", "Bytes of the records the index points at.");
    w.sample("skiff_kv_live_bytes", [], <f64>l.liveBytes);
    w.family("skiff_kv_log_capacity_bytes", "gauge", "Size of the kv log area on disk.");
    w.sample("skiff_kv_log_capacity_bytes", [], <f64>l.capacityBytes);
    w.family("skiff_kv_writes_total", "counter", "Acknowledged (flushed) writes.");
    w.sample("skiff_kv_writes_total", ["op", "put"], <f64>l.stats.puts);
    w.sample("skiff_kv_writes_total", ["op", "delete"], <f64>l.stats.deletes);
    w.family("skiff_kv_write_errors_total", "counter", "Failed disk writes or flushes.");
    w.sample("skiff_kv_write_errors_total", [], <f64>l.stats.errors);
    w.family("skiff_kv_read_errors_total", "counter", "Values that failed their CRC or could not be read (the response was cut short).");
    w.sample("skiff_kv_read_errors_total", [], <f64>l.stats.readErrors);
    w.family("skiff_kv_compaction_steps_total", "counter", "Compaction steps committed.");
    w.sample("skiff_kv_compaction_steps_total", [], <f64>l.stats.compactionSteps);
    w.family("skiff_kv_compaction_bytes_total", "counter", "Bytes compaction copied to the head, and bytes it freed.");
    w.sample("skiff_kv_compaction_bytes_total", ["kind", "moved"], <f64>l.stats.bytesMoved);
    w.sample("skiff_kv_compaction_bytes_total", ["kind", "reclaimed"], <f64>l.stats.bytesReclaimed);
    w.family("skiff_kv_compacting", "gauge", "1 while a background compaction pass runs.");
    w.sample("skiff_kv_compacting", [], l.compacting ? 1.0 : 0.0);
    w.family("skiff_kv_cache_bytes", "gauge", "Bytes held by the small-value cache (kv.cache_kb), charged to the app.");
    w.sample("skiff_kv_cache_bytes", [], <f64>this.cache.bytes);
    w.family("skiff_kv_cache_lookups_total", "counter", "Small-value cache lookups by result.");
    w.sample("skiff_kv_cache_lookups_total", ["result", "hit"], <f64>this.cache.hits);
    w.sample("skiff_kv_cache_lookups_total", ["result", "miss"], <f64>this.cache.misses);
    w.family("skiff_kv_auth_failures_total", "counter", "Writes refused for a missing or wrong bearer token (kv.token).");
    w.sample("skiff_kv_auth_failures_total", [], <f64>this.auth.failures);
  }
}
