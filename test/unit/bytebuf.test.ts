// kernel/lib/http/buf.ts: a ByteBuf grows from heap storage into pool pages
// (owner NetBuffers) past 64 KiB without losing a byte, gives the pages back
// the moment it is emptied, and when the collector frees one nobody emptied.
import { describe, expect, it } from "vitest";
import { FakeHost } from "../platform/host.js";
import { loadKernel } from "../platform/wasm.js";

type E = { netBytes(): bigint; fill(n: number, step: number): number; fillInPlace(n: number, step: number): number; consume(n: number): number; first(): number; dropAndCollect(): void };

describe("ByteBuf storage", () => {
  it("large buffers are pool pages, returned when emptied and when collected", async () => {
    const k = await loadKernel<E>("test/unit/wasm/bytebuf.ts", new FakeHost({ linearBase: 0x200000n }));
    const ex = k.exports;
    expect(ex.fill(1000, 100)).toBe(1);
    expect(Number(ex.netBytes())).toBe(0);                  // small: heap
    expect(ex.fill(1 << 20, 1500)).toBe(1);                 // grows through heap and into pages, intact
    expect(Number(ex.netBytes())).toBeGreaterThanOrEqual(1 << 20);
    expect(Number(ex.netBytes())).toBeLessThanOrEqual(2 << 20);               // at most doubled
    expect(ex.consume(1000)).toBe((1 << 20) - 1000);
    expect(ex.first()).toBe((1000 * 7) & 0xff);
    expect(ex.consume(1 << 20)).toBe(0);                    // emptied: the pages go back at once
    expect(Number(ex.netBytes())).toBe(0);
    expect(ex.fill(300_000, 4096)).toBe(1);
    expect(Number(ex.netBytes())).toBeGreaterThan(0);
    ex.dropAndCollect();                                    // never emptied: the finalizer returns them
    expect(Number(ex.netBytes())).toBe(0);
    // Filled in place (space/grow, as Response.stream does) across the move into pages.
    expect(ex.fillInPlace(1 << 20, 65536)).toBe(1);
    expect(Number(ex.netBytes())).toBeGreaterThanOrEqual(1 << 20);
  });
});
