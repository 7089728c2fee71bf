// kernel/drivers/virtio/transport/pci.ts — virtio over PCI, the modern interface
// (virtio 1.2 §4.1): the vendor-specific capabilities locate the common,
// notify, ISR and device configuration structures inside memory BARs
// (§4.1.4). Transitional devices (IDs 0x1000..0x103f, QEMU's default on the
// pc and q35 root buses) are driven through the same modern structures.
import { mmio_read8, mmio_read16, mmio_read32, mmio_write8, mmio_write16, mmio_write32 } from "../../../platform";
import { PciDevice, CAP_VENDOR, CMD_MEMORY, CMD_BUS_MASTER, CMD_INTX_DISABLE, MsiX } from "../../pci";
import { IrqHandler, allocMsiVector, msiAddress, msiData, freeVector, irqForGsi, irqForIsa } from "../../../core/irq";
import { Transport, ISR_QUEUE } from "./transport";

export const VIRTIO_PCI_VENDOR: u32 = 0x1af4;

// virtio_pci_cap (§4.1.4): cap_vndr u8 @0, cap_next u8 @1, cap_len u8 @2,
// cfg_type u8 @3, bar u8 @4, id u8 @5, padding[2], offset le32 @8, length le32 @12;
// the notify capability adds notify_off_multiplier le32 @16 (§4.1.4.4).
/** Queues whose notify address is remembered (net uses 2, blk 1). */
const NOTIFY_CACHE: u32 = 8;
const VIRTIO_PCI_CAP_COMMON_CFG: u32 = 1;
const VIRTIO_PCI_CAP_NOTIFY_CFG: u32 = 2;
const VIRTIO_PCI_CAP_ISR_CFG: u32 = 3;
const VIRTIO_PCI_CAP_DEVICE_CFG: u32 = 4;

// struct virtio_pci_common_cfg (§4.1.4.3).
const DEVICE_FEATURE_SELECT: u64 = 0;   // le32
const DEVICE_FEATURE: u64 = 4;          // le32
const DRIVER_FEATURE_SELECT: u64 = 8;   // le32
const DRIVER_FEATURE: u64 = 12;         // le32
const CONFIG_MSIX_VECTOR: u64 = 16;     // le16
const NUM_QUEUES: u64 = 18;             // le16
const DEVICE_STATUS: u64 = 20;          // u8
const CONFIG_GENERATION: u64 = 21;      // u8
const QUEUE_SELECT: u64 = 22;           // le16
const QUEUE_SIZE: u64 = 24;             // le16
const QUEUE_MSIX_VECTOR: u64 = 26;      // le16
const QUEUE_ENABLE: u64 = 28;           // le16
const QUEUE_NOTIFY_OFF: u64 = 30;       // le16
const QUEUE_DESC: u64 = 32;             // le64
const QUEUE_DRIVER: u64 = 40;           // le64
const QUEUE_DEVICE: u64 = 48;           // le64

export const VIRTIO_MSI_NO_VECTOR: u32 = 0xffff;

/** The virtio device type of a PCI function, or 0 when it is not virtio 1.x
 *  capable (§4.1.2: 0x1040 + type; transitional 0x1000..0x103f carry the type
 *  in the subsystem device ID). */
export function pciVirtioType(d: PciDevice): u32 {
  if (d.vendor != VIRTIO_PCI_VENDOR) return 0;
  if (d.device >= 0x1040 && d.device <= 0x107f) return d.device - 0x1040;
  if (d.device >= 0x1000 && d.device <= 0x103f) return d.subsystemId;
  return 0;
}

export class PciTransport extends Transport {
  common: u64 = 0;
  notifyBase: u64 = 0;
  notifyMul: u32 = 0;
  isr: u64 = 0;
  devcfg: u64 = 0;
  devcfgLen: u32 = 0;
  type: u32 = 0;
  msix: MsiX | null = null;
  /** MSI-X table entry per queue (VIRTIO_MSI_NO_VECTOR: none). */
  queueVector: u32 = VIRTIO_MSI_NO_VECTOR;
  configVector: u32 = VIRTIO_MSI_NO_VECTOR;
  /** Each enabled queue's notify address (0: not learnt; see enableQueue). */
  private notifyAddr: StaticArray<u64> = new StaticArray<u64>(NOTIFY_CACHE);
  /** Why create() refused the device. */
  static problem: string = "";
  /** kernel/core/irq vectors we allocated for MSI-X (-1: none). */
  private msiVectors: i32[] = [];

  constructor(public dev: PciDevice) {
    super();
  }

  /** Locates the four structures; null (with PciTransport.problem) when the
   *  device lacks them or they sit where we cannot reach. */
  static create(d: PciDevice): PciTransport | null {
    const t = new PciTransport(d);
    t.type = pciVirtioType(d);
    const caps = d.capabilities(CAP_VENDOR);
    let problem = "";
    for (let i = 0; i < caps.length; i++) {
      const c = caps[i];
      const cfgType = d.read8(c + 3);
      const barNo = d.read8(c + 4);
      const off = <u64>d.read32(c + 8);
      const len = d.read32(c + 12);
      if (cfgType < VIRTIO_PCI_CAP_COMMON_CFG || cfgType > VIRTIO_PCI_CAP_DEVICE_CFG) continue;
      // §4.1.4.1: use the first capability of each type that we can use.
      if (cfgType == VIRTIO_PCI_CAP_COMMON_CFG && t.common != 0) continue;
      if (cfgType == VIRTIO_PCI_CAP_NOTIFY_CFG && t.notifyBase != 0) continue;
      if (cfgType == VIRTIO_PCI_CAP_ISR_CFG && t.isr != 0) continue;
      if (cfgType == VIRTIO_PCI_CAP_DEVICE_CFG && t.devcfg != 0) continue;
      if (barNo > 5 || <i32>barNo >= d.bars.length) continue;   // reserved BAR values: ignore (§4.1.4)
      const bar = d.bars[barNo];
      if (bar.isIo) { problem = "structure in an I/O BAR (not supported)"; continue; }
      if (bar.base == 0) { problem = "BAR" + barNo.toString() + " unassigned"; continue; }
      if (off + <u64>len > bar.size) { problem = "structure outside BAR" + barNo.toString(); continue; }
      const addr = bar.base + off;
      if (addr + <u64>len > 0x100000000) {
        problem = "BAR" + barNo.toString() + " at 0x" + bar.base.toString(16) + " is above 4 GiB, outside the loader's identity map";
        continue;
      }
      if (cfgType == VIRTIO_PCI_CAP_COMMON_CFG) t.common = addr;
      else if (cfgType == VIRTIO_PCI_CAP_NOTIFY_CFG) { t.notifyBase = addr; t.notifyMul = d.read32(c + 16); }
      else if (cfgType == VIRTIO_PCI_CAP_ISR_CFG) t.isr = addr;
      else { t.devcfg = addr; t.devcfgLen = len; }
    }
    if (t.common == 0 || t.notifyBase == 0 || t.isr == 0) {
      PciTransport.problem = problem.length ? problem : "no virtio 1.x capabilities (legacy-only device, not driven)";
      return null;
    }
    // Memory decoding for the BARs, bus mastering for the device's DMA.
    d.enable(CMD_MEMORY | CMD_BUS_MASTER);
    t.msix = MsiX.find(d);
    return t;
  }

  kind(): string { return "pci"; }
  location(): string { return "pci " + this.dev.address(); }
  deviceType(): u32 { return this.type; }

  getStatus(): u32 { return mmio_read8(this.common + DEVICE_STATUS); }
  setStatus(s: u32): void { mmio_write8(this.common + DEVICE_STATUS, s); }

  deviceFeatures(): u64 {
    mmio_write32(this.common + DEVICE_FEATURE_SELECT, 0);
    const lo = <u64>mmio_read32(this.common + DEVICE_FEATURE);
    mmio_write32(this.common + DEVICE_FEATURE_SELECT, 1);
    const hi = <u64>mmio_read32(this.common + DEVICE_FEATURE);
    return (hi << 32) | lo;
  }
  setDriverFeatures(f: u64): void {
    mmio_write32(this.common + DRIVER_FEATURE_SELECT, 0);
    mmio_write32(this.common + DRIVER_FEATURE, <u32>f);
    mmio_write32(this.common + DRIVER_FEATURE_SELECT, 1);
    mmio_write32(this.common + DRIVER_FEATURE, <u32>(f >> 32));
  }

  numQueues(): u32 { return mmio_read16(this.common + NUM_QUEUES); }

  queueMaxSize(q: u32): u32 {
    if (q >= this.numQueues()) return 0;
    mmio_write16(this.common + QUEUE_SELECT, q);
    if (mmio_read16(this.common + QUEUE_ENABLE) != 0) return 0;
    return mmio_read16(this.common + QUEUE_SIZE);
  }

  // §4.1.5.1.3 "Virtqueue Configuration".
  enableQueue(q: u32, size: u32, desc: u64, driver: u64, device: u64): bool {
    mmio_write16(this.common + QUEUE_SELECT, q);
    const max = mmio_read16(this.common + QUEUE_SIZE);
    if (max == 0 || size > max) return false;
    mmio_write16(this.common + QUEUE_SIZE, size);
    // 64-bit fields as two 32-bit writes (§4.1.3.1).
    mmio_write32(this.common + QUEUE_DESC, <u32>desc);
    mmio_write32(this.common + QUEUE_DESC + 4, <u32>(desc >> 32));
    mmio_write32(this.common + QUEUE_DRIVER, <u32>driver);
    mmio_write32(this.common + QUEUE_DRIVER + 4, <u32>(driver >> 32));
    mmio_write32(this.common + QUEUE_DEVICE, <u32>device);
    mmio_write32(this.common + QUEUE_DEVICE + 4, <u32>(device >> 32));
    if (this.queueVector != VIRTIO_MSI_NO_VECTOR) {
      // §4.1.5.1.2: read back; NO_VECTOR means the device could not allocate it.
      mmio_write16(this.common + QUEUE_MSIX_VECTOR, this.queueVector);
      if (mmio_read16(this.common + QUEUE_MSIX_VECTOR) != this.queueVector) return false;
    }
    // The notify address cannot change while the queue lives: learn it once,
    // so a notification is one MMIO write instead of three (under TCG each
    // access leaves translated code for the device model).
    if (q < NOTIFY_CACHE) {
      const off = <u64>mmio_read16(this.common + QUEUE_NOTIFY_OFF);
      unchecked(this.notifyAddr[q] = this.notifyBase + off * <u64>this.notifyMul);
    }
    mmio_write16(this.common + QUEUE_ENABLE, 1);
    return true;
  }

  // §4.1.4.4: cap.offset + queue_notify_off * notify_off_multiplier; write the queue index.
  notify(q: u32): void {
    if (q < NOTIFY_CACHE) {
      const a = unchecked(this.notifyAddr[q]);
      if (a != 0) { mmio_write16(a, q); return; }
    }
    mmio_write16(this.common + QUEUE_SELECT, q);
    const off = <u64>mmio_read16(this.common + QUEUE_NOTIFY_OFF);
    mmio_write16(this.notifyBase + off * <u64>this.notifyMul, q);
  }

  // §4.1.4.5: reading the ISR status clears it and de-asserts INTx. With MSI-X
  // the ISR is not used for queue interrupts.
  ackInterrupt(): u32 {
    const s = mmio_read8(this.isr);
    return this.queueVector != VIRTIO_MSI_NO_VECTOR ? (s | ISR_QUEUE) : s;
  }

  /** Routes configuration-change and queue interrupts to MSI-X table entries
   *  (§4.1.5.1.2); false when the device refuses the vector. */
  setConfigVector(entry: u32): bool {
    mmio_write16(this.common + CONFIG_MSIX_VECTOR, entry);
    const ok = mmio_read16(this.common + CONFIG_MSIX_VECTOR) == entry;
    if (ok) this.configVector = entry;
    return ok;
  }

  /** MSI-X when the function offers it (§4.1.4.10 / §4.1.5.1.2): table
   *  entry 0 for configuration changes, entry 1 for every queue (one entry:
   *  both share it and the handler reads the ISR). Else INTx through the I/O
   *  APIC, see intx(). The table is written, then MSI-X enabled, then the
   *  device told its entries, before any queue is enabled: QEMU forgets the
   *  vectors at reset and sends nothing for NO_VECTOR once MSI-X is on. */
  ownInterrupt(): bool { const m = this.msix; return m !== null && m.tableSize >= 1; }

  attachInterrupts(status: IrqHandler, queues: IrqHandler, config: IrqHandler): bool {
    const m = this.msix;
    if (m !== null && m.tableSize >= 1) {
      const shared = m.tableSize < 2;
      const vq = allocMsiVector(shared ? status : queues);
      const vc = shared ? vq : allocMsiVector(config);
      if (vq >= 0 && vc >= 0) {
        this.msiVectors.push(vq);
        if (!shared) this.msiVectors.push(vc);
        const qEntry: u32 = shared ? 0 : 1;
        m.setEntry(0, msiAddress(), msiData(<u32>vc));
        if (!shared) m.setEntry(1, msiAddress(), msiData(<u32>vq));
        m.enable();
        if (this.setConfigVector(0)) {
          this.queueVector = qEntry;
          this.irqMode = shared ? "msix vector 0x" + vq.toString(16) :
            "msix vectors 0x" + vc.toString(16) + ",0x" + vq.toString(16);
          return true;
        }
        // The device could not take the vector: back to INTx.
        m.disable();
      }
      this.freeMsi();
    }
    return this.intx(status);
  }

  /** INTx: the function's pin is routed to an I/O APIC input. The proper map
   *  is ACPI's _PRT (AML); we approximate it with the Interrupt Line register,
   *  which the firmware (SeaBIOS on pc and q35) fills with the ISA IRQ it
   *  routed the pin to (PIIX3 PIRQ / ICH9 PIRQ routing, 10 or 11 here). QEMU
   *  raises that PIC input and the I/O APIC pin of the same number, and its
   *  MADT overrides make IRQs 5, 9, 10 and 11 level-triggered, active high,
   *  which irqForIsa applies. Without firmware (direct kernel boot keeps
   *  SeaBIOS, but other loaders may not) the register is 0 or 0xff: poll. */
  private intx(status: IrqHandler): bool {
    const d = this.dev;
    if (d.irqPin == 0 || d.irqPin > 4) { this.irqMode = "poll (no INTx pin)"; return false; }
    const line = d.irqLine;
    if (line == 0 || line == 0xff) { this.irqMode = "poll (interrupt line not assigned by firmware)"; return false; }
    const v = line < 16 ? irqForIsa(line, status) : irqForGsi(line, status, true, false);
    if (v < 0) { this.irqMode = "poll (irq " + line.toString() + " not routable)"; return false; }
    d.disable(CMD_INTX_DISABLE);
    this.irqMode = "intx pin " + String.fromCharCode(0x40 + <i32>d.irqPin) + " irq " + line.toString() + " vector 0x" + v.toString(16);
    return true;
  }

  /** MSI-X vectors are ours alone and are freed; an INTx route may be shared
   *  with other functions on the line and stays (the device is quiet after
   *  reset, and its ISR reads 0). */
  detachInterrupts(): void {
    const m = this.msix;
    if (m !== null && this.msiVectors.length > 0) {
      for (let i: u32 = 0; i < 2 && i < m.tableSize; i++) m.maskEntry(i);
      m.disable();
    }
    this.freeMsi();
    this.queueVector = VIRTIO_MSI_NO_VECTOR;
    this.configVector = VIRTIO_MSI_NO_VECTOR;
  }

  private freeMsi(): void {
    for (let i = 0; i < this.msiVectors.length; i++) freeVector(<u32>this.msiVectors[i]);
    this.msiVectors.length = 0;
  }

  configGeneration(): u32 { return mmio_read8(this.common + CONFIG_GENERATION); }
  readConfig8(off: u32): u32 { return off + 1 <= this.devcfgLen ? mmio_read8(this.devcfg + <u64>off) : 0; }
  readConfig16(off: u32): u32 { return off + 2 <= this.devcfgLen ? mmio_read16(this.devcfg + <u64>off) : 0; }
  readConfig32(off: u32): u32 { return off + 4 <= this.devcfgLen ? mmio_read32(this.devcfg + <u64>off) : 0; }
  writeConfig32(off: u32, v: u32): void { if (off + 4 <= this.devcfgLen) mmio_write32(this.devcfg + <u64>off, v); }
}
