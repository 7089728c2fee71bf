// cli/commands/bench.ts — `skiff bench`: runs bench/run.ts (see docs/BENCHMARKS.md).
import { execa } from "execa";
import { join } from "node:path";
import { existsSync } from "node:fs";
import { IO, UserError } from "../lib/log.js";
import { skiffRoot } from "../lib/paths.js";

export async function benchCommand(argv: string[], io: IO): Promise<number> {
  const root = skiffRoot();
  const script = join(root, "bench", "run.ts");
  if (!existsSync(script)) throw new UserError("no benchmarks in this checkout (bench/run.ts missing)");
  const r = await execa(join(root, "node_modules", ".bin", "vite-node"), [script, "--", ...argv], { cwd: root, stdio: "inherit", reject: false });
  return typeof r.exitCode === "number" ? r.exitCode : 1;
}
