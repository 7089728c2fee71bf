// kernel/api/kernel.ts — providers backed by the kernel's own subsystems (mm
// page accounting, sched tasks, virtio device list and blk counters, the
// wall clock, CPUID). installKernelProviders() is what boot calls; unit tests
// use fakes instead, since these read live kernel state. The processor count
// comes from ACPI's MADT. Networking
// (NetSource) and power (PowerControl) come from kernel/lib/net and the boot code.
import { memStats, ownerName, OWNER_COUNT, pagePool, linearSize, heapFreeBytes, PAGE_SHIFT } from "../core/mm";
import { guardedReserveBytes } from "../core/fault";
import { taskSnapshot } from "../core/sched";
import { wallClockNs, wallClockSource } from "../core/time";
import { virtioDeviceList, blkCount, blkDevice } from "../drivers/virtio";
import { hypervisorSignature } from "../platform/arch";
import { acpiInfo } from "../platform/acpi";
import { bootInfo } from "../platform/bootinfo";
import { WallClock } from "../lib/http";
import {
  MemorySource, MemoryUse, TaskSource, TaskEntry, DeviceSource, DeviceEntry, BlockSource, BlockEntry,
} from "./providers";
import { ApiState } from "./state";

export class KernelMemory extends MemorySource {
  totalBytes(): u64 { return memStats().totalBytes; }
  freeBytes(): u64 { return memStats().freeBytes; }
  bySubsystem(): MemoryUse[] {
    const s = memStats();
    const out = new Array<MemoryUse>();
    for (let o = 0; o < OWNER_COUNT; o++) out.push(new MemoryUse(ownerName(o), s.byOwner[o]));
    return out;
  }
  heapBytes(): u64 { return heapSize(); }
  heapUsedBytes(): u64 {
    const size = heapSize(), free = heapFreeBytes();
    return free < size ? size - free : 0;
  }
  highWaterBytes(): u64 { return memStats().highWaterBytes; }
  reserveBytes(): u64 { return guardedReserveBytes(); }
}

/** Linear memory that is not page pool: static data, shadow stack, the heap. */
function heapSize(): u64 {
  const p = pagePool();
  return linearSize() - (<u64>p.poolPages << PAGE_SHIFT);
}

export class KernelTasks extends TaskSource {
  tasks(): TaskEntry[] {
    const snap = taskSnapshot();
    const out = new Array<TaskEntry>();
    for (let i = 0; i < snap.length; i++) {
      const t = snap[i];
      const e = new TaskEntry();
      e.id = t.id; e.name = t.name; e.state = t.state; e.cpuNs = t.cpuNs; e.runs = t.runs;
      out.push(e);
    }
    return out;
  }
}

export class KernelDevices extends DeviceSource {
  devices(): DeviceEntry[] {
    const list = virtioDeviceList();
    const out = new Array<DeviceEntry>();
    for (let i = 0; i < list.length; i++) {
      const d = list[i];
      const e = new DeviceEntry();
      e.name = d.name; e.type = d.type; e.transport = d.transport; e.location = d.location;
      e.irq = d.irq; e.state = d.state; e.detail = d.detail;
      out.push(e);
    }
    return out;
  }
}

export class KernelBlocks extends BlockSource {
  devices(): BlockEntry[] {
    const out = new Array<BlockEntry>();
    for (let i = 0; i < blkCount(); i++) {
      const b = blkDevice(i);
      if (b === null) continue;
      const e = new BlockEntry();
      e.name = b.name; e.reads = b.reads; e.writes = b.writes; e.errors = b.errors;
      e.readBytes = b.readBytes; e.writeBytes = b.writeBytes;
      out.push(e);
    }
    return out;
  }
}

/** The kernel's wall clock; unknown when it was never set (no RTC, no epoch=). */
export class KernelWallClock extends WallClock {
  unixSeconds(nowNs: u64): i64 {
    if (wallClockSource().startsWith("none")) return -1;
    // wallClockNs() is "now"; the server's nowNs is the same clock, read moments ago.
    return <i64>(wallClockNs() / 1_000_000_000);
  }
}

/** A short name for the CPUID hypervisor signature (leaf 0x40000000). */
export function hypervisorName(): string {
  const sig = hypervisorSignature();
  if (sig.length == 0) return "none";
  if (sig.startsWith("KVMKVMKVM")) return "kvm";
  if (sig.startsWith("TCGTCGTCGTCG")) return "tcg";
  if (sig.startsWith("Microsoft Hv")) return "hyperv";
  if (sig.startsWith("VMwareVMware")) return "vmware";
  if (sig.startsWith("XenVMMXenVMM")) return "xen";
  if (sig.startsWith("bhyve bhyve")) return "bhyve";
  return sig.trim();
}

/** Points the endpoint at the live kernel (everything but network and power). */
export function installKernelProviders(api: ApiState): void {
  api.memory = new KernelMemory();
  api.tasks = new KernelTasks();
  api.devices = new KernelDevices();
  api.blocks = new KernelBlocks();
  const clock = new KernelWallClock();
  api.clock = clock;
  api.hypervisor = hypervisorName();
  api.processorCount = processorCount();
}

/** Processors the machine has: the MADT's enabled local APICs (1 without ACPI). */
export function processorCount(): i32 {
  const madt = acpiInfo(bootInfo()).madt;
  return madt !== null && madt.cpus > 0 ? madt.cpus : 1;
}
