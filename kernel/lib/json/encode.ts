// kernel/lib/json/encode.ts — a JSON text builder (RFC 8259). Values are appended
// in document order; the builder inserts commas and colons, escapes strings
// (§7) and writes numbers in the §6 grammar. Misuse (a value where a key is
// due, unbalanced ends) is a program bug, caught by the unit tests, and still
// yields some text rather than an abort.

// @ts-ignore: decorator
@lazy
const HEX = "0123456789abcdef";

/** Appends s to out as a JSON string literal, quotes included. Control
 *  characters, quote and backslash are escaped; a lone surrogate becomes a
 *  \u escape so the text stays valid UTF-8 when encoded. */
export function quoteJson(s: string, out: string[]): void {
  out.push("\"");
  const n = s.length;
  let run = 0;
  for (let i = 0; i < n; i++) {
    const c = <u32>s.charCodeAt(i);
    let esc: string | null = null;
    if (c == 0x22) esc = "\\\"";
    else if (c == 0x5c) esc = "\\\\";
    else if (c < 0x20) {
      if (c == 0x0a) esc = "\\n";
      else if (c == 0x0d) esc = "\\r";
      else if (c == 0x09) esc = "\\t";
      else if (c == 0x08) esc = "\\b";
      else if (c == 0x0c) esc = "\\f";
      else esc = hex4(c);
    } else if (c >= 0xd800 && c < 0xe000) {
      // A well-formed pair passes through; a lone half is escaped.
      if (c < 0xdc00 && i + 1 < n) {
        const d = <u32>s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d < 0xe000) { i++; continue; }
      }
      esc = hex4(c);
    }
    if (esc !== null) {
      if (i > run) out.push(s.substring(run, i));
      out.push(esc);
      run = i + 1;
    }
  }
  if (run == 0) out.push(s);
  else if (run < n) out.push(s.substring(run));
  out.push("\"");
}

function hex4(c: u32): string {
  return "\\u" + HEX.charAt((c >> 12) & 15) + HEX.charAt((c >> 8) & 15) + HEX.charAt((c >> 4) & 15) + HEX.charAt(c & 15);
}

/** A JSON number for v: integers without a fraction, others in shortest
 *  round-trip form; NaN and infinities (not representable) become null. */
export function formatNumber(v: f64): string {
  if (!isFinite(v)) return "null";
  if (v == Math.floor(v) && Math.abs(v) < 9007199254740992.0) {
    if (v == 0) return "0";   // also -0
    return (<i64>v).toString();
  }
  const t = v.toString();
  // asc's dtoa writes integral values as "4503599627370496.0"; JSON would accept
  // it, but JSON.stringify and most writers do not add the fraction.
  if (t.endsWith(".0")) return t.substring(0, t.length - 2);
  return t;
}

/** Builds one JSON text. `w.beginObject().key("a").int(1).endObject().toString()` */
export class JsonWriter {
  private out: string[] = [];
  /** Per open container: whether a value has been written (a comma is due). */
  private filled: bool[] = [];
  private afterKey: bool = false;

  private sep(): void {
    if (this.afterKey) { this.afterKey = false; return; }
    const d = this.filled.length;
    if (d > 0) {
      if (unchecked(this.filled[d - 1])) this.out.push(",");
      else unchecked(this.filled[d - 1] = true);
    }
  }

  beginObject(): JsonWriter { this.sep(); this.out.push("{"); this.filled.push(false); return this; }
  endObject(): JsonWriter { if (this.filled.length > 0) this.filled.pop(); this.out.push("}"); return this; }
  beginArray(): JsonWriter { this.sep(); this.out.push("["); this.filled.push(false); return this; }
  endArray(): JsonWriter { if (this.filled.length > 0) this.filled.pop(); this.out.push("]"); return this; }

  key(k: string): JsonWriter {
    this.sep();
    quoteJson(k, this.out);
    this.out.push(":");
    this.afterKey = true;
    return this;
  }

  string(v: string): JsonWriter { this.sep(); quoteJson(v, this.out); return this; }
  stringOrNull(v: string | null): JsonWriter { if (v === null) return this.nullValue(); return this.string(v); }
  int(v: i64): JsonWriter { this.sep(); this.out.push(v.toString()); return this; }
  /** Unsigned 64-bit: exact in the text, though readers using doubles round above 2^53. */
  uint(v: u64): JsonWriter { this.sep(); this.out.push(v.toString()); return this; }
  number(v: f64): JsonWriter { this.sep(); this.out.push(formatNumber(v)); return this; }
  bool(v: bool): JsonWriter { this.sep(); this.out.push(v ? "true" : "false"); return this; }
  nullValue(): JsonWriter { this.sep(); this.out.push("null"); return this; }
  /** Inserts an already-encoded JSON value. */
  raw(json: string): JsonWriter { this.sep(); this.out.push(json); return this; }

  // Object members in one call.
  propString(k: string, v: string): JsonWriter { return this.key(k).string(v); }
  propInt(k: string, v: i64): JsonWriter { return this.key(k).int(v); }
  propUint(k: string, v: u64): JsonWriter { return this.key(k).uint(v); }
  propNumber(k: string, v: f64): JsonWriter { return this.key(k).number(v); }
  propBool(k: string, v: bool): JsonWriter { return this.key(k).bool(v); }

  toString(): string { return this.out.join(""); }
}

/** A JSON string literal for s. */
export function jsonString(s: string): string {
  const out = new Array<string>();
  quoteJson(s, out);
  return out.join("");
}
