// bench/linux.ts — `--vs linux` (issue #7): Skiff and a Linux guest side by
// side in one run, alternating, with the same QEMU, flags, -m and network
// backend: time from QEMU start to ready (and to the first HTTP answer), QEMU
// VmRSS once ready, the smallest -m that reaches ready, image bytes, and wrk
// against the guest and against the same busybox httpd on the host.
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "../cli/lib/build.js";
import type { IO } from "../cli/lib/log.js";
import type { Machine } from "../cli/lib/qemu.js";
import { launch, netArgs, type Launched } from "./lib/launch.js";
import { firstAnswer, freePort, hostHttpd, runWrk, WRK_ARGS } from "./lib/http.js";
import { smallest, summarize, type Summary } from "./lib/stats.js";
import { ensureLinuxGuest, INDEX_HTML, READY_LINE, type LinuxGuest } from "./linux/guest.js";

export interface LinuxMachineResult {
  machine: Machine;
  skiffReadyMs: Summary | null;
  linuxReadyMs: Summary | null;
  readyRatio: Summary | null;
  /** Skiff has no httpd yet: the reason, printed in place of a number. */
  skiffHttp: string | null;
  linuxHttpMs: Summary | null;
  skiffRssMiB: Summary | null;
  linuxRssMiB: Summary | null;
  rssRatio: Summary | null;
  skiffMinMemKiB: number | null;
  linuxMinMemMiB: number | null;
  linuxHangs: number;
  linuxRuns: number;
}

export interface LinuxResult {
  rounds: number;
  memory: string;
  readyLimitS: number;
  linuxKernel: string;
  busyboxVersion: string;
  vmlinuxBytes: number;
  bzImageBytes: number;
  initramfsBytes: number;
  skiffImageBytes: number;
  machines: LinuxMachineResult[];
  http: { wrkArgs: string; rows: { name: string; rps: number | null; p50: string | null; p99: string | null }[]; notes: string[] };
}

const SKIFF_READY = /Hello from Skiff!/;
const LINUX_READY = new RegExp(READY_LINE);
export const LINUX_CMDLINE = "console=ttyS0 panic=-1 quiet";

interface Probe { readyMs: number | null; httpMs: number | null; rssKiB: number | null }

type Kind = "skiff" | "linux";

function start(kind: Kind, machine: Machine, memory: string, port: number, skiffElf: string, g: LinuxGuest, limitMs: number): Launched {
  if (kind === "skiff") {
    return launch({ kernel: skiffElf, machine, memory, cmdline: "hold", extraArgs: netArgs(machine, port), timeoutMs: limitMs });
  }
  return launch({ kernel: g.vmlinux, machine, memory, cmdline: LINUX_CMDLINE, extraArgs: ["-initrd", g.initramfs, ...netArgs(machine, port)], timeoutMs: limitMs });
}

async function probe(kind: Kind, machine: Machine, memory: string, skiffElf: string, g: LinuxGuest, limitMs: number, http: boolean): Promise<Probe> {
  const port = await freePort();
  const q = start(kind, machine, memory, port, skiffElf, g, limitMs + 15000);
  try {
    const readyMs = await q.waitFor(kind === "skiff" ? SKIFF_READY : LINUX_READY, limitMs);
    if (readyMs === null) return { readyMs: null, httpMs: null, rssKiB: null };
    const rssKiB = q.rssKiB();
    let httpMs: number | null = null;
    if (http && kind === "linux") {
      const at = await firstAnswer("127.0.0.1", port, performance.now() + 10000);
      httpMs = at === null ? null : at - q.t0;
    }
    return { readyMs, httpMs, rssKiB };
  } finally {
    await q.stop();
  }
}

export async function runLinux(root: string, io: IO, opts: { rounds: number; machines: Machine[]; wrkSeconds: number; memory: string; readyLimitS: number }): Promise<LinuxResult> {
  const g = ensureLinuxGuest(root, io);
  io.out("vs linux: building the Skiff probe app");
  const skiff = await build({ app: join(root, "bench", "apps", "boottime"), outDir: join(root, "build", "bench", "boottime"), quiet: true }, io);
  const limitMs = opts.readyLimitS * 1000;
  const machines: LinuxMachineResult[] = [];
  const rows: LinuxResult["http"]["rows"] = [];
  const notes: string[] = [];

  for (const machine of opts.machines) {
    const s: Probe[] = [];
    const l: Probe[] = [];
    for (let i = 0; i < opts.rounds; i++) {
      // Alternate which guest goes first so warm caches favour neither.
      const order: Kind[] = i % 2 ? ["linux", "skiff"] : ["skiff", "linux"];
      for (const kind of order) {
        const p = await probe(kind, machine, opts.memory, skiff.elf, g, limitMs, true);
        (kind === "skiff" ? s : l).push(p);
      }
      const ls = l.at(-1)!;
      io.out(`  ${machine} round ${i + 1}/${opts.rounds}: Skiff ready ${s.at(-1)!.readyMs?.toFixed(0) ?? "FAIL"} ms; Linux ready ${ls.readyMs?.toFixed(0) ?? "HANG"} ms, first HTTP ${ls.httpMs?.toFixed(0) ?? "n/a"} ms`);
    }
    const ok = (xs: Probe[], f: (p: Probe) => number | null) => xs.map(f).filter((x): x is number => x !== null);
    const pairs = s.map((sp, i) => [sp, l[i]] as const).filter(([a, b]) => a.readyMs !== null && b.readyMs !== null);
    const rssPairs = s.map((sp, i) => [sp, l[i]] as const).filter(([a, b]) => a.rssKiB !== null && b.rssKiB !== null);

    io.out(`  ${machine}: smallest -m reaching ready (Skiff in 64 KiB steps, Linux in 4 MiB steps)`);
    const skiffMin = await smallest(1088, 65536, 64, async (kib) =>
      (await probe("skiff", machine, `${kib}K`, skiff.elf, g, 10000, false)).readyMs !== null);
    const linuxMin = await smallest(16, 512, 4, async (mib) => {
      // A hang under TCG (PIT calibration on microvm) is not a memory verdict: try twice.
      for (let t = 0; t < 2; t++) if ((await probe("linux", machine, `${mib}M`, skiff.elf, g, limitMs, false)).readyMs !== null) return true;
      return false;
    });

    machines.push({
      machine,
      skiffReadyMs: summarize(ok(s, (p) => p.readyMs)),
      linuxReadyMs: summarize(ok(l, (p) => p.readyMs)),
      readyRatio: summarize(pairs.map(([a, b]) => a.readyMs! / b.readyMs!)),
      skiffHttp: "n/a (Skiff httpd not built yet)",
      linuxHttpMs: summarize(ok(l, (p) => p.httpMs)),
      skiffRssMiB: summarize(ok(s, (p) => p.rssKiB).map((k) => k / 1024)),
      linuxRssMiB: summarize(ok(l, (p) => p.rssKiB).map((k) => k / 1024)),
      rssRatio: summarize(rssPairs.map(([a, b]) => a.rssKiB! / b.rssKiB!)),
      skiffMinMemKiB: skiffMin,
      linuxMinMemMiB: linuxMin,
      linuxHangs: l.filter((p) => p.readyMs === null).length,
      linuxRuns: l.length,
    });

    // wrk against the Linux guest over user networking.
    const port = await freePort();
    const q = start("linux", machine, opts.memory, port, skiff.elf, g, limitMs + opts.wrkSeconds * 1000 + 60000);
    try {
      if ((await q.waitFor(LINUX_READY, limitMs)) !== null && (await firstAnswer("127.0.0.1", port, performance.now() + 10000)) !== null) {
        io.out(`  ${machine}: wrk against the Linux guest (user networking), ${opts.wrkSeconds} s`);
        const w = await runWrk(`http://127.0.0.1:${port}/`, opts.wrkSeconds);
        rows.push({ name: `Linux guest, ${machine} (user net)`, rps: w.rps, p50: w.p50, p99: w.p99 });
      } else {
        rows.push({ name: `Linux guest, ${machine} (user net)`, rps: null, p50: "hang", p99: null });
      }
    } finally {
      await q.stop();
    }
  }

  // The same httpd on the host: the no-virtualization reference.
  const www = join(root, "build", "bench", "linux", "www");
  mkdirSync(www, { recursive: true });
  writeFileSync(join(www, "index.html"), INDEX_HTML);
  const hp = await freePort();
  const h = await hostHttpd(g.busybox, www, hp);
  try {
    io.out(`  host: wrk against busybox httpd on 127.0.0.1, ${opts.wrkSeconds} s`);
    const w = await runWrk(`http://127.0.0.1:${hp}/`, opts.wrkSeconds);
    rows.push({ name: "busybox httpd on the host (no virtualization)", rps: w.rps, p50: w.p50, p99: w.p99 });
  } finally {
    await h.stop();
  }
  notes.push("Over tap inside a benchmark-created network namespace: not measured yet (user networking only).");

  return {
    rounds: opts.rounds,
    memory: opts.memory,
    readyLimitS: opts.readyLimitS,
    linuxKernel: g.kernelPackage,
    busyboxVersion: g.busyboxVersion,
    vmlinuxBytes: statSync(g.vmlinux).size,
    bzImageBytes: g.bzImageBytes,
    initramfsBytes: statSync(g.initramfs).size,
    skiffImageBytes: skiff.bytes,
    machines,
    http: { wrkArgs: WRK_ARGS(opts.wrkSeconds).join(" "), rows, notes },
  };
}
