// apps/kv/main.ts — a key-value store over HTTP, persisted on a virtio-blk
// disk as an append-only log (log.ts): a write is answered only after it was
// flushed, so every acknowledged write survives a hard kill. Routes:
//   GET    /kv/{key}        the value (application/octet-stream), 404 if absent
//   PUT    /kv/{key}        store the body; 201 created, 204 replaced
//   DELETE /kv/{key}        204, 404 if absent
//   GET    /kv/?prefix=P&limit=N   keys starting with P, sorted (JSON array)
// Keys may contain "/" (encode other reserved characters). Settings, from
// /config (seeded by config.<key>= boot words) or a bare <key>= boot word:
//   kv.port (default 8080), kv.disk (default 0), kv.format=1 (format a disk
//   that holds something else — its contents are lost).
import {
  println, setting, intSetting, blkDevice, netStack, hold, every, setDaemon, randomU32, TimerHandler,
  HttpServer, Router, HttpTcpService, VirtioBlk, runningApi, announceListening,
} from "skiff";
import { KvLog, kvErrorName, KV_OK } from "./log";
import { KvDisk } from "./disk";
import { KvRoutes, KvMetrics } from "./service";

class BlkDisk extends KvDisk {
  constructor(public dev: VirtioBlk) { super(); }
  size(): u64 { return this.dev.capacity * 512; }
  read(off: u64, buf: usize, len: i32): i32 { return this.dev.readSync(off / 512, buf, <u32>len); }
  write(off: u64, buf: usize, len: i32): i32 { return this.dev.writeSync(off / 512, buf, <u32>len); }
  flush(): i32 { return this.dev.flushSync(); }
}

class Poll extends TimerHandler {
  constructor(public svc: HttpTcpService) { super(); }
  fire(now: u64): void { this.svc.poll(now); }
}

export function main(): i32 {
  const stack = netStack();                    // brings up TCP/IP (and the REST endpoint)
  if (stack === null) { println("kv: no network device"); return 1; }
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
    "; log " + (log.usedBytes >> 10).toString() + " of " + (log.capacityBytes >> 10).toString() + " KiB");
  const router = new Router();
  const routes = new KvRoutes(log);
  routes.install(router);
  const api = runningApi();
  if (api !== null) api.state.extraMetrics.push(new KvMetrics(log));
  const server = new HttpServer(router);
  server.limits.maxBody = (1 << 20) + 1;      // a value may be 1 MiB; one byte more gets 413
  server.maxConnections = 64;
  const port = intSetting("kv.port", 8080, 1, 65535);
  const svc = new HttpTcpService(server);
  if (!svc.listen(stack.tcp, <u32>port)) { println("kv: TCP port " + port.toString() + " is taken"); return 5; }
  setDaemon(every(1_000_000_000, new Poll(svc)), true);
  announceListening(stack, "kv", "TCP port " + port.toString());   // once the interface has an address
  hold();
  return 0;
}
