// The data-segment merge run between asc and wasm2c: the merged module must
// leave linear memory byte-for-byte as the original does.
import { describe, expect, it } from "vitest";
import { mergeDataSegments } from "../../cli/lib/wasm-data.js";
import { compileEntry } from "../platform/wasm.js";
import { FakeHost } from "../platform/host.js";

async function memoryAfterStart(bytes: Uint8Array): Promise<Uint8Array> {
  const host = new FakeHost();
  const inst = await WebAssembly.instantiate(await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>), { host: host.imports(), env: { seed: () => 1, trace: () => {} } });
  const mem = inst.exports.memory as WebAssembly.Memory;
  return new Uint8Array(mem.buffer).slice();
}

describe("mergeDataSegments", () => {
  it("merges AssemblyScript's many segments without changing initial memory", async () => {
    const original = await compileEntry("test/unit/wasm/bootinfo.ts");
    const r = mergeDataSegments(original);
    expect(r.before).toBeGreaterThan(20);
    expect(r.after).toBeLessThan(r.before / 4);
    expect(WebAssembly.validate(r.wasm as Uint8Array<ArrayBuffer>)).toBe(true);
    expect(Buffer.compare(Buffer.from(await memoryAfterStart(r.wasm)), Buffer.from(await memoryAfterStart(original)))).toBe(0);
  });

  it("is idempotent and rejects what is not Wasm", () => {
    return compileEntry("test/unit/wasm/bootinfo.ts").then((w) => {
      const once = mergeDataSegments(w).wasm;
      const twice = mergeDataSegments(once);
      expect(twice.before).toBe(twice.after);
      expect(() => mergeDataSegments(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]))).toThrow(/not a Wasm module/);
    });
  });
});
