// kernel/platform/arch/index.ts — x86 platform devices the core drives: CPUID/MSRs,
// local APIC, I/O APIC, 8259 PIC, 8254 PIT, HPET, CMOS RTC, QEMU fw_cfg. All hardware access
// goes through kernel/platform's host imports.
export * from "./cpu";
export * from "./lapic";
export * from "./ioapic";
export * from "./pic";
export * from "./pit";
export * from "./hpet";
export * from "./cmos";
export * from "./fwcfg";
