// test/system/workflow.test.ts — the new user's path, from outside this
// repository, in a temporary folder: `npm pack` Skiff, make an npm project,
// install the tarball (offline: its dependencies are in the npm cache since
// npm ci ran), check the package carries docs, example apps and the harness's
// types, `skiff new`, typecheck and `npm test` in the new project, `skiff dev`
// serving it from Node and reloading an edit, then run it in the background:
// `skiff run --detach`, `ps`, `logs`, `api`, `stop`.
import { afterAll, describe, expect, it } from "vitest";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { alive, type GuestRecord } from "../../cli/lib/guests.js";
import { freePort } from "./ports.js";

const repo = resolve(import.meta.dirname, "..", "..");
const tmp = mkdtempSync(join(tmpdir(), "skiff-workflow-"));
const project = join(tmp, "project");
const app = join(project, "demo");
const runtime = join(tmp, "run");        // XDG_RUNTIME_DIR: this test's guests only
const env = { ...process.env, XDG_RUNTIME_DIR: runtime, npm_config_audit: "false", npm_config_fund: "false", npm_config_prefer_offline: "true" };
const name = `wf-${process.pid}`;

function run(cmd: string, args: string[], cwd: string) {
  return execa(cmd, args, { cwd, env, reject: false, all: true, timeout: 600_000 });
}
const skiff = (args: string[], cwd = app) => run("npx", ["--no", "skiff", ...args], cwd);

/** The record skiff keeps for a background guest, if it runs. */
function record(): GuestRecord | null {
  const f = join(runtime, "skiff", `${name}.json`);
  return existsSync(f) ? (JSON.parse(readFileSync(f, "utf8")) as GuestRecord) : null;
}

afterAll(async () => {
  // A failed run may leave background guests: stop their supervisors and QEMUs by PID.
  const dir = join(runtime, "skiff");
  for (const f of existsSync(dir) ? readdirSync(dir).filter((x) => x.endsWith(".json")) : []) {
    const r = JSON.parse(readFileSync(join(dir, f), "utf8")) as GuestRecord;
    for (const pid of [r.pid, r.qemuPid]) { try { process.kill(pid, "SIGKILL"); } catch { /* gone */ } }
  }
  rmSync(tmp, { recursive: true, force: true });
});

describe("the new user's path", () => {
  it("packs Skiff and installs the tarball in a new npm project", { timeout: 600_000 }, async () => {
    mkdirSync(runtime);
    mkdirSync(project);
    const pack = await run("npm", ["pack", "--pack-destination", tmp, "--loglevel=error"], repo);
    expect(pack.exitCode, pack.all).toBe(0);
    const tarball = readdirSync(tmp).find((f) => /^skiff-.*\.tgz$/.test(f));
    expect(tarball, pack.all).toBeDefined();
    expect((await run("npm", ["init", "-y"], project)).exitCode).toBe(0);
    const inst = await run("npm", ["install", "--loglevel=error", `../${tarball}`], project);
    expect(inst.exitCode, inst.all).toBe(0);
    const pkg = join(project, "node_modules", "skiff");
    for (const f of ["docs/ARCHITECTURE.md", "apps/hello/main.ts", "apps/httpd/main.ts", "dist/types/harness/index.d.ts", "tsconfig.assembly.json", "cli/templates/new/main.ts"]) {
      expect(existsSync(join(pkg, f)), f).toBe(true);
    }
  });

  it("skiff new makes a project whose typecheck and npm test pass", { timeout: 900_000 }, async () => {
    const made = await skiff(["new", "demo"], project);
    expect(made.exitCode, made.all).toBe(0);
    for (const f of ["main.ts", "tsconfig.json", "test/app.test.ts", "test/tsconfig.json", ".gitignore", "README.md", "package.json"]) {
      expect(existsSync(join(app, f)), f).toBe(true);
    }
    expect(readFileSync(join(app, "README.md"), "utf8")).toContain("npm test");
    // main.ts with the kernel's sources, and the test against skiff/harness's types.
    const tc = await run("npm", ["run", "typecheck"], app);
    expect(tc.exitCode, tc.all).toBe(0);
    expect(tc.all).not.toMatch(/error TS/);
    const t = await run("npm", ["test"], app);
    expect(t.exitCode, t.all).toBe(0);
    expect(t.all).toMatch(/skiff test: 1 passed, 0 failed, 0 skipped/);
  });

  it("skiff dev serves the app from Node and reloads it after an edit", { timeout: 600_000 }, async () => {
    const port = await freePort();
    // The installed package's CLI, started directly (not through npx) so the PID is its own.
    const cli = join(project, "node_modules", "skiff", "dist", "skiff.js");
    const proc = spawn(process.execPath, [cli, "dev", ".", "--forward", `${port}:8080`], { cwd: app, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    proc.stdout.on("data", (d) => { out += d; });
    proc.stderr.on("data", (d) => { out += d; });
    const main = join(app, "main.ts");
    const original = readFileSync(main, "utf8");
    const get = async () => {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/hello/you`, { signal: AbortSignal.timeout(5000) });
        return await r.text();
      } catch { return null; }
    };
    const until = async (ok: () => Promise<boolean> | boolean, what: string) => {
      for (let i = 0; i < 2400; i++) {
        if (await ok()) return;
        if (proc.exitCode !== null) throw new Error(`skiff dev exited (${proc.exitCode}) before ${what}:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`no ${what} after 240 s:\n${out}`);
    };
    try {
      await until(async () => (await get()) === "Hello, you!\n", "first answer");
      expect(out).toMatch(/demo: listening on TCP port 8080/);
      await until(() => /watching for changes/.test(out), "watcher");
      expect(original).toContain('"Hello, "');
      writeFileSync(main, original.replace('"Hello, "', '"Hi, "'));
      await until(async () => (await get()) === "Hi, you!\n", "the edited answer");
      expect(out).toMatch(/reloaded demo in \d+ ms/);
    } finally {
      writeFileSync(main, original);
      if (proc.exitCode === null) {
        const gone = new Promise((r) => proc.once("exit", r));
        proc.kill("SIGTERM");
        await gone;
      }
    }
    expect(proc.exitCode, out).toBe(0);
  });

  it("runs the app in the background: run --detach, ps, logs, api, stop", { timeout: 600_000 }, async () => {
    const port = await freePort();
    const start = await skiff(["run", ".", "--detach", "--name", name, "--accel", "tcg",
      "--forward", `${port}:9090`, "--config", "app.port=9090", "--env", "GREETING=hello there"]);
    expect(start.exitCode, start.all).toBe(0);
    expect(start.all).toContain(`${name} runs in the background`);
    const rec = record();
    expect(rec).not.toBeNull();
    expect(alive(rec!.qemuPid)).toBe(true);
    // The API is not on the network by default: no port forwarded to it, the socket instead.
    expect(rec!.apiPort).toBeUndefined();
    expect(rec!.apiSocket).toMatch(/\/api\.sock$/);
    const entries = readdirSync(join(runtime, "skiff")).sort();
    expect(entries.filter((f) => !f.startsWith("guest-"))).toEqual([`${name}.json`, `${name}.log`]);
    // The guest's own folder: the host-only API channel's socket and the token file.
    expect(entries.filter((f) => f.startsWith("guest-"))).toHaveLength(1);

    // The console, until the app (told its port by --config) listens.
    let log = "";
    for (let i = 0; i < 600 && !/demo: listening on TCP port 9090/.test(log); i++) {
      await new Promise((r) => setTimeout(r, 200));
      log = (await skiff(["logs", name])).stdout;
    }
    expect(log).toMatch(/demo: listening on TCP port 9090/);
    const res = await fetch(`http://127.0.0.1:${port}/hello/you`);
    expect(await res.text()).toBe("Hello, you!\n");

    const ps = await skiff(["ps"]);
    expect(ps.exitCode, ps.all).toBe(0);
    const line = ps.stdout.split("\n").find((l) => l.startsWith(name + " "));
    expect(line, ps.stdout).toBeDefined();
    expect(line!.split(/\s+/).slice(0, 3)).toEqual([name, "demo", String(rec!.qemuPid)]);
    expect(line).toContain(`${port}:9090`);
    expect(line).toMatch(/running$/);

    // --env reached the guest's environment; skiff api goes over the host-only channel.
    const envGet = await skiff(["api", name, "GET", "/env/GREETING"]);
    expect(envGet.exitCode, envGet.all).toBe(0);
    expect(envGet.stdout).toContain("hello there");
    const put = await skiff(["api", name, "PUT", "/config/demo.note", "kept"]);
    expect(put.exitCode, put.all).toBe(0);
    const missing = await skiff(["api", name, "GET", "/no/such/route"]);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain("HTTP 404");

    // Graceful: the guest shuts down through its API; its state is gone after,
    // and a `logs --follow` that was watching ends with it.
    const follow = skiff(["logs", name, "--follow"]);
    await new Promise((r) => setTimeout(r, 1000));
    const stop = await skiff(["stop", name]);
    expect(stop.exitCode, stop.all).toBe(0);
    expect(stop.stdout).toContain(`${name} shut down`);
    expect(alive(rec!.pid)).toBe(false);
    expect(alive(rec!.qemuPid)).toBe(false);
    expect(readdirSync(join(runtime, "skiff"))).toEqual([]);
    const followed = await follow;
    expect(followed.exitCode, followed.all).toBe(0);
    expect(followed.stdout).toMatch(/demo: listening on TCP port 9090[^]*api: shutdown requested/);
    expect((await skiff(["ps"])).stdout).not.toContain(name);
    const again = await skiff(["logs", name]);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toContain(`no guest named ${name} is running`);
  });

  it("stops a background guest that has no management API through QEMU", { timeout: 300_000 }, async () => {
    mkdirSync(runtime, { recursive: true });
    const quiet = `${name}-q`;
    const start = await run(join(repo, "skiff"), ["run", "test/apps/sleep", "--detach", "--name", quiet, "--accel", "tcg",
      "--net", "none", "--cmdline", "idle=600000"], repo);
    expect(start.exitCode, start.all).toBe(0);
    const rec = JSON.parse(readFileSync(join(runtime, "skiff", `${quiet}.json`), "utf8")) as GuestRecord;
    expect(rec.apiPort).toBeUndefined();
    const stop = await run(join(repo, "skiff"), ["stop", quiet], repo);
    expect(stop.exitCode, stop.all).toBe(0);
    expect(stop.stderr).toContain("no management API; stopping QEMU");
    expect(alive(rec.pid)).toBe(false);
    expect(alive(rec.qemuPid)).toBe(false);
    expect(readdirSync(join(runtime, "skiff")).filter((f) => f.startsWith(quiet))).toEqual([]);
  });
});
