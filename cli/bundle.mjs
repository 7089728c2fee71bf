// cli/bundle.mjs — bundle the CLI, the test harness and the benchmarks with esbuild.
import { build } from "esbuild";

const common = {
  bundle: true, platform: "node", format: "esm", target: "node20",
  packages: "external", sourcemap: false, logLevel: "warning",
};
await build({ ...common, entryPoints: ["cli/bin.ts"], outfile: "dist/skiff.js", banner: { js: "#!/usr/bin/env node" } });
await build({ ...common, entryPoints: ["harness/index.ts"], outfile: "dist/harness.js" });
await build({ ...common, entryPoints: ["bench/run.ts"], outfile: "dist/bench.js" });
