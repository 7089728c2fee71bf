// bench/core.ts — issue #3's core benchmarks (`--only core`): timer accuracy
// (requested vs observed sleep: lateness median and p99), scheduler cost per
// task switch, pages per second through allocPages/freePages (guest clock,
// bench/apps/corebench), and host CPU used by an idle guest: QEMU's
// /proc/PID/stat utime+stime over a window of wall time while nothing talks
// to it, with the same services up on both sides — Skiff's apps/httpd (port
// 80) with its REST endpoint on the network (8000), beside the Linux guest
// with nginx (80) and busybox httpd (8000), as in the HTTP suites.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "../cli/lib/build.js";
import type { IO } from "../cli/lib/log.js";
import type { Machine } from "../cli/lib/qemu.js";
import { launch, type Launched } from "./lib/launch.js";
import { fmt, summarize, type Summary } from "./lib/stats.js";
import { ensureLinuxGuest, ensureNginxGuest } from "./linux/guest.js";
import { buildSkiffHttpd, linuxHttpInitramfs, startServer, type Kind } from "./linux/servers.js";

export interface SleepResult { reqUs: number; n: number; medianUs: number; p99Us: number; maxUs: number }

export interface CoreMachineResult {
  machine: Machine;
  sleeps: SleepResult[];
  taskSwitchNs: Summary | null;
  pagesPerS: Summary | null;
  runs16PerS: Summary | null;
  timerArmCancelNs: Summary | null;
  /** QEMU CPU seconds per wall second while the guest idles (1.0 = one host core). */
  skiffIdleCpu: Summary | null;
  linuxIdleCpu: Summary | null;
  /** Why there is no Linux figure, when there is none. */
  linuxNote: string | null;
  failures: number;
}

export interface CoreResult {
  rounds: number;
  idleSeconds: number;
  memory: string;
  clkTck: number;
  linuxKernel: string | null;
  machines: CoreMachineResult[];
}

/** Clock ticks per second for /proc/PID/stat (sysconf(_SC_CLK_TCK)). */
function clkTck(): number {
  try { return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100; } catch { return 100; }
}

/** utime + stime of a process, all threads, in clock ticks (proc(5) fields 14, 15). */
export function cpuTicks(pid: number): number | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces: count fields after its ')'.
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]);
  } catch { return null; }
}

/** Nearest-rank percentile of sorted values. */
function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

interface Round {
  late: Map<number, number[]>;
  switchNs?: number; pagesPerS?: number; runs16PerS?: number; armCancelNs?: number;
}

export function parseCorebench(serial: string): Round {
  const r: Round = { late: new Map() };
  for (const m of serial.matchAll(/bench: sleep req_us=(\d+) late_ns=([\d,]+)/g)) {
    r.late.set(Number(m[1]), m[2].split(",").filter(Boolean).map(Number));
  }
  const two = (name: string, count: string) => new RegExp(`bench: ${name} ${count}=(\\d+) ns=(\\d+)`).exec(serial);
  const ts = two("task_switch", "n"); if (ts) r.switchNs = Number(ts[2]) / Number(ts[1]);
  const pa = two("page_alloc_free", "pages"); if (pa) r.pagesPerS = Number(pa[1]) / (Number(pa[2]) / 1e9);
  const p16 = two("page_alloc_free_16", "runs"); if (p16) r.runs16PerS = Number(p16[1]) / (Number(p16[2]) / 1e9);
  const ac = two("timer_arm_cancel", "n"); if (ac) r.armCancelNs = Number(ac[2]) / Number(ac[1]);
  return r;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU share of QEMU over `seconds` of wall time, `settleMs` from now. */
async function idleShare(q: Launched, settleMs: number, seconds: number, tck: number): Promise<number | null> {
  await sleep(settleMs);
  const a = cpuTicks(q.pid);
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const b = cpuTicks(q.pid);
  const wall = (performance.now() - t0) / 1000;
  if (a === null || b === null || q.child.exitCode !== null) return null;
  return (b - a) / tck / wall;
}

/** Boots one server guest (user networking), waits for its first HTTP answer,
 *  then measures its idle share; null if it never answered. */
async function idleServer(kind: Kind, machine: Machine, memory: string, elf: string, g: ReturnType<typeof ensureLinuxGuest> | null, initrd: string | undefined, seconds: number, tck: number): Promise<number | null> {
  const s = await startServer({ kind, network: "user", machine, memory, skiffElf: elf, g, linuxInitrd: initrd, readyLimitMs: 60000, lifeMs: 120000 + seconds * 1000 });
  try {
    if (s.firstHttpMs === null) return null;
    return await idleShare(s.q, IDLE_SETTLE_MS, seconds, tck);
  } finally {
    await s.stop();
  }
}

/** From the first HTTP answer to the start of the idle window, both guests. */
export const IDLE_SETTLE_MS = 2000;

export async function runCore(root: string, io: IO, opts: { rounds: number; machines: Machine[]; idleSeconds: number; linux: boolean; memory: string }): Promise<CoreResult> {
  io.out("core: building bench/apps/corebench and apps/httpd");
  const app = await build({ app: join(root, "bench", "apps", "corebench"), outDir: join(root, "build", "bench", "corebench"), quiet: true }, io);
  const httpd = await buildSkiffHttpd(root, io);
  const tck = clkTck();
  const g = opts.linux ? ensureLinuxGuest(root, io) : null;
  const initrd = g ? linuxHttpInitramfs(root, g, ensureNginxGuest(root, io, g).initramfs) : undefined;
  const machines: CoreMachineResult[] = [];
  for (const machine of opts.machines) {
    const rounds: Round[] = [];
    const skiffIdle: number[] = [];
    const linuxIdle: number[] = [];
    let failures = 0;
    const linuxNote = !g ? "not run (add --vs linux)" : null;
    for (let i = 0; i < opts.rounds; i++) {
      const q = launch({ kernel: app.elf, machine, memory: opts.memory, timeoutMs: 120000 });
      const exit = await q.exited;
      const r = parseCorebench(q.serial());
      if (exit.status !== 0 || r.switchNs === undefined) { failures++; io.out(`  ${machine} round ${i + 1}: corebench failed (status ${exit.status})`); }
      else rounds.push(r);

      // Idle: the same QEMU flags and services for both guests (HTTP on 80,
      // the REST endpoint or its stand-in on 8000, user networking with both
      // forwarded), from IDLE_SETTLE_MS after the first HTTP answer.
      const sv = await idleServer("skiff", machine, opts.memory, httpd.elf, null, undefined, opts.idleSeconds, tck);
      if (sv !== null) skiffIdle.push(sv); else failures++;
      let lv: number | null = null;
      if (g && !linuxNote) {
        lv = await idleServer("linux", machine, opts.memory, httpd.elf, g, initrd, opts.idleSeconds, tck);
        if (lv !== null) linuxIdle.push(lv);
      }
      io.out(`  ${machine} round ${i + 1}/${opts.rounds}: task switch ${fmt(r.switchNs, 0)} ns, ${fmt(r.pagesPerS, 0)} pages/s, ` +
        `idle CPU Skiff ${fmt(skiffIdle.at(-1) !== undefined ? skiffIdle.at(-1)! * 100 : null, 2)} %` +
        (g && !linuxNote ? `, Linux ${fmt(lv !== null ? lv * 100 : null, 2)} %` : ""));
    }
    const sleeps: SleepResult[] = [];
    const reqs = [...new Set(rounds.flatMap((r) => [...r.late.keys()]))].sort((a, b) => a - b);
    for (const req of reqs) {
      const v = rounds.flatMap((r) => r.late.get(req) ?? []).sort((a, b) => a - b);
      if (v.length) sleeps.push({ reqUs: req, n: v.length, medianUs: pct(v, 50) / 1000, p99Us: pct(v, 99) / 1000, maxUs: v[v.length - 1] / 1000 });
    }
    const pick = (f: (r: Round) => number | undefined) => summarize(rounds.map(f).filter((x): x is number => x !== undefined));
    machines.push({
      machine, sleeps,
      taskSwitchNs: pick((r) => r.switchNs),
      pagesPerS: pick((r) => r.pagesPerS),
      runs16PerS: pick((r) => r.runs16PerS),
      timerArmCancelNs: pick((r) => r.armCancelNs),
      skiffIdleCpu: summarize(skiffIdle),
      linuxIdleCpu: summarize(linuxIdle),
      linuxNote: linuxNote ?? (linuxIdle.length ? null : "the Linux guest did not reach READY"),
      failures,
    });
  }
  return {
    rounds: opts.rounds, idleSeconds: opts.idleSeconds, memory: opts.memory, clkTck: tck,
    linuxKernel: g ? g.kernelPackage : null, machines,
  };
}

function cell(s: Summary | null, digits = 0, scale = 1): string {
  if (!s) return "n/a";
  const f = (x: number) => fmt(x * scale, digits);
  return s.n > 1 ? `${f(s.median)} (${f(s.min)}–${f(s.max)})` : f(s.median);
}

/** The docs/BENCHMARKS.md section (marked `core`). */
export function coreMarkdown(hostLine: string, r: CoreResult): string {
  const perMachine = r.machines.map((m) => {
    const sleeps = m.sleeps.map((s) => `| ${m.machine} | ${s.reqUs / 1000} ms | ${s.n} | ${fmt(s.medianUs, 0)} µs | ${fmt(s.p99Us, 0)} µs | ${fmt(s.maxUs, 0)} µs |`);
    return sleeps.join("\n");
  }).join("\n");
  const core = r.machines.map((m) =>
    `| ${m.machine} | ${cell(m.taskSwitchNs)} | ${cell(m.pagesPerS)} | ${cell(m.runs16PerS)} | ${cell(m.timerArmCancelNs)} | ${m.failures} |`).join("\n");
  const idle = r.machines.map((m) => {
    const ratio = m.skiffIdleCpu && m.linuxIdleCpu && m.linuxIdleCpu.median > 0 ? fmt(m.skiffIdleCpu.median / m.linuxIdleCpu.median, 3) : "n/a";
    return `| ${m.machine} | ${cell(m.skiffIdleCpu, 2, 100)} | ${m.linuxIdleCpu ? cell(m.linuxIdleCpu, 2, 100) : `n/a (${m.linuxNote})`} | ${ratio} |`;
  }).join("\n");
  return `## Core: timers, scheduler, pages, idle CPU (issue #3)

${hostLine}

Guest: \`bench/apps/corebench\` (\`-m ${r.memory}\`), timed by the guest's
clock; ${r.rounds} round(s) per machine.

- *Timer accuracy*: a task asks to sleep R and records how late it woke
  (woken at − (asked at + R)); 100 sleeps per R per round, all rounds pooled.
- *Task switch*: two tasks waking each other through the event loop, total time / switches.
- *Pages/s*: \`allocPages(1)\` + \`freePages\` pairs per second (each page is
  zeroed on allocation); 16-page runs likewise.
- *Idle CPU*: QEMU's utime+stime from \`/proc/PID/stat\` (${r.clkTck} ticks/s)
  over ${r.idleSeconds} s of wall time, as a share of one host core, with the
  same services up on both sides and nothing talking to them. Skiff:
  \`apps/httpd\` on port 80 (site embedded) with the REST endpoint on the
  network (\`api.net=on\`, port 8000), its network configured by DHCP. Linux:
  ${r.linuxKernel ?? "the reference guest"} with nginx on port 80 and busybox
  httpd (the uptime CGI) on 8000, as in the HTTP suites. Both measured from
  ${IDLE_SETTLE_MS / 1000} s after their first HTTP answer; same QEMU flags, user-mode
  virtio-net with both ports forwarded. One tick is
  ${fmt(100 / r.clkTck / r.idleSeconds, 2)} % of the window, so small figures
  are coarse; a ratio over a zero Linux figure is n/a.

| machine | requested | sleeps | late, median | late, p99 | late, max |
| --- | --- | --- | --- | --- | --- |
${perMachine}

| machine | task switch (ns) | pages/s (1-page alloc+free) | 16-page runs/s | timer arm+cancel (ns) | failed runs |
| --- | --- | --- | --- | --- | --- |
${core}

| machine | idle CPU, Skiff: httpd + REST endpoint (% of a core) | idle CPU, Linux: nginx + busybox httpd (% of a core) | Skiff / Linux |
| --- | --- | --- | --- |
${idle}
`;
}

/** Replaces (or appends) the core section of docs/BENCHMARKS.md's text. */
export function coreSection(existing: string, body: string): string {
  const begin = "<!-- bench:core:begin -->";
  const end = "<!-- bench:core:end -->";
  const block = `${begin}\n${body.trim()}\n${end}`;
  const a = existing.indexOf(begin);
  const b = existing.indexOf(end);
  if (a >= 0 && b > a) return existing.slice(0, a) + block + existing.slice(b + end.length);
  return existing.trimEnd() + "\n\n" + block + "\n";
}
