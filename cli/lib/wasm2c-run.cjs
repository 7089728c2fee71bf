// cli/lib/wasm2c-run.cjs — runs wabt's wasm2c (the npm package: wasm2c compiled
// to Wasm by Emscripten) with an 8 MiB stack instead of the 64 KiB it was
// linked with.
//
//   node wasm2c-run.cjs <path of wabt/bin/wasm2c> <wasm2c arguments...>
//
// Why: wasm2c's C writer recurses once per nested block (two frames a level),
// and AssemblyScript's __visit_members (the GC's per-class visitor) is a
// br_table over every class id, one nested block per class: ~240 levels for
// apps/kv built with --debug, ~165 for a release build. Emscripten's stack
// sits just above the static data and grows down into it unchecked, so
// 64 KiB overflowed into wasm2c's own data: a "memory access out of bounds"
// trap (kv --debug) or an endless loop (httpd --debug ran for 10+ minutes).
//
// How: Emscripten's layout is [static data][stack, 64 KiB][heap...]; the stack
// pointer is global 0 (initialised to the stack's top, which is also the heap's
// base) and sbrk's break is a word in the last data segment holding the same
// value. Moving both up by STACK_EXTRA gives the stack that much more room and
// starts the heap above it; the memory's initial size already covers it. The
// module is recognised by those patterns; if they are not found exactly once
// (another wabt build), this stops instead of guessing.
"use strict";

const STACK_EXTRA = 8 << 20;

function readLeb(b, pos, signed) {
  let result = 0, shift = 0, byte;
  do {
    byte = b[pos++];
    result |= (byte & 0x7f) << shift;
    shift += 7;
  } while (byte & 0x80 && shift < 35);
  if (signed && shift < 32 && byte & 0x40) result |= -1 << shift;
  return [signed ? result | 0 : result >>> 0, pos];
}

function sleb(n) {
  const out = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(byte & 0x40)) || (n === -1 && byte & 0x40)) { out.push(byte); return out; }
    out.push(byte | 0x80);
  }
}

function uleb(n) {
  const out = [];
  do { let byte = n & 0x7f; n >>>= 7; if (n) byte |= 0x80; out.push(byte); } while (n);
  return out;
}

/** The Emscripten module with its stack enlarged by extra bytes; throws when
 *  the module does not have the layout described above. */
function enlargeStack(wasm, extra = STACK_EXTRA) {
  const b = Buffer.from(wasm.buffer, wasm.byteOffset, wasm.byteLength);
  const fail = (what) => { throw new Error(`wasm2c-run: wabt's wasm2c module has ${what}; it is not the Emscripten build this was written for`); };
  const sections = [];
  for (let p = 8; p < b.length;) {
    const id = b[p];
    const [len, body] = readLeb(b, p + 1, false);
    sections.push({ id, start: p, body, end: body + len });
    p = body + len;
  }
  const one = (id) => { const s = sections.filter((x) => x.id === id); if (s.length !== 1) fail(`${s.length} sections ${id}`); return s[0]; };
  // Global section: exactly one global, (mut i32) (i32.const TOP) — the stack pointer.
  const g = one(6);
  if (b[g.body] !== 1 || b[g.body + 1] !== 0x7f || b[g.body + 2] !== 1 || b[g.body + 3] !== 0x41) fail("no single mutable i32 global");
  const [top, endConst] = readLeb(b, g.body + 4, true);
  if (b[endConst] !== 0x0b || endConst + 1 !== g.end) fail("a global initialiser other than i32.const");
  const newTop = top + extra;
  // Memory section: one memory whose initial size holds the moved stack.
  const m = one(5);
  let [count, q] = readLeb(b, m.body, false);
  const [flags, q2] = readLeb(b, q, false);
  const [initialPages] = readLeb(b, q2, false);
  if (count !== 1 || flags > 1) fail("not one plain memory");
  if (initialPages * 65536 < newTop) fail(`an initial memory (${initialPages} pages) smaller than the enlarged stack`);
  // Data section: sbrk's break, the one word of static data equal to TOP
  // (bytes past a segment's end read as zero).
  const d = one(11);
  const hits = [];
  let [nseg, p] = readLeb(b, d.body, false);
  for (let i = 0; i < nseg; i++) {
    const [segFlags, p1] = readLeb(b, p, false);
    if (segFlags !== 0 || b[p1] !== 0x41) fail("a data segment that is not active with an i32.const offset");
    const [, p2] = readLeb(b, p1 + 1, true);
    if (b[p2] !== 0x0b) fail("a data segment offset other than i32.const");
    const [len, bytes] = readLeb(b, p2 + 1, false);
    for (let k = 0; k < len; k += 1) {
      let v = 0;
      for (let j = 3; j >= 0; j--) v = v * 256 + (k + j < len ? b[bytes + k + j] : 0);
      if (v === top) hits.push({ at: bytes + k, room: Math.min(4, len - k) });
    }
    p = bytes + len;
  }
  if (hits.length !== 1) fail(`${hits.length} data words equal to the stack top ${top} (expected sbrk's break alone)`);
  const { at, room } = hits[0];
  if (newTop >= 2 ** (8 * room)) fail(`sbrk's break stored in ${room} bytes`);
  const out = Buffer.concat([
    b.subarray(0, g.start),
    Buffer.from([6, ...uleb(5 + sleb(newTop).length), 1, 0x7f, 1, 0x41, ...sleb(newTop), 0x0b]),
    b.subarray(g.end),
  ]);
  const shift = out.length - b.length;
  const word = at + shift;
  for (let j = 0; j < room; j++) out[word + j] = (newTop >>> (8 * j)) & 0xff;
  return { wasm: out, stackTop: top, newStackTop: newTop };
}

/** The Emscripten glue of one wasm2c script as a function of what it takes
 *  from its surroundings, and its Wasm module (stack enlarged) compiled once:
 *  loaded on the first in-process run and kept. */
let loaded = null;

/** The glue's source wrapped in a function whose parameters shadow the globals
 *  it uses (Module, require, process, WebAssembly...): each call is a fresh
 *  runtime (its own heap, file table and exit status) that touches nothing of
 *  this process but the files it is told to read and write. */
function loadGlue(wasm2c) {
  const fs = require("node:fs");
  const src = fs.readFileSync(wasm2c, "utf8").replace(/^#!.*\n/, "");
  return require("node:vm").runInThisContext(
    `(function (Module, require, process, WebAssembly, __filename, __dirname, module) {${src}\n})`, { filename: wasm2c });
}

/** Runs wasm2c (the script at path wasm2c) with args in folder cwd inside this
 *  process; resolves to its exit status and what it printed. The first call
 *  compiles wabt's Wasm (a few hundred ms); later calls only instantiate it,
 *  on code V8 has already optimised: what `skiff run --dev --watch` wants,
 *  one wasm2c per save. One run at a time (each is synchronous once loaded). */
async function runInProcess(wasm2c, args, cwd) {
  const path = require("node:path");
  const realFs = require("node:fs");
  wasm2c = path.resolve(wasm2c);
  if (!loaded || loaded.path !== wasm2c) {
    const glue = loadGlue(wasm2c);
    // The Wasm bytes are inside the glue: let it decode them and hand them to
    // WebAssembly.instantiate, caught here; that runtime is then dropped
    // before it runs anything (its instantiation never completes).
    const bytes = await new Promise((resolve, reject) => {
      const wa = Object.create(WebAssembly, { instantiate: { value: (b) => { resolve(new Uint8Array(b)); return new Promise(() => {}); } } });
      try {
        glue({ noInitialRun: true }, require, shimProcess(cwd, () => {}), wa, wasm2c, path.dirname(wasm2c), { exports: {} });
      } catch (e) { reject(e); }
    });
    loaded = { path: wasm2c, glue, module: new WebAssembly.Module(enlargeStack(bytes).wasm) };
  }
  const { glue, module } = loaded;
  let text = "";
  let status = null;
  const capture = (s) => { text += s; };
  // Its standard output and error (file descriptors 1 and 2 under
  // Emscripten's NODERAWFS) are captured, not written to this process's.
  const fs = Object.create(realFs, {
    writeSync: {
      value: (fd, buf, off, len, ...rest) => {
        if (fd !== 1 && fd !== 2) return realFs.writeSync(fd, buf, off, len, ...rest);
        const u8 = ArrayBuffer.isView(buf) ? new Uint8Array(buf.buffer, buf.byteOffset + (off ?? 0), len ?? buf.byteLength - (off ?? 0)) : Buffer.from(String(buf));
        capture(Buffer.from(u8).toString("utf8"));
        return u8.byteLength;
      },
    },
  });
  const req = (m) => (m === "fs" || m === "node:fs" ? fs : require(m));
  const Module = {
    arguments: args,
    thisProgram: wasm2c,
    print: (s) => capture(s + "\n"),
    printErr: (s) => capture(s + "\n"),
    // Synchronous: main runs within the glue's call below.
    instantiateWasm: (imports, receive) => { receive(new WebAssembly.Instance(module, imports), module); return {}; },
  };
  try {
    glue(Module, req, shimProcess(cwd, (code) => { status = code; }), WebAssembly, wasm2c, path.dirname(wasm2c), { exports: {} });
  } catch (e) {
    // exit() ends main by throwing Emscripten's ExitStatus; anything else is a
    // trap or an abort inside wasm2c.
    if (!(e && e.name === "ExitStatus")) return { status: status || 1, output: text + (e && e.stack ? e.stack : String(e)) };
  }
  return { status: status ?? 0, output: text };
}

/** What the glue reads of `process`: its own argv, the folder it runs in, and
 *  an exit status that goes to onExit instead of this process's exitCode. */
function shimProcess(cwd, onExit) {
  let dir = cwd;
  return {
    argv: [process.argv[0], "wasm2c"],
    versions: process.versions,
    platform: process.platform,
    binding: (name) => process.binding(name),
    cwd: () => dir,
    chdir: (d) => { dir = require("node:path").resolve(dir, d); },
    get stdin() { return process.stdin; },
    set exitCode(code) { onExit(code); },
    get exitCode() { return undefined; },
  };
}

module.exports = { enlargeStack, STACK_EXTRA, runInProcess };

if (require.main === module) {
  const [wasm2c, ...args] = process.argv.slice(2);
  const instantiate = WebAssembly.instantiate;
  WebAssembly.instantiate = function (bytes, imports) {
    return instantiate.call(this, enlargeStack(new Uint8Array(bytes)).wasm, imports);
  };
  const script = require("node:path").resolve(wasm2c);
  process.argv = [process.argv[0], script, ...args];
  require(script);
}
