// test/unit/cli-workflow.test.ts — the pure parts of the developer workflow:
// --env/--config as boot words, the management API's port and token from the
// command line, the runtime folder's permissions, ps's uptime column, and
// skiff new's dependency on Skiff.
import { describe, expect, it } from "vitest";
import { mkdtempSync, mkdirSync, rmSync, statSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configWord, envWord, settingsWords } from "../../cli/lib/bootargs.js";
import { apiFromCmdline, appLabel } from "../../cli/lib/detach.js";
import { checkName, runtimeDir } from "../../cli/lib/guests.js";
import { formatUptime } from "../../cli/commands/ps.js";
import { skiffSpec } from "../../cli/commands/new.js";
import { failureLines } from "../../cli/commands/test.js";
import { UserError } from "../../cli/lib/log.js";

describe("--env and --config", () => {
  it("become env.NAME= and config.KEY= words, quoted when the value has spaces", () => {
    expect(envWord("GREETING=hello")).toBe("env.GREETING=hello");
    expect(envWord("GREETING=hello there")).toBe('env.GREETING="hello there"');
    expect(envWord("EMPTY=")).toBe('env.EMPTY=""');
    expect(envWord("URL=http://x/?a=b")).toBe("env.URL=http://x/?a=b");
    expect(configWord("app.port=9090")).toBe("config.app.port=9090");
    expect(settingsWords(["A=1"], ["b.c=2"])).toEqual(["env.A=1", "config.b.c=2"]);
  });
  it("refuse what the kernel's stores or parser would not take", () => {
    for (const bad of ["NOVALUE", "=x", "A B=1", 'Q"=1', "A=say \"hi\"", "A=line\nbreak", "A=" + "x".repeat(4097)]) {
      expect(() => envWord(bad), bad).toThrow(UserError);
    }
    for (const bad of ["k", "a/b=1", "a b=1", "ключ=1", "k" .repeat(129) + "=1"]) {
      expect(() => configWord(bad), bad).toThrow(UserError);
    }
  });
});

describe("detached guests", () => {
  it("find the management API's network switch, port and token on the command line", () => {
    expect(apiFromCmdline("")).toEqual({ net: false, port: 8000, token: undefined });
    expect(apiFromCmdline("quiet api.port=9000 api.token=s3cret-token-1")).toEqual({ net: false, port: 9000, token: "s3cret-token-1" });
    expect(apiFromCmdline("api.net=on api.port=9000")).toEqual({ net: true, port: 9000, token: undefined });
    expect(apiFromCmdline("api.net")).toMatchObject({ net: true });
    expect(apiFromCmdline("api.net=on api.net=off")).toMatchObject({ net: false });
    expect(apiFromCmdline("api.net=maybe")).toMatchObject({ net: false });
    expect(apiFromCmdline("api.net=on api.port=70000")).toMatchObject({ net: true, port: 8000 });
    expect(apiFromCmdline("api.token=short")).toEqual({ net: false, port: 8000, token: undefined });
    expect(apiFromCmdline("api.off")).toBeNull();
  });
  it("name guests safely and label apps as ps shows them", () => {
    expect(() => checkName("web-1.a_b")).not.toThrow();
    for (const bad of ["", "../x", "a/b", ".hidden", "x".repeat(64)]) expect(() => checkName(bad), bad).toThrow(UserError);
    expect(appLabel(".", "/home/u/demo")).toBe("demo");
    expect(appLabel("apps/hello/main.ts", "/r")).toBe("hello");
    expect(appLabel("build/x/image.elf", "/r")).toBe("image.elf");
  });
  it("keep state in a 0700 folder of the user's own, and refuse one others could reach", () => {
    const base = mkdtempSync(join(tmpdir(), "skiff-rt-"));
    try {
      const dir = runtimeDir({ XDG_RUNTIME_DIR: base });
      expect(dir).toBe(join(base, "skiff"));
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      chmodSync(dir, 0o755);
      runtimeDir({ XDG_RUNTIME_DIR: base });
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      rmSync(dir, { recursive: true });
      writeFileSync(dir, "not a folder");
      expect(() => runtimeDir({ XDG_RUNTIME_DIR: base })).toThrow(UserError);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
  it("show uptime in the largest two units", () => {
    expect(formatUptime(0)).toBe("0s");
    expect(formatUptime(59_999)).toBe("59s");
    expect(formatUptime(61_000)).toBe("1m01s");
    expect(formatUptime(3_600_000 + 120_000)).toBe("1h02m");
    expect(formatUptime(2 * 86_400_000 + 3_600_000)).toBe("2d01h");
  });
});

describe("skiff new", () => {
  it("depends on Skiff as the project around it does, with file: paths made relative to the new folder", () => {
    const base = mkdtempSync(join(tmpdir(), "skiff-new-"));
    try {
      writeFileSync(join(base, "package.json"), JSON.stringify({ dependencies: { skiff: "file:../skiff-0.1.0.tgz" } }));
      expect(skiffSpec(base, join(base, "demo"))).toBe("file:../../skiff-0.1.0.tgz");
      writeFileSync(join(base, "package.json"), JSON.stringify({ devDependencies: { skiff: "^0.1.0" } }));
      expect(skiffSpec(base, join(base, "demo"))).toBe("^0.1.0");
      mkdirSync(join(base, "sub"));
      expect(skiffSpec(join(base, "sub"), join(base, "sub", "demo"))).toBe("^0.1.0");
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});

describe("skiff test", () => {
  it("names each failed test and the first line of its error at the end", () => {
    const lines = failureLines({
      testResults: [
        { name: "/p/test/a.test.ts", assertionResults: [
          { status: "passed", fullName: "a works" },
          { status: "failed", fullName: "suite > b answers", failureMessages: ["\x1b[31mAssertionError: expected 1 to be 2\x1b[39m\n    at x"] },
        ] },
        { name: "/p/test/c.test.ts", message: "\nFailed to load url ./missing.js", assertionResults: [] },
        { name: "/p/test/d.test.ts", assertionResults: [{ status: "passed", fullName: "d" }] },
      ],
    }, "/p");
    expect(lines).toEqual([
      "  test/a.test.ts > suite > b answers: AssertionError: expected 1 to be 2",
      "  test/c.test.ts: Failed to load url ./missing.js",
    ]);
  });
});
