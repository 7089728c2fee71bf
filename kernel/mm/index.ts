// kernel/mm/index.ts — memory: how much RAM the machine has and how far Wasm
// linear memory may grow. Linear memory starts right after the loader image
// (boot/layout.h has the map) and grows into the RAM region that holds it.
import { linear_base, memory_limit } from "../platform";
import { MemRegion, ramTotal, ramEndFrom } from "../bootinfo";

export class MemoryInfo {
  /** Usable RAM reported by the boot protocol, bytes. */
  ramBytes: u64 = 0;
  /** Physical address of linear memory offset 0. */
  linearBase: u64 = 0;
  /** Largest size linear memory may grow to, bytes. */
  linearLimit: u64 = 0;
}

const info = new MemoryInfo();

/** Sets the loader's growth limit from the memory map. With no map (unknown
 *  boot protocol) linear memory stays at its initial size. */
export function initMemory(map: MemRegion[]): MemoryInfo {
  info.ramBytes = ramTotal(map);
  info.linearBase = linear_base();
  const end = ramEndFrom(map, info.linearBase);
  info.linearLimit = end > info.linearBase ? end - info.linearBase : 0;
  if (info.linearLimit > 0) memory_limit(info.linearLimit);
  return info;
}

export function memoryInfo(): MemoryInfo {
  return info;
}

/** Bytes of linear memory in use now (its current size). */
export function linearSize(): u64 {
  return <u64>memory.size() << 16;
}
