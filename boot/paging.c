/*
 * boot/paging.c — linear memory's guard-page mapping (Intel SDM vol. 3 §4.5).
 *
 * The generated code reaches linear memory through mem->data, which points at
 * an alias of it LINEAR_VIRT_OFFSET (512 GiB, PML4 slot 1) above its physical
 * address. Only [0, memory size) of the alias is mapped; nothing else lives in
 * that 512 GiB slot, so any Wasm address plus offset past the end (at most
 * 8 GiB on) hits a not-present entry, and the page-fault handler reports the
 * Wasm trap "out of bounds memory access". That replaces wasm2c's compare and
 * branch on every load and store (WASM_RT_MEMCHECK_GUARD_PAGES in
 * include/wasm-rt.h). The physical address stays linear_base() + offset, so
 * DMA needs no translation, and the identity map below 4 GiB is untouched.
 *
 * Because alias and RAM share their offset within every 2 MiB, whole 2 MiB
 * chunks map with one large page. At most two chunks are partly inside linear
 * memory — the one holding its start (the image's tail shares it) and the one
 * holding its current end — and they use the two 4 KiB-page tables here. When
 * growth fills the end chunk it becomes a large page and its table is reused.
 */
#include <stdint.h>
#include <string.h>
#include "layout.h"
#include "serial.h"
#include "paging.h"

#define PTE_PRESENT  0x1ull
#define PTE_WRITABLE 0x2ull
#define PTE_LARGE    0x80ull
#define PTE_ADDR     0x000ffffffffff000ull
#define CHUNK        (2ull << 20)
#define NO_CHUNK     (~0ull)

extern uint64_t pml4[512];
extern uint8_t __image_end[];

/* Linear memory starts at the first page boundary after the image. */
uint64_t linear_base(void) {
  return ((uintptr_t)__image_end + LINEAR_ALIGN - 1) & ~(uint64_t)(LINEAR_ALIGN - 1);
}

static uint64_t lin_pdpt[512] __attribute__((aligned(4096)));
/* Not in .bss (entry.S would zero them at every boot): each is zeroed when
 * first linked in. */
#define NOT_ZEROED __attribute__((section(".stack"), aligned(4096)))
static uint64_t lin_pd[LINEAR_MAP_GIB][512] NOT_ZEROED;
static uint64_t pt_head[512] NOT_ZEROED;
static uint64_t pt_tail[512] NOT_ZEROED;
static uint64_t tail_chunk = NO_CHUNK;   /* physical chunk pt_tail maps */

static void flush_tlb(void) {
  uint64_t cr3;
  __asm__ volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(cr3) : : "memory");
}

/* Maps physical [base + from, base + to) at base + LINEAR_VIRT_OFFSET + from.
 * base is 4 KiB-aligned; from and to are multiples of 64 KiB (Wasm pages). */
void linear_map(uint64_t base, uint64_t from, uint64_t to) {
  uint64_t lo = base + from, hi = base + to;
  if (hi > ((uint64_t)LINEAR_MAP_GIB << 30)) loader_fail("linear memory beyond the mapped range");
  pml4[LINEAR_VIRT_OFFSET >> 39] = (uintptr_t)lin_pdpt | PTE_PRESENT | PTE_WRITABLE;
  for (uint64_t c = lo & ~(CHUNK - 1); c < hi; c += CHUNK) {
    uint64_t gib = c >> 30;
    if (!lin_pdpt[gib]) {
      memset(lin_pd[gib], 0, 4096);
      lin_pdpt[gib] = (uintptr_t)lin_pd[gib] | PTE_PRESENT | PTE_WRITABLE;
    }
    uint64_t *pde = &lin_pd[gib][(c >> 21) & 511];
    if (c >= base && c + CHUNK <= hi) {
      /* Wholly inside linear memory: one 2 MiB page. If a 4 KiB table mapped
       * part of it, drop that table from the TLB's caches before reuse. */
      if (*pde & PTE_LARGE) continue;
      int had_table = (*pde & PTE_PRESENT) != 0;
      *pde = c | PTE_PRESENT | PTE_WRITABLE | PTE_LARGE;
      if (c == tail_chunk) tail_chunk = NO_CHUNK;
      if (had_table) flush_tlb();
      continue;
    }
    uint64_t *pt;
    if (*pde & PTE_PRESENT) {
      pt = (uint64_t *)(uintptr_t)(*pde & PTE_ADDR);
    } else {
      if (c < base) {
        pt = pt_head;
      } else {
        if (tail_chunk != NO_CHUNK) loader_fail("linear memory: two partial end chunks");
        pt = pt_tail;
        tail_chunk = c;
      }
      memset(pt, 0, 4096);
      *pde = (uintptr_t)pt | PTE_PRESENT | PTE_WRITABLE;
    }
    uint64_t a = lo > c ? lo : c, end = hi < c + CHUNK ? hi : c + CHUNK;
    for (; a < end; a += 4096) pt[(a >> 12) & 511] = a | PTE_PRESENT | PTE_WRITABLE;
  }
}

/* True when a page fault at addr lies in linear memory's alias: a Wasm load
 * or store past the end of memory. */
int linear_fault(uint64_t addr) {
  return (addr >> 39) == (LINEAR_VIRT_OFFSET >> 39);
}
