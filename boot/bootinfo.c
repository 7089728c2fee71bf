/*
 * boot/bootinfo.c — which boot protocol started us, its information parsed
 * once into the boot record (bootrecord.c) the kernel reads through the host
 * import boot_record, and the RAM bound the loader needs before any Wasm runs.
 * Below it: bootrecord.c, paging.c (linear_base), serial.c.
 */
#include <stdint.h>
#include <string.h>
#include "layout.h"
#include "hostif.h"
#include "serial.h"
#include "paging.h"
#include "bootrecord.h"
#include "bootinfo.h"

extern uint32_t boot_info;   /* entry.S: ebx at entry */

#define MB2_BOOTLOADER_MAGIC 0x36d76289u
#define PVH_START_MAGIC      0x336ec578u
/* Not in .bss (entry.S would zero it at every boot): boot_record_parse
 * writes the header and what the counts cover. */
static struct boot_record record __attribute__((section(".stack"), aligned(8)));

uint32_t bootinfo_protocol(void) { return record.protocol; }
uint64_t bootinfo_address(void) { return boot_info; }
uint64_t bootinfo_record(void) { return (uint64_t)(uintptr_t)&record; }

/* Below 4 GiB everything is identity-mapped (entry.S). */
static const uint8_t *identity(uint64_t addr, uint32_t len) {
  if (addr == 0 || addr + len < addr || addr + len > (1ull << 32)) return 0;
  return (const uint8_t *)(uintptr_t)addr;
}

/* --- RAM bound for linear memory ----------------------------------------- */

/* The end of the RAM region holding addr (adjacent RAM entries extend it),
 * from the record's memory map; 0 when unknown. The kernel reads the same
 * map later (and sets the limit); this only keeps growth during the module's
 * start function — static initialisers that allocate — inside real RAM
 * (runtime.c asks on the first such growth). */
static uint64_t ram_end_from_boot_info(uint64_t addr) {
  uint64_t end = 0;
  for (int grew = 1; grew;) {
    grew = 0;
    for (uint32_t i = 0; i < record.memmap_count; i++) {
      const struct boot_region *e = &record.memmap[i];
      uint64_t probe = end ? end : addr;
      if (e->type == 1 && e->base <= probe && probe < e->base + e->length && e->base + e->length > end) {
        end = e->base + e->length;
        grew = 1;
      }
    }
  }
  return end;
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

/* Tells PVH from Multiboot2 by the magic and parses the information at once:
 * GRUB puts the Multiboot2 information right after the highest thing it
 * loaded — our image's end, where linear memory starts and is zeroed — and
 * the record holds all the kernel needs of it (PVH's sits in low memory). */
void bootinfo_init(uint32_t magic, uint32_t info) {
  uint32_t protocol;
  if (magic == MB2_BOOTLOADER_MAGIC)
    protocol = BOOT_MULTIBOOT2;
  else if (info && *(volatile uint32_t *)(uintptr_t)info == PVH_START_MAGIC)
    protocol = BOOT_PVH;
  else
    protocol = BOOT_UNKNOWN;   /* the kernel reports it and runs without boot info */
  boot_record_parse(&record, protocol, info, identity);   /* the record keeps the protocol */
}
