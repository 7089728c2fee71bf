// The build-and-boot spine: real images under QEMU (TCG) on every machine type,
// failure modes ending with a readable message and a distinct status, and a
// broken app that fails to build.
import { afterAll, describe, expect, it } from "vitest";
import { existsSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { bootAndWait, buildApp, stopAll, EXIT } from "../../harness/index.js";
import { build } from "../../cli/lib/build.js";
import { main as cliMain } from "../../cli/main.js";
import type { IO } from "../../cli/lib/log.js";

afterAll(stopAll);

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

describe("hello boots", () => {
  for (const machine of ["microvm", "q35", "pc"] as const) {
    it(`on ${machine}: greeting, command line, memory, exit 0`, async () => {
      const r = await bootAndWait({ app: "apps/hello", machine, memory: "48M", cmdline: `skiff.test=${machine} answer=42`, timeoutMs: 30000 });
      expect(r.status, r.serial + r.stderr).toBe(0);
      expect(r.serial).toContain("Hello from Skiff!");
      expect(r.serial).toContain(`cmdline: skiff.test=${machine} answer=42`);
      // 48 MiB guest: the kernel reports a little under 48 MiB of RAM.
      const kib = Number(/memory: (\d+) KiB\n/.exec(r.serial)?.[1]);
      expect(kib, JSON.stringify(r.serial)).toBeGreaterThan(46 * 1024);
      expect(kib).toBeLessThanOrEqual(48 * 1024);
      // Firmware noise is gone: the first thing seen is the kernel's banner.
      expect(r.serial.startsWith("Skiff ")).toBe(true);
    });
  }

  it("boots in 2 MiB of guest RAM", async () => {
    const r = await bootAndWait({ app: "apps/hello", memory: "2M", timeoutMs: 30000 });
    expect(r.status, r.serial).toBe(0);
    expect(r.serial).toContain("Hello from Skiff!");
  });

  it("a static initialiser may allocate beyond the initial memory (growth bounded before the kernel runs)", async () => {
    const r = await bootAndWait({ app: "test/apps/bigstatic", memory: "16M", timeoutMs: 30000 });
    expect(r.serial).toContain("static buffer of 3072 KiB, last byte 7");
    expect(r.status, r.serial).toBe(0);
    // With too little RAM the same growth is refused: an orderly failure, not a crash into what follows RAM.
    const small = await bootAndWait({ app: "test/apps/bigstatic", memory: "3M", timeoutMs: 30000 });
    expect(small.status, small.serial).not.toBe(0);
    expect(small.serial).not.toContain("static buffer of");
  });

  it("passes the app's status through as the exit status", async () => {
    const r = await bootAndWait({ app: "test/apps/exitcode", cmdline: "exitcode=7", timeoutMs: 30000 });
    expect(r.serial).toContain("exiting with 7");
    expect(r.status).toBe(7);
  });

  it("the hello image is a PVH + Multiboot2 ELF under 64 KiB", async () => {
    const b = await buildApp("apps/hello");
    expect(statSync(b.elf).size).toBeLessThan(64 * 1024);
  });
});

describe("failures end the guest with a readable cause and a distinct status", () => {
  it("abort → panic with file:line:column, status 70", async () => {
    const r = await bootAndWait({ app: "test/apps/abort", timeoutMs: 30000 });
    expect(r.status).toBe(EXIT.PANIC);
    expect(r.serial).toMatch(/kernel panic: abort: the app gave up at .*test\/apps\/abort\/main\.ts:\d+:\d+/);
  });

  it("out-of-bounds read → Wasm trap, status 71", async () => {
    const r = await bootAndWait({ app: "test/apps/oob", timeoutMs: 30000 });
    expect(r.status).toBe(EXIT.TRAP);
    expect(r.serial).toContain("wasm trap: out of bounds memory access");
    expect(r.serial).not.toContain("failed to trap");
  });

  // Guard pages (boot/paging.c) must end exactly at memory.size, also after growth.
  for (const [mode, before, memory] of [
    ["edge", /last word \d+ read/, "64M"],
    ["grown", /grew from \d+ to \d+ pages, 0 bad/, "64M"],
    ["offset", /^/, "64M"],
    ["fill", /filling across the end/, "64M"],
    // Past physical 1 GiB: the alias needs its second page directory.
    ["big", /grew to 1100 MiB across 1 GiB, 0 bad/, "1200M"],
  ] as const) {
    it(`out-of-bounds by a few bytes (oob=${mode}) → Wasm trap, status 71`, async () => {
      const r = await bootAndWait({ app: "test/apps/oob", cmdline: `oob=${mode}`, memory, timeoutMs: 60000 });
      expect(r.serial).toMatch(before);
      expect(r.serial).toContain("wasm trap: out of bounds memory access");
      expect(r.serial).not.toContain("failed to trap");
      expect(r.status, r.serial).toBe(EXIT.TRAP);
    });
  }

  it("runaway recursion → Wasm trap 'call stack exhausted' from the stack's guard pages, status 71", async () => {
    const r = await bootAndWait({ app: "test/apps/recurse", build: { debug: true }, timeoutMs: 30000 });
    expect(r.serial).toContain("diving");
    expect(r.serial).toMatch(/wasm trap: call stack exhausted in \S*test\/apps\/recurse\/main\/dive\b/);
    expect(r.serial).not.toContain("came back");
    expect(r.status, r.serial).toBe(EXIT.TRAP);
  });

  it("unreachable → Wasm trap naming the function (debug build), status 71", async () => {
    const r = await bootAndWait({ app: "test/apps/unreachable", build: { debug: true }, timeoutMs: 30000 });
    expect(r.status).toBe(EXIT.TRAP);
    expect(r.serial).toMatch(/wasm trap: unreachable executed in \S*test\/apps\/unreachable\/main\/(hitUnreachable|main)\b/);
  });

  it("a CPU exception → vector, RIP and CR2 reported, status 72", async () => {
    const r = await bootAndWait({ app: "test/apps/fault", timeoutMs: 30000 });
    expect(r.status).toBe(EXIT.FAULT);
    expect(r.serial).toMatch(/CPU exception 14 \(page fault\) error 0x[0-9a-f]+ rip 0x[0-9a-f]+ cr2 0x0000004000000000/);
    expect(r.serial).not.toContain("no fault?");
  });

  it("the three statuses differ from success and from each other", () => {
    expect(new Set([0, EXIT.PANIC, EXIT.TRAP, EXIT.FAULT]).size).toBe(4);
  });
});

describe("builds", () => {
  it("a broken app fails with asc's message, file:line, and leaves no image", async () => {
    const out = join("build", "test-broken");
    rmSync(out, { recursive: true, force: true });
    const io = captureIO();
    const code = await cliMain(["build", "test/apps/broken", "--out", out], io);
    expect(code).not.toBe(0);
    expect(io.text()).toMatch(/ERROR TS\d+/);
    expect(io.text()).toMatch(/test\/apps\/broken\/main\.ts:\d+:\d+/);
    expect(existsSync(join(out, "image.elf"))).toBe(false);
    expect(existsSync(join(out, "image.wasm"))).toBe(false);
  });

  it("an unchanged rebuild is served from the cache", async () => {
    const io1 = captureIO();
    await build({ app: "apps/hello", outDir: "build/test-cache" }, io1);
    const io2 = captureIO();
    await build({ app: "apps/hello", outDir: "build/test-cache" }, io2);
    expect(io2.text().match(/cached/g)?.length).toBe(6);
  });

  it("rejects a missing app with a clear message", async () => {
    const io = captureIO();
    const code = await cliMain(["build", "apps/does-not-exist"], io);
    expect(code).toBe(2);
    expect(io.text()).toContain("apps/does-not-exist: no such app folder or file");
  });
});
