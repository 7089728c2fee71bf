// cli/lib/net.ts — the guest's network as `skiff run` and the test harness
// attach it: QEMU user networking with host ports forwarded on 127.0.0.1, a
// tap device, or none; and a static address passed on the guest's command line
// (`ip=ADDR/PREFIX gateway=ADDR dns=ADDR`, read by kernel/lib/net/service.ts).
// Pure argument building (unit-tested in test/unit/cli-net.test.ts) plus
// checkNetHost(), which looks at the host: ports free, tap device usable.
import { existsSync, readFileSync, accessSync, constants } from "node:fs";
import { createServer } from "node:net";
import { createSocket } from "node:dgram";
import { UserError } from "./log.js";

export type NetMode = "user" | "tap" | "none";
export const NET_MODES: NetMode[] = ["user", "tap", "none"];
export const DEFAULT_TAP = "skiff0";

/** QEMU user networking: the guest's network, its default address (the first
 *  DHCP lease) and the gateway (QEMU's slirp defaults). */
export const USER_NET = { net: "10.0.2.0", prefix: 24, guest: "10.0.2.15", gateway: "10.0.2.2", dns: "10.0.2.3" };

export interface Forward {
  proto: "tcp" | "udp";
  hostPort: number;
  guestPort: number;
}

/** A static configuration for the guest (DHCP when absent). */
export interface StaticIp {
  /** ADDR/PREFIX */
  ip: string;
  gateway?: string;
  dns?: string;
}

export interface NetSpec {
  mode: NetMode;
  /** Tap device name (mode tap); default skiff0. */
  tap?: string;
  /** Host 127.0.0.1 ports forwarded to guest ports (mode user). */
  forwards?: Forward[];
  /** Used to aim forwards at a static address (QEMU forwards to 10.0.2.15 otherwise). */
  staticIp?: StaticIp;
}

function parsePort(what: string, s: string): number {
  if (!/^\d{1,5}$/.test(s)) throw new UserError(`${what}: "${s}" is not a port number (1-65535)`);
  const n = Number(s);
  if (n < 1 || n > 65535) throw new UserError(`${what}: port ${n} is out of range (1-65535)`);
  return n;
}

/** `HOSTPORT:GUESTPORT`, optionally prefixed `tcp:` (the default) or `udp:`. */
export function parseForward(s: string): Forward {
  const what = `--forward ${s}`;
  const parts = s.split(":");
  let proto: "tcp" | "udp" = "tcp";
  if (parts.length === 3) {
    if (parts[0] !== "tcp" && parts[0] !== "udp") throw new UserError(`${what}: protocol "${parts[0]}" unknown; use tcp: or udp: (or nothing for TCP)`);
    proto = parts.shift() as "tcp" | "udp";
  }
  if (parts.length !== 2) throw new UserError(`${what}: expected HOSTPORT:GUESTPORT, e.g. --forward 8080:80 or --forward udp:5353:53`);
  return { proto, hostPort: parsePort(what, parts[0]), guestPort: parsePort(what, parts[1]) };
}

/** Dotted quad to a number; null when malformed. */
export function ipToNumber(s: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  const b = m.slice(1).map(Number);
  if (b.some((x) => x > 255)) return null;
  return ((b[0] << 24) >>> 0) + (b[1] << 16) + (b[2] << 8) + b[3];
}

function ipOrThrow(what: string, s: string): number {
  const n = ipToNumber(s);
  if (n === null) throw new UserError(`${what} ${s}: not an IPv4 address (expected four numbers 0-255, like 10.0.2.15)`);
  return n;
}

const maskOf = (prefix: number) => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);

/** `ADDR/PREFIX` → address and prefix, checked: a host address inside its network. */
export function parseCidr(s: string): { addr: number; prefix: number } {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(s);
  if (!m) throw new UserError(`--ip ${s}: expected ADDR/PREFIX, e.g. --ip 10.0.2.15/24`);
  const addr = ipOrThrow("--ip", m[1]);
  const prefix = Number(m[2]);
  if (prefix < 1 || prefix > 32) throw new UserError(`--ip ${s}: prefix /${prefix} out of range (1-32)`);
  const host = (addr & ~maskOf(prefix)) >>> 0;
  if (prefix <= 30 && (host === 0 || host === (~maskOf(prefix) >>> 0))) {
    throw new UserError(`--ip ${s}: that is the ${host === 0 ? "network" : "broadcast"} address of /${prefix}; pick a host address`);
  }
  return { addr, prefix };
}

/** Checks a static configuration and returns the command-line words for the
 *  kernel (`ip=... gateway=... dns=...`). */
export function staticIpCmdline(s: StaticIp, mode: NetMode = "user"): string {
  const { addr, prefix } = parseCidr(s.ip);
  const words = [`ip=${s.ip}`];
  if (s.gateway !== undefined) {
    const g = ipOrThrow("--gateway", s.gateway);
    if (((g ^ addr) & maskOf(prefix)) !== 0) {
      throw new UserError(`--gateway ${s.gateway} is not inside ${s.ip}; the guest reaches its gateway directly, so it must be on the same network`);
    }
    if (g === addr) throw new UserError(`--gateway ${s.gateway} is the guest's own address`);
    words.push(`gateway=${s.gateway}`);
  }
  if (s.dns !== undefined) {
    ipOrThrow("--dns", s.dns);
    words.push(`dns=${s.dns}`);
  }
  if (mode === "user") {
    const net = ipToNumber(USER_NET.net)!;
    if (prefix < USER_NET.prefix || ((addr ^ net) & maskOf(USER_NET.prefix)) !== 0) {
      throw new UserError(`--ip ${s.ip}: QEMU user networking is ${USER_NET.net}/${USER_NET.prefix} (gateway ${USER_NET.gateway}); ` +
        `use an address inside it, e.g. --ip ${USER_NET.guest}/24 --gateway ${USER_NET.gateway}, or --net tap for other networks`);
    }
    if (addr === ipToNumber(USER_NET.gateway) || addr === ipToNumber(USER_NET.dns)) {
      throw new UserError(`--ip ${s.ip}: QEMU user networking uses ${USER_NET.gateway} and ${USER_NET.dns} itself; pick another, e.g. ${USER_NET.guest}`);
    }
  }
  return words.join(" ");
}

/** Validates the combination (mode, tap, forwards) without touching the host. */
export function checkNetSpec(spec: NetSpec): void {
  if (!NET_MODES.includes(spec.mode)) throw new UserError(`--net ${spec.mode}: choose one of ${NET_MODES.join(", ")}`);
  const fw = spec.forwards ?? [];
  if (fw.length && spec.mode !== "user") {
    throw new UserError(spec.mode === "tap"
      ? "--forward works with --net user only; over a tap device reach the guest at its own address"
      : "--forward needs a network: use --net user (the default)");
  }
  if (spec.tap !== undefined && spec.mode !== "tap") throw new UserError(`--tap ${spec.tap} needs --net tap`);
  if (spec.mode === "tap") {
    const name = spec.tap ?? DEFAULT_TAP;
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name)) throw new UserError(`--tap ${name}: not a Linux interface name (1-15 letters, digits, '_', '.', '-')`);
  }
  const seen = new Map<string, Forward>();
  for (const f of fw) {
    const key = `${f.proto}:${f.hostPort}`;
    const prev = seen.get(key);
    if (prev) throw new UserError(`--forward ${f.proto}:${f.hostPort}:${f.guestPort}: host ${f.proto.toUpperCase()} port ${f.hostPort} is already forwarded (to guest port ${prev.guestPort})`);
    seen.set(key, f);
  }
}

/** The -netdev option value for spec (id net0). */
export function netdevValue(spec: NetSpec): string | null {
  checkNetSpec(spec);
  if (spec.mode === "none") return null;
  if (spec.mode === "tap") return `tap,id=net0,ifname=${spec.tap ?? DEFAULT_TAP},script=no,downscript=no`;
  const guest = spec.staticIp ? spec.staticIp.ip.split("/")[0] : "";
  // hostfwd=PROTO:HOSTADDR:HOSTPORT-GUESTADDR:GUESTPORT; an empty guest
  // address means QEMU's first DHCP address (10.0.2.15).
  const fw = (spec.forwards ?? []).map((f) => `,hostfwd=${f.proto}:127.0.0.1:${f.hostPort}-${guest}:${f.guestPort}`).join("");
  return `user,id=net0${fw}`;
}

/** Whether a host port can be bound on 127.0.0.1 right now (null) or why not. */
function probePort(f: Forward): Promise<string | null> {
  return new Promise((resolve) => {
    const why = (e: NodeJS.ErrnoException) =>
      e.code === "EADDRINUSE" ? "already in use on 127.0.0.1" : e.code === "EACCES" ? "needs root (ports below 1024 are privileged)" : e.message;
    if (f.proto === "udp") {
      const s = createSocket("udp4");
      s.once("error", (e) => { s.close(); resolve(why(e)); });
      s.bind(f.hostPort, "127.0.0.1", () => s.close(() => resolve(null)));
    } else {
      const s = createServer();
      s.once("error", (e) => resolve(why(e)));
      s.listen(f.hostPort, "127.0.0.1", () => s.close(() => resolve(null)));
    }
  });
}

/** Host-side checks before QEMU starts, each with what to do about it:
 *  forwarded ports free; the tap device exists and we may open it. */
export async function checkNetHost(spec: NetSpec): Promise<void> {
  checkNetSpec(spec);
  for (const f of spec.forwards ?? []) {
    const problem = await probePort(f);
    if (problem) {
      const ss = f.proto === "udp" ? "ss -lunp" : "ss -ltnp";
      throw new UserError(`--forward ${f.proto === "udp" ? "udp:" : ""}${f.hostPort}:${f.guestPort}: host ${f.proto.toUpperCase()} port ${f.hostPort} ${problem}` +
        (problem.startsWith("already") ? `; choose another host port (see who holds it: ${ss} 'sport = :${f.hostPort}')` : ""));
    }
  }
  if (spec.mode === "tap") checkTap(spec.tap ?? DEFAULT_TAP);
}

/** A tap device QEMU can attach to with script=no: it exists, is a tap, and
 *  either we are root or it was created for our user or group. */
export function checkTap(name: string, sys = "/sys/class/net", tun = "/dev/net/tun"): void {
  const create = `sudo ip tuntap add dev ${name} mode tap user $(id -un) && sudo ip link set ${name} up`;
  if (!existsSync(`${sys}/${name}`)) throw new UserError(`--tap ${name}: no such network device; create it with: ${create}`);
  if (!existsSync(`${sys}/${name}/tun_flags`)) throw new UserError(`--tap ${name}: exists but is not a tun/tap device; pick a tap with --tap NAME or create one: ${create}`);
  try {
    accessSync(tun, constants.R_OK | constants.W_OK);
  } catch {
    throw new UserError(`--net tap: cannot open ${tun} for reading and writing; run as root, or give your user access to ${tun} (and create the tap for your user: ${create})`);
  }
  const uid = process.getuid?.() ?? 0;
  if (uid === 0) return;
  const read = (f: string) => { try { return Number(readFileSync(`${sys}/${name}/${f}`, "utf8").trim()); } catch { return -1; } };
  const owner = read("owner"), group = read("group");
  const groups = process.getgroups?.() ?? [];
  const mine = owner === uid || (owner === -1 && group !== -1 && groups.includes(group));
  if (!mine) {
    throw new UserError(`--tap ${name}: permission denied: the device belongs to ${owner === -1 ? "no user" : "uid " + owner}${group !== -1 ? " / gid " + group : ""}; ` +
      `recreate it for yourself: sudo ip tuntap del dev ${name} mode tap && ${create}`);
  }
}

/** QEMU arguments for the NIC (-netdev + -device) given the virtio device name. */
export function netArgs(spec: NetSpec, device: string, pci: boolean): string[] {
  const nd = netdevValue(spec);
  if (nd === null) return [];
  // romfile= : no iPXE option ROM (not needed for -kernel boots, and may be absent).
  return ["-netdev", nd, "-device", `${device},netdev=net0${pci ? ",romfile=" : ""}`];
}
