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
// (SKIFF_ELF=image.elf boots a given build instead; MACHINE=microvm another
// machine; NETWORK=user QEMU's user networking instead of tap. Per wrk run it also splits the CPU by QEMU thread (the vCPU's TCG
// thread runs guest code, helpers and MMIO dispatch; the main loop tap I/O
// and virtio-net's transmit half). PERF=dir: `perf record -g` of the QEMU
// process during each run into dir (read with perf report --no-children).
// INSNS=1: guest instructions per request, counted by a TCG plugin
// (bench/insn-count.c), an A/B measure a loaded host does not blur.
// INSNS=tbs: also per translated block, snapshots before and after each wrk
// run in build/bench/tbs-*.txt: `python3 bench/insn-profile.py IMAGE.elf
// before after requests` prints guest instructions per request by function
// (an image with function names: SKIFF_ELF of a build whose asc flags add --debug).
// CALLERS=hexaddr:hexaddr with INSNS=tbs: also which blocks ran just before
// those functions' entries (their callers), per snapshot in
// build/bench/tbs-*.callers.txt ("callee caller count", cumulative).
// QEMU_TRACE=ev1,ev2: those QEMU trace events logged to a file and counted per
// request, e.g. virtio_queue_notify,virtio_notify,apic_mem_writel,memory_region_ops_write.)
// Run: node_modules/.bin/esbuild bench/profile-http.ts --bundle --platform=node --format=esm --packages=external \
//        --outfile=build/profile-http.mjs && node build/profile-http.mjs [seconds=10] [connections=32,256] [--linux]
import { execFileSync, spawn } from "node:child_process";
import { writeFileSync, existsSync, copyFileSync, readFileSync, readdirSync, statSync, openSync, readSync, closeSync, mkdirSync, rmSync } from "node:fs";
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
/** utime + stime per QEMU thread name (ms), summed over threads of one name. */
function threadMs(pid: number): Map<string, number> {
  const m = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
      const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8").split(") ")[1].split(" ");
      m.set(name, (m.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) * 10);
    } catch { /* the thread ended */ }
  }
  return m;
}
const perfDir = process.env.PERF ?? "";
const traceEvents = (process.env.QEMU_TRACE ?? "").split(",").filter((e) => e.length > 0);
const traceFile = join(root, "build", `profile-http-trace-${process.pid}.log`);
if (traceEvents.length) { mkdirSync(join(root, "build"), { recursive: true }); rmSync(traceFile, { force: true }); }
/** Counts of each traced event in the trace file from byte offset `from`. */
function traceCounts(from: number): Map<string, number> {
  const size = statSync(traceFile).size;
  const buf = Buffer.alloc(size - from);
  const fd = openSync(traceFile, "r");
  readSync(fd, buf, 0, buf.length, from);
  closeSync(fd);
  const m = new Map<string, number>();
  for (const line of buf.toString("latin1").split("\n")) {
    const a = /^(?:\d+@[\d.]+:)?([a-z0-9_]+)/.exec(line);
    if (!a) continue;
    // memory_region_ops_*: count by region name too (which device's registers).
    const r = /name '([^']*)'/.exec(line) ?? /mr [^ ]+ (\S+)/.exec(line);
    const key = a[1].startsWith("memory_region_ops") && r ? `${a[1]}[${r[1]}]` : a[1];
    m.set(key, (m.get(key) ?? 0) + 1);
  }
  return m;
}
// INSNS=1: the guest instructions per request, counted by a TCG plugin
// (bench/insn-count.c, built here): the same for the same build however
// loaded the host is, unlike CPU time.
const insnFile = join(root, "build", "bench", `insns-${process.pid}.txt`);
const insnArgs: string[] = [];
if (process.env.INSNS) {
  mkdirSync(join(root, "build", "bench"), { recursive: true });
  const so = join(root, "build", "bench", "insn-count.so");
  execFileSync("gcc", ["-O2", "-shared", "-fPIC", "-o", so, join(root, "bench", "insn-count.c"), "-lpthread"]);
  insnArgs.push("-plugin", `${so},out=${insnFile}` + (process.env.INSNS === "tbs" ? `,tbs=${insnFile}.tbs` : "")
    + (process.env.INSNS === "tbs" && process.env.CALLERS ? `,callers=${process.env.CALLERS}` : ""));
}
/** INSNS=tbs: the plugin's per-block counts now, copied to file (bench/insn-profile.py reads two). */
async function tbSnapshot(file: string): Promise<void> {
  if (process.env.INSNS !== "tbs") return;
  writeFileSync(`${insnFile}.tbs.req`, "");
  for (let i = 0; i < 500 && existsSync(`${insnFile}.tbs.req`); i++) await sleep(20);
  copyFileSync(`${insnFile}.tbs`, file);
  if (existsSync(`${insnFile}.tbs.callers`)) copyFileSync(`${insnFile}.tbs.callers`, file.replace(/\.txt$/, "") + ".callers.txt");
}
const insns = (): number => { try { return Number(readFileSync(insnFile, "utf8").trim()); } catch { return NaN; } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const machine = (process.env.MACHINE ?? "q35") as "q35" | "microvm";
const io = { out: (s: string) => console.log(s), err: (s: string) => console.error(s), cwd: root } as never;
const g = kinds.includes("linux") ? ensureLinuxGuest(root, io) : null;
const nginx = g ? ensureNginxGuest(root, io, g) : null;
// SKIFF_ELF=path: boot that image instead of building apps/httpd (an A/B of two builds).
const skiff = process.env.SKIFF_ELF ? { elf: process.env.SKIFF_ELF } :
  await build({ app: join(root, "apps", "httpd"), outDir: join(root, "build", "profile-httpd"), embed: siteDir(root), quiet: true }, io);
for (const kind of kinds) {
const s = await startServer({
  kind, network: (process.env.NETWORK ?? "tap") as "tap" | "user", machine, memory: "256M", skiffElf: skiff.elf, g, linuxInitrd: kind === "linux" ? nginx!.initramfs : undefined,
  readyLimitMs: 120000, lifeMs: 120000 + conns.length * (secs + 60) * 1000, tag: `prh${process.pid % 10000}`,
  // Thread names (CPU 0/TCG, the main loop's qemu-system-x86, worker) for the split by thread.
  qemuArgs: ["-name", "prh,debug-threads=on", ...insnArgs, ...(process.env.QEMU_EXTRA ? process.env.QEMU_EXTRA.split(" ") : []), ...(traceEvents.length ? [...traceEvents.flatMap((e) => ["-trace", `enable=${e}`]), "-D", traceFile] : [])],
});
function prof(): Map<string, number> {
  if (kind === "linux") return new Map();
  const cmd = [...s.prefix, "curl", "-s", "-H", `Authorization: Bearer ${BENCH_API_TOKEN}`, `${s.api}/metrics`];   // prefix: the namespace's, if any
  const out = execFileSync(cmd[0], cmd.slice(1), { encoding: "utf8" });
  const m = new Map<string, number>();
  for (const line of out.split("\n")) {
    const a = /^skiff_prof\{part="([a-z0-9_]+)"\} (\S+)/.exec(line);
    if (a) m.set(a[1], Number(a[2]));
    const g = /^skiff_heap_collections_total (\S+)/.exec(line);
    if (g) m.set("gc_runs", Number(g[1]));
    const h = /^skiff_heap_used_bytes (\S+)/.exec(line);
    if (h) m.set("heap_used", Number(h[1]));
    const n = /^(skiff_(?:net_[a-z_]+(?:\{[^}]*\})?|heap_collection_seconds_total|sched_[a-z_]+_total|http_connections_opened_total)) (\S+)/.exec(line);
    if (n) m.set(n[1], Number(n[2]));
  }
  return m;
}
try {
  if (s.firstHttpMs === null) throw new Error("no answer");
  for (const c of conns) {
    const a = prof();
    const c0 = cpuMs(s.q.pid);
    const th0 = threadMs(s.q.pid);
    const tr0 = traceEvents.length ? statSync(traceFile).size : 0;
    let perf: ReturnType<typeof spawn> | null = null;
    let perfDone: Promise<unknown> | null = null;
    if (perfDir) {
      mkdirSync(perfDir, { recursive: true });
      perf = spawn("perf", ["record", "-g", "-q", "-p", String(s.q.pid), "-o", join(perfDir, `perf-${kind}-${machine}-c${c}.data`), "--", "sleep", String(secs)], { stdio: "ignore" });
      perfDone = new Promise((r) => perf!.on("close", r));     // listened for at once: it may end before wrk does
    }
    if (insnArgs.length) await sleep(100);                 // the plugin writes its count every 20 ms
    await tbSnapshot(join(root, "build", "bench", `tbs-${kind}-c${c}-before.txt`));
    const i0 = insns();
    const w = await runWrk(`${s.web}/index.html`, secs, s.prefix, { connections: c });
    const cpu = cpuMs(s.q.pid) - c0;
    if (insnArgs.length) await sleep(100);
    const i1 = insns();
    await tbSnapshot(join(root, "build", "bench", `tbs-${kind}-c${c}-after.txt`));
    const th1 = threadMs(s.q.pid);
    if (perfDone) await perfDone;
    const b = prof();
    const d = (k: string) => (b.get(k) ?? 0) - (a.get(k) ?? 0);
    console.log(`${kind} -c${c}: ${w.rps?.toFixed(0)} req/s, p50 ${w.p50}, p99 ${w.p99}, errors ${w.errors}; ` +
      `QEMU CPU ${cpu} ms for ${w.requests} requests: ${w.requests ? (cpu * 1000 / w.requests).toFixed(1) : "?"} µs per request`);
    if (w.requests) {
      console.log("  QEMU CPU µs per request by thread: " + [...th1.keys()].map((k) => [k, (th1.get(k)! - (th0.get(k) ?? 0)) * 1000 / w.requests!] as const)
        .filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", "));
      if (insnArgs.length) console.log(`  guest instructions per request (TCG plugin): ${((i1 - i0) / w.requests!).toFixed(0)}`);
      if (traceEvents.length) {
        const t = traceCounts(tr0);
        console.log("  QEMU events per request: " + [...t.entries()].sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k} ${(v / w.requests!).toFixed(3)}`).join(", "));
      }
    }
    const counts = [...b.keys()].filter((k) => k.startsWith("skiff_") && d(k) !== 0 && !k.endsWith("_bytes") && !k.endsWith("_connections"));
    if (w.requests) console.log("  per request: " + counts.map((k) => k.endsWith("_seconds_total") ? `${k.replace(/^skiff_(net_)?/, "")} ${(d(k) / w.requests! * 1e6).toFixed(2)} µs` : `${k.replace(/^skiff_(net_)?/, "")} ${(d(k) / w.requests!).toFixed(3)}`).join(", "));
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
