// cli/lib/stackcheck.ts and the name-section helpers of cli/lib/wasm-data.ts:
// which functions are the app's, which of their calls get the stack check,
// and reading (then dropping) the names asc writes with --debug.
import { describe, expect, it } from "vitest";
import { dirname } from "node:path";
import { createRequire } from "node:module";
import { functionKind, insertStackChecks, cNameResolver, stdModuleNames, stackPointerGlobal, SHADOW_HEADROOM } from "../../cli/lib/stackcheck.js";
import { functionNames, globalNames, withoutCustomSection } from "../../cli/lib/wasm-data.js";

const std = stdModuleNames(dirname(createRequire(import.meta.url).resolve("assemblyscript/package.json")));

describe("functionKind", () => {
  it("tells the app's functions from the kernel's, the runtime's and the standard library's", () => {
    expect(std.has("array") && std.has("string") && std.has("map") && std.has("rt")).toBe(true);
    expect(functionKind("~lib/rt/itcms/__new", std)).toBe("runtime");
    expect(functionKind("~lib/rt/tlsf/insertBlock", std)).toBe("runtime");
    expect(functionKind("~lib/skiff/kernel/lib/http/response/Response#send", std)).toBe("kernel");
    expect(functionKind("entry/skiffAbort", std)).toBe("kernel");
    expect(functionKind("~start", std)).toBe("kernel");
    expect(functionKind("~lib/array/Array<../../apps/x/main/Item>#push", std)).toBe("std");
    expect(functionKind('"~lib/map/Map<u32,i32>#set"', std)).toBe("std");
    expect(functionKind("~lib/string/String.__concat", std)).toBe("std");
    expect(functionKind("../../test/apps/faulty/main/depth", std)).toBe("app");
    expect(functionKind("main/Handler#handle", std)).toBe("app");
    // A package the app depends on is the app's code, not the library's.
    expect(functionKind("~lib/some-json-lib/index/parse", std)).toBe("app");
  });
});

const sampleC = [
  "static void w2c_kernel_f3(w2c_kernel*, u32);",
  "void w2c_kernel_f3(w2c_kernel* instance, u32 var_p0) {",       // app: calls the runtime, the app, the kernel
  "  FUNC_PROLOGUE;",
  "  var_i0 = w2c_kernel_f4(instance, var_i0, var_i1);",
  "  w2c_kernel_f3(instance, var_i0);",
  "  w2c_kernel_f5(instance, w2c_kernel_f6(instance, var_i0));",
  "  w2c_host_fault_abort(instance->w2c_host_instance, 1, 2, 3, 4);",
  "  FUNC_EPILOGUE;",
  "}",
  "",
  "u32 w2c_kernel_f4(w2c_kernel* instance, u32 var_p0, u32 var_p1) {",   // runtime: calls are left alone
  "  FUNC_PROLOGUE;",
  "  w2c_kernel_f5(instance, var_p0);",
  "  return var_p0;",
  "}",
  "",
].join("\n");
const names = new Map<number, string>([
  [3, "../../apps/x/main/depth"], [4, "~lib/rt/itcms/__new"], [5, "~lib/skiff/kernel/lib/http/response/Response#send"],
  [6, "~lib/string/String.__concat"],
]);

describe("insertStackChecks", () => {
  it("wraps every direct call from an app function to a function that is not the app's, and nothing else", () => {
    const { c, calls } = insertStackChecks(sampleC, cNameResolver(names), std);
    expect(calls).toBe(3);
    expect(c).toContain("var_i0 = SKIFF_STACK_CHECKED(w2c_kernel_f4)(instance, var_i0, var_i1);");
    expect(c).toContain("  w2c_kernel_f3(instance, var_i0);");     // the app's own recursion: unchecked
    expect(c).toContain("SKIFF_STACK_CHECKED(w2c_kernel_f5)(instance, SKIFF_STACK_CHECKED(w2c_kernel_f6)(instance, var_i0));");
    expect(c).toContain("w2c_host_fault_abort(instance->w2c_host_instance");
    // Inside the runtime the stack was checked on the way in.
    expect(c).toContain("u32 w2c_kernel_f4(w2c_kernel* instance, u32 var_p0, u32 var_p1) {\n  FUNC_PROLOGUE;\n  w2c_kernel_f5(instance, var_p0);");
    // The prototype is not a definition.
    expect(c).toContain("static void w2c_kernel_f3(w2c_kernel*, u32);");
  });

  it("reads wasm2c's escaped names in builds that keep them (debug, dev)", () => {
    const c = "void w2c_kernel_0x2E0x2E0x2Fapp0x2Fmain0x2Fdepth(w2c_kernel* instance) {\n  w2c_kernel_0x7Elib0x2Frt0x2Fitcms0x2F__new(instance, 1, 2);\n}\n";
    const r = insertStackChecks(c, cNameResolver(new Map()), std);
    expect(r.calls).toBe(1);
    expect(r.c).toContain("SKIFF_STACK_CHECKED(w2c_kernel_0x7Elib0x2Frt0x2Fitcms0x2F__new)(instance, 1, 2);");
  });

  it("defines where the shadow stack pointer is and the mark the calls keep above, before the header", () => {
    const head = '#include "image.h"\n#include "stackcheck.h"\n';
    const init = "static void init_globals(w2c_kernel* instance) {\n  instance->w2c_g0 = 125140u;\n  instance->w2c_g1 = 0u;\n}\n";
    const limit = 125140 - 16384 + SHADOW_HEADROOM;
    const r = insertStackChecks(head + init + sampleC, cNameResolver(names), std, { global: 0, size: 16384 });
    expect(r.c).toContain(`#include "image.h"\n#define SKIFF_SHADOW_SP(instance) ((instance)->w2c_g0)\n#define SKIFF_SHADOW_LIMIT ${limit}u\n#include "stackcheck.h"\n`);
    expect(r.calls).toBe(3);
    // With names (debug builds) the global is found by its escaped name.
    const named = init.replace("w2c_g0", "w2c_0x7Elib0x2Fmemory0x2F_0x5Fstack_pointer");
    expect(insertStackChecks(head + named, cNameResolver(names), std, { global: null, size: 16384 }).c)
      .toContain(`#define SKIFF_SHADOW_SP(instance) ((instance)->w2c_0x7Elib0x2Fmemory0x2F_0x5Fstack_pointer)\n#define SKIFF_SHADOW_LIMIT ${limit}u\n`);
    // Not found: no shadow check (the native one stays).
    expect(insertStackChecks(head + init, cNameResolver(names), std, { global: 7, size: 16384 }).c).not.toContain("SKIFF_SHADOW");
  });

  it("leaves functions it cannot name alone", () => {
    expect(insertStackChecks(sampleC, cNameResolver(new Map()), std).calls).toBe(0);
  });
});

/** A module of two empty functions with a name section naming them. */
function moduleWithNames(): Uint8Array {
  const str = (s: string) => [s.length, ...Buffer.from(s)];
  const section = (id: number, body: number[]) => [id, body.length, ...body];
  const fnNames = [2, 0, ...str("../../apps/x/main/a"), 1, ...str("~lib/rt/itcms/__new")];
  const globalName = [1, 0, ...str("~lib/memory/__stack_pointer")];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 0, 0]),                    // type: () -> ()
    ...section(3, [2, 0, 0]),                          // two functions of type 0
    ...section(6, [1, 0x7f, 1, 0x41, 5, 0x0b]),         // one mutable i32 global, 5
    ...section(10, [2, 2, 0, 0x0b, 2, 0, 0x0b]),       // their bodies
    ...section(0, [...str("name"), 1, fnNames.length, ...fnNames, 7, globalName.length, ...globalName]),
  ]);
}

describe("function names in the module", () => {
  it("reads the name section's function names and drops the section", () => {
    const m = moduleWithNames();
    expect(WebAssembly.validate(new Uint8Array(m))).toBe(true);
    expect([...functionNames(m)]).toEqual([[0, "../../apps/x/main/a"], [1, "~lib/rt/itcms/__new"]]);
    expect(stackPointerGlobal(globalNames(m))).toBe(0);
    const stripped = withoutCustomSection(m, "name");
    expect(WebAssembly.validate(new Uint8Array(stripped))).toBe(true);
    expect(functionNames(stripped).size).toBe(0);
    expect(stripped.length).toBeLessThan(m.length);
    // Another custom section's name: the module is unchanged.
    expect(withoutCustomSection(m, "sourceMappingURL")).toEqual(m);
  });
});
