// bench/linux.ts — `--vs linux` (issue #7): Skiff and a Linux guest side by
// side in one run, alternating, with the same QEMU, flags, -m and network
// backend, both serving the same small file on port 80 (Skiff: apps/httpd with
// the file embedded; Linux: busybox httpd): time from QEMU start to ready and
// to the first HTTP answer, QEMU VmRSS once ready, the smallest -m that
// reaches ready, image bytes, and wrk against both guests over user networking
// and over a tap device inside a network namespace the benchmark creates and
// deletes, plus the same busybox httpd on the host (no virtualization).
import { statSync } from "node:fs";
import type { IO } from "../cli/lib/log.js";
import type { Machine } from "../cli/lib/qemu.js";
import { hostHttpd, freePort, runWrk, WRK_ARGS, type WrkResult } from "./lib/http.js";
import { smallest, summarize, type Summary } from "./lib/stats.js";
import { HTTP_CONNECTIONS, USER_NET_TAIL_NOTE } from "./http.js";
import { ensureLinuxGuest, ensureNginxGuest, INDEX_HTML, type LinuxGuest } from "./linux/guest.js";
import { buildSkiffHttpd, siteDir, startServer, TapNs, type Kind, type Network, type Server } from "./linux/servers.js";

export interface LinuxMachineResult {
  machine: Machine;
  skiffReadyMs: Summary | null;
  linuxReadyMs: Summary | null;
  readyRatio: Summary | null;
  skiffHttpMs: Summary | null;
  linuxHttpMs: Summary | null;
  httpRatio: Summary | null;
  skiffRssMiB: Summary | null;
  linuxRssMiB: Summary | null;
  rssRatio: Summary | null;
  skiffMinMemKiB: number | null;
  linuxMinMemMiB: number | null;
  linuxHangs: number;
  linuxRuns: number;
  skiffFailures: number;
}

export interface WrkRow {
  /** "skiff" | "linux" (nginx) | "busybox" (the Linux guest with busybox httpd, an extra line) | "host" */
  server: Kind | "host" | "busybox";
  network: Network | "loopback";
  machine: Machine | null;
  rps: Summary | null;
  p50Ms: Summary | null;
  p99Ms: Summary | null;
  /** Skiff / Linux over the paired runs (Skiff rows only). */
  rpsRatio: Summary | null;
  p50Ratio: Summary | null;
  p99Ratio: Summary | null;
  runs: { rps: number | null; p50Ms: number | null; p99Ms: number | null; errors: number; non2xx: number }[];
  error?: string;
}

export interface LinuxResult {
  rounds: number;
  wrkRuns: number;
  memory: string;
  readyLimitS: number;
  linuxKernel: string;
  busyboxVersion: string;
  vmlinuxBytes: number;
  bzImageBytes: number;
  initramfsBytes: number;
  skiffImageBytes: number;
  file: { bytes: number };
  machines: LinuxMachineResult[];
  http: { wrkArgs: string; rows: WrkRow[]; notes: string[] };
}

export { LINUX_CMDLINE } from "./linux/servers.js";

interface Probe { readyMs: number | null; httpMs: number | null; rssKiB: number | null }

async function probe(kind: Kind, machine: Machine, memory: string, elf: string, g: LinuxGuest, limitMs: number, http: boolean): Promise<Probe> {
  const s = await startServer({ kind, network: "user", machine, memory, skiffElf: elf, g, readyLimitMs: limitMs, lifeMs: limitMs + 30000, waitHttp: http });
  try {
    return { readyMs: s.readyMs, httpMs: s.firstHttpMs, rssKiB: s.rssAtReadyKiB };
  } finally {
    await s.stop();
  }
}

const ratioOf = (a: (number | null)[], b: (number | null)[]) => {
  const out: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] != null && b[i] != null && b[i]! > 0) out.push(a[i]! / b[i]!);
  return summarize(out);
};
const okNums = (xs: (number | null)[]) => xs.filter((x): x is number => x !== null);

/** wrk `runs` times against one server; a run with more than 1 % non-2xx answers counts as failed. */
async function wrkRuns(io: IO, label: string, url: string, prefix: string[], runs: number, seconds: number): Promise<WrkRow["runs"]> {
  const out: WrkRow["runs"] = [];
  for (let i = 0; i < runs; i++) {
    const w: WrkResult = await runWrk(url, seconds, prefix, { connections: HTTP_CONNECTIONS });
    const good = w.rps !== null && w.requests !== null && w.non2xx <= w.requests / 100;
    out.push({ rps: good ? w.rps : null, p50Ms: good ? w.p50Ms : null, p99Ms: good ? w.p99Ms : null, errors: w.errors, non2xx: w.non2xx });
    io.out(`    ${label} wrk ${i + 1}/${runs}: ${w.rps?.toFixed(0) ?? "FAIL"} req/s, p50 ${w.p50 ?? "n/a"}, p99 ${w.p99 ?? "n/a"}` +
      `${w.errors ? `, ${w.errors} socket errors` : ""}${w.non2xx ? `, ${w.non2xx} non-2xx` : ""}${w.rps === null ? ` (${w.raw.trim().slice(0, 160)})` : ""}`);
  }
  return out;
}

function row(server: WrkRow["server"], network: WrkRow["network"], machine: Machine | null, runs: WrkRow["runs"], error?: string): WrkRow {
  return {
    server, network, machine, runs, error,
    rps: summarize(okNums(runs.map((r) => r.rps))), p50Ms: summarize(okNums(runs.map((r) => r.p50Ms))), p99Ms: summarize(okNums(runs.map((r) => r.p99Ms))),
    rpsRatio: null, p50Ratio: null, p99Ratio: null,
  };
}

export async function runLinux(root: string, io: IO, opts: { rounds: number; machines: Machine[]; wrkSeconds: number; memory: string; readyLimitS: number }): Promise<LinuxResult> {
  const g = ensureLinuxGuest(root, io);
  const nginx = ensureNginxGuest(root, io, g);
  io.out(`vs linux: building apps/httpd with the same ${Buffer.byteLength(INDEX_HTML)}-byte index.html busybox httpd serves`);
  const skiff = await buildSkiffHttpd(root, io);
  const limitMs = opts.readyLimitS * 1000;
  const wrkN = Math.min(opts.rounds, 3);
  const machines: LinuxMachineResult[] = [];
  const rows: WrkRow[] = [];
  const notes: string[] = [];
  const networks: Network[] = TapNs.usable() ? ["user", "tap"] : ["user"];
  if (!TapNs.usable()) notes.push("tap: not measured (needs root and /dev/net/tun to create the namespace and tap device).");

  for (const machine of opts.machines) {
    const s: Probe[] = [];
    const l: Probe[] = [];
    for (let i = 0; i < opts.rounds; i++) {
      // Alternate which guest goes first so warm caches favour neither.
      const order: Kind[] = i % 2 ? ["linux", "skiff"] : ["skiff", "linux"];
      for (const kind of order) (kind === "skiff" ? s : l).push(await probe(kind, machine, opts.memory, skiff.elf, g, limitMs, true));
      const [ss, ls] = [s.at(-1)!, l.at(-1)!];
      io.out(`  ${machine} round ${i + 1}/${opts.rounds}: Skiff ready ${ss.readyMs?.toFixed(0) ?? "FAIL"} ms, first HTTP ${ss.httpMs?.toFixed(0) ?? "n/a"} ms; ` +
        `Linux ready ${ls.readyMs?.toFixed(0) ?? "HANG"} ms, first HTTP ${ls.httpMs?.toFixed(0) ?? "n/a"} ms`);
    }

    io.out(`  ${machine}: smallest -m reaching ready (Skiff in 64 KiB steps, Linux in 4 MiB steps)`);
    const skiffMin = await smallest(1088, 65536, 64, async (kib) =>
      (await probe("skiff", machine, `${kib}K`, skiff.elf, g, 20000, false)).readyMs !== null);
    const linuxMin = await smallest(16, 512, 4, async (m) => {
      // A hang under TCG (PIT calibration on microvm) is not a memory verdict: try twice.
      for (let t = 0; t < 2; t++) if ((await probe("linux", machine, `${m}M`, skiff.elf, g, limitMs, false)).readyMs !== null) return true;
      return false;
    });
    io.out(`  ${machine}: smallest -m Skiff ${skiffMin ?? "n/a"} KiB, Linux ${linuxMin ?? "n/a"} MiB`);

    machines.push({
      machine,
      skiffReadyMs: summarize(okNums(s.map((p) => p.readyMs))),
      linuxReadyMs: summarize(okNums(l.map((p) => p.readyMs))),
      readyRatio: ratioOf(s.map((p) => p.readyMs), l.map((p) => p.readyMs)),
      skiffHttpMs: summarize(okNums(s.map((p) => p.httpMs))),
      linuxHttpMs: summarize(okNums(l.map((p) => p.httpMs))),
      httpRatio: ratioOf(s.map((p) => p.httpMs), l.map((p) => p.httpMs)),
      skiffRssMiB: summarize(okNums(s.map((p) => p.rssKiB)).map((k) => k / 1024)),
      linuxRssMiB: summarize(okNums(l.map((p) => p.rssKiB)).map((k) => k / 1024)),
      rssRatio: ratioOf(s.map((p) => p.rssKiB), l.map((p) => p.rssKiB)),
      skiffMinMemKiB: skiffMin,
      linuxMinMemMiB: linuxMin,
      linuxHangs: l.filter((p) => p.readyMs === null).length,
      linuxRuns: l.length,
      skiffFailures: s.filter((p) => p.httpMs === null).length,
    });

    // wrk: one boot per guest and network, wrkN runs against it.
    for (const network of networks) {
      const pair: Partial<Record<Kind | "busybox", WrkRow>> = {};
      // Skiff, Linux with nginx, and on user networking also Linux with busybox httpd (an extra line).
      const servers: (Kind | "busybox")[] = network === "user" ? ["skiff", "linux", "busybox"] : ["skiff", "linux"];
      for (const who of servers) {
        const kind: Kind = who === "skiff" ? "skiff" : "linux";
        let srv: Server | null = null;
        try {
          srv = await startServer({
            kind, network, machine, memory: opts.memory, skiffElf: skiff.elf, g, readyLimitMs: limitMs,
            linuxInitrd: who === "linux" ? nginx.initramfs : undefined,
            lifeMs: limitMs + 60000 + wrkN * (opts.wrkSeconds + 30) * 1000, tag: `skl${process.pid % 10000}`,
          });
          if (srv.firstHttpMs === null) {
            pair[who] = row(who, network, machine, [], srv.readyMs === null ? (kind === "linux" ? "hang (no READY)" : "not ready") : "no HTTP answer");
          } else {
            io.out(`  ${machine} ${network}: wrk against ${who} (${srv.web})`);
            pair[who] = row(who, network, machine, await wrkRuns(io, `${who} ${network}`, `${srv.web}/index.html`, srv.prefix, wrkN, opts.wrkSeconds));
          }
        } catch (e) {
          pair[who] = row(who, network, machine, [], (e as Error).message.split("\n")[0]);
        } finally {
          if (srv) await srv.stop();
        }
      }
      const [a, b] = [pair.skiff!, pair.linux!];
      a.rpsRatio = ratioOf(a.runs.map((r) => r.rps), b.runs.map((r) => r.rps));
      a.p50Ratio = ratioOf(a.runs.map((r) => r.p50Ms), b.runs.map((r) => r.p50Ms));
      a.p99Ratio = ratioOf(a.runs.map((r) => r.p99Ms), b.runs.map((r) => r.p99Ms));
      rows.push(a, b);
      if (pair.busybox) rows.push(pair.busybox);
    }
  }

  // The same httpd on the host: the no-virtualization reference.
  const hp = await freePort();
  const h = await hostHttpd(g.busybox, siteDir(root), hp);
  try {
    io.out(`  host: wrk against busybox httpd on 127.0.0.1 (pid ${h.pid})`);
    rows.push(row("host", "loopback", null, await wrkRuns(io, "host", `http://127.0.0.1:${hp}/index.html`, [], wrkN, opts.wrkSeconds)));
  } finally {
    await h.stop();
  }
  notes.push(`The Linux rows run Debian's nginx ${nginx.version} (one worker, keep-alive, sendfile, access log off: bench/linux/guest.ts NGINX_CONF); Skiff / Linux compares with them. The extra busybox line (and the host's) answers one request per connection (no keep-alive) and forks per request, so wrk reconnects for each.`);
  notes.push(USER_NET_TAIL_NOTE);

  return {
    rounds: opts.rounds,
    wrkRuns: wrkN,
    memory: opts.memory,
    readyLimitS: opts.readyLimitS,
    linuxKernel: g.kernelPackage,
    busyboxVersion: g.busyboxVersion,
    vmlinuxBytes: statSync(g.vmlinux).size,
    bzImageBytes: g.bzImageBytes,
    initramfsBytes: statSync(g.initramfs).size,
    skiffImageBytes: skiff.bytes,
    file: { bytes: Buffer.byteLength(INDEX_HTML) },
    machines,
    http: { wrkArgs: WRK_ARGS(opts.wrkSeconds, HTTP_CONNECTIONS).join(" "), rows, notes },
  };
}
