// cli/commands/test.ts — `skiff test`: the whole suite (unit tests of kernel
// modules compiled to Wasm in Node, and system tests booting real images),
// closing with one plain line "skiff test: N passed, N failed, N skipped".
import { execa } from "execa";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { IO } from "../lib/log.js";
import { skiffRoot } from "../lib/paths.js";

interface VitestJson {
  numPassedTests?: number;
  numFailedTests?: number;
  numPendingTests?: number;
  numTodoTests?: number;
}

export async function testCommand(argv: string[], io: IO): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    io.out("usage: skiff test [vitest arguments]\n\nRuns the test suite with vitest (unit and system tests). Arguments go to vitest, e.g. skiff test test/unit.");
    return 0;
  }
  const root = skiffRoot();
  const results = join(root, "build", "test-results.json");
  mkdirSync(join(root, "build"), { recursive: true });
  rmSync(results, { force: true });
  const r = await execa(join(root, "node_modules", ".bin", "vitest"),
    ["run", "--reporter=default", "--reporter=json", `--outputFile.json=${results}`, ...argv], {
      cwd: io.cwd, stdio: "inherit", reject: false,
    });
  const code = typeof r.exitCode === "number" ? r.exitCode : 1;
  if (existsSync(results)) {
    const j = JSON.parse(readFileSync(results, "utf8")) as VitestJson;
    const skipped = (j.numPendingTests ?? 0) + (j.numTodoTests ?? 0);
    io.out(`skiff test: ${j.numPassedTests ?? 0} passed, ${j.numFailedTests ?? 0} failed, ${skipped} skipped`);
  } else {
    io.out(`skiff test: vitest produced no results (exit ${code})`);
  }
  return code;
}
