// test/unit/wasm/virtio_queue.ts — drives kernel/drivers/virtio/queue.ts (split
// virtqueue) from Node; the device side is simulated in TypeScript
// (test/unit/virtio_queue.test.ts) reading the rings out of linear memory.
import { abortHandler } from "../../../kernel/core/panic";
import { SplitQueue, queueBytes, needEvent as qNeedEvent } from "../../../kernel/drivers/virtio/queue";
import { linear_base } from "../../../kernel/platform";

let q: SplitQueue | null = null;

export function newQueue(size: u32, eventIdx: bool): usize {
  const bytes = queueBytes(size);
  const raw = heap.alloc(bytes + 16);
  const mem = (raw + 15) & ~(<usize>15);
  memory.fill(mem, 0, bytes);
  q = new SplitQueue(0, size, mem, linear_base() + <u64>mem, eventIdx);
  return mem;
}
export function bytesFor(size: u32): usize { return queueBytes(size); }
export function descPhys(): u64 { return q!.descPhys(); }
export function availPhys(): u64 { return q!.availPhys(); }
export function usedPhys(): u64 { return q!.usedPhys(); }
export function push(phys: u64, len: u32, w: bool): bool { return q!.push(phys, len, w); }
export function submit(token: u32): i32 { return q!.submit(token); }
export function kick(): bool { return q!.kick(); }
/** The next used token, or -1 when none; usedLen() gives its length. */
export function pop(): i64 { return q!.popUsed() ? <i64>q!.usedToken : -1; }
export function usedLen(): u32 { return q!.usedLen; }
export function numFree(): u32 { return q!.numFree; }
export function pendingUsed(): u32 { return q!.pendingUsed(); }
export function inFlight(): u32 { return q!.inFlight(); }
export function enableInterrupts(after: u32): bool { return q!.enableInterrupts(after); }
export function disableInterrupts(): void { q!.disableInterrupts(); }
export function needEvent(e: u16, n: u16, o: u16): bool { return qNeedEvent(e, n, o); }
export function newQueueBadSize(): void { q = new SplitQueue(0, 3, 0, 0, false); }
export { abortHandler };
