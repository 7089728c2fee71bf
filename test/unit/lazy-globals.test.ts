// Module-level globals that name a kernel class are @lazy (docs/HACKING.md,
// "Writing kernel code"). asc compiles every eager global of every file the
// "skiff" face reaches, whether or not the image uses it; a global typed or
// initialised with a class resolves that class and its fields' classes, and
// each resolved class joins every image's GC visitor (__visit_members). That
// is how hello once carried NetStack, HttpServer and Api (docs/BENCHMARKS.md,
// "Image sizes"). The test reads every kernel file, collects the class names
// declared in kernel/, and fails, naming the file and line, on a top-level
// let/const/var whose type or initializer names one without @lazy above it.
import { describe, expect, it } from "vitest";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Eager on purpose, each with its reason. */
const EAGER: Record<string, string> = {};

function tsFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) tsFiles(p, out);
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

export interface EagerGlobal { file: string; line: number; name: string; classes: string[] }

/** Declared class names (kernel/ only: the std's own containers of kernel
 *  classes are caught by the class inside the angle brackets). */
export function classNames(sources: Map<string, string>): Set<string> {
  const names = new Set<string>();
  for (const src of sources.values()) {
    for (const m of src.matchAll(/^\s*(?:export\s+)?(?:abstract\s+)?class\s+([A-Za-z_]\w*)/gm)) names.add(m[1]);
  }
  return names;
}

/** Top-level globals naming one of classes, not preceded by @lazy (decorator
 *  comments such as `// @ts-ignore: decorator` may sit in between). */
export function eagerGlobals(file: string, src: string, classes: Set<string>): EagerGlobal[] {
  const out: EagerGlobal[] = [];
  const lines = src.split("\n");
  lines.forEach((text, i) => {
    const m = /^(?:export\s+)?(?:let|const|var)\s+(\w+)\s*(?::([^=]*))?(?:=(.*))?$/.exec(text);
    if (!m) return;
    const named = [...`${m[2] ?? ""} ${m[3] ?? ""}`.matchAll(/\b([A-Z]\w*)\b/g)].map((x) => x[1]).filter((n) => classes.has(n));
    if (named.length === 0) return;
    let j = i - 1;
    while (j >= 0 && /^\s*\/\/\s*@ts-ignore/.test(lines[j])) j--;
    if (j >= 0 && /^@lazy\b/.test(lines[j].trim())) return;
    out.push({ file, line: i + 1, name: m[1], classes: [...new Set(named)] });
  });
  return out;
}

describe("module-level globals", () => {
  const sources = new Map<string, string>();
  for (const f of tsFiles(join(ROOT, "kernel"))) sources.set(relative(ROOT, f), readFileSync(f, "utf8"));
  const classes = classNames(sources);

  it("the scan sees the kernel's classes", () => {
    for (const c of ["NetStack", "HttpServer", "Api", "BootInfo", "TcpSocket"]) expect(classes.has(c), c).toBe(true);
  });

  it("every one that names a kernel class is @lazy", () => {
    const found: string[] = [];
    for (const [file, src] of sources) {
      for (const g of eagerGlobals(file, src, classes)) {
        if (`${g.file}: ${g.name}` in EAGER) continue;
        found.push(`${g.file}:${g.line}: ${g.name} names ${g.classes.join(", ")}: add @lazy above it`);
      }
    }
    expect(found).toEqual([]);
  });

  it("every exception still exists", () => {
    const all = new Set<string>();
    for (const [file, src] of sources) for (const g of eagerGlobals(file, src, classes)) all.add(`${g.file}: ${g.name}`);
    expect(Object.keys(EAGER).filter((k) => !all.has(k))).toEqual([]);
  });

  it("catches an eager class-typed global and accepts a @lazy one", () => {
    const cls = new Set(["NetStack"]);
    expect(eagerGlobals("x.ts", "let network: NetStack | null = null;\n", cls).map((g) => g.name)).toEqual(["network"]);
    expect(eagerGlobals("x.ts", "const m = new Map<u32, NetStack>();\n", cls).map((g) => g.name)).toEqual(["m"]);
    expect(eagerGlobals("x.ts", "// @ts-ignore: decorator\n@lazy\nlet network: NetStack | null = null;\n", cls)).toEqual([]);
    expect(eagerGlobals("x.ts", "let count: u32 = 0;\n", cls)).toEqual([]);
    // Inside a function, not a module global.
    expect(eagerGlobals("x.ts", "function f(): void {\n  let s: NetStack | null = null;\n}\n", cls)).toEqual([]);
  });
});
