// A guest given less memory than the image needs says so and ends with a
// loader error (73) instead of hanging: below the image's own end `skiff run`
// refuses from the ELF (the loader cannot run there: with 1 MiB QEMU started
// the CPU in memory that is not there and the guest hung without a word);
// above it, the loader checks that RAM holds linear memory's initial size.
import { afterAll, describe, expect, it } from "vitest";
import { bootAndWait, buildApp, stopAll, EXIT } from "../../harness/index.js";
import { main as cliMain } from "../../cli/main.js";
import { imageEnd } from "../../cli/lib/guest-memory.js";
import { readFileSync } from "node:fs";
import type { IO } from "../../cli/lib/log.js";

afterAll(stopAll);

const captureIO = (): IO & { text: () => string } => {
  let buf = "";
  return {
    out: (t) => { buf += t + "\n"; }, err: (t) => { buf += t + "\n"; }, raw: (c) => { buf += String(c); },
    cwd: process.cwd(), env: process.env, isTTY: false, text: () => buf,
  };
};

describe("too little guest memory", () => {
  it("skiff run --memory 1M: refused with status 73 and the reason, nothing hangs", async () => {
    const io = captureIO();
    const code = await cliMain(["run", "apps/hello", "--memory", "1M", "--timeout", "30"], io);
    expect(code, io.text()).toBe(EXIT.LOADER);
    expect(io.text()).toMatch(/--memory 1M is too little memory for this image: .* needs at least \d+ KiB/);
    expect(io.text()).not.toContain("Hello from Skiff!");
  }, 300_000);

  it("RAM that holds the image but not linear memory: the loader says so, status 73", async () => {
    const b = await buildApp("apps/hello");
    // The image plus half a Wasm page: the image fits, linear memory's first page does not.
    const kib = Math.ceil(imageEnd(readFileSync(b.elf)) / 1024) + 32;
    const r = await bootAndWait({ image: b.elf, memory: `${kib}K`, timeoutMs: 30000 });
    expect(r.serial).toMatch(/\*\*\* loader: too little memory: guest RAM ends at \d+ KiB, this image needs at least \d+ KiB/);
    expect(r.serial).not.toContain("Hello from Skiff!");
    expect(r.status, r.serial).toBe(EXIT.LOADER);
  });

  it("with one page more it boots", async () => {
    const b = await buildApp("apps/hello");
    const kib = Math.ceil(imageEnd(readFileSync(b.elf)) / 1024) + 128;
    const r = await bootAndWait({ image: b.elf, memory: `${kib}K`, timeoutMs: 30000 });
    expect(r.serial).toContain("Hello from Skiff!");
    expect(r.status, r.serial).toBe(0);
  });
});
