// bench/virtio.ts — issue #4's device benchmarks: virtio-blk sequential write
// and read throughput (MiB/s) and 4 KiB random-read IOPS on a raw image file,
// and virtio-net packets per second guest → host. The guest half is
// bench/apps/blkbench (async requests, completions by interrupt); it times
// the blk phases with its own clock. For the network QEMU's socket backend
// sends every frame the guest transmits as one UDP datagram to a Node socket
// on loopback, which counts what arrives and when: pps as the host sees it.
// With --vs linux the Linux reference guest runs the same phases under the
// same QEMU flags (bench/linux/virtio.ts: O_DIRECT on /dev/vda, UDP sendto),
// on the machines where it boots under TCG (q35, not microvm).
import { createSocket } from "node:dgram";
import { mkdtempSync, rmSync, writeFileSync, openSync, ftruncateSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "../cli/lib/build.js";
import { deviceArgs } from "../cli/lib/devices.js";
import type { IO } from "../cli/lib/log.js";
import type { Machine } from "../cli/lib/qemu.js";
import { freePort } from "./lib/http.js";
import { launch } from "./lib/launch.js";
import { ensureLinuxGuest, type LinuxGuest } from "./linux/guest.js";
import { linuxIoInitramfs, IOBENCH_DONE, SEQ_DEPTH, RAND_DEPTH } from "./linux/virtio.js";
import { LINUX_CMDLINE } from "./linux.js";
import { fmt, summarize, type Summary } from "./lib/stats.js";
import type { HostInfo } from "./report.js";

export interface VirtioMachineResult {
  machine: Machine;
  transport: string;
  irqMode: string;
  seqWriteMiBs: Summary | null;
  seqReadMiBs: Summary | null;
  randReadIops: Summary | null;
  flushMs: Summary | null;
  /** Frames the guest handed to the device per second (guest clock). */
  netTxPpsGuest: Summary | null;
  /** Datagrams reaching the host socket per second (host clock, first to last). */
  netRxPpsHost: Summary | null;
  /** Share of the frames the guest sent that the host received. */
  netDelivered: Summary | null;
  failures: number;
  /** The Linux guest's figures under the same flags, or why there are none. */
  linux: LinuxSide | null;
  linuxNote: string | null;
}

export interface LinuxSide {
  seqWriteMiBs: Summary | null;
  seqReadMiBs: Summary | null;
  randReadIops: Summary | null;
  netTxPpsGuest: Summary | null;
  netRxPpsHost: Summary | null;
  netDelivered: Summary | null;
  failures: number;
}

export interface VirtioResult {
  rounds: number;
  diskMiB: number;
  randMs: number;
  netMs: number;
  frameBytes: number;
  machines: VirtioMachineResult[];
}

interface Round {
  seqWrite?: number; seqRead?: number; rand?: number; flushMs?: number;
  txPps?: number; hostPps?: number; delivered?: number; irqMode?: string;
}

const MiB = 1024 * 1024;

function parseRound(serial: string, who = "blkbench"): Round {
  const r: Round = {};
  const line = (name: string) => new RegExp(`${who}: ${name} bytes=(\\d+) reqs=(\\d+) ns=(\\d+)`).exec(serial);
  const w = line("seqwrite"); if (w) r.seqWrite = (Number(w[1]) / MiB) / (Number(w[3]) / 1e9);
  const rd = line("seqread"); if (rd) r.seqRead = (Number(rd[1]) / MiB) / (Number(rd[3]) / 1e9);
  const rr = line("randread4k"); if (rr) r.rand = Number(rr[2]) / (Number(rr[3]) / 1e9);
  const f = new RegExp(`${who}: flush ok ns=(\\d+)`).exec(serial); if (f) r.flushMs = Number(f[1]) / 1e6;
  const m = /blkbench: disk \S+ \d+ bytes, (.*)/.exec(serial); if (m) r.irqMode = m[1].trim();
  return r;
}

/** One guest run: Skiff's blkbench, or (g given) the Linux guest's iobench. */
async function oneRound(kernel: string, machine: Machine, disk: string, o: { randMs: number; netMs: number; diskMiB: number }, g?: { guest: LinuxGuest; initramfs: string }): Promise<Round | null> {
  const hostPort = await freePort();
  const qemuPort = await freePort();
  const sock = createSocket("udp4");
  let count = 0;
  let first = 0;
  let last = 0;
  sock.on("message", () => {
    const now = performance.now();
    if (count === 0) first = now;
    last = now;
    count++;
  });
  await new Promise<void>((resolve) => sock.bind(hostPort, "127.0.0.1", () => resolve()));
  const netDev = machine === "microvm" ? "virtio-net-device" : "virtio-net-pci";
  const devs = [
    ...deviceArgs(machine, { disks: [{ file: disk }] }),
    "-netdev", `socket,id=bn0,udp=127.0.0.1:${hostPort},localaddr=127.0.0.1:${qemuPort}`,
    "-device", `${netDev},netdev=bn0${machine === "microvm" ? "" : ",romfile="}`,
  ];
  // The same QEMU flags and -m for both guests; Linux needs more than blkbench's 128M would.
  let serial: string;
  if (!g) {
    const q = launch({ kernel, machine, memory: "256M", timeoutMs: 120000, cmdline: `blkbench.rand_ms=${o.randMs} blkbench.net_ms=${o.netMs}`, extraArgs: devs });
    const exit = await q.exited;
    sock.close();
    serial = q.serial();
    if (exit.status !== 0) return null;
  } else {
    // /init prints IOBENCH_DONE and sleeps: stop QEMU by PID once it has.
    const q = launch({
      kernel: g.guest.vmlinux, machine, memory: "256M", timeoutMs: 180000,
      cmdline: `${LINUX_CMDLINE} iobench.bytes=${o.diskMiB * MiB} iobench.rand_ms=${o.randMs} iobench.net_ms=${o.netMs}`,
      extraArgs: ["-initrd", g.initramfs, ...devs],
    });
    const done = await q.waitFor(new RegExp(IOBENCH_DONE), 170000);
    await q.stop();
    sock.close();
    serial = q.serial();
    if (done === null) return null;
  }
  const who = g ? "iobench" : "blkbench";
  const r = parseRound(serial, who);
  const n = new RegExp(`${who}: nettx frames=(\\d+) refused=\\d+ ns=(\\d+)`).exec(serial);
  if (n) {
    const frames = Number(n[1]);
    r.txPps = frames / (Number(n[2]) / 1e9);
    r.delivered = frames > 0 ? count / frames : 0;
    if (count > 1 && last > first) r.hostPps = (count - 1) / ((last - first) / 1000);
  }
  return r;
}

export async function runVirtio(root: string, io: IO, opts: { rounds: number; machines: Machine[]; diskMiB: number; randMs: number; netMs: number; linux?: boolean }): Promise<VirtioResult> {
  io.out("virtio: building bench/apps/blkbench");
  const app = await build({ app: join(root, "bench", "apps", "blkbench"), outDir: join(root, "build", "bench", "blkbench"), quiet: true }, io);
  let lg: { guest: LinuxGuest; initramfs: string } | undefined;
  if (opts.linux) {
    const guest = ensureLinuxGuest(root, io);
    lg = { guest, initramfs: linuxIoInitramfs(root, guest) };
  }
  const freshDisk = (path: string) => {
    // A fresh sparse raw image each round: the write phase allocates it.
    writeFileSync(path, "");
    const fd = openSync(path, "r+");
    ftruncateSync(fd, opts.diskMiB * MiB);
    closeSync(fd);
  };
  const dir = mkdtempSync(join(tmpdir(), "skiff-bench-virtio-"));
  const machines: VirtioMachineResult[] = [];
  try {
    for (const m of opts.machines) {
      const rounds: Round[] = [];
      let failures = 0;
      for (let i = 0; i < opts.rounds; i++) {
        const disk = join(dir, `${m}-${i}.img`);
        freshDisk(disk);
        const r = await oneRound(app.elf, m, disk, opts);
        rmSync(disk, { force: true });
        if (r === null || r.seqWrite === undefined) { failures++; io.out(`  ${m} round ${i + 1}: failed`); continue; }
        rounds.push(r);
        io.out(`  ${m} round ${i + 1}/${opts.rounds}: write ${fmt(r.seqWrite, 0)} MiB/s, read ${fmt(r.seqRead, 0)} MiB/s, ` +
          `4k rand ${fmt(r.rand, 0)} IOPS, net ${fmt(r.txPps, 0)} pps sent / ${fmt(r.hostPps, 0)} pps at host`);
      }
      // The Linux guest: same flags, same fresh image per round.
      const lrounds: Round[] = [];
      let lfail = 0;
      const linuxNote = !lg ? "not run (add --vs linux)" : null;
      if (lg && !linuxNote) {
        for (let i = 0; i < opts.rounds; i++) {
          const disk = join(dir, `${m}-linux-${i}.img`);
          freshDisk(disk);
          const r = await oneRound(app.elf, m, disk, opts, lg);
          rmSync(disk, { force: true });
          if (r === null || r.seqWrite === undefined) { lfail++; io.out(`  ${m} Linux round ${i + 1}: failed`); continue; }
          lrounds.push(r);
          io.out(`  ${m} Linux round ${i + 1}/${opts.rounds}: write ${fmt(r.seqWrite, 0)} MiB/s, read ${fmt(r.seqRead, 0)} MiB/s, ` +
            `4k rand ${fmt(r.rand, 0)} IOPS, net ${fmt(r.txPps, 0)} pps sent / ${fmt(r.hostPps, 0)} pps at host`);
        }
      }
      const pickFrom = (rs: Round[], f: (r: Round) => number | undefined) => summarize(rs.map(f).filter((x): x is number => x !== undefined));
      const pick = (f: (r: Round) => number | undefined) => pickFrom(rounds, f);
      machines.push({
        machine: m,
        transport: m === "microvm" ? "mmio" : "pci",
        irqMode: rounds[0]?.irqMode ?? "?",
        seqWriteMiBs: pick((r) => r.seqWrite),
        seqReadMiBs: pick((r) => r.seqRead),
        randReadIops: pick((r) => r.rand),
        flushMs: pick((r) => r.flushMs),
        netTxPpsGuest: pick((r) => r.txPps),
        netRxPpsHost: pick((r) => r.hostPps),
        netDelivered: pick((r) => r.delivered),
        failures,
        linux: lg && !linuxNote ? {
          seqWriteMiBs: pickFrom(lrounds, (r) => r.seqWrite),
          seqReadMiBs: pickFrom(lrounds, (r) => r.seqRead),
          randReadIops: pickFrom(lrounds, (r) => r.rand),
          netTxPpsGuest: pickFrom(lrounds, (r) => r.txPps),
          netRxPpsHost: pickFrom(lrounds, (r) => r.hostPps),
          netDelivered: pickFrom(lrounds, (r) => r.delivered),
          failures: lfail,
        } : null,
        linuxNote,
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { rounds: opts.rounds, diskMiB: opts.diskMiB, randMs: opts.randMs, netMs: opts.netMs, frameBytes: 60, machines };
}

function cell(s: Summary | null, digits = 0): string {
  if (!s) return "n/a";
  return s.n > 1 ? `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})` : fmt(s.median, digits);
}

/** The docs/BENCHMARKS.md section (marked `virtio`). */
export function virtioMarkdown(hostLine: string, r: VirtioResult): string {
  const rows = r.machines.map((m) =>
    `| ${m.machine} (${m.transport}, ${m.irqMode}) | ${cell(m.seqWriteMiBs)} | ${cell(m.seqReadMiBs)} | ${cell(m.randReadIops)} | ` +
    `${cell(m.netTxPpsGuest)} | ${cell(m.netRxPpsHost)} | ${m.netDelivered ? (m.netDelivered.median * 100).toFixed(1) + " %" : "n/a"} |`).join("\n");
  return `## virtio devices (issue #4)

${hostLine}

Guest: \`bench/apps/blkbench\`, asynchronous requests with completions by
interrupt (the event loop halts between them). Disk: a fresh sparse raw image
of ${r.diskMiB} MiB per round (\`-drive format=raw\`, QEMU's default
writeback cache, so this measures the virtio path and the host page cache, not
a disk). Sequential: 128 KiB requests, ${SEQ_DEPTH} in flight, over the whole image,
write then read, timed by the guest clock; the flush after the writes is not
included. Random: 4 KiB reads at random aligned offsets, ${RAND_DEPTH} in flight, for
${r.randMs} ms. Network: ${r.frameBytes}-byte UDP frames sent through the raw
NetDevice as fast as the transmit ring takes them for ${r.netMs} ms, QEMU
\`-netdev socket,udp=\` forwarding each to a Node UDP socket on loopback;
*at host* counts datagrams per second between the first and last arrival.
${r.rounds} round(s) per machine.

| machine | seq write MiB/s | seq read MiB/s | 4 KiB rand read IOPS | net pps sent (guest) | net pps at host | delivered |
| --- | --- | --- | --- | --- | --- | --- |
${rows}
${linuxMarkdown(r)}`;
}

/** Skiff beside the Linux guest (same QEMU flags, -m, image size, phases). */
function linuxMarkdown(r: VirtioResult): string {
  const ratio = (a: Summary | null, b: Summary | null) => a && b && b.median > 0 ? fmt(a.median / b.median, 2) : "n/a";
  const parts = r.machines.map((m) => {
    if (!m.linux) return `- ${m.machine}: Linux ${m.linuxNote ?? "not run"}.`;
    const L = m.linux;
    const row = (name: string, s: Summary | null, l: Summary | null) => `| ${name} | ${cell(s)} | ${cell(l)} | ${ratio(s, l)} |`;
    return `### ${m.machine}: Skiff vs Linux

| measure | Skiff | Linux | Skiff / Linux |
| --- | --- | --- | --- |
${row(`seq write MiB/s (queue depth ${SEQ_DEPTH})`, m.seqWriteMiBs, L.seqWriteMiBs)}
${row(`seq read MiB/s (queue depth ${SEQ_DEPTH})`, m.seqReadMiBs, L.seqReadMiBs)}
${row(`4 KiB rand read IOPS (queue depth ${RAND_DEPTH})`, m.randReadIops, L.randReadIops)}
${row("net pps sent (guest clock)", m.netTxPpsGuest, L.netTxPpsGuest)}
${row("net pps at host", m.netRxPpsHost, L.netRxPpsHost)}
| delivered | ${m.netDelivered ? (m.netDelivered.median * 100).toFixed(1) + " %" : "n/a"} | ${L.netDelivered ? (L.netDelivered.median * 100).toFixed(1) + " %" : "n/a"} | |
| failed rounds | ${m.failures} | ${L.failures} | |
`;
  });
  return `
Linux side (\`--vs linux\`): the reference guest's kernel with
\`virtio_blk\` and \`bench/linux/iobench\` (a static C helper built on the
host: busybox has no random-read tool and no sub-second clock) under the same
QEMU flags, \`-m 256M\` for both, a fresh image of the same size per round.
Both sides keep the same number of requests in flight: Linux through one
io_uring in one process (raw \`io_uring_setup\`/\`io_uring_enter\`, \`IORING_OP_READ\`/\`WRITE\`,
no forked workers), Skiff in its virtqueue. Sequential: 128 KiB \`O_DIRECT\`
requests on \`/dev/vda\` in order, queue depth ${SEQ_DEPTH}, write then read, no
flush. Random: 4 KiB \`O_DIRECT\` reads, queue depth ${RAND_DEPTH}. Network: \`sendto\` of
18-byte UDP payloads (the same 60-byte frames) to 10.0.2.2:9 through a
permanent ARP entry; the kernel's own frames (if any) count at the host too.

${parts.join("\n")}
`;
}

/** The run's host line, as bench/report.ts prints it for its suites. */
export function virtioHostLine(h: HostInfo): string {
  return `Run ${h.date}${h.quick ? " (--quick)" : ""}: accelerator **${h.accel}**${h.accelNote ? ` (${h.accelNote})` : ""}; ` +
    `${h.cpu}, ${h.cores} cores; ${h.qemu}; host kernel ${h.kernel}; Node ${h.node}.`;
}

/** Replaces (or appends) the virtio section of docs/BENCHMARKS.md's text, in
 *  the marked-section format bench/report.ts keeps for the other suites. */
export function virtioSection(existing: string, body: string): string {
  const begin = "<!-- bench:virtio:begin -->";
  const end = "<!-- bench:virtio:end -->";
  const block = `${begin}\n${body.trim()}\n${end}`;
  const a = existing.indexOf(begin);
  const b = existing.indexOf(end);
  if (a >= 0 && b > a) return existing.slice(0, a) + block + existing.slice(b + end.length);
  return existing.trimEnd() + "\n\n" + block + "\n";
}
