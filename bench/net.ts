// bench/net.ts — issue #5's network benchmarks: TCP throughput host → guest
// and guest → host (MiB/s), sequential connections per second and round-trip
// latency, over QEMU user networking (forwards on 127.0.0.1) and over a tap
// device moved into a network namespace the benchmark creates and deletes.
// With --vs linux the same figures for the Linux reference guest (bench/linux)
// under identical QEMU flags, its services bench/linux/netsrv.c (one epoll
// loop; busybox nc -ll -e, a fork per connection, as an extra line).
//
// Guest half: bench/apps/netbench (echo 7, discard 9, source 19). Host half:
// bench/netclient.mjs, run with `ip netns exec` for the tap case, so both
// cases use one client. QEMUs are stopped by PID; the namespace and tap are
// deleted in finally blocks.
import { execFileSync, execFile } from "node:child_process";
import { existsSync, readFileSync, writeFileSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { build } from "../cli/lib/build.js";
import type { IO } from "../cli/lib/log.js";
import type { Machine } from "../cli/lib/qemu.js";
import { netArgs } from "../cli/lib/net.js";
import { freePort } from "./lib/http.js";
import { launch, type Launched } from "./lib/launch.js";
import { LINUX_CMDLINE } from "./linux/servers.js";
import { fmt } from "./lib/stats.js";
import { cpioNewc } from "./linux/cpio.js";
import { ensureLinuxGuest, INIT_PROLOGUE, type LinuxGuest } from "./linux/guest.js";

export type Guest = "skiff" | "linux";
export type Network = "user" | "tap";

export interface NetRow {
  guest: Guest;
  network: Network;
  machine: Machine;
  /** The device line's offload state (Skiff) or what Linux negotiated. */
  offload: string;
  /** Extra guest command line (e.g. virtio_net.no_tso: the same image with TSO off, for an A/B in one run). */
  variant?: string;
  upMiBs: number | null;
  downMiBs: number | null;
  /** Sequential conn/s from bench/linux/connclient.c (C). */
  connPerS: number | null;
  /** The same measured by bench/netclient.mjs (Node), kept for comparison with older runs. */
  connPerSNode?: number | null;
  rttP50Us: number | null;
  rttP99Us: number | null;
  error?: string;
}

export interface NetResult {
  bytes: number;
  conns: number;
  pings: number;
  memory: string;
  rows: NetRow[];
  notes: string[];
}

const SKIFF_READY = /netbench: ready on TCP 7/;
const LINUX_READY_LINE = "SKIFF-NET-READY";
const TAP_GUEST = "10.78.0.2";
const TAP_HOST = "10.78.0.1";

/** /init for the Linux guest: the modules and address as bench/linux does,
 *  the negotiated virtio-net feature bits, then the services: netsrv (one
 *  epoll loop, bench/linux/netsrv.c) or, with bench.busybox on the command
 *  line, busybox nc as echo, discard and source (one forked process per
 *  connection: the extra line). */
const LINUX_INIT = `${INIT_PROLOGUE}# The negotiated virtio feature bits, bit 0 first: CSUM is bit 0, GUEST_CSUM bit 1.
for d in /sys/bus/virtio/devices/*; do
  [ "$(cat $d/device)" = 0x0001 ] && echo "virtio-net features: $(cat $d/features)"
done
if grep -q bench.busybox /proc/cmdline; then
  nc -ll -p 7 -e cat &
  nc -ll -p 9 -e sh -c 'cat >/dev/null' &
  nc -ll -p 19 -e cat /dev/zero &
else
  /bin/netsrv &
fi
# 0A = LISTEN; ports 7, 9, 19 (0x13), in tcp or tcp6.
for p in 0007 0009 0013; do
  while ! grep -qE ":$p [0-9A-F]+:0000 0A" /proc/net/tcp /proc/net/tcp6 2>/dev/null; do usleep 10000; done
done
echo ${LINUX_READY_LINE}
exec sleep 2147483647
`;

/** bench/linux/netsrv.c built statically (like bench/linux/iobench.c). */
function buildNetsrv(root: string): string {
  const src = join(root, "bench", "linux", "netsrv.c");
  const out = join(root, "build", "bench", "linux", "netsrv");
  mkdirSync(join(root, "build", "bench", "linux"), { recursive: true });
  if (!existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs) {
    try {
      execFileSync("gcc", ["-static", "-O2", "-Wall", "-o", out, src], { stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      const err = e as { stderr?: Buffer; message: string };
      throw new Error(`gcc -static bench/linux/netsrv.c failed (bench/setup.sh installs gcc and libc6-dev): ${err.stderr?.toString().trim() || err.message}`);
    }
  }
  return out;
}

/** The reference initramfs with our /init and netsrv appended as a second
 *  archive (the kernel unpacks concatenated archives in order; later files win). */
function linuxNetInitramfs(root: string, g: LinuxGuest): string {
  const out = join(root, "build", "bench", "linux", "initramfs-net.cpio.gz");
  const overlay = gzipSync(cpioNewc([
    { path: "init", type: "file", data: Buffer.from(LINUX_INIT), mode: 0o755 },
    { path: "bin/netsrv", type: "file", data: readFileSync(buildNetsrv(root)), mode: 0o755 },
  ]), { level: 9 });
  const img = Buffer.concat([readFileSync(g.initramfs), overlay]);
  mkdirSync(join(root, "build", "bench", "linux"), { recursive: true });
  if (!existsSync(out) || !readFileSync(out).equals(img)) writeFileSync(out, img);
  return out;
}

/** bench/linux/connclient.c built for the host (the conn/s client). */
function buildConnclient(root: string): string {
  const src = join(root, "bench", "linux", "connclient.c");
  const out = join(root, "build", "bench", "connclient");
  mkdirSync(join(root, "build", "bench"), { recursive: true });
  if (!existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs) {
    try {
      execFileSync("gcc", ["-O2", "-Wall", "-o", out, src], { stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      const err = e as { stderr?: Buffer; message: string };
      throw new Error(`gcc bench/linux/connclient.c failed (bench/setup.sh installs gcc): ${err.stderr?.toString().trim() || err.message}`);
    }
  }
  return out;
}

/** Sequential connections per second measured by the C client (see connclient.c). */
function runConnclient(bin: string, prefix: string[], host: string, port: number, n: number): Promise<{ connPerS: number | null; errors: number; error?: string }> {
  const argv = [...prefix, bin, host, String(port), String(n)];
  return new Promise((resolve) => {
    execFile(argv[0], argv.slice(1), { timeout: 300000 }, (err, stdout, stderr) => {
      try {
        const r = JSON.parse(stdout.trim().split("\n").pop() ?? "");
        resolve({ connPerS: r.done > 0 ? r.connPerS : null, errors: r.errors, error: r.errors ? `${r.errors} of ${n} connections failed` : undefined });
      } catch {
        resolve({ connPerS: null, errors: n, error: `connclient: ${err?.message ?? ""} ${stderr.trim()}`.trim() });
      }
    });
  });
}

const sh = (...a: string[]) => execFileSync(a[0], a.slice(1), { encoding: "utf8", timeout: 30000, stdio: ["ignore", "pipe", "pipe"] });

interface ClientResult { up: number | null; down: number | null; connPerS: number | null; rtt: { p50: number; p99: number } | null; [k: string]: unknown }

function runClient(root: string, prefix: string[], o: { host: string; echo: number; discard: number; source: number; bytes: number; conns: number; pings: number }): Promise<ClientResult> {
  const argv = [...prefix, process.execPath, join(root, "bench", "netclient.mjs"), JSON.stringify({ ...o, limitMs: 120000 })];
  return new Promise((resolve, reject) => {
    execFile(argv[0], argv.slice(1), { timeout: 600000 }, (err, stdout, stderr) => {
      const line = stdout.trim().split("\n").pop() ?? "";
      try { resolve(JSON.parse(line)); } catch { reject(new Error(`netclient: ${err?.message ?? ""} ${stderr.trim()} ${stdout.trim()}`)); }
    });
  });
}

interface Case { guest: Guest; network: Network; machine: Machine; variant?: string }

async function oneCase(root: string, io: IO, c: Case, elf: string, g: LinuxGuest | null, initrd: string | null, o: { bytes: number; conns: number; pings: number; memory: string }): Promise<NetRow> {
  const row: NetRow = { ...c, offload: "?", upMiBs: null, downMiBs: null, connPerS: null, rttP50Us: null, rttP99Us: null };
  const pci = c.machine !== "microvm";
  const dev = pci ? "virtio-net-pci" : "virtio-net-device";
  const kernel = c.guest === "skiff" ? elf : g!.vmlinux;
  const initArgs = c.guest === "linux" ? ["-initrd", initrd!] : [];
  const ready = c.guest === "skiff" ? SKIFF_READY : new RegExp(LINUX_READY_LINE);
  const baseCmd = c.guest === "skiff" ? c.variant ?? "" : `${LINUX_CMDLINE}${c.variant ? " " + c.variant : ""}`;
  let q: Launched | null = null;
  const connBin = buildConnclient(root);
  const tag = `skb${process.pid % 10000}`;
  const tap = `${tag}t`, ns = `${tag}n`;
  try {
    let client: Promise<ClientResult>;
    let echoPort = 7;
    if (c.network === "user") {
      const [pe, pd, ps] = [await freePort(), await freePort(), await freePort()];
      const spec = { mode: "user" as const, forwards: [{ proto: "tcp" as const, hostPort: pe, guestPort: 7 }, { proto: "tcp" as const, hostPort: pd, guestPort: 9 }, { proto: "tcp" as const, hostPort: ps, guestPort: 19 }] };
      q = launch({ kernel, machine: c.machine, memory: o.memory, cmdline: baseCmd, extraArgs: [...initArgs, ...netArgs(spec, dev, pci)], timeoutMs: 900000 });
      if ((await q.waitFor(ready, 120000)) === null) throw new Error(`${c.guest} did not get ready: ${q.serial().slice(-400)}`);
      echoPort = pe;
      client = runClient(root, [], { host: "127.0.0.1", echo: pe, discard: pd, source: ps, ...o });
    } else {
      sh("ip", "tuntap", "add", "dev", tap, "mode", "tap");
      const cmd = c.guest === "skiff" ? `ip=${TAP_GUEST}/24 gateway=${TAP_HOST}${c.variant ? " " + c.variant : ""}` : `${baseCmd} bench.ip=${TAP_GUEST}/24 bench.gw=${TAP_HOST}`;
      q = launch({ kernel, machine: c.machine, memory: o.memory, cmdline: cmd, extraArgs: [...initArgs, ...netArgs({ mode: "tap", tap }, dev, pci)], timeoutMs: 900000 });
      if ((await q.waitFor(ready, 120000)) === null) throw new Error(`${c.guest} did not get ready: ${q.serial().slice(-400)}`);
      // QEMU holds the tap open; moving it into the namespace keeps the fd
      // attached and keeps the benchmark's traffic off the host's interfaces.
      sh("ip", "netns", "add", ns);
      sh("ip", "link", "set", tap, "netns", ns);
      sh("ip", "-n", ns, "addr", "add", `${TAP_HOST}/24`, "dev", tap);
      sh("ip", "-n", ns, "link", "set", tap, "up");
      sh("ip", "-n", ns, "link", "set", "lo", "up");
      client = runClient(root, ["ip", "netns", "exec", ns], { host: TAP_GUEST, echo: 7, discard: 9, source: 19, ...o });
    }
    const serial = q.serial();
    const off = /csum offload (\S+)(?: tso4 (\S+))?/.exec(serial);
    if (off) row.offload = off[2] ? `csum ${off[1]}, tso4 ${off[2]}` : off[1];
    const lf = /virtio-net features: ([01]+)/.exec(serial);
    if (lf) row.offload = lf[1][0] === "1" && lf[1][1] === "1" ? "tx+rx" : lf[1][0] === "1" ? "tx" : lf[1][1] === "1" ? "rx" : "none";
    const r = await client;
    // conn/s from the C client, after the Node client is done (the Node
    // client's own figure is kept as connPerSNode).
    const cc = await runConnclient(connBin, c.network === "tap" ? ["ip", "netns", "exec", ns] : [], c.network === "tap" ? TAP_GUEST : "127.0.0.1", echoPort, o.conns);
    row.upMiBs = r.up; row.downMiBs = r.down; row.connPerS = cc.connPerS; row.connPerSNode = r.connPerS;
    if (cc.error) r.connclientError = cc.error;
    row.rttP50Us = r.rtt?.p50 ?? null; row.rttP99Us = r.rtt?.p99 ?? null;
    const errs = Object.entries(r).filter(([k]) => k.endsWith("Error")).map(([k, v]) => `${k.replace(/Error$/, "")}: ${v}`);
    if (errs.length) row.error = errs.join("; ");
  } catch (e) {
    row.error = (e as Error).message.split("\n")[0];
  } finally {
    if (q) await q.stop();
    if (c.network === "tap") {
      try { sh("ip", "netns", "del", ns); } catch { /* never created */ }
      try { sh("ip", "link", "del", tap); } catch { /* moved into the namespace and gone with it */ }
    }
  }
  io.out(`  ${c.guest}${c.variant ? ` (${c.variant})` : ""} ${c.network} ${c.machine}: up ${fmt(row.upMiBs)} MiB/s, down ${fmt(row.downMiBs)} MiB/s, ` +
    `${fmt(row.connPerS, 0)} conn/s (Node client ${fmt(row.connPerSNode ?? null, 0)}), rtt p50 ${fmt(row.rttP50Us, 0)} µs p99 ${fmt(row.rttP99Us, 0)} µs` +
    ` (offload ${row.offload})${row.error ? ` ERROR ${row.error}` : ""}`);
  return row;
}

export async function runNet(root: string, io: IO, opts: { machines: Machine[]; bytes: number; conns: number; pings: number; linux: boolean; memory: string }): Promise<NetResult> {
  io.out("net: building bench/apps/netbench");
  const app = await build({ app: join(root, "bench", "apps", "netbench"), outDir: join(root, "build", "bench", "netbench"), quiet: true }, io);
  const notes: string[] = [];
  const canTap = process.getuid?.() === 0 && existsSync("/dev/net/tun");
  if (!canTap) notes.push("tap: not measured (needs root and /dev/net/tun to create the namespace and tap device).");
  let g: LinuxGuest | null = null;
  let initrd: string | null = null;
  if (opts.linux) {
    g = ensureLinuxGuest(root, io);
    initrd = linuxNetInitramfs(root, g);
  }
  if (opts.linux) {
    notes.push("Both guests negotiate TSO4 both ways where QEMU offers it (tap with vnet_hdr), moving up to 64 KiB per virtio buffer; user networking offers no offload at all.");
  }
  notes.push("Under TCG both guests' throughput is bound by CPU cost per packet (QEMU at 100 % of a core during a transfer); Skiff's per-packet work is described in docs/ARCHITECTURE.md (network section, throughput).");
  const rows: NetRow[] = [];
  const networks: Network[] = canTap ? ["user", "tap"] : ["user"];
  for (const machine of opts.machines) {
    for (const network of networks) {
      for (const guest of (opts.linux ? ["skiff", "linux"] : ["skiff"]) as Guest[]) {
        // Over tap Skiff also runs with TSO off (same image): the offload's share, A/B in one run.
        if (guest === "skiff" && network === "tap") rows.push(await oneCase(root, io, { guest, network, machine, variant: "virtio_net.no_tso" }, app.elf, g, initrd, opts));
        // And with socket buffers held at their first 32 KiB (no auto-tuning): that change's share.
        if (guest === "skiff" && network === "tap") rows.push(await oneCase(root, io, { guest, network, machine, variant: "tcp.no_autotune" }, app.elf, g, initrd, opts));
        rows.push(await oneCase(root, io, { guest, network, machine }, app.elf, g, initrd, opts));
        // The busybox nc services (a fork per connection), an extra line on user networking.
        if (guest === "linux" && network === "user") rows.push(await oneCase(root, io, { guest, network, machine, variant: "bench.busybox" }, app.elf, g, initrd, opts));
      }
    }
  }
  return { bytes: opts.bytes, conns: opts.conns, pings: opts.pings, memory: opts.memory, rows, notes };
}

/** The docs/BENCHMARKS.md section (marked `net`). */
export function netMarkdown(hostLine: string, r: NetResult): string {
  const rows = r.rows.map((x) =>
    `| ${x.guest === "skiff" ? "Skiff" : x.variant === "bench.busybox" ? "extra: Linux with busybox nc, a fork per connection" : "Linux (netsrv, epoll)"}${x.variant && x.variant !== "bench.busybox" ? ` (\`${x.variant}\`)` : ""} | ${x.network} | ${x.machine} | ${fmt(x.upMiBs)} | ${fmt(x.downMiBs)} | ${fmt(x.connPerS, 0)} | ` +
    `${fmt(x.rttP50Us, 0)} / ${fmt(x.rttP99Us, 0)} | ${x.offload}${x.error ? ` — error: ${x.error}` : ""} |`).join("\n");
  return `## Network (issue #5)

${hostLine}

One run per row (no medians: these are short, single measurements; under TCG
they mostly measure instruction emulation). Guest: \`bench/apps/netbench\`
(TCP echo on 7, discard on 9, a zero source on 19, default 32 KiB socket
buffers). Linux guest (\`--vs linux\`): the bench/linux kernel with
\`bench/linux/netsrv.c\` (built with gcc -static): echo, discard and source in one
epoll loop, no fork. The extra \`bench.busybox\` line runs \`busybox nc -ll -e\`
instead (echo \`cat\`, discard \`sh -c 'cat >/dev/null'\`, source \`cat /dev/zero\`):
one forked process per connection, which is what its connections per second pay for. Same QEMU flags for both (\`-m ${r.memory}\`,
\`cli/lib/qemu.ts\`, the same \`-netdev\`/\`-device\` from \`cli/lib/net.ts\`).
Client: \`bench/netclient.mjs\` (Node), on the host against forwards on
127.0.0.1 for *user*; inside a network namespace that holds the tap device
(10.78.0.1 ↔ guest 10.78.0.2) for *tap*.

- *up*: host → guest, ${r.bytes / 1048576} MiB written to discard, timed until the guest closes after reading it all.
- *down*: guest → host, ${r.bytes / 1048576} MiB read from source.
- *conn/s*: ${r.conns} sequential connections to echo, each one byte there and back, then closed, made by \`bench/linux/connclient.c\` (C, built by the bench) after the Node client's own figures (the Node client's conn/s is in the raw JSON as connPerSNode: its per-connection callbacks cost about as much as a guest's work and capped the row).
- *RTT*: one byte bounced ${r.pings} times on one connection (Nagle off), p50 / p99.
- *offload*: Skiff's device line (\`csum offload tx+rx tso4 tx+rx\` when QEMU offers
  VIRTIO_NET_F_CSUM/GUEST_CSUM and HOST_TSO4/GUEST_TSO4: tap with vnet_hdr; user networking offers none),
  or the Linux guest's negotiated checksum bits. The row with \`virtio_net.no_tso\` is the same
  Skiff image with TSO left off.

| guest | network | machine | up MiB/s | down MiB/s | conn/s | RTT p50 / p99 µs | offload |
| --- | --- | --- | --- | --- | --- | --- | --- |
${rows}
${r.notes.length ? "\n" + r.notes.map((n) => `- ${n}`).join("\n") + "\n" : ""}`;
}

/** Replaces (or appends) the marked net section of docs/BENCHMARKS.md's text. */
export function netSection(existing: string, body: string): string {
  const begin = "<!-- bench:net:begin -->";
  const end = "<!-- bench:net:end -->";
  const block = `${begin}\n${body.trim()}\n${end}`;
  const a = existing.indexOf(begin);
  const b = existing.indexOf(end);
  if (a >= 0 && b > a) return existing.slice(0, a) + block + existing.slice(b + end.length);
  return existing.trimEnd() + "\n\n" + block + "\n";
}
