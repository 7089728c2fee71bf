// kernel/core/mm: the page allocator (alloc, free, coalescing, exhaustion, bad
// frees) and accounting, as Wasm in Node. The fake host puts linear memory at
// 0x200000; the memory map given to init decides how far it may grow.
import { describe, expect, it } from "vitest";
import { FakeHost } from "../platform/host.js";
import { loadKernel } from "../platform/wasm.js";

type E = {
  init(ramEndKiB: number): bigint; alloc(n: number, o: number): number; free(p: number, n: number): void;
  phys(p: number): bigint; runs(): number; largest(): number; owner(p: number): number; stat(f: number): bigint;
  line(): number; linearBytes(): bigint; peek(p: number): number; poke(p: number, v: number): void;
  __new(n: number, id: number): number; __pin(p: number): number;
};
const Heap = 0, Dma = 1, Net = 2, App = 3;
const PAGE = 4096;

async function mm(ramEndKiB = 64 * 1024) {
  const host = new FakeHost({ linearBase: 0x200000n });
  const k = await loadKernel<E>("test/unit/wasm/mm.ts", host);
  const ex = k.exports;
  const s = (t: string) => {
    const buf = Buffer.from(t, "utf16le");
    const p = ex.__pin(ex.__new(buf.length, 2));
    new Uint8Array(ex.memory.buffer).set(buf, p);
    return p;
  };
  const limit = ex.init(ramEndKiB);
  const stat = (f: string) => Number(ex.stat(s(f)));
  return { k, ex, host, s, stat, limit };
}

describe("page allocator", () => {
  it("gives page-aligned, zeroed runs with physical = linear base + offset", async () => {
    const { ex } = await mm();
    const a = ex.alloc(3, Dma);
    expect(a).toBeGreaterThan(0);
    expect(a % PAGE).toBe(0);
    expect(ex.phys(a)).toBe(0x200000n + BigInt(a));
    for (let i = 0; i < 3 * PAGE; i += 511) expect(ex.peek(a + i)).toBe(0);
    ex.poke(a + 100, 0xab);
    ex.free(a, 3);
    const b = ex.alloc(3, Dma);
    expect(b).toBe(a);                                   // first fit reuses the run
    expect(ex.peek(b + 100)).toBe(0);                    // and zeroes it again
  });
  it("runs never overlap and each page is tagged with its owner", async () => {
    const { ex } = await mm();
    const got: [number, number][] = [];
    for (let i = 1; i <= 40; i++) got.push([ex.alloc((i % 7) + 1, i % 4), (i % 7) + 1]);
    const spans = got.map(([p, n]) => [p, p + n * PAGE]).sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i][0]).toBeGreaterThanOrEqual(spans[i - 1][1]);
    got.forEach(([p], i) => expect(ex.owner(p)).toBe((i + 1) % 4));
  });
  it("freed neighbours coalesce into one run, in any free order", async () => {
    const { ex, k } = await mm();
    const a = ex.alloc(4, App), b = ex.alloc(4, App), c = ex.alloc(4, App);
    const before = k.str(ex.runs());
    ex.free(a, 4); ex.free(c, 4); ex.free(b, 4);
    // Everything went back: the free list is exactly as it was plus the 12 pages, merged.
    const runsAfter = k.str(ex.runs()).split(",");
    expect(runsAfter.length).toBe(before.split(",").length);
    const big = ex.alloc(12, Dma);
    expect(big).toBe(Math.min(a, b, c));
  });
  it("accounts bytes per owner and tracks the high-water mark", async () => {
    const { ex, stat } = await mm();
    const d = ex.alloc(2, Dma), n = ex.alloc(5, Net), a = ex.alloc(1, App);
    expect(stat("dma")).toBe(2 * PAGE);
    expect(stat("net")).toBe(5 * PAGE);
    expect(stat("app")).toBe(PAGE);
    const high = stat("high");
    expect(stat("used") + stat("free")).toBe(stat("total"));
    ex.free(n, 5);
    expect(stat("net")).toBe(0);
    expect(stat("used")).toBe(high - 5 * PAGE);
    expect(stat("high")).toBe(high);
    ex.free(d, 2); ex.free(a, 1);
  });
  it("running out returns 0, counts the failure, keeps a heap reserve, and recovers after frees", async () => {
    const { ex, stat, limit, k } = await mm(4 * 1024);     // 4 MiB guest: ~2 MiB of linear memory
    const got: number[] = [];
    for (;;) {
      const p = ex.alloc(8, App);
      if (!p) break;
      got.push(p);
      expect(got.length).toBeLessThan(10000);
    }
    expect(stat("failures")).toBe(1);
    expect(ex.alloc(1 << 21, App)).toBe(0);               // absurd sizes fail too, counted
    expect(ex.alloc(0, App)).toBe(0);
    expect(stat("failures")).toBe(3);
    // The pool stopped short of the limit: at least the 256 KiB reserve is left for the heap.
    expect(Number(limit) - Number(ex.linearBytes())).toBeGreaterThanOrEqual(256 * 1024);
    expect(k.str(ex.line())).toMatch(/alloc failures 3$/);
    for (const p of got) ex.free(p, 8);
    expect(stat("app")).toBe(0);
    // All pool memory is free again and merged: a run as big as the pool's largest chunk fits.
    expect(ex.largest()).toBeGreaterThanOrEqual(got.length * 8 - 64);
    expect(ex.alloc(got.length * 8 - 64, Dma)).not.toBe(0);
  });
  it("a double free or a foreign pointer panics instead of corrupting the pool", async () => {
    const { ex, k, host } = await mm();
    const a = ex.alloc(2, Dma);
    ex.free(a, 2);
    expect(k.run(() => ex.free(a, 2)).exit).toBe(70);
    expect(host.uart.text()).toContain("freePages: 0x");
    const { ex: ex2, k: k2 } = await mm();
    expect(k2.run(() => ex2.free(8, 1)).exit).toBe(70);
    const b = ex2.alloc(1, Dma);
    expect(k2.run(() => ex2.free(b + 4096, 1)).exit).toBe(70);
  });
});
