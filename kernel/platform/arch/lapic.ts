// kernel/platform/arch/lapic.ts — the local APIC in xAPIC (MMIO) or x2APIC (MSR) mode:
// enable, spurious vector, EOI mode for the loader's stubs, and the timer in
// one-shot or TSC-deadline mode. Intel SDM vol. 3 ch. 10 (11 in newer editions).
import { mmio_read32, mmio_write32, rdmsr, wrmsr, irq_set_eoi } from "..";
import {
  MSR_APIC_BASE, APIC_BASE_EN, APIC_BASE_EXTD, MSR_X2APIC_BASE, MSR_TSC_DEADLINE,
  CPUID1_ECX_X2APIC, CPUID1_ECX_TSC_DEADLINE, CPUID1_EDX_APIC, cpuid, ecx, edx,
} from "./cpu";

// Register offsets (xAPIC MMIO; x2APIC MSR = 0x800 + offset >> 4).
export const LAPIC_ID: u32 = 0x020;
export const LAPIC_VERSION: u32 = 0x030;
export const LAPIC_TPR: u32 = 0x080;
export const LAPIC_EOI: u32 = 0x0b0;
export const LAPIC_SVR: u32 = 0x0f0;
export const LAPIC_ESR: u32 = 0x280;
export const LAPIC_LVT_TIMER: u32 = 0x320;
export const LAPIC_LVT_LINT0: u32 = 0x350;
export const LAPIC_LVT_LINT1: u32 = 0x360;
export const LAPIC_LVT_ERROR: u32 = 0x370;
export const LAPIC_TIMER_INIT: u32 = 0x380;
export const LAPIC_TIMER_CURRENT: u32 = 0x390;
export const LAPIC_TIMER_DIVIDE: u32 = 0x3e0;

export const SVR_ENABLE: u32 = 1 << 8;
export const LVT_MASKED: u32 = 1 << 16;
export const LVT_TIMER_ONESHOT: u32 = 0 << 17;
export const LVT_TIMER_TSC_DEADLINE: u32 = 2 << 17;
/** Divide configuration value for divide-by-16 (bits 0,1,3 = 0b0011). */
export const TIMER_DIVIDE_16: u32 = 0x3;
export const DEFAULT_LAPIC_BASE: u64 = 0xfee00000;

/** The loader's EOI modes (boot/hostif.h; entry.S irq_common acts on them). */
const EOI_NONE: u32 = 0;
const EOI_XAPIC: u32 = 1;
const EOI_X2APIC: u32 = 2;

export class Lapic {
  present: bool = false;
  x2apic: bool = false;
  tscDeadline: bool = false;
  base: u64 = DEFAULT_LAPIC_BASE;
  id: u32 = 0;

  read(reg: u32): u32 {
    if (this.x2apic) return <u32>rdmsr(MSR_X2APIC_BASE + (reg >> 4));
    return mmio_read32(this.base + reg);
  }

  write(reg: u32, v: u32): void {
    if (this.x2apic) wrmsr(MSR_X2APIC_BASE + (reg >> 4), v);
    else mmio_write32(this.base + reg, v);
  }

  /** Enables the APIC (x2APIC when the CPU has it), spurious vector 0xff,
   *  accepts every priority, masks LINT0/1 (the 8259 is masked too), and tells
   *  the loader how to EOI. madtBase: the address ACPI gave, or 0. */
  init(madtBase: u64, spuriousVector: u32, errorVector: u32): bool {
    cpuid(1);
    if ((edx() & CPUID1_EDX_APIC) == 0) return false;
    const hasX2 = (ecx() & CPUID1_ECX_X2APIC) != 0;
    this.tscDeadline = (ecx() & CPUID1_ECX_TSC_DEADLINE) != 0;
    let msr = rdmsr(MSR_APIC_BASE);
    const msrBase = msr & 0x000f_ffff_ffff_f000;
    this.base = msrBase != 0 ? msrBase : (madtBase != 0 ? madtBase : DEFAULT_LAPIC_BASE);
    // xAPIC must be enabled before x2APIC (SDM: EN=1 EXTD=1 from EN=1 EXTD=0).
    msr |= APIC_BASE_EN;
    wrmsr(MSR_APIC_BASE, msr);
    if (hasX2) {
      msr |= APIC_BASE_EXTD;
      wrmsr(MSR_APIC_BASE, msr);
      this.x2apic = true;
    }
    this.present = true;
    this.id = this.x2apic ? this.read(LAPIC_ID) : this.read(LAPIC_ID) >> 24;
    this.write(LAPIC_TPR, 0);
    this.write(LAPIC_LVT_LINT0, LVT_MASKED);
    this.write(LAPIC_LVT_LINT1, LVT_MASKED);
    this.write(LAPIC_LVT_TIMER, LVT_MASKED);
    this.write(LAPIC_LVT_ERROR, errorVector);
    this.write(LAPIC_SVR, SVR_ENABLE | spuriousVector);
    irq_set_eoi(this.x2apic ? EOI_X2APIC : EOI_XAPIC, this.base + LAPIC_EOI);
    return true;
  }

  /** Stops the loader from writing EOIs (no APIC). */
  static noEoi(): void {
    irq_set_eoi(EOI_NONE, 0);
  }

  /** Prepares the timer for one-shot counts at bus/16. */
  timerOneShot(vector: u32): void {
    this.write(LAPIC_TIMER_DIVIDE, TIMER_DIVIDE_16);
    this.write(LAPIC_LVT_TIMER, LVT_TIMER_ONESHOT | vector);
  }

  /** Starts a one-shot countdown; 0 stops the timer. */
  timerStart(count: u32): void {
    this.write(LAPIC_TIMER_INIT, count);
  }

  timerCurrent(): u32 {
    return this.read(LAPIC_TIMER_CURRENT);
  }

  /** TSC-deadline mode: the timer fires when the TSC reaches the MSR's value. */
  timerDeadlineMode(vector: u32): void {
    this.write(LAPIC_LVT_TIMER, LVT_TIMER_TSC_DEADLINE | vector);
  }

  /** Arms the TSC deadline; 0 disarms. */
  setDeadline(tsc: u64): void {
    wrmsr(MSR_TSC_DEADLINE, tsc);
  }

  maskTimer(): void {
    this.write(LAPIC_LVT_TIMER, LVT_MASKED);
    this.write(LAPIC_TIMER_INIT, 0);
  }
}

// @ts-ignore: decorator
@lazy
export const lapic = new Lapic();
