// test/system/dev.test.ts — `skiff dev`: the app's Wasm in Node without QEMU.
// A copy of test/apps/dev-echo in a temp folder is served on host sockets
// (127.0.0.1): its answer, a POST body echoed, --forward mapping one guest port
// and hiding the other, the console on stdout; editing the copy changes the
// answer after the reload; a broken edit keeps the old instance serving;
// without --forward a guest port P is 127.0.0.1:P; --no-watch ends with the
// app's status; `skiff run --watch` boots the dev image under QEMU and the rebuilt one
// after a save.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChildProcess, spawn } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { freePort } from "./ports.js";

const ROOT = resolve(import.meta.dirname, "../..");
const CLI = join(ROOT, "dist", "skiff.js");
const dir = mkdtempSync(join(tmpdir(), "skiff-dev-"));
const procs: ChildProcess[] = [];

beforeAll(async () => {
  await execa(process.execPath, ["cli/bundle.mjs"], { cwd: ROOT });
}, 120_000);

afterAll(() => {
  for (const p of procs) if (p.exitCode === null && p.pid) { try { process.kill(p.pid, "SIGTERM"); } catch { /* gone */ } }
  rmSync(dir, { recursive: true, force: true });
});

interface Dev {
  proc: ChildProcess;
  out: () => string;
  err: () => string;
  waitFor: (re: RegExp, from: "out" | "err", ms?: number) => Promise<void>;
  stop: () => Promise<number | null>;
}

function dev(args: string[], cwd: string): Dev {
  const proc = spawn(process.execPath, [CLI, "dev", ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
  procs.push(proc);
  let out = "", err = "";
  proc.stdout!.on("data", (d) => { out += d; });
  proc.stderr!.on("data", (d) => { err += d; });
  const exited = new Promise<number | null>((res) => proc.on("exit", (c) => res(c)));
  return {
    proc,
    out: () => out,
    err: () => err,
    async waitFor(re, from, ms = 240_000) {
      const t0 = Date.now();
      while (!re.test(from === "out" ? out : err)) {
        if (proc.exitCode !== null) throw new Error(`skiff dev exited (${proc.exitCode}) before ${re}:\n${out}\n${err}`);
        if (Date.now() - t0 > ms) throw new Error(`no ${re} after ${ms} ms:\n${out}\n${err}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      return exited;
    },
  };
}

async function get(port: number, path = "/", body?: string): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, body === undefined ? {} : { method: "POST", body });
  return `${r.status} ${await r.text()}`;
}

function refused(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect({ host: "127.0.0.1", port });
    s.once("connect", () => { s.destroy(); res(false); });
    s.once("error", (e: NodeJS.ErrnoException) => res(e.code === "ECONNREFUSED"));
  });
}

describe("skiff dev", () => {
  it("serves the app on host sockets, maps --forward, and reloads it on save", async () => {
    const work = join(dir, "a");
    cpSync(join(ROOT, "test/apps/dev-echo"), join(work, "dev-echo"), { recursive: true });
    const main = join(work, "dev-echo", "main.ts");
    const [hp, hidden] = [await freePort(), await freePort()];
    const d = dev(["dev-echo", "--forward", `${hp}:8080`, "--cmdline", `api.off dev.port2=${hidden}`], work);
    await d.waitFor(/dev-echo is running/, "err");
    // The console is on stdout, with the guest's own view of its ports.
    expect(d.out()).toContain("dev-echo: listening on answers on TCP port 8080 at 127.0.0.1");
    expect(d.out()).toContain(`dev-echo: listening on second on TCP port ${hidden}`);
    expect(await get(hp)).toBe("200 answer v1\n");
    expect(await get(hp, "/echo", "hello from the host")).toBe("200 echo hello from the host");
    expect(await get(hp, "/nowhere")).toMatch(/^404 /);
    // 3 MiB: more than the send window between the instance and the host socket.
    const big = await get(hp, "/big");
    expect(big.length).toBe(4 + 3 * 1024 * 1024);
    expect(big.slice(4, 4 + 64)).toBe("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_\n");
    expect(big.endsWith("XYZ_\n")).toBe(true);
    // With --forward, only forwarded ports are reachable (as under QEMU user networking).
    expect(await refused(hidden)).toBe(true);

    // Edit: the answer changes after the reload.
    await d.waitFor(/watching for changes/, "err");
    writeFileSync(main, readFileSync(main, "utf8").replace('const ANSWER = "answer v1";', 'const ANSWER = "answer v2";'));
    await d.waitFor(/reloaded dev-echo in \d+ ms/, "err");
    expect(await get(hp)).toBe("200 answer v2\n");

    // A broken edit: asc's error is shown and the running instance keeps serving.
    const good = readFileSync(main, "utf8");
    writeFileSync(main, good.replace('const ANSWER = "answer v2";', "const ANSWER: i32 = \"answer v3\";"));
    await d.waitFor(/asc failed/, "err");
    expect(await get(hp)).toBe("200 answer v2\n");
    writeFileSync(main, good.replace('const ANSWER = "answer v2";', 'const ANSWER = "answer v4";'));
    await d.waitFor(/reloaded dev-echo in \d+ ms[\s\S]*reloaded dev-echo in \d+ ms/, "err");
    expect(await get(hp)).toBe("200 answer v4\n");
    await d.stop();
    expect(await refused(hp)).toBe(true);
  }, 600_000);

  it("without --forward a guest port P listens on 127.0.0.1:P; the app's outgoing connections are host connections", async () => {
    const work = join(dir, "b");
    cpSync(join(ROOT, "test/apps/dev-echo"), join(work, "dev-echo"), { recursive: true });
    // A host server the guest connects to: it reads the guest's line, answers and closes.
    let heard = "";
    const server = createServer((s) => {
      s.on("data", (d) => { heard += d; if (heard.includes("\n")) s.end("pong\n"); });
    });
    const rp = await new Promise<number>((res) => server.listen(0, "127.0.0.1", () => res((server.address() as { port: number }).port)));
    const [p1, p2, closed] = [await freePort(), await freePort(), await freePort()];
    const d = dev(["dev-echo", "--cmdline", `api.off dev.port=${p1} dev.port2=${p2} dev.relay=${rp} dev.relay2=${closed}`], work);
    await d.waitFor(/dev-echo is running/, "err");
    expect(await get(p1)).toBe("200 answer v1\n");
    expect(await get(p2)).toBe("200 second\n");
    await d.waitFor(/dev\.relay got/, "out", 60_000);
    expect(heard).toBe("ping from dev.relay\n");
    expect(d.out()).toContain('dev-echo: dev.relay got "pong" (error 0)');
    await d.waitFor(/dev\.relay2 got/, "out", 60_000);
    expect(d.out()).toContain('dev-echo: dev.relay2 got "" (error 1)');     // refused: TCP_ERR_REFUSED
    server.close();
    await d.stop();
  }, 600_000);

  for (const brk of [false, true]) {
    it(`--inspect${brk ? " --inspect-brk" : ""}: a breakpoint set at a line of the app's TypeScript (through the source map) pauses the instance there`, async () => {
      const work = join(dir, brk ? "d" : "c");
      cpSync(join(ROOT, "test/apps/dev-echo"), join(work, "dev-echo"), { recursive: true });
      const [ip, hp, p2] = [await freePort(), await freePort(), await freePort()];
      const d = dev(["dev-echo", "--inspect", `127.0.0.1:${ip}`, ...(brk ? ["--inspect-brk"] : []), "--forward", `${hp}:8080`, "--cmdline", `api.off dev.port2=${p2}`], work);
      // --inspect-brk: the instance waits for the debugger before the kernel starts.
      await d.waitFor(brk ? /waiting for a debugger/ : /dev-echo is running/, "err");
      expect(d.err()).toContain(`Debugger listening on ws://127.0.0.1:${ip}/`);
      if (brk) expect(d.out()).not.toContain("dev-echo: listening");
      // Node 20 has its WebSocket client behind a flag; later versions have it on.
      const wsFlag = typeof (globalThis as { WebSocket?: unknown }).WebSocket === "undefined" ? ["--experimental-websocket"] : [];
      const r = await execa(process.execPath, [...wsFlag, join(ROOT, "test/system/dev-inspect.mjs"),
        String(ip), String(hp), "dev-echo/main.ts", "res.text(200, this.text", brk ? "brk" : ""], { timeout: 120_000, reject: false, all: true });
      expect(r.exitCode, r.all).toBe(0);
      const res = JSON.parse(r.stdout.trim().split("\n").pop()!) as Record<string, string>;
      if (brk) expect(res.firstPause).toBe("run");           // the pause before boot (runtime.ts)
      expect(res.source).toBe(`file://${join(work, "dev-echo", "main.ts")}`);
      expect(res.breakpoint).toBe("set");
      expect(res.pausedIn).toMatch(/Answer#handle$/);
      expect(res.pausedAt).toBe(`${res.source}:${res.line}`);
      expect(res.answer).toBe("answer v1\n");     // and it goes on after resuming
      await d.stop();
    }, 600_000);
  }

  it("skiff run --watch boots the dev image under QEMU and boots the rebuilt image after a save; a broken edit keeps the guest", async () => {
    const work = join(dir, "w");
    cpSync(join(ROOT, "test/apps/dev-echo"), join(work, "dev-echo"), { recursive: true });
    const main = join(work, "dev-echo", "main.ts");
    const hp = await freePort();
    const proc = spawn(process.execPath, [CLI, "run", "dev-echo", "--watch", "--accel", "tcg", "--forward", `${hp}:8080`, "--cmdline", "api.off"],
      { cwd: work, stdio: ["ignore", "pipe", "pipe"] });
    procs.push(proc);
    let out = "", err = "";
    proc.stdout!.on("data", (x) => { out += x; });
    proc.stderr!.on("data", (x) => { err += x; });
    const exited = new Promise<number | null>((res) => proc.on("exit", (c) => res(c)));
    const until = async (ok: () => boolean | Promise<boolean>, what: string) => {
      for (const t0 = Date.now(); !(await ok());) {
        if (proc.exitCode !== null) throw new Error(`skiff run --watch exited (${proc.exitCode}) before ${what}:\n${out}\n${err}`);
        if (Date.now() - t0 > 400_000) throw new Error(`no ${what}:\n${out}\n${err}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    const answer = async () => { try { return await get(hp); } catch { return ""; } };
    await until(async () => (await answer()) === "200 answer v1\n", "first answer");
    expect(out).toContain("Skiff");                           // the guest's console, booted by QEMU
    expect(out).toContain("dev-echo: listening on answers on TCP port 8080");
    await until(() => /watching for changes/.test(err), "the watcher");
    writeFileSync(main, readFileSync(main, "utf8").replace('const ANSWER = "answer v1";', 'const ANSWER = "answer v2";'));
    await until(() => /rebuilt in .* CPU\); booting the new image/.test(err), "the rebuild");
    await until(async () => (await answer()) === "200 answer v2\n", "the new image's answer");
    // A broken edit: the error is shown and the guest keeps serving.
    const good = readFileSync(main, "utf8");
    writeFileSync(main, good.replace('const ANSWER = "answer v2";', "const ANSWER: i32 = \"answer v3\";"));
    await until(() => /keeps running the last image/.test(err), "the build error");
    expect(err).toContain("AssemblyScript compile failed");
    expect(await answer()).toBe("200 answer v2\n");
    proc.kill("SIGTERM");
    expect(await exited).toBe(130);
    expect(err).toContain("interrupted; guest stopped");
    expect(await refused(hp)).toBe(true);
  }, 900_000);

  it("--no-watch runs once and ends with the app's status", async () => {
    const d = dev(["test/apps/exitcode", "--no-watch", "--cmdline", "exitcode=7"], ROOT);
    const status = await new Promise<number | null>((res) => { if (d.proc.exitCode !== null) res(d.proc.exitCode); else d.proc.on("exit", (c) => res(c)); });
    expect(status, d.out() + d.err()).toBe(7);
  }, 600_000);
});
