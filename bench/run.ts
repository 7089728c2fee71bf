// bench/run.ts — `npm run bench` / `./skiff bench`: runs the benchmark suites,
// writes bench-results/<suite>-<date>.json (and <suite>-latest.json) and
// regenerates the suite's section of docs/BENCHMARKS.md.
//   --only boot|linux|virtio|net|core|http|dev|kv|build|reliability   one suite (kv: only apps/kv, 64-byte and 1 MiB values; not in the default set, its section of docs/BENCHMARKS.md is written by hand) (default: boot, core, virtio, net and http, plus linux with --vs linux;
//                       net and http compare with the Linux guest under --vs linux)
//                       (build: release vs dev rebuild after a one-line edit; only with --only; raw JSON also in bench/results/)
//                       (reliability: issue #16's floods, malformed requests, kv kill cycles, lossy link; only with --only; raw JSON also in bench/results/)
//   --vs linux          add the side-by-side Linux guest comparison
//   --quick             few rounds, short wrk: a smoke run, not for the docs' record
//   --rounds N          rounds per suite
//   --machine M         repeatable; default microvm and q35
//   --accel auto|tcg|kvm  default auto (KVM only when it is hardware virtualization)
//   --no-doc            do not touch docs/BENCHMARKS.md
//
// Duration: every suite prints its own and the run ends with all of them and
// the total. `npm run bench -- --vs linux` (boot, core, virtio, net, http,
// linux; default rounds) should take about 20 minutes on a quiet 2-core host
// under TCG, well within 35: estimated from a whole --quick run on the loaded
// shared host (10 minutes: boot 51 s, core 28, virtio 13, net 27, http 108,
// linux 371), scaled to the default rounds and lengths — boot ~1.5 min, core
// ~2.5, virtio ~1.5, net ~1.5, http ~4, linux ~9 (its smallest -m searches
// and the HTTP rows at two wrk levels on two networks are most of it; on
// microvm the Linux guest is not booted again after two hangs).
// Raw JSON: bench-results/<suite>-<date>.json and -latest.json; without
// --quick also bench/results/<suite>-<date>.json (committed with the tables:
// all suites of one run share the date), and issue14-<date>.json, issue #14's
// targets computed from the net and linux suites of the run.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, release } from "node:os";
import { join } from "node:path";
import { nodeIO, UserError, type IO } from "../cli/lib/log.js";
import { OptionSpecs, helpText, parseOptions } from "../cli/lib/options.js";
import { skiffRoot } from "../cli/lib/paths.js";
import { chooseAccel, MACHINES, type Accel, type Machine } from "../cli/lib/qemu.js";
import { runBoot } from "./boot.js";
import { runLinux } from "./linux.js";
import { runHttp } from "./http.js";
import { runVirtio, virtioMarkdown, virtioHostLine, virtioSection } from "./virtio.js";
import { runNet, netMarkdown, netSection } from "./net.js";
import { runCore, coreMarkdown, coreSection } from "./core.js";
import { runDev, devMarkdown, devSection } from "./dev.js";
import { runBuildBench, buildMarkdown, buildSection } from "./build.js";
import { runReliability, reliabilityMarkdown, reliabilitySection } from "./reliability.js";
import { setBenchAccel } from "./lib/launch.js";
import { bootMarkdown, httpMarkdown, issue14Markdown, issue14Targets, linuxMarkdown, replaceSection, writeBenchmarksDoc, type HostInfo } from "./report.js";
import type { NetResult } from "./net.js";
import type { LinuxResult } from "./linux.js";

export const benchSpecs: OptionSpecs = {
  only: { type: "string", help: "run one suite", choices: ["boot", "linux", "virtio", "net", "core", "http", "dev", "kv", "build", "reliability"], metavar: "SUITE" },
  vs: { type: "string", help: "also compare side by side with a reference guest", choices: ["linux"], metavar: "GUEST" },
  quick: { type: "boolean", help: "a short smoke run (few rounds, 2 s of wrk)" },
  rounds: { type: "number", help: "rounds per suite (default 20 boot / 5 linux; --quick 3 / 2): the boot ratio is a ~2 ms difference on a ~20 ms run, so it needs many rounds to be stable", metavar: "N" },
  machine: { type: "list", help: "QEMU machine (repeatable; default microvm and q35)", metavar: "M" },
  accel: { type: "string", help: "accelerator", choices: ["auto", "kvm", "tcg"], default: "auto" },
  "no-doc": { type: "boolean", help: "do not regenerate docs/BENCHMARKS.md" },
  help: { type: "boolean", help: "show this help", alias: "h" },
};

function qemuVersion(): string {
  try {
    return execFileSync("qemu-system-x86_64", ["--version"], { encoding: "utf8" }).split("\n")[0].replace(/Copyright.*/, "").trim();
  } catch {
    throw new UserError("qemu-system-x86_64 not found: run bench/setup.sh or apt-get install -y qemu-system-x86");
  }
}

export async function benchMain(argv: string[], io: IO): Promise<number> {
  const { values } = parseOptions("bench", argv, benchSpecs);
  if (values.help) {
    io.out(helpText("skiff bench [--vs linux] [--only boot|linux|virtio|net|core|http] [--quick] [options]", "Runs the benchmarks; results go to bench-results/ and docs/BENCHMARKS.md.", benchSpecs));
    return 0;
  }
  const root = skiffRoot();
  const quick = !!values.quick;
  const only = values.only as string | undefined;
  const suites = only ? [only] : values.vs === "linux" ? ["boot", "core", "virtio", "net", "http", "linux"] : ["boot", "core", "virtio", "net", "http"];
  const machines = ((values.machine as string[] | undefined) ?? ["microvm", "q35"]) as Machine[];
  for (const m of machines) if (!MACHINES.includes(m)) throw new UserError(`--machine ${m}: choose one of ${MACHINES.join(", ")}`);
  const accel = chooseAccel(values.accel as Accel);
  setBenchAccel(accel.accel);
  const host: HostInfo = {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    accel: accel.accel,
    accelNote: accel.note ?? "",
    cpu: (/model name\s*:\s*(.*)/.exec(execFileSync("cat", ["/proc/cpuinfo"], { encoding: "utf8" }))?.[1] ?? "unknown CPU").trim(),
    cores: cpus().length,
    kernel: release(),
    qemu: qemuVersion(),
    node: process.version,
    quick,
  };
  const shown = (only === "net" || only === "http") && !values.machine ? ["q35"] : machines;    // net and http default to q35 (see below)
  io.out(`skiff bench: ${suites.join(" + ")} on ${shown.join(", ")}; accelerator ${host.accel}${host.accelNote ? ` (${host.accelNote})` : ""}`);
  const resultsDir = join(root, "bench-results");
  mkdirSync(resultsDir, { recursive: true });
  const stamp = host.date.replace(/[:]/g, "-");
  const doc: { boot?: string; linux?: string; http?: string } = {};
  let virtioDoc: string | undefined;
  let netDoc: string | undefined;
  let coreDoc: string | undefined;
  let devDoc: string | undefined;
  let buildDoc: string | undefined;
  let reliabilityDoc: string | undefined;
  let netResult: NetResult | null = null;
  let linuxResult: LinuxResult | null = null;
  const durations: { suite: string; seconds: number }[] = [];
  const tRun = performance.now();

  for (const suite of suites) {
    const t0 = performance.now();
    let result: unknown;
    if (suite === "boot") {
      const r = await runBoot(root, io, { rounds: (values.rounds as number | undefined) ?? (quick ? 3 : 20), machines });
      result = r;
      doc.boot = bootMarkdown(host, r);
      io.out("");
      io.out(doc.boot);
    } else if (suite === "virtio") {
      const r = await runVirtio(root, io, {
        rounds: (values.rounds as number | undefined) ?? (quick ? 1 : 3), machines,
        diskMiB: quick ? 64 : 256, randMs: quick ? 1000 : 2000, netMs: quick ? 1000 : 2000, linux: values.vs === "linux",
      });
      result = r;
      virtioDoc = virtioMarkdown(virtioHostLine(host), r);
      io.out("");
      io.out(virtioDoc);
    } else if (suite === "net") {
      // q35 unless machines were named (keeps the run short; the boot, linux, core and virtio suites cover microvm).
      const r = await runNet(root, io, {
        machines: (values.machine as Machine[] | undefined) ?? ["q35"],
        bytes: (quick ? 4 : 16) << 20, conns: quick ? 50 : 200, pings: quick ? 50 : 200,
        linux: values.vs === "linux", memory: "256M",
      });
      result = r;
      netResult = r;
      netDoc = netMarkdown(virtioHostLine(host), r);
      io.out("");
      io.out(netDoc);
    } else if (suite === "http") {
      // q35 like net (keeps the run short).
      const r = await runHttp(root, io, {
        rounds: (values.rounds as number | undefined) ?? (quick ? 1 : 3), machine: ((values.machine as Machine[] | undefined) ?? ["q35"])[0],
        wrkSeconds: quick ? 2 : 10, memory: "256M", linux: values.vs === "linux",
      });
      result = r;
      doc.http = httpMarkdown(host, r);
      io.out("");
      io.out(doc.http);
    } else if (suite === "dev") {
      // `skiff dev` (no QEMU): edit → changed answer for apps/httpd.
      const r = await runDev(root, io, { rounds: (values.rounds as number | undefined) ?? (quick ? 2 : 5) });
      result = r;
      devDoc = devMarkdown(virtioHostLine(host), r);
      io.out("");
      io.out(devDoc);
    } else if (suite === "kv") {
      // apps/kv alone in the default 64 MiB guest: 64-byte values, then 1 MiB values that make the log compact.
      const r = await runHttp(root, io, {
        rounds: (values.rounds as number | undefined) ?? (quick ? 1 : 3), machine: ((values.machine as Machine[] | undefined) ?? ["q35"])[0],
        wrkSeconds: quick ? 2 : 10, memory: "64M", linux: false, kvOnly: true,
      });
      result = r;
      io.out("");
      io.out(httpMarkdown(host, r));
    } else if (suite === "build") {
      const r = await runBuildBench(root, io, { rounds: (values.rounds as number | undefined) ?? (quick ? 1 : 3), machine: ((values.machine as Machine[] | undefined) ?? ["microvm"])[0] });
      result = r;
      buildDoc = buildMarkdown(virtioHostLine(host), r);
      io.out("");
      io.out(buildDoc);
    } else if (suite === "reliability") {
      // Long: 5,000-connection floods on two transports, 20 kill cycles (--quick: 500 and 3).
      const r = await runReliability(io, { conns: quick ? 500 : 5000, malformed: 500, kills: quick ? 3 : 20, netemMiB: 8 });
      result = r;
      reliabilityDoc = reliabilityMarkdown(virtioHostLine(host), r);
      io.out("");
      io.out(reliabilityDoc);
    } else if (suite === "core") {
      io.out(`core: accelerator ${host.accel}`);
      const r = await runCore(root, io, {
        rounds: (values.rounds as number | undefined) ?? (quick ? 1 : 3), machines,
        idleSeconds: quick ? 3 : 10, linux: values.vs === "linux", memory: "256M",
      });
      result = r;
      coreDoc = coreMarkdown(virtioHostLine(host), r);
      io.out("");
      io.out(coreDoc);
    } else {
      const r = await runLinux(root, io, {
        rounds: (values.rounds as number | undefined) ?? (quick ? 2 : 5),
        machines, wrkSeconds: quick ? 2 : 10, wrkRuns: quick ? 1 : 3, downloads: quick ? 2 : 5, memory: "256M", readyLimitS: 30,
      });
      result = r;
      linuxResult = r;
      doc.linux = linuxMarkdown(host, r);
      io.out("");
      io.out(doc.linux);
    }
    const seconds = Math.round((performance.now() - t0) / 1000);
    durations.push({ suite, seconds });
    const json = JSON.stringify({ suite, host, seconds, result }, null, 2) + "\n";
    writeFileSync(join(resultsDir, `${suite}-${stamp}.json`), json);
    writeFileSync(join(resultsDir, `${suite}-latest.json`), json);
    if (suite === "dev") {      // kept in the repository: docs/BENCHMARKS.md points at it
      mkdirSync(join(root, "bench", "results"), { recursive: true });
      writeFileSync(join(root, "bench", "results", "dev-latest.json"), json);
    }
    if (!quick) {
      // Kept in the repository with the figures in docs/BENCHMARKS.md (every table row traceable
      // to the run: all suites of one run share the stamp).
      mkdirSync(join(root, "bench", "results"), { recursive: true });
      writeFileSync(join(root, "bench", "results", `${suite}-${stamp}.json`), json);
    }
    io.out(`${suite}: ${seconds} s; results in bench-results/${suite}-latest.json${quick ? "" : ` and bench/results/${suite}-${stamp}.json`}`);
  }
  // Issue #14's targets: from the net and linux suites of this run.
  let issue14Doc: string | undefined;
  if (netResult || linuxResult) {
    const targets = issue14Targets(netResult, linuxResult);
    issue14Doc = issue14Markdown(virtioHostLine(host), targets);
    io.out("");
    io.out(issue14Doc);
    const json = JSON.stringify({ suite: "issue14", host, targets }, null, 2) + "\n";
    writeFileSync(join(resultsDir, `issue14-${stamp}.json`), json);
    if (!quick) writeFileSync(join(root, "bench", "results", `issue14-${stamp}.json`), json);
  }
  io.out(`durations: ${durations.map((d) => `${d.suite} ${d.seconds} s`).join(", ")}; total ${Math.round((performance.now() - tRun) / 1000)} s`);
  if (!values["no-doc"]) {
    const docPath = join(root, "docs", "BENCHMARKS.md");
    writeBenchmarksDoc(docPath, doc);
    if (virtioDoc && existsSync(docPath)) writeFileSync(docPath, virtioSection(readFileSync(docPath, "utf8"), virtioDoc));
    if (coreDoc && existsSync(docPath)) writeFileSync(docPath, coreSection(readFileSync(docPath, "utf8"), coreDoc));
    if (buildDoc && existsSync(docPath)) writeFileSync(docPath, buildSection(readFileSync(docPath, "utf8"), buildDoc));
    if (netDoc && existsSync(docPath)) writeFileSync(docPath, netSection(readFileSync(docPath, "utf8"), netDoc));
    if (reliabilityDoc && existsSync(docPath)) writeFileSync(docPath, reliabilitySection(readFileSync(docPath, "utf8"), reliabilityDoc));
    if (devDoc && existsSync(docPath)) writeFileSync(docPath, devSection(readFileSync(docPath, "utf8"), devDoc));
    if (issue14Doc && existsSync(docPath)) writeFileSync(docPath, replaceSection(readFileSync(docPath, "utf8"), "issue14", issue14Doc));
    io.out("docs/BENCHMARKS.md updated");
  }
  return 0;
}

// Run directly (dist/bench.js) rather than imported by `skiff bench`.
if (process.argv[1] && /bench\.(js|ts)$/.test(process.argv[1])) {
  const io = nodeIO();
  benchMain(process.argv.slice(2), io).then(
    (code) => { process.exitCode = code; },
    (e) => {
      if (e instanceof UserError) { io.err(`skiff bench: ${e.message}`); process.exitCode = e.status; }
      else { io.err(`skiff bench: internal error: ${(e as Error).stack ?? e}`); process.exitCode = 1; }
    },
  );
}
