/*
 * boot/bootinfo.c — which boot protocol started us, and the RAM bound the
 * loader needs before any Wasm runs. Below it: paging.c (linear_base),
 * serial.c.
 */
#include <stdint.h>
#include <string.h>
#include "layout.h"
#include "hostif.h"
#include "serial.h"
#include "paging.h"
#include "bootinfo.h"

extern uint32_t boot_info;   /* entry.S: ebx at entry */

#define MB2_BOOTLOADER_MAGIC 0x36d76289u
#define PVH_START_MAGIC      0x336ec578u
static uint32_t boot_protocol;

uint32_t bootinfo_protocol(void) { return boot_protocol; }
uint64_t bootinfo_address(void) { return boot_info; }

/* --- RAM bound for linear memory ----------------------------------------- */

struct e820 { uint64_t addr, size; uint32_t type, reserved; };

/* Extends [addr, end) across RAM entries of a map, adjacent ones included. */
static uint64_t ram_end_in(const uint8_t *entries, uint32_t count, uint32_t stride, uint64_t addr) {
  uint64_t end = 0;
  for (int grew = 1; grew;) {
    grew = 0;
    for (uint32_t i = 0; i < count; i++) {
      const struct e820 *e = (const struct e820 *)(entries + (uint64_t)i * stride);
      uint64_t probe = end ? end : addr;
      if (e->type == 1 && e->addr <= probe && probe < e->addr + e->size && e->addr + e->size > end) {
        end = e->addr + e->size;
        grew = 1;
      }
    }
  }
  return end;
}

/* The end of the RAM region holding addr, read from the boot protocol's memory
 * map; 0 when unknown. The kernel parses the map properly later (and sets the
 * limit); this only keeps growth during the module's start function — static
 * initialisers that allocate — inside real RAM (runtime.c asks on the first
 * such growth). */
static uint64_t ram_end_from_boot_info(uint64_t addr) {
  if (boot_protocol == BOOT_PVH) {
    const uint8_t *si = (const uint8_t *)(uintptr_t)boot_info;
    if (*(const uint32_t *)(si + 4) < 1) return 0;          /* v0: no memory map */
    uint32_t n = *(const uint32_t *)(si + 48);
    uint64_t map = *(const uint64_t *)(si + 40);
    if (n > 128 || map == 0 || map >= (1ull << 32)) return 0;
    return ram_end_in((const uint8_t *)(uintptr_t)map, n, sizeof(struct e820), addr);
  }
  if (boot_protocol == BOOT_MULTIBOOT2) {
    const uint8_t *p = (const uint8_t *)(uintptr_t)boot_info;
    uint32_t total = *(const uint32_t *)p;
    if (total > 65536) return 0;
    for (uint32_t off = 8; off + 8 <= total;) {
      uint32_t type = *(const uint32_t *)(p + off), size = *(const uint32_t *)(p + off + 4);
      if (type == 0 || size < 8 || off + size > total) break;
      if (type == 6) {
        uint32_t stride = *(const uint32_t *)(p + off + 8);
        if (stride < 24) return 0;
        return ram_end_in(p + off + 16, (size - 16) / stride, stride, addr);
      }
      off += (size + 7) & ~7u;
    }
  }
  return 0;
}

/* Bytes linear memory may grow to, from the boot protocol's memory map; 0 when unknown. */
uint64_t loader_ram_limit(void) {
  uint64_t end = ram_end_from_boot_info(linear_base());
  return end > linear_base() ? end - linear_base() : 0;
}

/* Too little RAM for the image's linear memory: say so instead of running
 * the module's start function against memory that is not there (which ends
 * in a trap naming nothing useful). Below the image's own end nothing of the
 * loader runs; `skiff run` checks that case against the ELF before booting. */
void loader_check_ram(uint64_t end) {
  uint64_t ram = ram_end_from_boot_info(IMAGE_BASE);
  if (ram == 0 || ram >= end) return;   /* no memory map: nothing to check against */
  kputs("\r\n*** loader: too little memory: guest RAM ends at ");
  kput_dec(ram >> 10);
  kputs(" KiB, this image needs at least ");
  kput_dec((end + 1023) >> 10);
  kputs(" KiB (its code, data and stacks, then linear memory's initial size); give the guest more memory\r\n");
  guest_exit(EXIT_LOADER);
}

/* GRUB puts the Multiboot2 information right after the highest thing it
 * loaded: our image's end, which is where linear memory starts and is zeroed.
 * Keep a copy below it (the tags are self-contained: no pointers into the
 * block). PVH's start_info, command line and memory map sit in low memory. */
static uint8_t mbi_copy[16384] __attribute__((section(".stack"), aligned(8)));

static void keep_multiboot2_info(void) {
  uint32_t total = *(const volatile uint32_t *)(uintptr_t)boot_info;
  if (total <= sizeof(mbi_copy)) {
    memcpy(mbi_copy, (const void *)(uintptr_t)boot_info, total);
    boot_info = (uint32_t)(uintptr_t)mbi_copy;
  } else if ((uint64_t)boot_info + total > linear_base()) {
    loader_fail("the Multiboot2 information is larger than 16 KiB and overlaps linear memory");
  }
}

void bootinfo_init(uint32_t magic, uint32_t info) {
  if (magic == MB2_BOOTLOADER_MAGIC) {
    boot_protocol = BOOT_MULTIBOOT2;
    keep_multiboot2_info();
  }
  else if (info && *(volatile uint32_t *)(uintptr_t)info == PVH_START_MAGIC)
    boot_protocol = BOOT_PVH;
  else
    boot_protocol = BOOT_UNKNOWN;   /* the kernel reports it and runs without boot info */
}
