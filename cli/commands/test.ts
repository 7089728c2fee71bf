// cli/commands/test.ts — `skiff test`: vitest over the project the command is
// run in — Skiff's own suite in this repository (unit tests of kernel modules
// compiled to Wasm in Node, and system tests booting real images), or a user
// project's own tests (`skiff new` makes one) — closing with one plain line
// "skiff test: N passed, N failed, N skipped".
import { execa } from "execa";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { IO, UserError } from "../lib/log.js";
import { skiffRoot } from "../lib/paths.js";

interface VitestJson {
  testResults?: {
    name?: string;
    message?: string;
    assertionResults?: { status?: string; fullName?: string; failureMessages?: string[] }[];
  }[];
  numPassedTests?: number;
  numFailedTests?: number;
  numPendingTests?: number;
  numTodoTests?: number;
}

/** The nearest folder at or above dir with a package.json, or null. */
export function findProject(dir: string): string | null {
  for (let d = resolve(dir); ; d = dirname(d)) {
    if (existsSync(join(d, "package.json"))) return d;
    if (dirname(d) === d) return null;
  }
}

/** The nearest folder at or above dir with a package.json; dir itself if none. */
export function projectRoot(dir: string): string {
  return findProject(dir) ?? resolve(dir);
}

/** The project's own vitest (node_modules/.bin at or above it), else Skiff's. */
export function findVitest(project: string): string | null {
  for (let d = project; ; d = dirname(d)) {
    const bin = join(d, "node_modules", ".bin", "vitest");
    if (existsSync(bin)) return bin;
    if (dirname(d) === d) break;
  }
  const own = join(skiffRoot(), "node_modules", ".bin", "vitest");
  return existsSync(own) ? own : null;
}

/**
 * One line per failed test ("file > title: first line of the error"), and per
 * file that failed before its tests ran, so that the reason for a red run is
 * in the last lines of a long log rather than a scroll-back away.
 */
export function failureLines(j: VitestJson, root: string): string[] {
  const out: string[] = [];
  const firstLine = (m: string | undefined) =>
    (m ?? "").replace(/\x1b\[[0-9;]*m/g, "").split("\n").map((l) => l.trim()).find((l) => l !== "") ?? "";
  for (const f of j.testResults ?? []) {
    const file = f.name ? relative(root, f.name) || f.name : "?";
    const failedTests = (f.assertionResults ?? []).filter((a) => a.status === "failed");
    for (const a of failedTests) {
      const why = firstLine(a.failureMessages?.[0]).slice(0, 200);
      out.push(`  ${file} > ${a.fullName ?? "?"}${why ? ": " + why : ""}`);
    }
    if (failedTests.length === 0 && f.message) out.push(`  ${file}: ${firstLine(f.message).slice(0, 200)}`);
  }
  return out;
}

/** Load tests run alone after the rest (see testCommand). */
const HEAVY = [
  "test/system/floods.test.ts", "test/system/faults.test.ts", "test/system/tcp-hostile.test.ts", "test/system/slowloris.test.ts",
  "test/system/reliability-floods.test.ts", "test/system/reliability-malformed.test.ts",
];

export async function testCommand(argv: string[], io: IO): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    io.out("usage: skiff test [vitest arguments]\n\nRuns the project's tests with vitest: in the Skiff repository its unit and system tests, in your project (the nearest package.json above the current folder) your own tests. Arguments go to vitest, e.g. skiff test test/unit.");
    return 0;
  }
  // Never a folder without a package.json: vitest would look for tests in all of it.
  const project = findProject(io.cwd);
  if (!project) throw new UserError(`no package.json in ${io.cwd} or above: run skiff test in your project (skiff new makes one)`);
  const vitest = findVitest(project);
  if (!vitest) throw new UserError(`vitest not found in ${project}: install it with npm install --save-dev vitest`);
  const tmp = mkdtempSync(join(tmpdir(), "skiff-test-"));
  // This repository's whole suite: the load tests (connection floods, the
  // 10,000-request fault run) go in a second pass on their own, one file at a
  // time, so that no other guest competes with them for the two cores.
  const own = argv.length === 0 && resolve(project) === resolve(skiffRoot());
  const passes: string[][] = own
    ? [[...HEAVY.flatMap((f) => ["--exclude", f])], [...HEAVY, "--maxWorkers=1"]]
    : [argv];
  try {
    let code = 0, passed = 0, failed = 0, skipped = 0, reported = 0;
    const failures: string[] = [];
    for (let i = 0; i < passes.length; i++) {
      const results = join(tmp, `results-${i}.json`);
      const r = await execa(vitest,
        ["run", "--reporter=default", "--reporter=json", `--outputFile.json=${results}`, ...passes[i]], {
          cwd: io.cwd, stdio: "inherit", reject: false,
        });
      const c = typeof r.exitCode === "number" ? r.exitCode : 1;
      if (c !== 0 && code === 0) code = c;
      if (existsSync(results)) {
        const j = JSON.parse(readFileSync(results, "utf8")) as VitestJson;
        passed += j.numPassedTests ?? 0;
        failed += j.numFailedTests ?? 0;
        skipped += (j.numPendingTests ?? 0) + (j.numTodoTests ?? 0);
        reported++;
        failures.push(...failureLines(j, project));
      } else {
        io.out(`skiff test: vitest produced no results (exit ${c}${r.failed && !r.exitCode ? ": " + r.shortMessage : ""})`);
      }
    }
    if (failures.length > 0) io.out(`skiff test: failed:\n${failures.join("\n")}`);
    if (reported > 0) io.out(`skiff test: ${passed} passed, ${failed} failed, ${skipped} skipped`);
    return code;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
