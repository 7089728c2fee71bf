// cli/lib/detach.ts — `skiff run --detach`: the command in the terminal checks
// and builds, then starts the same `skiff run` again as a detached supervisor
// (its own session; stdout and stderr to the guest's log in the runtime
// folder) and returns once the guest runs. The supervisor writes the guest's
// record (cli/lib/guests.ts) when QEMU starts and removes it and the log when
// the guest ends.
import { spawn } from "node:child_process";
import { openSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { IO, UserError } from "./log.js";
import { skiffRoot } from "./paths.js";
import {
  checkName, closeQuietly, freeLoopbackPort, logPath, readFrom, readRecord, removeGuestFiles, runtimeDir, writeRecord,
  type GuestRecord,
} from "./guests.js";

/** Set in the supervisor's environment: the guest's name. */
export const SUPERVISOR_ENV = "SKIFF_SUPERVISE";
const DEFAULT_API_PORT = 8000;

export interface DetachPlan {
  name: string;
  dir: string;
  /** Arguments the supervisor gets on top of the user's (the API forward). */
  extraArgv: string[];
  apiPort?: number;
  token?: string;
}

/** The management API as the command line sets it: whether it is also on
 *  the network (api.net=on; the kernel's reading, kernel/api/state.ts: the
 *  last word wins), its guest port and token; null when api.off. */
export function apiFromCmdline(cmdline: string): { net: boolean; port: number; token?: string } | null {
  const words = cmdline.split(/\s+/);
  if (words.includes("api.off")) return null;
  const port = words.map((w) => /^api\.port=(\d+)$/.exec(w)?.[1]).find((x) => x);
  const token = words.map((w) => /^api\.token=(\S{8,})$/.exec(w)?.[1]).find((x) => x);
  let net = false;
  for (const w of words) {
    const m = /^api\.net(?:=(.*))?$/.exec(w);
    if (!m) continue;
    if (m[1] === undefined || ["on", "yes", "true", "1", ""].includes(m[1])) net = true;
    else if (["off", "no", "false", "0"].includes(m[1])) net = false;
  }
  const p = port ? Number(port) : DEFAULT_API_PORT;
  return { net, port: p >= 1 && p <= 65535 ? p : DEFAULT_API_PORT, token };
}

/** The app as ps shows it: the folder's name ("." is the project's), or the file's. */
export function appLabel(target: string, cwd: string): string {
  const abs = resolve(cwd, target);
  return basename(abs) === "main.ts" ? basename(resolve(abs, "..")) : basename(abs);
}

/** Before the network is checked: the name, and with --net user and the API
 *  on the network (api.net=on) a loopback port forwarded to it unless a
 *  --forward already is. Without api.net=on the API is reached through the
 *  host-only channel's socket alone. */
export async function planDetach(values: Record<string, unknown>, target: string, cmdline: string, cwd: string): Promise<DetachPlan> {
  const name = (values.name as string | undefined) ?? appLabel(target, cwd).replace(/\.(elf|ts)$/, "").replace(/[^A-Za-z0-9_.-]/g, "-");
  checkName(name);
  const dir = runtimeDir();
  if (readRecord(dir, name)) throw new UserError(`a guest named ${name} is already running; stop it (skiff stop ${name}) or choose --name`, 1);
  const plan: DetachPlan = { name, dir, extraArgv: [] };
  const api = apiFromCmdline(cmdline);
  if (api && api.net && values.net === "user") {
    plan.token = api.token;
    const forwards = (values.forward as string[] | undefined) ?? [];
    const given = forwards.map((f) => /^(?:tcp:)?(\d+):(\d+)$/.exec(f)).find((m) => m && Number(m[2]) === api.port);
    if (given) plan.apiPort = Number(given[1]);
    else {
      plan.apiPort = await freeLoopbackPort();
      const f = `${plan.apiPort}:${api.port}`;
      values.forward = [...forwards, f];
      plan.extraArgv.push("--forward", f);
    }
  }
  return plan;
}

/** Starts the supervisor and waits until it reports the guest running (its
 *  record appears) or ends (its log is shown). */
export async function startDetached(argv: string[], target: string, plan: DetachPlan, io: IO): Promise<number> {
  const log = logPath(plan.dir, plan.name);
  let fd: number;
  try {
    fd = openSync(log, "wx+", 0o600);       // exclusive: two starts of one name cannot both win
  } catch {
    throw new UserError(`a guest named ${plan.name} is starting (its log ${log} exists, its record not yet); ` +
      `choose another --name, or remove that file if no skiff run is starting it`, 1);
  }
  try {
    const child = spawn(process.execPath, [join(skiffRoot(), "dist", "skiff.js"), "run", ...argv, ...plan.extraArgv], {
      cwd: io.cwd, detached: true, stdio: ["ignore", fd, fd],
      env: { ...process.env, [SUPERVISOR_ENV]: plan.name, SKIFF_SUPERVISE_API_PORT: plan.apiPort ? String(plan.apiPort) : "" },
    });
    let exitCode: number | undefined;
    child.on("exit", (code, signal) => { exitCode = code ?? (signal ? 128 : 1); });
    child.unref();
    for (;;) {
      await new Promise((r) => setTimeout(r, 100));
      const rec = readRecord(plan.dir, plan.name);
      if (rec) {
        const ports = rec.ports.length ? `; ports ${rec.ports.join(", ")}` : "";
        io.out(`skiff: ${plan.name} runs in the background (${rec.app}, QEMU pid ${rec.qemuPid}${ports}${rec.apiPort ? `; management API on 127.0.0.1:${rec.apiPort}` : ""}${rec.apiSocket ? `; management API socket ${rec.apiSocket}` : ""})`);
        io.out(`skiff: skiff ps | skiff logs ${plan.name} [--follow] | skiff api ${plan.name} GET /os/uptime | skiff stop ${plan.name}`);
        return 0;
      }
      if (exitCode !== undefined) {
        io.err(readFrom(fd, 0).toString("utf8").trimEnd());
        removeGuestFiles(plan.dir, plan.name);
        io.err(`skiff: ${plan.name} has already ended (exit status ${exitCode})`);
        return exitCode;
      }
    }
  } finally {
    closeQuietly(fd);
  }
}

/** The supervisor's side: keeps the record while QEMU runs. */
export class Supervisor {
  private rec: GuestRecord;
  constructor(readonly name: string, app: string, ports: string[], token: string | undefined) {
    const dir = runtimeDir();
    const api = process.env.SKIFF_SUPERVISE_API_PORT;
    this.rec = {
      name, app, pid: process.pid, qemuPid: 0, ports: ports.filter((f) => !api || !f.startsWith(`${api}:`)), apiPort: api ? Number(api) : undefined, token,
      started: Date.now(), status: "running", log: logPath(dir, name),
    };
    process.on("SIGHUP", () => { /* no terminal to lose */ });
  }

  started(qemuPid: number | undefined, apiSocket?: string, tokenFile?: string): void {
    this.rec.qemuPid = qemuPid ?? 0;
    this.rec.apiSocket = apiSocket;
    this.rec.tokenFile = tokenFile;
    this.rec.status = "running";
    writeRecord(runtimeDir(), this.rec);
  }

  rebooting(): void {
    this.rec.status = "rebooting";
    writeRecord(runtimeDir(), this.rec);
  }

  ended(): void {
    removeGuestFiles(runtimeDir(), this.name);
  }
}

/** The supervisor for this process, when it is one. */
export function supervisorFor(values: Record<string, unknown>, target: string, cmdline: string, io: { env: Record<string, string | undefined>; cwd: string }): Supervisor | null {
  if (!values.detach) {
    if (values.name !== undefined) throw new UserError("--name names a guest that runs in the background: add --detach");
    return null;
  }
  const name = io.env[SUPERVISOR_ENV];
  if (!name) return null;
  return new Supervisor(name, appLabel(target, io.cwd), (values.forward as string[] | undefined) ?? [], apiFromCmdline(cmdline)?.token);
}
