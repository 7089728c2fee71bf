// cli/lib/build.ts — the build pipeline (docs/ARCHITECTURE.md, the build):
//   entry.ts ─ asc ─→ image.wasm ─ wasm2c ─→ image.c ─ cc ─→ image.o ┐
//   boot/*.S, boot/*.c ─ cc ────────────────────────────────────────┼─ ld ─→ image.elf
//   image_meta.c (symbols of image.o, table arena) ─ cc ────────────┘
// Every step is cached on a hash of its inputs; an unchanged rebuild only
// re-hashes. Each step prints its output, size and time.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync, rmSync, renameSync, symlinkSync, lstatSync, readlinkSync, unlinkSync } from "node:fs";
import { availableParallelism } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import { createRequire } from "node:module";
import { execa } from "execa";
import { IO, UserError, formatBytes, formatMs } from "./log.js";
import { explainAscFailure } from "./asc-hints.js";
import { skiffRoot } from "./paths.js";
import { demangle, WASM2C_FUNCTION_DEF } from "./symbols.js";
import { mergeDataSegments, functionNames, globalNames, withoutCustomSection } from "./wasm-data.js";
import { insertStackChecks, cNameResolver, stdModuleNames, stackPointerGlobal } from "./stackcheck.js";
import { buildSiteImage, collectFiles } from "./sitefs.js";

export interface BuildOptions {
  /** App folder (with main.ts) or an entry .ts file. */
  app: string;
  /** Output folder; default build/<app name> under the current directory. */
  outDir?: string;
  /** Keep Wasm function names so traps and faults are symbolized; no -O3. */
  debug?: boolean;
  /** The development profile: built for rebuild speed, not for size or speed
   *  of the image. asc -O0 with names (like debug); wasm2c's output regrouped
   *  into C files that an edit mostly leaves alone (splitDevParts), compiled
   *  at -O1 in parallel, each cached by its content, so an edit recompiles
   *  only the parts it changed. */
  dev?: boolean;
  /** Rebuild every step even when cached. */
  force?: boolean;
  quiet?: boolean;
  /** A folder packed into the image as a site image (cli/lib/sitefs.ts) that
   *  the app reads from the package "skiff-embed" (apps/httpd does). */
  embed?: string;
}

export interface BuildResult {
  /** The .ts files the image was built from (kernel and app): what a watcher watches. */
  sources: string[];
  elf: string;
  debugElf: string;
  wasm: string;
  outDir: string;
  appName: string;
  bytes: number;
}

const PINNED = { assemblyscript: "0.28.20", wabt: "1.0.39" };
/** Bump when a step's recipe changes (flags, generated files) to invalidate caches. */
const PIPELINE_VERSION = "13";
/** The dev profile's C files (splitDevParts): one for the module's data,
 *  tables and exports, DEV_APP_PARTS for the app's functions and
 *  DEV_KERNEL_PARTS for the rest. More parts: less to recompile after an
 *  edit, more per-file overhead (each includes the helpers in image-impl.h,
 *  ~0.05 s of gcc). */
const DEV_APP_PARTS = 4;
const DEV_KERNEL_PARTS = 24;
/** The dev profile's C files in folder out, the module's first. */
export const devPartFiles = (out: string): string[] => ["image_m.c",
  ...Array.from({ length: DEV_APP_PARTS }, (_, i) => `image_a${i}.c`),
  ...Array.from({ length: DEV_KERNEL_PARTS }, (_, i) => `image_k${i}.c`)].map((f) => join(out, f));

const CFLAGS = [
  "-Os", "-std=gnu11", "-ffunction-sections", "-fdata-sections", "-ffreestanding", "-nostdinc", "-mno-red-zone", "-fno-pic", "-fno-pie",
  "-fno-stack-protector", "-fstack-clash-protection", "-fno-asynchronous-unwind-tables", "-fno-unwind-tables",
  "-fno-reorder-blocks-and-partition", "-fcf-protection=none", "-fno-common",
  "-Wall", "-Wno-unused-function", "-Wno-unused-variable", "-Wno-unused-but-set-variable",
];
/** Dev profile: gcc -O1 compiles wasm2c's output faster than -Os and keeps
 *  the image compact: -O0 compiled ~25% faster again but made a 4x larger
 *  image that took ~5x as long to boot to its first HTTP answer under TCG
 *  (every instruction run for the first time is translated), which cost more
 *  than it saved. */
const DEV_IMAGE_CFLAGS = ["-O1", "-fno-math-errno" /* sqrt inline, no libm call */, "-fno-strict-aliasing", "-w", "-fno-function-sections", "-fno-data-sections"];
/** Generated code is big and regular: -Os keeps the image small. What must
 *  not stay out of line is forced inline in the C itself (prepareImageC). */
const IMAGE_CFLAGS = ["-Os", "-fno-strict-aliasing", "-w",
  // One .text for image.o: link.ld keeps it contiguous and image_meta.c names
  // functions by their offset in it.
  "-fno-function-sections", "-fno-data-sections"];

/** CPU time (user + system, ms) of this process and of its children that
 *  have ended (gcc, ld, a child asc or wasm2c: /proc/self/stat's cutime and
 *  cstime). The difference across a build step is that step's CPU time. */
export function cpuMsSoFar(): number {
  const own = process.cpuUsage();
  let children = 0;
  try {
    const stat = readFileSync("/proc/self/stat", "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    children = (Number(f[13]) + Number(f[14])) * 10;     // USER_HZ is 100 on Linux
  } catch { /* not Linux */ }
  return (own.user + own.system) / 1000 + children;
}

function sha(...parts: (string | Buffer)[]): string {
  const h = createHash("sha256");
  for (const p of parts) { h.update(p); h.update("\0"); }
  return h.digest("hex");
}

function tsFilesUnder(dir: string, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) {
    if (name === "node_modules" || name === "build" || name.startsWith(".")) continue;
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) tsFilesUnder(p, out);
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts") && !name.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

function hashFiles(files: string[]): string {
  return sha(...files.flatMap((f) => [f, readFileSync(f)]));
}

export function resolveTool(name: "asc" | "wasm2c"): string {
  const req = createRequire(join(skiffRoot(), "package.json"));
  try {
    if (name === "asc") return join(dirname(req.resolve("assemblyscript/package.json")), "bin", "asc.js");
    return join(dirname(req.resolve("wabt/package.json")), "bin", "wasm2c");
  } catch {
    throw new UserError(`${name} not found: run npm ci in ${skiffRoot()} (or ./skiff, which does it for you)`);
  }
}

async function haveCommand(cmd: string): Promise<boolean> {
  try {
    await execa("sh", ["-c", `command -v ${cmd}`]);
    return true;
  } catch {
    return false;
  }
}

// Looked up once per process: the harness builds many apps in one test run.
let toolchainOk: Promise<void> | null = null;
let gccInclude: Promise<string> | null = null;
function toolchainChecked(): Promise<void> {
  return (toolchainOk ??= checkCToolchain().catch((e) => { toolchainOk = null; throw e; }));
}
function gccIncludeDir(): Promise<string> {
  return (gccInclude ??= execa("gcc", ["-print-file-name=include"]).then((r) => r.stdout.trim()));
}

export async function checkCToolchain(): Promise<void> {
  for (const [cmd, pkg] of [["gcc", "gcc"], ["ld", "binutils"], ["objdump", "binutils"], ["strip", "binutils"]]) {
    if (!(await haveCommand(cmd))) {
      throw new UserError(`${cmd} not found: install it with apt-get install -y ${pkg}`);
    }
  }
}

export function appInfo(app: string, cwd: string): { entry: string; name: string } {
  const p = resolve(cwd, app);
  if (!existsSync(p)) throw new UserError(`${app}: no such app folder or file`);
  if (statSync(p).isDirectory()) {
    const entry = join(p, "main.ts");
    if (!existsSync(entry)) throw new UserError(`${app}: no main.ts in this folder; an app exports main(): i32 from main.ts`);
    return { entry, name: basename(p) };
  }
  if (!p.endsWith(".ts")) throw new UserError(`${app}: expected an app folder or a .ts file`);
  return { entry: p, name: basename(p, ".ts") === "main" ? basename(dirname(p)) : basename(p, ".ts") };
}

interface Step {
  name: string;
  output: string;
  /** The cache key; "" keys the step on the outputs of the steps before it;
   *  a function is called when the step's turn comes. */
  key: string | (() => string);
  run: () => Promise<void>;
}

/** The packages folder asc compiles an image against (out/.packages):
 *  "skiff" a link to this Skiff, so kernel and app share one copy (asc
 *  resolves `import ... from "skiff"` to <path>/skiff/index.ts), and
 *  "skiff-embed" the --embed folder as a site image in a data segment (empty
 *  without --embed; only apps that import it pay for it). Returns the folder
 *  and skiff-embed's source (part of the cache key). */
export function preparePackages(out: string, embedDir: string | undefined): { dir: string; embedSrc: string } {
  const root = skiffRoot();
  const dir = join(out, ".packages");
  mkdirSync(dir, { recursive: true });
  const link = join(dir, "skiff");
  if (!existsSync(link) || !lstatSync(link).isSymbolicLink() || readlinkSync(link) !== root) {
    try { unlinkSync(link); } catch { /* absent */ }
    symlinkSync(root, link);
  }
  const embedSrc = embedModule(embedDir);
  mkdirSync(join(dir, "skiff-embed"), { recursive: true });
  const embedFile = join(dir, "skiff-embed", "index.ts");
  if (!existsSync(embedFile) || readFileSync(embedFile, "utf8") !== embedSrc) writeFileSync(embedFile, embedSrc);
  return { dir, embedSrc };
}

/** The top-level module names of asc's standard library (~lib/<name>). */
let stdModules: Set<string> | null = null;
function ascStdModules(): Set<string> {
  return stdModules ??= stdModuleNames(dirname(createRequire(join(skiffRoot(), "package.json")).resolve("assemblyscript/package.json")));
}

/** asc's flags for each way an app is compiled: release (-O3), debug (names,
 *  -O1), dev (`build --dev`: names, -O0, no validation: binaryen's validation
 *  re-checks what asc just generated) and hosted (`skiff dev`: dev's, with the
 *  function table exported: the TypeScript host runs guarded calls through
 *  it). packages: the folder preparePackages made. */
export function ascFlags(profile: "release" | "debug" | "dev" | "hosted", packages: string): string[] {
  return [
    "--runtime", "incremental", "--use", "abort=entry/skiffAbort", "--path", packages,
    ...(profile === "hosted" ? ["--exportTable"] : []),
    // No --initialMemory: asc sizes it to the static data (one page for small apps; an embedded site needs more).
    "--stackSize", "16384", "--noColors",
    // Release: --shrinkLevel 0 lets Binaryen inline small functions (up to
    // its flexible-inlining size) where shrink level 1 keeps them out of
    // line. Under TCG every call's return is an indirect branch and a
    // translated-block lookup: a small-file HTTP request cost 92 → 68 µs of
    // QEMU CPU (httpd 531 → 552 KiB, hello 43.5 → 45.8 KiB, hello's boot
    // unchanged within its spread; docs/BENCHMARKS.md, issue #14 notes).
    // Release: --debug only adds the name section (the code is the same);
    // the build reads the names (cli/lib/stackcheck.ts) and gives wasm2c
    // the module without them.
    ...(profile === "release" ? ["-O3", "--shrinkLevel", "0", "--noAssert", "--debug"] : profile === "debug" ? ["--debug", "-O1"] : ["--debug", "-O0", "--noValidate"]),
  ];
}

/** cli/lib/wasm2c-run.cjs's in-process runner. */
interface Wasm2cRunner {
  runInProcess(wasm2c: string, args: string[], cwd: string): Promise<{ status: number; output: string }>;
}

/** wasm2c with args in folder cwd, in this process (the dev profile; a
 *  watching process warms it up with a run of its own). */
export function runWasm2cInProcess(args: string[], cwd: string): Promise<{ status: number; output: string }> {
  const root = skiffRoot();
  const { runInProcess } = createRequire(join(root, "package.json"))(join(root, "cli", "lib", "wasm2c-run.cjs")) as Wasm2cRunner;
  return runInProcess(resolveTool("wasm2c"), args, cwd);
}

type AscMain = (argv: string[], options: object) => Promise<{ error: Error | null }>;
let ascModule: Promise<AscMain> | null = null;
let ascQueue: Promise<unknown> = Promise.resolve();

/** Runs asc with args in folder cwd; returns whether it succeeded and what it
 *  printed. inProcess: asc's API in this process, loaded on first use (not at
 *  the CLI's start: loading asc and binaryen costs ~0.5 s) and kept, so that a
 *  watching process (`skiff dev`, `skiff run --dev --watch`) pays no Node
 *  start-up and runs on code V8 has already optimised (CPU per run of the
 *  same build in one process: 3.9, 2.0, 1.2, 0.9 s for apps/httpd at -O0);
 *  one compile at a time. Otherwise a child Node process, whose memory
 *  (binaryen's -O3 on a large app) goes back when it ends. */
export async function runAsc(args: string[], cwd: string, inProcess: boolean): Promise<{ ok: boolean; text: string }> {
  if (!inProcess) {
    const r = await execa(process.execPath, [resolveTool("asc"), ...args], { cwd, reject: false, all: true });
    return { ok: r.exitCode === 0, text: String(r.all ?? "") };
  }
  const run = async () => {
    ascModule ??= import("assemblyscript/asc").then((m) => (m.default as unknown as { main: AscMain }).main);
    const main = await ascModule;
    let text = "";
    const sink = { write: (s: string | Uint8Array) => { text += String(s); return true; } };
    const { error } = await main([...args, "--baseDir", cwd], { stdout: sink, stderr: sink });
    return { ok: !error, text: text || (error ? error.message : "") };
  };
  const r = ascQueue.then(run, run);
  ascQueue = r.catch(() => undefined);
  return r;
}

/** The kernel's sources (with the package's index.ts) and the app's: what an
 *  image or a hosted module is compiled from. */
export function kernelAndAppSources(appEntry: string): string[] {
  const root = skiffRoot();
  return [...new Set([...tsFilesUnder(join(root, "kernel")), join(root, "index.ts"), ...tsFilesUnder(dirname(appEntry)), appEntry])];
}

export async function build(opts: BuildOptions, io: IO): Promise<BuildResult> {
  const root = skiffRoot();
  const { entry: appEntry, name } = appInfo(opts.app, io.cwd);
  const named = !!(opts.debug || opts.dev);
  const out = resolve(io.cwd, opts.outDir ?? join("build", name + (opts.dev ? "-dev" : opts.debug ? "-debug" : "")));
  mkdirSync(out, { recursive: true });
  if (opts.force) rmSync(join(out, ".cache"), { recursive: true, force: true });
  mkdirSync(join(out, ".cache"), { recursive: true });
  await toolchainChecked();
  const { dir: pkgDir, embedSrc } = preparePackages(out, opts.embed ? resolve(io.cwd, opts.embed) : undefined);

  let appImport = relative(out, appEntry).replace(/\\/g, "/").replace(/\.ts$/, "");
  if (!appImport.startsWith(".")) appImport = "./" + appImport;
  const entrySrc = `// Generated by skiff build: the image's entry. Do not edit.
import { startKernel, finishKernel, bootKernel, abortHandler, HOSTIF_VERSION as KERNEL_HOSTIF_VERSION } from "skiff";
import { main } from "${appImport}";

export const HOSTIF_VERSION: u32 = KERNEL_HOSTIF_VERSION;

export function boot(): void {
${named
    // Debug and dev: main passed as a value, so it is never inlined into boot and a
    // trap in it is named after it.
    ? "  bootKernel(main);"
    // Release: a direct call (no function table, no indirect call at boot).
    : "  startKernel();\n  finishKernel(main());"}
}

function skiffAbort(message: usize, fileName: usize, line: u32, column: u32): void {
  abortHandler(message, fileName, line, column);
}
`;
  const entry = join(out, "entry.ts");
  if (!existsSync(entry) || readFileSync(entry, "utf8") !== entrySrc) writeFileSync(entry, entrySrc);

  // In-process (dev) asc resolves --path from this process's folder, not --baseDir: absolute.
  const flags = ascFlags(opts.dev ? "dev" : opts.debug ? "debug" : "release", opts.dev ? pkgDir : ".packages");
  const wasm = join(out, "image.wasm");
  const namesFile = join(out, "image.names.json");
  const cSrc = join(out, "image.c");
  // Dev: the parts splitDevParts writes, with the helpers in image-impl.h.
  const implH = join(out, "image-impl.h");
  const devParts = devPartFiles(out);
  const imageO = join(out, "image.o");
  const bootDir = join(root, "boot");
  const gccInclude = await gccIncludeDir();
  // The prefix maps keep absolute paths (assert's __FILE__) out of the image,
  // so the same sources give the same bytes in any folder (reproducible builds).
  const incs = ["-isystem", gccInclude, "-I", join(bootDir, "include"), "-I", bootDir, "-I", out,
    `-ffile-prefix-map=${out}/=`, `-ffile-prefix-map=${root}/=`];
  const bootFiles = readdirSync(bootDir).filter((f) => /\.(c|S|h|ld)$/.test(f)).sort().map((f) => join(bootDir, f))
    .concat(readdirSync(join(bootDir, "include")).sort().map((f) => join(bootDir, "include", f)));
  const elfDebug = join(out, "image.debug.elf");
  const elf = join(out, "image.elf");

  const sources = kernelAndAppSources(appEntry);
  const steps: Step[] = [
    {
      name: "asc",
      output: wasm,
      key: sha(PIPELINE_VERSION, PINNED.assemblyscript, entrySrc, embedSrc, flags.join(" "), hashFiles(sources)),
      run: async () => {
        // Dev: in this process (a watching `skiff run --dev --watch` keeps asc warm).
        const r = await runAsc(["entry.ts", "-o", "image.wasm", ...flags], out, !!opts.dev);
        if (!r.ok || !existsSync(wasm)) {
          rmSync(wasm, { force: true });
          const text = r.text;
          // The generated entry is correct by construction: an error located
          // in it is about the app's main; say so, naming the app's file.
          const app = relative(io.cwd, appEntry) || appEntry;
          if (/has no exported member 'main'/.test(text)) {
            throw new UserError(`${app}: no exported function main; an app exports main(): i32 from this file (its return value is the guest's exit status)`, 1);
          }
          if (/ in entry\.ts\(\d+,\d+\)/.test(text)) {
            throw new UserError(`${app}: main must be declared main(): i32 — no parameters, returning the guest's exit status; asc said:\n${fixAscPaths(text, out, io.cwd)}`, 1);
          }
          throw new UserError(`AssemblyScript compile failed:\n${explainAscFailure(fixAscPaths(text, out, io.cwd))}`, 1);
        }
        // Hundreds of tiny data segments cost code in wasm2c's init: merge them.
        let bytes = mergeDataSegments(readFileSync(wasm)).wasm;
        // The functions' names, for the stack checks the wasm2c step adds;
        // a release image keeps wasm2c's f<index> names, as before.
        writeFileSync(namesFile, JSON.stringify({ functions: [...functionNames(bytes)], stackPointer: stackPointerGlobal(globalNames(bytes)) }));
        if (!opts.dev && !opts.debug) bytes = withoutCustomSection(bytes, "name");
        writeFileSync(wasm, bytes);
      },
    },
    {
      name: "wasm2c",
      output: opts.dev ? implH : cSrc,
      key: "",
      run: async () => {
        // Through wasm2c-run.cjs: wabt's Wasm build of wasm2c has a 64 KiB
        // stack, too small for the GC visitor's nesting (one block per class).
        const runner = join(root, "cli", "lib", "wasm2c-run.cjs");
        if (opts.dev) {
          // Dev: in this process, wabt's Wasm compiled once and kept (a
          // watching process pays no Node start and no compile per save).
          const wasmParts = [0, 1].map((i) => join(out, `image_${i}.c`));
          for (const f of wasmParts) rmSync(f, { force: true });
          const r = await runWasm2cInProcess([wasm, "-n", "kernel", "--num-outputs", String(wasmParts.length), "-o", cSrc], out);
          if (r.status !== 0) throw new UserError(`build step wasm2c failed (status ${r.status}):\n${r.output}`.trim(), 1);
          // The app's functions are named after its files, relative to the build folder.
          const appDir = relative(out, dirname(appEntry)).replace(/\\/g, "/");
          splitDevParts(wasmParts, readFileSync(implH, "utf8"), `${appDir.startsWith(".") ? appDir : "./" + appDir}/`, devParts, ascStdModules());
          for (const f of wasmParts) rmSync(f, { force: true });
        } else {
          await execa(process.execPath, [runner, resolveTool("wasm2c"), "image.wasm", "-n", "kernel", "-o", "image.c"], { cwd: out });
        }
        const prepared = opts.dev ? implH : cSrc;
        let text = prepareImageC(readFileSync(prepared, "utf8"));
        if (!opts.dev) {
          // The app's calls into the kernel, the runtime and the standard
          // library check the stack first (cli/lib/stackcheck.ts).
          const n = JSON.parse(readFileSync(namesFile, "utf8")) as { functions: [number, string][]; stackPointer: number | null };
          const stackSize = Number(flags[flags.indexOf("--stackSize") + 1]);
          text = insertStackChecks(text, cNameResolver(new Map(n.functions)), ascStdModules(), { global: n.stackPointer, size: stackSize }).c;
        }
        writeFileSync(prepared, text);
      },
    },
    {
      name: "cc",
      output: imageO,
      key: "",
      run: async () => {
        if (!opts.dev) {
          await execa("gcc", [...CFLAGS, ...IMAGE_CFLAGS, ...incs, "-c", cSrc, "-o", imageO]);
          return;
        }
        // Keyed on the headers without the functions' prototypes: a function
        // added or removed changes its part and those calling it, not the
        // others (a prototype's types show in every call to it, since Wasm
        // calls are typed: a signature changed changes its callers' text).
        const implKey = readFileSync(implH, "utf8").replace(/^\S+ w2c_kernel_\w+\(w2c_kernel\*[^;\n]*\);\n/gm, "");
        const headers = sha(PIPELINE_VERSION, implKey, readFileSync(join(out, "image.h")), hashFiles(bootFiles), CFLAGS.join(" "), DEV_IMAGE_CFLAGS.join(" "));
        // The module's part (data, tables, exports, code run once at start)
        // at -O0: it is recompiled whenever the static data changes, and -O1
        // took 3x as long for nothing that runs often.
        const objs = await compileParts(devParts, headers, join(out, ".cache", "parts"),
          (src, obj) => execa("gcc", [...CFLAGS, ...DEV_IMAGE_CFLAGS, ...(src === devParts[0] ? ["-O0"] : []), ...incs, "-c", src, "-o", obj]).then(() => undefined));
        // One relocatable object with one .text, as image_meta.c expects.
        await execa("ld", ["-r", "-o", imageO, ...objs]);
      },
    },
    {
      name: "loader",
      output: join(out, "loader.a"),
      // The loader depends on the boot sources and on image.h (the kernel's
      // imports, exports and instance layout), not on the rest of the app.
      key: () => sha(PIPELINE_VERSION, "loader", CFLAGS.join(" "), hashFiles(bootFiles), readFileSync(join(out, "image.h"))),
      run: async () => {
        const objs: string[] = [];
        for (const f of ["entry.S", "serial.c", "libc.c", "paging.c", "bootrecord.c", "bootinfo.c", "runtime.c", "loader.c"]) {
          const o = join(out, f.replace(/\.[cS]$/, ".o"));
          await execa("gcc", [...CFLAGS, ...incs, "-c", join(bootDir, f), "-o", o]);
          objs.push(o);
        }
        rmSync(join(out, "loader.a"), { force: true });
        await execa("ar", ["rcs", join(out, "loader.a"), ...objs]);
      },
    },
    {
      name: "symbols",
      output: join(out, "image_meta.o"),
      key: "",
      run: async () => {
        const meta = await imageMeta(imageO, opts.dev ? devParts.filter(existsSync) : [cSrc]);
        writeFileSync(join(out, "image_meta.c"), meta);
        // A table of constants: -O0 in dev, where it is large (every function named).
        await execa("gcc", [...CFLAGS, ...(opts.dev ? ["-O0"] : []), ...incs, "-c", join(out, "image_meta.c"), "-o", join(out, "image_meta.o")]);
      },
    },
    {
      name: "ld",
      output: elf,
      key: "",
      run: async () => {
        // entry.o first so .text.boot leads; the archive supplies the rest.
        await execa("gcc", [
          "-nostdlib", "-static", "-no-pie", "-Wl,-T," + join(bootDir, "link.ld"), "-Wl,--gc-sections",
          "-Wl,-z,max-page-size=0x1000", "-Wl,-z,noexecstack", "-Wl,--build-id=none", "-Wl,--no-warn-rwx-segments",
          "-o", elfDebug, join(out, "entry.o"), imageO, join(out, "image_meta.o"), join(out, "loader.a"), "-lgcc",
        ]);
        await execa("strip", ["-s", "-R", ".comment", "-o", elf, elfDebug]);
      },
    },
  ];
  // Later steps are keyed on what the earlier ones produced, and on the
  // edits made to wasm2c's output (a new Skiff may edit it differently).
  const keyOf = (s: Step, prev: Step[]): string =>
    (typeof s.key === "function" ? s.key() : s.key) || sha(PIPELINE_VERSION, s.name, prepareImageC.toString(), insertStackChecks.toString(), opts.dev ? "dev" : "release", CFLAGS.join(" "), IMAGE_CFLAGS.join(" "), DEV_IMAGE_CFLAGS.join(" "), PINNED.wabt, hashFiles(bootFiles),
      ...prev.filter((p) => existsSync(p.output)).map((p) => readFileSync(p.output)), existsSync(namesFile) ? readFileSync(namesFile) : "");

  if (!opts.quiet) io.out(`skiff build ${relative(io.cwd, appEntry) || appEntry} → ${relative(io.cwd, out) || "."}`);
  // The function names written beside the module go with it: without them
  // the wasm2c step could not add the stack checks, so compile again.
  if (!existsSync(namesFile)) rmSync(join(out, ".cache", "asc"), { force: true });
  const done: Step[] = [];
  for (const s of steps) {
    const key = keyOf(s, done);
    const stamp = join(out, ".cache", s.name);
    const t0 = performance.now();
    const cpu0 = cpuMsSoFar();
    let cached = false;
    if (!opts.force && existsSync(s.output) && existsSync(stamp) && readFileSync(stamp, "utf8") === key) {
      cached = true;
    } else {
      rmSync(stamp, { force: true });
      try {
        await s.run();
      } catch (e) {
        if (e instanceof UserError) throw e;
        const err = e as { stderr?: string; shortMessage?: string; message: string };
        throw new UserError(`build step ${s.name} failed: ${err.shortMessage ?? err.message}\n${err.stderr ?? ""}`.trim(), 1);
      }
      writeFileSync(stamp, key);
    }
    done.push(s);
    if (!opts.quiet) {
      const size = existsSync(s.output) ? statSync(s.output).size : 0;
      io.out(`  ${s.name.padEnd(8)} ${basename(s.output).padEnd(16)} ${formatBytes(size).padStart(10)}  ${cached ? "cached" : `${formatMs(performance.now() - t0)} (${formatMs(cpuMsSoFar() - cpu0)} CPU)`}`);
    }
  }
  const bytes = statSync(elf).size;
  const digest = createHash("sha256").update(readFileSync(elf)).digest("hex");
  if (!opts.quiet) io.out(`  image    ${relative(io.cwd, elf)}  ${formatBytes(bytes)}  sha256 ${digest.slice(0, 16)}…`);
  return { sources, elf, debugElf: elfDebug, wasm, outDir: out, appName: name, bytes };
}

/** Compiles each C part to an object cached under cacheDir by the part's
 *  content and the headers' hash (an unchanged part is not recompiled), as
 *  many at once as there are CPUs; returns the objects in the parts' order.
 *  Objects no part needs any more are removed. */
export async function compileParts(parts: string[], headersKey: string, cacheDir: string,
  compile: (src: string, obj: string) => Promise<void>): Promise<string[]> {
  mkdirSync(cacheDir, { recursive: true });
  const objs = parts.map((p) => join(cacheDir, sha(headersKey, basename(p), readFileSync(p)).slice(0, 32) + ".o"));
  const todo = parts.map((p, i) => ({ src: p, obj: objs[i] })).filter((t) => !existsSync(t.obj));
  let next = 0;
  const worker = async () => {
    for (let t = todo[next++]; t; t = todo[next++]) {
      const tmp = t.obj + ".tmp";
      await compile(t.src, tmp);
      renameSync(tmp, t.obj);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(availableParallelism(), todo.length)) }, worker));
  const keep = new Set(objs.map((o) => basename(o)));
  for (const f of readdirSync(cacheDir)) if (!keep.has(f)) rmSync(join(cacheDir, f), { force: true });
  return objs;
}

/** Regroups wasm2c's multi-file output (wasmParts: its first file holds the
 *  module's types, data, tables and exports as well as functions) into the
 *  dev profile's parts (devPartFiles): the module's part, then the
 *  functions, each placed by a hash of its name: the app's (named after its
 *  files: appPrefix) in the app's parts, the others in the kernel's. wasm2c
 *  places functions by their rank in name order, so one function added
 *  moved every later one to another file and recompiled them all; here a
 *  function stays in its part, and an edit of the app recompiles the
 *  module's part (the data) and the app's parts it touched.
 *  Functions are the definitions of the names image-impl.h declares; any
 *  other text outside the first file means wasm2c's output changed shape,
 *  and the build stops rather than guess. */
export function splitDevParts(wasmParts: string[], implH: string, appPrefix: string, parts: string[], std: Set<string> | null = null): void {
  const declared = new Set<string>();
  for (const m of implH.matchAll(/^\S+ (w2c_kernel_\w+)\(/gm)) declared.add(m[1]);
  const namedOnly = cNameResolver(new Map());   // dev builds keep the names
  const head = '/* Generated by skiff build from wasm2c\'s output. Do not edit. */\n#include "image-impl.h"\n';
  const module: string[] = [];
  const app: string[][] = Array.from({ length: DEV_APP_PARTS }, () => []);
  const kernel: string[][] = Array.from({ length: DEV_KERNEL_PARTS }, () => []);
  wasmParts.forEach((file, n) => {
    const lines = readFileSync(file, "utf8").split("\n");
    for (let i = 0; i < lines.length; i++) {
      const m = WASM2C_FUNCTION_DEF.exec(lines[i]);
      if (m && declared.has(m[1])) {
        let j = i;
        while (j < lines.length && lines[j] !== "}") j++;
        if (j === lines.length) throw new Error(`wasm2c's output: no end to function ${m[1]} in ${basename(file)}`);
        const text = lines.slice(i, j + 1).join("\n") + "\n";
        const name = demangle(m[1]);
        const bucket = name.includes(appPrefix) ? app[fnv1a(name) % DEV_APP_PARTS] : kernel[fnv1a(name) % DEV_KERNEL_PARTS];
        // The app's calls into the rest check the stack first (cli/lib/stackcheck.ts).
        bucket.push(std === null ? text : insertStackChecks(text, namedOnly, std).c);
        // The blank line after it goes with it (the module's text must not
        // change with the number of functions wasm2c put in its file).
        i = lines[j + 1] === "" ? j + 1 : j;
      } else if (n === 0) {
        module.push(lines[i]);
      } else if (lines[i] !== "" && lines[i] !== '#include "image-impl.h"' && !/^\/\*.*\*\/$/.test(lines[i])) {
        throw new Error(`wasm2c's output: unexpected text outside a function in ${basename(file)}: ${lines[i].slice(0, 80)}`);
      }
    }
  });
  const texts = [module.join("\n"), ...app.map((fs) => head + fs.join("\n")), ...kernel.map((fs) => head + fs.join("\n"))];
  if (texts.length !== parts.length) throw new Error("splitDevParts: parts and names differ in number");
  texts.forEach((t, i) => {
    if (!existsSync(parts[i]) || readFileSync(parts[i], "utf8") !== t) writeFileSync(parts[i], t);
  });
}

/** FNV-1a, 32 bits: a hash that is the same in every run and version of Node. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** The source of the "skiff-embed" package: EMBED_PTR/EMBED_LEN locate a
 *  site image of dir in linear memory (0/0 without a folder). */
export function embedModule(dir: string | undefined): string {
  const head = "// Generated by skiff build (--embed): a site image in linear memory. Do not edit.\n";
  if (!dir) return head + "export const EMBED_PTR: usize = 0;\nexport const EMBED_LEN: i32 = 0;\n";
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError(`--embed ${dir}: not a folder`);
  const { files } = collectFiles(dir);
  if (files.length === 0) throw new UserError(`--embed ${dir}: no files to embed (dotfiles and symbolic links are skipped)`);
  const img = buildSiteImage(files);
  // 64 bytes a line keeps the generated file readable by tools; asc copes with MBs of it.
  const lines: string[] = [];
  for (let i = 0; i < img.length; i += 64) lines.push(Array.from(img.subarray(i, i + 64)).join(","));
  return head + `// ${files.length} files from ${basename(dir)}\nexport const EMBED_PTR: usize = memory.data<u8>([\n${lines.join(",\n")}\n], 16);\n` +
    `export const EMBED_LEN: i32 = ${img.length};\n`;
}

/** Adjusts wasm2c's output (pinned wabt 1.0.39; a pattern that is missing
 *  means the generator changed, and the build stops rather than silently
 *  producing a slower image):
 *  - the load/store helpers (i32_load_default32 ...) forced inline: -Os would
 *    leave a call and return per Wasm memory access, a translated-block lookup
 *    each under TCG (TCP 6 MiB/s instead of 40); the rest stays -Os;
 *  - boot/hostif_inline.h included: the one-instruction host imports (port
 *    I/O, MMIO, barriers, TSC, phys_read) become inline code;
 *  - loads and stores address linear memory from its fixed alias
 *    (__linear_vbase), not through the instance;
 *  - memory.fill inline, and a fill of constant length up to 64 bytes as
 *    straight stores (boot/memfill.h), the furthest first, so that the guard
 *    region stands in for the range check: the shadow stack clears a frame
 *    at the entry of every function holding managed references, ~40 times
 *    per HTTP request, which was a call to memory_fill and one to memset. */
export function prepareImageC(c: string): string {
  const once = (text: string, from: string | RegExp, to: string, what: string): string => {
    const out = text.replace(from, to);
    if (out === text) throw new Error(`wasm2c's output has no ${what}: does image.c come from wabt ${PINNED.wabt}?`);
    return out;
  };
  c = once(c, '#include "image.h"\n', '#include "image.h"\n#define SKIFF_INLINE_HOST_IMPORTS 1\n#include "hostif_inline.h"\n#include "stackcheck.h"\n', "#include of image.h");
  c = once(c, "static inline void memory_fill(wasm_rt_memory_t* mem, u64 d, u32 val, u64 n) {\n  RANGE_CHECK(mem, d, n);\n  memset(MEM_ADDR(mem, d, n), val, n);\n}",
    "#include \"memfill.h\"\nstatic inline __attribute__((always_inline)) void memory_fill(wasm_rt_memory_t* mem, u64 d, u32 val, u64 n) {\n" +
    "  if (__builtin_constant_p(n) && n <= 64) { skiff_fill_upto64(skiff_linear_vbase() + d, (uint8_t)val, n); return; }\n" +
    "  RANGE_CHECK(mem, d, n);\n  memset(MEM_ADDR(mem, d, n), val, n);\n}",
    "memory_fill definition");
  c = once(c, "#define MEM_ADDR_MEMOP(mem, addr, n) MEM_ADDR(mem, addr, n)",
    "#define MEM_ADDR_MEMOP(mem, addr, n) (skiff_linear_vbase() + (addr))", "MEM_ADDR_MEMOP definition");
  return once(c, /static inline (return_type name(?:##_default32)?\(|t3 name##_unchecked\(|void name##_unchecked\()/g,
    "static inline __attribute__((always_inline)) $1", "load/store helper definitions");
}

/** asc prints paths relative to the build folder; make them relative to the
 *  user's folder so file:line can be clicked. */
function fixAscPaths(text: string, outDir: string, cwd: string): string {
  return text.replace(/in (\S+\.ts)\((\d+),(\d+)\)/g, (_m, file: string, line: string, col: string) => {
    let p = file.startsWith("~lib/skiff/") ? join(skiffRoot(), file.slice("~lib/skiff/".length)) : resolve(outDir, file);
    if (file.startsWith("~lib/") && !file.startsWith("~lib/skiff/")) p = file;
    return `in ${p.startsWith("/") ? relative(cwd, p) : p}:${line}:${col}`;
  });
}

/** image_meta.c: the symbol table naming functions of image.o (offsets within
 *  its .text, which link.ld keeps contiguous) and the function-table arena. */
async function imageMeta(imageO: string, cSrcs: string[]): Promise<string> {
  const dump = (await execa("objdump", ["-t", imageO])).stdout;
  const syms: { off: number; name: string }[] = [];
  for (const line of dump.split("\n")) {
    // 0000000000000ab0 l     F .text	00000000000000b3 w2c_kernel_f12
    const m = /^([0-9a-f]+)\s.*\sF\s\.text\s+[0-9a-f]+\s+(\S+)$/.exec(line);
    if (m) syms.push({ off: parseInt(m[1], 16), name: demangle(m[2]) });
  }
  syms.sort((a, b) => a.off - b.off);
  let tableLen = 0;
  for (const cSrc of cSrcs) {
    const c = readFileSync(cSrc, "utf8");
    for (const m of c.matchAll(/wasm_rt_allocate_funcref_table\([^,]+,\s*(\d+)/g)) tableLen += parseInt(m[1], 10);
  }
  const names: string[] = [];
  let strtabBytes = 0;
  const entries: string[] = [];
  const seen = new Map<string, number>();
  for (const s of syms) {
    let at = seen.get(s.name);
    if (at === undefined) {
      // Counted as it grows: measuring the whole table each time was
      // quadratic (~1 s for the 4,800 names of a dev build of httpd).
      at = strtabBytes;
      seen.set(s.name, at);
      names.push(s.name);
      strtabBytes += Buffer.byteLength(s.name) + 1;
    }
    entries.push(`{${s.off}u,${at}u}`);
  }
  const strtab = names.map((n) => n + "\0").join("");
  const cstr = JSON.stringify(strtab).replace(/\\u0000/g, "\\0");
  return `/* Generated by skiff build from image.o. Do not edit. */
#include <stdint.h>
#include "wasm-rt.h"
#include "runtime.h"
wasm_rt_funcref_t skiff_table_arena[${Math.max(tableLen, 1)}];
const uint32_t skiff_table_arena_len = ${tableLen};
const struct skiff_sym skiff_syms[${Math.max(entries.length, 1)}] = {${entries.join(",") || "{0,0}"}};
const uint32_t skiff_nsyms = ${entries.length};
const char skiff_symstr[] = ${cstr};
`;
}
