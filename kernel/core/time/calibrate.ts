// kernel/core/time/calibrate.ts — how fast the TSC runs, from the best source the
// machine offers, in this order:
//   1. CPUID 0x15 (TSC/crystal ratio × crystal Hz; exact when all three given)
//   2. KVM clock (pvclock tsc_to_system_mul/shift: the host's own measurement)
//   3. the hypervisor timing leaf 0x40000010 (TSC kHz; QEMU/VMware)
//   4. CPUID 0x16 base frequency (MHz; Intel says "not exact", so after 2 and 3)
//   5. measured against the 8254 PIT, else the HPET (TCG and most BIOS machines)
//   6. assume 1 GHz and say so (only when no reference clock exists)
import { wrmsr, linear_base } from "../../platform";
import { cpuid, eax, ebx, ecx, maxLeaf, hypervisorSignature, MSR_KVM_SYSTEM_TIME_NEW, pitCalibrateTsc, hpetCalibrateTsc } from "../../platform/arch";

/** Calibration interval against a reference clock: 25 ms (≈ 0.01 % error from
 *  a few µs of read jitter), short enough not to slow the boot noticeably. */
const MEASURE_PIT_TICKS: u32 = 29830;
const MEASURE_NS: u64 = 25_000_000;

export class Calibration {
  hz: u64 = 0;
  source: string = "";
}

// pvclock_vcpu_time_info (Linux arch/x86/include/asm/pvclock-abi.h), 32 bytes:
// version u32 @0, tsc_timestamp u64 @8, system_time u64 @16,
// tsc_to_system_mul u32 @24, tsc_shift i8 @28, flags u8 @29.
// @ts-ignore: decorator
@lazy
const pvclock = memory.data(64, 64);

function fromKvmClock(): u64 {
  if (!hypervisorSignature().startsWith("KVMKVMKVM")) return 0;
  cpuid(0x40000001);
  if ((eax() & (1 << 3)) == 0) return 0;          // KVM_FEATURE_CLOCKSOURCE2
  memory.fill(pvclock, 0, 32);
  const phys = linear_base() + <u64>pvclock;
  wrmsr(MSR_KVM_SYSTEM_TIME_NEW, phys | 1);
  const mul = <u64>load<u32>(pvclock + 24);
  const shift = <i32>load<i8>(pvclock + 28);
  wrmsr(MSR_KVM_SYSTEM_TIME_NEW, 0);              // we read the TSC ourselves from now on
  if (mul == 0) return 0;
  // ns = ((ticks << shift) * mul) >> 32, so hz = 1e9 * 2^32 / (mul * 2^shift).
  let hz = 1e9 * 4294967296.0 / <f64>mul;
  hz = shift >= 0 ? hz / <f64>(1 << shift) : hz * <f64>(1 << -shift);
  return <u64>hz;
}

export function calibrateTsc(hpetBase: u64): Calibration {
  const c = new Calibration();
  const top = maxLeaf();
  if (top >= 0x15) {
    cpuid(0x15);
    if (eax() != 0 && ebx() != 0 && ecx() != 0) {
      c.hz = <u64>ecx() * <u64>ebx() / <u64>eax();
      c.source = "CPUID 0x15";
      return c;
    }
  }
  c.hz = fromKvmClock();
  if (c.hz != 0) { c.source = "KVM clock"; return c; }
  const hv = hypervisorSignature();
  if (hv.length > 0) {
    cpuid(0x40000000);
    if (eax() >= 0x40000010) {
      cpuid(0x40000010);
      if (eax() != 0) { c.hz = <u64>eax() * 1000; c.source = "hypervisor leaf 0x40000010"; return c; }
    }
  }
  if (top >= 0x16) {
    cpuid(0x16);
    if ((eax() & 0xffff) != 0) { c.hz = <u64>(eax() & 0xffff) * 1_000_000; c.source = "CPUID 0x16"; return c; }
  }
  c.hz = pitCalibrateTsc(MEASURE_PIT_TICKS);
  if (c.hz != 0) { c.source = "PIT"; return c; }
  c.hz = hpetCalibrateTsc(hpetBase, MEASURE_NS);
  if (c.hz != 0) { c.source = "HPET"; return c; }
  c.hz = 1_000_000_000;
  c.source = "assumed 1 GHz (no reference clock)";
  return c;
}

