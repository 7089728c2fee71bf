// The host-import interface is one list (kernel/platform/host.ts) with three
// implementations that must agree: the loader (boot/loader.c), the Node test
// host (test/platform/host.ts), and the version numbers all three carry.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FakeHost, HOSTIF_VERSION } from "../platform/host.js";
import { ROOT } from "../platform/wasm.js";

const hostTs = readFileSync(join(ROOT, "kernel/platform/host.ts"), "utf8");
const declared = [...hostTs.matchAll(/@external\("host", "(\w+)"\)/g)].map((m) => m[1]);

describe("host-import interface", () => {
  it("declares a non-trivial list", () => {
    expect(declared.length).toBeGreaterThan(30);
    expect(new Set(declared).size).toBe(declared.length);
  });

  it("every import is implemented by the loader", () => {
    const loader = readFileSync(join(ROOT, "boot/loader.c"), "utf8");
    const missing = declared.filter((n) => !new RegExp(`\\bw2c_host_${n}\\(`).test(loader));
    expect(missing).toEqual([]);
  });

  it("every import is implemented by the Node test host, and nothing else", () => {
    const impl = Object.keys(new FakeHost().imports()).sort();
    expect(impl).toEqual([...declared].sort());
  });

  it("the three version numbers agree", () => {
    const ts = Number(/HOSTIF_VERSION: u32 = (\d+)/.exec(hostTs)?.[1]);
    const c = Number(/#define SKIFF_HOSTIF_VERSION (\d+)/.exec(readFileSync(join(ROOT, "boot/hostif.h"), "utf8"))?.[1]);
    expect(ts).toBeGreaterThan(0);
    expect(c).toBe(ts);
    expect(HOSTIF_VERSION).toBe(ts);
  });

  it("no other kernel or app file declares host imports", async () => {
    const { execa } = await import("execa");
    const r = await execa("grep", ["-rln", "--include=*.ts", "@external(", "kernel", "apps", "bench/apps", "test/apps"], { cwd: ROOT, reject: false });
    const files = r.stdout.split("\n").filter(Boolean).sort();
    // hosted.ts: `skiff dev`'s imports (module "hosted"), reached only from the dev entry.
    expect(files).toEqual(["kernel/platform/host.ts", "kernel/platform/hosted.ts"]);
  });
});
