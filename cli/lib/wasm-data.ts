// cli/lib/wasm-data.ts — merge a module's active data segments into as few as
// possible before wasm2c. AssemblyScript emits one segment per static string
// or array (hundreds), and wasm2c turns each into a range check plus a copy
// in init_memories: ~40 bytes of x86 apiece plus alignment padding. Merging
// segments that sit close together (gaps filled with zeros, which is what
// fresh linear memory holds anyway) shrinks the image and its start-up work.
// Binary format: WebAssembly core spec §5.5 (sections), §5.5.12 (data).

const SEC_DATA = 11;
const SEC_DATACOUNT = 12;
/** Gaps up to this many bytes are filled with zeros rather than split. */
const MAX_GAP = 256;

/** A LEB128 number of at most 32 bits at pos (signed: sign-extended); the value and the next position. */
function readLeb(b: Uint8Array, pos: number, signed: boolean): [number, number] {
  let result = 0, shift = 0, byte: number;
  do {
    if (pos >= b.length) throw new Error("truncated LEB128");
    byte = b[pos++];
    result |= (byte & 0x7f) << shift;
    shift += 7;
  } while (byte & 0x80 && shift < 35);
  if (!signed) return [result >>> 0, pos];
  if (shift < 32 && byte & 0x40) result |= -1 << shift;
  return [result | 0, pos];
}
const readU32 = (b: Uint8Array, pos: number) => readLeb(b, pos, false);
const readI32 = (b: Uint8Array, pos: number) => readLeb(b, pos, true);

function u32(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return out;
}

function i32(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(byte & 0x40)) || (n === -1 && byte & 0x40)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

interface Segment { offset: number; bytes: Uint8Array }

/** Returns the module with its data segments merged, or the input unchanged
 *  when the data section has anything but active, constant-offset segments of
 *  memory 0 (passive segments are referenced by index and must stay). */
export function mergeDataSegments(wasm: Uint8Array): { wasm: Uint8Array; before: number; after: number } {
  const sections = sectionsOf(wasm);
  const data = sections.find((s) => s.id === SEC_DATA);
  if (!data) return { wasm, before: 0, after: 0 };

  const segs: Segment[] = [];
  const b = data.body;
  let p = 0, count: number;
  [count, p] = readU32(b, p);
  for (let i = 0; i < count; i++) {
    let flags: number;
    [flags, p] = readU32(b, p);
    if (flags !== 0 || b[p] !== 0x41) return { wasm, before: count, after: count };   // only "active, memory 0, i32.const"
    let offset: number;
    [offset, p] = readI32(b, p + 1);
    if (b[p++] !== 0x0b) return { wasm, before: count, after: count };
    let len: number;
    [len, p] = readU32(b, p);
    segs.push({ offset: offset >>> 0, bytes: b.subarray(p, p + len) });
    p += len;
  }

  segs.sort((x, y) => x.offset - y.offset);
  const merged: Segment[] = [];
  for (const s of segs) {
    const last = merged[merged.length - 1];
    const lastEnd = last ? last.offset + last.bytes.length : 0;
    if (last && s.offset >= lastEnd - 0 && s.offset - lastEnd <= MAX_GAP) {
      const grown = new Uint8Array(s.offset + s.bytes.length - last.offset);
      grown.set(last.bytes, 0);
      grown.set(s.bytes, s.offset - last.offset);
      last.bytes = grown;
    } else if (last && s.offset < lastEnd) {
      return { wasm, before: count, after: count };   // overlapping segments: leave alone
    } else {
      merged.push({ offset: s.offset, bytes: s.bytes });
    }
  }

  const body: number[] = [...u32(merged.length)];
  for (const s of merged) {
    body.push(0, 0x41, ...i32(s.offset | 0), 0x0b, ...u32(s.bytes.length));
    for (const x of s.bytes) body.push(x);
  }
  const out = sections.map((s) => s.id === SEC_DATA ? { id: s.id, body: Uint8Array.from(body) }
    : s.id === SEC_DATACOUNT ? { id: s.id, body: Uint8Array.from(u32(merged.length)) } : s);
  return { wasm: assemble(wasm, out), before: count, after: merged.length };
}

interface Section { id: number; body: Uint8Array }

/** The sections of a module: id and body, in order. */
function sectionsOf(wasm: Uint8Array): Section[] {
  if (wasm.length < 8 || wasm[0] !== 0 || wasm[1] !== 0x61 || wasm[2] !== 0x73 || wasm[3] !== 0x6d) {
    throw new Error("not a Wasm module");
  }
  const out: Section[] = [];
  let pos = 8;
  while (pos < wasm.length) {
    const id = wasm[pos++];
    let size: number;
    [size, pos] = readU32(wasm, pos);
    if (pos + size > wasm.length) throw new Error("truncated section");
    out.push({ id, body: wasm.subarray(pos, pos + size) });
    pos += size;
  }
  return out;
}

/** A module of these sections, with the header (magic, version) of wasm. */
function assemble(wasm: Uint8Array, sections: Section[]): Uint8Array {
  const heads = sections.map((s) => [s.id, ...u32(s.body.length)]);
  const out = new Uint8Array(8 + sections.reduce((n, s, i) => n + heads[i].length + s.body.length, 0));
  out.set(wasm.subarray(0, 8), 0);
  let pos = 8;
  sections.forEach((s, i) => {
    out.set(heads[i], pos);
    pos += heads[i].length;
    out.set(s.body, pos);
    pos += s.body.length;
  });
  return out;
}

/** A custom section's name and where its content starts, or null. */
function customName(body: Uint8Array): { name: string; content: number } | null {
  const [len, p] = readU32(body, 0);
  if (p + len > body.length) return null;
  return { name: new TextDecoder().decode(body.subarray(p, p + len)), content: p + len };
}

/** The function names of the "name" custom section (asc writes it with
 *  --debug), by function index (imports counted first); empty without one.
 *  Format: WebAssembly core spec, appendix 7.4.2 (name section). */
export function functionNames(wasm: Uint8Array): Map<number, string> {
  return nameMap(wasm, 1);
}

/** The global names of the same section (the extended name section's
 *  subsection 7, which binaryen writes), by global index. */
export function globalNames(wasm: Uint8Array): Map<number, string> {
  return nameMap(wasm, 7);
}

function nameMap(wasm: Uint8Array, subsection: number): Map<number, string> {
  const names = new Map<number, string>();
  for (const s of sectionsOf(wasm)) {
    if (s.id !== 0) continue;
    const c = customName(s.body);
    if (c === null || c.name !== "name") continue;
    const b = s.body;
    let p = c.content;
    while (p < b.length) {
      const sub = b[p++];
      let size: number;
      [size, p] = readU32(b, p);
      const end = p + size;
      if (sub === subsection) {
        let count: number, q = p;
        [count, q] = readU32(b, q);
        for (let i = 0; i < count; i++) {
          let idx: number, len: number;
          [idx, q] = readU32(b, q);
          [len, q] = readU32(b, q);
          names.set(idx, new TextDecoder().decode(b.subarray(q, q + len)));
          q += len;
        }
      }
      p = end;
    }
  }
  return names;
}

/** The module without its custom sections of that name. */
export function withoutCustomSection(wasm: Uint8Array, name: string): Uint8Array {
  return assemble(wasm, sectionsOf(wasm).filter((s) => s.id !== 0 || customName(s.body)?.name !== name));
}
