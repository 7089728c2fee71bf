// bench/boot.ts — issue #2's boot benchmark, side by side in one run:
//   whole QEMU process time for hello vs a floor ELF that exits at its first
//   instruction, on microvm and q35, alternating; guest-side TSC from loader
//   entry to main; image sizes; the smallest -m that boots hello.
import { execFileSync } from "node:child_process";
import { mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { build } from "../cli/lib/build.js";
import type { IO } from "../cli/lib/log.js";
import type { Machine } from "../cli/lib/qemu.js";
import { hostTscMHz, launch } from "./lib/launch.js";
import { smallest, summarize, type Summary } from "./lib/stats.js";

export interface BootMachineResult {
  machine: Machine;
  floorMs: Summary | null;
  helloMs: Summary | null;
  /** hello / floor per round. */
  ratio: Summary | null;
  /** Loader entry → app main, guest TSC converted with the host TSC rate. */
  entryToMainMs: Summary | null;
  entryToMainTicks: Summary | null;
  minMemoryKiB: number | null;
  failures: number;
}

export interface BootResult {
  rounds: number;
  helloElfBytes: number;
  floorElfBytes: number;
  tscMHz: number | null;
  tscSource: string;
  machines: BootMachineResult[];
  targets: { name: string; target: string; measured: string; met: boolean | null }[];
}

const GREETING = /Hello from Skiff!/;

/** The floor image: bench/floor/floor.S linked alone (4 KiB). */
export function buildFloor(root: string): string {
  const out = join(root, "build", "bench", "floor");
  mkdirSync(out, { recursive: true });
  const o = join(out, "floor.o");
  const elf = join(out, "floor.elf");
  execFileSync("gcc", ["-c", join(root, "bench", "floor", "floor.S"), "-o", o]);
  execFileSync("ld", ["-T", join(root, "bench", "floor", "floor.ld"), "-z", "max-page-size=0x1000", "--build-id=none", "-s", "-o", elf, o]);
  return elf;
}

async function wholeProcessMs(kernel: string, machine: Machine, expect: RegExp | null): Promise<number | null> {
  const q = launch({ kernel, machine, memory: "64M", timeoutMs: 20000 });
  const r = await q.exited;
  if (r.status !== 0) return null;
  if (expect && !expect.test(q.serial())) return null;
  return r.ms;
}

async function tscTicks(kernel: string, machine: Machine): Promise<number | null> {
  const q = launch({ kernel, machine, memory: "64M", cmdline: "quiet", timeoutMs: 20000 });
  await q.exited;
  const m = /bench: entry_tsc=(\d+) main_tsc=(\d+)/.exec(q.serial());
  return m ? Number(BigInt(m[2]) - BigInt(m[1])) : null;
}

async function bootsWith(kernel: string, machine: Machine, kib: number): Promise<boolean> {
  const q = launch({ kernel, machine, memory: `${kib}K`, timeoutMs: 8000 });
  const r = await q.exited;
  return r.status === 0 && GREETING.test(q.serial());
}

export async function runBoot(root: string, io: IO, opts: { rounds: number; machines: Machine[] }): Promise<BootResult> {
  io.out("boot: building hello, the TSC probe app and the floor ELF");
  const hello = await build({ app: join(root, "apps", "hello"), outDir: join(root, "build", "bench", "hello"), quiet: true }, io);
  const probe = await build({ app: join(root, "bench", "apps", "boottime"), outDir: join(root, "build", "bench", "boottime"), quiet: true }, io);
  const floor = buildFloor(root);
  const tsc = hostTscMHz();

  const raw = new Map<Machine, { floor: number[]; hello: number[]; ratio: number[]; ticks: number[]; failures: number }>();
  for (const m of opts.machines) raw.set(m, { floor: [], hello: [], ratio: [], ticks: [], failures: 0 });
  for (let i = 0; i < opts.rounds; i++) {
    for (const m of opts.machines) {
      const r = raw.get(m)!;
      // Alternate floor and hello so drift in host load hits both alike.
      const f = await wholeProcessMs(floor, m, null);
      const h = await wholeProcessMs(hello.elf, m, GREETING);
      const t = await tscTicks(probe.elf, m);
      if (f === null || h === null) r.failures++;
      if (f !== null) r.floor.push(f);
      if (h !== null) r.hello.push(h);
      if (f !== null && h !== null) r.ratio.push(h / f);
      if (t !== null) r.ticks.push(t);
    }
    io.out(`  round ${i + 1}/${opts.rounds}: ` + opts.machines.map((m) => {
      const r = raw.get(m)!;
      return `${m} floor ${r.floor.at(-1)?.toFixed(0) ?? "fail"} ms, hello ${r.hello.at(-1)?.toFixed(0) ?? "fail"} ms`;
    }).join("; "));
  }

  const machines: BootMachineResult[] = [];
  for (const m of opts.machines) {
    io.out(`  ${m}: searching the smallest -m that boots hello`);
    const minKiB = await smallest(1088, 65536, 64, (kib) => bootsWith(hello.elf, m, kib));
    const r = raw.get(m)!;
    machines.push({
      machine: m,
      floorMs: summarize(r.floor),
      helloMs: summarize(r.hello),
      ratio: summarize(r.ratio),
      entryToMainTicks: summarize(r.ticks),
      entryToMainMs: tsc ? summarize(r.ticks.map((t) => t / (tsc.mhz * 1000))) : null,
      minMemoryKiB: minKiB,
      failures: r.failures,
    });
  }
  const helloBytes = statSync(hello.elf).size;
  const worstRatio = Math.max(...machines.map((m) => m.ratio?.median ?? Infinity));
  const worstMem = Math.max(...machines.map((m) => m.minMemoryKiB ?? Infinity));
  const targets = [
    { name: "hello ELF size", target: "< 64 KiB", measured: `${(helloBytes / 1024).toFixed(1)} KiB`, met: helloBytes < 64 * 1024 },
    { name: "boot vs floor (median ratio, worst machine)", target: "≤ 1.10", measured: Number.isFinite(worstRatio) ? worstRatio.toFixed(2) : "n/a", met: Number.isFinite(worstRatio) ? worstRatio <= 1.1 : null },
    { name: "smallest -m booting hello (worst machine)", target: "≤ 2048 KiB", measured: Number.isFinite(worstMem) ? `${worstMem} KiB` : "n/a", met: Number.isFinite(worstMem) ? worstMem <= 2048 : null },
  ];
  return {
    rounds: opts.rounds,
    helloElfBytes: helloBytes,
    floorElfBytes: statSync(floor).size,
    tscMHz: tsc?.mhz ?? null,
    tscSource: tsc?.source ?? "unknown",
    machines,
    targets,
  };
}
