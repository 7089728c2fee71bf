// test/unit/wasm/pci.ts — drives kernel/platform/acpi's MCFG parser and kernel/drivers/pci's
// configuration access (ECAM or ports) and enumeration for test/unit/pci-ecam.test.ts.
import { abortHandler } from "../../../kernel/core/panic";
import { parseMcfg, parseAcpi, EcamRegion } from "../../../kernel/platform/acpi";
import { useEcam, pciDevices, pciConfigAccess, configRead32, configWrite32 } from "../../../kernel/drivers/pci";

export { abortHandler };

export function mcfg(bytes: ArrayBuffer): string {
  const problems = new Array<string>();
  const r = parseMcfg(Uint8Array.wrap(bytes), problems);
  const parts = new Array<string>();
  for (let i = 0; i < r.length; i++) parts.push(r[i].toString());
  return parts.join(";") + "|" + problems.join(";");
}

export function acpiEcam(rsdpAddr: u64): string {
  const a = parseAcpi(rsdpAddr, null);
  const parts = new Array<string>();
  for (let i = 0; i < a.ecam.length; i++) parts.push(a.ecam[i].toString());
  return a.tables.join(",") + "|" + parts.join(";") + "|" + a.problems.join(";");
}

/** base == 0: the ports; else ECAM for segment 0, buses 0..endBus. */
export function access(base: u64, endBus: u32): string {
  useEcam(base == 0 ? null : new EcamRegion(base, 0, 0, endBus));
  return pciConfigAccess();
}

/** "bb:dd.f vvvv:dddd class bars=size,size..." per function. */
export function scan(): string {
  const fns = pciDevices();
  const out = new Array<string>();
  for (let i = 0; i < fns.length; i++) {
    const f = fns[i];
    let s = f.address() + " " + f.vendor.toString(16) + ":" + f.device.toString(16) + " class " + f.classCode.toString(16);
    const sizes = new Array<string>();
    for (let b = 0; b < f.bars.length; b++) if (f.bars[b].size != 0) sizes.push(b.toString() + "=0x" + f.bars[b].size.toString(16) + "@0x" + f.bars[b].base.toString(16));
    out.push(s + " bars " + sizes.join(","));
  }
  return out.join("\n");
}

export function read32(bus: u32, dev: u32, fn: u32, off: u32): u32 { return configRead32(bus, dev, fn, off); }
export function write32(bus: u32, dev: u32, fn: u32, off: u32, v: u32): void { configWrite32(bus, dev, fn, off, v); }
