// kernel/core/irq/dispatch.ts — interrupts, handled from the event loop. The loader's
// stubs (boot/entry.S irq_common) only set a bit per vector and EOI; this
// module takes that bitmap (host import irq_take) and calls each vector's
// handlers. Sources: I/O APIC inputs (GSIs, incl. ISA IRQs via the MADT's
// overrides), MSI/MSI-X messages, and the LAPIC timer. The 8259 stays masked.
//
//   vectors   0..31   CPU exceptions (loader, fatal)
//            32..47   8259 remapped here, masked (a stray one is counted)
//          0x30..0xef allocated to drivers (GSI routes and MSI)
//             0xf0    deadline timer          0xfe  LAPIC error   0xff spurious
import { irq_take, irq_count } from "../../platform";
import { lapic, Lapic, IoApic, DEFAULT_IOAPIC_BASE, picDisable } from "../../platform/arch";
import { AcpiInfo, acpiInfo } from "../../platform/acpi";
import { bootInfo } from "../../platform/bootinfo";

export abstract class IrqHandler {
  abstract handleIrq(vector: u32): void;
}

export const VECTOR_FIRST: u32 = 0x30;
export const VECTOR_LAST: u32 = 0xef;
export const TIMER_VECTOR: u32 = 0xf0;
export const ERROR_VECTOR: u32 = 0xfe;
export const SPURIOUS_VECTOR: u32 = 0xff;

const MSI_ADDRESS_BASE: u64 = 0xfee00000;
/** A second I/O APIC where QEMU microvm puts one (ioapic2=on), probed when ACPI is absent. */
const MICROVM_IOAPIC2_BASE: u64 = 0xfec10000;

class Route {
  constructor(public gsi: u32, public level: bool, public activeLow: bool) {}
}

// @ts-ignore: decorator
@lazy
const handlers = new Array<IrqHandler[] | null>(256);
// @ts-ignore: decorator
@lazy
const counts = new StaticArray<u64>(256);
// @ts-ignore: decorator
@lazy
const routes = new Array<Route | null>(256);
// @ts-ignore: decorator
@lazy
const ioApics = new Array<IoApic>();
// @ts-ignore: decorator
@lazy
let isaGsi = new StaticArray<u32>(16);
// @ts-ignore: decorator
@lazy
let isaLevel = new StaticArray<bool>(16);
// @ts-ignore: decorator
@lazy
let isaLow = new StaticArray<bool>(16);
// @ts-ignore: decorator
@lazy
const pendingBits = memory.data(32, 8);
let nextFree: u32 = VECTOR_FIRST;
// @ts-ignore: decorator
@lazy
let sourceName: string = "none";
let unhandled: u64 = 0;

/** Masks the 8259, enables the LAPIC, finds the I/O APICs (MADT, else the
 *  standard address plus microvm's second one) and masks every input. */
export function initInterrupts(acpi: AcpiInfo): void {
  interruptsReady = true;
  for (let i: u32 = 0; i < 16; i++) isaGsi[i] = i;
  const madt = acpi.madt;
  // Masking a PIC that is not there (microvm pic=off) writes to nothing.
  picDisable();
  if (!lapic.init(madt !== null ? madt.lapicAddress : 0, SPURIOUS_VECTOR, ERROR_VECTOR)) {
    Lapic.noEoi();
    sourceName = "no local APIC";
    return;
  }
  if (madt !== null) {
    for (let i = 0; i < madt.ioApics.length; i++) {
      const a = madt.ioApics[i];
      const io = new IoApic(a.id, a.address, a.gsiBase);
      if (io.probe()) ioApics.push(io);
    }
    for (let i = 0; i < madt.overrides.length; i++) {
      const o = madt.overrides[i];
      if (o.isaIrq < 16) {
        isaGsi[o.isaIrq] = o.gsi;
        isaLevel[o.isaIrq] = o.level;
        isaLow[o.isaIrq] = o.activeLow;
      }
    }
    sourceName = "ACPI MADT";
  } else {
    // No ACPI: the PC defaults (MP spec / QEMU's own tables): one I/O APIC at
    // 0xfec00000 with GSI = ISA IRQ, except the PIT's IRQ0 on pin 2.
    const io = new IoApic(0, DEFAULT_IOAPIC_BASE, 0);
    if (io.probe()) {
      ioApics.push(io);
      const io2 = new IoApic(1, MICROVM_IOAPIC2_BASE, io.pins);
      if (io2.probe()) ioApics.push(io2);
    }
    isaGsi[0] = 2;
    sourceName = "defaults (no ACPI)";
  }
  for (let i = 0; i < ioApics.length; i++) ioApics[i].maskAll();
}

let interruptsReady = false;

/** Sets up the interrupt controllers on first use (the first vector a driver
 *  or the scheduler asks for); a guest that never needs an interrupt runs
 *  with them untouched and without their code. */
export function ensureInterrupts(): void {
  if (!interruptsReady) initInterrupts(acpiInfo(bootInfo()));
}

/** Where the interrupt layout came from, for the boot log. */
export function interruptSource(): string { return sourceName; }
export function ioApicCount(): i32 { return ioApics.length; }
export function ioApicAt(i: i32): IoApic { return ioApics[i]; }
export function isaIrqToGsi(irq: u32): u32 { ensureInterrupts(); return irq < 16 ? isaGsi[irq] : irq; }

/** A free vector for handler, or -1 when all 192 are taken. */
export function allocVector(handler: IrqHandler): i32 {
  ensureInterrupts();
  for (let n: u32 = 0; n <= VECTOR_LAST - VECTOR_FIRST; n++) {
    const v = VECTOR_FIRST + (nextFree - VECTOR_FIRST + n) % (VECTOR_LAST - VECTOR_FIRST + 1);
    if (handlers[v] === null) {
      handlers[v] = [handler];
      nextFree = v + 1 > VECTOR_LAST ? VECTOR_FIRST : v + 1;
      return <i32>v;
    }
  }
  return -1;
}

/** Registers a handler on a fixed vector (the timer's); false if taken. */
export function claimVector(vector: u32, handler: IrqHandler): bool {
  ensureInterrupts();
  if (vector > 255 || handlers[vector] !== null) return false;
  handlers[vector] = [handler];
  return true;
}

function ioApicFor(gsi: u32): IoApic | null {
  for (let i = 0; i < ioApics.length; i++) if (ioApics[i].handles(gsi)) return ioApics[i];
  return null;
}

/** Routes I/O APIC input `gsi` to a fresh vector that calls handler from the
 *  loop. A GSI already routed the same way is shared (PCI INTx lines are):
 *  the handler joins the vector's list. Returns the vector, or -1 (no I/O
 *  APIC holds gsi, the line is routed with another trigger/polarity, or no
 *  vector is free). Level-triggered lines: the loader EOIs at once, so the
 *  I/O APIC re-raises the line until the handler quiets the device; that costs
 *  one extra wake-up per interrupt, never a storm (the kernel runs with
 *  interrupts off outside sti;hlt). */
export function irqForGsi(gsi: u32, handler: IrqHandler, levelTriggered: bool, activeLow: bool): i32 {
  ensureInterrupts();
  const io = ioApicFor(gsi);
  if (io === null) return -1;
  for (let v = VECTOR_FIRST; v <= VECTOR_LAST; v++) {
    const r = routes[v];
    if (r !== null && r.gsi == gsi) {
      if (r.level != levelTriggered || r.activeLow != activeLow) return -1;
      handlers[v]!.push(handler);
      return <i32>v;
    }
  }
  const v = allocVector(handler);
  if (v < 0) return -1;
  routes[v] = new Route(gsi, levelTriggered, activeLow);
  io.route(gsi, <u32>v, lapic.id, levelTriggered, activeLow);
  return v;
}

/** Routes legacy ISA IRQ `irq` (0..15) with the trigger and polarity the
 *  MADT overrides give (ISA default: edge, active high). */
export function irqForIsa(irq: u32, handler: IrqHandler): i32 {
  ensureInterrupts();
  if (irq >= 16) return -1;
  return irqForGsi(isaGsi[irq], handler, isaLevel[irq], isaLow[irq]);
}

/** A vector for an MSI or MSI-X message; program the device with msiAddress()
 *  and msiData(vector). */
export function allocMsiVector(handler: IrqHandler): i32 {
  ensureInterrupts();
  return allocVector(handler);
}

/** MSI address: fixed delivery to this CPU's LAPIC, physical destination
 *  (Intel SDM vol. 3 §10.11.1: 0xFEE, dest ID in bits 19:12). */
export function msiAddress(): u64 {
  return MSI_ADDRESS_BASE | ((<u64>lapic.id & 0xff) << 12);
}

/** MSI data: edge-triggered, fixed delivery, the vector (SDM §10.11.2). */
export function msiData(vector: u32): u32 {
  return vector & 0xff;
}

/** Releases a vector (masking its I/O APIC input if it had one). */
export function freeVector(vector: u32): void {
  if (vector < VECTOR_FIRST || vector > VECTOR_LAST) return;
  const r = routes[vector];
  if (r !== null) {
    const io = ioApicFor(r.gsi);
    if (io !== null) io.mask(r.gsi);
    routes[vector] = null;
  }
  handlers[vector] = null;
}

/** Takes the vectors that fired since the last call and runs their handlers.
 *  Returns how many vectors were pending. */
export function dispatchPending(): u32 {
  const n = irq_take(pendingBits);
  if (n == 0) return 0;
  for (let w: u32 = 0; w < 4; w++) {
    let bits = load<u64>(pendingBits + 8 * w);
    while (bits != 0) {
      const bit = <u32>ctz(bits);
      bits &= bits - 1;
      const v = w * 64 + bit;
      unchecked(counts[v] += 1);
      const hs = handlers[v];
      if (hs === null) { unhandled++; continue; }
      for (let i = 0; i < hs.length; i++) unchecked(hs[i]).handleIrq(v);
    }
  }
  return n;
}

/** Interrupts seen on vector since boot (as dispatched by the loop). */
export function irqCountFor(vector: u32): u64 {
  return vector < 256 ? counts[vector] : 0;
}

/** Interrupts the loader's stubs have taken since boot. */
export function irqTotal(): u64 { return irq_count(); }
export function irqUnhandled(): u64 { return unhandled; }
