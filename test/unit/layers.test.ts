// The kernel's layering, checked from its import graph (docs/ARCHITECTURE.md,
// "Layers"). Every import of kernel/ and apps/ is parsed and resolved to the
// subsystem it leaves and the one it enters; the test fails, naming the file,
// the line and the import, on:
//   - an import from a library (net, http, json, virtio, mm, ...) up into the
//     composition layer (kernel/system) or the management API (kernel/api);
//   - an edge between two subsystems that ALLOWED below does not hold (a new
//     direction is a design decision: add it here, in the same commit);
//   - an import that reaches past another subsystem's face (its index.ts) into
//     an inner file, unless PAST_THE_FACE lists it with its reason;
//   - anything but "skiff", "skiff-embed" or its own files in an app.
// It also checks that docs/HACKING.md's layout table names every folder.
import { describe, expect, it } from "vitest";
import { readFileSync, readdirSync, statSync, existsSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Where each subsystem lives (longest prefix wins); paths relative to the
 *  repository, without ".ts". A kernel file outside every prefix fails. */
const SUBSYSTEMS: Record<string, string> = {
  "kernel/index": "face",          // what apps import as "skiff"
  "kernel/system": "system",       // composition: starts the services, the default network
  "kernel/api": "api",             // the management API (a library the system layer starts)
  "kernel/lib/net": "net",
  "kernel/lib/http": "http",
  "kernel/lib/json": "json",
  "kernel/lib/config": "config",
  "kernel/lib/env": "env",
  "kernel/drivers/virtio": "virtio",
  "kernel/drivers/pci": "pci",
  "kernel/platform/acpi": "acpi",
  "kernel/platform/bootinfo": "bootinfo",
  "kernel/core/irq": "irq",
  "kernel/core/time": "time",
  "kernel/core/sched": "sched",
  "kernel/core/mm": "mm",
  "kernel/core/random": "random",
  "kernel/core/console": "console",
  "kernel/platform/arch": "arch",
  "kernel/platform": "platform",
  "kernel/core/panic": "panic",
  "kernel/core/fault": "fault",
  "kernel/core/version": "version",
};

/** The layers above every library: nothing below them may import them. */
const UPPER = new Set(["face", "system", "api"]);

/** Which subsystems each one may import (besides itself). Read bottom up:
 *  platform (host imports) and arch (CPU and board registers) at the bottom,
 *  then the kernel core, drivers, the libraries, the API, the system layer. */
const ALLOWED: Record<string, string[]> = {
  platform: [],
  version: [],
  console: ["platform"],
  panic: ["console", "platform"],
  arch: ["platform"],
  bootinfo: ["platform"],
  mm: ["bootinfo", "panic", "platform"],
  acpi: ["bootinfo", "console"],
  pci: ["acpi", "bootinfo", "console", "platform"],
  irq: ["acpi", "arch", "bootinfo", "platform"],
  time: ["acpi", "arch", "bootinfo", "console", "platform"],
  fault: ["console", "mm", "platform", "time"],
  sched: ["bootinfo", "console", "fault", "irq", "platform", "time"],
  random: ["console", "platform"],
  // Drivers implement the stack's NetDevice (net/device.ts); the stack imports no driver.
  virtio: ["acpi", "bootinfo", "console", "irq", "mm", "net", "pci", "platform", "random", "sched"],
  // Libraries.
  json: [],
  config: ["bootinfo", "console"],
  env: ["bootinfo", "config"],
  net: ["bootinfo", "console", "mm", "platform", "random", "sched"],
  http: ["fault", "json", "mm", "net", "sched"],
  api: ["acpi", "arch", "bootinfo", "config", "console", "env", "fault", "http", "json", "mm", "net", "platform", "sched", "time", "version", "virtio"],
  // The composition layer, then the face apps import.
  system: ["api", "bootinfo", "config", "console", "http", "mm", "net", "panic", "platform", "random", "sched", "version", "virtio"],
  face: [
    "api", "bootinfo", "config", "console", "env", "http", "irq", "json", "mm", "net", "panic", "platform", "random",
    "sched", "system", "time", "version", "virtio",
  ],
};

/** What an app may import besides "skiff", "skiff-embed" and its own files. */
const APP_SHARED: Record<string, string> = {
  "apps/httpd/sitefs -> apps/kv/crc32": "the site image and kv's log use the same CRC-32",
};

/** AssemblyScript's own runtime, which the heap accounting reads (kernel/core/mm/heap.ts). */
const RUNTIME = /^(rt|~lib)\//;

/** Imports that reach past a face on purpose, each with its reason. */
const PAST_THE_FACE: Record<string, string> = {
  // skiff dev's hosted build: its host imports and socket layer must stay out
  // of every real image, so the faces do not export them.
  "kernel/lib/net/hosted -> kernel/platform/hosted": "hosted-only host imports",
  "kernel/system/hosted -> kernel/lib/net/hosted": "hosted-only socket layer",
};

export interface Import { file: string; line: number; spec: string; text: string; target: string | null }

/** Blanks comments (keeping offsets and newlines) so commented-out code is not read. */
function blankComments(src: string): string {
  let out = "";
  let i = 0;
  while (i < src.length) {
    const c = src[i], n = src[i + 1];
    if (c === "/" && n === "/") {
      while (i < src.length && src[i] !== "\n") { out += " "; i++; }
    } else if (c === "/" && n === "*") {
      while (i < src.length && !(src[i] === "*" && src[i + 1] === "/")) { out += src[i] === "\n" ? "\n" : " "; i++; }
      out += "  "; i += 2;
    } else if (c === '"' || c === "'" || c === "`") {
      const q = c; out += c; i++;
      while (i < src.length && src[i] !== q) {
        if (src[i] === "\\") { out += src[i]; i++; }
        out += src[i]; i++;
      }
      out += src[i] ?? ""; i++;
    } else { out += c; i++; }
  }
  return out;
}

/** Every import and re-export of a file, resolved to a repository path (no ".ts"). */
export function importsOf(file: string, src: string = readFileSync(join(ROOT, file + ".ts"), "utf8")): Import[] {
  const code = blankComments(src);
  const re = /(?:^|[;\s])(?:import|export)\s+(?:type\s+)?(?:[^;"'`]*?\s+from\s+)?["']([^"']+)["']/g;
  const out: Import[] = [];
  for (const m of code.matchAll(re)) {
    const spec = m[1];
    const at = m.index! + m[0].search(/import|export/);
    const line = code.slice(0, at).split("\n").length;
    let target: string | null = null;
    if (spec.startsWith(".")) {
      let p = relative(ROOT, resolve(ROOT, dirname(file), spec)).split(sep).join("/");
      if (existsSync(join(ROOT, p)) && statSync(join(ROOT, p)).isDirectory()) p += "/index";
      target = p.replace(/\.ts$/, "");
    }
    out.push({ file, line, spec, text: src.slice(at, m.index! + m[0].length).replace(/\s+/g, " "), target });
  }
  return out;
}

export function subsystemOf(path: string): string | null {
  let best = "";
  for (const p of Object.keys(SUBSYSTEMS)) {
    if ((path === p || path.startsWith(p + "/")) && p.length > best.length) best = p;
  }
  return best ? SUBSYSTEMS[best] : null;
}

function faceOf(sub: string): string {
  const p = Object.keys(SUBSYSTEMS).find((k) => SUBSYSTEMS[k] === sub)!;
  return existsSync(join(ROOT, p + ".ts")) ? p : p + "/index";
}

/** The problems with one import, as lines to print (empty: fine). */
export function check(imp: Import): string[] {
  const where = `${imp.file}.ts:${imp.line}: ${imp.text}`;
  if (imp.file.startsWith("apps/")) {
    const app = imp.file.split("/").slice(0, 2).join("/");
    if (imp.spec === "skiff" || imp.spec === "skiff-embed") return [];
    if (imp.target !== null && imp.target.startsWith(app + "/")) return [];
    if (imp.target !== null && APP_SHARED[`${imp.file} -> ${imp.target}`]) return [];
    return [`${where}\n    an app imports "skiff", "skiff-embed" or its own files only`];
  }
  if (imp.target === null) {
    return RUNTIME.test(imp.spec) ? [] : [`${where}\n    the kernel imports its own files only (relative paths)`];
  }
  const from = subsystemOf(imp.file), to = subsystemOf(imp.target);
  if (from === null) return [`${where}\n    ${imp.file} belongs to no subsystem: add it to SUBSYSTEMS in test/unit/layers.test.ts`];
  if (to === null) return [`${where}\n    ${imp.target} belongs to no subsystem`];
  if (from === to) return [];
  const out: string[] = [];
  if (UPPER.has(to) && !UPPER.has(from)) {
    out.push(`${where}\n    ${from} is a library: it must not import up into ${to}`);
  } else if (!(ALLOWED[from] ?? []).includes(to)) {
    out.push(`${where}\n    ${from} -> ${to} is not an allowed direction (ALLOWED in test/unit/layers.test.ts)`);
  }
  if (imp.target !== faceOf(to) && !PAST_THE_FACE[`${imp.file} -> ${imp.target}`]) {
    let face = relative(dirname(imp.file), faceOf(to).replace(/\/index$/, ""));
    if (!face.startsWith(".")) face = "./" + face;
    out.push(`${where}\n    reaches past ${to}'s face: import from "${face}" instead`);
  }
  return out;
}

function tsFiles(dir: string, out: string[] = []): string[] {
  for (const n of readdirSync(join(ROOT, dir)).sort()) {
    const p = dir + "/" + n;
    if (statSync(join(ROOT, p)).isDirectory()) tsFiles(p, out);
    else if (n.endsWith(".ts") && !n.endsWith(".d.ts")) out.push(p.replace(/\.ts$/, ""));
  }
  return out;
}

describe("layers: the import graph of kernel/ and apps/", () => {
  const files = [...tsFiles("kernel"), ...tsFiles("apps")].filter((f) => !f.endsWith("/tsconfig"));
  const imports = files.flatMap((f) => importsOf(f));

  it("reads the graph (a parser that sees nothing would pass everything)", () => {
    expect(files.length).toBeGreaterThan(100);
    expect(imports.length).toBeGreaterThan(300);
    expect(imports.some((i) => i.file === "kernel/system/main" && i.target === "kernel/api/index")).toBe(true);
  });

  it("no library imports up into kernel/system or kernel/api, every edge is an allowed direction, and every import goes through a face", () => {
    const problems = imports.flatMap(check);
    if (problems.length > 0) console.log(problems.join("\n"));
    expect(problems, problems.join("\n")).toEqual([]);
  });

  it("would catch a library importing the API, an undeclared edge and an import past a face", () => {
    const up = importsOf("kernel/lib/net/service", 'import { startApi } from "../../api";\n');
    expect(check(up[0]).join()).toMatch(/net is a library: it must not import up into api/);
    const edge = importsOf("kernel/lib/net/stack", 'import { HttpServer } from "../http";\n');
    expect(check(edge[0]).join()).toMatch(/net -> http is not an allowed direction/);
    const past = importsOf("kernel/lib/http/tcp", 'import { TcpSocket } from "../net/socket/tcp";\n');
    expect(check(past[0]).join()).toMatch(/reaches past net's face: import from "\.\.\/net" instead/);
    const app = importsOf("apps/echo/main", 'import { x } from "../../kernel/lib/net";\n');
    expect(check(app[0]).join()).toMatch(/an app imports "skiff"/);
    expect(check(importsOf("kernel/system/main", 'import { startApi } from "../api";\n')[0])).toEqual([]);
  });
});

describe("docs/HACKING.md's layout table", () => {
  it("names every folder of kernel/, boot/, cli/, test/, bench/ and apps/", () => {
    const doc = readFileSync(join(ROOT, "docs/HACKING.md"), "utf8");
    const dirs = (d: string, out: string[] = []): string[] => {
      for (const n of readdirSync(join(ROOT, d)).sort()) {
        const p = d + "/" + n;
        if (statSync(join(ROOT, p)).isDirectory()) { out.push(p); dirs(p, out); }
      }
      return out;
    };
    const missing: string[] = [];
    for (const top of ["kernel", "boot", "cli", "test", "bench", "apps"]) {
      for (const d of dirs(top)) {
        const parts = d.split("/");
        // One app per folder: the apps' rows name them.
        const appsRow = /^(apps|test\/apps|bench\/apps)$/.test(parts.slice(0, -1).join("/"));
        if (appsRow ? !doc.includes("`" + parts[parts.length - 1] + "`") : !doc.includes("`" + d + "/`")) missing.push(d);
      }
    }
    expect(missing, "folders docs/HACKING.md does not list: " + missing.join(", ")).toEqual([]);
  });
});
