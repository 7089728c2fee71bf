// cli/commands/run.ts — `skiff run <app | image.elf>`: build if needed, boot under
// QEMU with the serial console on stdout; the guest's status is the exit status.
import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { build } from "../lib/build.js";
import { IO, UserError } from "../lib/log.js";
import { OptionSpecs, helpText, parseOptions } from "../lib/options.js";
import { MACHINES, chooseAccel, startQemu, type Accel, type Machine } from "../lib/qemu.js";
import { EXIT, describeStatus } from "../lib/status.js";
import { deviceArgs, parseDisk, type Transport } from "../lib/devices.js";
import { checkNetHost, DEFAULT_TAP, parseForward, staticIpCmdline, type NetMode, type NetSpec } from "../lib/net.js";
import { symbolizeFromElf } from "../lib/symbols.js";
import { cmdlineHasToken, newGuestRuntime } from "../lib/apitoken.js";
import { settingsWords } from "../lib/bootargs.js";
import { apiFromCmdline, planDetach, startDetached, supervisorFor, type DetachPlan } from "../lib/detach.js";
import { checkGuestMemory } from "../lib/guest-memory.js";
import { runWatching } from "../lib/watchrun.js";

export const runSpecs: OptionSpecs = {
  machine: { type: "string", help: "QEMU machine type", choices: MACHINES, default: "microvm" },
  memory: { type: "size", help: "guest RAM (QEMU -m syntax)", default: "64M", metavar: "SIZE" },
  cmdline: { type: "string", help: "kernel command line", default: "", metavar: "TEXT" },
  accel: { type: "string", help: "accelerator; auto uses KVM only when it is hardware virtualization", choices: ["auto", "kvm", "tcg"], default: "auto" },
  timeout: { type: "number", help: "stop the guest after this many seconds (0: no limit)", default: 0, metavar: "SECONDS" },
  debug: { type: "boolean", help: "build with Wasm function names kept" },
  dev: { type: "boolean", help: "build with the development profile (fast rebuilds, larger and slower image)" },
  watch: { type: "boolean", help: "with an app: build with --dev, then rebuild and boot the new image whenever a source file changes" },
  embed: { type: "string", help: "pack this folder into the image as a site image (as skiff build --embed)", metavar: "DIR" },
  disk: { type: "list", help: "attach a virtio-blk disk image (repeatable; FILE,ro for read-only)", metavar: "FILE[,ro]" },
  rng: { type: "boolean", help: "attach a virtio-rng entropy device" },
  "console-log": { type: "string", help: "attach a virtio console written to this host file", metavar: "FILE" },
  net: { type: "string", help: "the NIC: user (QEMU user networking, DHCP; the default: the guest probes the NIC only if the app uses the network), tap, none", choices: ["user", "tap", "none"], default: "user", metavar: "MODE" },
  forward: { type: "list", help: "forward 127.0.0.1:HOSTPORT to the guest's GUESTPORT (repeatable; --net user; udp: prefix for UDP)", metavar: "HOSTPORT:GUESTPORT" },
  tap: { type: "string", help: `tap device for --net tap (default ${DEFAULT_TAP}; opened with script=no)`, metavar: "NAME" },
  ip: { type: "string", help: "static guest address, passed as ip= on the guest command line (default: DHCP)", metavar: "ADDR/PREFIX" },
  gateway: { type: "string", help: "static default gateway (needs --ip)", metavar: "ADDR" },
  dns: { type: "string", help: "static DNS server (needs --ip)", metavar: "ADDR" },
  transport: { type: "string", help: "virtio transport (default: pci on q35/pc, mmio on microvm)", choices: ["pci", "mmio"] },
  env: { type: "list", help: "an environment variable for the app (env.NAME= on the command line; repeatable)", metavar: "NAME=VALUE" },
  config: { type: "list", help: "a setting in the guest's /config (config.KEY= on the command line; repeatable)", metavar: "KEY=VALUE" },
  detach: { type: "boolean", help: "run in the background: skiff ps, logs, api, stop" },
  name: { type: "string", help: "the detached guest's name (default: the app's)", metavar: "NAME" },
  "qemu-arg": { type: "list", help: "extra QEMU argument (repeatable)", metavar: "ARG" },
  restart: { type: "string", help: "start the guest again when it ends: on-failure (panic, trap, CPU exception, no status: 70-72, 126), always, never", choices: ["never", "on-failure", "always"], default: "never", metavar: "POLICY" },
  "restart-max": { type: "number", help: "give up after this many restarts in a row (the backoff doubles from 1 s to 60 s; both start over after a run of over a minute)", default: 5, metavar: "N" },
  help: { type: "boolean", help: "show this help", alias: "h" },
};

export async function runCommand(argv: string[], io: IO): Promise<number> {
  const { values, positionals, passthrough } = parseOptions("run", argv, runSpecs);
  if (values.help || positionals.length !== 1) {
    const text = helpText("skiff run <app-dir | entry.ts | image.elf> [options] [-- qemu args]", "Boots an image under QEMU with the serial console on stdout.", runSpecs);
    if (values.help) { io.out(text); return 0; }
    io.err(text);
    return 2;
  }
  let cmdline = [values.cmdline as string, ...settingsWords((values.env as string[] | undefined) ?? [], (values.config as string[] | undefined) ?? [])]
    .filter((x) => x).join(" ");
  const supervisor = supervisorFor(values, positionals[0], cmdline, io);
  let detach: DetachPlan | null = null;
  if (values.detach && !supervisor) detach = await planDetach(values, positionals[0], cmdline, io.cwd);
  // The network first: a bad address or a taken port is reported before the build.
  const net = await netFromOptions(values);
  if (net.staticIp) {
    if (/(^|\s)(ip|gateway|dns)=/.test(cmdline)) throw new UserError("--ip/--gateway/--dns and ip=/gateway=/dns= in --cmdline: give the address one way");
    cmdline = [cmdline, staticIpCmdline(net.staticIp, net.mode)].filter((x) => x).join(" ");
  }
  for (const d of (values.disk as string[] | undefined) ?? []) parseDisk(d, io.cwd);   // a missing disk file: before the build
  const target = positionals[0];
  const path = resolve(io.cwd, target);
  const prebuilt = existsSync(path) && statSync(path).isFile() && !path.endsWith(".ts");
  if (values.watch && (prebuilt || values.detach || values.debug || values.restart !== "never")) {
    throw new UserError(`--watch rebuilds an app (a folder or an entry .ts) with --dev in the foreground: not with ${prebuilt ? "an image file" : values.detach ? "--detach" : values.debug ? "--debug" : "--restart"}`);
  }
  if (prebuilt && values.embed) throw new UserError("--embed packs a folder into an app's build: give the app, not an image");
  const buildOpts = { app: target, debug: !!values.debug, dev: !!values.dev || !!values.watch, embed: values.embed as string | undefined };
  const built = prebuilt ? null : await build(buildOpts, io);
  const kernel = built ? built.elf : path;
  checkGuestMemory(kernel, values.memory as string);
  if (detach) return startDetached(argv, target, detach, io);

  // The guest's folder: the host-only API channel's socket, and the API token
  // (made here, kept in a mode-0600 file, passed through fw_cfg; the guest
  // never prints it) unless --cmdline gives one (lib/apitoken.ts).
  const rt = newGuestRuntime();
  const apiSocket = net.mode !== "none" ? rt.apiSocket : undefined;   // the API runs with the network
  const tokenArgs = cmdlineHasToken(cmdline) ? [] : rt.tokenArgs;
  const devices = deviceArgs(values.machine as Machine, {
    apiSocket,
    disks: ((values.disk as string[] | undefined) ?? []).map((d) => parseDisk(d, io.cwd)),
    rng: !!values.rng,
    consoleLog: values["console-log"] ? resolve(io.cwd, values["console-log"] as string) : undefined,
    net,
    transport: values.transport as Transport | undefined,
  });
  const api = apiFromCmdline(cmdline);
  if (apiSocket && api) {
    io.err(`skiff: the management API, once the guest starts it, answers on ${rt.apiSocket} (curl --unix-socket ${rt.apiSocket} http://guest/os/uptime)`);
    const token = tokenArgs.length ? `the token in ${rt.file}` : "the token given with api.token=";
    io.err(api.net
      ? `skiff: it is on the guest's network too (api.net=on), TCP port ${api.port}: every route but /health needs ${token}`
      : `skiff: it is not on the guest's network; --cmdline api.net=on puts it there (TCP port 8000, api.port=N), every route but /health behind ${token}`);
  }
  const accelChoice = chooseAccel(values.accel as Accel);
  if (accelChoice.note) io.err(`skiff: ${accelChoice.note}`);
  const qemuOptions = {
    kernel,
    machine: values.machine as Machine,
    accel: accelChoice.accel,
    memory: values.memory as string,
    cmdline,
    extraArgs: [...devices, ...tokenArgs, ...((values["qemu-arg"] as string[] | undefined) ?? []), ...passthrough],
    timeoutMs: (values.timeout as number) * 1000,
  };
  if (values.watch && built) {
    try { return await runWatching(built, buildOpts, qemuOptions, io); } finally { rt.remove(); }
  }
  const restart = new RestartPolicy(values.restart as RestartMode, values["restart-max"] as number);
  let interrupted = false;
  let guest = startQemu(qemuOptions);
  let startedAt = Date.now();
  supervisor?.started(guest.pid, apiSocket, tokenArgs.length ? rt.file : undefined);
  const onSigint = () => { interrupted = true; guest.kill("SIGINT"); };
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigint);
  try {
    for (;;) {
      guest.onOutput((t) => io.raw(t));
      const r = await guest.exited;
      if (interrupted) {
        io.err("skiff: interrupted; guest stopped");
        return EXIT.INTERRUPTED;
      }
      if (r.status === EXIT.REBOOT) {
        // The guest reset its devices and asked to come back (POST /os/reboot);
        // QEMU runs with -no-reboot so that a triple fault cannot loop.
        io.err("skiff: guest asked to reboot; starting it again");
        supervisor?.rebooting();
        guest = startQemu(qemuOptions);
        startedAt = Date.now();
        supervisor?.started(guest.pid, apiSocket, tokenArgs.length ? rt.file : undefined);
        continue;
      }
      const delayMs = restart.next(r.status, Date.now() - startedAt);
      if (delayMs !== null) {
        io.err(`skiff: guest exited with status ${r.status} (${describeStatus(r.status)}); restart ${restart.count} of at most ${restart.max} in ${delayMs / 1000} s (--restart ${restart.mode})`);
        await new Promise((res) => setTimeout(res, delayMs));
        if (interrupted) return EXIT.INTERRUPTED;
        guest = startQemu(qemuOptions);
        startedAt = Date.now();
        supervisor?.started(guest.pid, apiSocket, tokenArgs.length ? rt.file : undefined);
        continue;
      }
      if (restart.mode !== "never" && restart.count >= restart.max && restart.wanted(r.status)) {
        io.err(`skiff: giving up after ${restart.count} restarts (--restart-max ${restart.max})`);
      }
      if (r.status === EXIT.QEMU_FAILED) {
        io.err(`skiff: QEMU failed: ${r.stderr.trim() || "exit code " + r.qemuCode}`);
      } else if (r.status !== 0) {
        io.err(`skiff: guest exited with status ${r.status} (${describeStatus(r.status)})`);
        const rip = /CPU exception .* rip (0x[0-9a-f]+)/.exec(r.serial);
        const debugElf = kernel.replace(/\.elf$/, ".debug.elf");
        if (rip && existsSync(debugElf)) {
          const fn = await symbolizeFromElf(debugElf, BigInt(rip[1]));
          if (fn) io.err(`skiff: rip ${rip[1]} is in ${fn}`);
        }
      }
      return r.status;
    }
  } finally {
    supervisor?.ended();
    rt.remove();
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigint);
  }
}

/** --net/--tap/--forward/--ip/--gateway/--dns → a checked NetSpec (ports
 *  free, tap usable) before QEMU starts. */
async function netFromOptions(values: Record<string, unknown>): Promise<NetSpec> {
  const mode = values.net as NetMode;
  const spec: NetSpec = {
    mode,
    tap: values.tap as string | undefined,
    forwards: ((values.forward as string[] | undefined) ?? []).map(parseForward),
  };
  if (values.ip !== undefined) {
    spec.staticIp = { ip: values.ip as string, gateway: values.gateway as string | undefined, dns: values.dns as string | undefined };
    if (mode === "none") throw new UserError("--ip needs a network: use --net user or --net tap");
    staticIpCmdline(spec.staticIp, mode);     // checked before anything touches the host
  } else if (values.gateway !== undefined || values.dns !== undefined) {
    throw new UserError(`--${values.gateway !== undefined ? "gateway" : "dns"} needs --ip ADDR/PREFIX (without --ip the guest uses DHCP, which supplies both)`);
  }
  await checkNetHost(spec);
  return spec;
}

export { UserError };

export type RestartMode = "never" | "on-failure" | "always";

/** `--restart`: which endings start the guest again, after how long, and
 *  when to give up. The delay doubles from 1 s up to 60 s; a run that lasted
 *  over a minute counts as healthy, and count and delay start over. Never
 *  restarted: Ctrl-C, the --timeout limit, QEMU failing, a loader error (the
 *  same image would fail the same way). */
export class RestartPolicy {
  count = 0;
  private delayMs = 0;
  static readonly FIRST_DELAY_MS = 1000;
  static readonly MAX_DELAY_MS = 60_000;
  static readonly HEALTHY_RUN_MS = 60_000;

  constructor(readonly mode: RestartMode, readonly max: number) {
    if (!Number.isInteger(max) || max < 0) throw new UserError(`--restart-max ${max}: expected a whole number, 0 or more`);
  }

  /** Whether the policy restarts after this status at all. */
  wanted(status: number): boolean {
    if (this.mode === "never") return false;
    if (status === EXIT.TIMEOUT || status === EXIT.QEMU_FAILED || status === EXIT.INTERRUPTED || status === EXIT.LOADER) return false;
    if (this.mode === "always") return true;
    return status === EXIT.PANIC || status === EXIT.TRAP || status === EXIT.FAULT || status === EXIT.NO_STATUS;
  }

  /** The delay before the next start after a run that ended with status
   *  and lasted ranMs, or null to stop. */
  next(status: number, ranMs: number): number | null {
    if (!this.wanted(status)) return null;
    if (ranMs > RestartPolicy.HEALTHY_RUN_MS) { this.count = 0; this.delayMs = 0; }
    if (this.count >= this.max) return null;
    this.count++;
    this.delayMs = this.delayMs === 0 ? RestartPolicy.FIRST_DELAY_MS : Math.min(this.delayMs * 2, RestartPolicy.MAX_DELAY_MS);
    return this.delayMs;
  }
}
