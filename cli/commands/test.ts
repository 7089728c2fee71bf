// cli/commands/test.ts — `skiff test`: the whole suite (unit tests of kernel
// modules compiled to Wasm in Node, and system tests booting real images).
import { execa } from "execa";
import { join } from "node:path";
import { IO } from "../lib/log.js";
import { skiffRoot } from "../lib/paths.js";

export async function testCommand(argv: string[], io: IO): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    io.out("usage: skiff test [vitest arguments]\n\nRuns the test suite with vitest (unit and system tests). Arguments go to vitest, e.g. skiff test test/unit.");
    return 0;
  }
  const root = skiffRoot();
  const r = await execa(join(root, "node_modules", ".bin", "vitest"), ["run", ...argv], {
    cwd: io.cwd, stdio: "inherit", reject: false,
  });
  return typeof r.exitCode === "number" ? r.exitCode : 1;
}
