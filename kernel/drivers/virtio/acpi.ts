// kernel/drivers/virtio/acpi.ts — virtio-mmio slots from the devices ACPI's DSDT lists
// (the scanner is kernel/platform/acpi/dsdt.ts; acpi=off on the command line leaves it empty).
import { BootInfo } from "../../platform/bootinfo";
import { acpiInfo, acpiMmioDevices } from "../../platform/acpi";
import { MmioSlot } from "./transport/mmio";

/** Every LNRO0005 device's register window and interrupt. */
export function acpiMmioSlots(boot: BootInfo, problems: string[]): MmioSlot[] {
  const devs = acpiMmioDevices(acpiInfo(boot), problems);
  const out = new Array<MmioSlot>();
  for (let i = 0; i < devs.length; i++) out.push(new MmioSlot(devs[i].base, devs[i].size, devs[i].irq));
  return out;
}
