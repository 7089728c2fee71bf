// harness/index.ts — boot a Skiff guest from a test (ours, or a user's vitest
// suite for their app) and talk to it. Every QEMU started here has a hard time
// limit and is killed by PID if the test fails or forgets to stop it.
import { build, type BuildOptions, type BuildResult } from "../cli/lib/build.js";
import { startQemu, type Accel, type GuestExit, type Machine, type RunningGuest } from "../cli/lib/qemu.js";
import { nodeIO, type IO } from "../cli/lib/log.js";
import { deviceArgs, type DeviceSpec } from "../cli/lib/devices.js";
import { checkNetHost, parseForward, staticIpCmdline, type Forward, type NetMode, type NetSpec, type StaticIp } from "../cli/lib/net.js";
import { EXIT, describeStatus } from "../cli/lib/status.js";
import { request } from "node:http";
import { cmdlineHasToken, newGuestRuntime, type GuestRuntime } from "../cli/lib/apitoken.js";
import { apiFromCmdline } from "../cli/lib/detach.js";

export { EXIT, describeStatus };
export type { GuestExit, Machine, Accel, BuildResult, DeviceSpec, Forward, NetMode, StaticIp };

export interface BootOptions {
  /** An image (ELF) to boot, or build this app first. */
  image?: string;
  app?: string;
  build?: Omit<BuildOptions, "app">;
  machine?: Machine;
  /** Tests run under TCG unless they ask: /dev/kvm may be an emulator (kvm_pvm). */
  accel?: Accel;
  memory?: string;
  cmdline?: string;
  /** Extra QEMU arguments: devices, netdevs. */
  qemuArgs?: string[];
  /** virtio devices (disks, rng, console file, user net), as `skiff run` attaches them. */
  devices?: DeviceSpec;
  /** The NIC as `skiff run --net` attaches it (default: none here; tests ask). */
  net?: NetMode;
  /** `skiff run --forward` values: "HOSTPORT:GUESTPORT", "udp:H:G", or Forward objects (127.0.0.1 only). */
  forwards?: (string | Forward)[];
  /** `--tap NAME` for net "tap" (default skiff0). */
  tap?: string;
  /** `--ip/--gateway/--dns`: appended to the command line as ip=/gateway=/dns=. */
  staticIp?: StaticIp;
  /** Hard limit for the whole guest lifetime; default 60 s. */
  timeoutMs?: number;
  /** Hand the guest a fresh management-API token through fw_cfg, as `skiff
   *  run` does (default true; skipped when cmdline has api.token= or api.off).
   *  The guest reads it only when its API is on the network (api.net=on). */
  apiToken?: boolean;
  /** Attach the host-only API channel (a virtio-serial port on a unix socket;
   *  Guest.api() uses it), as `skiff run` does. Default: when the guest has a
   *  NIC (the API runs with the network) and the port gets an interrupt of its
   *  own (MSI-X or an MMIO line: not with msix false). Without it, Guest.api()
   *  goes over the network: cmdline api.net=on and a forward to the API port. */
  hostChannel?: boolean;
}

const live = new Set<Guest>();

export class Guest {
  private exitResult: GuestExit | undefined;
  readonly exited: Promise<GuestExit>;

  constructor(private readonly q: RunningGuest, readonly image: string, private readonly rt: GuestRuntime,
              private readonly tokenGiven: boolean, readonly hasHostChannel: boolean,
              private readonly netApi?: { hostPort: number; token?: string }) {
    live.add(this);
    this.exited = q.exited.then((r) => {
      this.exitResult = r;
      live.delete(this);
      rt.remove();
      return r;
    });
  }

  /** The management API's bearer token handed to the guest, if any. */
  get apiToken(): string | undefined { return this.tokenGiven ? this.rt.token : undefined; }
  /** The mode-0600 file holding it on the host, while the guest runs. */
  get apiTokenFile(): string | undefined { return this.tokenGiven ? this.rt.file : undefined; }
  /** The host-only channel's unix socket. */
  get apiSocket(): string { return this.rt.apiSocket; }

  /** The 127.0.0.1 port forwarded to the management API on the network
   *  (api.net=on and a `forwards` entry to its port), if any. */
  get apiPort(): number | undefined { return this.netApi?.hostPort; }

  /** One request to the management API over the host-only channel (no token
   *  needed), or, for a guest without one, over the network API's forward
   *  with the token; resolves with the status and the body as text. */
  api(method: string, path: string, body?: string, timeoutMs = 30000): Promise<{ status: number; body: string }> {
    const net = this.netApi;
    if (!this.hasHostChannel && !net) {
      return Promise.reject(new Error(`${method} ${path}: this guest has no host-only channel (no NIC, or msix: false) and no ` +
        "management API on the network to fall back on: boot it with cmdline api.net=on and a forward to the API port (8000)"));
    }
    const where = this.hasHostChannel ? { socketPath: this.rt.apiSocket } : { host: "127.0.0.1", port: net!.hostPort };
    const auth: Record<string, string> = !this.hasHostChannel && net!.token ? { Authorization: `Bearer ${net!.token}` } : {};
    return new Promise((resolve, reject) => {
      const req = request({ ...where, method, path, headers: { Host: "guest", ...auth, ...(body !== undefined ? { "Content-Type": "text/plain", "Content-Length": Buffer.byteLength(body) } : {}) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      });
      const over = this.hasHostChannel ? this.rt.apiSocket : `127.0.0.1:${net!.hostPort}`;
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path} over ${over}: no answer in ${timeoutMs} ms`)));
      req.on("error", reject);
      req.end(body);
    });
  }

  get pid(): number | undefined { return this.q.pid; }
  get accel(): "kvm" | "tcg" { return this.q.accel; }
  get args(): string[] { return this.q.args; }

  /** Serial output so far, firmware noise removed, "\r\n" as "\n". */
  get output(): string { return this.q.output(); }

  /** Resolves with the output up to the match once the pattern appears;
   *  rejects on timeout or if the guest exits first, quoting the output. */
  waitFor(pattern: string | RegExp, timeoutMs = 30000): Promise<RegExpMatchArray> {
    const test = (): RegExpMatchArray | null => {
      const out = this.q.output();
      if (typeof pattern === "string") {
        const i = out.indexOf(pattern);
        if (i < 0) return null;
        const m = [pattern] as unknown as RegExpMatchArray;
        m.index = i;
        return m;
      }
      return out.match(pattern);
    };
    return new Promise((resolve, reject) => {
      const hit = test();
      if (hit) return resolve(hit);
      let done = false;
      const finish = (err: Error | null, m?: RegExpMatchArray) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (err) reject(err); else resolve(m!);
      };
      const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${pattern}; output so far:\n${this.q.output()}`)), timeoutMs);
      this.q.onOutput(() => {
        const m = test();
        if (m) finish(null, m);
      });
      this.exited.then((r) => {
        const m = test();
        if (m) finish(null, m);
        else finish(new Error(`guest exited (status ${r.status}: ${describeStatus(r.status)}) before ${pattern} appeared; output:\n${r.serial}${r.stderr ? "\nQEMU stderr:\n" + r.stderr : ""}`));
      });
    });
  }

  /** Waits for the guest to end by itself. */
  async wait(): Promise<GuestExit> {
    return this.exited;
  }

  /** Stops the guest (SIGKILL by PID) and waits for QEMU to go. */
  async stop(): Promise<GuestExit> {
    if (!this.exitResult) this.q.kill("SIGKILL");
    return this.exited;
  }
}

const builds = new Map<string, Promise<BuildResult>>();

/** Builds an app once per process (cached on disk as well). */
export function buildApp(app: string, opts: Omit<BuildOptions, "app"> = {}, io: IO = quietIO()): Promise<BuildResult> {
  const key = JSON.stringify([app, opts]);
  let b = builds.get(key);
  if (!b) {
    b = build({ app, quiet: true, ...opts }, io);
    builds.set(key, b);
  }
  return b;
}

export async function boot(o: BootOptions): Promise<Guest> {
  let image = o.image;
  if (!image) {
    if (!o.app) throw new Error("boot: give image or app");
    image = (await buildApp(o.app, o.build)).elf;
  }
  let devices = o.devices;
  let cmdline = o.cmdline;
  if (o.net || o.forwards?.length || o.staticIp) {
    if (devices?.net) throw new Error("boot: give the NIC as devices.net or as net/forwards, not both");
    const spec: NetSpec = {
      mode: o.net ?? "user", tap: o.tap, staticIp: o.staticIp,
      forwards: (o.forwards ?? []).map((f) => (typeof f === "string" ? parseForward(f) : f)),
    };
    await checkNetHost(spec);
    if (o.staticIp) cmdline = [cmdline, staticIpCmdline(o.staticIp, spec.mode)].filter((x) => x).join(" ");
    devices = { ...devices, net: spec };
  }
  const rt = newGuestRuntime();
  const tokenGiven = o.apiToken !== false && !cmdlineHasToken(cmdline);
  const hostChannel = o.hostChannel ?? (!!devices?.net && devices.msix !== false);
  if (hostChannel) devices = { ...devices, apiSocket: rt.apiSocket };
  // The network API (api.net=on) through a forward to its port, for Guest.api() without a host channel.
  const api = apiFromCmdline(cmdline ?? "");
  let netApi: { hostPort: number; token?: string } | undefined;
  const netSpec = devices?.net && typeof devices.net !== "string" ? devices.net : undefined;
  const fwd = api?.net ? netSpec?.forwards?.find((f) => f.proto === "tcp" && f.guestPort === api.port) : undefined;
  if (fwd) netApi = { hostPort: fwd.hostPort, token: api!.token ?? (tokenGiven ? rt.token : undefined) };
  let q: RunningGuest;
  try {
    q = startQemu({
      kernel: image,
      machine: o.machine,
      accel: o.accel ?? "tcg",
      memory: o.memory,
      cmdline,
      extraArgs: [...(devices ? deviceArgs(o.machine ?? "microvm", devices) : []), ...(tokenGiven ? rt.tokenArgs : []), ...(o.qemuArgs ?? [])],
      timeoutMs: o.timeoutMs ?? 60000,
    });
  } catch (e) {
    rt.remove();
    throw e;
  }
  return new Guest(q, image, rt, tokenGiven, hostChannel, netApi);
}

/** Boots, waits for the guest to exit by itself, and returns how it ended. */
export async function bootAndWait(o: BootOptions): Promise<GuestExit> {
  const g = await boot(o);
  return g.wait();
}

/** Kills every guest still running (call from afterAll / afterEach). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((g) => g.stop()));
}

function quietIO(): IO {
  const io = nodeIO();
  return { ...io, out: () => {}, raw: () => {} };
}

// Last line of defence: never leave a QEMU behind when the test process ends.
process.once("exit", () => {
  for (const g of live) {
    try { if (g.pid) process.kill(g.pid, "SIGKILL"); } catch { /* gone */ }
  }
});
