// cli/lib/stackcheck.ts — containing runaway recursion without corrupting the
// heap. The loader's stack ends in unmapped guard pages, and a fault there
// inside a guarded call (a handler, task or timer) ends only that call. But
// the fault happens wherever the stack runs out: often inside the allocator
// or the collector (a recursion that allocates spends most of its stack
// there), or inside kernel code the app called, halfway through updating a
// free list or a socket. Unwinding from there leaves TLSF's or the
// collector's lists broken, and the guest dies on a later allocation.
//
// So the app's code checks the stack before it calls anything that is not
// its own: every direct call from one of the app's functions to a function
// of the kernel, the runtime or AssemblyScript's standard library first
// compares the stack pointer with a mark STACK_HEADROOM above the guard
// pages (boot/stackcheck.h) and traps there, at the call, when it is below.
// Whatever the callee then does (allocate, collect, grow linear memory, run
// finalizers) has that much stack to itself and is never cut off midway.
// The app's own code between two calls can still run into the guard pages;
// only its own state is half updated then, as with any fault in a handler.
//
// Which functions are the app's is read from their Wasm names (the module is
// compiled with names for this, and wasm2c given it without them, so the
// image is what it was: see build.ts).
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { demangle, unescapeName, WASM2C_FUNCTION_DEF } from "./symbols.js";

export type FunctionKind = "app" | "std" | "kernel" | "runtime";

/** The top-level names under AssemblyScript's std/assembly: "~lib/<name>"
 *  is the standard library's (array, string, map, util ...). */
export function stdModuleNames(ascPackageDir: string): Set<string> {
  const dir = join(ascPackageDir, "std", "assembly");
  const out = new Set<string>();
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.add(e.name);
    else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) out.add(e.name.slice(0, -3));
  }
  return out;
}

/** What a Wasm function name says about its code. */
export function functionKind(wasmName: string, std: Set<string>): FunctionKind {
  const n = wasmName.startsWith('"') ? wasmName.slice(1) : wasmName;
  if (n.startsWith("~lib/rt/") || n.startsWith("~lib/rt.")) return "runtime";
  if (n.startsWith("~lib/skiff/") || n.startsWith("~lib/skiff-embed/") || n.startsWith("entry/")) return "kernel";
  if (n.startsWith("~lib/")) {
    const top = /^~lib\/([^/<#.~@:]+)/.exec(n)?.[1] ?? "";
    return std.has(top) ? "std" : "app";   // another package: the app's dependency
  }
  if (n.startsWith("~")) return "kernel";  // ~start, ~setArgumentsLength: generated
  return "app";
}

/** The shadow stack (asc's --stackSize: where the runtime finds the
 *  references held by running functions) runs out too, and asc's own check
 *  aborts "stack overflow" at the entry of whichever function crosses the
 *  line: inside the kernel as easily as in the app. So the same call sites
 *  also check it, with this much of it kept for the callee. */
export const SHADOW_HEADROOM = 2048;

/** The shadow stack: the index of the global asc keeps its pointer in
 *  (~lib/memory/__stack_pointer; null when the module had no names) and its
 *  size (asc's --stackSize). */
export interface ShadowStack { global: number | null; size: number }

export function stackPointerGlobal(globalNames: Map<number, string>): number | null {
  for (const [i, n] of globalNames) if (n === "~lib/memory/__stack_pointer") return i;
  return null;
}

/** The global's C name and initial value from image.c's instance set-up:
 *  wasm2c calls it g<index> in a module without names, and by its escaped
 *  name in one with them. */
function shadowPointerIn(c: string, global: number | null): { cName: string; init: number } | null {
  for (const m of c.matchAll(/^  instance->(w2c_\w+) = (\d+)u;$/gm)) {
    if ((global !== null && m[1] === `w2c_g${global}`) || unescapeName(m[1].slice(4)) === "~lib/memory/__stack_pointer") {
      return { cName: m[1], init: Number(m[2]) };
    }
  }
  return null;
}

/** image.c with every direct call from an app function to a function that
 *  is not the app's wrapped in SKIFF_STACK_CHECKED (boot/stackcheck.h).
 *  nameOf gives a C function's Wasm name (null: unknown, left alone).
 *  shadow: the shadow stack's pointer, also checked at those calls (its
 *  lowest address is its initial value, set in image.c, less its size).
 *  Returns the text and how many calls were wrapped. */
export function insertStackChecks(c: string, nameOf: (cName: string) => string | null, std: Set<string>, shadow: ShadowStack | null = null): { c: string; calls: number } {
  if (shadow !== null) {
    const sp = shadowPointerIn(c, shadow.global);
    const include = '#include "stackcheck.h"\n';
    if (sp !== null && sp.init > shadow.size && c.includes(include)) {
      const limit = sp.init - shadow.size + SHADOW_HEADROOM;
      c = c.replace(include, `#define SKIFF_SHADOW_SP(instance) ((instance)->${sp.cName})\n#define SKIFF_SHADOW_LIMIT ${limit}u\n${include}`);
    }
  }
  const kinds = new Map<string, FunctionKind | null>();
  const kindOf = (cName: string): FunctionKind | null => {
    let k = kinds.get(cName);
    if (k === undefined) {
      const w = nameOf(cName);
      k = w === null ? null : functionKind(w, std);
      kinds.set(cName, k);
    }
    return k;
  };
  const lines = c.split("\n");
  let calls = 0;
  for (let i = 0; i < lines.length; i++) {
    const m = WASM2C_FUNCTION_DEF.exec(lines[i]);
    if (!m || !lines[i].endsWith("{")) continue;   // a definition, not a prototype
    const inApp = kindOf(m[1]) === "app";
    let j = i + 1;
    for (; j < lines.length && lines[j] !== "}"; j++) {
      if (!inApp || !lines[j].includes("w2c_kernel_")) continue;
      lines[j] = lines[j].replace(/\b(w2c_kernel_\w+)\(instance\b/g, (all, callee: string) => {
        const k = kindOf(callee);
        if (k === null || k === "app") return all;
        calls++;
        return `SKIFF_STACK_CHECKED(${callee})(instance`;
      });
    }
    i = j;
  }
  return { c: lines.join("\n"), calls };
}

/** nameOf for image.c: wasm2c names a function without a Wasm name f<index>
 *  (imports counted), and one with a name after it (escaped). */
export function cNameResolver(names: Map<number, string>): (cName: string) => string | null {
  return (cName) => {
    const m = /^w2c_kernel_f(\d+)$/.exec(cName);
    if (m) {
      const n = names.get(Number(m[1]));
      if (n !== undefined) return n;
    }
    const d = demangle(cName);
    return d === cName || d.length === 0 ? null : d;
  };
}
