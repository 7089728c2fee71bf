// kernel/drivers/virtio/dma.ts — DMA memory for virtio rings and request headers,
// from kernel/core/mm's page pool (charged to MemOwner.Dma / NetBuffers). Linear
// memory is physically contiguous at linearBase, so any linear address
// (including a caller's buffer) is a DMA address: physAddr(ptr) = linearBase +
// ptr, no bounce buffers needed.
import { allocPages, freePages, physAddr, MemOwner } from "../../core/mm";

export const PAGE_SIZE: usize = 4096;

export function pagesFor(bytes: usize): i32 {
  return <i32>((bytes + PAGE_SIZE - 1) / PAGE_SIZE);
}

/** Zeroed, page-aligned, physically contiguous memory; 0 when out of memory. */
export function dmaAlloc(bytes: usize, owner: MemOwner = MemOwner.Dma): usize {
  return allocPages(pagesFor(bytes), owner);
}

export function dmaFree(ptr: usize, bytes: usize): void {
  if (ptr != 0) freePages(ptr, pagesFor(bytes));
}

export { physAddr, MemOwner };
