// cli/lib/build.ts prepareImageC: the four edits to wasm2c's output, and a
// clear error instead of a silently slower image when a pattern is missing.
import { describe, expect, it } from "vitest";
import { prepareImageC } from "../../cli/lib/build.js";

const sample = [
  '#include "image.h"',
  "#define MEM_ADDR_MEMOP(mem, addr, n) MEM_ADDR(mem, addr, n)",
  "static inline void memory_fill(wasm_rt_memory_t* mem, u64 d, u32 val, u64 n) {",
  "  RANGE_CHECK(mem, d, n);",
  "  memset(MEM_ADDR(mem, d, n), val, n);",
  "}",
  "  static inline return_type name##_default32(wasm_rt_memory_t* mem, u64 addr) { \\",
  "  static inline t3 name##_unchecked(wasm_rt_memory_t* mem, u64 addr) { \\",
  "  static inline void name##_unchecked(wasm_rt_memory_t* mem, u64 addr, t2 value) { \\",
  "",
].join("\n");

describe("prepareImageC", () => {
  it("includes the inline host imports, addresses memory from __linear_vbase, forces the helpers inline", () => {
    const c = prepareImageC(sample);
    expect(c).toContain('#include "image.h"\n#define SKIFF_INLINE_HOST_IMPORTS 1\n#include "hostif_inline.h"\n');
    expect(c).toContain("#define MEM_ADDR_MEMOP(mem, addr, n) (skiff_linear_vbase() + (addr))");
    expect(c.match(/static inline __attribute__\(\(always_inline\)\)/g)?.length).toBe(4);
    // memory.fill: still range-checked, constant short lengths as plain stores.
    expect(c).toContain('#include "memfill.h"');
    expect(c).toContain('#include "hostif_inline.h"\n#include "stackcheck.h"\n');
    expect(c).toMatch(/void memory_fill\([^)]*\) \{\n  if \(__builtin_constant_p\(n\) && n <= 64\) \{ skiff_fill_upto64\(skiff_linear_vbase\(\) \+ d, \(uint8_t\)val, n\); return; \}\n  RANGE_CHECK\(mem, d, n\);\n  memset/);
  });

  it("stops with a message when wasm2c's output no longer has a pattern", () => {
    expect(() => prepareImageC(sample.replace("MEM_ADDR_MEMOP", "MEM_ADDR_OTHER"))).toThrow(/MEM_ADDR_MEMOP definition.*wabt 1\.0\.39/);
    expect(() => prepareImageC(sample.replace('#include "image.h"', ""))).toThrow(/#include of image\.h/);
    expect(() => prepareImageC(sample.replace("  memset(", "  memmove("))).toThrow(/memory_fill definition/);
  });
});
