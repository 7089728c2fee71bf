// bench/build.ts — issue #13's build benchmark (`--only build`): how long a
// one-line edit takes to become a booted guest answering HTTP, for the release
// and the dev profile (`skiff build --dev`), on an httpd-sized app.
//   A copy of apps/httpd (build/bench/build-app/httpd) is built once per
//   profile (cold, every cache empty), then each round makes two one-line
//   edits, each followed by a rebuild, a boot and a GET / polled until 200:
//     code    a number in main (server.maxConnections): only code changes;
//     string  a message's text, one character longer each round: the static
//             data after it moves, so code referring to it changes too.
//   A debug build (--debug) is timed cold, once.
//   Wall time and the CPU time of the build's child processes (asc, wasm2c,
//   gcc, ld: user + system) are recorded; the host may be shared, CPU time is
//   the steadier figure.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadavg } from "node:os";
import { build } from "../cli/lib/build.js";
import type { IO } from "../cli/lib/log.js";
import type { Machine } from "../cli/lib/qemu.js";
import { freePort, firstAnswer } from "./lib/http.js";
import { launch, netArgs } from "./lib/launch.js";
import { summarize, type Summary } from "./lib/stats.js";

export type Profile = "release" | "dev" | "debug";
export type EditKind = "code" | "string";

export interface BuildRound {
  profile: Profile;
  edit: EditKind | "cold";
  round: number;
  buildMs: number;
  /** CPU time of the build's child processes (user + system). */
  buildCpuMs: number;
  /** From QEMU's start to the first 200 answer. */
  answerMs: number | null;
  /** buildMs + answerMs: edit saved → guest answering. */
  totalMs: number | null;
  /** Build steps that ran (not cached), with their wall time. */
  steps: Record<string, number>;
}

export interface BuildProfileResult {
  profile: Profile;
  imageBytes: number;
  cold: BuildRound;
  code: { buildMs: Summary | null; buildCpuMs: Summary | null; answerMs: Summary | null; totalMs: Summary | null };
  string: { buildMs: Summary | null; buildCpuMs: Summary | null; answerMs: Summary | null; totalMs: Summary | null };
}

export interface BuildBenchResult {
  rounds: number;
  /** 1-minute load average before and after: the host may be shared. */
  loadavg: [number, number];
  machine: Machine;
  app: string;
  appLines: number;
  profiles: BuildProfileResult[];
  raw: BuildRound[];
  target: { name: string; target: string; measured: string; met: boolean | null };
}

/** User + system CPU time of this process's reaped children, in ms. */
function childCpuMs(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // After the command name: field 3 is state, so cutime (16) and cstime (17) are at 13 and 14.
  return (Number(fields[13]) + Number(fields[14])) * 10;   // USER_HZ is 100 on Linux
}

function stepTimes(lines: string[]): Record<string, number> {
  const steps: Record<string, number> = {};
  for (const l of lines) {
    const m = /^\s+(\w+)\s+\S+\s+[\d.]+ \w+\s+([\d.]+) (ms|s)$/.exec(l);
    if (m) steps[m[1]] = Number(m[2]) * (m[3] === "s" ? 1000 : 1);
  }
  return steps;
}

/** The app's main.ts with the edits so far: each edit changes one line from
 *  the previous build's source. */
function editedSource(original: string, maxConnections: number, bangs: number): string {
  const src = original
    .replace("server.maxConnections = 64;", `server.maxConnections = ${maxConnections};`)
    .replace('println("httpd: no site ("', `println("httpd: no site${"!".repeat(bangs)} ("`);
  if (maxConnections !== 64 && !src.includes(`server.maxConnections = ${maxConnections};`)) throw new Error("bench build: the code edit no longer applies to apps/httpd/main.ts");
  if (bangs > 0 && !src.includes(`no site${"!".repeat(bangs)} (`)) throw new Error("bench build: the string edit no longer applies to apps/httpd/main.ts");
  return src;
}

export async function runBuildBench(root: string, io: IO, o: { rounds: number; machine: Machine }): Promise<BuildBenchResult> {
  const load0 = loadavg()[0];
  const work = join(root, "build", "bench", "build-app");
  const app = join(work, "httpd");
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  // All of apps/: httpd imports the kv app's CRC-32.
  cpSync(join(root, "apps"), work, { recursive: true });
  const www = join(work, "www");
  mkdirSync(www);
  writeFileSync(join(www, "index.html"), "<!doctype html><title>bench</title><p>hello\n");
  const main = join(app, "main.ts");
  const original = readFileSync(main, "utf8");
  const appLines = ["main.ts", "static.ts", "sitefs.ts"].filter((f) => existsSync(join(app, f)))
    .reduce((n, f) => n + readFileSync(join(app, f), "utf8").split("\n").length, 0);

  const raw: BuildRound[] = [];
  const profiles: BuildProfileResult[] = [];
  // debug: a cold build only (issue #18: debug builds of httpd used to fail).
  for (const profile of ["release", "dev", "debug"] as Profile[]) {
    const outDir = join(root, "build", "bench", `build-${profile}`);
    rmSync(outDir, { recursive: true, force: true });
    let imageBytes = 0;
    let maxConnections = 64, bangs = 0;
    const once = async (edit: EditKind | "cold", round: number): Promise<BuildRound> => {
      if (edit === "code") maxConnections++;
      if (edit === "string") bangs++;
      writeFileSync(main, editedSource(original, maxConnections, bangs));
      const lines: string[] = [];
      const quiet: IO = { ...io, out: (t) => { lines.push(...t.split("\n")); } };
      const cpu0 = childCpuMs();
      const t0 = performance.now();
      const r = await build({ app, outDir, dev: profile === "dev", debug: profile === "debug", embed: www }, quiet);
      const buildMs = performance.now() - t0;
      const buildCpuMs = childCpuMs() - cpu0;
      imageBytes = statSync(r.elf).size;
      const port = await freePort();
      const q = launch({ kernel: r.elf, machine: o.machine, memory: "128M", cmdline: "httpd.port=80", extraArgs: netArgs(o.machine, port), timeoutMs: 60000 });
      const at = await firstAnswer("127.0.0.1", port, q.t0 + 50000);
      await q.stop();
      const answerMs = at === null ? null : at - q.t0;
      const row: BuildRound = {
        profile, edit, round, buildMs, buildCpuMs, answerMs, totalMs: answerMs === null ? null : buildMs + answerMs, steps: stepTimes(lines),
      };
      io.out(`  ${profile.padEnd(7)} ${edit.padEnd(6)} #${round}: build ${(buildMs / 1000).toFixed(1)} s (CPU ${(buildCpuMs / 1000).toFixed(1)} s), ` +
        `answer after ${answerMs === null ? "n/a" : (answerMs / 1000).toFixed(2) + " s"}; steps ${Object.entries(row.steps).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)}`).join(", ")}`);
      raw.push(row);
      return row;
    };
    const cold = await once("cold", 0);
    for (let i = 1; i <= (profile === "debug" ? 0 : o.rounds); i++) {
      await once("code", i);
      await once("string", i);
    }
    const of = (kind: EditKind) => {
      const rows = raw.filter((r) => r.profile === profile && r.edit === kind);
      return {
        buildMs: summarize(rows.map((r) => r.buildMs)),
        buildCpuMs: summarize(rows.map((r) => r.buildCpuMs)),
        answerMs: summarize(rows.flatMap((r) => (r.answerMs === null ? [] : [r.answerMs]))),
        totalMs: summarize(rows.flatMap((r) => (r.totalMs === null ? [] : [r.totalMs]))),
      };
    };
    profiles.push({ profile, imageBytes, cold, code: of("code"), string: of("string") });
  }
  writeFileSync(main, original);
  const dev = profiles.find((p) => p.profile === "dev")!;
  const worst = Math.max(dev.code.totalMs?.median ?? Infinity, dev.string.totalMs?.median ?? Infinity);
  return {
    rounds: o.rounds, loadavg: [load0, loadavg()[0]], machine: o.machine, app: "apps/httpd", appLines, profiles, raw,
    target: {
      name: "dev profile: one-line edit → guest answering (httpd)", target: "≤ 6 s",
      measured: Number.isFinite(worst) ? `${(worst / 1000).toFixed(1)} s (median, worse of the two edits)` : "n/a",
      met: Number.isFinite(worst) ? worst <= 6000 : null,
    },
  };
}

const s = (x: Summary | null) => (x ? `${(x.median / 1000).toFixed(1)} s (${(x.min / 1000).toFixed(1)}–${(x.max / 1000).toFixed(1)})` : "n/a");

export function buildMarkdown(hostLine: string, r: BuildBenchResult): string {
  const lines = [
    "## Builds: release, dev and debug profiles (issues #13, #18, `--only build`)",
    "",
    hostLine,
    "",
    `A copy of ${r.app} (${r.appLines} lines of app code, plus the kernel) with a site embedded; each round makes a one-line edit, rebuilds, ` +
    `boots the image (${r.machine}) and polls \`GET /\` until it answers 200. *code*: a number in \`main\` changes; *string*: a message ` +
    "grows by one character, so the static data after it moves and code referring to it changes too. Median (min–max) of " +
    `${r.rounds} round(s); CPU is the user + system time of the build's processes (asc, wasm2c, gcc, ld). ` +
    `Load average (1 min) ${r.loadavg[0].toFixed(1)} before, ${r.loadavg[1].toFixed(1)} after: on a shared host wall times stretch, CPU times much less.`,
    "",
    "| profile | image | cold build (CPU) | edit | rebuild | rebuild CPU | boot → answer | edit → answering |",
    "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
  ];
  for (const p of r.profiles) {
    const cold = `${(p.cold.buildMs / 1000).toFixed(1)} s (${(p.cold.buildCpuMs / 1000).toFixed(1)} s)`;
    const img = `${(p.imageBytes / 1024).toFixed(0)} KiB`;
    if (!p.code.buildMs && !p.string.buildMs) {
      const ans = p.cold.answerMs === null ? "n/a" : `${(p.cold.answerMs / 1000).toFixed(1)} s`;
      lines.push(`| ${p.profile} | ${img} | ${cold} | — | — | — | ${ans} | — |`);
      continue;
    }
    for (const kind of ["code", "string"] as const) {
      const k = p[kind];
      lines.push(`| ${p.profile} | ${img} | ${cold} | ${kind} | ${s(k.buildMs)} | ${s(k.buildCpuMs)} | ${s(k.answerMs)} | ${s(k.totalMs)} |`);
    }
  }
  lines.push("", `Target: ${r.target.name} ${r.target.target}: measured ${r.target.measured}${r.target.met === null ? "" : r.target.met ? " — met" : " — not met"}.`);
  return lines.join("\n");
}

export function buildSection(existing: string, body: string): string {
  const begin = "<!-- bench:build:begin -->";
  const end = "<!-- bench:build:end -->";
  const block = `${begin}\n${body.trim()}\n${end}`;
  const a = existing.indexOf(begin);
  const b = existing.indexOf(end);
  if (a >= 0 && b > a) return existing.slice(0, a) + block + existing.slice(b + end.length);
  return existing.trimEnd() + "\n\n" + block + "\n";
}
