// bench/lib/hostile.ts — what the reliability benchmark (bench/reliability.ts)
// and its short variants in test/system/reliability-*.test.ts share: a guest
// booted on QEMU user networking or on a tap device moved into a network
// namespace made for it (names "rel<pid><n>t"/"rel<pid><n>n", deleted in
// close()), the host client bench/relclient.mjs run where the guest can be
// reached (inside the namespace for tap), and free memory read over the
// host-only channel.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { Agent, request } from "node:http";
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
  /** Helper processes to end with the guest (the lossy link), and their output. */
  readonly helpers: { p: ChildProcess; out: string[] }[] = [];

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
    for (const h of this.helpers) {
      if (h.p.exitCode === null && h.p.pid !== undefined) {
        const ended = new Promise((r) => h.p.once("close", r));
        try { process.kill(h.p.pid, "SIGTERM"); } catch { /* gone */ }
        await Promise.race([ended, sleep(3000)]);
      }
    }
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
  /** Extra QEMU arguments (a filter-dump on netdev net0 to capture traffic). */
  qemuArgs?: string[];
}

/** Boots `spec.app` on q35 (TCG) with the management API on the network
 *  (`api.net=on`, the token TOKEN) and waits until it listens. */

/** Moves tap (already held by a running QEMU: moved earlier, QEMU would make
 *  a new one of the same name) into a new namespace ns, as its host end
 *  NS_HOST, so the traffic stays off the host's interfaces. */
function moveTapIntoNamespace(tap: string, ns: string): void {
  sh("ip", "netns", "add", ns);
  sh("ip", "link", "set", tap, "netns", ns);
  sh("ip", "-n", ns, "addr", "add", `${NS_HOST}/24`, "dev", tap);
  sh("ip", "-n", ns, "link", "set", tap, "up");
  sh("ip", "-n", ns, "link", "set", "lo", "up");
}

export async function startGuest(spec: GuestSpec): Promise<Target> {
  const cmdline = [`api.net=on api.token=${TOKEN}`, spec.cmdline ?? ""].join(" ").trim();
  const base: BootOptions = {
    app: spec.app, machine: "q35", memory: spec.memory ?? "64M", timeoutMs: spec.timeoutMs ?? 1_800_000, cmdline,
    devices: spec.disks ? { disks: spec.disks } : undefined, qemuArgs: spec.qemuArgs,
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
    // Once the guest runs, QEMU holds the tap open (moved earlier, QEMU would
    // make a new one of the same name); moved into the namespace it stays
    // attached, and the traffic stays off the host's interfaces.
    await g.waitFor(spec.ready, 180_000);
    moveTapIntoNamespace(tap, ns);
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

/** The host's TcpExtListenOverflows (all of the host's listeners, so QEMU's
 *  forwarded ports among others): the backlog-1 drops of user networking. */
export function listenOverflows(): number {
  try {
    const lines = readFileSync("/proc/net/netstat", "utf8").split("\n").filter((l) => l.startsWith("TcpExt:"));
    const names = lines[0].split(/\s+/), vals = lines[1].split(/\s+/);
    return Number(vals[names.indexOf("ListenOverflows")]);
  } catch { return -1; }
}

/** Client options for a flood against `t`'s httpd (8080) and API (8000). */
export function floodOpts(t: Target, order: "client" | "server", count: number): Record<string, unknown> {
  return {
    mode: "flood", order, count, width: 32, web: t.port(8080), api: t.port(8000), probeMs: 200,
    probeLimitMs: 5000, connLimitMs: 10000, retryUnseen: t.transport === "user",
  };
}

// ---- kv: SIGKILL during a stream of writes --------------------------------

/** The value of `key` at `version`: reproducible, 1 byte to 24 KiB. */
export function kvValue(key: string, version: number): Buffer {
  let x = 2166136261 ^ version;
  for (let i = 0; i < key.length; i++) x = Math.imul(x ^ key.charCodeAt(i), 16777619) >>> 0;
  const n = 1 + (x % (24 << 10));
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) { x = (Math.imul(x, 1664525) + 1013904223) >>> 0; b[i] = x >>> 24; }
  return b;
}

function kvCall(agent: Agent, port: number, method: string, path: string, body?: Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((res, rej) => {
    const r = request({ host: "127.0.0.1", port, method, path, agent, headers: body ? { "Content-Length": body.length } : {} }, (resp) => {
      const chunks: Buffer[] = [];
      resp.on("data", (d) => chunks.push(d));
      resp.on("end", () => res({ status: resp.statusCode!, body: Buffer.concat(chunks) }));
      resp.on("error", rej);
      resp.on("aborted", () => rej(new Error(`${method} ${path}: response cut short`)));
    });
    r.on("error", rej);
    r.setTimeout(60_000, () => r.destroy(new Error(`${method} ${path}: no answer in 60 s`)));
    r.end(body);
  });
}

export interface KillCycle {
  cycle: number;
  /** ms from the first write to the SIGKILL (chosen at random). */
  killAfterMs: number;
  /** Writes acknowledged in this cycle (PUT 201/204, DELETE 204/404). */
  acked: number;
  /** Writes in flight when QEMU was killed (may or may not have landed). */
  inFlight: number;
  /** At the next boot: keys checked, and those whose value was neither the
   *  last acknowledged one nor an in-flight one (lost or corrupted). */
  checked: number;
  bad: number;
  badKeys: string[];
  /** ms from QEMU's start to "kv: listening" at the next boot. */
  bootMs: number;
  recovered: boolean;
}

/** `cycles` rounds of: boot apps/kv on `disk`, check every key against what
 *  was acknowledged, write (PUT and some DELETEs; 4 writers, each owning its
 *  keys, so a key has at most one write in flight) and SIGKILL QEMU at a
 *  random moment 0.5–4 s into the stream. A last boot checks the final round. */
export async function kvKillCycles(disk: string, cycles: number, log: (s: string) => void, keys = 240): Promise<KillCycle[]> {
  const acked = new Map<string, Buffer | null>();           // key → last acknowledged value (null: deleted)
  const maybe = new Map<string, Buffer | null>();           // key → the write in flight at the kill
  const version = new Map<string, number>();
  const out: KillCycle[] = [];
  for (let cycle = 0; cycle <= cycles; cycle++) {
    const t0 = Date.now();
    const port = await freePort();
    const g = await boot({ app: "apps/kv", machine: "q35", memory: "64M", timeoutMs: 900_000, net: "user", forwards: [`${port}:8080`], hostChannel: false, devices: { disks: [{ file: disk }] } });
    const row: KillCycle = { cycle, killAfterMs: 0, acked: 0, inFlight: 0, checked: 0, bad: 0, badKeys: [], bootMs: 0, recovered: false };
    try {
      try {
        await g.waitFor(/kv: listening on TCP port 8080 at/, 300_000);
      } catch (e) {
        log(`cycle ${cycle}: the guest did not come up: ${(e as Error).message.slice(0, 2000)}`);
        out.push(row);
        break;
      }
      row.bootMs = Date.now() - t0;
      const agent = new Agent({ keepAlive: true, maxSockets: 4 });
      // Check what the previous rounds acknowledged.
      for (const [key, want] of acked) {
        const r = await kvCall(agent, port, "GET", `/kv/${key}`);
        const got = r.status === 200 ? r.body : r.status === 404 ? null : undefined;
        const same = (a: Buffer | null | undefined, b: Buffer | null | undefined) => a === b || (a instanceof Buffer && b instanceof Buffer && a.equals(b));
        row.checked++;
        if (same(got, want)) { /* as acknowledged */ }
        else if (maybe.has(key) && same(got, maybe.get(key))) acked.set(key, got!);     // the in-flight write landed
        else { row.bad++; if (row.badKeys.length < 10) row.badKeys.push(`${key}: status ${r.status}, ${r.body.length} bytes`); }
      }
      maybe.clear();
      row.recovered = !/panic|wasm trap/.test(g.output) && row.bad === 0;
      if (cycle === cycles) { log(`final boot: checked ${row.checked} keys, ${row.bad} bad; boot ${row.bootMs} ms`); out.push(row); agent.destroy(); break; }
      // Write until the kill.
      let killed = false;
      const inflight = new Map<string, Buffer | null>();
      const writer = async (w: number) => {
        for (let i = 0; !killed; i++) {
          const key = `k${w + 4 * ((i * 7 + cycle * 13) % (keys / 4))}`;
          const v = (version.get(key) ?? 0) + 1;
          version.set(key, v);
          const del = v % 10 === 0;
          const value = del ? null : kvValue(key, v);
          inflight.set(key, value);
          try {
            const r = await kvCall(agent, port, del ? "DELETE" : "PUT", `/kv/${key}`, value ?? undefined);
            if (killed) break;                 // answered, but racing the kill: keep it as "maybe"
            if (del ? r.status === 204 || r.status === 404 : r.status === 201 || r.status === 204) { acked.set(key, value); row.acked++; inflight.delete(key); }
            else throw new Error(`${del ? "DELETE" : "PUT"} ${key}: ${r.status} ${r.body.toString().slice(0, 200)}`);
          } catch (e) {
            if (!killed) throw e;
          }
        }
      };
      row.killAfterMs = Math.round(500 + Math.random() * 3500);
      const writers = [0, 1, 2, 3].map(writer);
      const failed = Promise.race(writers.map((p) => p.then(() => new Promise<void>(() => {}))));   // rejects on a writer's error
      await Promise.race([sleep(row.killAfterMs), failed]);
      killed = true;
      await g.stop();                         // SIGKILL by PID: no flush, no goodbye
      await Promise.allSettled(writers);
      agent.destroy();
      for (const [k, v] of inflight) maybe.set(k, v);
      row.inFlight = inflight.size;
      log(`cycle ${cycle}: checked ${row.checked} keys, ${row.bad} bad; boot ${row.bootMs} ms; ${row.acked} writes acknowledged, killed after ${row.killAfterMs} ms with ${row.inFlight} in flight`);
      out.push(row);
    } finally {
      await g.stop();
    }
  }
  return out;
}

// ---- a lossy link ---------------------------------------------------------

/** netem's parameters of issue #16: loss 5%, reorder 10%, duplicate 2%, delay 5 ms. */
export const LOSSY = { loss: 0.05, reorder: 0.10, duplicate: 0.02, delayMs: 5 };

/** Boots `spec.app` with its NIC on bench/lossylink.py (QEMU `-netdev dgram`
 *  to a tap the script makes, moved into a namespace made here): frames from
 *  the namespace to the guest are lost, duplicated, delayed and reordered as
 *  `tc netem` would on the namespace's end of a tap. (This host's kernel, like
 *  many minimal ones, has no sch_netem; the script does the same in user space.) */
export async function startLossy(spec: GuestSpec, seed = 1): Promise<Target> {
  const tag = `rel${process.pid % 100000}${seq++}`;
  const tap = `${tag}t`, ns = `${tag}n`;
  const [lport, qport] = [await freePort(), await freePort()];
  const relay = spawn("python3", [join(skiffRoot(), "bench", "lossylink.py"), tap, String(lport), String(qport),
    String(LOSSY.loss), String(LOSSY.reorder), String(LOSSY.duplicate), String(LOSSY.delayMs), String(seed)], { stdio: ["ignore", "pipe", "pipe"] });
  const out: string[] = [];
  relay.stdout!.on("data", (d) => out.push(String(d)));
  relay.stderr!.on("data", (d) => out.push(String(d)));
  let t: Target | null = null;
  try {
    for (let i = 0; i < 100 && !out.join("").includes("ready"); i++) {
      if (relay.exitCode !== null) break;
      await sleep(100);
    }
    if (!out.join("").includes("ready")) throw new Error(`lossylink.py did not start: ${out.join("")}`);
    const cmdline = [`api.net=on api.token=${TOKEN} ip=${NS_GUEST}/24 gateway=${NS_HOST}`, spec.cmdline ?? ""].join(" ").trim();
    const g = await boot({
      app: spec.app, machine: "q35", memory: spec.memory ?? "64M", timeoutMs: spec.timeoutMs ?? 1_800_000, cmdline, hostChannel: true,
      qemuArgs: ["-netdev", `dgram,id=net0,local.type=inet,local.host=127.0.0.1,local.port=${qport},remote.type=inet,remote.host=127.0.0.1,remote.port=${lport}`,
        "-device", "virtio-net-pci,netdev=net0,romfile=", ...(spec.qemuArgs ?? [])],
    });
    t = new Target(g, "tap", NS_GUEST, new Map(spec.ports.map((p) => [p, p])), ns, tap);
    t.helpers.push({ p: relay, out });
    await g.waitFor(spec.ready, 180_000);
    moveTapIntoNamespace(tap, ns);
    return t;
  } catch (e) {
    if (t) await t.close();
    else if (relay.pid !== undefined && relay.exitCode === null) { try { process.kill(relay.pid, "SIGTERM"); } catch { /* gone */ } }
    throw e;
  }
}
