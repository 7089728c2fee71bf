// cli/lib/watchrun.ts — `skiff run --dev --watch`: boots the image, watches
// the sources it was built from (the app's, the kernel's, the --embed
// folder), and on a save rebuilds with the dev profile in this process and
// boots the new image in place of the old. asc and wasm2c stay loaded and
// warm here (cli/lib/build.ts, runAsc, runWasm2cInProcess), gcc recompiles
// only the C parts an edit changed,
// and the loader's objects stay cached, so a rebuild is asc's compile of
// kernel + app, wasm2c, a part or two of C, and the link.
import { watch, type FSWatcher, readdirSync, readFileSync, existsSync, statSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { createHash } from "node:crypto";
import { dirname, join, resolve } from "node:path";
import { ascFlags, build, cpuMsSoFar, runAsc, runWasm2cInProcess, type BuildOptions, type BuildResult } from "./build.js";
import { IO, UserError, formatMs } from "./log.js";
import { startQemu, type QemuOptions, type RunningGuest } from "./qemu.js";
import { EXIT, describeStatus } from "./status.js";

const DEBOUNCE_MS = 30;

function digest(file: string): string {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}

/** Runs first.elf under QEMU with qemu's options and reboots it on every
 *  rebuild until Ctrl-C (or SIGTERM); returns EXIT.INTERRUPTED then. */
export async function runWatching(first: BuildResult, opts: BuildOptions, qemu: QemuOptions, io: IO): Promise<number> {
  const say = (s: string) => io.err(`skiff: ${s}`);
  let elf = first.elf;
  let imageDigest = digest(elf);
  let guest: RunningGuest | null = null;
  let replacing = false;
  let stopped = false;
  let result: (status: number) => void = () => {};
  const done = new Promise<number>((res) => { result = res; });

  const boot = () => {
    const g = startQemu({ ...qemu, kernel: elf });
    guest = g;
    g.onOutput((t) => io.raw(t));
    void g.exited.then((r) => {
      if (guest !== g || replacing || stopped) return;
      guest = null;
      if (r.status === EXIT.REBOOT) { say("guest asked to reboot; starting it again"); boot(); return; }
      if (r.status === EXIT.QEMU_FAILED) say(`QEMU failed: ${r.stderr.trim() || "exit code " + r.qemuCode}`);
      else say(`guest exited with status ${r.status} (${describeStatus(r.status)}); waiting for a change`);
    }, (e: Error) => { say(e.message); result(EXIT.QEMU_FAILED); });
  };
  boot();

  // asc and wasm2c get faster over their first runs in a process (V8
  // optimises their hot paths; CPU per asc run of httpd: 3.9, 2.0, 1.2,
  // 0.9 s): two more asc runs and one of wasm2c now, in the background, so
  // the first saves are not the slow ones.
  const warmAsc = () => runAsc(["entry.ts", "--noEmit", ...ascFlags("dev", join(first.outDir, ".packages"))], first.outDir, true);
  const warming = (async () => {
    const scratch = mkdtempSync(join(tmpdir(), "skiff-warm-"));
    try {
      await warmAsc();
      await runWasm2cInProcess([first.wasm, "-n", "kernel", "--num-outputs", "2", "-o", join(scratch, "image.c")], scratch);
      await warmAsc();
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  })().then(() => say("watching for changes (Ctrl-C stops)"), () => {});

  const watchers: FSWatcher[] = [];
  const watched = new Set<string>();
  const embedDir = opts.embed ? resolve(io.cwd, opts.embed) : null;
  const rewatch = (sources: string[]) => {
    const dirs = new Set(sources.map((f) => dirname(f)));
    if (embedDir) {
      const walk = (d: string) => {
        dirs.add(d);
        let names: string[] = [];
        try { names = readdirSync(d); } catch { /* vanished */ }
        for (const n of names) if (!n.startsWith(".") && statSync(join(d, n), { throwIfNoEntry: false })?.isDirectory()) walk(join(d, n));
      };
      walk(embedDir);
    }
    for (const d of dirs) {
      if (watched.has(d) || !existsSync(d)) continue;
      watched.add(d);
      try { watchers.push(watch(d, (_ev, f) => changed(d, f ? String(f) : null))); } catch { /* vanished */ }
    }
  };

  let timer: NodeJS.Timeout | null = null;
  let building = false;
  let again = false;
  let changedAt = 0;
  const changed = (dir: string, file: string | null) => {
    if (stopped) return;
    if (file && !file.endsWith(".ts") && !(embedDir && dir.startsWith(embedDir))) return;
    if (!timer) changedAt = performance.now();
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => { timer = null; void rebuild(); }, DEBOUNCE_MS);
  };
  const rebuild = async () => {
    if (building) { again = true; return; }
    building = true;
    const t0 = changedAt;
    try {
      await warming;
      const cpu0 = cpuMsSoFar();
      let r: BuildResult | null = null;
      let cpu = 0;
      try {
        r = await build(opts, io);
        // Before the old guest is stopped: its QEMU's time would count once it is reaped.
        cpu = cpuMsSoFar() - cpu0;
      } catch (e) {
        if (!(e instanceof UserError)) throw e;
        say(`${e.message}\nskiff: the guest keeps running the last image; waiting for a change`);
      }
      if (r && !stopped) {
        rewatch(r.sources);
        const d = digest(r.elf);
        if (d !== imageDigest || guest === null) {
          const built = performance.now() - t0;
          imageDigest = d;
          elf = r.elf;
          const old = guest as RunningGuest | null;
          if (old) {
            replacing = true;
            old.kill("SIGKILL");
            await old.exited.catch(() => undefined);
            replacing = false;
          }
          say(`rebuilt in ${formatMs(built)} (${formatMs(cpu)} CPU); booting the new image`);
          boot();
        }
      }
    } finally {
      building = false;
    }
    if (again && !stopped) { again = false; void rebuild(); }
  };
  rewatch(first.sources);

  const onSignal = () => {
    stopped = true;
    for (const w of watchers) w.close();
    if (timer) clearTimeout(timer);
    const g = guest as RunningGuest | null;
    if (!g) { result(EXIT.INTERRUPTED); return; }
    g.kill("SIGKILL");
    void g.exited.catch(() => undefined).then(() => result(EXIT.INTERRUPTED));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const status = await done;
    if (status === EXIT.INTERRUPTED) say("interrupted; guest stopped");
    return status;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    for (const w of watchers) w.close();
  }
}
