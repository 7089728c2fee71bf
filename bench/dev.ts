// bench/dev.ts — `skiff bench --only dev`: how long from saving a file to the
// changed answer being served under `skiff dev` (issue #13, target <= 2 s),
// for apps/httpd (the largest app: kernel + HTTP server + site store, the
// REST endpoint) with an embedded site. Two edits, alternated each round:
//   code  apps/httpd/main.ts's default Cache-Control changes; the answer's
//         Cache-Control header shows it (asc rebuild + a fresh instance);
//   site  the embedded index.html changes; the body shows it (the same).
// The clock starts just before the file is written and stops when an HTTP
// GET from the host first returns the new answer (polled every 10 ms). Edits
// start once skiff dev says it is watching (after its asc warm-up run).
import { spawn, ChildProcess } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import type { IO } from "../cli/lib/log.js";
import { summarize, fmt, type Summary } from "./lib/stats.js";

export interface DevRound { kind: "code" | "site"; ms: number; buildMs: number | null; buildCpuMs: number | null }
export interface DevResult {
  app: string;
  rounds: DevRound[];
  code: Summary | null;
  site: Summary | null;
  codeBuild: Summary | null;
  codeBuildCpu: Summary | null;
  firstStartMs: number;
  loadAvg: number[];
  failures: number;
}

function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => { const p = (s.address() as { port: number }).port; s.close(() => res(p)); });
  });
}

async function answer(port: number): Promise<{ cc: string; body: string } | null> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) });
    return { cc: r.headers.get("cache-control") ?? "", body: await r.text() };
  } catch {
    return null;
  }
}

export async function runDev(root: string, io: IO, opts: { rounds: number }): Promise<DevResult> {
  const dir = mkdtempSync(join(tmpdir(), "skiff-bench-dev-"));
  let proc: ChildProcess | null = null;
  try {
    cpSync(join(root, "apps", "httpd"), join(dir, "apps", "httpd"), { recursive: true });
    cpSync(join(root, "apps", "kv"), join(dir, "apps", "kv"), { recursive: true });     // httpd imports its CRC-32
    const site = join(dir, "site");
    mkdirSync(site);
    writeFileSync(join(site, "index.html"), "<p>rev 0</p>\n");
    const main = join(dir, "apps", "httpd", "main.ts");
    const orig = readFileSync(main, "utf8");
    const CC = 'files.cacheControl = setting("httpd.cache-control", "");';
    if (!orig.includes(CC)) throw new Error(`bench dev: apps/httpd/main.ts no longer has ${CC}`);
    const port = await freePort();
    let err = "";
    const t0 = performance.now();
    proc = spawn(process.execPath, [join(root, "dist", "skiff.js"), "dev", "apps/httpd", "--embed", "site", "--forward", `${port}:8080`, "--cmdline", "api.off quiet"],
      { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
    proc.stderr!.on("data", (d) => { err += d; });
    const until = async (ok: () => boolean | Promise<boolean>, ms: number, what: string) => {
      const s = performance.now();
      while (!(await ok())) {
        if (proc!.exitCode !== null) throw new Error(`bench dev: skiff dev exited (${proc!.exitCode}) waiting for ${what}\n${err}`);
        if (performance.now() - s > ms) throw new Error(`bench dev: no ${what} after ${ms} ms\n${err}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    await until(async () => (await answer(port))?.body === "<p>rev 0</p>\n", 300_000, "first answer");
    const firstStartMs = performance.now() - t0;
    io.out(`dev: httpd first served after ${(firstStartMs / 1000).toFixed(1)} s (cold build)`);
    await until(() => /watching for changes/.test(err), 300_000, "the watcher");   // asc warmed up (dev.ts)
    const rounds: DevRound[] = [];
    let failures = 0;
    for (let i = 1; i <= opts.rounds * 2; i++) {
      const kind: "code" | "site" = i % 2 === 1 ? "code" : "site";
      const reloadsBefore = (err.match(/reloaded httpd/g) ?? []).length;
      const s = performance.now();
      try {
        if (kind === "code") {
          writeFileSync(main, orig.replace(CC, `files.cacheControl = setting("httpd.cache-control", "max-age=${i}");`));
          await until(async () => (await answer(port))?.cc === `max-age=${i}`, 120_000, `Cache-Control max-age=${i}`);
        } else {
          writeFileSync(join(site, "index.html"), `<p>rev ${i}</p>\n`);
          await until(async () => (await answer(port))?.body === `<p>rev ${i}</p>\n`, 120_000, `rev ${i}`);
        }
      } catch (e) {
        failures++;
        io.err(String(e));
        continue;
      }
      const ms = performance.now() - s;
      await until(() => (err.match(/reloaded httpd/g) ?? []).length > reloadsBefore, 10_000, "the reload line").catch(() => {});
      const m = [...err.matchAll(/reloaded httpd in \d+ ms \(build (\d+) ms, (\d+) ms CPU\)/g)].pop();
      rounds.push({ kind, ms, buildMs: m ? Number(m[1]) : null, buildCpuMs: m ? Number(m[2]) : null });
      io.out(`dev: ${kind} edit ${i}: changed answer after ${fmt(ms, 0)} ms${m ? ` (asc ${m[1]} ms, ${m[2]} ms CPU)` : ""}`);
      await new Promise((r) => setTimeout(r, 500));     // let the watcher settle between edits
    }
    const code = rounds.filter((r) => r.kind === "code");
    return {
      app: "apps/httpd (--embed, one file)",
      rounds,
      code: summarize(code.map((r) => r.ms)),
      site: summarize(rounds.filter((r) => r.kind === "site").map((r) => r.ms)),
      codeBuild: summarize(code.map((r) => r.buildMs).filter((x): x is number => x !== null)),
      codeBuildCpu: summarize(code.map((r) => r.buildCpuMs).filter((x): x is number => x !== null)),
      firstStartMs,
      loadAvg: loadavg(),
      failures,
    };
  } finally {
    if (proc && proc.exitCode === null) {
      const gone = new Promise((r) => proc!.once("exit", r));
      proc.kill("SIGTERM");
      await gone;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

const cell = (s: Summary | null) => (s ? `${fmt(s.median, 0)} ms (${fmt(s.min, 0)}–${fmt(s.max, 0)}, n=${s.n})` : "n/a");

export function devMarkdown(hostLine: string, r: DevResult): string {
  return `## skiff dev: edit → changed answer (issue #13)

${hostLine} Load average during the run: ${r.loadAvg.map((x) => x.toFixed(1)).join(", ")}.

\`skiff dev\` on ${r.app}: the time from writing a file to an HTTP GET from
the host first getting the changed answer (polled every 10 ms). Each reload is
an asc build of kernel + app (-O0, no validation, no source map) and a fresh
instance (a Node process, the Wasm compiled by V8's baseline compiler, the
kernel's boot, the app's main) on the listening sockets, which stay open.
Target: <= 2 s.

| edit | edit → changed answer, median (min–max) | of which asc (wall) | asc CPU time |
| --- | --- | --- | --- |
| code (apps/httpd/main.ts) | ${cell(r.code)} | ${cell(r.codeBuild)} | ${cell(r.codeBuildCpu)} |
| site (embedded index.html) | ${cell(r.site)} | | |

First start (cold asc, nothing cached): ${fmt(r.firstStartMs / 1000, 1)} s. Failures: ${r.failures}.
Raw: \`bench/results/dev-latest.json\`.

How to read it: asc runs inside the \`skiff dev\` process, so its CPU time is
measured exactly; on a machine with a free core, a reload's wall time is about
that plus the new instance's start (the difference between the first two
columns: Node's start is hidden by a child started ahead, what is left is
compiling the module, the kernel's boot and the app's main). When the machine
is shared (the load average above, against its cores), the wall times are
mostly waiting for a CPU.`;
}

export function devSection(existing: string, body: string): string {
  const begin = "<!-- bench:dev:begin -->";
  const end = "<!-- bench:dev:end -->";
  const block = `${begin}\n${body.trim()}\n${end}`;
  const a = existing.indexOf(begin);
  const b = existing.indexOf(end);
  if (a >= 0 && b > a) return existing.slice(0, a) + block + existing.slice(b + end.length);
  return existing.trimEnd() + "\n\n" + block + "\n";
}
