// test/unit/wasm/dsdt.ts — drives kernel/platform/acpi's DSDT scan (virtio-mmio devices) from Node.
import { abortHandler } from "../../../kernel/core/panic";
import { parseAcpi, acpiMmioDevices } from "../../../kernel/platform/acpi";

export { abortHandler };

/** The virtio-mmio devices the DSDT lists, as "base+size@irq" words, then "|" and problems. */
export function acpiMmio(rsdpAddr: u64): string {
  const a = parseAcpi(rsdpAddr, null);
  const problems = new Array<string>();
  const d = acpiMmioDevices(a, problems);
  let s = "";
  for (let i = 0; i < d.length; i++) s += (i > 0 ? " " : "") + "0x" + d[i].base.toString(16) + "+0x" + d[i].size.toString(16) + "@" + d[i].irq.toString();
  return s + "|" + problems.join(";");
}
