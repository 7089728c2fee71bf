// bench/profile-net.mjs — the TCP/IP stack's cost per packet, measured in Node:
// compiles test/unit/wasm/netperf.ts (two stacks over ring devices that copy
// like the virtio-net driver) with the image's optimisation flags plus names,
// moves N MiB up (client → discard) and down (source → client) entirely
// inside Wasm on a fake clock, and prints µs per frame; with --conns N it
// makes N sequential one-byte echo connections instead (connclient's
// pattern) and prints µs per connection, both stacks' work included. Run
// under `node --cpu-prof bench/profile-net.mjs` to see the hottest functions.
// Usage: node bench/profile-net.mjs [MiB=16] [--offload] [--up|--down] [--conns N]
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import asc from "assemblyscript/asc";

const ROOT = resolve(fileURLToPath(import.meta.url), "../..");
const args = process.argv.slice(2);
const mib = Number(args.find((a, i) => /^\d+$/.test(a) && args[i - 1] !== "--conns") ?? 16);
const offload = args.includes("--offload");
const dirs = args.includes("--up") ? [true] : args.includes("--down") ? [false] : [true, false];
const connsAt = args.indexOf("--conns");
const conns = connsAt >= 0 ? Number(args[connsAt + 1] ?? 2000) : 0;

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
// The stack needs only the memory code's host imports (interface v5: where
// linear memory sits and how far it may grow, as test/platform/host.ts
// answers them); anything else reached is a bug worth seeing.
const imports = new Proxy({}, {
  get: (_, mod) => new Proxy({}, {
    get: (_, name) => (...a) => {
      if (mod === "env" && name === "abort") throw new Error(`abort: ${text(a[0])} at ${text(a[1])}:${a[2]}`);
      if (mod === "env" && name === "seed") return 42;
      if (mod === "env" && name === "trace") return;
      if (mod === "host" && name === "linear_base") return 0x200000n;
      if (mod === "host" && name === "boot_record") return 0n;
      if (mod === "host" && (name === "memory_limit" || name === "memory_reserve")) return;
      throw new Error(`host import ${String(mod)}.${String(name)} called`);
    },
  }),
});
const { instance } = await WebAssembly.instantiate(readFileSync(out), imports);
const x = instance.exports;
memory = x.memory;

x.setup(offload ? 1 : 0);
if (conns > 0) {
  x.conns(200, 20_000n);                  // warm up: JIT, map and pool sizes
  const t0 = performance.now();
  const rounds = x.conns(conns, 20_000n);
  const ms = performance.now() - t0;
  if (rounds < 0n) { console.error("conns: stalled"); process.exit(1); }
  console.log(`${conns} connections${offload ? " (offload)" : ""}: ${ms.toFixed(0)} ms, ${(ms * 1000 / conns).toFixed(2)} µs/connection ` +
    `(both stacks), ${rounds} rounds, ${x.frames()} frames, server: ${x.serverConns()} connections, ${x.serverMem()} buffer bytes left`);
  process.exit(0);
}
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
