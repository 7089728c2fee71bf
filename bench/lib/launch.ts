// bench/lib/launch.ts — start one QEMU for a benchmark: the same flags `skiff
// run` uses (cli/lib/qemu.ts qemuArgs), raw serial capture with host-side
// timestamps, VmRSS from /proc, a hard time limit, and stop by PID.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { qemuArgs, type Machine } from "../../cli/lib/qemu.js";
import { statusFromQemu, EXIT } from "../../cli/lib/status.js";

export interface LaunchOptions {
  kernel: string;
  machine: Machine;
  memory: string;
  cmdline?: string;
  /** -initrd and network devices go here. */
  extraArgs?: string[];
  timeoutMs: number;
  /** Chosen once per benchmark run (bench/run.ts); default tcg. */
  accel?: "kvm" | "tcg";
}

export interface Launched {
  pid: number;
  child: ChildProcess;
  /** performance.now() just before spawn. */
  t0: number;
  /** All serial output so far, raw (firmware noise included). */
  serial(): string;
  /** Milliseconds from spawn until the pattern first appears on the serial port;
   *  null if QEMU exits or the limit passes first. */
  waitFor(pattern: RegExp, limitMs?: number): Promise<number | null>;
  exited: Promise<{ ms: number; status: number; timedOut: boolean; stderr: string }>;
  rssKiB(): number | null;
  stop(): Promise<void>;
}

let benchAccel: "kvm" | "tcg" = "tcg";
/** One accelerator for the whole run, chosen and printed by bench/run.ts. */
export function setBenchAccel(a: "kvm" | "tcg"): void { benchAccel = a; }

export function netArgs(machine: Machine, hostPort: number): string[] {
  const dev = machine === "microvm" ? "virtio-net-device" : "virtio-net-pci";
  return ["-netdev", `user,id=net0,hostfwd=tcp:127.0.0.1:${hostPort}-:80`, "-device", `${dev},netdev=net0`];
}

export function launch(o: LaunchOptions): Launched {
  const args = qemuArgs({ kernel: o.kernel, machine: o.machine, memory: o.memory, cmdline: o.cmdline, extraArgs: o.extraArgs }, o.accel ?? benchAccel);
  const t0 = performance.now();
  const child = spawn("qemu-system-x86_64", args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let stderr = "";
  const waiters: { re: RegExp; done: (ms: number | null) => void }[] = [];
  child.stdout!.setEncoding("latin1");
  child.stdout!.on("data", (c: string) => {
    const now = performance.now();
    out += c;
    for (const w of [...waiters]) {
      if (w.re.test(out)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.done(now - t0);
      }
    }
  });
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (c: string) => { stderr += c; });
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; child.kill("SIGKILL"); }, o.timeoutMs);
  const exited = new Promise<{ ms: number; status: number; timedOut: boolean; stderr: string }>((resolve) => {
    child.on("error", (e) => { stderr += String(e); });
    child.on("close", (code) => {
      const ms = performance.now() - t0;
      clearTimeout(timer);
      for (const w of waiters.splice(0)) w.done(null);
      const status = timedOut ? EXIT.TIMEOUT : statusFromQemu(code ?? undefined, stderr);
      resolve({ ms, status, timedOut, stderr });
    });
  });
  const pid = child.pid ?? -1;
  return {
    pid, child, t0,
    serial: () => out,
    waitFor(re, limitMs) {
      if (re.test(out)) return Promise.resolve(0);
      return new Promise((resolve) => {
        const w = { re, done: resolve };
        waiters.push(w);
        if (limitMs) setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i >= 0) { waiters.splice(i, 1); resolve(null); }
        }, limitMs);
      });
    },
    exited,
    rssKiB() {
      try {
        const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
        return m ? parseInt(m[1], 10) : null;
      } catch { return null; }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        try { process.kill(pid, "SIGKILL"); } catch { /* already gone */ }
      }
      await exited;
    },
  };
}

/** TSC ticks per microsecond. Under TCG QEMU's guest TSC runs at the host's
 *  TSC rate (cpu_get_host_ticks); with constant_tsc, /proc/cpuinfo's MHz is it. */
export function hostTscMHz(): { mhz: number; source: string } | null {
  try {
    const info = readFileSync("/proc/cpuinfo", "utf8");
    const mhz = /cpu MHz\s*:\s*([\d.]+)/.exec(info);
    if (!mhz) return null;
    const constant = /\bconstant_tsc\b/.test(info);
    return { mhz: parseFloat(mhz[1]), source: constant ? "/proc/cpuinfo cpu MHz (constant_tsc)" : "/proc/cpuinfo cpu MHz (no constant_tsc: approximate)" };
  } catch { return null; }
}
