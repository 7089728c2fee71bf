// cli/commands/bench.ts — `skiff bench`: runs dist/bench.js (bundled from
// bench/run.ts by cli/bundle.mjs) in its own process; see docs/BENCHMARKS.md.
import { execa } from "execa";
import { join } from "node:path";
import { existsSync } from "node:fs";
import { IO, UserError } from "../lib/log.js";
import { skiffRoot } from "../lib/paths.js";

export async function benchCommand(argv: string[], io: IO): Promise<number> {
  const root = skiffRoot();
  const script = join(root, "dist", "bench.js");
  if (!existsSync(script)) {
    if (!existsSync(join(root, "bench", "run.ts"))) throw new UserError("no benchmarks in this checkout (bench/run.ts missing)");
    throw new UserError("dist/bench.js missing: run node cli/bundle.mjs (./skiff does it when sources change)");
  }
  const r = await execa(process.execPath, [script, ...argv], { cwd: io.cwd, stdio: "inherit", reject: false });
  return typeof r.exitCode === "number" ? r.exitCode : 1;
}
