// kernel/core/mm/layout.ts — the page sizes the kernel's memory code works in.
// The map of guest-physical memory (image at 1 MiB, linear memory after it,
// the MMIO hole below 4 GiB) is drawn in boot/layout.h, the loader's header,
// which owns those addresses: the kernel only ever asks the loader for
// linear_base(). Device addresses live with their drivers (kernel/platform/arch).
// test/unit/shared-facts.test.ts holds these sizes and the loader's together
// (linear memory starts page-aligned, so DMA pages are physically aligned).

export const PAGE_SIZE: i32 = 4096;
export const PAGE_SHIFT: i32 = 12;
export const WASM_PAGE_SIZE: i32 = 65536;
