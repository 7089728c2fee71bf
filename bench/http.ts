// bench/http.ts — issue #6's benchmarks (`npm run bench -- --only http`):
// apps/httpd requests per second and latency percentiles with wrk (one small
// static file, keep-alive, 32 connections), apps/kv writes and reads per
// second (wrk with Lua scripts, 32 connections; each write is flushed to the
// virtio-blk disk before its answer), and the REST endpoint's `GET /os/uptime`
// latency (one connection). With --vs linux the same for the Linux reference
// guest under identical QEMU flags and network: Debian's nginx serving the same
// file, and on port 8000 busybox httpd's /cgi-bin/uptime (sh reading /proc/uptime) for the uptime request;
// it has no kv store. Each round boots fresh guests, the two kinds alternating
// which goes first; ratios are Skiff / Linux per round.
import { join } from "node:path";
import type { IO } from "../cli/lib/log.js";
import type { Machine } from "../cli/lib/qemu.js";
import { runWrk, WRK_ARGS, type WrkResult } from "./lib/http.js";
import { summarize, type Summary } from "./lib/stats.js";
import { ensureLinuxGuest, ensureNginxGuest, INDEX_HTML, type LinuxGuest } from "./linux/guest.js";
import { buildSkiffHttpd, buildSkiffKv, kvScripts, linuxHttpInitramfs, startServer, type Kind } from "./linux/servers.js";

export const HTTP_CONNECTIONS = 32;
export const USER_NET_TAIL_NOTE = "User networking and p99: QEMU's host forward listens with a backlog of 1 (libslirp's listen(s, 1)), so of wrk's simultaneous connects (32 or 256) the host kernel admits about two per retransmission of the client's first segment (0.2, 0.4, 0.8, 1.6 … s): a connection's first request waits there for 0.2–7 s while the guest never sees it, some connections never get in within the run, and wrk's coordinated-omission correction (stats_correct) turns each such wait into a run of synthetic samples down to its request interval: that is the ≈ 430 ms p99 of some user-net runs (a packet capture of such a run: guest turnaround p99.9 58 ms, max 172 ms under load; `bench/pcap-http.mjs`). Tap rows have no host forward and no such tail (a tail there is queueing in the guest or the host's scheduling).";
const KV_VALUE_BYTES = 64;
/** Large values: 1 MiB each, written over KV_BIG_KEYS keys again and again
 *  on a 96 MiB disk (so the log wraps and compacts within the run), 4 connections. */
const KV_BIG_BYTES = 1 << 20;
const KV_BIG_KEYS = 40;
const KV_BIG_DISK = "96M";
const KV_BIG_CONNECTIONS = 4;

/** One measure over the rounds: Skiff, Linux and the per-round ratio Skiff / Linux. */
export interface Measure {
  name: string;
  unit: string;
  /** true when more is better (requests/s), false for latencies. */
  higherIsBetter: boolean;
  skiff: Summary | null;
  linux: Summary | null;
  ratio: Summary | null;
  /** Why a side has no number (e.g. "no kv store in the Linux guest"). */
  linuxNote?: string;
}

export interface HttpResult {
  rounds: number;
  machine: Machine;
  memory: string;
  wrkSeconds: number;
  wrkArgs: string;
  restWrkArgs: string;
  file: { path: string; bytes: number };
  linux: boolean;
  measures: Measure[];
  /** Per round, per server: what wrk reported, for the JSON record. */
  runs: { round: number; kind: Kind; what: string; rps: number | null; p50Ms: number | null; p99Ms: number | null; requests: number | null; errors: number; non2xx: number }[];
  notes: string[];
}

type Key = "httpRps" | "httpP50" | "httpP99" | "kvPutRps" | "kvPutP99" | "kvGetRps" | "kvGetP99" | "upP50" | "upP99" |
  "kvBigPutRps" | "kvBigPutP99" | "kvBigGetRps" | "kvBigGetP99";

/** kvOnly: just the kv measures (`--only kv`), 64-byte and 1 MiB values. */
export async function runHttp(root: string, io: IO, opts: { rounds: number; machine: Machine; wrkSeconds: number; memory: string; linux: boolean; kvOnly?: boolean }): Promise<HttpResult> {
  io.out(`http: building apps/httpd (site embedded: index.html, ${INDEX_HTML.length} bytes) and apps/kv`);
  const httpd = await buildSkiffHttpd(root, io);
  const kv = await buildSkiffKv(root, io);
  let g: LinuxGuest | null = null;
  let initrd: string | undefined;
  if (opts.linux) {
    g = ensureLinuxGuest(root, io);
    initrd = linuxHttpInitramfs(root, g, ensureNginxGuest(root, io, g).initramfs);
  }
  const scratch = join(root, "build", "bench", "http");
  const scripts = kvScripts(scratch, KV_VALUE_BYTES);
  const big = kvScripts(scratch, KV_BIG_BYTES, KV_BIG_KEYS);
  const secs = opts.wrkSeconds;
  const restSecs = Math.max(2, Math.round(secs / 2));
  const vals: Record<Kind, Record<Key, (number | null)[]>> = { skiff: {} as Record<Key, (number | null)[]>, linux: {} as Record<Key, (number | null)[]> };
  const runs: HttpResult["runs"] = [];
  const notes: string[] = [];
  const put = (kind: Kind, k: Key, v: number | null) => { (vals[kind][k] ??= []).push(v); };
  // A run counts when at most 1 % of its answers were not 2xx/3xx (the JSON keeps the counts).
  const ok = (w: WrkResult) => w.rps !== null && w.requests !== null && w.non2xx <= w.requests / 100;
  const record = (round: number, kind: Kind, what: string, w: WrkResult) => {
    runs.push({ round, kind, what, rps: w.rps, p50Ms: w.p50Ms, p99Ms: w.p99Ms, requests: w.requests, errors: w.errors, non2xx: w.non2xx });
    io.out(`    ${kind} ${what}: ${w.rps?.toFixed(0) ?? "FAIL"} req/s, p50 ${w.p50 ?? "n/a"}, p99 ${w.p99 ?? "n/a"}` +
      `${w.errors ? `, ${w.errors} socket errors` : ""}${w.non2xx ? `, ${w.non2xx} non-2xx` : ""}${w.rps === null ? ` (${w.raw.trim().slice(0, 200)})` : ""}`);
  };
  const common = { network: "user" as const, machine: opts.machine, memory: opts.memory, g, linuxInitrd: initrd, readyLimitMs: 120000, scratch };

  for (let round = 0; round < opts.rounds; round++) {
    io.out(`  round ${round + 1}/${opts.rounds}`);
    const order: Kind[] = !opts.linux ? ["skiff"] : round % 2 ? ["linux", "skiff"] : ["skiff", "linux"];
    for (const kind of order) {
      if (opts.kvOnly && kind === "linux") continue;
      // The static file and the uptime request: one guest.
      if (!opts.kvOnly) {
      const s = await startServer({ ...common, kind, skiffElf: httpd.elf, lifeMs: 120000 + (secs + restSecs + 60) * 1000 });
      try {
        if (s.firstHttpMs === null) {
          io.out(`    ${kind}: no HTTP answer (ready ${s.readyMs === null ? "never" : s.readyMs.toFixed(0) + " ms"}): ${s.q.serial().slice(-300)}`);
          for (const k of ["httpRps", "httpP50", "httpP99", "upP50", "upP99"] as Key[]) put(kind, k, null);
        } else {
          const w = await runWrk(`${s.web}/index.html`, secs, [], { connections: HTTP_CONNECTIONS });
          record(round, kind, "httpd /index.html", w);
          put(kind, "httpRps", ok(w) ? w.rps : null); put(kind, "httpP50", ok(w) ? w.p50Ms : null); put(kind, "httpP99", ok(w) ? w.p99Ms : null);
          const u = await runWrk(`${s.api}${s.uptimePath}`, restSecs, [], { connections: 1, headers: s.apiHeaders });
          record(round, kind, `GET ${s.uptimePath}`, u);
          put(kind, "upP50", ok(u) ? u.p50Ms : null); put(kind, "upP99", ok(u) ? u.p99Ms : null);
        }
      } finally {
        await s.stop();
      }
      }
      if (kind === "linux") continue;
      // kv: a fresh disk, writes then reads of what was written.
      const k = await startServer({ ...common, kind, app: "kv", skiffElf: kv.elf, lifeMs: 120000 + (2 * secs + 60) * 1000 });
      try {
        if (k.firstHttpMs === null) {
          io.out(`    kv: not ready: ${k.q.serial().slice(-300)}`);
          for (const x of ["kvPutRps", "kvPutP99", "kvGetRps", "kvGetP99"] as Key[]) put(kind, x, null);
        } else {
          const w = await runWrk(`${k.web}/`, secs, [], { connections: HTTP_CONNECTIONS, script: scripts.put });
          record(round, kind, `kv PUT (${KV_VALUE_BYTES}-byte values)`, w);
          put(kind, "kvPutRps", ok(w) ? w.rps : null); put(kind, "kvPutP99", ok(w) ? w.p99Ms : null);
          // Keys k0..k(n-1) were answered 201; the last few in flight may not have been.
          const n = Math.max(1, Math.floor((w.requests ?? 1) * 0.9));
          const r = await runWrk(`${k.web}/`, secs, [], { connections: HTTP_CONNECTIONS, script: scripts.get(n) });
          record(round, kind, `kv GET over ${n} keys`, r);
          put(kind, "kvGetRps", ok(r) ? r.rps : null); put(kind, "kvGetP99", ok(r) ? r.p99Ms : null);
        }
      } finally {
        await k.stop();
      }
      if (!opts.kvOnly) continue;
      // kv with 1 MiB values on a small disk: rewrites of a few keys (the log compacts), then reads.
      const b = await startServer({ ...common, kind, app: "kv", diskSize: KV_BIG_DISK, skiffElf: kv.elf, lifeMs: 120000 + (2 * secs + 60) * 1000 });
      try {
        if (b.firstHttpMs === null) {
          io.out(`    kv: not ready: ${b.q.serial().slice(-300)}`);
          for (const x of ["kvBigPutRps", "kvBigPutP99", "kvBigGetRps", "kvBigGetP99"] as Key[]) put(kind, x, null);
        } else {
          const w = await runWrk(`${b.web}/`, secs, [], { connections: KV_BIG_CONNECTIONS, script: big.put });
          record(round, kind, `kv PUT (1 MiB values over ${KV_BIG_KEYS} keys)`, w);
          put(kind, "kvBigPutRps", ok(w) ? w.rps : null); put(kind, "kvBigPutP99", ok(w) ? w.p99Ms : null);
          const n = Math.min(KV_BIG_KEYS, Math.max(1, Math.floor((w.requests ?? 1) * 0.9)));
          const r = await runWrk(`${b.web}/`, secs, [], { connections: KV_BIG_CONNECTIONS, script: big.get(n) });
          record(round, kind, `kv GET over ${n} keys (1 MiB values)`, r);
          put(kind, "kvBigGetRps", ok(r) ? r.rps : null); put(kind, "kvBigGetP99", ok(r) ? r.p99Ms : null);
          notes.push(`round ${round + 1}: kv after the 1 MiB runs: ${(b.q.serial().match(/kv: compaction \d+ (started|done)[^\n]*/g) ?? ["no compaction pass logged"]).slice(-2).join("; ")}`);
        }
      } finally {
        await b.stop();
      }
    }
  }

  const nums = (xs: (number | null)[] | undefined) => (xs ?? []).filter((x): x is number => x !== null);
  const ratios = (k: Key) => {
    const a = vals.skiff[k] ?? [], b = vals.linux[k] ?? [];
    const out: number[] = [];
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== null && b[i] !== null && b[i]! > 0) out.push(a[i]! / b[i]!);
    return summarize(out);
  };
  const m = (name: string, unit: string, k: Key, higher: boolean, linuxNote?: string): Measure => ({
    name, unit, higherIsBetter: higher,
    skiff: summarize(nums(vals.skiff[k])), linux: opts.linux ? summarize(nums(vals.linux[k])) : null,
    ratio: opts.linux ? ratios(k) : null,
    linuxNote: linuxNote ?? (opts.linux ? undefined : "not run (add --vs linux)"),
  });
  const noKv = opts.linux ? "n/a (no kv store in the Linux reference guest)" : undefined;
  const bigMeasures = [
    m(`kv: PUT 1 MiB values over ${KV_BIG_KEYS} keys, writes/s (${KV_BIG_CONNECTIONS} connections, ${KV_BIG_DISK} disk, compacting)`, "req/s", "kvBigPutRps", true, noKv),
    m("kv: PUT 1 MiB latency p99", "ms", "kvBigPutP99", false, noKv),
    m(`kv: GET 1 MiB values, reads/s (${KV_BIG_CONNECTIONS} connections, streamed from disk)`, "req/s", "kvBigGetRps", true, noKv),
    m("kv: GET 1 MiB latency p99", "ms", "kvBigGetP99", false, noKv),
  ];
  const measures = opts.kvOnly ? [
    m(`kv: PUT new keys, writes/s (${HTTP_CONNECTIONS} connections, flushed before the answer)`, "req/s", "kvPutRps", true, noKv),
    m("kv: PUT latency p99", "ms", "kvPutP99", false, noKv),
    m(`kv: GET written keys, reads/s (${HTTP_CONNECTIONS} connections)`, "req/s", "kvGetRps", true, noKv),
    m("kv: GET latency p99", "ms", "kvGetP99", false, noKv),
    ...bigMeasures,
  ] : [
    m(`httpd: GET /index.html, requests/s (${HTTP_CONNECTIONS} connections)`, "req/s", "httpRps", true),
    m("httpd: latency p50", "ms", "httpP50", false),
    m("httpd: latency p99", "ms", "httpP99", false),
    m(`REST GET /os/uptime latency p50 (1 connection; Linux: CGI /cgi-bin/uptime)`, "ms", "upP50", false),
    m("REST GET /os/uptime latency p99", "ms", "upP99", false),
    m(`kv: PUT new keys, writes/s (${HTTP_CONNECTIONS} connections, flushed before the answer)`, "req/s", "kvPutRps", true, noKv),
    m("kv: PUT latency p99", "ms", "kvPutP99", false, noKv),
    m(`kv: GET written keys, reads/s (${HTTP_CONNECTIONS} connections)`, "req/s", "kvGetRps", true, noKv),
    m("kv: GET latency p99", "ms", "kvGetP99", false, noKv),
  ];
  if (opts.linux) {
    notes.push("Linux serves the file with Debian's nginx (one worker, keep-alive, sendfile, access log off: bench/linux/guest.ts NGINX_CONF); both keep wrk's connections open.");
    notes.push("The uptime request: Skiff's REST endpoint (port 8000, api.net=on, with the bearer token) answers from the kernel; in the Linux guest busybox httpd on port 8000 forks a shell for the CGI, which reads /proc/uptime: the nearest equivalent Linux has without a management agent.");
  }
  notes.push(USER_NET_TAIL_NOTE);
  return {
    rounds: opts.rounds, machine: opts.machine, memory: opts.memory, wrkSeconds: secs,
    wrkArgs: WRK_ARGS(secs, HTTP_CONNECTIONS).join(" "), restWrkArgs: WRK_ARGS(restSecs, 1).join(" "),
    file: { path: "/index.html", bytes: Buffer.byteLength(INDEX_HTML) }, linux: opts.linux, measures, runs, notes,
  };
}
