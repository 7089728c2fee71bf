// bench/profile-http.ts — what a small-file request costs, measured so that a
// loaded host does not change it much: boots apps/httpd (q35, -m 256M, tap in
// a namespace) and, with --linux, the Linux guest's nginx the same way, and
// for each wrk run (-t1, 10 s, each connection count) prints the QEMU
// process's CPU time (user + system, /proc/PID/stat) per request — the
// emulated guest and its devices together. When the Skiff image carries
// profiling marks (skiff_prof in /metrics: scheduler idle/kernel time and TSC
// marks around the stack's poll, GC, parsing, the handler, serializing,
// socket writes, accept and close; added by hand, not in the tree) their
// differences per request are printed too: those are guest wall time, which
// a loaded host inflates.
// (SKIFF_ELF=image.elf boots a given build instead.)
// Run: node_modules/.bin/esbuild bench/profile-http.ts --bundle --platform=node --format=esm --packages=external \
//        --outfile=build/profile-http.mjs && node build/profile-http.mjs [seconds=10] [connections=32,256] [--linux]
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "../cli/lib/build.js";
import { runWrk } from "./lib/http.js";
import { siteDir, startServer, BENCH_API_TOKEN, type Kind } from "./linux/servers.js";
import { ensureLinuxGuest, ensureNginxGuest } from "./linux/guest.js";

const root = process.cwd();
const secs = Number(process.argv[2] ?? 10);
const conns = (process.argv[3] ?? "32,256").split(",").map(Number);
const kinds: Kind[] = process.argv.includes("--linux") ? ["skiff", "linux"] : ["skiff"];
/** utime + stime of pid, in ms (clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
}
const io = { out: (s: string) => console.log(s), err: (s: string) => console.error(s), cwd: root } as never;
const g = kinds.includes("linux") ? ensureLinuxGuest(root, io) : null;
const nginx = g ? ensureNginxGuest(root, io, g) : null;
// SKIFF_ELF=path: boot that image instead of building apps/httpd (an A/B of two builds).
const skiff = process.env.SKIFF_ELF ? { elf: process.env.SKIFF_ELF } :
  await build({ app: join(root, "apps", "httpd"), outDir: join(root, "build", "profile-httpd"), embed: siteDir(root), quiet: true }, io);
for (const kind of kinds) {
const s = await startServer({
  kind, network: "tap", machine: "q35", memory: "256M", skiffElf: skiff.elf, g, linuxInitrd: kind === "linux" ? nginx!.initramfs : undefined,
  readyLimitMs: 120000, lifeMs: 120000 + conns.length * (secs + 60) * 1000, tag: `prh${process.pid % 10000}`,
});
function prof(): Map<string, number> {
  if (kind === "linux") return new Map();
  const out = execFileSync(s.prefix[0], [...s.prefix.slice(1), "curl", "-s", "-H", `Authorization: Bearer ${BENCH_API_TOKEN}`, `${s.api}/metrics`], { encoding: "utf8" });
  const m = new Map<string, number>();
  for (const line of out.split("\n")) {
    const a = /^skiff_prof\{part="([a-z0-9_]+)"\} (\S+)/.exec(line);
    if (a) m.set(a[1], Number(a[2]));
    const g = /^skiff_heap_collections_total (\S+)/.exec(line);
    if (g) m.set("gc_runs", Number(g[1]));
    const h = /^skiff_heap_used_bytes (\S+)/.exec(line);
    if (h) m.set("heap_used", Number(h[1]));
    const n = /^(skiff_(?:net_[a-z_]+(?:\{[^}]*\})?|heap_collection_seconds_total|http_connections_opened_total)) (\S+)/.exec(line);
    if (n) m.set(n[1], Number(n[2]));
  }
  return m;
}
try {
  if (s.firstHttpMs === null) throw new Error("no answer");
  for (const c of conns) {
    const a = prof();
    const c0 = cpuMs(s.q.pid);
    const w = await runWrk(`${s.web}/index.html`, secs, s.prefix, { connections: c });
    const cpu = cpuMs(s.q.pid) - c0;
    const b = prof();
    const d = (k: string) => (b.get(k) ?? 0) - (a.get(k) ?? 0);
    console.log(`${kind} -c${c}: ${w.rps?.toFixed(0)} req/s, p50 ${w.p50}, p99 ${w.p99}, errors ${w.errors}; ` +
      `QEMU CPU ${cpu} ms for ${w.requests} requests: ${w.requests ? (cpu * 1000 / w.requests).toFixed(1) : "?"} µs per request`);
    const counts = [...b.keys()].filter((k) => k.startsWith("skiff_") && d(k) !== 0 && !k.endsWith("_bytes") && !k.endsWith("_connections"));
    if (w.requests) console.log("  per request: " + counts.map((k) => `${k.replace(/^skiff_(net_)?/, "")} ${(d(k) / w.requests!).toFixed(3)}`).join(", "));
    if (!b.has("uptime_ns")) continue;
    const reqs = d("requests") || 1;
    console.log(`  guest: ${reqs} requests, ${d("accepts")} accepts`);
    const up = d("uptime_ns");
    console.log(`  wall ${(up / 1e6).toFixed(0)} ms: idle ${(100 * d("idle_ns") / up).toFixed(1)} %, kernel (irq+services+timers) ${(100 * d("kernel_ns") / up).toFixed(1)} %, passes ${d("passes")}, halts ${d("halts")}, gc runs ${d("gc_runs")}`);
    const parts = ["netservice", "stackpoll", "gc", "pump", "httpfeed", "parse", "handler", "serialize", "tcpwrite", "accept", "close"];
    console.log("  µs per request: " + parts.map((k) => `${k} ${(d(k) / 1000 / reqs).toFixed(2)}`).join(", ") +
      `; busy (uptime − idle) ${((up - d("idle_ns")) / 1000 / reqs).toFixed(2)}`);
  }
} finally {
  await s.stop();
}
}
