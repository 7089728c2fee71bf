// test/platform/wasm.ts — compile a kernel test entry (test/unit/wasm/*.ts) to
// Wasm with asc and instantiate it against a FakeHost. Compiled modules are
// cached under build/unit/ by a hash of the entry and every kernel source.
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import asc from "assemblyscript/asc";
import { FakeHost, GuestExitError } from "./host.js";

export const ROOT = resolve(fileURLToPath(import.meta.url), "../../..");

function sourcesUnder(dir: string, out: string[] = []): string[] {
  for (const n of readdirSync(dir).sort()) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) sourcesUnder(p, out);
    else if (n.endsWith(".ts")) out.push(p);
  }
  return out;
}

const FLAGS = ["--runtime", "incremental", "--exportRuntime", "--exportTable", "--use", "abort=kernel/core/panic/abortHandler", "-O1", "--debug", "--noColors"];

/** Compiles entry (path relative to the repo root) and returns the Wasm bytes. */
export async function compileEntry(entry: string): Promise<Uint8Array> {
  const h = createHash("sha256");
  h.update(FLAGS.join(" "));
  for (const f of [...sourcesUnder(join(ROOT, "kernel")), ...sourcesUnder(join(ROOT, "test/unit/wasm")), ...sourcesUnder(join(ROOT, "apps"))]) {
    h.update(f);
    h.update(readFileSync(f));
  }
  h.update(entry);
  const key = h.digest("hex").slice(0, 16);
  const outDir = join(ROOT, "build", "unit");
  mkdirSync(outDir, { recursive: true });
  const name = entry.replace(/[^A-Za-z0-9]+/g, "_");
  const out = join(outDir, `${name}-${key}.wasm`);
  if (existsSync(out)) return readFileSync(out);
  // App modules import the kernel as the package "skiff" (as `skiff build`
  // arranges with .packages/skiff): point a package folder at this checkout.
  // An entry testing app code must then import the kernel through "skiff"
  // too, or asc loads two copies of the modules it shares.
  const pkgDir = join(outDir, "packages");
  mkdirSync(pkgDir, { recursive: true });
  try { lstatSync(join(pkgDir, "skiff")); } catch { try { symlinkSync(ROOT, join(pkgDir, "skiff")); } catch { /* another worker made it */ } }
  let stderr = "";
  const { error } = await asc.main([relative(ROOT, resolve(ROOT, entry)), "-o", out, ...FLAGS, "--path", relative(ROOT, pkgDir)], {
    stdout: { write: () => true } as never,
    stderr: { write: (s: string) => { stderr += s; return true; } } as never,
    baseDir: ROOT,
  } as never);
  if (error) throw new Error(`asc failed for ${entry}: ${error.message}\n${stderr}`);
  return readFileSync(out);
}

export interface KernelModule<E = Record<string, unknown>> {
  exports: E & { memory: WebAssembly.Memory };
  host: FakeHost;
  /** Calls fn; a guest exit (isa-debug-exit) comes back as its status. */
  run<T>(fn: () => T): { value?: T; exit?: number };
  /** Reads an AssemblyScript string (UTF-16, byte length at ptr - 4). */
  str(ptr: number): string;
  /** Copies bytes into a fresh pinned AS buffer; returns its address. */
  bytesIn(data: Uint8Array): number;
  /** Reads len bytes of linear memory. */
  bytesOut(ptr: number, len: number): Uint8Array;
}

export async function loadKernel<E = Record<string, unknown>>(entry: string, host = new FakeHost(), extra: WebAssembly.Imports = {}): Promise<KernelModule<E>> {
  const bytes = await compileEntry(entry);
  const mod = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
  const inst = await WebAssembly.instantiate(mod, {
    host: host.imports(),
    env: {
      seed: () => 42,
      trace: () => {},
    },
    ...extra,
  });
  const exports = inst.exports as E & { memory: WebAssembly.Memory; __new: (n: number, id: number) => number; __pin: (p: number) => number };
  host.memory = exports.memory;
  host.table = (inst.exports.table as WebAssembly.Table | undefined) ?? null;
  return {
    exports,
    host,
    run<T>(fn: () => T) {
      try {
        return { value: fn() };
      } catch (e) {
        if (e instanceof GuestExitError) return { exit: e.status };
        throw e;
      }
    },
    str(ptr: number) {
      if (!ptr) return "";
      const b = new Uint8Array(exports.memory.buffer);
      const len = new DataView(exports.memory.buffer).getUint32(ptr - 4, true);
      return Buffer.from(b.subarray(ptr, ptr + len)).toString("utf16le");
    },
    bytesIn(data: Uint8Array) {
      const p = exports.__pin(exports.__new(data.length, 0));   // id 0: ArrayBuffer
      new Uint8Array(exports.memory.buffer).set(data, p);
      return p;
    },
    bytesOut(ptr: number, len: number) {
      return new Uint8Array(exports.memory.buffer).slice(ptr, ptr + len);
    },
  };
}
