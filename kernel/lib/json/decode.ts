// kernel/lib/json/decode.ts — a strict JSON reader (RFC 8259) over UTF-8 bytes.
// Strict: one value with optional surrounding whitespace (§2), no trailing
// commas, comments, leading zeros, NaN, unescaped control characters or
// invalid UTF-8 (§8.1). Limits on size and nesting depth bound the work an
// untrusted body can cause. Any error returns null (and sets lastJsonError);
// no input aborts. Duplicate object keys are kept; get() returns the last (§4).

import { JsonWriter } from "./encode";

export const JSON_NULL: i32 = 0;
export const JSON_BOOL: i32 = 1;
export const JSON_NUMBER: i32 = 2;
export const JSON_STRING: i32 = 3;
export const JSON_ARRAY: i32 = 4;
export const JSON_OBJECT: i32 = 5;

export const DEFAULT_MAX_DEPTH: i32 = 64;
export const DEFAULT_MAX_BYTES: i32 = 1 << 20;

export class JsonValue {
  kind: i32 = JSON_NULL;
  b: bool = false;
  n: f64 = 0;
  s: string = "";
  items: JsonValue[] | null = null;
  keys: string[] | null = null;

  static ofNull(): JsonValue { return new JsonValue(); }
  static ofBool(v: bool): JsonValue { const j = new JsonValue(); j.kind = JSON_BOOL; j.b = v; return j; }
  static ofNumber(v: f64): JsonValue { const j = new JsonValue(); j.kind = JSON_NUMBER; j.n = v; return j; }
  static ofString(v: string): JsonValue { const j = new JsonValue(); j.kind = JSON_STRING; j.s = v; return j; }

  get isNull(): bool { return this.kind == JSON_NULL; }
  get isString(): bool { return this.kind == JSON_STRING; }
  get isNumber(): bool { return this.kind == JSON_NUMBER; }
  get isBool(): bool { return this.kind == JSON_BOOL; }
  get isArray(): bool { return this.kind == JSON_ARRAY; }
  get isObject(): bool { return this.kind == JSON_OBJECT; }

  /** Array elements or object members. */
  get length(): i32 { const it = this.items; return it === null ? 0 : it.length; }

  at(i: i32): JsonValue | null {
    const it = this.items;
    if (it === null || i < 0 || i >= it.length) return null;
    return unchecked(it[i]);
  }

  /** Object member i's key ("" for non-objects). */
  keyAt(i: i32): string {
    const k = this.keys;
    if (k === null || i < 0 || i >= k.length) return "";
    return unchecked(k[i]);
  }

  /** The last member named key, or null (also for non-objects). */
  get(key: string): JsonValue | null {
    const k = this.keys;
    const it = this.items;
    if (k === null || it === null) return null;
    for (let i = k.length - 1; i >= 0; i--) if (unchecked(k[i]) == key) return unchecked(it[i]);
    return null;
  }

  /** Writes this value into w. */
  writeTo(w: JsonWriter): void {
    switch (this.kind) {
      case JSON_BOOL: w.bool(this.b); break;
      case JSON_NUMBER: w.number(this.n); break;
      case JSON_STRING: w.string(this.s); break;
      case JSON_ARRAY: {
        w.beginArray();
        for (let i = 0; i < this.length; i++) this.at(i)!.writeTo(w);
        w.endArray();
        break;
      }
      case JSON_OBJECT: {
        w.beginObject();
        for (let i = 0; i < this.length; i++) { w.key(this.keyAt(i)); this.at(i)!.writeTo(w); }
        w.endObject();
        break;
      }
      default: w.nullValue();
    }
  }

  /** Compact JSON text for this value. */
  toJson(): string {
    const w = new JsonWriter();
    this.writeTo(w);
    return w.toString();
  }

  /** The member's number, or dflt when absent or not a number. */
  getNumber(key: string, dflt: f64 = 0): f64 {
    const v = this.get(key);
    return v === null || v.kind != JSON_NUMBER ? dflt : v.n;
  }

  /** The member's boolean, or dflt when absent or not a boolean. */
  getBool(key: string, dflt: bool = false): bool {
    const v = this.get(key);
    return v === null || v.kind != JSON_BOOL ? dflt : v.b;
  }

  /** The member's string value, or null when absent or not a string. */
  getString(key: string): string | null {
    const v = this.get(key);
    if (v === null || v.kind != JSON_STRING) return null;
    return v.s;
  }
}

// @ts-ignore: decorator
@lazy
let lastError: string = "";
let lastErrorOffset: i32 = 0;

/** Why the last parse returned null, e.g. "unexpected character at 7". */
export function lastJsonError(): string {
  return lastError.length == 0 ? "" : lastError + " at " + lastErrorOffset.toString();
}

/** Parses a JSON text from UTF-8 bytes at [ptr, ptr + len). */
export function parseJsonBytes(ptr: usize, len: i32, maxDepth: i32 = DEFAULT_MAX_DEPTH, maxBytes: i32 = DEFAULT_MAX_BYTES): JsonValue | null {
  lastError = "";
  lastErrorOffset = 0;
  if (len > maxBytes) { lastError = "document larger than " + maxBytes.toString() + " bytes"; return null; }
  if (len < 0) { lastError = "negative length"; return null; }
  const p = new JsonReader(ptr, len, maxDepth);
  p.ws();
  const v = p.value(0);
  if (v === null) { lastError = p.err; lastErrorOffset = p.pos; return null; }
  p.ws();
  if (p.pos != len) { lastError = "trailing characters"; lastErrorOffset = p.pos; return null; }
  return v;
}

export function parseJson(text: string, maxDepth: i32 = DEFAULT_MAX_DEPTH, maxBytes: i32 = DEFAULT_MAX_BYTES): JsonValue | null {
  const b = String.UTF8.encode(text, false, String.UTF8.ErrorMode.REPLACE);
  return parseJsonBytes(changetype<usize>(b), b.byteLength, maxDepth, maxBytes);
}

export function parseJsonArray(a: Uint8Array, maxDepth: i32 = DEFAULT_MAX_DEPTH, maxBytes: i32 = DEFAULT_MAX_BYTES): JsonValue | null {
  return parseJsonBytes(a.dataStart, a.length, maxDepth, maxBytes);
}

/** A growable UTF-16 code-unit buffer for decoded strings. */
class U16Buf {
  data: ArrayBuffer = new ArrayBuffer(64);
  len: i32 = 0;   // code units
  push(c: u32): void {
    if ((this.len + 1) << 1 > this.data.byteLength) {
      const nd = new ArrayBuffer(this.data.byteLength << 1);
      memory.copy(changetype<usize>(nd), changetype<usize>(this.data), <usize>(this.len << 1));
      this.data = nd;
    }
    store<u16>(changetype<usize>(this.data) + (<usize>this.len << 1), <u16>c);
    this.len++;
  }
  pushCodePoint(cp: u32): void {
    if (cp < 0x10000) { this.push(cp); return; }
    cp -= 0x10000;
    this.push(0xd800 | (cp >> 10));
    this.push(0xdc00 | (cp & 0x3ff));
  }
  take(): string {
    const s = String.UTF16.decodeUnsafe(changetype<usize>(this.data), <usize>(this.len << 1));
    this.len = 0;
    return s;
  }
}

class JsonReader {
  pos: i32 = 0;
  err: string = "";
  private sb: U16Buf = new U16Buf();

  constructor(private base: usize, private len: i32, private maxDepth: i32) {}

  private peek(): i32 { return this.pos < this.len ? <i32>load<u8>(this.base + <usize>this.pos) : -1; }
  private at(i: i32): i32 { return i < this.len ? <i32>load<u8>(this.base + <usize>i) : -1; }

  private fail(msg: string): JsonValue | null { if (this.err.length == 0) this.err = msg; return null; }

  ws(): void {
    while (this.pos < this.len) {
      const c = this.peek();
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
      this.pos++;
    }
  }

  value(depth: i32): JsonValue | null {
    const c = this.peek();
    if (c == 0x7b) return this.object(depth + 1);
    if (c == 0x5b) return this.array(depth + 1);
    if (c == 0x22) {
      const s = this.str();
      return s === null ? null : JsonValue.ofString(s);
    }
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return this.num();
    if (this.lit("true")) return JsonValue.ofBool(true);
    if (this.lit("false")) return JsonValue.ofBool(false);
    if (this.lit("null")) return JsonValue.ofNull();
    return this.fail(c < 0 ? "unexpected end" : "unexpected character");
  }

  private lit(word: string): bool {
    const n = word.length;
    if (this.pos + n > this.len) return false;
    for (let i = 0; i < n; i++) if (this.at(this.pos + i) != word.charCodeAt(i)) return false;
    this.pos += n;
    return true;
  }

  private object(depth: i32): JsonValue | null {
    if (depth > this.maxDepth) return this.fail("nesting deeper than " + this.maxDepth.toString());
    this.pos++;   // {
    const v = new JsonValue();
    v.kind = JSON_OBJECT;
    const keys = new Array<string>();
    const items = new Array<JsonValue>();
    v.keys = keys;
    v.items = items;
    this.ws();
    if (this.peek() == 0x7d) { this.pos++; return v; }
    while (true) {
      if (this.peek() != 0x22) return this.fail("expected a member name");
      const k = this.str();
      if (k === null) return null;
      this.ws();
      if (this.peek() != 0x3a) return this.fail("expected ':'");
      this.pos++;
      this.ws();
      const m = this.value(depth);
      if (m === null) return null;
      keys.push(k);
      items.push(m);
      this.ws();
      const c = this.peek();
      if (c == 0x2c) { this.pos++; this.ws(); continue; }
      if (c == 0x7d) { this.pos++; return v; }
      return this.fail("expected ',' or '}'");
    }
  }

  private array(depth: i32): JsonValue | null {
    if (depth > this.maxDepth) return this.fail("nesting deeper than " + this.maxDepth.toString());
    this.pos++;   // [
    const v = new JsonValue();
    v.kind = JSON_ARRAY;
    const items = new Array<JsonValue>();
    v.items = items;
    this.ws();
    if (this.peek() == 0x5d) { this.pos++; return v; }
    while (true) {
      const m = this.value(depth);
      if (m === null) return null;
      items.push(m);
      this.ws();
      const c = this.peek();
      if (c == 0x2c) { this.pos++; this.ws(); continue; }
      if (c == 0x5d) { this.pos++; return v; }
      return this.fail("expected ',' or ']'");
    }
  }

  // number = [ minus ] int [ frac ] [ exp ]; int = zero / ( digit1-9 *DIGIT )  (§6)
  private num(): JsonValue | null {
    const start = this.pos;
    if (this.peek() == 0x2d) this.pos++;
    const first = this.peek();
    if (first == 0x30) {
      this.pos++;
    } else if (first >= 0x31 && first <= 0x39) {
      while (isDigit(this.peek())) this.pos++;
    } else return this.fail("bad number");
    if (this.peek() == 0x2e) {
      this.pos++;
      if (!isDigit(this.peek())) return this.fail("bad fraction");
      while (isDigit(this.peek())) this.pos++;
    }
    const e = this.peek();
    if (e == 0x65 || e == 0x45) {
      this.pos++;
      const sgn = this.peek();
      if (sgn == 0x2b || sgn == 0x2d) this.pos++;
      if (!isDigit(this.peek())) return this.fail("bad exponent");
      while (isDigit(this.peek())) this.pos++;
    }
    const text = String.UTF8.decodeUnsafe(this.base + <usize>start, <usize>(this.pos - start));
    return JsonValue.ofNumber(parseFloat(text));
  }

  /** A string literal starting at the opening quote; validates UTF-8. */
  str(): string | null {
    this.pos++;   // "
    const sb = this.sb;
    sb.len = 0;
    while (true) {
      if (this.pos >= this.len) { this.fail("unterminated string"); return null; }
      const c = <u32>this.peek();
      if (c == 0x22) { this.pos++; return sb.take(); }
      if (c < 0x20) { this.fail("control character in string"); return null; }
      if (c == 0x5c) {
        const e = this.at(this.pos + 1);
        this.pos += 2;
        if (e == 0x22) sb.push(0x22);
        else if (e == 0x5c) sb.push(0x5c);
        else if (e == 0x2f) sb.push(0x2f);
        else if (e == 0x62) sb.push(0x08);
        else if (e == 0x66) sb.push(0x0c);
        else if (e == 0x6e) sb.push(0x0a);
        else if (e == 0x72) sb.push(0x0d);
        else if (e == 0x74) sb.push(0x09);
        else if (e == 0x75) {
          // \uXXXX: a UTF-16 code unit; surrogate pairs arrive as two escapes
          // and concatenate naturally. A lone surrogate is kept (§8.2 allows it).
          let u: u32 = 0;
          for (let i = 0; i < 4; i++) {
            const h = hexVal(this.at(this.pos + i));
            if (h < 0) { this.fail("bad \\u escape"); return null; }
            u = (u << 4) | <u32>h;
          }
          this.pos += 4;
          sb.push(u);
        } else { this.pos -= 2; this.fail("bad escape"); return null; }
        continue;
      }
      if (c < 0x80) { sb.push(c); this.pos++; continue; }
      const cp = this.utf8();
      if (cp < 0) { this.fail("invalid UTF-8"); return null; }
      sb.pushCodePoint(<u32>cp);
    }
  }

  /** One multi-byte UTF-8 sequence (RFC 3629 §4 table: no overlongs, no
   *  surrogates, nothing above U+10FFFF), or -1. */
  private utf8(): i32 {
    const b0 = this.peek();
    let need = 0;
    let cp: i32 = 0;
    let lo = 0x80, hi = 0xbf;   // allowed range of the second byte
    if (b0 >= 0xc2 && b0 <= 0xdf) { need = 1; cp = b0 & 0x1f; }
    else if (b0 >= 0xe0 && b0 <= 0xef) {
      need = 2; cp = b0 & 0x0f;
      if (b0 == 0xe0) lo = 0xa0;
      else if (b0 == 0xed) hi = 0x9f;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      need = 3; cp = b0 & 0x07;
      if (b0 == 0xf0) lo = 0x90;
      else if (b0 == 0xf4) hi = 0x8f;
    } else return -1;
    for (let i = 1; i <= need; i++) {
      const b = this.at(this.pos + i);
      if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xbf)) return -1;
      cp = (cp << 6) | (b & 0x3f);
    }
    this.pos += need + 1;
    return cp;
  }
}

function isDigit(c: i32): bool { return c >= 0x30 && c <= 0x39; }

function hexVal(c: i32): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** Length of the valid UTF-8 sequence (RFC 3629: no overlongs, surrogates
 *  or code points past U+10FFFF) at byte i of [ptr, ptr+len); 0 if invalid. */
export function utf8SequenceAt(ptr: usize, i: i32, len: i32): i32 {
  const b0 = <i32>load<u8>(ptr + <usize>i);
  if (b0 < 0x80) return 1;
  let need = 0, lo = 0x80, hi = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) need = 1;
  else if (b0 >= 0xe0 && b0 <= 0xef) { need = 2; if (b0 == 0xe0) lo = 0xa0; else if (b0 == 0xed) hi = 0x9f; }
  else if (b0 >= 0xf0 && b0 <= 0xf4) { need = 3; if (b0 == 0xf0) lo = 0x90; else if (b0 == 0xf4) hi = 0x8f; }
  else return 0;
  if (i + need >= len) return 0;
  for (let k = 1; k <= need; k++) {
    const b = <i32>load<u8>(ptr + <usize>(i + k));
    if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xbf)) return 0;
  }
  return need + 1;
}

/** True when bytes [ptr, ptr+len) are valid UTF-8 (RFC 3629). */
export function isValidUtf8(ptr: usize, len: i32): bool {
  let i = 0;
  while (i < len) {
    const n = utf8SequenceAt(ptr, i, len);
    if (n == 0) return false;
    i += n;
  }
  return true;
}
