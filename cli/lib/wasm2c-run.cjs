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

module.exports = { enlargeStack, STACK_EXTRA };

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
