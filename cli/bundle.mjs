// cli/bundle.mjs — bundle the CLI, the test harness and the benchmarks with esbuild.
import { build } from "esbuild";

const common = {
  bundle: true, platform: "node", format: "esm", target: "node20",
  packages: "external", sourcemap: false, logLevel: "warning",
};
await build({ ...common, entryPoints: ["cli/bin.ts"], outfile: "dist/skiff.js", banner: { js: "#!/usr/bin/env node" } });
await build({ ...common, entryPoints: ["harness/index.ts"], outfile: "dist/harness.js" });
await build({ ...common, entryPoints: ["bench/run.ts"], outfile: "dist/bench.js" });

// --types (npm pack and install run it through "prepare"): type declarations
// for `skiff/harness`, so a user's tests typecheck against it.
if (process.argv.includes("--types")) {
  const { execFileSync } = await import("node:child_process");
  const { rmSync } = await import("node:fs");
  rmSync("dist/types", { recursive: true, force: true });
  execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "harness/index.ts",
    "--declaration", "--emitDeclarationOnly", "--outDir", "dist/types", "--rootDir", ".",
    "--target", "ES2022", "--module", "NodeNext", "--moduleResolution", "NodeNext",
    "--strict", "--skipLibCheck", "--types", "node"], { stdio: "inherit" });
}
