// kernel/core/time/index.ts — time for the kernel: the calibrated monotonic clock,
// wall-clock time (CMOS RTC, else `epoch=<unix seconds>` on the command line),
// and the one-shot deadline timer the idle loop programs (TSC-deadline mode
// when the CPU has it, else the LAPIC timer in one-shot mode). Tickless: the
// timer is armed for the nearest deadline only, never periodically.
import { rdtsc } from "../../platform";
import { lapic, rtcEpochSeconds } from "../../platform/arch";
import { Cmdline, bootInfo } from "../../platform/bootinfo";
import { acpiInfo } from "../../platform/acpi";
import { println } from "../console";
import { calibrateTsc, Calibration } from "./calibrate";
import { setTscHz, resetEpoch, rawNowNs, tscAt, tscFrequency, clockSource, NS_PER_S } from "./clock";

export { ticksToNs, nsToTicks, tscFrequency, clockSource, setTscHz, resetEpoch, rawNowNs, NS_PER_S } from "./clock";
export { calibrateTsc, Calibration } from "./calibrate";

/** Longest single LAPIC one-shot we program; the loop re-arms after it. */
const MAX_ONESHOT_NS: u64 = 10 * NS_PER_S;

let wallOffsetNs: i64 = 0;
// @ts-ignore: decorator
@lazy
let wallSource: string = "none";
const MODE_NONE: u32 = 0;
const MODE_ONESHOT: u32 = 1;
const MODE_TSC_DEADLINE: u32 = 2;
let timerMode: u32 = MODE_NONE;
let lapicHz: u64 = 0;
let timerVector: u32 = 0;

let clockReady = false;

/** Calibrates the clock and reads the wall clock on first use, so a guest
 *  that never asks the time (hello) pays neither the calibration delay nor
 *  the code: nothing in the boot path calls this. */
export function ensureClock(): void {
  if (clockReady) return;
  const boot = bootInfo();
  initClock(acpiInfo(boot).hpetAddress);
  initWallClock(boot.cmdline);
  if (!boot.cmdline.has("quiet")) {
    println("clock: TSC " + (tscFrequency() / 1000).toString() + " kHz (" + clockSource() + "), wall clock from " +
      wallSource + ", unix time " + (wallClockNs() / NS_PER_S).toString());
  }
}

/** Monotonic nanoseconds since the clock started (calibrating it first if need be). */
export function nowNs(): u64 {
  if (!clockReady) ensureClock();
  return rawNowNs();
}

/** Finds the TSC rate and starts the monotonic clock at zero. */
export function initClock(hpetBase: u64): Calibration {
  clockReady = true;
  const c = calibrateTsc(hpetBase);
  setTscHz(c.hz, c.source);
  resetEpoch();
  return c;
}

/** Reads the wall clock once; later it advances with the monotonic clock. */
export function initWallClock(cmdline: Cmdline): void {
  let secs = rtcEpochSeconds();
  wallSource = "CMOS RTC";
  if (secs < 0) {
    secs = -1;
    const v = cmdline.get("epoch");
    if (v !== null && v.length > 0 && v.length < 19) {
      let n: i64 = 0;
      let ok = true;
      for (let i = 0; i < v.length; i++) {
        const c = v.charCodeAt(i);
        if (c < 0x30 || c > 0x39) { ok = false; break; }
        n = n * 10 + <i64>(c - 0x30);
      }
      if (ok) { secs = n; wallSource = "command line"; }
    }
  }
  if (secs < 0) { secs = 0; wallSource = "none (1970)"; }
  setWallClockNs(<u64>secs * NS_PER_S);
}

/** Sets the current wall-clock time (e.g. from NTP later). */
export function setWallClockNs(unixNs: u64): void {
  wallOffsetNs = <i64>unixNs - <i64>nowNs();
}

/** Nanoseconds since the Unix epoch. */
export function wallClockNs(): u64 {
  return <u64>(<i64>nowNs() + wallOffsetNs);
}

export function wallClockSource(): string { return wallSource; }
export function deadlineTimerMode(): string {
  return timerMode == MODE_TSC_DEADLINE ? "TSC-deadline" : timerMode == MODE_ONESHOT ? "LAPIC one-shot" : "none";
}
export function lapicTimerHz(): u64 { return lapicHz; }

/** Sets up the deadline timer on `vector`. Needs initClock() and an enabled
 *  LAPIC. Returns false when there is no timer (the loop then polls). */
export function initDeadlineTimer(vector: u32): bool {
  timerVector = vector;
  if (!lapic.present) { timerMode = MODE_NONE; return false; }
  if (lapic.tscDeadline) {
    lapic.timerDeadlineMode(vector);
    timerMode = MODE_TSC_DEADLINE;
    return true;
  }
  // Measure the LAPIC timer against the TSC over ~10 ms with its interrupt masked.
  lapic.write(0x3e0, 0x3);                    // divide by 16
  lapic.write(0x320, 1 << 16);                // masked, one-shot
  lapic.timerStart(0xffffffff);
  const t0 = rdtsc();
  const wait = tscFrequency() / 100;
  while (rdtsc() - t0 < wait) {}
  const cur = lapic.timerCurrent();
  const t1 = rdtsc();
  lapic.timerStart(0);
  const counted = <u64>(0xffffffff - cur);
  if (counted == 0 || t1 <= t0) { timerMode = MODE_NONE; return false; }
  lapicHz = counted * tscFrequency() / (t1 - t0);
  lapic.timerOneShot(vector);
  timerMode = MODE_ONESHOT;
  return true;
}

/** Programs the timer to interrupt at monotonic time deadlineNs (0: disarm).
 *  A deadline already past fires as soon as possible. */
export function armDeadline(deadlineNs: u64): void {
  if (timerMode == MODE_TSC_DEADLINE) {
    lapic.setDeadline(deadlineNs == 0 ? 0 : tscAt(deadlineNs));
    return;
  }
  if (timerMode != MODE_ONESHOT) return;
  if (deadlineNs == 0) { lapic.timerStart(0); return; }
  const now = nowNs();
  let delta: u64 = deadlineNs > now ? deadlineNs - now : 0;
  if (delta > MAX_ONESHOT_NS) delta = MAX_ONESHOT_NS;
  let count = (delta / NS_PER_S) * lapicHz + (delta % NS_PER_S) * lapicHz / NS_PER_S;
  // Round up: an interrupt a tick early would find the timer not yet due and
  // cost another wake-up.
  count += 1;
  if (count > 0xffffffff) count = 0xffffffff;
  lapic.timerStart(<u32>count);
}

export function timerVectorNumber(): u32 { return timerVector; }
