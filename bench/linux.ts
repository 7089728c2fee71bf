// bench/linux.ts — `--vs linux` (issues #7 and #14): Skiff and a Linux guest
// side by side in one run, alternating, with the same QEMU, flags, -m and
// network backend: time from QEMU start to ready and to the first HTTP answer,
// QEMU VmRSS once ready, the smallest -m that reaches ready (one search, the
// same steps for both), image bytes; then HTTP on q35 over user networking and
// over a tap device inside a network namespace the benchmark creates and
// deletes, Skiff's apps/httpd against Debian's nginx in the Linux guest: a
// small file with keep-alive at wrk -c32 and -c256, and a 16 MiB file
// downloaded a few times on one connection (nginx with sendfile). busybox
// httpd (in the guest and on the host) only as extra lines.
import { statSync } from "node:fs";
import type { IO } from "../cli/lib/log.js";
import type { Machine } from "../cli/lib/qemu.js";
import { downloads, hostHttpd, freePort, runWrk, WRK_ARGS, type WrkResult } from "./lib/http.js";
import { smallest, summarize, type Summary } from "./lib/stats.js";
import { USER_NET_TAIL_NOTE } from "./http.js";
import { ensureLinuxGuest, ensureNginxGuest, INDEX_HTML, type LinuxGuest } from "./linux/guest.js";
import {
  BIG_BYTES, BIG_FILE, bigSiteImage, buildSkiffHttpd, linuxBigInitramfs, linuxHttpInitramfs, siteDir, startServer, TapNs,
  type Kind, type Network, type Server,
} from "./linux/servers.js";

/** The small-file rows: keep-alive at these wrk -c levels (issue #14). */
export const HTTP_LEVELS = [32, 256];
/** The smallest -m search, the same for both guests (KiB). */
export const MIN_MEM = { loKiB: 1024, hiKiB: 512 * 1024, stepKiB: 64 };

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
  linuxMinMemKiB: number | null;
  linuxHangs: number;
  linuxRuns: number;
  skiffFailures: number;
}

export interface WrkRow {
  /** "skiff" | "linux" (nginx) | "busybox" (the Linux guest with busybox httpd, an extra line) | "host" */
  server: Kind | "host" | "busybox";
  network: Network | "loopback";
  machine: Machine | null;
  /** wrk -c */
  connections: number;
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

/** The 16 MiB download: one boot, `downloads` GETs on one connection after a warm-up GET. */
export interface FileRow {
  server: Kind;
  network: Network;
  machine: Machine;
  mibs: Summary | null;
  secs: Summary | null;
  /** Skiff / Linux MiB/s over the paired downloads (Skiff rows only). */
  ratio: Summary | null;
  runs: { code: number | null; bytes: number | null; secs: number | null; mibs: number | null }[];
  error?: string;
}

export interface LinuxResult {
  rounds: number;
  wrkRuns: number;
  memory: string;
  readyLimitS: number;
  linuxKernel: string;
  busyboxVersion: string;
  nginxVersion: string;
  vmlinuxBytes: number;
  bzImageBytes: number;
  initramfsBytes: number;
  skiffImageBytes: number;
  file: { bytes: number };
  minMem: { loKiB: number; hiKiB: number; stepKiB: number };
  machines: LinuxMachineResult[];
  http: { machine: Machine; wrkSeconds: number; wrkArgs: string; levels: number[]; rows: WrkRow[]; notes: string[] };
  files: { machine: Machine; bytes: number; downloads: number; rows: FileRow[] };
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
async function wrkRuns(io: IO, label: string, url: string, prefix: string[], runs: number, seconds: number, connections: number): Promise<WrkRow["runs"]> {
  const out: WrkRow["runs"] = [];
  for (let i = 0; i < runs; i++) {
    const w: WrkResult = await runWrk(url, seconds, prefix, { connections });
    const good = w.rps !== null && w.requests !== null && w.non2xx <= w.requests / 100;
    out.push({ rps: good ? w.rps : null, p50Ms: good ? w.p50Ms : null, p99Ms: good ? w.p99Ms : null, errors: w.errors, non2xx: w.non2xx });
    io.out(`    ${label} -c${connections} wrk ${i + 1}/${runs}: ${w.rps?.toFixed(0) ?? "FAIL"} req/s, p50 ${w.p50 ?? "n/a"}, p99 ${w.p99 ?? "n/a"}` +
      `${w.errors ? `, ${w.errors} socket errors` : ""}${w.non2xx ? `, ${w.non2xx} non-2xx` : ""}${w.rps === null ? ` (${w.raw.trim().slice(0, 160)})` : ""}`);
  }
  return out;
}

function row(server: WrkRow["server"], network: WrkRow["network"], machine: Machine | null, connections: number, runs: WrkRow["runs"], error?: string): WrkRow {
  return {
    server, network, machine, connections, runs, error,
    rps: summarize(okNums(runs.map((r) => r.rps))), p50Ms: summarize(okNums(runs.map((r) => r.p50Ms))), p99Ms: summarize(okNums(runs.map((r) => r.p99Ms))),
    rpsRatio: null, p50Ratio: null, p99Ratio: null,
  };
}

function fileRow(server: Kind, network: Network, machine: Machine, runs: FileRow["runs"], error?: string): FileRow {
  return {
    server, network, machine, runs, error, ratio: null,
    mibs: summarize(okNums(runs.map((r) => r.mibs))), secs: summarize(okNums(runs.map((r) => r.mibs === null ? null : r.secs))),
  };
}

/** The 16 MiB file: a warm-up GET (Skiff reads it from its disk into its
 *  cache; nginx's page cache holds it already), then n timed GETs. */
async function fileRuns(io: IO, label: string, url: string, prefix: string[], n: number): Promise<FileRow["runs"]> {
  const all = await downloads(url, n + 1, prefix);
  const runs = all.slice(1).map((d) => {
    const good = d.code === 200 && d.bytes === BIG_BYTES && d.secs !== null && d.secs > 0;
    return { ...d, mibs: good ? BIG_BYTES / 1048576 / d.secs! : null };
  });
  io.out(`    ${label} ${BIG_BYTES >> 20} MiB GET: warm-up ${all[0].code ?? "FAIL"} in ${all[0].secs?.toFixed(2) ?? "n/a"} s; ` +
    runs.map((r) => r.mibs === null ? `FAIL (${r.code}, ${r.bytes} bytes)` : `${r.mibs.toFixed(1)} MiB/s`).join(", "));
  return runs;
}

/** The HTTP machine: q35 unless only others were named (keeps the run short). */
export function httpMachine(machines: Machine[]): Machine {
  return machines.includes("q35") ? "q35" : machines[0];
}

/** Notes for every row whose p99 is over 50 ms: why, where the run says so. */
export function tailNotes(rows: WrkRow[]): string[] {
  const over = rows.filter((r) => r.p99Ms && r.p99Ms.max > 50 && (r.server === "skiff" || r.server === "linux"));
  if (!over.length) return [];
  const who = (r: WrkRow) => `${r.server === "skiff" ? "Skiff" : "nginx"} ${r.network} -c${r.connections} (p99 up to ${r.p99Ms!.max.toFixed(0)} ms)`;
  const user = over.filter((r) => r.network === "user");
  const tap = over.filter((r) => r.network !== "user");
  const out: string[] = [];
  if (user.length) out.push(`p99 over 50 ms over user networking: ${user.map(who).join("; ")}: QEMU's host forward (see the user-networking note).`);
  if (tap.length) out.push(`p99 over 50 ms over tap (no host forward): ${tap.map(who).join("; ")}: not from a forward; see below and the per-row "what is left" of issue #14's targets.`);
  // Little's law: with c connections always busy the mean latency is c / throughput.
  const queued = over.filter((r) => r.rps && r.connections / r.rps.median * 1000 > 50);
  if (queued.length) {
    out.push(`Queueing (Little's law: with every connection busy, mean latency = connections / requests per second): ${queued.map((r) => `${r.server === "skiff" ? "Skiff" : "nginx"} ${r.network} -c${r.connections} ${(r.connections / r.rps!.median * 1000).toFixed(0)} ms`).join("; ")}. ` +
      "At that load the latencies are mostly waiting in the server's queue, so a p99 well above the mean says how unevenly the server serves its connections, and it falls as throughput rises.");
  }
  return out;
}

export async function runLinux(root: string, io: IO, opts: { rounds: number; machines: Machine[]; wrkSeconds: number; wrkRuns?: number; downloads?: number; memory: string; readyLimitS: number }): Promise<LinuxResult> {
  const g = ensureLinuxGuest(root, io);
  const nginx = ensureNginxGuest(root, io, g);
  io.out(`vs linux: building apps/httpd with the same ${Buffer.byteLength(INDEX_HTML)}-byte index.html the Linux guest serves`);
  const skiff = await buildSkiffHttpd(root, io);
  const site = bigSiteImage(root);
  const nginxBig = linuxBigInitramfs(root, linuxHttpInitramfs(root, g, nginx.initramfs));
  const limitMs = opts.readyLimitS * 1000;
  const wrkN = opts.wrkRuns ?? Math.min(opts.rounds, 3);
  const dlN = opts.downloads ?? 5;
  const machines: LinuxMachineResult[] = [];
  const rows: WrkRow[] = [];
  const files: FileRow[] = [];
  const notes: string[] = [];
  const networks: Network[] = TapNs.usable() ? ["user", "tap"] : ["user"];
  if (!TapNs.usable()) notes.push("tap: not measured (needs root and /dev/net/tun to create the namespace and tap device).");

  for (const machine of opts.machines) {
    const s: Probe[] = [];
    const l: Probe[] = [];
    // If the Linux guest hangs at boot (it did on microvm under TCG before it
    // was told the TSC rate: LINUX_CMDLINE), after two rounds where it never
    // got ready it is not booted again on this machine (each hang costs the
    // whole ready limit).
    const linuxGaveUp = () => l.length >= 2 && l.every((p) => p.readyMs === null);
    for (let i = 0; i < opts.rounds; i++) {
      // Alternate which guest goes first so warm caches favour neither.
      const order: Kind[] = (i % 2 ? ["linux", "skiff"] : ["skiff", "linux"]).filter((k) => k === "skiff" || !linuxGaveUp()) as Kind[];
      for (const kind of order) (kind === "skiff" ? s : l).push(await probe(kind, machine, opts.memory, skiff.elf, g, limitMs, true));
      const [ss, ls] = [s.at(-1)!, l.at(-1)!];
      io.out(`  ${machine} round ${i + 1}/${opts.rounds}: Skiff ready ${ss.readyMs?.toFixed(0) ?? "FAIL"} ms, first HTTP ${ss.httpMs?.toFixed(0) ?? "n/a"} ms; ` +
        (order.includes("linux") ? `Linux ready ${ls.readyMs?.toFixed(0) ?? "HANG"} ms, first HTTP ${ls.httpMs?.toFixed(0) ?? "n/a"} ms` : "Linux not booted (it never got ready here)"));
    }

    // One search for both: the same range, steps and verdict (ready within the
    // limit; a miss is tried again, since a hang under TCG is not a memory verdict).
    io.out(`  ${machine}: smallest -m reaching ready (both in ${MIN_MEM.stepKiB} KiB steps, ${MIN_MEM.loKiB} KiB–${MIN_MEM.hiKiB >> 10} MiB)`);
    const minMem = (kind: Kind) => smallest(MIN_MEM.loKiB, MIN_MEM.hiKiB, MIN_MEM.stepKiB, async (kib) => {
      for (let t = 0; t < 2; t++) if ((await probe(kind, machine, `${kib}K`, skiff.elf, g, limitMs, false)).readyMs !== null) return true;
      return false;
    });
    const skiffMin = await minMem("skiff");
    const linuxMin = linuxGaveUp() ? null : await minMem("linux");
    io.out(`  ${machine}: smallest -m Skiff ${skiffMin ?? "n/a"} KiB, Linux ${linuxMin ?? "n/a"} KiB`);

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
      linuxMinMemKiB: linuxMin,
      linuxHangs: l.filter((p) => p.readyMs === null).length,
      linuxRuns: l.length,
      skiffFailures: s.filter((p) => p.httpMs === null).length,
    });
  }

  // HTTP on one machine: one boot per guest and network; in it the small
  // file at each wrk -c level, wrkN runs each, then the 16 MiB downloads.
  const machine = httpMachine(opts.machines);
  for (const network of networks) {
    const got: Partial<Record<Kind, { wrk: WrkRow[]; file: FileRow }>> = {};
    // Skiff and nginx alternate which goes first from one network to the next.
    const order: Kind[] = network === "user" ? ["skiff", "linux"] : ["linux", "skiff"];
    for (const kind of order) {
      let srv: Server | null = null;
      const fail = (why: string) => ({ wrk: HTTP_LEVELS.map((c) => row(kind, network, machine, c, [], why)), file: fileRow(kind, network, machine, [], why) });
      try {
        srv = await startServer({
          kind, network, machine, memory: opts.memory, skiffElf: skiff.elf, g, readyLimitMs: limitMs,
          linuxInitrd: kind === "linux" ? nginxBig : undefined, siteImage: kind === "skiff" ? site : undefined,
          lifeMs: limitMs + 120000 + HTTP_LEVELS.length * wrkN * (opts.wrkSeconds + 30) * 1000 + dlN * 60000, tag: `skl${process.pid % 10000}`,
        });
        if (srv.firstHttpMs === null) {
          got[kind] = fail(srv.readyMs === null ? (kind === "linux" ? "hang (no READY)" : "not ready") : "no HTTP answer");
        } else {
          const label = `${kind === "skiff" ? "Skiff" : "nginx"} ${network}`;
          io.out(`  ${machine} ${network}: ${label} (${srv.web})`);
          const wrk: WrkRow[] = [];
          for (const c of HTTP_LEVELS) wrk.push(row(kind, network, machine, c, await wrkRuns(io, label, `${srv.web}/index.html`, srv.prefix, wrkN, opts.wrkSeconds, c)));
          got[kind] = { wrk, file: fileRow(kind, network, machine, await fileRuns(io, label, `${srv.web}/${BIG_FILE}`, srv.prefix, dlN)) };
        }
      } catch (e) {
        got[kind] = fail((e as Error).message.split("\n")[0]);
      } finally {
        if (srv) await srv.stop();
      }
    }
    const [a, b] = [got.skiff!, got.linux!];
    for (let i = 0; i < HTTP_LEVELS.length; i++) {
      const [x, y] = [a.wrk[i], b.wrk[i]];
      x.rpsRatio = ratioOf(x.runs.map((r) => r.rps), y.runs.map((r) => r.rps));
      x.p50Ratio = ratioOf(x.runs.map((r) => r.p50Ms), y.runs.map((r) => r.p50Ms));
      x.p99Ratio = ratioOf(x.runs.map((r) => r.p99Ms), y.runs.map((r) => r.p99Ms));
      rows.push(x, y);
    }
    a.file.ratio = ratioOf(a.file.runs.map((r) => r.mibs), b.file.runs.map((r) => r.mibs));
    files.push(a.file, b.file);
  }

  // Extra lines: busybox httpd in the Linux guest (no keep-alive, a fork per
  // request) over user networking, and on the host (no virtualization); -c32.
  let bb: Server | null = null;
  try {
    bb = await startServer({ kind: "linux", network: "user", machine, memory: opts.memory, skiffElf: skiff.elf, g, readyLimitMs: limitMs, lifeMs: limitMs + 60000 + wrkN * (opts.wrkSeconds + 30) * 1000 });
    rows.push(bb.firstHttpMs === null ? row("busybox", "user", machine, 32, [], bb.readyMs === null ? "hang (no READY)" : "no HTTP answer")
      : row("busybox", "user", machine, 32, await wrkRuns(io, "busybox user", `${bb.web}/index.html`, [], wrkN, opts.wrkSeconds, 32)));
  } catch (e) {
    rows.push(row("busybox", "user", machine, 32, [], (e as Error).message.split("\n")[0]));
  } finally {
    if (bb) await bb.stop();
  }
  const hp = await freePort();
  const h = await hostHttpd(g.busybox, siteDir(root), hp);
  try {
    io.out(`  host: wrk against busybox httpd on 127.0.0.1 (pid ${h.pid})`);
    rows.push(row("host", "loopback", null, 32, await wrkRuns(io, "host", `http://127.0.0.1:${hp}/index.html`, [], wrkN, opts.wrkSeconds, 32)));
  } finally {
    await h.stop();
  }
  notes.push(`nginx: Debian's nginx ${nginx.version} in the Linux guest (one worker, keep-alive, sendfile, tcp_nopush, access log off, listen backlog 4096: bench/linux/guest.ts NGINX_CONF). Skiff: apps/httpd with its site on a read-only virtio-blk disk (\`skiff mkfs\` image of index.html and ${BIG_FILE}), kept in its file cache after the first read. Skiff / Linux compares with nginx.`);
  notes.push("The extra busybox lines answer one request per connection (no keep-alive) and fork per request, so wrk reconnects for each.");
  notes.push(USER_NET_TAIL_NOTE);
  notes.push(...tailNotes(rows));

  return {
    rounds: opts.rounds,
    wrkRuns: wrkN,
    memory: opts.memory,
    readyLimitS: opts.readyLimitS,
    linuxKernel: g.kernelPackage,
    busyboxVersion: g.busyboxVersion,
    nginxVersion: nginx.version,
    vmlinuxBytes: statSync(g.vmlinux).size,
    bzImageBytes: g.bzImageBytes,
    initramfsBytes: statSync(g.initramfs).size,
    skiffImageBytes: skiff.bytes,
    file: { bytes: Buffer.byteLength(INDEX_HTML) },
    minMem: { ...MIN_MEM },
    machines,
    http: { machine, wrkSeconds: opts.wrkSeconds, wrkArgs: WRK_ARGS(opts.wrkSeconds, HTTP_LEVELS[0]).join(" "), levels: HTTP_LEVELS, rows, notes },
    files: { machine, bytes: BIG_BYTES, downloads: dlN, rows: files },
  };
}
