// kernel/platform/arch/cpu.ts — CPUID and model-specific registers: names for the leaves
// and MSRs the core uses (Intel SDM vol. 2 CPUID; vol. 4 MSR list) and a CPUID
// wrapper that returns the four registers without allocating.
import { cpuid as hostCpuid } from "..";

export const MSR_APIC_BASE: u32 = 0x1b;          // IA32_APIC_BASE
export const APIC_BASE_BSP: u64 = 1 << 8;
export const APIC_BASE_EXTD: u64 = 1 << 10;       // x2APIC mode
export const APIC_BASE_EN: u64 = 1 << 11;
export const MSR_TSC_DEADLINE: u32 = 0x6e0;       // IA32_TSC_DEADLINE
export const MSR_X2APIC_BASE: u32 = 0x800;        // x2APIC register n at 0x800 + (xAPIC offset >> 4)
export const MSR_KVM_SYSTEM_TIME_NEW: u32 = 0x4b564d01;

// CPUID.1:ECX feature bits.
export const CPUID1_ECX_X2APIC: u32 = 1 << 21;
export const CPUID1_ECX_TSC_DEADLINE: u32 = 1 << 24;
export const CPUID1_ECX_HYPERVISOR: u32 = 1 << 31;
// CPUID.1:EDX
export const CPUID1_EDX_APIC: u32 = 1 << 9;

// @ts-ignore: decorator
@lazy
const regs = memory.data(16);

/** Runs CPUID; read the result with eax() .. edx() before the next call. */
export function cpuid(leaf: u32, sub: u32 = 0): void {
  store<u64>(regs, 0);
  store<u64>(regs + 8, 0);
  hostCpuid(leaf, sub, regs);
}
export function eax(): u32 { return load<u32>(regs); }
export function ebx(): u32 { return load<u32>(regs + 4); }
export function ecx(): u32 { return load<u32>(regs + 8); }
export function edx(): u32 { return load<u32>(regs + 12); }

/** The highest basic CPUID leaf. */
export function maxLeaf(): u32 {
  cpuid(0);
  return eax();
}

export function hasFeatureEcx(bit: u32): bool {
  cpuid(1);
  return (ecx() & bit) != 0;
}
export function hasFeatureEdx(bit: u32): bool {
  cpuid(1);
  return (edx() & bit) != 0;
}

/** The hypervisor's CPUID signature at 0x40000000 ("KVMKVMKVM", "TCGTCGTCGTCG", ...), or "". */
export function hypervisorSignature(base: u32 = 0x40000000): string {
  if (!hasFeatureEcx(CPUID1_ECX_HYPERVISOR)) return "";
  cpuid(base);
  let s = "";
  const words: u32[] = [ebx(), ecx(), edx()];
  for (let w = 0; w < 3; w++) {
    for (let i: u32 = 0; i < 4; i++) {
      const c = (words[w] >> (8 * i)) & 0xff;
      if (c >= 0x20 && c < 0x7f) s += String.fromCharCode(c);
    }
  }
  return s;
}
