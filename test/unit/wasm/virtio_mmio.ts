// test/unit/wasm/virtio_mmio.ts — probes virtio-mmio devices from a command
// line against fake devices in Node (test/unit/virtio_mmio.test.ts).
import { abortHandler } from "../../../kernel/core/panic";
import { BootInfo, Cmdline, MemRegion } from "../../../kernel/platform/bootinfo";
import { initMemory } from "../../../kernel/core/mm";
import { probeVirtio, virtioDeviceList, blkDevice } from "../../../kernel/drivers/virtio";

export function probe(cmdline: string): i32 {
  initMemory([new MemRegion(0x100000, 63 << 20, 1)]);   // 64 MiB of RAM around linear memory
  const b = new BootInfo();
  b.cmdline = new Cmdline(cmdline);
  return probeVirtio(b, true);
}
export function deviceLines(): string {
  const l = virtioDeviceList();
  const out = new Array<string>();
  for (let i = 0; i < l.length; i++) out.push(l[i].line());
  return out.join("\n");
}
export function blkCapacity(): u64 { const d = blkDevice(0); return d === null ? 0 : d!.capacity; }
export { abortHandler };
