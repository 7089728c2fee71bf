// test/unit/wasm/bytebuf.ts — kernel/lib/http's ByteBuf: small buffers on the AS
// heap, large ones as pool pages given back when emptied or collected.
import { ByteBuf } from "../../../kernel/lib/http/buf";
import { initMemory, memStats, MemOwner } from "../../../kernel/core/mm";
import { MemRegion } from "../../../kernel/platform/bootinfo";
export { abortHandler } from "../../../kernel/core/panic";

initMemory([new MemRegion(0, 0x9fc00, 1), new MemRegion(0x100000, (64 << 20) - 0x100000, 1)]);

/** Pool bytes owned by NetBuffers now. */
export function netBytes(): u64 { return memStats().byOwner[MemOwner.NetBuffers]; }

let kept: ByteBuf | null = null;

/** Appends n bytes of a pattern in pieces of `step`, keeps the buffer;
 *  returns 1 when every byte reads back. */
export function fill(n: i32, step: i32): i32 {
  const b = new ByteBuf(256);
  const piece = new Uint8Array(step);
  let written = 0;
  while (written < n) {
    const m = min(step, n - written);
    for (let i = 0; i < m; i++) piece[i] = <u8>((written + i) * 7);
    b.append(piece.dataStart, m);
    written += m;
  }
  kept = b;
  if (b.length != n) return 0;
  for (let i = 0; i < n; i++) if (b.at(i) != (<u32>(i * 7) & 0xff)) return 0;
  return 1;
}

/** Consumes n bytes of the kept buffer; returns what is left. */
export function consume(n: i32): i32 { const b = kept!; b.consume(n); return b.length; }
/** First byte left in the kept buffer. */
export function first(): u32 { return kept!.at(0); }
/** Drops the kept buffer and collects garbage. */
export function dropAndCollect(): void {
  kept = null;
  // @ts-ignore: the runtime builtin asc provides
  __collect();
}

/** Fills n bytes in place through space()/grow() in pieces of step (as a
 *  streamed response body does); returns 1 when every byte reads back. */
export function fillInPlace(n: i32, step: i32): i32 {
  const b = new ByteBuf(256);
  let written = 0;
  while (written < n) {
    const m = min(step, n - written);
    const p = b.space(m);
    for (let i = 0; i < m; i++) store<u8>(p + <usize>i, <u8>((written + i) * 7));
    b.grow(m);
    written += m;
  }
  kept = b;
  if (b.length != n) return 0;
  for (let i = 0; i < n; i++) if (b.at(i) != (<u32>(i * 7) & 0xff)) return 0;
  return 1;
}
