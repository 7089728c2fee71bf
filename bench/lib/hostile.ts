// bench/lib/hostile.ts — what the reliability benchmark (bench/reliability.ts)
// and its short variants in test/system/reliability-*.test.ts share: a guest
// booted on QEMU user networking or on a tap device moved into a network
// namespace made for it (names "rel<pid><n>t"/"rel<pid><n>n", deleted in
// close()), the host client bench/relclient.mjs run where the guest can be
// reached (inside the namespace for tap), and free memory read over the
// host-only channel.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { boot, type BootOptions, type Guest } from "../../harness/index.js";
import { buildSiteImage, collectFiles } from "../../cli/lib/sitefs.js";
import { skiffRoot } from "../../cli/lib/paths.js";

export type Transport = "user" | "tap";
export const TOKEN = "reliability-token-0001";
const NS_HOST = "10.77.0.1", NS_GUEST = "10.77.0.2";

export const canTap = process.getuid?.() === 0 && existsSync("/dev/net/tun");
const sh = (...a: string[]) => execFileSync(a[0], a.slice(1), { encoding: "utf8", timeout: 60000 });

export function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => { const p = (s.address() as { port: number }).port; s.close(() => res(p)); });
  });
}

let seq = 0;

/** A guest and how to reach it: `host` and `port(guestPort)` as seen from
 *  where `client()` runs (the host for user networking, the namespace for tap). */
export class Target {
  constructor(readonly g: Guest, readonly transport: Transport, readonly host: string,
              private readonly ports: Map<number, number>, readonly ns: string | null, readonly tap: string | null) {}

  port(guest: number): number {
    const p = this.ports.get(guest);
    if (p === undefined) throw new Error(`guest port ${guest} not forwarded`);
    return p;
  }

  /** Runs bench/relclient.mjs with these options (host filled in) and returns its JSON. */
  client(opts: Record<string, unknown>, limitMs = 1_200_000): Promise<any> {
    const script = join(skiffRoot(), "bench", "relclient.mjs");
    const argv = [process.execPath, script, JSON.stringify({ host: this.host, token: TOKEN, ...opts })];
    const cmd = this.ns ? ["ip", "netns", "exec", this.ns, ...argv] : argv;
    return new Promise((res, rej) => {
      const p = spawn(cmd[0], cmd.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
      let out = "", err = "";
      const t = setTimeout(() => { p.kill("SIGKILL"); }, limitMs);
      p.stdout.on("data", (d) => { out += d; });
      p.stderr.on("data", (d) => { err += d; });
      p.on("close", (code) => {
        clearTimeout(t);
        try {
          const r = JSON.parse(out.trim().split("\n").pop() ?? "");
          if (r.error && code !== 0) rej(new Error(`relclient: ${r.error}`)); else res(r);
        } catch {
          rej(new Error(`relclient ended ${code} without a result: ${out.slice(-500)} ${err.slice(-1500)}`));
        }
      });
    });
  }

  /** `free_bytes` as the guest reports it, over the host-only channel. */
  async freeBytes(): Promise<number> {
    const r = await this.g.api("GET", "/os/memory/free");
    if (r.status !== 200) throw new Error(`GET /os/memory/free: ${r.status} ${r.body}`);
    return Number(r.body);
  }

  /** A shell command inside the namespace (tc, tcpdump). */
  inNs(...a: string[]): string {
    if (!this.ns) throw new Error("no namespace: user networking");
    return sh("ip", "netns", "exec", this.ns, ...a);
  }

  async close(): Promise<void> {
    await this.g.stop();
    if (this.ns) { try { sh("ip", "netns", "del", this.ns); } catch { /* never made */ } }
    if (this.tap) { try { execFileSync("ip", ["link", "del", this.tap], { stdio: "ignore" }); } catch { /* gone with the namespace */ } }
  }
}

export interface GuestSpec {
  app: string;
  transport: Transport;
  /** Guest TCP ports the client needs. */
  ports: number[];
  /** The line that says the app is listening (after the address is known). */
  ready: RegExp;
  memory?: string;
  cmdline?: string;
  disks?: NonNullable<BootOptions["devices"]>["disks"];
  timeoutMs?: number;
}

/** Boots `spec.app` on q35 (TCG) with the management API on the network
 *  (`api.net=on`, the token TOKEN) and waits until it listens. */
export async function startGuest(spec: GuestSpec): Promise<Target> {
  const cmdline = [`api.net=on api.token=${TOKEN}`, spec.cmdline ?? ""].join(" ").trim();
  const base: BootOptions = {
    app: spec.app, machine: "q35", memory: spec.memory ?? "64M", timeoutMs: spec.timeoutMs ?? 1_800_000, cmdline,
    devices: spec.disks ? { disks: spec.disks } : undefined,
  };
  if (spec.transport === "user") {
    const ports = new Map<number, number>();
    for (const p of spec.ports) ports.set(p, await freePort());
    const g = await boot({ ...base, net: "user", forwards: [...ports].map(([gp, hp]) => `${hp}:${gp}`) });
    const t = new Target(g, "user", "127.0.0.1", ports, null, null);
    try { await g.waitFor(spec.ready, 180_000); } catch (e) { await t.close(); throw e; }
    return t;
  }
  const tag = `rel${process.pid % 100000}${seq++}`;
  const tap = `${tag}t`, ns = `${tag}n`;
  sh("ip", "tuntap", "add", "dev", tap, "mode", "tap");
  let t: Target | null = null;
  try {
    const g = await boot({ ...base, net: "tap", tap, staticIp: { ip: `${NS_GUEST}/24`, gateway: NS_HOST } });
    t = new Target(g, "tap", NS_GUEST, new Map(spec.ports.map((p) => [p, p])), ns, tap);
    // QEMU holds the tap open; moved into the namespace it stays attached, and
    // the traffic stays off the host's interfaces.
    sh("ip", "netns", "add", ns);
    sh("ip", "link", "set", tap, "netns", ns);
    sh("ip", "-n", ns, "addr", "add", `${NS_HOST}/24`, "dev", tap);
    sh("ip", "-n", ns, "link", "set", tap, "up");
    sh("ip", "-n", ns, "link", "set", "lo", "up");
    await g.waitFor(spec.ready, 180_000);
    return t;
  } catch (e) {
    if (t) await t.close();
    else { try { execFileSync("ip", ["link", "del", tap], { stdio: "ignore" }); } catch { /* not made */ } }
    throw e;
  }
}

/** A small site on a `skiff mkfs` disk for apps/httpd (index.html, a 64 KiB file). */
export function siteDisk(dir: string): string {
  const site = join(dir, "www");
  mkdirSync(site, { recursive: true });
  writeFileSync(join(site, "index.html"), "<!doctype html><p>reliability</p>\n");
  writeFileSync(join(site, "mid.bin"), Buffer.alloc(64 << 10, 0x6d));
  const img = join(dir, "site.img");
  writeFileSync(img, buildSiteImage(collectFiles(site).files));
  return img;
}

export const HTTPD_READY = /httpd: listening on TCP port 8080 at/;
export const KV_READY = /kv: listening on TCP port 8080 at|listening on TCP port 8080 at/;
export const ECHO_READY = /echo: listening on TCP and UDP port 7 at/;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A few requests first, so what the first ones set up for good (caches, the
 *  API's own state) is not counted as churn; then free memory. */
export async function baseline(t: Target): Promise<number> {
  await t.client({ mode: "flood", order: "server", count: 50, width: 4, web: t.port(8080), api: t.port(8000), probeMs: 100 });
  await sleep(3000);
  return t.freeBytes();
}

/** Free memory `settleMs` after a flood, and how far it is from `before` (fraction). */
export async function recovered(t: Target, before: number, settleMs = 10_000): Promise<{ after: number; drift: number }> {
  await sleep(settleMs);
  const after = await t.freeBytes();
  return { after, drift: (before - after) / before };
}
