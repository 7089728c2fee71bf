// kernel/api/state.ts — what the endpoint's handlers share: options from the
// boot command line, the providers of kernel state, the config and env
// stores, the hostname, the token check and the request metrics.
import { Cmdline } from "../platform/bootinfo";
import { BearerAuth, AuthObserver, Request, WallClock } from "../lib/http";
import { KeyValueStore } from "../lib/config";
import { println } from "../core/console";
import {
  TaskSource, MemorySource, NetSource, DeviceSource, BlockSource, PowerControl,
} from "./providers";
import { RequestMetrics, MetricsWriter } from "./metrics";

export const DEFAULT_API_PORT: i32 = 8000;

/** Boot command-line words the endpoint reads. */
// @ts-ignore: decorator
@lazy
export const ARG_PORT = "api.port";
// @ts-ignore: decorator
@lazy
export const ARG_TOKEN = "api.token";
// @ts-ignore: decorator
@lazy
export const ARG_READONLY = "api.readonly";
// @ts-ignore: decorator
@lazy
export const ARG_OFF = "api.off";
// @ts-ignore: decorator
@lazy
export const ARG_NET = "api.net";
// @ts-ignore: decorator
@lazy
export const ARG_HOSTNAME = "hostname";
// @ts-ignore: decorator
@lazy
export const ARG_REQUEST_TIMEOUT = "api.request_timeout_ms";

/** Bounds of api.request_timeout_ms= (100 ms .. 1 hour). */
export const MIN_REQUEST_TIMEOUT_MS: i32 = 100;
export const MAX_REQUEST_TIMEOUT_MS: i32 = 3_600_000;

export class ApiOptions {
  port: i32 = DEFAULT_API_PORT;
  /** "" until given (api.token=) or read from the host (fw_cfg, kernel/api/boot.ts);
   *  without one every state-changing request is refused. */
  token: string = "";
  readOnly: bool = false;
  /** No endpoint at all (api.off): neither the host-only channel nor the network. */
  enabled: bool = true;
  /** Also listen on the network (api.net=on), on port. Off by default: the
   *  host-only channel (hostchannel.ts) is the management path. */
  net: bool = false;
  hostname: string = "skiff";
  osName: string = "Skiff";
  osVersion: string = "0.0.0";
  /** From a request's first byte to its last before 408 (HttpLimits.requestTimeoutNs);
   *  0 keeps the server's default (60 s). */
  requestTimeoutMs: i32 = 0;
  /** Problems found while reading the command line, for the boot log. */
  problems: string[] = [];

  /** api.net=on|off, api.port=N (1-65535), api.token=T, api.readonly,
   *  api.off, hostname=H, api.request_timeout_ms=N (100-3600000). */
  static fromCmdline(c: Cmdline): ApiOptions {
    const o = new ApiOptions();
    const port = c.get(ARG_PORT);
    if (port !== null) {
      const p = parsePort(port);
      if (p > 0) o.port = p;
      else o.problems.push(ARG_PORT + "=" + printable(port) + " is not a port (1-65535); using " + DEFAULT_API_PORT.toString());
    }
    const net = c.get(ARG_NET);
    if (net !== null) {
      const v = onOff(net);
      if (v >= 0) o.net = v == 1;
      else o.problems.push(ARG_NET + "=" + printable(net) + " is not on or off; the API stays off the network");
    }
    if (port !== null && !o.net) o.problems.push(ARG_PORT + "= has no effect without " + ARG_NET + "=on (the API is not on the network)");
    const token = c.get(ARG_TOKEN);
    if (token !== null) {
      if (validToken(token)) o.token = token;
      else o.problems.push(ARG_TOKEN + " must be 8-256 visible ASCII characters; ignored");
    }
    const ro = c.get(ARG_READONLY);
    if (ro !== null) o.readOnly = ro != "0" && ro != "false" && ro != "no";
    if (c.has(ARG_OFF)) o.enabled = false;
    const h = c.get(ARG_HOSTNAME);
    if (h !== null) {
      if (validHostname(h)) o.hostname = h;
      else o.problems.push(ARG_HOSTNAME + "=" + h + " is not a valid host name");
    }
    const rt = c.get(ARG_REQUEST_TIMEOUT);
    if (rt !== null) {
      const ms = parseDecimal(rt);
      if (ms >= MIN_REQUEST_TIMEOUT_MS && ms <= MAX_REQUEST_TIMEOUT_MS) o.requestTimeoutMs = ms;
      else o.problems.push(ARG_REQUEST_TIMEOUT + "=" + rt + " is not a number of milliseconds (" +
        MIN_REQUEST_TIMEOUT_MS.toString() + "-" + MAX_REQUEST_TIMEOUT_MS.toString() + "); using the default");
    }
    return o;
  }
}

/** 1 for on (a bare flag, on, yes, true, 1), 0 for off (off, no, false, 0), -1 otherwise. */
function onOff(s: string): i32 {
  if (s == "" || s == "on" || s == "yes" || s == "true" || s == "1") return 1;
  if (s == "off" || s == "no" || s == "false" || s == "0") return 0;
  return -1;
}

/** A command-line value for a message: at most 32 visible ASCII characters. */
function printable(s: string): string {
  let out = "";
  const n = s.length < 32 ? s.length : 32;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    out += c > 0x20 && c < 0x7f ? String.fromCharCode(c) : "?";
  }
  return s.length > n ? out + "..." : out;
}

/** Decimal digits only, at most 9 of them; -1 otherwise. */
function parseDecimal(s: string): i32 {
  if (s.length == 0 || s.length > 9) return -1;
  let v = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    v = v * 10 + (c - 0x30);
  }
  return v;
}

function parsePort(s: string): i32 {
  if (s.length == 0 || s.length > 5) return -1;
  let v = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    v = v * 10 + (c - 0x30);
  }
  return v >= 1 && v <= 65535 ? v : -1;
}

/** b64token-ish (RFC 6750 §2.1): 8 to 256 visible ASCII characters without
 *  spaces, quotes or backslashes. */
export function validToken(t: string): bool {
  if (t.length < 8 || t.length > 256) return false;
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c == 0x22 || c == 0x5c) return false;
  }
  return true;
}

/** RFC 1123 §2.1 host name: dot-separated labels of letters, digits and
 *  hyphens, 1-63 each, not starting or ending with a hyphen; 253 in all. */
export function validHostname(h: string): bool {
  if (h.length == 0 || h.length > 253) return false;
  const labels = h.split(".");
  for (let i = 0; i < labels.length; i++) {
    const l = unchecked(labels[i]);
    if (l.length == 0 || l.length > 63) return false;
    if (l.charCodeAt(0) == 0x2d || l.charCodeAt(l.length - 1) == 0x2d) return false;
    for (let k = 0; k < l.length; k++) {
      const c = l.charCodeAt(k);
      const ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x2d;
      if (!ok) return false;
    }
  }
  return true;
}

/** How often refused requests are reported: the first one of a quiet spell
 *  is logged at once, the rest are summed into one line per interval, so a
 *  client cannot flood the console or push the boot log out of dmesg. */
export const REFUSAL_LOG_INTERVAL_NS: u64 = 10_000_000_000;

/** Logs refused state changes to the console (and so dmesg): method and path
 *  only, never the Authorization header; rate-limited (REFUSAL_LOG_INTERVAL_NS). */
export class AuthLogger extends AuthObserver {
  private windowStartNs: u64 = 0;
  private logged: bool = false;
  private pending: u64 = 0;
  private last: string = "";

  refused(req: Request, status: i32, failures: u64): void {
    const what = req.method + " " + sanitizeForLog(req.path) + " (" + status.toString() + ")";
    if (this.logged && req.nowNs - this.windowStartNs < REFUSAL_LOG_INTERVAL_NS) {
      this.pending++;
      this.last = what;
      return;
    }
    this.flush(req.nowNs, true);
    println("api: refused " + what + "; " + failures.toString() + " refused so far");
    this.logged = true;
    this.windowStartNs = req.nowNs;
  }

  /** Prints the summary of refusals held back, once their interval is over
   *  (or now, when force). Called on every refusal and by the endpoint's poll. */
  flush(nowNs: u64, force: bool = false): void {
    if (this.pending == 0) return;
    if (!force && nowNs - this.windowStartNs < REFUSAL_LOG_INTERVAL_NS) return;
    println("api: " + this.pending.toString() + " more requests refused (the last: " + this.last + ")");
    this.pending = 0;
    this.last = "";
    this.windowStartNs = nowNs;
  }
}

function sanitizeForLog(s: string): string {
  let out = s.length > 64 ? s.substring(0, 64) + "..." : s;
  // Paths are already visible ASCII (the parser checks), but be explicit.
  for (let i = 0; i < out.length; i++) {
    const c = out.charCodeAt(i);
    if (c < 0x20 || c >= 0x7f) return "(unprintable path)";
  }
  return out;
}

export class ApiState {
  options: ApiOptions;
  auth: BearerAuth;
  metrics: RequestMetrics = new RequestMetrics();
  config: KeyValueStore;
  env: KeyValueStore;
  hostname: string;
  /** The raw boot command line (served with the token redacted). */
  cmdline: string = "";
  /** Monotonic time at boot, the zero of /os/uptime. */
  bootNs: u64 = 0;
  /** Processors the machine has (enabled MADT entries); Skiff runs on one. */
  processorCount: i32 = 1;
  /** Name of the hypervisor ("kvm", "tcg", "none", ...). */
  hypervisor: string = "unknown";

  clock: WallClock | null = null;
  memory: MemorySource | null = null;
  tasks: TaskSource | null = null;
  net: NetSource | null = null;
  devices: DeviceSource | null = null;
  blocks: BlockSource | null = null;
  power: PowerControl | null = null;
  /** Extra metrics families an app or subsystem appends to /metrics. */
  extraMetrics: MetricsSource[] = [];

  authLog: AuthLogger = new AuthLogger();

  constructor(options: ApiOptions, config: KeyValueStore, env: KeyValueStore) {
    this.options = options;
    this.config = config;
    this.env = env;
    this.hostname = options.hostname;
    // Without a token the network listener refuses everything but /health
    // (401). The token is never printed: the console feeds /os/dmesg.
    // api.readonly is applied by the network's gate (policy.ts), after the
    // token, so that GETs with the token still pass.
    this.auth = new BearerAuth(options.token);
    this.auth.observer = this.authLog;
    this.secret = options.token;
  }

  private secret: string = "";

  /** text with every occurrence of the token, and the value of any
   *  <name>.token= word (api.token=, an app's kv.token=), replaced:
   *  /os/dmesg and /os/cmdline never echo a secret. */
  redact(text: string): string {
    let t = text;
    if (this.secret.length > 0) t = t.replaceAll(this.secret, "<redacted>");
    const word = ".token=";
    let at = t.indexOf(word);
    while (at >= 0) {
      const start = at + word.length;
      let end = start;
      if (end < t.length && t.charCodeAt(end) == 0x22) {   // a quoted value
        end++;
        while (end < t.length && t.charCodeAt(end) != 0x22) end++;
        if (end < t.length) end++;
      } else {
        while (end < t.length && t.charCodeAt(end) != 0x20 && t.charCodeAt(end) != 0x0a) end++;
      }
      t = t.substring(0, start) + "<redacted>" + t.substring(end);
      at = t.indexOf(word, start + 10);
    }
    return t;
  }

  uptimeNs(nowNs: u64): u64 { return nowNs > this.bootNs ? nowNs - this.bootNs : 0; }

  /** Unix seconds now, or -1 without a wall clock. */
  unixSeconds(nowNs: u64): i64 {
    const c = this.clock;
    return c === null ? -1 : c.unixSeconds(nowNs);
  }
}

/** Appends families to /metrics (e.g. an app's own counters). */
export abstract class MetricsSource {
  abstract write(w: MetricsWriter): void;
}
