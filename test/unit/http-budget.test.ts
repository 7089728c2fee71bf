// The guest-wide body budget (kernel/lib/http/budget.ts) through the real HTTP
// server in Wasm: content is charged when its header section is in, before a
// byte of it is read; what does not fit is answered 503 with Retry-After and
// the connection closed unread; the charge comes back when the handler has run
// or the connection ends, whichever is first.
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FakeHost } from "../platform/host.js";
import { loadKernel, KernelModule } from "../platform/wasm.js";

type E = {
  setup(rl: number, hl: number, hb: number, hn: number, body: number, reqLen: number, idle: bigint, reqT: bigint, maxConn: number, maxOut: number): void;
  open(now: bigint): number; feed(c: number, buf: number, now: bigint): number; take(c: number): number;
  shouldClose(c: number): number; close(c: number): void;
  budgetReset(limit: bigint): void; budgetStat(name: number): bigint;
  __new(n: number, id: number): number; __pin(p: number): number; __unpin(p: number): void;
};

let k: KernelModule<E>;
const SEC = 1_000_000_000n;

beforeAll(async () => {
  k = await loadKernel<E>("test/unit/wasm/http.ts", new FakeHost());
});

beforeEach(() => {
  k.exports.setup(8192, 8192, 16384, 64, 1 << 20, 0, 30n * SEC, 60n * SEC, 16, 1 << 18);
  k.exports.budgetReset(10_000n);
});

function feed(c: number, data: string): void {
  const p = k.bytesIn(Buffer.from(data, "latin1"));
  const r = k.run(() => k.exports.feed(c, p, 0n));
  k.exports.__unpin(p);
  expect(r.exit).toBeUndefined();
}
function take(c: number): string {
  const ptr = k.exports.take(c);
  const len = new DataView(k.exports.memory.buffer).getUint32(ptr - 4, true);
  return Buffer.from(new Uint8Array(k.exports.memory.buffer).slice(ptr, ptr + len)).toString("latin1");
}
function stat(name: string): bigint {
  const buf = Buffer.from(name, "utf16le");
  const p = k.exports.__pin(k.exports.__new(buf.length, 2));
  new Uint8Array(k.exports.memory.buffer).set(buf, p);
  const v = k.exports.budgetStat(p);
  k.exports.__unpin(p);
  return v;
}
const put = (n: number, body = "") => `PUT /echo HTTP/1.1\r\nHost: t\r\nContent-Length: ${n}\r\n\r\n${body}`;
const status = (out: string) => Number(/^HTTP\/1\.1 (\d{3}) /.exec(out)?.[1] ?? 0);

describe("body budget", () => {
  it("charges a Content-Length at the header section, refuses what does not fit with 503 + Retry-After unread", () => {
    const a = k.exports.open(0n), b = k.exports.open(0n);
    feed(a, put(6000));                       // headers only: 6000 charged before any content
    expect(stat("used")).toBe(6000n);
    expect(take(a)).toBe("");
    feed(b, put(6000));                       // 12000 > 10000
    const refused = take(b);
    expect(status(refused)).toBe(503);
    expect(refused).toMatch(/\r\nRetry-After: \d+\r\n/i);
    expect(k.exports.shouldClose(b)).toBe(1);
    expect(stat("refused")).toBe(1n);
    expect(stat("used")).toBe(6000n);         // the refusal took nothing
    feed(a, "x".repeat(6000));
    expect(status(take(a))).toBe(200);
    expect(stat("used")).toBe(0n);            // given back once the handler ran
    expect(stat("peak")).toBe(6000n);
    const c = k.exports.open(0n);             // room again
    feed(c, put(9000, "y".repeat(9000)));
    expect(status(take(c))).toBe(200);
    expect(stat("used")).toBe(0n);
  });

  it("gives the charge back when a connection ends mid-body", () => {
    const a = k.exports.open(0n);
    feed(a, put(8000, "z".repeat(100)));
    expect(stat("used")).toBe(8000n);
    k.exports.close(a);
    expect(stat("used")).toBe(0n);
    const b = k.exports.open(0n);
    feed(b, put(8000, "w".repeat(8000)));
    expect(status(take(b))).toBe(200);
  });

  it("charges chunked content as it arrives and refuses the chunk that overflows", () => {
    const a = k.exports.open(0n);
    feed(a, "PUT /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    expect(stat("used")).toBe(0n);
    feed(a, `1770\r\n${"c".repeat(6000)}\r\n`);      // 6000 bytes in
    expect(stat("used")).toBe(6000n);
    feed(a, `1770\r\n${"c".repeat(6000)}\r\n`);      // 12000 > 10000
    expect(status(take(a))).toBe(503);
    expect(k.exports.shouldClose(a)).toBe(1);
    k.exports.close(a);
    expect(stat("used")).toBe(0n);
  });
});
