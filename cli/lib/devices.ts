// cli/lib/devices.ts — the QEMU options for virtio devices: disks, entropy,
// a virtio console written to a host file, a NIC (cli/lib/net.ts). PCI devices
// (virtio-*-pci) on q35 and pc; modern virtio-mmio (virtio-*-device, with
// force-legacy=false set by qemu.ts) on microvm. Shared by `skiff run` and
// the test harness.
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { UserError } from "./log.js";
import { API_PORT_NAME } from "./apitoken.js";
import type { Machine } from "./qemu.js";
import { netArgs, type NetMode, type NetSpec } from "./net.js";

export type Transport = "pci" | "mmio";

export interface DiskSpec {
  file: string;
  readOnly?: boolean;
}

export interface DeviceSpec {
  disks?: DiskSpec[];
  /** A virtio-rng device fed from the host's /dev/urandom. */
  rng?: boolean;
  /** A virtio console (port 0 of virtio-serial) written to this host file. */
  consoleLog?: string;
  /** The management API's host-only channel: a virtio-serial port named
   *  org.skiff.api on a unix socket QEMU creates at this path. */
  apiSocket?: string;
  /** A virtio-net NIC: "user" is QEMU user networking (10.0.2.0/24, DHCP,
   *  gateway 10.0.2.2); a NetSpec adds forwards or picks a tap (cli/lib/net.ts). */
  net?: NetMode | NetSpec;
  /** Default: pci on q35/pc, mmio on microvm. */
  transport?: Transport;
  /** false: PCI devices offer no MSI-X (vectors=0), so drivers use INTx. */
  msix?: boolean;
}

/** `FILE` or `FILE,ro` (the --disk syntax). */
export function parseDisk(s: string, cwd = process.cwd()): DiskSpec {
  const parts = s.split(",");
  const file = parts[0];
  let readOnly = false;
  for (const p of parts.slice(1)) {
    if (p === "ro") readOnly = true;
    else if (p !== "rw") throw new UserError(`--disk ${s}: unknown flag "${p}"; use FILE or FILE,ro`);
  }
  if (!file) throw new UserError(`--disk ${s}: give a disk image file`);
  const path = resolve(cwd, file);
  if (!existsSync(path)) throw new UserError(`--disk ${file}: no such file; create one with truncate -s 64M ${file}`);
  return { file: path, readOnly };
}

/** Which transports a machine offers: q35/pc have PCI (no virtio-mmio bus);
 *  microvm has virtio-mmio (its PCIe, pcie=on, is ECAM-only and not enabled here). */
export function transportsFor(machine: Machine): Transport[] {
  return machine === "microvm" ? ["mmio"] : ["pci"];
}

export function chooseTransport(machine: Machine, want?: Transport): Transport {
  const ok = transportsFor(machine);
  if (!want) return ok[0];
  if (!ok.includes(want)) {
    throw new UserError(`--transport ${want}: the ${machine} machine offers only ${ok.join(", ")}; ` +
      (want === "mmio" ? "use --machine microvm for virtio-mmio" : "use --machine q35 or pc for virtio-pci"));
  }
  return want;
}

/** QEMU arguments for the devices in spec. */
export function deviceArgs(machine: Machine, spec: DeviceSpec): string[] {
  const t = chooseTransport(machine, spec.transport);
  const noMsix = t === "pci" && spec.msix === false ? ",vectors=0" : "";
  const dev = (kind: string) => (t === "pci" ? `virtio-${kind}-pci${noMsix}` : `virtio-${kind}-device`);
  const args: string[] = [];
  (spec.disks ?? []).forEach((d, i) => {
    const file = d.file.replace(/,/g, ",,");   // QEMU option syntax escapes commas by doubling
    args.push("-drive", `file=${file},if=none,id=disk${i},format=raw${d.readOnly ? ",readonly=on" : ""}`);
    args.push("-device", `${dev("blk")},drive=disk${i}`);
  });
  if (spec.net) args.push(...netArgs(typeof spec.net === "string" ? { mode: spec.net } : spec.net, dev("net"), t === "pci"));
  if (spec.rng) {
    args.push("-object", "rng-random,id=rng0,filename=/dev/urandom");
    args.push("-device", `${dev("rng")},rng=rng0`);
  }
  // One virtio-serial device: port 0 the console copy, port 1 the API channel.
  if (spec.consoleLog || spec.apiSocket) {
    args.push("-device", `${dev("serial")},id=vser0,max_ports=2`);
    if (spec.consoleLog) {
      args.push("-chardev", `file,id=vcon0,path=${spec.consoleLog.replace(/,/g, ",,")}`);
      args.push("-device", "virtconsole,chardev=vcon0,bus=vser0.0,nr=0");
    }
    if (spec.apiSocket) {
      args.push("-chardev", `socket,id=skiffapi,path=${spec.apiSocket.replace(/,/g, ",,")},server=on,wait=off`);
      args.push("-device", `virtserialport,chardev=skiffapi,bus=vser0.0,nr=1,name=${API_PORT_NAME}`);
    }
  }
  return args;
}
