// cli/commands/deploy.ts — `skiff deploy libvirt|firecracker <image>`: emit the
// engine's own document for a Skiff image (libvirt domain XML, Firecracker
// JSON); with --define, hand the domain to libvirt through virsh. No
// orchestrator of our own: the engines run, partition and restart guests.
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, extname, resolve } from "node:path";
import { execa } from "execa";
import { build } from "../lib/build.js";
import { IO, UserError } from "../lib/log.js";
import { OptionSpecs, helpText, parseOptions } from "../lib/options.js";
import { detectKvm } from "../lib/qemu.js";
import { LIBVIRT_DEFAULTS, domainName, libvirtDomainXml, type ImageKind } from "../lib/deploy/libvirt.js";
import { firecrackerConfig, validateFirecrackerConfig } from "../lib/deploy/firecracker.js";

const common: OptionSpecs = {
  out: { type: "string", help: "write the document here (default: stdout)", metavar: "FILE" },
  memory: { type: "number", help: "guest RAM in MiB", default: 64, metavar: "MIB" },
  vcpus: { type: "number", help: "virtual CPUs", default: 1, metavar: "N" },
  cmdline: { type: "string", help: "kernel command line (for iso/raw/qcow2: overrides the baked-in one via SMBIOS)", default: "", metavar: "TEXT" },
  help: { type: "boolean", help: "show this help", alias: "h" },
};

export const libvirtSpecs: OptionSpecs = {
  ...common,
  name: { type: "string", help: "domain name (default: skiff-<image name>)", metavar: "NAME" },
  type: { type: "string", help: "domain type: kvm, qemu (TCG) or auto (kvm only with hardware virtualization)", choices: ["auto", "kvm", "qemu"], default: "auto" },
  machine: { type: "string", help: "machine type", choices: ["q35", "pc"], default: "q35" },
  network: { type: "string", help: "libvirt network name, or user for user-mode networking", default: LIBVIRT_DEFAULTS.network, metavar: "NET" },
  "serial-log": { type: "string", help: "file the serial console is written to (default /var/log/skiff/<name>.log)", metavar: "FILE" },
  "cpu-shares": { type: "number", help: "relative CPU weight (<cputune><shares>)", default: LIBVIRT_DEFAULTS.cpuShares, metavar: "N" },
  "cpu-quota": { type: "number", help: "hard CPU cap in % of one CPU (<cputune><quota>); 0 = none", default: 0, metavar: "PCT" },
  "mem-overhead": { type: "number", help: "<memtune> hard limit = RAM + this many MiB for QEMU itself; 0 = no <memtune>", default: LIBVIRT_DEFAULTS.memOverheadMiB, metavar: "MIB" },
  "blkio-weight": { type: "number", help: "block I/O weight 100..1000 (<blkiotune>)", default: LIBVIRT_DEFAULTS.blkioWeight, metavar: "N" },
  partition: { type: "string", help: "cgroup partition (<resource><partition>)", default: LIBVIRT_DEFAULTS.partition, metavar: "PATH" },
  define: { type: "boolean", help: "define the domain through virsh" },
  start: { type: "boolean", help: "with --define: also start it" },
  connect: { type: "string", help: "libvirt URI for virsh", default: "qemu:///system", metavar: "URI" },
};

export const firecrackerSpecs: OptionSpecs = {
  ...common,
  tap: { type: "list", help: "host tap device for a virtio-net interface (repeatable)", metavar: "DEV" },
  drive: { type: "list", help: "host file for a virtio-blk drive (repeatable)", metavar: "FILE" },
  log: { type: "string", help: "Firecracker's own log file", metavar: "FILE" },
};

function imageKind(path: string): ImageKind {
  const ext = extname(path).toLowerCase();
  if (ext === ".elf") return "elf";
  if (ext === ".iso") return "iso";
  if (ext === ".raw" || ext === ".img") return "raw";
  if (ext === ".qcow2") return "qcow2";
  throw new UserError(`${path}: cannot tell the image format from its name; expected .elf, .iso, .raw/.img or .qcow2 (skiff build --format makes them)`);
}

async function resolveImage(target: string, io: IO): Promise<{ path: string; kind: ImageKind; name: string }> {
  const p = resolve(io.cwd, target);
  if (existsSync(p) && statSync(p).isFile() && !p.endsWith(".ts")) {
    const kind = imageKind(p);
    const stem = basename(p, extname(p));
    return { path: p, kind, name: stem === "image" ? basename(dirname(p)) : stem };
  }
  const r = await build({ app: target, quiet: true }, io);
  return { path: r.elf, kind: "elf", name: r.appName };
}

function emit(io: IO, text: string, out: string | undefined): void {
  if (!out) { io.out(text.trimEnd()); return; }
  const p = resolve(io.cwd, out);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, text);
  io.err(`skiff deploy: wrote ${out}`);
}

async function virsh(uri: string, args: string[]): Promise<string> {
  const r = await execa("virsh", ["-c", uri, ...args], { reject: false, all: true });
  if ((r as { code?: string }).code === "ENOENT") throw new UserError("virsh not found: install it with apt-get install -y libvirt-clients");
  if (r.exitCode !== 0) throw new UserError(`virsh ${args.join(" ")} failed: ${String(r.all ?? "").trim()}`, 1);
  return String(r.stdout ?? "");
}

export async function deployCommand(argv: string[], io: IO): Promise<number> {
  const [engine, ...rest] = argv;
  if (engine === "libvirt") return deployLibvirt(rest, io);
  if (engine === "firecracker") return deployFirecracker(rest, io);
  const text = "usage: skiff deploy libvirt|firecracker <image | app> [options]\n\nEmits the engine's document for a Skiff image (libvirt domain XML, Firecracker JSON).\nskiff deploy <engine> --help shows its options.";
  if (!engine || engine === "--help" || engine === "-h") { io.out(text); return engine ? 0 : 2; }
  io.err(`skiff deploy: unknown engine '${engine}'\n\n${text}`);
  return 2;
}

async function deployLibvirt(argv: string[], io: IO): Promise<number> {
  const { values: v, positionals } = parseOptions("deploy libvirt", argv, libvirtSpecs);
  if (v.help || positionals.length !== 1) {
    const t = helpText("skiff deploy libvirt <image.elf|.iso|.raw|.qcow2 | app> [options]", "Emits a libvirt domain (serial console to a log file, virtio devices, cgroup partitioning); --define defines it through virsh.", libvirtSpecs);
    if (v.help) { io.out(t); return 0; }
    io.err(t);
    return 2;
  }
  const img = await resolveImage(positionals[0], io);
  const name = domainName((v.name as string | undefined) ?? `skiff-${img.name}`);
  const type = v.type === "auto" ? (detectKvm().usable ? "kvm" : "qemu") : (v.type as "kvm" | "qemu");
  const xml = libvirtDomainXml({
    name, image: img.path, kind: img.kind, type,
    memoryMiB: v.memory as number, vcpus: v.vcpus as number, cmdline: v.cmdline as string,
    serialLog: resolve(io.cwd, (v["serial-log"] as string | undefined) ?? `/var/log/skiff/${name}.log`),
    network: v.network as string, cpuShares: v["cpu-shares"] as number, cpuQuotaPercent: v["cpu-quota"] as number,
    memOverheadMiB: v["mem-overhead"] as number, blkioWeight: v["blkio-weight"] as number, partition: v.partition as string, machine: v.machine as "q35" | "pc",
  });
  if (!v.define) { emit(io, xml, v.out as string | undefined); return 0; }
  const file = resolve(io.cwd, (v.out as string | undefined) ?? `${name}.xml`);
  emit(io, xml, file);
  await virsh(v.connect as string, ["define", file]);
  io.err(`skiff deploy: defined domain ${name} (${v.connect})`);
  if (v.start) {
    await virsh(v.connect as string, ["start", name]);
    io.err(`skiff deploy: started ${name}; serial console in the log file named in the domain`);
  }
  return 0;
}

async function deployFirecracker(argv: string[], io: IO): Promise<number> {
  const { values: v, positionals } = parseOptions("deploy firecracker", argv, firecrackerSpecs);
  if (v.help || positionals.length !== 1) {
    const t = helpText("skiff deploy firecracker <image.elf | app> [options]", "Emits a Firecracker configuration (firecracker --config-file); virtio_mmio.device= entries are left to Firecracker.", firecrackerSpecs);
    if (v.help) { io.out(t); return 0; }
    io.err(t);
    return 2;
  }
  const img = await resolveImage(positionals[0], io);
  if (img.kind !== "elf") throw new UserError(`${positionals[0]}: Firecracker boots kernels (PVH ELF) only, not ${img.kind} images; pass the image.elf`);
  const cfg = firecrackerConfig({
    kernel: img.path, cmdline: v.cmdline as string, vcpus: v.vcpus as number, memoryMiB: v.memory as number,
    taps: (v.tap as string[] | undefined) ?? [], drives: ((v.drive as string[] | undefined) ?? []).map((d) => resolve(io.cwd, d)),
    logPath: v.log ? resolve(io.cwd, v.log as string) : undefined,
  });
  const problems = validateFirecrackerConfig(cfg);
  if (problems.length) throw new UserError(`the configuration does not validate:\n  ${problems.join("\n  ")}`, 1);
  emit(io, JSON.stringify(cfg, null, 2) + "\n", v.out as string | undefined);
  return 0;
}
