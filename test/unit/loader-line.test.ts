// The loader's C files call each other in a line, not a circle (boot/serial.c
// draws it): each file includes the headers of files below it only, and no
// file calls a function declared by the header of a file above it.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../platform/wasm.js";

const LINE = ["serial", "libc", "paging", "bootrecord", "bootinfo", "runtime", "loader"];
const src = (f: string) => readFileSync(join(ROOT, "boot", f), "utf8");
const headerOf = (name: string) => (name === "libc" || name === "loader" ? null : `${name}.h`);

/** Function names a loader header declares. */
function declared(h: string): string[] {
  const body = src(h).replace(/\/\*[\s\S]*?\*\//g, "").replace(/__attribute__\(\([^)]*\)\)/g, "");
  return [...body.matchAll(/^[^#\n][^;(\n]*?\b(\w+)\s*\([^;]*\)\s*;/gm)].map((m) => m[1]);
}

describe("the loader's files form a line", () => {
  it("the line covers every C file of boot/, and its headers declare something", () => {
    const cFiles = readFileSync(join(ROOT, "cli/lib/build.ts"), "utf8").match(/for \(const f of (\[[^\]]*"loader\.c"[^\]]*\])/)![1];
    expect(JSON.parse(cFiles).filter((f: string) => f.endsWith(".c"))).toEqual(LINE.map((n) => `${n}.c`));
    for (const n of LINE) { const h = headerOf(n); if (h) expect(declared(h).length, h).toBeGreaterThan(0); }
    expect(declared("runtime.h")).toContain("report_trap");
  });

  LINE.forEach((name, rank) => {
    it(`${name}.c includes and calls only what lies below it`, () => {
      const c = src(`${name}.c`).replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
      for (const upper of LINE.slice(rank + 1)) {
        const h = headerOf(upper);
        if (!h) continue;
        expect(c, `${name}.c includes ${h}`).not.toMatch(new RegExp(`#include "${h}"`));
        for (const fn of declared(h)) expect(c, `${name}.c calls ${fn} (${upper}.c)`).not.toMatch(new RegExp(`\\b${fn}\\s*\\(`));
      }
    });
  });
});
