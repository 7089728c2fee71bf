// Input checked before work starts (issue #13): bad option values are refused
// before any build, each message printed once and naming what is wrong; an app
// without a proper main is reported against the app's own file.
import { describe, expect, it } from "vitest";
import { execa } from "execa";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main as cliMain } from "../../cli/main.js";
import { parseSize } from "../../cli/lib/options.js";
import type { IO } from "../../cli/lib/log.js";

const captureIO = (): IO & { text: () => string } => {
  let buf = "";
  return {
    out: (t) => { buf += t + "\n"; },
    err: (t) => { buf += t + "\n"; },
    raw: (c) => { buf += String(c); },
    cwd: process.cwd(),
    env: process.env,
    isTTY: false,
    text: () => buf,
  };
};

async function cli(...argv: string[]): Promise<{ code: number; text: string }> {
  const io = captureIO();
  const code = await cliMain(argv, io);
  return { code, text: io.text() };
}

describe("option values are checked before the build", () => {
  for (const [args, pattern] of [
    [["--memory", "lots"], /--memory lots: expected a size such as 64M/],
    [["--memory", "1.5G"], /--memory 1\.5G: expected a size/],
    [["--memory", "0"], /--memory 0: expected a size/],
    [["--memory=-64M"], /--memory -64M: expected a size/],
    [["--timeout", "soon"], /--timeout soon: expected a non-negative number/],
    [["--timeout", ""], /--timeout : expected a non-negative number/],
    [["--machine", "vax"], /--machine vax: choose one of microvm, q35, pc/],
    [["--disk", "/nonexistent/skiff-disk.img"], /--disk \/nonexistent\/skiff-disk\.img: no such file/],
    [["--memory"], /--memory needs a value/],
    [["--watch", "--debug"], /--watch rebuilds an app .* not with --debug/],
    [["--watch", "--restart", "always"], /--watch rebuilds an app .* not with --restart/],
  ] as [string[], RegExp][]) {
    it(`skiff run apps/hello ${args.join(" ")}: refused, nothing built`, async () => {
      const r = await cli("run", "apps/hello", ...args);
      expect(r.code, r.text).toBe(2);
      expect(r.text).toMatch(pattern);
      expect(r.text).not.toContain("skiff build");   // the build's first line
    });
  }

  it("skiff build --format with an unknown format: refused before the build", async () => {
    const r = await cli("build", "apps/hello", "--format", "tar");
    expect(r.code).not.toBe(0);
    expect(r.text).not.toContain("skiff build apps");
  });

  it("sizes: K, M, G, a bare number in MiB; nothing else", () => {
    expect(parseSize("64M")).toBe(64 << 20);
    expect(parseSize("1536k")).toBe(1536 << 10);
    expect(parseSize("1G")).toBe(1 << 30);
    expect(parseSize("2")).toBe(2 << 20);
    for (const bad of ["", "lots", "1.5G", "0", "0M", "-1M", "64MB", "64 M", "1T"]) expect(parseSize(bad), bad).toBeNull();
  });
});

describe("messages", () => {
  it("an unknown option is reported once, with the command named once", async () => {
    const r = await execa(process.execPath, ["dist/skiff.js", "run", "apps/hello", "--bogus"], { reject: false, all: true });
    expect(r.exitCode).toBe(2);
    const text = String(r.all);
    expect(text.match(/unknown option --bogus/g)?.length, text).toBe(1);
    expect(text).toContain("skiff run: unknown option --bogus; see skiff run --help");
    expect(text).not.toMatch(/run: run:/);
  });

  it("an app without main: the message names the app's main.ts, not the generated entry", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-nomain-"));
    try {
      writeFileSync(join(dir, "main.ts"), 'import { println } from "skiff";\nexport function start(): i32 { println("hi"); return 0; }\n');
      const r = await cli("build", dir, "--out", join(dir, "out"));
      expect(r.code).toBe(1);
      expect(r.text).toMatch(/main\.ts: no exported function main; an app exports main\(\): i32/);
      expect(r.text).not.toContain("entry.ts");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it("a main with the wrong signature: named against the app's main.ts", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-badmain-"));
    try {
      writeFileSync(join(dir, "main.ts"), 'export function main(code: i32): i32 { return code; }\n');
      const r = await cli("build", dir, "--out", join(dir, "out"));
      expect(r.code).toBe(1);
      expect(r.text).toMatch(/main\.ts: main must be declared main\(\): i32/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
