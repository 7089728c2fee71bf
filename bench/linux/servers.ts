// bench/linux/servers.ts — the HTTP servers bench/http.ts (issue #6) and
// bench/linux.ts (issue #7) compare, started the same way: Skiff's apps/httpd
// with the small site embedded (the same bytes busybox httpd serves), apps/kv
// on a fresh raw disk, and the Linux reference guest (busybox httpd, plus a CGI
// for /cgi-bin/uptime); over QEMU user networking (forwards on 127.0.0.1) or
// over a tap device moved into a network namespace the benchmark creates and
// deletes (as bench/net.ts does). QEMUs are stopped by PID.
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { build, type BuildResult } from "../../cli/lib/build.js";
import type { IO } from "../../cli/lib/log.js";
import type { Machine } from "../../cli/lib/qemu.js";
import { netArgs, type Forward } from "../../cli/lib/net.js";
import { buildSiteImage } from "../../cli/lib/sitefs.js";
import { freePort } from "../lib/http.js";
import { launch, type Launched } from "../lib/launch.js";
import { cpioNewc } from "./cpio.js";
import { INDEX_HTML, READY_LINE, type LinuxGuest } from "./guest.js";

export type Kind = "skiff" | "linux";
export type Network = "user" | "tap";

export const SKIFF_HTTPD_READY = /httpd: listening on TCP port 80\b/;
export const SKIFF_KV_READY = /kv: listening on TCP port 80\b/;
export const LINUX_READY = new RegExp(READY_LINE);
/** The TSC rate the Linux guest is told (tsc_early_khz), so it need not
 *  calibrate: under TCG the guest's TSC is the host's, and on microvm Linux
 *  6.1 has no reference to calibrate against (no PIT answer, no HPET or
 *  PM timer) and hung at boot. Skiff reads the same rate from its own
 *  calibration; telling Linux is the ordinary setup for a VM (what
 *  Firecracker-style guests do), and is done on every machine. Empty when
 *  the host does not say (then Linux calibrates as before). */
export function linuxTscWords(cpuinfo = readCpuinfo()): string {
  const m = /^cpu MHz\s*:\s*([0-9.]+)/m.exec(cpuinfo);
  const khz = m ? Math.round(Number(m[1]) * 1000) : 0;
  return khz > 0 ? ` tsc_early_khz=${khz} tsc=reliable no_timer_check` : "";
}
function readCpuinfo(): string {
  try { return readFileSync("/proc/cpuinfo", "utf8"); } catch { return ""; }
}
export const LINUX_CMDLINE = `console=ttyS0 panic=-1 quiet${linuxTscWords()}`;
/** Both guests serve on port 80 (Skiff: httpd.port=80 / kv.port=80). */
export const SKIFF_HTTPD_CMDLINE = "httpd.port=80";
/** Skiff's management API is off the network unless api.net=on; the uptime
 *  request goes there, with this token (every route but /health needs it). */
export const BENCH_API_TOKEN = "bench-api-token-0123456789";
const SKIFF_API_CMDLINE = `api.net=on api.token=${BENCH_API_TOKEN}`;
export const TAP_GUEST = "10.79.0.2";
export const TAP_HOST = "10.79.0.1";

/** The site both httpds serve: one small file (bench/linux/guest.ts INDEX_HTML). */
export function siteDir(root: string): string {
  const www = join(root, "build", "bench", "linux", "www");
  mkdirSync(www, { recursive: true });
  const f = join(www, "index.html");
  if (!existsSync(f) || readFileSync(f, "utf8") !== INDEX_HTML) writeFileSync(f, INDEX_HTML);
  return www;
}

/** The large file of the 16 MiB download row: the same bytes in both guests
 *  (xorshift noise, so nothing on the way can compress it). */
export const BIG_FILE = "big.bin";
export const BIG_BYTES = 16 << 20;

export function bigFileData(): Buffer {
  const w = new Uint32Array(BIG_BYTES / 4);
  let x = 0x2545f491;
  for (let i = 0; i < w.length; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;      // xorshift32
    w[i] = x >>> 0;
  }
  return Buffer.from(w.buffer);
}

let bigCache: Buffer | null = null;
const big = () => (bigCache ??= bigFileData());

/** A `skiff mkfs` site image with /index.html (the small file) and /big.bin:
 *  Skiff's httpd serves it from a read-only virtio-blk disk (its cache keeps
 *  both in memory after the first read), as httpd is deployed with a site. */
export function bigSiteImage(root: string): string {
  const out = join(root, "build", "bench", "linux", "site-big.img");
  mkdirSync(join(root, "build", "bench", "linux"), { recursive: true });
  const img = buildSiteImage([{ path: "index.html", data: Buffer.from(INDEX_HTML) }, { path: BIG_FILE, data: big() }]);
  if (!existsSync(out) || !readFileSync(out).equals(img)) writeFileSync(out, img);
  return out;
}

/** base (an nginx initramfs) plus /www/big.bin: nginx sends it from the
 *  page cache (the initramfs is in RAM) with sendfile. */
export function linuxBigInitramfs(root: string, base: string): string {
  const out = join(root, "build", "bench", "linux", "initramfs-http-nginx-big.cpio.gz");
  const overlay = gzipSync(cpioNewc([{ path: `www/${BIG_FILE}`, type: "file", data: big() }]), { level: 1 });
  const img = Buffer.concat([readFileSync(base), overlay]);
  if (!existsSync(out) || !readFileSync(out).equals(img)) writeFileSync(out, img);
  return out;
}

export function buildSkiffHttpd(root: string, io: IO): Promise<BuildResult> {
  return build({ app: join(root, "apps", "httpd"), outDir: join(root, "build", "bench", "httpd"), embed: siteDir(root), quiet: true }, io);
}

/** apps/kv, or the app folder in SKIFF_BENCH_KV_APP (to measure another
 *  version of it against the same kernel, e.g. an older kv checked out with
 *  `git show`). */
export function buildSkiffKv(root: string, io: IO): Promise<BuildResult> {
  const other = process.env.SKIFF_BENCH_KV_APP;
  const app = other ? other : join(root, "apps", "kv");
  return build({ app, outDir: join(root, "build", "bench", other ? "kv-other" : "kv"), quiet: true }, io);
}

/** /cgi-bin/uptime for busybox httpd: the Linux side of `GET /os/uptime`. */
const UPTIME_CGI = `#!/bin/sh
read up idle < /proc/uptime
printf 'Content-Type: application/json\\r\\n\\r\\n%s\\n' "$up"
`;

/** An initramfs (the busybox reference, or base: the nginx one) plus a
 *  second archive with the uptime CGI (the kernel unpacks concatenated
 *  archives in order). */
export function linuxHttpInitramfs(root: string, g: LinuxGuest, base: string = g.initramfs): string {
  const out = join(root, "build", "bench", "linux", base === g.initramfs ? "initramfs-http.cpio.gz" : "initramfs-http-nginx.cpio.gz");
  const overlay = gzipSync(cpioNewc([
    { path: "www/cgi-bin", type: "dir" },
    { path: "www/cgi-bin/uptime", type: "file", data: Buffer.from(UPTIME_CGI), mode: 0o755 },
  ]), { level: 9 });
  const img = Buffer.concat([readFileSync(base), overlay]);
  if (!existsSync(out) || !readFileSync(out).equals(img)) writeFileSync(out, img);
  return out;
}

const sh = (...a: string[]) => execFileSync(a[0], a.slice(1), { encoding: "utf8", timeout: 30000, stdio: ["ignore", "pipe", "pipe"] });

/** A tap device QEMU attaches to, moved into a namespace of its own once the
 *  guest is up (QEMU keeps its fd); the host end is TAP_HOST, the guest TAP_GUEST. */
export class TapNs {
  readonly tap: string;
  readonly ns: string;
  private created = false;
  private moved = false;
  constructor(tag: string) {
    this.tap = `${tag}t`;
    this.ns = `${tag}n`;
  }
  static usable(): boolean { return process.getuid?.() === 0 && existsSync("/dev/net/tun"); }
  create(): void {
    sh("ip", "tuntap", "add", "dev", this.tap, "mode", "tap");
    this.created = true;
  }
  /** Into the namespace, addressed and up. */
  attach(): void {
    sh("ip", "netns", "add", this.ns);
    this.moved = true;
    sh("ip", "link", "set", this.tap, "netns", this.ns);
    sh("ip", "-n", this.ns, "addr", "add", `${TAP_HOST}/24`, "dev", this.tap);
    sh("ip", "-n", this.ns, "link", "set", this.tap, "up");
    sh("ip", "-n", this.ns, "link", "set", "lo", "up");
  }
  get exec(): string[] { return ["ip", "netns", "exec", this.ns]; }
  /** Deletes the namespace (and the tap with it) or the tap alone; call after QEMU stopped. */
  remove(): void {
    if (this.moved) { try { sh("ip", "netns", "del", this.ns); } catch { /* gone */ } }
    if (this.created) { try { sh("ip", "link", "del", this.tap); } catch { /* moved and gone with the namespace */ } }
    this.created = this.moved = false;
  }
}

/** Polls url on the host until a 200; the instant it came, or null past the deadline. */
export async function firstAnswerAt(url: string, deadline: number): Promise<number | null> {
  while (performance.now() < deadline) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      if (r.status === 200) return performance.now();
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 20));
  }
  return null;
}

/** Polls url from inside the namespace (a Node process there: the static
 *  busybox's wget crashes on some hosts) until a 200; the instant, or null. */
export async function firstAnswerIn(t: TapNs, url: string, deadline: number): Promise<number | null> {
  const ms = Math.max(0, Math.round(deadline - performance.now()));
  const script = `const end = Date.now() + ${ms};
(async () => {
  while (Date.now() < end) {
    try { const r = await fetch(${JSON.stringify(url)}, { signal: AbortSignal.timeout(1000) }); await r.arrayBuffer(); if (r.status === 200) process.exit(0); } catch {}
    await new Promise((r) => setTimeout(r, 20));
  }
  process.exit(1);
})();`;
  const ok = await new Promise<boolean>((r) => execFile(t.exec[0], [...t.exec.slice(1), process.execPath, "-e", script], { timeout: ms + 10000 }, (e) => r(!e)));
  return ok ? performance.now() : null;
}

export interface Server {
  kind: Kind;
  network: Network;
  q: Launched;
  /** Base URL of the static server (port 80 in the guest). */
  web: string;
  /** Base URL of the uptime endpoint's server (Skiff REST on 8000, Linux busybox httpd's CGI on 8000). */
  api: string;
  /** Headers the uptime request carries (Skiff: the API's bearer token). */
  apiHeaders: string[];
  uptimePath: string;
  /** Prefix for commands that must run where the guest is reachable ([] or ip netns exec). */
  prefix: string[];
  readyMs: number | null;
  /** QEMU's VmRSS when ready appeared. */
  rssAtReadyKiB: number | null;
  /** From QEMU start to the first 200 on GET /. */
  firstHttpMs: number | null;
  stop(): Promise<void>;
}

export interface StartOptions {
  kind: Kind;
  network: Network;
  machine: Machine;
  memory: string;
  /** Skiff: httpd (default) or kv on a fresh raw disk. */
  app?: "httpd" | "kv";
  /** kv's disk (truncate -s syntax; default 64M). */
  diskSize?: string;
  /** Skiff httpd: a site image attached read-only (httpd serves the disk's site, not the embedded one). */
  siteImage?: string;
  skiffElf: string;
  g: LinuxGuest | null;
  linuxInitrd?: string;
  readyLimitMs: number;
  /** QEMU's hard limit. */
  lifeMs: number;
  tag?: string;
  scratch?: string;
  /** false: stop at ready (no network check); the server is left running. */
  waitHttp?: boolean;
  /** More QEMU arguments (e.g. `-trace` for bench/profile-http.ts). */
  qemuArgs?: string[];
}

/** Boots one server and waits for ready and a first HTTP answer; on failure the
 *  server is stopped and readyMs/firstHttpMs are null. */
export async function startServer(o: StartOptions): Promise<Server> {
  const pci = o.machine !== "microvm";
  const dev = pci ? "virtio-net-pci" : "virtio-net-device";
  const linux = o.kind === "linux";
  const app = o.app ?? "httpd";
  const extra: string[] = [...(o.qemuArgs ?? [])];
  if (linux) extra.push("-initrd", o.linuxInitrd ?? o.g!.initramfs);
  let disk: string | null = null;
  if (!linux && app === "kv") {
    disk = join(o.scratch ?? "/tmp", `skiff-bench-kv-${process.pid}.img`);
    writeFileSync(disk, Buffer.alloc(0));
    execFileSync("truncate", ["-s", o.diskSize ?? "64M", disk]);
    extra.push("-drive", `file=${disk},if=none,id=disk0,format=raw`, "-device", `${pci ? "virtio-blk-pci" : "virtio-blk-device"},drive=disk0`);
  }
  if (!linux && app === "httpd" && o.siteImage) {
    extra.push("-drive", `file=${o.siteImage},if=none,id=site0,format=raw,readonly=on`, "-device", `${pci ? "virtio-blk-pci" : "virtio-blk-device"},drive=site0`);
  }
  const word = linux ? LINUX_CMDLINE : `${app === "kv" ? "kv.port=80" : SKIFF_HTTPD_CMDLINE} ${SKIFF_API_CMDLINE}`;
  const ready = linux ? LINUX_READY : app === "kv" ? SKIFF_KV_READY : SKIFF_HTTPD_READY;
  let tap: TapNs | null = null;
  let web: string, api: string, cmdline: string;
  if (o.network === "user") {
    const [pw, pa] = [await freePort(), await freePort()];
    // Port 8000: Skiff's REST endpoint; in the Linux guest busybox httpd with the uptime CGI.
    const forwards: Forward[] = [{ proto: "tcp", hostPort: pw, guestPort: 80 }, { proto: "tcp", hostPort: pa, guestPort: 8000 }];
    extra.push(...netArgs({ mode: "user", forwards }, dev, pci));
    web = `http://127.0.0.1:${pw}`;
    api = `http://127.0.0.1:${pa}`;
    cmdline = word;
  } else {
    tap = new TapNs(o.tag ?? `skh${process.pid % 10000}`);
    tap.create();
    extra.push(...netArgs({ mode: "tap", tap: tap.tap }, dev, pci));
    web = `http://${TAP_GUEST}`;
    api = `http://${TAP_GUEST}:8000`;
    cmdline = linux ? `${word} bench.ip=${TAP_GUEST}/24 bench.gw=${TAP_HOST}` : `${word} ip=${TAP_GUEST}/24 gateway=${TAP_HOST}`;
  }
  const q = launch({ kernel: linux ? o.g!.vmlinux : o.skiffElf, machine: o.machine, memory: o.memory, cmdline, extraArgs: extra, timeoutMs: o.lifeMs });
  const stop = async () => {
    await q.stop();
    tap?.remove();
    if (disk) rmSync(disk, { force: true });
  };
  const s: Server = {
    kind: o.kind, network: o.network, q, web, api, uptimePath: linux ? "/cgi-bin/uptime" : "/os/uptime",
    apiHeaders: linux ? [] : [`Authorization: Bearer ${BENCH_API_TOKEN}`],
    prefix: tap ? tap.exec : [], readyMs: null, rssAtReadyKiB: null, firstHttpMs: null, stop,
  };
  try {
    s.readyMs = await q.waitFor(ready, o.readyLimitMs);
    if (s.readyMs === null) { await stop(); return s; }
    s.rssAtReadyKiB = q.rssKiB();
    if (o.waitHttp === false) return s;
    const deadline = performance.now() + 20000;
    const probe = web + (app === "kv" && !linux ? "/kv/" : "/");
    let at: number | null;
    if (tap) {
      tap.attach();
      at = await firstAnswerIn(tap, probe, deadline);
    } else {
      at = await firstAnswerAt(probe, deadline);
    }
    s.firstHttpMs = at === null ? null : at - q.t0;
    if (at === null) await stop();
    return s;
  } catch (e) {
    await stop();
    throw e;
  }
}

/** wrk Lua scripts for the kv store: PUTs of new keys (or, with keys, over
 *  keys k0..k(keys-1) again and again, so the log keeps compacting), GETs
 *  over the first n. */
export function kvScripts(dir: string, valueBytes: number, keys = 0): { put: string; get: (n: number) => string } {
  mkdirSync(dir, { recursive: true });
  const put = join(dir, `kv-put-${valueBytes}${keys ? `-${keys}` : ""}.lua`);
  const key = keys ? `(i % ${keys})` : "i";
  writeFileSync(put, `-- PUT /kv/k<i> with a ${valueBytes}-byte value, i counting up from 0${keys ? ` (modulo ${keys})` : ""}
local i = 0
local body = string.rep("v", ${valueBytes})
request = function()
  local r = wrk.format("PUT", "/kv/k" .. ${key}, { ["Content-Length"] = tostring(#body) }, body)
  i = i + 1
  return r
end
`);
  return {
    put,
    get: (n: number) => {
      const f = join(dir, `kv-get-${valueBytes}-${n}.lua`);
      writeFileSync(f, `-- GET /kv/k<i> over the ${n} keys written before
local i = 0
request = function()
  local r = wrk.format("GET", "/kv/k" .. (i % ${n}))
  i = i + 1
  return r
end
`);
      return f;
    },
  };
}
