// test/unit/wasm/mm.ts — drives kernel/core/mm (page allocator, accounting) and the
// ACPI MADT parser from Node.
import { abortHandler } from "../../../kernel/core/panic";
import { MemRegion } from "../../../kernel/platform/bootinfo";
import { initMemory, linearLimitBytes, allocPages, freePages, physAddr, memStats, pagePool, pageOwner, MemOwner, memStatsLine } from "../../../kernel/core/mm";
import { parseMadt, parseAcpi } from "../../../kernel/platform/acpi";

export { abortHandler };

/** RAM from 1 MiB to `ramEndKiB`; linear memory starts at the host's linearBase. */
export function init(ramEndKiB: u32): u64 {
  const map: MemRegion[] = [new MemRegion(0, 0x9fc00, 1), new MemRegion(0x100000, (<u64>ramEndKiB << 10) - 0x100000, 1)];
  initMemory(map);
  return linearLimitBytes();
}
export function alloc(count: i32, owner: i32): usize { return allocPages(count, <MemOwner>owner); }
export function free(ptr: usize, count: i32): void { freePages(ptr, count); }
export function phys(ptr: usize): u64 { return physAddr(ptr); }
export function runs(): string { return pagePool().freeRuns(); }
export function largest(): u32 { return pagePool().largestFreeRun(); }
export function owner(ptr: usize): i32 { return pageOwner(ptr); }
export function stat(field: string): u64 {
  const s = memStats();
  if (field == "total") return s.totalBytes;
  if (field == "free") return s.freeBytes;
  if (field == "used") return s.usedBytes;
  if (field == "high") return s.highWaterBytes;
  if (field == "failures") return s.allocFailures;
  if (field == "pool") return s.poolBytes;
  if (field == "poolFree") return s.poolFreeBytes;
  if (field == "heap") return s.byOwner[0];
  if (field == "dma") return s.byOwner[1];
  if (field == "net") return s.byOwner[2];
  if (field == "app") return s.byOwner[3];
  return 0xffffffffffffffff;
}
export function line(): string { return memStatsLine(); }
export function linearBytes(): u64 { return <u64>memory.size() << 16; }
/** Reads a byte of linear memory (zeroing checks). */
export function peek(p: usize): u8 { return load<u8>(p); }
export function poke(p: usize, v: u8): void { store<u8>(p, v); }

// --- ACPI -----------------------------------------------------------------------------
export function madt(bytes: ArrayBuffer): string {
  const m = parseMadt(Uint8Array.wrap(bytes));
  let s = "lapic=0x" + m.lapicAddress.toString(16) + " pcat=" + (m.pcatCompat ? "1" : "0") + " cpus=" + m.cpus.toString();
  for (let i = 0; i < m.ioApics.length; i++) {
    const a = m.ioApics[i];
    s += " ioapic" + a.id.toString() + "@0x" + a.address.toString(16) + "+" + a.gsiBase.toString();
  }
  for (let i = 0; i < m.overrides.length; i++) {
    const o = m.overrides[i];
    s += " irq" + o.isaIrq.toString() + "->" + o.gsi.toString() + (o.level ? "L" : "E") + (o.activeLow ? "lo" : "hi");
  }
  return s;
}
export function acpi(rsdpAddr: u64): string {
  const a = parseAcpi(rsdpAddr, null);
  return a.tables.join(",") + "|" + (a.madt !== null ? "madt" : "-") + "|hpet=0x" + a.hpetAddress.toString(16) + "|" + a.problems.join(";");
}
