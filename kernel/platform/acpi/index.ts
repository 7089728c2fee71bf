// kernel/platform/acpi — just enough ACPI to find interrupt hardware and devices:
//   bytes.ts   the one bounds-checked little-endian reader for table bytes
//   tables.ts  the RSDP (boot information, else the BIOS area scan), one table read and checked
//   info.ts    the table walk, parsed once: acpiInfo()
//   madt.ts    processors, local APIC, I/O APICs, interrupt overrides
//   mcfg.ts    where PCI configuration space is (ECAM)
//   dsdt.ts    virtio-mmio devices the DSDT lists (QEMU microvm)
export { AcpiInfo, parseAcpi, acpiInfo } from "./info";
export { Madt, IoApicInfo, IrqOverride, parseMadt } from "./madt";
export { EcamRegion, parseMcfg } from "./mcfg";
export { isRsdp, readTable } from "./tables";
export { AcpiMmioDevice, acpiMmioDevices } from "./dsdt";
