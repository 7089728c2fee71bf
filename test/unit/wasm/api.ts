// test/unit/wasm/api.ts — drives kernel/api from Node with fake providers.
import { abortHandler } from "../../../kernel/core/panic";
import { Api, ApiOptions, TaskSource, TaskEntry, MemorySource, MemoryUse, NetSource, InterfaceEntry, RouteEntry,
  DeviceSource, DeviceEntry, BlockSource, BlockEntry, PowerControl } from "../../../kernel/api";
import { HttpConnection, FixedOffsetClock, constantTimeEquals } from "../../../kernel/lib/http";
import { needsToken } from "../../../kernel/api";
import { KeyValueStore, ConfigListener, seedFromCmdline } from "../../../kernel/lib/config";
import { Cmdline } from "../../../kernel/platform/bootinfo/cmdline";
import * as console from "../../../kernel/core/console";

class Tasks extends TaskSource {
  tasks(): TaskEntry[] {
    const a = new TaskEntry(); a.id = 1; a.name = "idle"; a.state = "ready"; a.cpuNs = 1_500_000_000; a.runs = 10;
    const b = new TaskEntry(); b.id = 2; b.name = "app \"main\""; b.state = "running"; b.cpuNs = 2_000_000; b.runs = 3;
    return [a, b];
  }
}
class Mem extends MemorySource {
  totalBytes(): u64 { return 134217728; }
  freeBytes(): u64 { return 100000000; }
  bySubsystem(): MemoryUse[] { return [new MemoryUse("heap", 30000000), new MemoryUse("dma", 4217728)]; }
}
class Net extends NetSource {
  interfaces(): InterfaceEntry[] {
    const e = new InterfaceEntry(); e.name = "eth0"; e.mac = "52:54:00:12:34:56"; e.mtu = 1500; e.up = true;
    e.ipv4 = "10.0.2.15"; e.prefixLength = 24; e.rxPackets = 5; e.rxBytes = 600; e.txPackets = 4; e.txBytes = 400;
    return [e];
  }
  routes(): RouteEntry[] {
    const r = new RouteEntry(); r.gateway = "10.0.2.2"; r.iface = "eth0";
    const l = new RouteEntry(); l.destination = "10.0.2.0"; l.prefixLength = 24; l.iface = "eth0";
    return [r, l];
  }
}
class Devs extends DeviceSource {
  devices(): DeviceEntry[] {
    const d = new DeviceEntry(); d.name = "vda"; d.type = "blk"; d.transport = "pci"; d.location = "00:04.0"; d.state = "ok";
    return [d];
  }
}
class Blocks extends BlockSource {
  devices(): BlockEntry[] { const b = new BlockEntry(); b.name = "vda"; b.reads = 7; b.readBytes = 3584; return [b]; }
}
let powerCalls = "";
class Power extends PowerControl {
  shutdown(): bool { powerCalls += "shutdown;"; return true; }
  reboot(): bool { return false; }
}
let changes = "";
class Listener extends ConfigListener {
  changed(key: string, value: string | null): void { changes += key + "=" + (value === null ? "(deleted)" : value) + ";"; }
}

let api: Api | null = null;
let config: KeyValueStore | null = null;
let conn: HttpConnection | null = null;
let problems = "";

/** A fresh endpoint from a boot command line; providers on when full. */
export function setup(cmdline: string, full: bool): void {
  console.init();
  const c = new Cmdline(cmdline);
  const opts = ApiOptions.fromCmdline(c);
  opts.osName = "Skiff";
  opts.osVersion = "0.1.0";
  problems = opts.problems.join("|");
  config = new KeyValueStore(false);
  seedFromCmdline(config!, c, "config.");
  const env = new KeyValueStore(true);
  seedFromCmdline(env, c, "env.");
  config!.addListener(new Listener());
  changes = "";
  powerCalls = "";
  const a = new Api(opts, config!, env);
  a.state.cmdline = cmdline;
  a.state.bootNs = 1_000_000_000;
  if (full) {
    a.state.tasks = new Tasks();
    a.state.memory = new Mem();
    a.state.net = new Net();
    a.state.devices = new Devs();
    a.state.blocks = new Blocks();
    a.state.power = new Power();
    a.state.clock = new FixedOffsetClock(1700000000_000_000_000);
    a.state.hypervisor = "kvm";
  }
  api = a;
  onHost = false;
  conn = a.server.open(0);
}

/** Requests go to the host-only channel's server (true) or the network's. */
let onHost: bool = false;
export function useHostChannel(host: bool): void {
  onHost = host;
  conn!.close();
  conn = host ? api!.hostServer.open(0) : api!.server.open(0);
}

export function request(buf: ArrayBuffer, nowNs: u64): ArrayBuffer {
  const c = conn!;
  if (c.shouldClose()) { c.close(); conn = onHost ? api!.hostServer.open(nowNs) : api!.server.open(nowNs); }
  conn!.feed(changetype<usize>(buf), buf.byteLength, nowNs);
  return conn!.takeOutput().buffer;
}
export function hasToken(): bool { return api!.state.auth.hasToken; }
/** A refused request's log line is rate-limited: the poll flushes the summary. */
export function flushAuthLog(nowNs: u64): void { api!.state.authLog.flush(nowNs); }
export function getProblems(): string { return problems; }
export function requestTimeoutNs(): u64 { return api!.server.limits.requestTimeoutNs; }
export function getChanges(): string { return changes; }
export function getPowerCalls(): string { return powerCalls; }
export function configGet(k: string): string | null { return config!.get(k); }
export function hostname(): string { return api!.state.hostname; }
export function routeCount(): i32 { return api!.router.routes.length; }
export function routeAt(i: i32): string {
  const r = api!.router.routes[i];
  return r.method + " " + r.pattern + (r.auth ? " auth" : "");
}
export function netEnabled(): bool { return api!.state.options.net; }
export function apiPort(): i32 { return api!.state.options.port; }
export function needsTokenFor(path: string): bool { return needsToken(path); }
export function tokenEquals(given: string, secret: string): bool { return constantTimeEquals(given, secret); }
export function log(s: string): void { console.println(s); }
export { abortHandler };

import { installKernelProviders } from "../../../kernel/api";
/** Switches the endpoint to the live-kernel providers (mm, sched, virtio, CPUID). */
export function useKernelProviders(): void { installKernelProviders(api!.state); }
