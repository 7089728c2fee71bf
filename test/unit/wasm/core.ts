// test/unit/wasm/core.ts — drives the kernel core (interrupts, clock, timers,
// event loop) from Node against test/platform/core-devices.ts.
import { abortHandler } from "../../../kernel/core/panic";
import { AcpiInfo, Madt, IoApicInfo, IrqOverride } from "../../../kernel/platform/acpi";
import { initInterrupts, irqForGsi, irqForIsa, allocMsiVector, msiAddress, msiData, IrqHandler, dispatchPending, ioApicCount, interruptSource } from "../../../kernel/core/irq";
import { setTscHz, resetEpoch, nowNs, initDeadlineTimer, calibrateTsc, deadlineTimerMode, lapicTimerHz } from "../../../kernel/core/time";
import {
  Task, TimerHandler, Timer, initScheduler, spawn, wake, after, every, at, cancel, setDaemon, hold, release, requestExit,
  runLoop, runOnce, sleepBlocking, taskSnapshot, schedStats, shouldYield, setHogThresholdNs, addService, Service,
} from "../../../kernel/core/sched";
import { TimerHeap } from "../../../kernel/core/sched/timer";
import { rdtsc } from "../../../kernel/platform";

export { abortHandler };

let log = "";
function note(s: string): void { log += (log.length > 0 ? " " : "") + s; }
export function takeLog(): string { const s = log; log = ""; return s; }

// --- setup ---------------------------------------------------------------------

export function setup(tscHz: u64, withMadt: bool): void {
  const acpi = new AcpiInfo();
  if (withMadt) {
    const m = new Madt();
    m.lapicAddress = 0xfee00000;
    m.ioApics.push(new IoApicInfo(0, 0xfec00000, 0));
    m.overrides.push(new IrqOverride(0, 2, false, false));
    m.overrides.push(new IrqOverride(9, 9, true, true));
    acpi.madt = m;
  }
  initInterrupts(acpi);
  setTscHz(tscHz, "test");
  initScheduler();
  resetEpoch();   // after the LAPIC timer's 10 ms calibration: tests start at t=0
}
export function source(): string { return interruptSource(); }
export function ioApics(): i32 { return ioApicCount(); }
export function timerMode(): string { return deadlineTimerMode(); }
export function lapicHz(): u64 { return lapicTimerHz(); }
export function now(): u64 { return nowNs(); }
export function calibrated(): u64 { return calibrateTsc(0).hz; }
export function calibratedSource(): string { return calibrateTsc(0).source; }

// --- timer heap, by itself -------------------------------------------------------

class Rec extends TimerHandler {
  constructor(public label: string) { super(); }
  fire(now: u64): void { note(this.label + "@" + (now / 1_000_000).toString()); }
}

/** Inserts timers at the given ms deadlines (labels t0, t1, ...), cancels
 *  those whose index is in `cancelIdx`, then pops all: the firing order. */
function ints(csv: string): i32[] {
  const out = new Array<i32>();
  if (csv.length == 0) return out;
  const parts = csv.split(",");
  for (let i = 0; i < parts.length; i++) out.push(I32.parseInt(parts[i]));
  return out;
}

export function heapOrder(deadlinesCsv: string, cancelCsv: string): string {
  const deadlinesMs = ints(deadlinesCsv);
  const cancelIdx = ints(cancelCsv);
  const h = new TimerHeap();
  const ts = new Array<Timer>();
  for (let i = 0; i < deadlinesMs.length; i++) {
    const t = new Timer(new Rec("t" + i.toString()));
    h.insert(t, <u64>deadlinesMs[i] * 1_000_000);
    ts.push(t);
  }
  for (let i = 0; i < cancelIdx.length; i++) h.remove(ts[cancelIdx[i]]);
  let t = h.popDue(0xffffffffffffffff);
  while (t !== null) {
    t.handler.fire(t.deadline);
    t = h.popDue(0xffffffffffffffff);
  }
  return takeLog();
}

// --- the loop with timers ----------------------------------------------------------

let lastTimer: Timer | null = null;
export function addAfter(ms: i32, label: string): void { lastTimer = after(<u64>ms * 1_000_000, new Rec(label)); }
export function addAt(ms: i32, label: string): void { lastTimer = at(<u64>ms * 1_000_000, new Rec(label)); }

class Periodic extends TimerHandler {
  n: i32 = 0;
  timer: Timer | null = null;
  constructor(public label: string, public limit: i32) { super(); }
  fire(now: u64): void {
    note(this.label + "@" + (now / 1_000_000).toString());
    if (++this.n >= this.limit) cancel(this.timer!);
  }
}
export function addEvery(ms: i32, label: string, limit: i32): void {
  const p = new Periodic(label, limit);
  p.timer = every(<u64>ms * 1_000_000, p);
  lastTimer = p.timer;
}
export function cancelLast(): bool { return cancel(lastTimer!); }
export function daemonLast(): void { setDaemon(lastTimer!, true); }
export function loop(): i32 { return runLoop(); }
export function once(): void { runOnce(false); }
export function blockFor(ms: i32): void { sleepBlocking(<u64>ms * 1_000_000); }

// --- tasks ---------------------------------------------------------------------------

/** Sleeps `period` ms `count` times, noting each wake-up. */
class Sleeper extends Task {
  n: i32 = 0;
  constructor(name: string, public period: i32, public count: i32) { super(name); }
  poll(now: u64): void {
    note(this.name + "@" + (now / 1_000_000).toString());
    if (this.n++ == this.count) { this.finish(); return; }
    this.sleepFor(<u64>this.period * 1_000_000);
  }
}
export function spawnSleeper(name: string, periodMs: i32, count: i32): void { spawn(new Sleeper(name, periodMs, count)); }

/** Runs `slices` turns, each `again()`: round-robin with other busy tasks. */
class Busy extends Task {
  n: i32 = 0;
  constructor(name: string, public slices: i32, public burnTicks: u64) { super(name); }
  poll(now: u64): void {
    note(this.name + this.n.toString());
    if (this.burnTicks > 0) { const t0 = rdtsc(); while (rdtsc() - t0 < this.burnTicks) {} }
    if (++this.n >= this.slices) this.finish(); else this.again();
  }
}
export function spawnBusy(name: string, slices: i32, burnTicks: u64): void { spawn(new Busy(name, slices, burnTicks)); }

/** Waits until woken by an interrupt handler, `want` times. */
class Waiter extends Task {
  n: i32 = 0;
  constructor(public want: i32) { super("waiter"); }
  poll(now: u64): void {
    note("poll" + this.n.toString());
    if (this.n++ >= this.want) this.finish();
  }
}
const waiter = new Waiter(2);
class Waker extends IrqHandler {
  handleIrq(v: u32): void { note("irq" + v.toString()); wake(waiter); }
}
export function spawnWaiter(): void { spawn(waiter); }
export function routeGsi(gsi: u32, level: bool, low: bool): i32 { return irqForGsi(gsi, new Waker(), level, low); }
export function routeIsa(irq: u32): i32 { return irqForIsa(irq, new Waker()); }
export function msiVector(): i32 { return allocMsiVector(new Waker()); }
export function msiAddr(): u64 { return msiAddress(); }
export function msiDat(v: u32): u32 { return msiData(v); }
export function dispatch(): u32 { return dispatchPending(); }

/** A service routine counted per pass. */
class Counting extends Service {
  n: i32 = 0;
  service(now: u64): void { this.n++; }
}
const counting = new Counting();
export function addCountingService(): void { addService(counting); }
export function serviceRuns(): i32 { return counting.n; }

class Quitter extends TimerHandler {
  fire(now: u64): void { note("quit"); requestExit(7); }
}
export function holdAndQuitAfter(ms: i32): void { hold(); after(<u64>ms * 1_000_000, new Quitter()); }
export function releaseHold(): void { release(); }

export function snapshot(): string {
  const ts = taskSnapshot();
  let s = "";
  for (let i = 0; i < ts.length; i++) s += ts[i].name + ":" + ts[i].state + ":" + ts[i].runs.toString() + ":" + (ts[i].cpuNs > 0 ? "cpu" : "0") + ";";
  return s;
}
export function idleNs(): u64 { return schedStats().idleNs; }
export function halts(): u64 { return schedStats().halts; }
export function hogWarnings(): u64 { return schedStats().hogWarnings; }
export function setHog(ms: i32): void { setHogThresholdNs(<u64>ms * 1_000_000); }
