// cli/lib/wasm2c-run.cjs: wabt's wasm2c (an Emscripten build with a 64 KiB
// stack) run with a larger stack. A function of deeply nested blocks is what
// the GC visitor of an app with many classes looks like to wasm2c.
import { describe, expect, it } from "vitest";
import { execa } from "execa";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveTool } from "../../cli/lib/build.js";

const runner = join(process.cwd(), "cli", "lib", "wasm2c-run.cjs");

function uleb(n: number): number[] {
  const out: number[] = [];
  do { let b = n & 0x7f; n >>>= 7; if (n) b |= 0x80; out.push(b); } while (n);
  return out;
}
const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];

/** A module exporting f(): depth nested `block ... end`. */
function nestedBlocks(depth: number): Uint8Array {
  const code = [0 /* no locals */, ...new Array(depth).fill([0x02, 0x40]).flat(), ...new Array(depth).fill(0x0b), 0x0b];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, [1, 0x60, 0, 0]),
    ...section(3, [1, 0]),
    ...section(7, [1, 1, 0x66, 0, 0]),
    ...section(10, [1, ...uleb(code.length), ...code]),
  ]);
}

describe("wasm2c with a larger stack", () => {
  it("translates 3000 nested blocks that overflow wasm2c's own stack", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-wasm2c-"));
    try {
      writeFileSync(join(dir, "deep.wasm"), nestedBlocks(3000));
      const plain = await execa(process.execPath, [resolveTool("wasm2c"), "deep.wasm", "-o", "plain.c"], { cwd: dir, reject: false, all: true });
      expect(plain.exitCode, plain.all).not.toBe(0);   // the failure this runner exists for
      const ours = await execa(process.execPath, [runner, resolveTool("wasm2c"), "deep.wasm", "-o", "deep.c"], { cwd: dir, reject: false, all: true });
      expect(ours.exitCode, ours.all).toBe(0);
      const c = readFileSync(join(dir, "deep.c"), "utf8");
      expect(c).toContain("w2c_deep_f");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("gives the same C as plain wasm2c for a small module", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-wasm2c-"));
    try {
      writeFileSync(join(dir, "m.wasm"), nestedBlocks(20));
      await execa(process.execPath, [resolveTool("wasm2c"), "m.wasm", "-o", "m.c"], { cwd: dir });
      const plain = readFileSync(join(dir, "m.c"), "utf8");
      await execa(process.execPath, [runner, resolveTool("wasm2c"), "m.wasm", "-o", "m.c"], { cwd: dir });
      expect(readFileSync(join(dir, "m.c"), "utf8")).toBe(plain);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("in process (the dev profile): the same C as the child runner, run after run; failures give a status and wasm2c's message", async () => {
    const { runInProcess } = await import("../../cli/lib/wasm2c-run.cjs" as string) as
      { runInProcess: (w: string, args: string[], cwd: string) => Promise<{ status: number; output: string }> };
    const dir = mkdtempSync(join(tmpdir(), "skiff-wasm2c-"));
    try {
      writeFileSync(join(dir, "deep.wasm"), nestedBlocks(3000));
      await execa(process.execPath, [runner, resolveTool("wasm2c"), "deep.wasm", "-o", "child.c"], { cwd: dir });
      const child = readFileSync(join(dir, "child.c"), "utf8").replaceAll("child.h", "X.h");
      for (const run of [1, 2]) {
        const r = await runInProcess(resolveTool("wasm2c"), [join(dir, "deep.wasm"), "-o", join(dir, `in${run}.c`)], dir);
        expect(r.status, r.output).toBe(0);
        expect(readFileSync(join(dir, `in${run}.c`), "utf8").replaceAll(`in${run}.h`, "X.h")).toBe(child);
      }
      const bad = await runInProcess(resolveTool("wasm2c"), ["--no-such-option"], dir);
      expect(bad.status).toBe(1);
      expect(bad.output).toContain("unknown option '--no-such-option'");
      const missing = await runInProcess(resolveTool("wasm2c"), [join(dir, "absent.wasm"), "-o", join(dir, "x.c")], dir);
      expect(missing.status).toBe(1);
      expect(missing.output).toContain("absent.wasm");
      expect(process.exitCode ?? 0).toBe(0);      // wasm2c's exit status is not this process's
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a module without the Emscripten layout instead of guessing", async () => {
    const { enlargeStack } = await import("../../cli/lib/wasm2c-run.cjs" as string) as { enlargeStack: (w: Uint8Array) => unknown };
    expect(() => enlargeStack(nestedBlocks(1))).toThrow(/not the Emscripten build/);
  });
});
