// apps/kv/main.ts — a key-value store over HTTP, persisted on a virtio-blk
// disk as a log-structured ring (log.ts): memory holds only where each value
// is; a write is answered only after it was flushed, so every acknowledged
// write survives a hard kill; when the ring fills, old records are compacted
// in the background (and by a write that needs the room), and a write is
// refused with 507 only when the live data itself fills the disk. Routes:
//   GET    /kv/{key}        the value (application/octet-stream), 404 if absent
//   PUT    /kv/{key}        store the body; 201 created, 204 replaced
//   DELETE /kv/{key}        204, 404 if absent
//   GET    /kv/?prefix=P&limit=N   keys starting with P, sorted (JSON array)
// Keys may contain "/" (encode other reserved characters). Settings, from
// /config (seeded by config.<key>= boot words) or a bare <key>= boot word:
//   kv.port (default 8080), kv.disk (default 0), kv.format=1 (format a disk
//   that holds something else — its contents are lost), kv.token=T (PUT and
//   DELETE then need "Authorization: Bearer T"; GET stays open), kv.cache_kb
//   (the small-value cache; default 1/32 of RAM up to 4096, 0 turns it off).
import {
  println, setting, intSetting, blkDevice, every, cancel, setDaemon, randomU32, TimerHandler, Timer,
  Router, VirtioBlk, runningApi, memoryInfo, chargeHeap, MemOwner, serve,
} from "skiff";
import { ValueCache, CacheMeter } from "./cache";
import { KvLog, kvErrorName, KV_OK, STEP_BYTES } from "./log";
import { KvDisk } from "./disk";
import { KvRoutes, KvMetrics, KvAuth } from "./service";

class BlkDisk extends KvDisk {
  constructor(public dev: VirtioBlk) { super(); }
  size(): u64 { return this.dev.capacity * 512; }
  read(off: u64, buf: usize, len: i32): i32 { return this.dev.readSync(off / 512, buf, <u32>len); }
  write(off: u64, buf: usize, len: i32): i32 { return this.dev.writeSync(off / 512, buf, <u32>len); }
  flush(): i32 { return this.dev.flushSync(); }
}

/** Once a second: whether a compaction pass should start. */
class CompactionCheck extends TimerHandler {
  constructor(public compactor: Compactor) { super(); }
  fire(now: u64): void { this.compactor.check(); }
}

/** The cache's bytes count as the app's in /metrics and memStats. */
class AppMeter extends CacheMeter {
  charge(delta: i64): void { chargeHeap(MemOwner.App, delta); }
}

/** Values up to this size are cached (kv.cache_kb); larger ones are streamed. */
const CACHE_MAX_VALUE: i32 = 16384;

function mib(b: u64): string { return (b >> 20).toString(); }

/** Background compaction: while a pass runs, one step every 20 ms (requests
 *  are served in between); idle, nothing but the 1 s check. The start and end
 *  of each pass go to the console. */
class Compactor extends TimerHandler {
  running: bool = false;
  passes: i32 = 0;
  timer: Timer | null = null;
  constructor(public log: KvLog) { super(); }
  check(): void {
    if (this.timer === null && this.log.wantsCompaction()) {
      const t = every(20_000_000, this);
      setDaemon(t, true);
      this.timer = t;
    }
  }
  fire(now: u64): void {
    const l = this.log;
    const want = l.wantsCompaction();
    if (want && !this.running) {
      this.running = true;
      this.passes++;
      println("kv: compaction " + this.passes.toString() + " started: log " + mib(l.usedBytes) + " of " + mib(l.capacityBytes) +
        " MiB, " + mib(l.deadBytes) + " MiB dead");
    }
    if (want) {
      const e = l.compactStep(STEP_BYTES);
      if (e != KV_OK) println("kv: compaction failed: " + kvErrorName(e) + (l.problem.length > 0 ? " (" + l.problem + ")" : ""));
    }
    if (!l.compacting && this.timer !== null) { cancel(this.timer!); this.timer = null; }
    if (this.running && !l.compacting) {
      this.running = false;
      println("kv: compaction " + this.passes.toString() + " done: log " + mib(l.usedBytes) + " of " + mib(l.capacityBytes) +
        " MiB, " + mib(l.stats.bytesMoved) + " MiB moved, " + mib(l.stats.bytesReclaimed) + " MiB reclaimed so far");
    }
  }
}

export function main(): i32 {
  const n = intSetting("kv.disk", 0, 0, 63);
  const dev = blkDevice(n);
  if (dev === null) { println("kv: no virtio-blk disk " + n.toString() + " (attach one: --disk kv.img)"); return 2; }
  if (dev.readOnly || !dev.canFlush) {
    println("kv: disk " + dev.name + (dev.readOnly ? " is read-only" : " cannot flush, so writes could not be made durable"));
    return 3;
  }
  const format = setting("kv.format", "0");
  const log = new KvLog(new BlkDisk(dev));
  const e = log.open(format == "1" || format == "yes" || format == "true", randomU32());
  if (e != KV_OK) { println("kv: cannot open the log on " + dev.name + ": " + log.problem + " (" + kvErrorName(e) + ")"); return 4; }
  println("kv: " + log.count.toString() + " keys from " + log.stats.recovered.toString() + " records on " + dev.name +
    (log.stats.tornTail ? "; a torn record after the last intact one was discarded" : "") +
    "; log " + (log.usedBytes >> 10).toString() + " of " + (log.capacityBytes >> 10).toString() + " KiB, " +
    (log.liveBytes >> 10).toString() + " KiB live");
  const token = setting("kv.token", "");
  if (token.length > 0 && token.length < 8) { println("kv: kv.token must be at least 8 characters"); return 6; }
  const auth = new KvAuth(token);
  if (auth.enabled) println("kv: writes need a bearer token (kv.token)");
  // The small-value cache: 1/32 of RAM by default, at most 4 MiB; kv.cache_kb=0 turns it off.
  let dflt = <i32>(memoryInfo().ramBytes >> 15);
  if (dflt > 4096) dflt = 4096;
  const cacheKb = intSetting("kv.cache_kb", dflt, 0, 1 << 20);
  const cache = new ValueCache(<i64>cacheKb << 10, CACHE_MAX_VALUE, new AppMeter());
  const router = new Router();
  const routes = new KvRoutes(log, auth, cache);
  routes.install(router);
  // The network (and the REST endpoint), limits, timeouts, the listening line.
  const svc = serve(<u32>intSetting("kv.port", 8080, 1, 65535), router, "kv");
  if (svc === null) return 5;
  svc.server.limits.maxBody = (1 << 20) + 1;  // a value may be 1 MiB; one byte more gets 413
  svc.server.maxConnections = 64;
  const api = runningApi();
  if (api !== null) api.state.extraMetrics.push(new KvMetrics(log, auth, cache));
  const compactor = new Compactor(log);
  setDaemon(every(1_000_000_000, new CompactionCheck(compactor)), true);
  compactor.check();
  return 0;
}
