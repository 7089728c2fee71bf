// kernel/api/providers.ts — how the REST endpoint reads kernel state: small
// interfaces that each subsystem fills in (kernel/api/kernel.ts has the ones
// backed by mm, sched and virtio; kernel/lib/net supplies NetSource). An endpoint
// whose provider is missing answers with an empty list or 501, so the API can
// run before every subsystem exists, and unit tests pass fakes.

export class TaskEntry {
  id: u32 = 0;
  name: string = "";
  state: string = "";
  cpuNs: u64 = 0;
  /** Times the task was run (OSv's "switches"). */
  runs: u64 = 0;
}
export abstract class TaskSource {
  abstract tasks(): TaskEntry[];
}

export class MemoryUse {
  constructor(public subsystem: string, public bytes: u64) {}
}
export abstract class MemorySource {
  abstract totalBytes(): u64;
  abstract freeBytes(): u64;
  abstract bySubsystem(): MemoryUse[];
  /** The AssemblyScript heap: its size (linear memory outside the page pool),
   *  the bytes of it in use (not in the allocator's free lists; garbage not
   *  yet collected counts as in use), the high-water mark of linear memory in
   *  use, and what app code may not grow the heap into. 0 when unknown. */
  heapBytes(): u64 { return 0; }
  heapUsedBytes(): u64 { return 0; }
  highWaterBytes(): u64 { return 0; }
  reserveBytes(): u64 { return 0; }
}

export class InterfaceEntry {
  name: string = "";
  mac: string = "";
  mtu: i32 = 0;
  up: bool = false;
  /** Dotted quad, "" when unconfigured. */
  ipv4: string = "";
  prefixLength: i32 = 0;
  rxPackets: u64 = 0; rxBytes: u64 = 0; rxDropped: u64 = 0; rxErrors: u64 = 0;
  txPackets: u64 = 0; txBytes: u64 = 0; txDropped: u64 = 0; txErrors: u64 = 0;
}
export class RouteEntry {
  destination: string = "0.0.0.0";
  prefixLength: i32 = 0;
  /** "" for a directly connected network. */
  gateway: string = "";
  iface: string = "";
}
export abstract class NetSource {
  abstract interfaces(): InterfaceEntry[];
  abstract routes(): RouteEntry[];
}

export class DeviceEntry {
  name: string = "";
  type: string = "";
  transport: string = "";
  location: string = "";
  irq: string = "";
  state: string = "";
  detail: string = "";
}
export abstract class DeviceSource {
  abstract devices(): DeviceEntry[];
}

export class BlockEntry {
  name: string = "";
  reads: u64 = 0; writes: u64 = 0;
  readBytes: u64 = 0; writeBytes: u64 = 0;
  errors: u64 = 0;
}
export abstract class BlockSource {
  abstract devices(): BlockEntry[];
}

/** Shutdown and reboot. Called from a request handler: an implementation must
 *  act only after the response has been sent (e.g. a short timer), and
 *  returns false when it cannot do the operation at all. */
export abstract class PowerControl {
  abstract shutdown(): bool;
  abstract reboot(): bool;
}

