// test/unit/wasm/json.ts — drives kernel/lib/json from Node.
import { abortHandler } from "../../../kernel/core/panic";
import { JsonWriter, parseJsonBytes, lastJsonError, jsonString, formatNumber, isValidUtf8 } from "../../../kernel/lib/json";

/** Parses UTF-8 bytes (an ArrayBuffer from bytesIn); returns the compact
 *  re-encoding, or null on error. */
export function reencode(buf: ArrayBuffer, maxDepth: i32, maxBytes: i32): string | null {
  const v = parseJsonBytes(changetype<usize>(buf), buf.byteLength, maxDepth, maxBytes);
  return v === null ? null : v.toJson();
}
export function error(): string { return lastJsonError(); }
export function quote(s: string): string { return jsonString(s); }
export function num(v: f64): string { return formatNumber(v); }
export function validUtf8(buf: ArrayBuffer): bool { return isValidUtf8(changetype<usize>(buf), buf.byteLength); }

/** A document built with every writer call. */
export function sample(): string {
  const w = new JsonWriter();
  w.beginObject()
    .propString("name", "Skiff \"k\"\n")
    .propInt("neg", -42)
    .propUint("big", 18446744073709551615)
    .propNumber("pi", 3.25)
    .propBool("ok", true)
    .key("nothing").nullValue()
    .key("list").beginArray().int(1).beginObject().endObject().beginArray().endArray().string("x").endArray()
    .key("nested").beginObject().key("a").beginArray().endArray().endObject()
    .endObject();
  return w.toString();
}
export { abortHandler };
