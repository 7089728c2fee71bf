// cli/lib/deploy/libvirt.ts — a libvirt domain for one Skiff guest
// (https://libvirt.org/formatdomain.html). The ELF boots by direct kernel boot
// (<os><kernel>, PVH on q35); iso/raw/qcow2 images boot from a disk through
// GRUB, with the command line overridden by an SMBIOS OEM string (the image's
// grub.cfg looks for "skiff.cmdline="). Resource partitioning uses libvirt's
// own cgroup controls: <cputune>, <memtune>, <blkiotune> and a
// <resource><partition>, so many single-app guests share a host.
// Networking: a libvirt network or bridge, or QEMU user networking. libvirt's
// own <interface type="user"> has no port forwards before its passt backend
// (not in Debian 12's libvirt 9.0), so user networking with forwards is one
// QEMU -netdev user,hostfwd=... passed through <qemu:commandline> (libvirt
// marks such a domain "tainted: custom-argv"; it runs on every libvirt).
import type { Forward } from "../net.js";

/** What the engine does when the guest ends (`--restart`). A Skiff guest
 *  ends through a reset on libvirt (there is no isa-debug-exit), so libvirt
 *  sees every exit — status 0, a failure, POST /os/reboot — as a reboot;
 *  the status is in the serial log. */
export type RestartPolicy = "no" | "on-failure" | "always";
export const RESTART_POLICIES: RestartPolicy[] = ["no", "on-failure", "always"];

/** <on_poweroff>, <on_reboot>, <on_crash> for a restart policy:
 *  no          everything destroys the domain (it stays down)
 *  on-failure  a reset (every Skiff exit) or a crash restarts it; an ACPI
 *              poweroff (virsh shutdown) leaves it down
 *  always      even a poweroff restarts it (only virsh destroy stops it) */
export function lifecycleActions(p: RestartPolicy): { poweroff: string; reboot: string; crash: string } {
  if (p === "always") return { poweroff: "restart", reboot: "restart", crash: "restart" };
  if (p === "on-failure") return { poweroff: "destroy", reboot: "restart", crash: "restart" };
  return { poweroff: "destroy", reboot: "destroy", crash: "destroy" };
}

export type ImageKind = "elf" | "iso" | "raw" | "qcow2";

export interface LibvirtOptions {
  name: string;
  /** Absolute path of the image. */
  image: string;
  kind: ImageKind;
  /** "qemu" (TCG) or "kvm". */
  type: "qemu" | "kvm";
  memoryMiB: number;
  vcpus: number;
  cmdline: string;
  /** Serial console written to this file. */
  serialLog: string;
  /** A libvirt network name, "bridge:NAME" for a host bridge, or "user" for
   *  QEMU user-mode networking (no host set-up). */
  network: string;
  /** With network "user": host ports (on `forwardAddress`) forwarded to guest ports. */
  forwards?: Forward[];
  /** Host address the forwards listen on (default 127.0.0.1). */
  forwardAddress?: string;
  /** A file holding the management API's token, handed to the guest through
   *  QEMU's fw_cfg (opt/org.skiff/api-token): unlike api.token= on the command
   *  line it shows neither in the domain XML nor in QEMU's arguments. */
  tokenFile?: string;
  /** What happens when the guest ends (default "no": the domain stays down). */
  restart?: RestartPolicy;
  /** cgroup cpu.weight-style share (libvirt <shares>; 0: none), and a hard cap in % of one CPU (0: none). */
  cpuShares: number;
  cpuQuotaPercent: number;
  /** <memtune> hard limit = guest RAM + this many MiB of QEMU overhead; 0 = no <memtune>
   *  (libvirt then also leaves RLIMIT_MEMLOCK alone, which unprivileged containers cannot raise). */
  memOverheadMiB: number;
  /** Block I/O weight, 100..1000 (0: no <blkiotune>). */
  blkioWeight: number;
  /** cgroup partition the domain's cgroup goes under, e.g. /machine/skiff ("": none). */
  partition: string;
  emulator?: string;
  machine?: "q35" | "pc";
}

/** The fw_cfg file the kernel reads the management API's token from. */
export const API_TOKEN_FWCFG = "opt/org.skiff/api-token";

export const LIBVIRT_DEFAULTS = {
  type: "qemu" as const, memoryMiB: 64, vcpus: 1, cmdline: "", network: "user",
  cpuShares: 1024, cpuQuotaPercent: 0, memOverheadMiB: 256, blkioWeight: 500, partition: "/machine/skiff",
  restart: "no" as RestartPolicy,
};

/** No cgroup controls at all: for libvirt daemons that run without cgroups
 *  (containers; a private daemon with cgroup_controllers = [ ]), which refuse
 *  to start a domain that asks for tuning they cannot apply. */
export const NO_CGROUP_TUNING = { cpuShares: 0, cpuQuotaPercent: 0, memOverheadMiB: 0, blkioWeight: 0, partition: "" };

/** Where the serial console goes by default: libvirt's own QEMU log folder,
 *  which exists and is writable by libvirt's QEMU wherever the daemon is installed. */
export function defaultSerialLog(name: string): string {
  return `/var/log/libvirt/qemu/${name}.serial.log`;
}

export function xmlEscape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}

/** libvirt domain names: keep to what every backend accepts. */
export function domainName(s: string): string {
  const n = s.replace(/[^A-Za-z0-9_.-]+/g, "-").replace(/^-+|-+$/g, "");
  return n || "skiff";
}

export function libvirtDomainXml(o: LibvirtOptions): string {
  const e = xmlEscape;
  const kib = o.memoryMiB * 1024;
  const machine = o.machine ?? "q35";
  const direct = o.kind === "elf";
  const lines: string[] = [];
  const push = (indent: number, s: string) => lines.push("  ".repeat(indent) + s);
  const passthrough = o.network === "user" && (o.forwards?.length ?? 0) > 0;
  push(0, passthrough ? `<domain type="${o.type}" xmlns:qemu="http://libvirt.org/schemas/domain/qemu/1.0">` : `<domain type="${o.type}">`);
  push(1, `<name>${e(o.name)}</name>`);
  push(1, `<description>Skiff guest (generated by skiff deploy libvirt)</description>`);
  push(1, `<memory unit="KiB">${kib}</memory>`);
  push(1, `<currentMemory unit="KiB">${kib}</currentMemory>`);
  push(1, `<vcpu placement="static">${o.vcpus}</vcpu>`);
  if (o.cpuShares > 0 || o.cpuQuotaPercent > 0) {
    push(1, `<cputune>`);
    if (o.cpuShares > 0) push(2, `<shares>${o.cpuShares}</shares>`);
    if (o.cpuQuotaPercent > 0) {
      push(2, `<period>100000</period>`);
      push(2, `<quota>${Math.round(1000 * o.cpuQuotaPercent)}</quota>`);
    }
    push(1, `</cputune>`);
  }
  if (o.memOverheadMiB > 0) {
    // Guest RAM plus QEMU's own overhead; past the soft limit the cgroup
    // reclaims first under host pressure, past the hard limit it kills.
    push(1, `<memtune>`);
    push(2, `<hard_limit unit="KiB">${kib + o.memOverheadMiB * 1024}</hard_limit>`);
    push(2, `<soft_limit unit="KiB">${kib + Math.ceil(o.memOverheadMiB / 4) * 1024}</soft_limit>`);
    push(1, `</memtune>`);
  }
  if (o.blkioWeight > 0) {
    push(1, `<blkiotune>`);
    push(2, `<weight>${o.blkioWeight}</weight>`);
    push(1, `</blkiotune>`);
  }
  if (o.partition) {
    push(1, `<resource>`);
    push(2, `<partition>${e(o.partition)}</partition>`);
    push(1, `</resource>`);
  }
  if (o.tokenFile) {
    push(1, `<sysinfo type="fwcfg">`);
    push(2, `<entry name="${API_TOKEN_FWCFG}" file="${e(o.tokenFile)}"/>`);
    push(1, `</sysinfo>`);
  }
  if (!direct) {
    push(1, `<sysinfo type="smbios">`);
    push(2, `<oemStrings>`);
    push(3, `<entry>${e("skiff.cmdline=" + o.cmdline)}</entry>`);
    push(2, `</oemStrings>`);
    push(1, `</sysinfo>`);
  }
  push(1, `<os>`);
  push(2, `<type arch="x86_64" machine="${machine}">hvm</type>`);
  if (direct) {
    push(2, `<kernel>${e(o.image)}</kernel>`);
    push(2, `<cmdline>${e(o.cmdline)}</cmdline>`);
  } else {
    push(2, `<boot dev="${o.kind === "iso" ? "cdrom" : "hd"}"/>`);
    push(2, `<smbios mode="sysinfo"/>`);
  }
  push(1, `</os>`);
  push(1, `<features>`);
  push(2, `<acpi/>`);
  push(1, `</features>`);
  // TCG has no host CPU to pass through; qemu64 is what the tests use.
  if (o.type === "kvm") push(1, `<cpu mode="host-passthrough"/>`);
  else {
    push(1, `<cpu mode="custom" match="exact">`);
    push(2, `<model fallback="allow">qemu64</model>`);
    push(1, `</cpu>`);
  }
  push(1, `<clock offset="utc"/>`);
  // The guest ends itself (a reset: there is no isa-debug-exit here); the
  // restart policy decides whether libvirt starts it again.
  const life = lifecycleActions(o.restart ?? "no");
  push(1, `<on_poweroff>${life.poweroff}</on_poweroff>`);
  push(1, `<on_reboot>${life.reboot}</on_reboot>`);
  push(1, `<on_crash>${life.crash}</on_crash>`);
  push(1, `<devices>`);
  if (o.emulator) push(2, `<emulator>${e(o.emulator)}</emulator>`);
  if (o.kind === "iso") {
    push(2, `<disk type="file" device="cdrom">`);
    push(3, `<driver name="qemu" type="raw"/>`);
    push(3, `<source file="${e(o.image)}"/>`);
    push(3, `<target dev="sda" bus="sata"/>`);
    push(3, `<readonly/>`);
    push(2, `</disk>`);
  } else if (o.kind === "raw" || o.kind === "qcow2") {
    push(2, `<disk type="file" device="disk">`);
    push(3, `<driver name="qemu" type="${o.kind}"/>`);
    push(3, `<source file="${e(o.image)}"/>`);
    push(3, `<target dev="vda" bus="virtio"/>`);
    push(2, `</disk>`);
  }
  if (!passthrough) {
    if (o.network === "user") push(2, `<interface type="user">`);
    else if (o.network.startsWith("bridge:")) {
      push(2, `<interface type="bridge">`);
      push(3, `<source bridge="${e(o.network.slice(7))}"/>`);
    } else {
      push(2, `<interface type="network">`);
      push(3, `<source network="${e(o.network)}"/>`);
    }
    push(3, `<model type="virtio"/>`);
    push(2, `</interface>`);
  }
  push(2, `<serial type="file">`);
  push(3, `<source path="${e(o.serialLog)}"/>`);
  push(3, `<target port="0"/>`);
  push(2, `</serial>`);
  push(2, `<rng model="virtio">`);
  push(3, `<backend model="random">/dev/urandom</backend>`);
  push(2, `</rng>`);
  push(2, `<controller type="usb" model="none"/>`);
  push(2, `<memballoon model="none"/>`);
  push(1, `</devices>`);
  if (passthrough) {
    // QEMU places these arguments before libvirt's own devices, so the NIC
    // gets a fixed slot on the root bus, clear of the slots libvirt fills
    // from 1 upwards.
    const addr = o.forwardAddress ?? "127.0.0.1";
    const fw = o.forwards!.map((f) => `,hostfwd=${f.proto}:${addr}:${f.hostPort}-:${f.guestPort}`).join("");
    const bus = machine === "q35" ? "pcie.0" : "pci.0";
    push(1, `<qemu:commandline>`);
    for (const a of ["-netdev", `user,id=skiffnet0${fw}`, "-device", `virtio-net-pci,netdev=skiffnet0,bus=${bus},addr=0x10`]) {
      push(2, `<qemu:arg value="${e(a)}"/>`);
    }
    push(1, `</qemu:commandline>`);
  }
  push(0, `</domain>`);
  return lines.join("\n") + "\n";
}
