// cli/commands/dev.ts — `skiff dev <app>`: the app's Wasm in Node, without
// QEMU (cli/lib/hosted/): the kernel runs on the TypeScript host interface,
// its TCP listeners and connections are host sockets on 127.0.0.1, the
// console is stdout. The app's files (and the kernel's) are watched; a save
// rebuilds with asc and starts a fresh instance on the same listening sockets.
// `--inspect` starts the instance under Node's inspector with a source map,
// so breakpoints go in the app's TypeScript. docs/APPS.md ("skiff dev") lists
// what differs from a real guest.
import { watch, FSWatcher, existsSync, readFileSync, readdirSync, statSync, Dirent } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { IO, UserError } from "../lib/log.js";
import { OptionSpecs, helpText, parseOptions } from "../lib/options.js";
import { parseForward } from "../lib/net.js";
import { parseMemory } from "../lib/qemu.js";
import { devBuild, DevBuild, inlineSourceMap, warmUp } from "../lib/hosted/build.js";
import { Supervisor, Forward } from "../lib/hosted/supervisor.js";
import { childMain } from "../lib/hosted/runtime.js";

export const devSpecs: OptionSpecs = {
  forward: { type: "list", help: "expose the guest's TCP port GUESTPORT on 127.0.0.1:HOSTPORT (repeatable); without any, every guest port P is 127.0.0.1:P", metavar: "HOSTPORT:GUESTPORT" },
  cmdline: { type: "string", help: "kernel command line (ip=127.0.0.1/8 and epoch=<now> are added unless given)", default: "", metavar: "TEXT" },
  memory: { type: "string", help: "RAM the guest is told it has", default: "64M", metavar: "SIZE" },
  embed: { type: "string", help: "pack this folder into the app as its site (as skiff build --embed); watched too", metavar: "DIR" },
  inspect: { type: "string", help: "run the app under Node's inspector at [HOST:]PORT (Chrome DevTools, VS Code); breakpoints in the app's .ts", metavar: "[HOST:]PORT" },
  "inspect-brk": { type: "boolean", help: "with --inspect: wait for a debugger, then pause just before the kernel starts" },
  "no-watch": { type: "boolean", help: "run once; exit with the app's status" },
  help: { type: "boolean", help: "show this help", alias: "h" },
  child: { type: "boolean", help: "(internal) run one instance: WASM MEMORY CMDLINE" },
};

const DEBOUNCE_MS = 30;
const EXIT_REBOOT = 74;      // kernel/platform/exit.ts

export async function devCommand(argv: string[], io: IO): Promise<number> {
  const { values, positionals } = parseOptions("dev", argv, devSpecs);
  if (values.child) return childMain(positionals);
  if (values.help || positionals.length !== 1) {
    const text = helpText("skiff dev <app-dir | entry.ts> [options]",
      "Runs the app's Wasm in Node without QEMU (TCP on host sockets, console on stdout), rebuilding and reloading it when a source file changes.", devSpecs);
    if (values.help) { io.out(text); return 0; }
    io.err(text);
    return 2;
  }
  const app = positionals[0];
  const memoryBytes = parseMemory(values.memory as string);
  const forwards: Forward[] = ((values.forward as string[] | undefined) ?? []).map((s) => {
    const f = parseForward(s);
    if (f.proto !== "tcp") throw new UserError(`--forward ${s}: skiff dev maps TCP only (UDP has no host side here; see docs/APPS.md)`);
    return { host: f.hostPort, guest: f.guestPort };
  });
  let cmdline = (values.cmdline as string).trim();
  if (!/(^|\s)ip=/.test(cmdline)) cmdline = (cmdline + " ip=127.0.0.1/8").trim();
  if (!/(^|\s)epoch=/.test(cmdline)) cmdline += ` epoch=${Math.floor(Date.now() / 1000)}`;
  const embed = values.embed as string | undefined;
  const inspect = values.inspect as string | undefined;
  const watchMode = !values["no-watch"];

  const say = (s: string) => io.err(`skiff dev: ${s}`);
  let result: (status: number) => void = () => {};
  const done = new Promise<number>((res) => { result = res; });

  const nodeArgs: string[] = [];
  if (inspect) nodeArgs.push(`--inspect=${inspect}`);
  // --inspect-brk: the instance waits for a debugger and pauses just before
  // the kernel starts, with the module (and its sources) already loaded.
  if (inspect && values["inspect-brk"]) process.env.SKIFF_DEV_BREAK = "1";
  const sup = new Supervisor({
    nodeArgs,
    childArgs: [process.argv[1], "dev", "--child"],
    forwards,
    log: say,
    spare: !inspect && watchMode,
    onExit: (status) => {
      if (status === EXIT_REBOOT && last) {           // POST /os/reboot: start again, as skiff run does
        say("the app asked for a reboot; starting it again");
        void launch(last);
        return;
      }
      if (!watchMode) { result(status); return; }
      say(`the app exited with status ${status}; waiting for a change`);
    },
  });

  const build = async (): Promise<DevBuild | null> => {
    try {
      const b = await devBuild({ app, cwd: io.cwd, embed, sourceMap: !!inspect });
      if (inspect) inlineSourceMap(b);
      return b;
    } catch (e) {
      if (e instanceof UserError) { say(e.message); return null; }
      throw e;
    }
  };
  const launch = async (b: DevBuild): Promise<void> => {
    await sup.start([b.wasm, String(memoryBytes), cmdline]);
  };

  const first = await build();
  if (first === null && !watchMode) return 1;
  let last = first;
  if (first) {
    say(`built ${relative(io.cwd, first.wasm) || first.wasm} in ${Math.round(first.ms)} ms${first.cached ? " (cached)" : ""}`);
    await launch(first);
    if (sup.running) say(`${first.name} is running (pid ${sup.pid})`);
  }
  // asc gets faster over its first few runs in a process (V8 compiles its hot
  // paths): one run now, in the background, so the first save is not the slow one.
  const warming: Promise<void> = watchMode && first ? warmUp(first).catch(() => {}) : Promise.resolve();
  if (watchMode) void warming.then(() => say("watching for changes"));

  const watchers: FSWatcher[] = [];
  const stopAll = async (status: number) => {
    for (const w of watchers) w.close();
    await sup.stop();
    result(status);
  };
  const onSignal = () => { void stopAll(0); };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  if (watchMode) {
    let timer: NodeJS.Timeout | null = null;
    let building = false;
    let again = false;
    let changedAt = 0;
    const rebuild = async () => {
      if (building) { again = true; return; }
      building = true;
      const t0 = changedAt;
      await warming;
      const b = await build();
      if (b && !b.cached) {
        last = b;
        await launch(b);
        if (sup.running) say(`reloaded ${b.name} in ${Math.round(performance.now() - t0)} ms (build ${Math.round(b.ms)} ms, ${Math.round(b.cpuMs)} ms CPU)`);
        rewatch();
      } else if (b && b.cached && !sup.running) {
        await launch(b);
      }
      building = false;
      if (again) { again = false; void rebuild(); }
    };
    const changed = (dir: string, file: string | null) => {
      if (file && !file.endsWith(".ts") && !(embed && dir.startsWith(resolve(io.cwd, embed)))) return;
      if (!timer) changedAt = performance.now();
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => { timer = null; void rebuild(); }, DEBOUNCE_MS);
    };
    const watched = new Set<string>();
    const rewatch = () => {
      for (const d of watchDirs(last, app, io.cwd, embed)) {
        if (watched.has(d)) continue;
        watched.add(d);
        try { watchers.push(watch(d, (_ev, f) => changed(d, f ? String(f) : null))); } catch { /* vanished */ }
      }
    };
    rewatch();
  }
  const status = await done;
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  return status;
}

/** Folders to watch: every folder holding a source of the last build (the
 *  list devBuild writes beside the module: the app, files it imports from
 *  elsewhere, the kernel), the app's folder, and the --embed folder. */
function watchDirs(b: DevBuild | null, app: string, cwd: string, embed?: string): string[] {
  const dirs = new Set<string>();
  const appPath = resolve(cwd, app);
  dirs.add(existsSync(appPath) && statSync(appPath).isDirectory() ? appPath : dirname(appPath));
  if (b && existsSync(b.sourceMap + ".sources")) {
    for (const s of readFileSync(b.sourceMap + ".sources", "utf8").split("\n")) if (s) dirs.add(dirname(s));
  }
  if (embed) {
    const walk = (d: string) => {
      dirs.add(d);
      for (const e of entries(d)) if (e.isDirectory() && !e.name.startsWith(".")) walk(resolve(d, e.name));
    };
    walk(resolve(cwd, embed));
  }
  return [...dirs];
}

function entries(d: string): Dirent[] {
  try { return readdirSync(d, { withFileTypes: true }); } catch { return []; }
}
