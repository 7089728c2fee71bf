// cli/lib/deploy/firecracker.ts — a Firecracker configuration file
// (`firecracker --config-file`), keyed like its API: "boot-source",
// "machine-config", "drives", "network-interfaces", "logger"
// (firecracker src/firecracker/swagger/firecracker.yaml). Firecracker boots
// the ELF by PVH and appends one virtio_mmio.device= entry per device to
// boot_args itself, so none are written here. Only the ELF boots here:
// Firecracker has no firmware for ISO or disk images.

export interface FirecrackerOptions {
  kernel: string;
  cmdline: string;
  vcpus: number;
  memoryMiB: number;
  /** Host tap devices, one virtio-net each. */
  taps: string[];
  /** Extra block devices (path on the host). */
  drives: string[];
  logPath?: string;
}

export interface FirecrackerConfig {
  "boot-source": { kernel_image_path: string; boot_args: string; initrd_path?: string };
  "machine-config": { vcpu_count: number; mem_size_mib: number; smt?: boolean; track_dirty_pages?: boolean };
  drives: { drive_id: string; path_on_host: string; is_root_device: boolean; is_read_only: boolean; cache_type?: string; io_engine?: string }[];
  "network-interfaces": { iface_id: string; host_dev_name: string; guest_mac?: string }[];
  logger?: { log_path: string; level?: string; show_level?: boolean; show_log_origin?: boolean };
}

/** A locally administered MAC, fixed per index so redeploying keeps addresses. */
export function guestMac(i: number): string {
  return `06:00:ac:10:00:${(i + 2).toString(16).padStart(2, "0")}`;
}

export function firecrackerConfig(o: FirecrackerOptions): FirecrackerConfig {
  const cfg: FirecrackerConfig = {
    "boot-source": { kernel_image_path: o.kernel, boot_args: o.cmdline },
    "machine-config": { vcpu_count: o.vcpus, mem_size_mib: o.memoryMiB, smt: false },
    drives: o.drives.map((p, i) => ({ drive_id: `disk${i}`, path_on_host: p, is_root_device: false, is_read_only: false })),
    "network-interfaces": o.taps.map((t, i) => ({ iface_id: `eth${i}`, host_dev_name: t, guest_mac: guestMac(i) })),
  };
  if (o.logPath) cfg.logger = { log_path: o.logPath, level: "Warning" };
  return cfg;
}

type FieldType = "string" | "integer" | "boolean";
interface ObjSpec { required: string[]; fields: Record<string, FieldType | { enum: string[] } | { min: number; max: number }> }

/** The fields Firecracker's API documents for each object we emit (v1.x);
 *  unknown keys are errors, as Firecracker rejects them (serde deny_unknown_fields). */
export const FIRECRACKER_SPEC: Record<string, ObjSpec> = {
  "boot-source": { required: ["kernel_image_path"], fields: { kernel_image_path: "string", boot_args: "string", initrd_path: "string" } },
  "machine-config": {
    required: ["vcpu_count", "mem_size_mib"],
    fields: { vcpu_count: { min: 1, max: 32 }, mem_size_mib: { min: 1, max: 2 ** 31 }, smt: "boolean", track_dirty_pages: "boolean", cpu_template: "string", huge_pages: { enum: ["None", "2M"] } },
  },
  drive: {
    required: ["drive_id", "is_root_device"],
    fields: {
      drive_id: "string", path_on_host: "string", is_root_device: "boolean", is_read_only: "boolean", partuuid: "string",
      cache_type: { enum: ["Unsafe", "Writeback"] }, io_engine: { enum: ["Sync", "Async"] }, socket: "string",
    },
  },
  "network-interface": { required: ["iface_id", "host_dev_name"], fields: { iface_id: "string", host_dev_name: "string", guest_mac: "string" } },
  logger: { required: [], fields: { log_path: "string", level: { enum: ["Error", "Warning", "Info", "Debug", "Trace", "Off"] }, show_level: "boolean", show_log_origin: "boolean", module: "string" } },
};

const TOP_LEVEL = ["boot-source", "machine-config", "drives", "network-interfaces", "logger", "metrics", "balloon", "vsock", "mmds-config", "entropy", "cpu-config"];

function checkObject(where: string, v: unknown, spec: ObjSpec, errors: string[]): void {
  if (typeof v !== "object" || v === null || Array.isArray(v)) { errors.push(`${where}: expected an object`); return; }
  const o = v as Record<string, unknown>;
  for (const r of spec.required) if (!(r in o)) errors.push(`${where}: missing required field ${r}`);
  for (const [k, x] of Object.entries(o)) {
    const t = spec.fields[k];
    if (!t) { errors.push(`${where}: unknown field ${k}`); continue; }
    if (typeof t === "string") {
      const ok = t === "integer" ? Number.isInteger(x) : typeof x === t;
      if (!ok) errors.push(`${where}.${k}: expected ${t}`);
    } else if ("enum" in t) {
      if (!t.enum.includes(x as string)) errors.push(`${where}.${k}: expected one of ${t.enum.join(", ")}`);
    } else if (!Number.isInteger(x) || (x as number) < t.min || (x as number) > t.max) {
      errors.push(`${where}.${k}: expected an integer in ${t.min}..${t.max}`);
    }
  }
}

/** Checks a configuration against FIRECRACKER_SPEC; returns the problems found. */
export function validateFirecrackerConfig(cfg: unknown): string[] {
  const errors: string[] = [];
  if (typeof cfg !== "object" || cfg === null) return ["configuration: expected an object"];
  const c = cfg as Record<string, unknown>;
  for (const k of Object.keys(c)) if (!TOP_LEVEL.includes(k)) errors.push(`unknown top-level key ${k}`);
  if (!("boot-source" in c)) errors.push("missing boot-source");
  else checkObject("boot-source", c["boot-source"], FIRECRACKER_SPEC["boot-source"], errors);
  if (!("machine-config" in c)) errors.push("missing machine-config");
  else checkObject("machine-config", c["machine-config"], FIRECRACKER_SPEC["machine-config"], errors);
  for (const [key, spec] of [["drives", "drive"], ["network-interfaces", "network-interface"]] as const) {
    if (!(key in c)) continue;
    const a = c[key];
    if (!Array.isArray(a)) { errors.push(`${key}: expected an array`); continue; }
    a.forEach((x, i) => checkObject(`${key}[${i}]`, x, FIRECRACKER_SPEC[spec], errors));
    const ids = a.map((x) => (x as Record<string, unknown>)[spec === "drive" ? "drive_id" : "iface_id"]);
    if (new Set(ids).size !== ids.length) errors.push(`${key}: ids must be unique`);
  }
  const drives = (c.drives as { is_root_device?: boolean }[] | undefined) ?? [];
  if (drives.filter((d) => d.is_root_device).length > 1) errors.push("drives: at most one root device");
  if ("logger" in c) checkObject("logger", c.logger, FIRECRACKER_SPEC.logger, errors);
  const bs = c["boot-source"] as { boot_args?: string } | undefined;
  if (bs?.boot_args && /virtio_mmio\.device=/.test(bs.boot_args)) errors.push("boot-source.boot_args: leave virtio_mmio.device= entries to Firecracker");
  return errors;
}

/** Every host path the configuration names must exist (Firecracker fails
 *  late, at start, otherwise): the kernel and drives as files, the log's
 *  folder. Returns the problems found. */
export function checkFirecrackerPaths(cfg: FirecrackerConfig, exists: (p: string) => { file: boolean; dir: boolean } | null): string[] {
  const errs: string[] = [];
  const need = (what: string, p: string, kind: "file" | "dir") => {
    const s = exists(p);
    if (!s) errs.push(`${what} ${p}: no such ${kind === "file" ? "file" : "folder"}`);
    else if (!s[kind]) errs.push(`${what} ${p}: not a ${kind === "file" ? "file" : "folder"}`);
  };
  need("kernel", cfg["boot-source"].kernel_image_path, "file");
  for (const d of cfg.drives) need(`drive ${d.drive_id}`, d.path_on_host, "file");
  if (cfg.logger) need("log folder of", cfg.logger.log_path.replace(/\/[^/]*$/, "") || "/", "dir");
  for (const n of cfg["network-interfaces"]) {
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(n.host_dev_name)) errs.push(`tap ${n.host_dev_name}: not a network interface name (1-15 of A-Z a-z 0-9 _ . -)`);
  }
  return errs;
}
