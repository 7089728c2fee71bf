// cli/bin.ts — the `skiff` executable: wire process I/O to main().
import { main } from "./main.js";
import { nodeIO } from "./lib/log.js";

main(process.argv.slice(2), nodeIO()).then(
  (code) => { process.exitCode = code; },
  (e) => { console.error(e); process.exitCode = 1; },
);
