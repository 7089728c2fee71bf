// kernel/core/time/clock.ts — the monotonic clock: nanoseconds since boot from the
// TSC, whose rate calibrate.ts finds. Conversions split the tick count into
// whole seconds and a remainder so no product overflows 64 bits.
import { rdtsc } from "../../platform";

let tscHz: u64 = 1_000_000_000;
let tsc0: u64 = 0;
// @ts-ignore: decorator
@lazy
let sourceName: string = "assumed 1 GHz";

export const NS_PER_S: u64 = 1_000_000_000;

/** Sets the TSC rate and makes "now" the zero of the monotonic clock. */
export function setTscHz(hz: u64, source: string): void {
  tscHz = hz > 0 ? hz : 1_000_000_000;
  sourceName = source;
}

export function resetEpoch(): void {
  tsc0 = rdtsc();
}

export function tscFrequency(): u64 { return tscHz; }
export function clockSource(): string { return sourceName; }
export function tscAtBoot(): u64 { return tsc0; }

export function ticksToNs(t: u64): u64 {
  return (t / tscHz) * NS_PER_S + (t % tscHz) * NS_PER_S / tscHz;
}

export function nsToTicks(ns: u64): u64 {
  return (ns / NS_PER_S) * tscHz + (ns % NS_PER_S) * tscHz / NS_PER_S;
}

/** Monotonic nanoseconds since the clock was started, without calibrating
 *  first (time/index.ts's nowNs() calibrates on first use). */
export function rawNowNs(): u64 {
  const t = rdtsc();
  return t > tsc0 ? ticksToNs(t - tsc0) : 0;
}

/** The TSC value at monotonic time ns (for TSC-deadline mode). */
export function tscAt(ns: u64): u64 {
  return tsc0 + nsToTicks(ns);
}
