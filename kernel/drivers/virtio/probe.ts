// kernel/drivers/virtio/probe.ts — finds and starts the virtio devices: probe both
// transports (MMIO slots from the boot command line, virtio PCI functions
// from bus enumeration), attach a driver per device type, keep the device list
// (printed at boot, served over REST), service devices from the event loop
// (interrupts do the work; devices without one are polled), reset on shutdown.
import { BootInfo, bootInfo } from "../../platform/bootinfo";
import { ExitHook, onExit } from "../../platform";
import { Service, addService, pollSoon, every, setDaemon, TimerHandler } from "../../core/sched";
import { acpiMmioSlots } from "./acpi";
import { println } from "../../core/console";
import { pciDevices } from "../pci";
import { VirtioDevice, VirtioDeviceInfo } from "./device";
import { Transport, DEVICE_BLK, DEVICE_NET, DEVICE_ENTROPY, DEVICE_CONSOLE, deviceTypeName } from "./transport/transport";
import { MmioTransport, MmioSlot, parseMmioSlot, MMIO_MAGIC } from "./transport/mmio";
import { PciTransport, pciVirtioType, VIRTIO_PCI_VENDOR } from "./transport/pci";
import { VirtioBlk } from "./blk";
import { VirtioNet, VirtioNetIf } from "./net";
import { NetDevice } from "../../lib/net";
import { VirtioRng, VirtioRngSource } from "./rng";
import { setHardwareSource } from "../../core/random";
import { VirtioConsole, VirtioConsoleSink } from "./console";
import { addSink } from "../../core/console";


// @ts-ignore: decorator
@lazy
const devices = new Array<VirtioDevice>();
/** Devices found but not driven (legacy, unknown type, unusable transport). */
// @ts-ignore: decorator
@lazy
const skipped = new Array<VirtioDeviceInfo>();
// @ts-ignore: decorator
@lazy
const blks = new Array<VirtioBlk>();
// @ts-ignore: decorator
@lazy
const nets = new Array<VirtioNet>();
let rngs: i32 = 0;
let consoles: i32 = 0;
let probed = false;

function skip(kind: string, location: string, type: string, why: string): void {
  const d = new VirtioDeviceInfo();
  d.name = "-";
  d.type = type;
  d.transport = kind;
  d.location = location;
  d.state = "NOT USED: " + why;
  skipped.push(d);
}

function attach(t: Transport): void {
  const type = t.deviceType();
  let dev: VirtioDevice | null = null;
  if (type == DEVICE_BLK) {
    const b = new VirtioBlk(t);
    b.name = "blk" + blks.length.toString();
    blks.push(b);
    dev = b;
  }
  if (type == DEVICE_NET) {
    const n = new VirtioNet(t);
    n.name = "net" + nets.length.toString();
    n.netif.name = "eth" + nets.length.toString();
    nets.push(n);
    dev = n;
  }
  if (type == DEVICE_ENTROPY) {
    const r = new VirtioRng(t);
    r.name = "rng" + (rngs++).toString();
    devices.push(r);
    if (r.initialize() && rngs == 1) setHardwareSource(new VirtioRngSource(r));
    return;
  }
  if (type == DEVICE_CONSOLE) {
    const c = new VirtioConsole(t);
    c.name = "vcon" + (consoles++).toString();
    devices.push(c);
    // The first virtio console receives a copy of everything the kernel prints.
    if (c.initialize() && consoles == 1) addSink(new VirtioConsoleSink(c));
    return;
  }
  if (dev === null) {
    skip(t.kind(), t.location(), deviceTypeName(type), "no driver for this device type");
    return;
  }
  devices.push(dev);
  dev.initialize();
}

class VirtioExitHook extends ExitHook {
  beforeExit(status: i32): void { shutdownVirtio(); }
}

/** Probes on first use: every device accessor calls this, so an app that
 *  touches no device (hello) links no driver, transport or PCI code. */
export function ensureVirtio(): void {
  if (!probed) {
    const boot = bootInfo();
    probeVirtio(boot, boot.cmdline.has("quiet"));
  }
}

/** Finds and initialises every virtio device; prints one line per device
 *  unless quiet. Returns the number of devices driven. Runs once. */
export function probeVirtio(boot: BootInfo, quiet: bool): i32 {
  if (probed) return devices.length;
  probed = true;
  onExit(new VirtioExitHook());                 // reset devices: no DMA after we are gone
  // MMIO: `virtio_mmio.device=SIZE@ADDR:IRQ` words (QEMU microvm, Firecracker).
  const words = boot.cmdline.all("virtio_mmio.device");
  const seen = new Array<u64>();
  for (let i = 0; i < words.length; i++) {
    const slot = parseMmioSlot(words[i]);
    if (slot === null) {
      skip("mmio", words[i], "?", "malformed virtio_mmio.device value");
      continue;
    }
    seen.push(slot!.base);
    probeMmio(slot!);
  }
  // ... and LNRO0005 devices in the DSDT (QEMU microvm with ACPI on).
  const problems = new Array<string>();
  const fromAcpi = acpiMmioSlots(boot, problems);
  for (let i = 0; i < fromAcpi.length; i++) {
    if (!seen.includes(fromAcpi[i].base)) probeMmio(fromAcpi[i]);
  }
  if (!quiet) for (let i = 0; i < problems.length; i++) println("virtio: acpi: " + problems[i]);
  // PCI: every function with the virtio vendor ID.
  const fns = pciDevices();
  for (let i = 0; i < fns.length; i++) {
    const f = fns[i];
    if (f.vendor != VIRTIO_PCI_VENDOR) continue;
    const type = pciVirtioType(f);
    const t = PciTransport.create(f);
    if (t === null) {
      skip("pci", "pci " + f.address(), deviceTypeName(type), PciTransport.problem);
      continue;
    }
    attach(t!);
  }
  startService();
  if (!quiet) {
    const list = virtioDeviceList();
    if (list.length == 0) println("virtio: no devices");
    for (let i = 0; i < list.length; i++) println("virtio: " + list[i].line());
  }
  return devices.length;
}

function probeMmio(slot: MmioSlot): void {
  const t = new MmioTransport(slot.base, slot.irq);
  const where = t.location();
  if (t.magic() != MMIO_MAGIC) {
    skip("mmio", where, "?", "no virtio magic value at this address");
    return;
  }
  const version = t.version();
  if (version == 1) {
    skip("mmio", where, deviceTypeName(t.deviceType()),
      "legacy virtio-mmio (version 1) device; start QEMU with -global virtio-mmio.force-legacy=false");
    return;
  }
  if (version != 2) {
    skip("mmio", where, "?", "unknown virtio-mmio version " + version.toString());
    return;
  }
  if (t.deviceType() == 0) return;   // §4.2.3.1.1: device ID 0 is an empty slot
  attach(t);
}

/** The device list: every device driven, then those left alone. */
export function virtioDeviceList(): VirtioDeviceInfo[] {
  ensureVirtio();
  const out = new Array<VirtioDeviceInfo>();
  for (let i = 0; i < devices.length; i++) out.push(devices[i].info());
  for (let i = 0; i < skipped.length; i++) out.push(skipped[i]);
  return out;
}

export function virtioDevices(): VirtioDevice[] {
  ensureVirtio();
  return devices;
}

/** The i-th block device that initialised (blk0, blk1, ...), or null. */
export function blkDevice(i: i32): VirtioBlk | null {
  ensureVirtio();
  return i >= 0 && i < blks.length ? blks[i] : null;
}
export function blkCount(): i32 {
  ensureVirtio();
  return blks.length;
}

/** The i-th virtio NIC as the stack's NetDevice (eth0, eth1, ...), or null
 *  when absent or not working. */
export function netDevice(i: i32): NetDevice | null {
  ensureVirtio();
  return i >= 0 && i < nets.length && nets[i].ready ? nets[i].netif : null;
}
export function netCount(): i32 {
  ensureVirtio();
  return nets.length;
}

/** The event loop's part, once per pass after interrupts are dispatched.
 *  Devices with an interrupt were already serviced by their handler; this
 *  polls the rest (only while they have requests in flight, so an idle guest
 *  still halts) and finishes what a handler left for the next pass. */
export function serviceVirtio(): void {
  for (let i = 0; i < devices.length; i++) {
    const d = devices[i];
    if (!d.ready) continue;
    if (d.pollAgain) {
      // The rest of an interrupt's work, deferred a pass: still interrupt-driven.
      d.pollAgain = false;
      d.inIrq = true;
      d.interrupt();
      d.inIrq = false;
    } else if (!d.irqAttached && d.wantsInterrupts()) {
      d.interrupt();
      if (d.busy()) pollSoon();      // no interrupt will end the halt: keep going
    }
  }
}

class VirtioService extends Service {
  service(nowNs: u64): void { serviceVirtio(); }
}

/** For devices without an interrupt: a receive queue can only be noticed by
 *  looking, so look every POLL_NS (a daemon timer: it keeps no guest alive). */
class VirtioPollTimer extends TimerHandler {
  fire(nowNs: u64): void {
    for (let i = 0; i < nets.length; i++) {
      const n = nets[i];
      if (n.ready && !n.irqAttached) n.drain();
    }
  }
}
const POLL_NS: u64 = 1_000_000;
let serviceStarted = false;

function startService(): void {
  if (serviceStarted || devices.length == 0) return;
  serviceStarted = true;
  addService(new VirtioService());
  let pollNet = false;
  for (let i = 0; i < nets.length; i++) if (nets[i].ready && !nets[i].irqAttached) pollNet = true;
  if (pollNet) setDaemon(every(POLL_NS, new VirtioPollTimer()), true);
}

/** Resets every device so none keeps doing DMA into memory we hand back (§2.4). */
export function shutdownVirtio(): void {
  for (let i = 0; i < devices.length; i++) devices[i].shutdown();
}
