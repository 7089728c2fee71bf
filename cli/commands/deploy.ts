// cli/commands/deploy.ts — `skiff deploy libvirt|kubevirt|firecracker`: emit
// the engine's own document for a Skiff image (libvirt domain XML, a KubeVirt
// VirtualMachine, Firecracker JSON); with --define, hand the domain to libvirt
// through virsh. No orchestrator of our own: the engines run, partition and
// restart guests.
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, extname, resolve } from "node:path";
import { execa } from "execa";
import { build } from "../lib/build.js";
import { IO, UserError } from "../lib/log.js";
import { OptionSpecs, helpText, parseOptions } from "../lib/options.js";
import { detectKvm } from "../lib/qemu.js";
import { LIBVIRT_DEFAULTS, NO_CGROUP_TUNING, RESTART_POLICIES, defaultSerialLog, domainName, libvirtDomainXml, type ImageKind, type RestartPolicy } from "../lib/deploy/libvirt.js";
import { checkFirecrackerPaths, firecrackerConfig, validateFirecrackerConfig } from "../lib/deploy/firecracker.js";
import { checkKubevirtOptions, k8sName, kubevirtCmdline, kubevirtVirtualMachine } from "../lib/deploy/kubevirt.js";
import { parseReference } from "../lib/deploy/registry.js";
import { parseForward, staticIpCmdline } from "../lib/net.js";

const common: OptionSpecs = {
  out: { type: "string", help: "write the document here (default: stdout)", metavar: "FILE" },
  memory: { type: "number", help: "guest RAM in MiB", default: 64, metavar: "MIB" },
  vcpus: { type: "number", help: "virtual CPUs", default: 1, metavar: "N" },
  cmdline: { type: "string", help: "kernel command line (for iso/raw/qcow2: overrides the baked-in one via SMBIOS)", default: "", metavar: "TEXT" },
  help: { type: "boolean", help: "show this help", alias: "h" },
};

const restartSpec = { type: "string" as const, help: "what the engine does when the guest ends", choices: RESTART_POLICIES, default: "no" };

export const libvirtSpecs: OptionSpecs = {
  ...common,
  name: { type: "string", help: "domain name (default: skiff-<image name>)", metavar: "NAME" },
  type: { type: "string", help: "domain type: kvm, qemu (TCG) or auto (kvm only with hardware virtualization)", choices: ["auto", "kvm", "qemu"], default: "auto" },
  machine: { type: "string", help: "machine type", choices: ["q35", "pc"], default: "q35" },
  network: { type: "string", help: "libvirt network name, bridge:NAME for a host bridge, or user for QEMU user networking", default: LIBVIRT_DEFAULTS.network, metavar: "NET" },
  forward: { type: "list", help: "with --network user: forward host 127.0.0.1:HOSTPORT to the guest's port (repeatable; udp: prefix for UDP)", metavar: "[udp:]HOST:GUEST" },
  restart: restartSpec,
  "token-file": { type: "string", help: "file with the management API's token, passed through fw_cfg (not visible in the XML or QEMU's arguments); readable by libvirt's QEMU", metavar: "FILE" },
  "serial-log": { type: "string", help: "file the serial console is written to; its folder is created with --define (default /var/log/libvirt/qemu/<name>.serial.log)", metavar: "FILE" },
  "cpu-shares": { type: "number", help: "relative CPU weight (<cputune><shares>)", default: LIBVIRT_DEFAULTS.cpuShares, metavar: "N" },
  "cpu-quota": { type: "number", help: "hard CPU cap in % of one CPU (<cputune><quota>); 0 = none", default: 0, metavar: "PCT" },
  "mem-overhead": { type: "number", help: "<memtune> hard limit = RAM + this many MiB for QEMU itself; 0 = no <memtune>", default: LIBVIRT_DEFAULTS.memOverheadMiB, metavar: "MIB" },
  "blkio-weight": { type: "number", help: "block I/O weight 100..1000 (<blkiotune>)", default: LIBVIRT_DEFAULTS.blkioWeight, metavar: "N" },
  partition: { type: "string", help: "cgroup partition (<resource><partition>)", default: LIBVIRT_DEFAULTS.partition, metavar: "PATH" },
  "no-cgroups": { type: "boolean", help: "leave out every cgroup control (for a libvirt that runs without cgroups, e.g. in a container)" },
  define: { type: "boolean", help: "define the domain through virsh" },
  start: { type: "boolean", help: "with --define: also start it" },
  connect: { type: "string", help: "libvirt URI for virsh", default: "qemu:///system", metavar: "URI" },
};

export const firecrackerSpecs: OptionSpecs = {
  ...common,
  tap: { type: "list", help: "host tap device for a virtio-net interface (repeatable)", metavar: "DEV" },
  ip: { type: "string", help: "static address of the first interface (words ip=/gateway=/dns= on the command line; DHCP otherwise)", metavar: "ADDR/PREFIX" },
  gateway: { type: "string", help: "with --ip: the default gateway", metavar: "ADDR" },
  dns: { type: "string", help: "with --ip: the DNS server", metavar: "ADDR" },
  drive: { type: "list", help: "host file for a virtio-blk drive (repeatable)", metavar: "FILE" },
  log: { type: "string", help: "Firecracker's own log file", metavar: "FILE" },
};

export const kubevirtSpecs: OptionSpecs = {
  ...common,
  name: { type: "string", help: "VirtualMachine name (default: skiff-<repository name>)", metavar: "NAME" },
  namespace: { type: "string", help: "Kubernetes namespace (default: none, kubectl's current one)", metavar: "NS" },
  port: { type: "list", help: "a TCP port the app serves, NAME:PORT (repeatable), e.g. http:8080", metavar: "NAME:PORT" },
  "api-port": { type: "number", help: "the management API's port: exposed, probed on /health, and api.net=on added to the command line (0: none of these)", default: 8000, metavar: "PORT" },
  restart: restartSpec,
};

function imageKind(path: string): ImageKind {
  const ext = extname(path).toLowerCase();
  if (ext === ".oci") throw new UserError(`${path}: an OCI image is for registries and KubeVirt (skiff push, skiff deploy kubevirt); deploy its disk (image.qcow2) here`);
  if (ext === ".elf") return "elf";
  if (ext === ".iso") return "iso";
  if (ext === ".raw" || ext === ".img") return "raw";
  if (ext === ".qcow2") return "qcow2";
  throw new UserError(`${path}: cannot tell the image format from its name; expected .elf, .iso, .raw/.img or .qcow2 (skiff build --format makes them)`);
}

async function resolveImage(target: string, io: IO): Promise<{ path: string; kind: ImageKind; name: string }> {
  const p = resolve(io.cwd, target);
  if (/\.(elf|iso|raw|img|qcow2|oci)$/i.test(p) && !existsSync(p)) throw new UserError(`${target}: no such image (skiff build --format makes them)`);
  if (existsSync(p) && (statSync(p).isFile() || p.endsWith(".oci")) && !p.endsWith(".ts")) {
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
  if (engine === "kubevirt") return deployKubevirt(rest, io);
  const text = "usage: skiff deploy libvirt|kubevirt|firecracker <image | app | image reference> [options]\n\nEmits the engine's document for a Skiff image (libvirt domain XML, a KubeVirt VirtualMachine, Firecracker JSON).\nskiff deploy <engine> --help shows its options.";
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
  const forwards = ((v.forward as string[] | undefined) ?? []).map(parseForward);
  if (forwards.length && v.network !== "user") throw new UserError(`--forward works with --network user; on libvirt network ${v.network} reach the guest at its address (virsh domifaddr), or forward on the host`);
  const blkio = v["blkio-weight"] as number;
  if (blkio !== 0 && (blkio < 100 || blkio > 1000)) throw new UserError(`--blkio-weight ${blkio}: libvirt takes 100..1000`);
  const serialLog = resolve(io.cwd, (v["serial-log"] as string | undefined) ?? defaultSerialLog(name));
  const tokenFile = v["token-file"] ? resolve(io.cwd, v["token-file"] as string) : undefined;
  if (tokenFile && !(existsSync(tokenFile) && statSync(tokenFile).isFile())) throw new UserError(`--token-file ${v["token-file"]}: no such file (write the token, 8-256 visible ASCII, into a mode-0600 file)`);
  const xml = libvirtDomainXml({
    name, image: img.path, kind: img.kind, type,
    memoryMiB: v.memory as number, vcpus: v.vcpus as number, cmdline: v.cmdline as string,
    serialLog, network: v.network as string, forwards, restart: v.restart as RestartPolicy, tokenFile,
    cpuShares: v["cpu-shares"] as number, cpuQuotaPercent: v["cpu-quota"] as number,
    memOverheadMiB: v["mem-overhead"] as number, blkioWeight: blkio, partition: v.partition as string, machine: v.machine as "q35" | "pc",
    ...(v["no-cgroups"] ? NO_CGROUP_TUNING : {}),
  });
  if (!v.define) { emit(io, xml, v.out as string | undefined); return 0; }
  const file = resolve(io.cwd, (v.out as string | undefined) ?? `${name}.xml`);
  emit(io, xml, file);
  // QEMU opens the serial log itself and does not make folders.
  mkdirSync(dirname(serialLog), { recursive: true });
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
  if (img.kind !== "elf") throw new UserError(`${positionals[0]}: Firecracker boots kernels (PVH ELF) only and has no firmware for ${img.kind} images; pass the image.elf (skiff build makes it)`);
  const taps = (v.tap as string[] | undefined) ?? [];
  let cmdline = v.cmdline as string;
  if (v.ip === undefined && (v.gateway !== undefined || v.dns !== undefined)) throw new UserError("--gateway and --dns go with --ip");
  if (v.ip !== undefined) {
    if (!taps.length) throw new UserError("--ip configures the first interface: add --tap DEV");
    if (/(^|\s)(ip|gateway|dns)=/.test(cmdline)) throw new UserError("--ip: the command line already has ip=/gateway=/dns= words; give the address one way");
    const words = staticIpCmdline({ ip: v.ip as string, gateway: v.gateway as string | undefined, dns: v.dns as string | undefined }, "tap");
    cmdline = cmdline ? `${cmdline} ${words}` : words;
  }
  const cfg = firecrackerConfig({
    kernel: img.path, cmdline, vcpus: v.vcpus as number, memoryMiB: v.memory as number,
    taps, drives: ((v.drive as string[] | undefined) ?? []).map((d) => resolve(io.cwd, d)),
    logPath: v.log ? resolve(io.cwd, v.log as string) : undefined,
  });
  const problems = [...validateFirecrackerConfig(cfg), ...checkFirecrackerPaths(cfg, (p) => {
    if (!existsSync(p)) return null;
    const st = statSync(p);
    return { file: st.isFile() || st.isBlockDevice(), dir: st.isDirectory() };
  })];
  if (problems.length) throw new UserError(`the configuration does not validate:\n  ${problems.join("\n  ")}`, 1);
  emit(io, JSON.stringify(cfg, null, 2) + "\n", v.out as string | undefined);
  return 0;
}

async function deployKubevirt(argv: string[], io: IO): Promise<number> {
  const { values: v, positionals } = parseOptions("deploy kubevirt", argv, kubevirtSpecs);
  if (v.help || positionals.length !== 1) {
    const t = helpText("skiff deploy kubevirt <registry/repository[:tag|@digest]> [options]",
      "Emits a KubeVirt VirtualMachine (JSON, for kubectl apply -f) booting the image (skiff build --format oci, skiff push) as a containerDisk.", kubevirtSpecs);
    if (v.help) { io.out(t); return 0; }
    io.err(t);
    return 2;
  }
  if (existsSync(resolve(io.cwd, positionals[0], "oci-layout"))) {
    throw new UserError(`${positionals[0]} is a local OCI image; KubeVirt pulls from a registry: skiff push ${positionals[0]} REGISTRY/REPOSITORY:TAG, then deploy that reference`);
  }
  const ref = parseReference(positionals[0]);
  const apiPort = v["api-port"] as number;
  const ports = ((v.port as string[] | undefined) ?? []).map((p) => {
    const m = /^([a-z0-9-]+):(\d{1,5})$/.exec(p);
    if (!m) throw new UserError(`--port ${p}: expected NAME:PORT, e.g. --port http:8080`);
    return { name: m[1], port: Number(m[2]) };
  });
  if (apiPort > 0 && !ports.some((p) => p.port === apiPort)) ports.unshift({ name: "api", port: apiPort });
  // The probes need the management API on the network: api.net=on.
  const given = v.cmdline as string;
  const cmdline = kubevirtCmdline(given, apiPort);
  if (!given && cmdline) {
    io.err(`skiff deploy: the VM's command line is "${cmdline}" (the probes ask GET /health on the network); ` +
      "it replaces one baked into the image: give the whole line with --cmdline, or --api-port 0 for no probes");
  }
  const o = {
    name: (v.name as string | undefined) ?? k8sName(`skiff-${ref.repository.split("/").pop()}`),
    namespace: v.namespace as string | undefined,
    image: positionals[0].replace(/^docker:\/\//, ""),
    memoryMiB: v.memory as number, vcpus: v.vcpus as number, cmdline,
    ports, apiPort, restart: v.restart as RestartPolicy,
  };
  const problems = checkKubevirtOptions(o);
  if (problems.length) throw new UserError(problems.join("\n  "));
  emit(io, JSON.stringify(kubevirtVirtualMachine(o), null, 2) + "\n", v.out as string | undefined);
  return 0;
}
