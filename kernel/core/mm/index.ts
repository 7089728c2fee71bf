// kernel/core/mm — memory: RAM size, linear memory's growth limit, the page pool for
// device memory, accounting by owner (memory.ts); boot/layout.h draws the map.
// The public face: other subsystems import from here, not from the files.
export {
  MemoryInfo, MemStats, initMemory, ramSize, linearLimitBytes, memoryInfo, linearSize, allocPages, freePages,
  physAddr, pageOwner, chargeHeap, memStats, ownerName, memStatsLine, collectHeap, noteCollection,
  heapCollections, heapCollectionNs, pagePool, wantCollection, takeCollectionWanted,
} from "./memory";
export { MemOwner, OWNER_COUNT, PagePool } from "./pages";
export * from "./layout";
export { heapFreeBytes } from "./heap";
