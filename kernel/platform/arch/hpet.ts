// kernel/platform/arch/hpet.ts — the HPET main counter as a calibration reference
// (IA-PC HPET spec 1.0a §2.3: capabilities at 0x000, period in femtoseconds in
// bits 63:32; general configuration 0x010 bit 0 ENABLE_CNF; main counter 0x0f0).
import { mmio_read32, mmio_read64, mmio_write32, rdtsc } from "..";

const HPET_CAP: u64 = 0x000;
const HPET_CONFIG: u64 = 0x010;
const HPET_COUNTER: u64 = 0x0f0;
const FS_PER_S: u64 = 1_000_000_000_000_000;

/** TSC rate measured over about `ns` of HPET time, or 0 without a usable HPET. */
export function hpetCalibrateTsc(base: u64, ns: u64): u64 {
  if (base == 0) return 0;
  const periodFs = mmio_read64(base + HPET_CAP) >> 32;
  // The spec bounds the period to (0, 100 ns].
  if (periodFs == 0 || periodFs > 100_000_000) return 0;
  mmio_write32(base + HPET_CONFIG, mmio_read32(base + HPET_CONFIG) | 1);
  const want = ns * 1_000_000 / periodFs;     // HPET ticks
  const h0 = mmio_read64(base + HPET_COUNTER);
  const t0 = rdtsc();
  let h1 = h0;
  let spins = 0;
  while (h1 - h0 < want) {
    h1 = mmio_read64(base + HPET_COUNTER);
    if (h1 == h0 && ++spins > 1000000) return 0;   // counter not running
  }
  const t1 = rdtsc();
  const fs = (h1 - h0) * periodFs;             // < 2^64 for ns up to seconds
  if (fs == 0 || t1 <= t0) return 0;
  // hz = ticks / (fs / 1e15), computed without overflow for ticks < 2^44.
  return (t1 - t0) * 1_000_000 / (fs / 1_000_000_000);
}

export { FS_PER_S };
