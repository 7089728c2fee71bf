// bench/profile-httpd.ts — httpd's own cost per request, without TCP or the
// emulator: compiles test/unit/wasm/httpdperf.ts with the image's optimisation
// flags plus names, serves the small-file benchmark's request (wrk's: GET
// /index.html, Host) on one kept-alive connection N times inside Wasm, and
// prints µs per request and heap bytes left per request before a collection.
// CPU time (not wall time), the best of several rounds (a loaded host only adds). Run under
// `node --cpu-prof` to see the hottest functions.
// Run: node_modules/.bin/esbuild bench/profile-httpd.ts --bundle --platform=node --format=esm --packages=external \
//        --outfile=build/profile-httpd.mjs && node build/profile-httpd.mjs [requests=20000] [rounds=5] [--no-compile]
import { mkdirSync, readFileSync, lstatSync, symlinkSync } from "node:fs";
import { join, relative } from "node:path";
import asc from "assemblyscript/asc";
import { FakeHost } from "../test/platform/host.js";
import { buildSiteImage, collectFiles } from "../cli/lib/sitefs.js";
import { siteDir } from "./linux/servers.js";

const ROOT = process.cwd();
const n = Number(process.argv[2] ?? 20000);
const rounds = Number(process.argv[3] ?? 5);
const outDir = join(ROOT, "build", "bench");
mkdirSync(outDir, { recursive: true });
const pkgDir = join(ROOT, "build", "unit", "packages");
mkdirSync(pkgDir, { recursive: true });
try { lstatSync(join(pkgDir, "skiff")); } catch { symlinkSync(ROOT, join(pkgDir, "skiff")); }
const out = join(outDir, "httpdperf.wasm");
let stderr = "";
const { error } = process.argv.includes("--no-compile") ? { error: null } : await asc.main(["test/unit/wasm/httpdperf.ts", "-o", out, "--runtime", "incremental", "--exportRuntime", "--exportTable",
  "--use", "abort=kernel/core/panic/abortHandler", "-O3", "--shrinkLevel", "0", "--noAssert", "--debug", "--noColors", "--path", relative(ROOT, pkgDir)], {
  stdout: { write: () => true }, stderr: { write: (s: string) => { stderr += s; return true; } }, baseDir: ROOT,
} as never);
if (error) { console.error(stderr); process.exit(1); }

const host = new FakeHost({ linearBase: 0x200000n } as never);
const inst = await WebAssembly.instantiate(await WebAssembly.compile(readFileSync(out)), { host: host.imports(), env: { seed: () => 42, trace: () => {} } } as never);
type E = { memory: WebAssembly.Memory; __new(n: number, id: number): number; __pin(p: number): number; mount(img: number, req: number): number; run(n: number): bigint; once(): number; collect(): void };
const e = inst.exports as unknown as E;
host.memory = e.memory;
const bytesIn = (b: Uint8Array) => { const p = e.__pin(e.__new(b.length, 0)); new Uint8Array(e.memory.buffer).set(b, p); return p; };
const str = (p: number) => Buffer.from(new Uint8Array(e.memory.buffer, p, new DataView(e.memory.buffer).getUint32(p - 4, true))).toString("utf16le");
const img = buildSiteImage(collectFiles(siteDir(ROOT)).files);
const request = Buffer.from("GET /index.html HTTP/1.1\r\nHost: 10.79.0.2\r\n\r\n");
const problem = e.mount(bytesIn(img), bytesIn(request));
if (problem && str(problem)) throw new Error(str(problem));
const first = e.once();
const ans = Buffer.from(new Uint8Array(e.memory.buffer, first, new DataView(e.memory.buffer).getUint32(first - 4, true))).toString("latin1");
console.log(ans.split("\r\n").join(" | "));
if (!ans.startsWith("HTTP/1.1 200")) throw new Error("not a 200");
e.run(2000); e.collect();   // warm up
let best = Infinity;
for (let r = 0; r < rounds; r++) {
  e.collect();
  const c0 = process.cpuUsage();
  e.run(n);
  const c1 = process.cpuUsage(c0);
  const us = c1.user / n;
  if (us < best) best = us;
}
console.log(`httpd per request (Wasm in Node, no TCP): best of ${rounds} × ${n}: ${best.toFixed(3)} µs CPU`);
