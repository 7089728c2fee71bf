// kernel/api/boot.ts — brings the REST endpoint up: options from the boot
// command line (api.net=, api.port=, api.token=, api.readonly, api.off,
// hostname=), the config/env stores (seeded from config.*= and env.*= words on
// first use), the kernel's providers, the stack's interfaces, power control,
// the host-only channel (always), and with api.net=on a TCP listener on the
// network (the token from the host through fw_cfg when the command line has
// none), with a 1 s poll for the HTTP timeouts. The composition layer calls it
// (kernel/system/main.ts, step 5: serve() or startManagementApi()), so an
// image whose app never asks for it does not link the API.
import { Cmdline } from "../platform/bootinfo";
import { println } from "../core/console";
import { config } from "../lib/config";
import { env } from "../lib/env";
import { TimerHandler, after, every, setDaemon, requestExit, nowNs } from "../core/sched";
import { rebootGuest } from "../platform";
import { NetStack, ipToString, macToString } from "../lib/net";
import { KERNEL_NAME, KERNEL_VERSION } from "../core/version";
import { fwcfgFile } from "../platform/arch";
import { Api } from "./index";
import { HttpTcpService } from "../lib/http";
import { serveHostChannel, pollHostChannel } from "./hostchannel";
import { ApiOptions, validToken } from "./state";
import { installKernelProviders } from "./kernel";
import { NetSource, InterfaceEntry, RouteEntry, PowerControl } from "./providers";
import { StackMetrics } from "./netmetrics";

/** A shutdown or reboot waits this long so the 202 response gets out first. */
const POWER_DELAY_NS: u64 = 200_000_000;
/** How often connections' idle and request timeouts are checked. */
const POLL_NS: u64 = 1_000_000_000;

class StackNet extends NetSource {
  constructor(public stack: NetStack) { super(); }

  interfaces(): InterfaceEntry[] {
    const i = this.stack.iface;
    const d = this.stack.device;
    const e = new InterfaceEntry();
    e.name = d.name;
    const m = d.mac();
    let mac: u64 = 0;
    for (let k = 0; k < 6; k++) mac = (mac << 8) | <u64>m[k];
    e.mac = macToString(mac);
    e.mtu = i.mtu;
    e.up = d.linkUp();
    e.ipv4 = i.addr != 0 ? ipToString(i.addr) : "";
    e.prefixLength = i.prefixLen;
    const s = d.stats;
    e.rxPackets = s.rxPackets; e.rxBytes = s.rxBytes; e.rxDropped = s.rxDropped; e.rxErrors = s.rxErrors;
    e.txPackets = s.txPackets; e.txBytes = s.txBytes; e.txDropped = s.txDropped; e.txErrors = s.txErrors;
    return [e];
  }

  routes(): RouteEntry[] {
    const i = this.stack.iface;
    const out = new Array<RouteEntry>();
    if (i.addr == 0) return out;
    if (i.gateway != 0) {
      const r = new RouteEntry();
      r.gateway = ipToString(i.gateway);
      r.iface = this.stack.device.name;
      out.push(r);
    }
    const l = new RouteEntry();
    const mask: u32 = i.prefixLen == 0 ? 0 : <u32>(0xffffffff << (32 - i.prefixLen));
    l.destination = ipToString(i.addr & mask);
    l.prefixLength = i.prefixLen;
    l.iface = this.stack.device.name;
    out.push(l);
    return out;
  }
}

class ShutdownLater extends TimerHandler {
  fire(nowNs: u64): void { requestExit(0); }   // runLoop returns; bootKernel resets devices and exits 0
}

class RebootLater extends TimerHandler {
  fire(nowNs: u64): void { rebootGuest(); }
}

/** Shutdown ends the event loop (the guest exits 0 through isa-debug-exit);
 *  reboot resets the devices and the machine (kernel/platform rebootGuest). */
class KernelPower extends PowerControl {
  shutdown(): bool {
    println("api: shutdown requested");
    after(POWER_DELAY_NS, new ShutdownLater());
    return true;
  }
  reboot(): bool {
    println("api: reboot requested");
    after(POWER_DELAY_NS, new RebootLater());
    return true;
  }
}

class PollHttp extends TimerHandler {
  constructor(public svc: HttpTcpService | null, public api: Api) { super(); }
  fire(now: u64): void {
    const svc = this.svc;
    if (svc !== null) svc.poll(now);
    pollHostChannel(now);
    this.api.state.authLog.flush(now);
  }
}

/** The fw_cfg file through which `skiff run` hands the guest its API token
 *  (the CLI keeps the same token in a mode-0600 file on the host). */
// @ts-ignore: decorator
@lazy
export const TOKEN_FWCFG_FILE = "opt/org.skiff/api-token";

/** The token the host passed through fw_cfg, or "" (none, or not a valid token). */
function hostToken(): string {
  const b = fwcfgFile(TOKEN_FWCFG_FILE, 256);
  if (b === null) return "";
  let t = String.UTF8.decode(b.buffer).trim();
  return validToken(t) ? t : "";
}

// @ts-ignore: decorator
@lazy
let started: Api | null = null;

/** The endpoint, once started (null before, or with api.off). */
export function runningApi(): Api | null { return started; }

/** Starts the REST endpoint: on the host-only channel, and on stack's TCP
 *  when api.net=on; returns it, or null with api.off. A network port that is
 *  taken leaves the API on the host channel only. Runs once; later calls
 *  return the first result. */
export function startApi(stack: NetStack, cmdline: Cmdline, quiet: bool): Api | null {
  if (started !== null) return started;
  const opts = ApiOptions.fromCmdline(cmdline);
  for (let i = 0; i < opts.problems.length; i++) println("api: " + opts.problems[i]);
  if (!opts.enabled) return null;
  // The token matters only on the network; off it, it is not even read.
  let tokenFrom = "api.token=";
  if (opts.net && opts.token.length == 0) { opts.token = hostToken(); tokenFrom = "the host"; }
  opts.osName = KERNEL_NAME;
  opts.osVersion = KERNEL_VERSION;
  const api = new Api(opts, config(), env());
  const st = api.state;
  installKernelProviders(st);
  st.cmdline = cmdline.raw;
  st.net = new StackNet(stack);
  st.extraMetrics.push(new StackMetrics(stack));
  st.power = new KernelPower();
  api.server.clock = st.clock;
  api.hostServer.clock = st.clock;
  api.server.monotonicNs = nowNs;
  api.hostServer.monotonicNs = nowNs;
  // The host-only channel (a virtio-serial port whose socket only the host
  // user can open): no token.
  serveHostChannel(api.hostServer);
  let svc: HttpTcpService | null = null;
  if (opts.net) {
    const s = new HttpTcpService(api.server);
    if (s.listen(stack.tcp, <u32>opts.port)) svc = s;
    else println("api: TCP port " + opts.port.toString() + " is taken; the REST endpoint is not on the network");
  }
  // A daemon timer: the endpoint alone does not keep the guest running.
  setDaemon(every(POLL_NS, new PollHttp(svc, api)), true);
  started = api;
  if (svc === null) {
    if (!quiet && !opts.net) println("api: REST endpoint on the host-only channel; not on the network (api.net=on)");
    return api;
  }
  if (!quiet) println("api: REST endpoint on TCP port " + opts.port.toString() + (opts.readOnly ? " (read-only)" : ""));
  // The token itself is never printed: the console feeds /os/dmesg.
  if (opts.token.length == 0) {
    println("api: no token (give api.token= or boot with skiff run): the network refuses every request but /health");
  } else if (!quiet) {
    println("api: bearer token from " + tokenFrom + "; every request but /health needs it");
  }
  return api;
}
