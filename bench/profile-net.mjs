// bench/profile-net.mjs — the TCP/IP stack's cost per packet, measured in Node:
// compiles test/unit/wasm/netperf.ts (two stacks over ring devices that copy
// like the virtio-net driver) with the image's optimisation flags plus names,
// moves N MiB up (client → discard) and down (source → client) entirely
// inside Wasm on a fake clock, and prints µs per frame. Run under
// `node --cpu-prof bench/profile-net.mjs` to see the hottest functions.
// Usage: node bench/profile-net.mjs [MiB=16] [--offload] [--up|--down]
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import asc from "assemblyscript/asc";

const ROOT = resolve(fileURLToPath(import.meta.url), "../..");
const args = process.argv.slice(2);
const mib = Number(args.find((a) => /^\d+$/.test(a)) ?? 16);
const offload = args.includes("--offload");
const dirs = args.includes("--up") ? [true] : args.includes("--down") ? [false] : [true, false];

// The image's flags (cli/lib/build.ts) with --debug so profiles keep names.
const FLAGS = ["--runtime", "incremental", "--exportRuntime", "--use", "abort=kernel/core/panic/abortHandler",
  "-O3", "--shrinkLevel", "1", "--noAssert", "--debug", "--noColors"];
const out = join(ROOT, "build", "bench", "netperf.wasm");
if (args.includes("--compile")) {
  mkdirSync(join(ROOT, "build", "bench"), { recursive: true });
  let stderr = "";
  const { error } = await asc.main(["test/unit/wasm/netperf.ts", "-o", out, ...FLAGS], {
    stdout: { write: () => true },
    stderr: { write: (s) => { stderr += s; return true; } },
    baseDir: ROOT,
  });
  if (error) { console.error(stderr); process.exit(1); }
  process.exit(0);
}
// Compiled in a child so a --cpu-prof profile holds only the stack's work.
execFileSync(process.execPath, [fileURLToPath(import.meta.url), "--compile"], { stdio: "inherit" });

let memory;
const text = (p) => {
  if (!p) return "";
  const len = new DataView(memory.buffer).getUint32(p - 4, true);
  return Buffer.from(new Uint8Array(memory.buffer, p, len)).toString("utf16le");
};
// The stack needs no host imports; anything reached is a bug worth seeing.
const imports = new Proxy({}, {
  get: (_, mod) => new Proxy({}, {
    get: (_, name) => (...a) => {
      if (mod === "env" && name === "abort") throw new Error(`abort: ${text(a[0])} at ${text(a[1])}:${a[2]}`);
      if (mod === "env" && name === "seed") return 42;
      if (mod === "env" && name === "trace") return;
      throw new Error(`host import ${String(mod)}.${String(name)} called`);
    },
  }),
});
const { instance } = await WebAssembly.instantiate(readFileSync(out), imports);
const x = instance.exports;
memory = x.memory;

x.setup(offload ? 1 : 0);
const bytes = BigInt(mib) << 20n;
for (const up of dirs) {
  const f0 = x.frames();
  const t0 = performance.now();
  const rounds = x.run(up ? 1 : 0, bytes, 20_000n);
  const ms = performance.now() - t0;
  const frames = Number(x.frames() - f0);
  if (rounds < 0n) { console.error(`${up ? "up" : "down"}: stalled`); process.exit(1); }
  console.log(`${up ? "up  " : "down"} ${mib} MiB${offload ? " (offload)" : ""}: ${ms.toFixed(0)} ms, ` +
    `${(mib / (ms / 1000)).toFixed(0)} MiB/s, ${frames} frames, ${(ms * 1000 / frames).toFixed(2)} µs/frame, ` +
    `${rounds} rounds, ${x.drops()} device drops, retransmits ${x.retransmits()}`);
}
