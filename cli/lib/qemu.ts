// cli/lib/qemu.ts — booting an image under QEMU: accelerator choice, machine
// options, serial capture with firmware noise removed, a hard time limit, and
// the guest's exit status. Shared by `skiff run` and the test harness.
import { existsSync, readFileSync } from "node:fs";
import { execa, type ResultPromise } from "execa";
import { EXIT, statusFromQemu } from "./status.js";
import { UserError } from "./log.js";

export type Machine = "microvm" | "q35" | "pc";
export type Accel = "auto" | "kvm" | "tcg";
export const MACHINES: Machine[] = ["microvm", "q35", "pc"];

/** What the loader prints first (boot/hostif.h SERIAL_BOOT_MARKER). */
export const BOOT_MARKER = "\x1bPskiff\x1b\\";

export interface KvmVerdict {
  usable: boolean;
  reason: string;
}

/** KVM counts only when it is hardware virtualization: /dev/kvm present, the
 *  CPU advertises vmx/svm, and kvm_intel or kvm_amd is loaded. The kvm_pvm
 *  module provides /dev/kvm without that; guests there die on the first SSE
 *  instruction ("emulation failure") and QEMU hangs paused. */
export function detectKvm(): KvmVerdict {
  if (!existsSync("/dev/kvm")) return { usable: false, reason: "no /dev/kvm" };
  if (existsSync("/sys/module/kvm_pvm")) {
    return { usable: false, reason: "/dev/kvm is the kvm_pvm module, not hardware virtualization" };
  }
  let flags = "";
  try {
    flags = readFileSync("/proc/cpuinfo", "utf8");
  } catch { /* unreadable: treat as absent */ }
  if (!/\b(vmx|svm)\b/.test(flags)) return { usable: false, reason: "the CPU has no vmx/svm flag" };
  if (!existsSync("/sys/module/kvm_intel") && !existsSync("/sys/module/kvm_amd")) {
    return { usable: false, reason: "neither kvm_intel nor kvm_amd is loaded" };
  }
  try {
    // Opening needs permission; QEMU would fail later with a worse message.
    readFileSync("/dev/kvm", { flag: "r" });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EACCES" || code === "EPERM") return { usable: false, reason: "no permission to open /dev/kvm (join the kvm group)" };
  }
  return { usable: true, reason: "hardware virtualization" };
}

export function chooseAccel(want: Accel): { accel: "kvm" | "tcg"; note?: string } {
  if (want === "tcg") return { accel: "tcg" };
  const v = detectKvm();
  if (want === "kvm") {
    if (!v.usable) throw new UserError(`--accel kvm: KVM is not usable here (${v.reason}); use --accel tcg or auto`);
    return { accel: "kvm" };
  }
  if (v.usable) return { accel: "kvm" };
  return { accel: "tcg", note: `KVM not usable (${v.reason}): using TCG` };
}

export interface QemuOptions {
  kernel: string;
  machine?: Machine;
  accel?: Accel;
  /** QEMU -m syntax: "64M", "1536K". */
  memory?: string;
  cmdline?: string;
  /** Extra QEMU arguments (devices, netdevs). */
  extraArgs?: string[];
  /** Kill QEMU after this many milliseconds; 0 = no limit. */
  timeoutMs?: number;
  qemu?: string;
}

export function parseMemory(m: string): number {
  const r = /^(\d+)([KMG]?)$/i.exec(m.trim());
  if (!r) throw new UserError(`--memory ${m}: expected a size like 64M, 1536K or 1G`);
  const n = parseInt(r[1], 10);
  const unit = r[2].toUpperCase();
  const bytes = unit === "K" ? n * 1024 : unit === "G" ? n * 1024 ** 3 : n * 1024 * 1024;
  if (bytes < 1024 * 1024) throw new UserError(`--memory ${m}: QEMU needs more than 1 MiB`);
  return bytes;
}

export function qemuArgs(o: QemuOptions, accel: "kvm" | "tcg"): string[] {
  const machine = o.machine ?? "microvm";
  if (!MACHINES.includes(machine)) throw new UserError(`--machine ${machine}: choose one of ${MACHINES.join(", ")}`);
  const mem = o.memory ?? "64M";
  parseMemory(mem);
  const m =
    machine === "microvm"
      ? "microvm,x-option-roms=off,rtc=on"
      : machine;
  const args = [
    "-M", m,
    "-accel", accel,
    "-cpu", accel === "kvm" ? "host" : "qemu64,+rdrand",
    "-m", mem,
    "-smp", "1",
    "-nodefaults", "-no-user-config",
    "-display", "none",
    "-no-reboot",
    "-serial", "stdio",
    "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
    "-kernel", o.kernel,
  ];
  if (machine === "microvm") args.push("-global", "virtio-mmio.force-legacy=false");
  if (o.cmdline) args.push("-append", o.cmdline);
  args.push(...(o.extraArgs ?? []));
  return args;
}

export interface GuestExit {
  /** The guest's status (0 success, 1..63 app, 70.. kernel), or a CLI outcome (124 timeout ...). */
  status: number;
  qemuCode: number | undefined;
  timedOut: boolean;
  /** Serial output after the boot marker ("\r\n" folded to "\n"). */
  serial: string;
  /** Everything QEMU wrote to stderr. */
  stderr: string;
  wallMs: number;
}

export interface RunningGuest {
  pid: number | undefined;
  args: string[];
  accel: "kvm" | "tcg";
  /** Serial output so far (after the boot marker). */
  output(): string;
  onOutput(fn: (text: string) => void): void;
  exited: Promise<GuestExit>;
  kill(signal?: NodeJS.Signals): void;
}

export function startQemu(o: QemuOptions): RunningGuest {
  const { accel } = chooseAccel(o.accel ?? "auto");
  const args = qemuArgs(o, accel);
  const qemu = o.qemu ?? "qemu-system-x86_64";
  const t0 = performance.now();
  let child: ResultPromise;
  try {
    child = execa(qemu, args, { stdin: "ignore", reject: false, buffer: false, forceKillAfterDelay: 2000 });
  } catch (e) {
    throw new UserError(`cannot start ${qemu}: ${(e as Error).message}; install it with apt-get install -y qemu-system-x86`);
  }
  let raw = "";
  let marked = false;
  let serial = "";
  let heldCR = "";
  let stderr = "";
  const listeners: ((t: string) => void)[] = [];
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    let text: string;
    if (!marked) {
      raw += chunk;
      const at = raw.indexOf(BOOT_MARKER);
      if (at < 0) return;
      marked = true;
      text = raw.slice(at + BOOT_MARKER.length);
      raw = "";
    } else text = chunk;
    // Fold "\r\n" to "\n", holding a trailing "\r" until the next chunk
    // shows whether a "\n" follows it.
    text = heldCR + text;
    heldCR = text.endsWith("\r") ? "\r" : "";
    if (heldCR) text = text.slice(0, -1);
    text = text.replace(/\r\n/g, "\n");
    serial += text;
    for (const l of listeners) l(text);
  });
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (c: string) => { stderr += c; });

  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  if (o.timeoutMs && o.timeoutMs > 0) {
    timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, o.timeoutMs);
  }
  const exited = (async (): Promise<GuestExit> => {
    const r = await child;
    if (timer) clearTimeout(timer);
    // No marker at all: show what there was, it may be a firmware error.
    if (!marked && raw) serial = raw.replace(/\r\n/g, "\n");
    serial += heldCR;
    if (r.failed && (r as { code?: string }).code === "ENOENT") {
      throw new UserError(`${qemu} not found: install it with apt-get install -y qemu-system-x86`);
    }
    const code = typeof r.exitCode === "number" ? r.exitCode : undefined;
    let status = timedOut ? EXIT.TIMEOUT : statusFromQemu(code, stderr);
    if (!timedOut && code === undefined && r.signal) status = r.signal === "SIGINT" ? EXIT.INTERRUPTED : EXIT.QEMU_FAILED;
    return { status, qemuCode: code, timedOut, serial, stderr, wallMs: performance.now() - t0 };
  })();
  return {
    pid: child.pid,
    args,
    accel,
    output: () => serial,
    onOutput: (fn) => { listeners.push(fn); },
    exited,
    kill: (sig = "SIGKILL") => { child.kill(sig); },
  };
}
