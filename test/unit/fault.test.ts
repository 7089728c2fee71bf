// kernel/core/fault.ts over the Node test host: a handler that aborts or traps
// answers 500 and the connection serves the next request; the faults are
// counted and described; guarded calls nest; and a host without the module's
// table (guarded_call answers 255) runs the call unguarded, so a fault there
// ends the guest as before.
import { describe, expect, it } from "vitest";
import { FakeHost, GuestExitError } from "../platform/host.js";
import { loadKernel, type KernelModule } from "../platform/wasm.js";

type E = {
  setup(): void; feed(buf: number): number; take(): number; httpFaults(kind: number): bigint; lastFault(): number; nested(): number;
  TRAP: WebAssembly.Global; ABORT: WebAssembly.Global;
  __new(n: number, id: number): number; __pin(p: number): number;
};

function bytesOf(k: KernelModule<E>, ptr: number): string {
  const len = new DataView(k.exports.memory.buffer).getUint32(ptr - 4, true);
  return Buffer.from(new Uint8Array(k.exports.memory.buffer).slice(ptr, ptr + len)).toString("latin1");
}

function ask(k: KernelModule<E>, path: string): string {
  const data = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`, "latin1");
  const p = k.exports.__pin(k.exports.__new(data.length, 1));   // id 1: ArrayBuffer
  new Uint8Array(k.exports.memory.buffer).set(data, p);
  expect(k.exports.feed(p)).toBe(data.length);
  return bytesOf(k, k.exports.take());
}

describe("guarded calls (kernel/core/fault.ts)", () => {
  it("a handler that aborts or traps answers 500; the connection goes on; counted and described", async () => {
    const k = await loadKernel<E>("test/unit/wasm/fault.ts", new FakeHost());
    k.exports.setup();
    expect(ask(k, "/ok")).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nok$/);
    const r = ask(k, "/oob");
    expect(r).toMatch(/^HTTP\/1\.1 500 /);
    expect(r).toContain('{"code":500,"message":"internal error"}');
    expect(k.str(k.exports.lastFault())).toMatch(/^abort: Index out of range at ~lib\/array\.ts:\d+:\d+$/);
    expect(ask(k, "/trap")).toMatch(/^HTTP\/1\.1 500 /);
    expect(k.str(k.exports.lastFault())).toMatch(/^wasm trap: unreachable/);
    expect(ask(k, "/ok")).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(k.exports.httpFaults(k.exports.ABORT.value)).toBe(1n);
    expect(k.exports.httpFaults(k.exports.TRAP.value)).toBe(1n);
    expect(k.host.uart.text()).toMatch(/fault: http GET \/oob: abort: Index out of range at ~lib\/array\.ts:\d+:\d+ \(answered 500\)/);
    expect(k.host.guardDepth).toBe(0);
  });

  it("nest: an inner fault ends only the inner call", async () => {
    const k = await loadKernel<E>("test/unit/wasm/fault.ts", new FakeHost());
    expect(k.exports.nested()).toBe(0 * 1000 + k.exports.TRAP.value);
  });

  it("without the table the call runs unguarded: an abort ends the guest (70)", async () => {
    const k = await loadKernel<E>("test/unit/wasm/fault.ts", new FakeHost());
    k.host.table = null;
    k.exports.setup();
    expect(ask(k, "/ok")).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(() => ask(k, "/oob")).toThrow(GuestExitError);
  });
});
